// pulse.v1 QosService (proto/pulse/v1/qos.proto) on the gRPC callback API: the fabric's QoS
// policy, its per-port plan, the SONiC CONFIG_DB export and the audit of the switches.
//
// A thin API over the controller, which owns the policy (controller/qos_state.h): reads come from
// its snapshot, SetQosPolicy is Controller::SetQosPolicy (validated and planned first, so a
// refused policy leaves the old one in force and the caller gets the validator's message naming
// the port, the rule and the numbers; leader-gated and persisted like PlaceJob). On a follower
// the write is forwarded to the leader like JobService writes. Nothing here talks to a switch:
// AuditQos hands the work to the QoS driver's own thread (daemon/qos_runtime.h). Roles come from
// the northbound auth table (northbound/auth.h), enforced by the API server's auth gate
// (register it with GateService, auth_gate.h): reads are viewer, SetQosPolicy is admin.
#ifndef PULSE_NORTHBOUND_QOS_SERVICE_H_
#define PULSE_NORTHBOUND_QOS_SERVICE_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/controller.h"
#include "controller/qos/qos_plan.h"
#include "controller/qos_state.h"
#include "northbound/auth.h"
#include "pulse/v1/qos.grpc.pb.h"
#include "topology/fabric.h"

namespace pulse::northbound {

// One difference between the plan and what a switch port holds.
struct QosAuditFinding {
  std::string switch_name;
  int32_t port = 0;
  std::string difference;
};
struct QosAuditReport {
  std::vector<QosAuditFinding> differences;
  int ports_audited = 0;
};

using controller::kQosPolicyStoreKey;

struct QosServiceOptions {
  // Audits the switches against a plan (e.g. the OVS QoS agent). Called on a gRPC thread: it must
  // not block, and calls `done` once, from any thread. Unset: AuditQos answers
  // FAILED_PRECONDITION.
  using AuditDone = std::function<void(absl::StatusOr<QosAuditReport>)>;
  std::function<void(std::shared_ptr<const controller::QosPlan>, AuditDone)> audit;
  // Where the leader's API is while another replica leads ("" : handle here); see
  // ApiServerOptions::forward_writes_to.
  std::function<std::string()> forward_writes_to;
};

class QosServiceImpl final : public pulse::v1::QosService::CallbackService {
 public:
  // `controller` must outlive the service. FailedPrecondition when QoS is off (the controller
  // holds no plan: the default policy does not fit its fabric).
  static absl::StatusOr<std::unique_ptr<QosServiceImpl>> Create(controller::Controller* controller,
                                                                QosServiceOptions options);

  // Controller::SetQosPolicy as the API answers it, waiting for the answer (tools and tests).
  absl::StatusOr<pulse::v1::SetQosPolicyResponse> SetPolicyYaml(absl::string_view yaml_text,
                                                                bool dry_run);
  // The plan in force (from the controller's snapshot).
  std::shared_ptr<const controller::QosPlan> plan() const;

  grpc::ServerUnaryReactor* GetQosPolicy(grpc::CallbackServerContext* context,
                                         const pulse::v1::GetQosPolicyRequest* request,
                                         pulse::v1::GetQosPolicyResponse* response) override;
  grpc::ServerUnaryReactor* SetQosPolicy(grpc::CallbackServerContext* context,
                                         const pulse::v1::SetQosPolicyRequest* request,
                                         pulse::v1::SetQosPolicyResponse* response) override;
  grpc::ServerUnaryReactor* GetQosPlan(grpc::CallbackServerContext* context,
                                       const pulse::v1::GetQosPlanRequest* request,
                                       pulse::v1::GetQosPlanResponse* response) override;
  grpc::ServerUnaryReactor* ExportSonic(grpc::CallbackServerContext* context,
                                        const pulse::v1::ExportSonicRequest* request,
                                        pulse::v1::ExportSonicResponse* response) override;
  grpc::ServerUnaryReactor* AuditQos(grpc::CallbackServerContext* context,
                                     const pulse::v1::AuditQosRequest* request,
                                     pulse::v1::AuditQosResponse* response) override;

 private:
  QosServiceImpl(controller::Controller* controller, QosServiceOptions options)
      : controller_(controller), options_(std::move(options)) {}
  // The stub to the leader when this write must be forwarded, else null.
  std::shared_ptr<pulse::v1::QosService::Stub> LeaderStub(
      const grpc::CallbackServerContext& context);

  controller::Controller* const controller_;
  const QosServiceOptions options_;
  std::mutex forward_mu_;  // guards forward_stubs_ (gRPC threads)
  std::map<std::string, std::shared_ptr<pulse::v1::QosService::Stub>> forward_stubs_;
};

}  // namespace pulse::northbound

#endif  // PULSE_NORTHBOUND_QOS_SERVICE_H_
