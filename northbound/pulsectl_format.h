// Output of pulsectl: plain-text tables for people, proto JSON for scripts.
//
// Kept apart from the gRPC client so the layout can change (or gain a `qos` view) without
// touching how calls are made. Every function is pure: message in, text out.
#ifndef PULSE_NORTHBOUND_PULSECTL_FORMAT_H_
#define PULSE_NORTHBOUND_PULSECTL_FORMAT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "pulse/v1/pulse.pb.h"
#include "pulse/v1/steering.pb.h"

namespace pulse::northbound {

// Columns padded to their widest cell, two spaces apart, header first; no trailing spaces.
// Rows shorter than the header are padded with empty cells.
std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

// 400e9 -> "400G", 12.5e9 -> "12.5G", 0 -> "0"; powers of 1000 as network rates are.
std::string FormatBps(double bps);

// A rate with its unit, as the links table shows every rate: 400e9 -> "400Gbps", 480 -> "480bps".
std::string FormatRate(double bps);

// A count scaled like FormatBps: 1234567 -> "1.235M", 480 -> "480".
std::string FormatCount(uint64_t n);

// 0.4567 -> "45.7%".
std::string FormatPercent(double fraction);

// Proto JSON (google::protobuf::util::MessageToJsonString): fields with default values included,
// so a script sees every field; `one_line` for streams (one event per line). InvalidArgument
// when the message cannot be printed.
absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message, bool one_line);

// The fabric: counts, switches, link state summary, servers, and the scheduler's GPU groups.
std::string FormatTopology(const pulse::v1::Topology& topology);

// A placed job: its summary, then one row per flow (src, dst, rate, hops, UDP source port).
std::string FormatJob(const pulse::v1::Job& job);

// One row per job: id, pattern, endpoints, max load, lower bound.
std::string FormatJobList(const pulse::v1::ListJobsResponse& jobs);

// One row per directed link: name, capacity, planned load and utilisation, measured load ("-"
// until telemetry reports), up, usable.
std::string FormatLinkLoads(const google::protobuf::RepeatedPtrField<pulse::v1::LinkLoad>& links);

// One line: sequence, UTC time, type (without the EVENT_TYPE_ prefix), subject, detail.
std::string FormatEvent(const pulse::v1::Event& event);

// "ring", "all-to-all"... as job files spell them.
std::string PatternName(pulse::v1::CollectivePattern pattern);

// A steered job's ports for its hosts (`pulsectl jobs steering ID --format F`):
//  - json: the response as proto JSON (per flow: NICs, addresses, subflow, UDP ports);
//  - hccl: HCCL's MultiQpSrcPort.cfg, one line per address pair "srcIP,dstIP=port0,port1,..."
//    (its limits: at most 32 ports a pair, 131,072 lines);
//  - nccl: NCCL environment lines (NCCL_IB_QPS_PER_CONNECTION, NCCL_IB_TC, NCCL_IB_GID_INDEX).
// Errors: an unknown format; hccl for a job that is not steered, a flow without a port or an
// address, or a file past HCCL's limits (each names the pair or the count).
absl::StatusOr<std::string> FormatSteering(const pulse::v1::GetJobSteeringResponse& steering,
                                           const std::string& format);

}  // namespace pulse::northbound

#endif  // PULSE_NORTHBOUND_PULSECTL_FORMAT_H_
