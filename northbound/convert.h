// Between the controller's vocabulary and pulse.v1 messages: snapshots to replies, requests to
// JobSpecs. Request checks here name the offending field ("job.endpoints[3]: ...") so a scheduler
// can fix its request; everything deeper (paths, capacity) is Placement's to judge.
#ifndef PULSE_NORTHBOUND_CONVERT_H_
#define PULSE_NORTHBOUND_CONVERT_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/controller.h"
#include "controller/events.h"
#include "controller/fabric_sync/fabric_sync.h"
#include "controller/placement/job_validation.h"
#include "controller/telemetry/job_bandwidth.h"
#include "grpcpp/support/status.h"
#include "pulse/v1/pulse.pb.h"

namespace pulse::northbound {

// Limits on what one request may ask for.
struct ApiLimits {
  int max_endpoints_per_job = 4096;
  int max_explicit_flows_per_job = 65536;
  int max_message_bytes = 16 << 20;  // gRPC send and receive limit
};

// Error messages echo client input (names, ids); they are cut to this size so a 1 MB name is
// not sent back (or logged) whole.
inline constexpr size_t kMaxStatusMessageBytes = 1024;
// `text` cut to at most `max_bytes` (on a UTF-8 boundary) with the count of bytes left out.
std::string CapEcho(absl::string_view text, size_t max_bytes = kMaxStatusMessageBytes);
// absl::Status -> grpc::Status, the message capped by CapEcho.
grpc::Status ToGrpcStatus(const absl::Status& status);

void FillTopology(const controller::ControllerSnapshot& snapshot, pulse::v1::Topology* out);
void FillJob(const controller::Fabric& fabric, const controller::JobPlacement& job,
             bool include_flows, pulse::v1::Job* out);
// The measured-bandwidth fields of a job (260-267) from the telemetry loop's latest measurement
// (nothing when `measured` is null or has no entry for the job); `now_unix_ms` dates it.
void FillMeasuredBandwidth(const controller::JobBandwidthMap* measured, int64_t now_unix_ms,
                           pulse::v1::Job* out);
// `measured_load_bps` (indexed by directed link, NaN = not measured; may be null or short) fills
// the measured fields next to the planned ones.
void FillLinkLoad(const controller::ControllerSnapshot& snapshot, controller::DirectedLinkId link,
                  const std::vector<double>* measured_load_bps, pulse::v1::LinkLoad* out);
void FillEvent(const controller::Event& event, pulse::v1::Event* out);
// Discovery by switch names; a datapath id that is no switch of `fabric` keeps an empty name.
void FillDiscovery(const controller::Fabric& fabric, const controller::DiscoveryReport& report,
                   pulse::v1::GetDiscoveryResponse* out);

// JobSpec <-> pulse.v1.JobSpec, the wire form of the API (the store has its own format,
// controller/store/placement_record.h). FromProto maps the API's conventions (unset traffic class:
// 3; max_subflows 0: 1) and then checks the spec with controller::ValidateJobSpec; InvalidArgument
// naming the field ("job.traffic_class: ...").
void JobSpecToProto(const controller::JobSpec& spec, pulse::v1::JobSpec* out);
absl::StatusOr<controller::JobSpec> JobSpecFromProto(const pulse::v1::JobSpec& proto,
                                                     const controller::JobSpecLimits& limits = {});

// Checks a PlaceJob request against the fabric and limits and converts it. InvalidArgument
// naming the field for a malformed request or unknown endpoint.
absl::StatusOr<controller::JobSpec> JobSpecFromRequest(const pulse::v1::PlaceJobRequest& request,
                                                       const controller::Fabric& fabric,
                                                       const ApiLimits& limits);

}  // namespace pulse::northbound

#endif  // PULSE_NORTHBOUND_CONVERT_H_
