#include "northbound/qos_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "controller/log.h"
#include "grpcpp/grpcpp.h"

namespace pulse::northbound {
namespace {

using grpc::CallbackServerContext;
using grpc::ServerUnaryReactor;

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

ServerUnaryReactor* Finish(CallbackServerContext* context, const grpc::Status& status) {
  ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

void FillSwitch(const controller::SwitchQosPlan& sw, pulse::v1::SwitchQos* out) {
  out->set_name(sw.name);
  out->set_headroom_bytes(static_cast<uint64_t>(sw.headroom_bytes));
  out->set_shared_pool_bytes(static_cast<uint64_t>(sw.shared_pool_bytes));
  for (const controller::PortQosPlan& port : sw.ports) {
    pulse::v1::PortQos* p = out->add_ports();
    p->set_port(port.port);
    p->set_peer(port.peer);
    p->set_speed_bps(static_cast<uint64_t>(port.speed_bps));
    p->set_cable_length_m(port.cable_length_m);
    p->set_cable_length_defaulted(port.cable_length_defaulted);
    p->set_headroom_size_bytes(static_cast<uint64_t>(port.headroom.size_bytes));
    p->set_xon_bytes(static_cast<uint64_t>(port.headroom.xon_bytes));
    p->set_xoff_bytes(static_cast<uint64_t>(port.headroom.xoff_bytes));
    p->set_ecn_kmin_bytes(static_cast<uint64_t>(port.ecn.kmin_bytes));
    p->set_ecn_kmax_bytes(static_cast<uint64_t>(port.ecn.kmax_bytes));
    p->set_ecn_pmax_percent(static_cast<uint32_t>(port.ecn.pmax_percent));
    p->set_xoff_trigger_bytes(static_cast<uint64_t>(port.xoff_trigger_bytes));
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<QosServiceImpl>> QosServiceImpl::Create(
    const topology::Fabric* fabric, controller::QosPolicy initial_policy, std::string initial_yaml,
    QosServiceOptions options) {
  if (fabric == nullptr) return absl::InvalidArgumentError("qos service: no fabric");
  absl::StatusOr<controller::QosPlan> plan = controller::PlanQos(*fabric, initial_policy);
  if (!plan.ok()) {
    return absl::Status(plan.status().code(),
                        absl::StrCat("qos policy: ", plan.status().message()));
  }
  std::unique_ptr<QosServiceImpl> service(new QosServiceImpl(fabric, std::move(options)));
  service->plan_ = std::make_shared<const controller::QosPlan>(*std::move(plan));
  service->from_defaults_ = initial_yaml.empty();
  service->policy_yaml_ = std::move(initial_yaml);
  return service;
}

std::shared_ptr<const controller::QosPlan> QosServiceImpl::plan() const {
  std::lock_guard<std::mutex> lock(mu_);
  return plan_;
}

absl::StatusOr<controller::QosPlan> QosServiceImpl::ParseAndPlan(absl::string_view yaml_text,
                                                                 absl::string_view error_prefix) {
  absl::StatusOr<controller::QosPolicy> policy = controller::ParseQosPolicyYaml(yaml_text);
  if (!policy.ok()) {
    return absl::Status(policy.status().code(),
                        absl::StrCat(error_prefix, policy.status().message()));
  }
  absl::StatusOr<controller::QosPlan> plan = controller::PlanQos(*fabric_, *policy);
  if (!plan.ok()) {
    return absl::Status(plan.status().code(), absl::StrCat(error_prefix, plan.status().message()));
  }
  return plan;
}

absl::StatusOr<pulse::v1::SetQosPolicyResponse> QosServiceImpl::SetPolicyYaml(
    absl::string_view yaml_text, bool dry_run) {
  absl::StatusOr<controller::QosPlan> plan = ParseAndPlan(yaml_text, "qos policy refused: ");
  if (!plan.ok()) return plan.status();
  pulse::v1::SetQosPolicyResponse response;
  response.set_switches_planned(static_cast<uint32_t>(plan->switches.size()));
  uint32_t ports = 0;
  for (const controller::SwitchQosPlan& sw : plan->switches) ports += sw.ports.size();
  response.set_ports_planned(ports);
  if (dry_run) return response;
  if (options_.store != nullptr) {
    {
      // Our own write comes back through the policy watch, maybe before Apply returns: it is
      // not another replica's policy (AdoptStoredPolicy skips it).
      std::lock_guard<std::mutex> lock(mu_);
      writing_yaml_ = std::string(yaml_text);
    }
    controller::WriteBatch batch;
    batch.Put(kQosPolicyStoreKey, yaml_text);
    absl::StatusOr<int64_t> revision = options_.store->Apply(batch);
    if (!revision.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      writing_yaml_.clear();  // not written: a later store update with this text is not ours
      return absl::Status(revision.status().code(),
                          absl::StrCat("qos policy not persisted (old policy kept): ",
                                       revision.status().message()));
    }
    response.set_persisted(true);
  }
  auto shared_plan = std::make_shared<const controller::QosPlan>(*std::move(plan));
  {
    std::lock_guard<std::mutex> lock(mu_);
    plan_ = shared_plan;
    policy_yaml_ = std::string(yaml_text);
    from_defaults_ = false;
    writing_yaml_.clear();
  }
  pulse::Log(pulse::LogLevel::kInfo, "qos: new policy in force (", ports, " ports planned)");
  if (options_.on_plan_changed) options_.on_plan_changed(*shared_plan);
  return response;
}

absl::Status QosServiceImpl::AdoptStoredPolicy(absl::string_view yaml_text) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!from_defaults_ && policy_yaml_ == yaml_text) return absl::OkStatus();
    if (writing_yaml_ == yaml_text) return absl::OkStatus();
  }
  absl::StatusOr<controller::QosPlan> plan = ParseAndPlan(yaml_text, "stored qos policy refused: ");
  if (!plan.ok()) return plan.status();
  auto shared_plan = std::make_shared<const controller::QosPlan>(*std::move(plan));
  {
    std::lock_guard<std::mutex> lock(mu_);
    plan_ = shared_plan;
    policy_yaml_ = std::string(yaml_text);
    from_defaults_ = false;
  }
  pulse::Log(pulse::LogLevel::kInfo, "qos: policy set on another replica now in force");
  if (options_.on_plan_changed) options_.on_plan_changed(*shared_plan);
  return absl::OkStatus();
}

ServerUnaryReactor* QosServiceImpl::GetQosPolicy(CallbackServerContext* context,
                                                 const pulse::v1::GetQosPolicyRequest*,
                                                 pulse::v1::GetQosPolicyResponse* response) {
  grpc::Status auth = auth_.Check(*context, "/pulse.v1.QosService/GetQosPolicy");
  if (!auth.ok()) return Finish(context, auth);
  std::shared_ptr<const controller::QosPlan> plan;
  {
    std::lock_guard<std::mutex> lock(mu_);
    plan = plan_;
    response->mutable_policy()->set_yaml(policy_yaml_);
    response->set_from_defaults(from_defaults_);
  }
  for (int p : plan->policy.lossless_priorities) response->add_lossless_priorities(p);
  response->set_cnp_dscp(plan->policy.cnp_dscp);
  response->set_cnp_priority(plan->policy.cnp_priority);
  response->set_asic(plan->policy.asic);
  return Finish(context, grpc::Status::OK);
}

ServerUnaryReactor* QosServiceImpl::SetQosPolicy(CallbackServerContext* context,
                                                 const pulse::v1::SetQosPolicyRequest* request,
                                                 pulse::v1::SetQosPolicyResponse* response) {
  grpc::Status auth = auth_.Check(*context, "/pulse.v1.QosService/SetQosPolicy");
  if (!auth.ok()) return Finish(context, auth);
  absl::StatusOr<pulse::v1::SetQosPolicyResponse> result =
      SetPolicyYaml(request->policy().yaml(), request->dry_run());
  if (!result.ok()) {
    pulse::Log(pulse::LogLevel::kWarning, result.status().message());
    return Finish(context, ToGrpc(result.status()));
  }
  *response = *std::move(result);
  return Finish(context, grpc::Status::OK);
}

ServerUnaryReactor* QosServiceImpl::GetQosPlan(CallbackServerContext* context,
                                               const pulse::v1::GetQosPlanRequest* request,
                                               pulse::v1::GetQosPlanResponse* response) {
  grpc::Status auth = auth_.Check(*context, "/pulse.v1.QosService/GetQosPlan");
  if (!auth.ok()) return Finish(context, auth);
  std::shared_ptr<const controller::QosPlan> current = plan();
  if (!request->switch_name().empty()) {
    const controller::SwitchQosPlan* sw = current->FindSwitch(request->switch_name());
    if (sw == nullptr) {
      return Finish(context, grpc::Status(grpc::StatusCode::NOT_FOUND,
                                          absl::StrCat("qos plan: no switch '",
                                                       request->switch_name(), "'")));
    }
    FillSwitch(*sw, response->add_switches());
    return Finish(context, grpc::Status::OK);
  }
  for (const controller::SwitchQosPlan& sw : current->switches) {
    FillSwitch(sw, response->add_switches());
  }
  return Finish(context, grpc::Status::OK);
}

ServerUnaryReactor* QosServiceImpl::ExportSonic(CallbackServerContext* context,
                                                const pulse::v1::ExportSonicRequest* request,
                                                pulse::v1::ExportSonicResponse* response) {
  grpc::Status auth = auth_.Check(*context, "/pulse.v1.QosService/ExportSonic");
  if (!auth.ok()) return Finish(context, auth);
  const int stride = request->port_name_stride() == 0 ? 8 : request->port_name_stride();
  if (stride > 64) {
    return Finish(context, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                        absl::StrCat("export sonic: port_name_stride ", stride,
                                                     " out of range 1..64")));
  }
  std::shared_ptr<const controller::QosPlan> current = plan();
  absl::StatusOr<nlohmann::json> json =
      controller::ExportSonicConfigDb(*current, request->switch_name(), stride);
  if (!json.ok()) return Finish(context, ToGrpc(json.status()));
  response->set_config_db_json(json->dump(2));
  return Finish(context, grpc::Status::OK);
}

ServerUnaryReactor* QosServiceImpl::AuditQos(CallbackServerContext* context,
                                             const pulse::v1::AuditQosRequest*,
                                             pulse::v1::AuditQosResponse* response) {
  grpc::Status auth = auth_.Check(*context, "/pulse.v1.QosService/AuditQos");
  if (!auth.ok()) return Finish(context, auth);
  if (!options_.audit) {
    return Finish(context,
                  grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                               "audit qos: no switch driver configured (qos: ovsdb not set)"));
  }
  absl::StatusOr<QosAuditReport> report = options_.audit(*plan());
  if (!report.ok()) return Finish(context, ToGrpc(report.status()));
  response->set_ports_audited(report->ports_audited);
  for (const QosAuditFinding& finding : report->differences) {
    pulse::v1::QosDifference* d = response->add_differences();
    d->set_switch_name(finding.switch_name);
    d->set_port(finding.port);
    d->set_difference(finding.difference);
  }
  return Finish(context, grpc::Status::OK);
}

}  // namespace pulse::northbound
