#include "northbound/pulsectl_health.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/json_util.h"
#include "pulse/v1/lossless_health.grpc.pb.h"

namespace pulse::northbound {

std::string FormatIncidents(const pulse::v1::ListIncidentsResponse& r) {
  std::string out = absl::StrFormat("%4s %-10s %-6s %-18s %-22s %-14s %-11s %s\n", "ID", "KIND",
                                    "STATE", "ROOT", "ORIGIN", "ACTION", "APPLIED", "DETAIL");
  for (const pulse::v1::HealthIncident& i : r.incidents()) {
    std::string action = i.action();
    if (i.cap_reached()) {
      action = "none(cap)";
    } else if (i.action() != "none" && !i.applied() &&
               (i.outcome().empty() || i.outcome() == "dry_run")) {
      action += "(dry)";
    }
    // APPLIED: yes / no (dry-run, cap, refused) / returned (an isolation undone) / pending.
    std::string applied = "no";
    if (i.outcome() == "applied") applied = "yes";
    if (i.outcome() == "returned" || i.outcome() == "pending") applied = i.outcome();
    if (i.outcome() == "refused") applied = "refused";
    if (i.outcome().empty() && i.applied()) applied = "yes";
    std::string detail = i.detail();
    if (!i.outcome_detail().empty()) {
      absl::StrAppend(&detail, detail.empty() ? "" : "; ", i.outcome_detail());
    }
    absl::StrAppend(&out, absl::StrFormat("%4d %-10s %-6s %-18s %-22s %-14s %-11s %s\n", i.id(),
                                          i.kind(), i.closed_ms() == 0 ? "open" : "closed",
                                          absl::StrCat(i.root_switch(), ":", i.root_port()),
                                          i.origin(), action, applied, detail));
  }
  if (r.incidents().empty()) absl::StrAppend(&out, "(no incidents)\n");
  absl::StrAppend(&out,
                  r.dry_run() ? "dry-run: decisions shown, not applied\n" : "actions applied\n");
  for (const pulse::v1::SonicSwitchHealth& s : r.sonic_switches()) {
    absl::StrAppend(
        &out,
        absl::StrFormat("sonic %-12s %-28s %-12s %-8s repairs %d%s\n", s.name(), s.redis(),
                        s.connected() ? "connected" : "DISCONNECTED",
                        s.in_sync() ? "in-sync" : "pending", s.repairs(),
                        s.last_error().empty() ? "" : absl::StrCat("  (", s.last_error(), ")")));
    if (!s.hash_seed_warning().empty()) {
      absl::StrAppend(&out, "  WARNING ", s.name(),
                      ": ECMP hash seed is not the steering model's: ", s.hash_seed_warning(),
                      "\n");
    }
  }
  return out;
}

grpc::Status RunHealthIncidents(const std::shared_ptr<grpc::Channel>& channel,
                                const std::function<void(grpc::ClientContext*)>& prepare,
                                const std::vector<std::string>& args, bool json,
                                std::ostream& out) {
  pulse::v1::ListIncidentsRequest request;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--open") {
      request.set_open_only(true);
    } else {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("health incidents: unexpected argument '", args[i], "'"));
    }
  }
  auto stub = pulse::v1::LosslessHealthService::NewStub(channel);
  grpc::ClientContext context;
  prepare(&context);
  pulse::v1::ListIncidentsResponse response;
  grpc::Status status = stub->ListIncidents(&context, request, &response);
  if (!status.ok()) return status;
  if (json) {
    std::string text;
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    (void)google::protobuf::util::MessageToJsonString(response, &text, options);
    out << text;
  } else {
    out << FormatIncidents(response);
  }
  return grpc::Status::OK;
}

}  // namespace pulse::northbound
