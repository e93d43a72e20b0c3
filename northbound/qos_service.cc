#include "northbound/qos_service.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "grpcpp/grpcpp.h"
#include "southbound/sonic/qos_export.h"

namespace pulse::northbound {
namespace {

using grpc::CallbackServerContext;
using grpc::ServerUnaryReactor;

// Marks a forwarded call (the same header as JobService forwarding in server.cc).
constexpr char kForwardedHeader[] = "pulse-forwarded";

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
    controller::Controller* controller, QosServiceOptions options) {
  if (controller == nullptr) return absl::InvalidArgumentError("qos service: no controller");
  if (controller->snapshot()->qos->plan == nullptr) {
    return absl::FailedPreconditionError(
        "qos service: QoS is off (the default policy does not fit this fabric)");
  }
  return std::unique_ptr<QosServiceImpl>(new QosServiceImpl(controller, std::move(options)));
}

std::shared_ptr<const controller::QosPlan> QosServiceImpl::plan() const {
  return controller_->snapshot()->qos->plan;
}

absl::StatusOr<pulse::v1::SetQosPolicyResponse> QosServiceImpl::SetPolicyYaml(
    absl::string_view yaml_text, bool dry_run) {
  absl::StatusOr<controller::QosPolicyChange> change =
      controller_->SetQosPolicy(std::string(yaml_text), dry_run).get();
  if (!change.ok()) return change.status();
  pulse::v1::SetQosPolicyResponse response;
  response.set_switches_planned(change->switches_planned);
  response.set_ports_planned(change->ports_planned);
  response.set_persisted(change->persisted);
  return response;
}

std::shared_ptr<pulse::v1::QosService::Stub> QosServiceImpl::LeaderStub(
    const CallbackServerContext& context) {
  if (!options_.forward_writes_to) return nullptr;
  // One hop at most: a forwarded call is answered here (the write gate names the leader).
  if (context.client_metadata().count(kForwardedHeader) > 0) return nullptr;
  std::string leader = options_.forward_writes_to();
  if (leader.empty()) return nullptr;
  std::lock_guard<std::mutex> lock(forward_mu_);
  auto& stub = forward_stubs_[leader];
  if (stub == nullptr) {
    stub = pulse::v1::QosService::NewStub(
        grpc::CreateChannel(leader, grpc::InsecureChannelCredentials()));
  }
  return stub;
}

ServerUnaryReactor* QosServiceImpl::GetQosPolicy(CallbackServerContext* context,
                                                 const pulse::v1::GetQosPolicyRequest*,
                                                 pulse::v1::GetQosPolicyResponse* response) {
  controller::QosStatePtr qos = controller_->snapshot()->qos;
  const controller::QosPlan* plan = qos->plan.get();
  response->mutable_policy()->set_yaml(qos->policy_yaml);
  response->set_from_defaults(qos->from_defaults);
  for (int p : plan->policy.lossless_priorities) response->add_lossless_priorities(p);
  response->set_cnp_dscp(plan->policy.cnp_dscp);
  response->set_cnp_priority(plan->policy.cnp_priority);
  response->set_asic(plan->policy.asic);
  return Finish(context, grpc::Status::OK);
}

ServerUnaryReactor* QosServiceImpl::SetQosPolicy(CallbackServerContext* context,
                                                 const pulse::v1::SetQosPolicyRequest* request,
                                                 pulse::v1::SetQosPolicyResponse* response) {
  ServerUnaryReactor* reactor = context->DefaultReactor();
  if (auto stub = LeaderStub(*context); stub != nullptr) {
    auto client = std::make_shared<grpc::ClientContext>();
    client->AddMetadata(kForwardedHeader, "1");
    auto auth_header = context->client_metadata().find("authorization");
    if (auth_header != context->client_metadata().end()) {
      client->AddMetadata("authorization",
                          std::string(auth_header->second.data(), auth_header->second.size()));
    }
    client->set_deadline(
        std::min(context->deadline(), std::chrono::system_clock::now() + std::chrono::seconds(30)));
    stub->async()->SetQosPolicy(client.get(), request, response,
                                [reactor, client, stub](grpc::Status s) { reactor->Finish(s); });
    return reactor;
  }
  controller_->SetQosPolicy(
      request->policy().yaml(), request->dry_run(),
      [reactor, response](absl::StatusOr<controller::QosPolicyChange> change) {
        if (!change.ok()) {
          pulse::Log(pulse::LogLevel::kWarning, change.status().message());
          reactor->Finish(ToGrpc(change.status()));
          return;
        }
        response->set_switches_planned(change->switches_planned);
        response->set_ports_planned(change->ports_planned);
        response->set_persisted(change->persisted);
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

ServerUnaryReactor* QosServiceImpl::GetQosPlan(CallbackServerContext* context,
                                               const pulse::v1::GetQosPlanRequest* request,
                                               pulse::v1::GetQosPlanResponse* response) {
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
  const int stride = request->port_name_stride() == 0 ? 8 : request->port_name_stride();
  if (stride > 64) {
    return Finish(context, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                        absl::StrCat("export sonic: port_name_stride ", stride,
                                                     " out of range 1..64")));
  }
  std::shared_ptr<const controller::QosPlan> current = plan();
  absl::StatusOr<nlohmann::json> json =
      southbound::sonic::ExportSonicConfigDb(*current, request->switch_name(), stride);
  if (!json.ok()) return Finish(context, ToGrpc(json.status()));
  response->set_config_db_json(json->dump(2));
  return Finish(context, grpc::Status::OK);
}

ServerUnaryReactor* QosServiceImpl::AuditQos(CallbackServerContext* context,
                                             const pulse::v1::AuditQosRequest*,
                                             pulse::v1::AuditQosResponse* response) {
  if (!options_.audit) {
    return Finish(context,
                  grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                               "audit qos: no switch driver configured (qos: ovsdb not set)"));
  }
  ServerUnaryReactor* reactor = context->DefaultReactor();
  options_.audit(plan(), [reactor, response](absl::StatusOr<QosAuditReport> report) {
    if (!report.ok()) {
      reactor->Finish(ToGrpc(report.status()));
      return;
    }
    response->set_ports_audited(report->ports_audited);
    for (const QosAuditFinding& finding : report->differences) {
      pulse::v1::QosDifference* d = response->add_differences();
      d->set_switch_name(finding.switch_name);
      d->set_port(finding.port);
      d->set_difference(finding.difference);
    }
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace pulse::northbound
