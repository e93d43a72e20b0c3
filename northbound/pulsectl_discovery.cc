#include "northbound/pulsectl_discovery.h"

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "northbound/pulsectl_format.h"
#include "pulse/v1/pulse.grpc.pb.h"

namespace pulse::northbound {
namespace {

std::string LinkName(const pulse::v1::DiscoveredLink& link) {
  return absl::StrCat(DiscoveredEndName(link.a()), " <-> ", DiscoveredEndName(link.b()));
}

std::string IntentName(const pulse::v1::IntentLink& link) {
  return absl::StrCat(link.a_node(), ":", link.a_port(), " <-> ", link.b_node(), ":",
                      link.b_port());
}

std::string Verdict(const pulse::v1::GetDiscoveryResponse& d) {
  std::string seen =
      absl::StrCat(d.observed_size(), " links observed in ", d.probe_rounds(), " probe rounds");
  if (d.description().empty()) {
    return absl::StrCat("discovery: ", seen,
                        "; not judged yet (waiting for every switch to "
                        "answer a probe)\n");
  }
  if (d.matches_intent()) return absl::StrCat("discovery: ", seen, "; all as the intent says\n");
  return absl::StrCat("discovery: ", seen, "; differs from the intent: ", d.missing_size(),
                      " missing, ", d.miswired_size(), " miswired, ", d.unexpected_size(),
                      " unexpected\n");
}

}  // namespace

std::string DiscoveredEndName(const pulse::v1::DiscoveredEnd& end) {
  if (!end.switch_name().empty()) return absl::StrCat(end.switch_name(), ":", end.port());
  return absl::StrFormat("dpid 0x%016x:%u", end.datapath_id(), end.port());
}

std::string FormatDiscovery(const pulse::v1::GetDiscoveryResponse& discovery) {
  std::string out = Verdict(discovery);
  std::vector<std::vector<std::string>> rows;
  for (const pulse::v1::IntentLink& link : discovery.missing()) {
    rows.push_back({"missing", "-", IntentName(link)});
  }
  for (const pulse::v1::MiswiredLink& link : discovery.miswired()) {
    std::vector<std::string> expected;
    for (const pulse::v1::IntentLink& e : link.expected()) expected.push_back(IntentName(e));
    rows.push_back({"miswired", LinkName(link.actual()), absl::StrJoin(expected, "; ")});
  }
  for (const pulse::v1::DiscoveredLink& link : discovery.unexpected()) {
    rows.push_back({"unexpected", LinkName(link), "-"});
  }
  if (!rows.empty()) {
    absl::StrAppend(&out, "\n", FormatTable({"DIFFERENCE", "CABLED", "INTENT"}, rows));
  }
  rows.clear();
  for (const pulse::v1::DiscoveredLink& link : discovery.observed()) {
    rows.push_back({DiscoveredEndName(link.a()), DiscoveredEndName(link.b())});
  }
  if (!rows.empty()) absl::StrAppend(&out, "\n", FormatTable({"OBSERVED A", "OBSERVED B"}, rows));
  return out;
}

grpc::Status RunDiscoveryCommand(const std::shared_ptr<grpc::Channel>& channel,
                                 const std::function<void(grpc::ClientContext*)>& prepare,
                                 bool json, std::ostream& out) {
  grpc::ClientContext context;
  if (prepare) prepare(&context);
  pulse::v1::GetDiscoveryResponse response;
  grpc::Status status =
      pulse::v1::TopologyService::NewStub(channel)->GetDiscovery(&context, {}, &response);
  if (!status.ok()) return status;
  if (json) {
    absl::StatusOr<std::string> text = ToJson(response, /*one_line=*/false);
    if (!text.ok()) {
      return grpc::Status(grpc::StatusCode::INTERNAL, std::string(text.status().message()));
    }
    out << *text;
  } else {
    out << FormatDiscovery(response);
  }
  out.flush();
  return grpc::Status::OK;
}

}  // namespace pulse::northbound
