// pulse.v1 QosService (proto/pulse/v1/qos.proto) on the gRPC callback API: the fabric's QoS
// policy, its per-port plan, the SONiC CONFIG_DB export and the audit of the switches.
//
// The policy in force and its plan are swapped together under a mutex: SetQosPolicy parses,
// validates (ValidateQosPolicy) and plans (PlanQos) the new policy on the fabric first, so a
// refused policy leaves the old one in force and the caller gets the validator's message (it
// names the port, the rule and the numbers). Roles come from the northbound auth table
// (northbound/auth.h): reads are viewer, SetQosPolicy is admin.
#ifndef PULSE_NORTHBOUND_QOS_SERVICE_H_
#define PULSE_NORTHBOUND_QOS_SERVICE_H_

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/qos_plan.h"
#include "controller/qos_policy.h"
#include "controller/store.h"
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

// Store key of the policy's YAML text.
inline constexpr absl::string_view kQosPolicyStoreKey = "qos/policy";

struct QosServiceOptions {
  std::vector<Token> tokens;  // empty: authentication off (same tokens as the API server)
  // Where a newly set policy is persisted (key kQosPolicyStoreKey); nullptr: not persisted.
  controller::StateStore* store = nullptr;
  // Audits the switches against a plan (e.g. the OVS QoS agent); unset: AuditQos answers
  // FAILED_PRECONDITION. Called on a gRPC thread.
  std::function<absl::StatusOr<QosAuditReport>(const controller::QosPlan&)> audit;
  // Called with every newly accepted plan (e.g. to push it to the switches).
  std::function<void(const controller::QosPlan&)> on_plan_changed;
};

class QosServiceImpl final : public pulse::v1::QosService::CallbackService {
 public:
  // Plans `initial_policy` on `fabric` (which must outlive the service). `initial_yaml` is the
  // text it came from ("" for the defaults). Errors: a policy that does not validate or plan.
  static absl::StatusOr<std::unique_ptr<QosServiceImpl>> Create(
      const topology::Fabric* fabric, controller::QosPolicy initial_policy,
      std::string initial_yaml, QosServiceOptions options);

  // Parses, validates and plans `yaml_text`; on success it becomes the policy in force (and is
  // persisted unless dry_run). On error the old policy stays.
  absl::StatusOr<pulse::v1::SetQosPolicyResponse> SetPolicyYaml(absl::string_view yaml_text,
                                                                bool dry_run);
  // Puts a policy another replica persisted (seen by watching kQosPolicyStoreKey) in force,
  // without persisting it again. Same checks as SetPolicyYaml; a policy equal to the one in
  // force is a no-op (the watch also reports this replica's own writes). On error the old
  // policy stays.
  absl::Status AdoptStoredPolicy(absl::string_view yaml_text);
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
  // Parses, validates and plans a policy on the fabric; errors start with `error_prefix`.
  absl::StatusOr<controller::QosPlan> ParseAndPlan(absl::string_view yaml_text,
                                                   absl::string_view error_prefix);
  QosServiceImpl(const topology::Fabric* fabric, QosServiceOptions options)
      : fabric_(fabric), auth_(options.tokens), options_(std::move(options)) {}

  const topology::Fabric* fabric_;
  Authorizer auth_;
  QosServiceOptions options_;
  mutable std::mutex mu_;
  std::shared_ptr<const controller::QosPlan> plan_;  // guarded by mu_
  std::string policy_yaml_;                          // guarded by mu_
  bool from_defaults_ = true;                        // guarded by mu_
  std::string writing_yaml_;  // the policy this replica last persisted; guarded by mu_
};

}  // namespace pulse::northbound

#endif  // PULSE_NORTHBOUND_QOS_SERVICE_H_
