#include "northbound/pulsectl_qos.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/json_util.h"
#include "pulse/v1/qos.grpc.pb.h"

namespace pulse::northbound {
namespace {

std::string ToJson(const google::protobuf::Message& message) {
  std::string text;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  (void)google::protobuf::util::MessageToJsonString(message, &text, options);
  return text;
}

grpc::Status BadArgs(const std::string& why) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, absl::StrCat("qos: ", why));
}

}  // namespace

std::string FormatQosPlan(const pulse::v1::GetQosPlanResponse& plan) {
  std::string out =
      absl::StrFormat("%-12s %4s %-22s %6s %7s %9s %9s %9s %9s %9s\n", "SWITCH", "PORT", "PEER",
                      "GBPS", "CABLE", "HEADROOM", "XON", "XOFF", "ECN_KMIN", "ECN_KMAX");
  for (const pulse::v1::SwitchQos& sw : plan.switches()) {
    for (const pulse::v1::PortQos& p : sw.ports()) {
      absl::StrAppend(
          &out,
          absl::StrFormat("%-12s %4d %-22s %6d %6.0fm%s %9d %9d %9d %9d %9d\n", sw.name(), p.port(),
                          p.peer(), p.speed_bps() / 1000000000, p.cable_length_m(),
                          p.cable_length_defaulted() ? "*" : " ", p.headroom_size_bytes(),
                          p.xon_bytes(), p.xoff_bytes(), p.ecn_kmin_bytes(), p.ecn_kmax_bytes()));
    }
  }
  absl::StrAppend(&out, "(* cable length defaulted by tier; bytes per lossless PG)\n");
  return out;
}

std::string FormatQosAudit(const pulse::v1::AuditQosResponse& audit) {
  if (audit.differences().empty()) {
    return absl::StrCat(audit.ports_audited(), " ports audited, no differences\n");
  }
  std::string out = absl::StrCat(audit.ports_audited(), " ports audited, ",
                                 audit.differences_size(), " differences\n");
  for (const pulse::v1::QosDifference& d : audit.differences()) {
    absl::StrAppend(&out, d.switch_name(), ":", d.port(), "  ", d.difference(), "\n");
  }
  return out;
}

grpc::Status RunQosCommand(const std::shared_ptr<grpc::Channel>& channel,
                           const std::function<void(grpc::ClientContext*)>& prepare,
                           const std::vector<std::string>& args, bool json, std::ostream& out) {
  if (args.empty()) return BadArgs("expected show, audit or export");
  std::string switch_name, format;
  uint32_t stride = 0;  // 0: the server's default (8)
  for (size_t i = 1; i < args.size(); ++i) {
    if ((args[i] == "--switch" || args[i] == "--format") && i + 1 < args.size()) {
      (args[i] == "--switch" ? switch_name : format) = args[i + 1];
      ++i;
    } else if (args[i] == "--stride" && i + 1 < args.size()) {
      if (!absl::SimpleAtoi(args[i + 1], &stride) || stride == 0 || stride > 64) {
        return BadArgs(
            absl::StrCat("--stride '", args[i + 1],
                         "' is not a port-name stride (1..64: Ethernet0, Ethernet<N>...)"));
      }
      ++i;
    } else {
      return BadArgs(absl::StrCat("unexpected argument '", args[i], "'"));
    }
  }
  auto stub = pulse::v1::QosService::NewStub(channel);
  grpc::ClientContext context;
  prepare(&context);
  // A controller without the QoS service answers UNIMPLEMENTED with no message: say why.
  auto explain = [](const grpc::Status& status) {
    if (status.error_code() != grpc::StatusCode::UNIMPLEMENTED) return status;
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                        "QoS is disabled on this controller: it does not serve "
                        "pulse.v1.QosService (qos.enabled: false, or its QoS policy could not "
                        "plan the fabric; the daemon's log says which)");
  };
  if (args[0] == "show") {
    pulse::v1::GetQosPlanRequest request;
    request.set_switch_name(switch_name);
    pulse::v1::GetQosPlanResponse response;
    grpc::Status status = stub->GetQosPlan(&context, request, &response);
    if (!status.ok()) return explain(status);
    out << (json ? ToJson(response) : FormatQosPlan(response));
    return grpc::Status::OK;
  }
  if (args[0] == "audit") {
    pulse::v1::AuditQosResponse response;
    grpc::Status status = stub->AuditQos(&context, {}, &response);
    if (!status.ok()) return explain(status);
    out << (json ? ToJson(response) : FormatQosAudit(response));
    return grpc::Status::OK;
  }
  if (args[0] == "export") {
    if (format != "sonic") return BadArgs("export needs --format sonic");
    if (switch_name.empty()) return BadArgs("export needs --switch S");
    pulse::v1::ExportSonicRequest request;
    request.set_switch_name(switch_name);
    request.set_port_name_stride(stride);
    pulse::v1::ExportSonicResponse response;
    grpc::Status status = stub->ExportSonic(&context, request, &response);
    if (!status.ok()) return explain(status);
    out << response.config_db_json() << "\n";
    return grpc::Status::OK;
  }
  return BadArgs(absl::StrCat("unknown subcommand '", args[0], "'"));
}

}  // namespace pulse::northbound
