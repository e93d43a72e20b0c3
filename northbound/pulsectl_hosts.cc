#include "northbound/pulsectl_hosts.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "pulse/v1/hosts.grpc.pb.h"

namespace pulse::northbound {
namespace {

std::string Seen(int64_t unix_ms) {
  if (unix_ms == 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%S", absl::FromUnixMillis(unix_ms), absl::UTCTimeZone());
}

std::string Source(pulse::v1::HostSource s, bool mac_learned) {
  switch (s) {
    case pulse::v1::HOST_SOURCE_INTENT:
      return mac_learned ? "intent+mac" : "intent";
    case pulse::v1::HOST_SOURCE_LEARNED:
      return "learned";
    default:
      return "none";
  }
}

}  // namespace

std::string FormatHosts(const pulse::v1::ListHostsResponse& hosts) {
  std::string out =
      absl::StrCat(hosts.intent(), " from the intent, ", hosts.learned(), " learned, ",
                   hosts.unknown(), " not known yet, ", hosts.conflicts(), " conflicts\n");
  absl::StrAppendFormat(&out, "%-22s %-16s %-17s %-18s %-10s %-19s %-19s %s\n", "NIC", "IPV4",
                        "MAC", "PORT", "SOURCE", "FIRST SEEN", "LAST SEEN", "CONFLICT");
  for (const pulse::v1::Host& h : hosts.hosts()) {
    absl::StrAppendFormat(&out, "%-22s %-16s %-17s %-18s %-10s %-19s %-19s %s\n", h.nic(),
                          h.ipv4().empty() ? "-" : h.ipv4(), h.mac().empty() ? "-" : h.mac(),
                          absl::StrCat(h.switch_name(), ":", h.port()),
                          Source(h.source(), h.mac_learned()), Seen(h.first_seen_unix_ms()),
                          Seen(h.last_seen_unix_ms()), h.conflict().empty() ? "-" : h.conflict());
  }
  return out;
}

grpc::Status RunHostsCommand(const std::shared_ptr<grpc::Channel>& channel,
                             const std::function<void(grpc::ClientContext*)>& prepare,
                             const std::vector<std::string>& args, bool json, std::ostream& out) {
  pulse::v1::ListHostsRequest request;
  for (const std::string& a : args) {
    if (a == "all" || a == "--all") {
      request.set_include_unknown(true);
    } else {
      return grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrCat("hosts: unexpected argument '", a, "' (usage: hosts [all])"));
    }
  }
  auto stub = pulse::v1::HostService::NewStub(channel);
  grpc::ClientContext context;
  prepare(&context);
  pulse::v1::ListHostsResponse response;
  grpc::Status status = stub->ListHosts(&context, request, &response);
  if (!status.ok()) return status;
  if (json) {
    std::string text;
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    options.preserve_proto_field_names = true;
    (void)google::protobuf::util::MessageToJsonString(response, &text, options);
    out << text;
  } else {
    out << FormatHosts(response);
  }
  return grpc::Status::OK;
}

}  // namespace pulse::northbound
