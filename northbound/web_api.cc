#include "northbound/web_api.h"

#include <algorithm>
#include <cstdint>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "northbound/web_assets.h"
#include "northbound/web_json.h"

namespace pulse::northbound {
namespace {

constexpr char kApiPrefix[] = "/api/v1/";
constexpr char kTokenCookie[] = "pulse_token";
constexpr size_t kDefaultMaxFlows = 2000;
constexpr size_t kMaxEventsPerRead = 1000;

WebReply JsonReply(int status, const nlohmann::json& body) {
  WebReply reply;
  reply.status = status;
  // Invalid UTF-8 in a name (from an intent file) is replaced, never thrown.
  reply.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  reply.body += "\n";
  reply.headers.emplace_back("Cache-Control", "no-store");
  reply.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return reply;
}

WebReply ErrorReply(int status, const std::string& message) {
  return JsonReply(status, {{"error", message}});
}

int HttpStatus(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    default:
      return 500;
  }
}

// A non-negative integer query parameter; `fallback` when absent, nullopt when malformed.
std::optional<uint64_t> UintParam(const std::string& query, const std::string& name,
                                  uint64_t fallback) {
  const std::string text = QueryParam(query, name);
  if (text.empty()) return fallback;
  uint64_t value = 0;
  if (!absl::SimpleAtoi(text, &value)) return std::nullopt;
  return value;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string PercentDecode(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out.push_back(' ');
    } else if (text[i] == '%' && i + 2 < text.size() && HexDigit(text[i + 1]) >= 0 &&
               HexDigit(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexDigit(text[i + 1]) * 16 + HexDigit(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

std::string QueryParam(const std::string& query, const std::string& name) {
  for (absl::string_view part : absl::StrSplit(query, '&')) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(part, absl::MaxSplits('=', 1));
    if (kv.first == name) return PercentDecode(std::string(kv.second));
  }
  return "";
}

std::string CookieValue(const std::string& cookie_header, const std::string& name) {
  for (absl::string_view part : absl::StrSplit(cookie_header, ';')) {
    part = absl::StripAsciiWhitespace(part);
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(part, absl::MaxSplits('=', 1));
    if (kv.first == name) return PercentDecode(std::string(kv.second));
  }
  return "";
}

WebApi::WebApi(controller::Controller* controller, WebApiOptions options)
    : controller_(controller), options_(std::move(options)), auth_(options_.tokens) {}

WebReply WebApi::Handle(const WebRequest& request) const {
  std::string path = request.target;
  std::string query;
  if (size_t q = path.find('?'); q != std::string::npos) {
    query = path.substr(q + 1);
    path.resize(q);
  }
  if (request.method != "GET" && request.method != "HEAD") {
    WebReply reply = ErrorReply(405, "read-only: only GET and HEAD");
    reply.headers.emplace_back("Allow", "GET, HEAD");
    return reply;
  }
  if (!absl::StartsWith(path, kApiPrefix)) {
    const WebAsset* asset = FindWebAsset(path);
    if (asset == nullptr) return ErrorReply(404, absl::StrCat("no page at ", path));
    WebReply reply;
    reply.content_type = asset->content_type;
    reply.body.assign(reinterpret_cast<const char*>(asset->data), asset->size);
    reply.headers.emplace_back("Cache-Control", "no-cache");
    reply.headers.emplace_back("X-Content-Type-Options", "nosniff");
    // The page loads nothing from elsewhere; say so, so an injected script could not either.
    reply.headers.emplace_back("Content-Security-Policy",
                               "default-src 'self'; style-src 'self'; img-src 'self' data:");
    return reply;
  }
  // The token: a header from scripts, the cookie from the page.
  std::string bearer;
  absl::string_view header = request.authorization;
  if (absl::ConsumePrefix(&header, "Bearer ")) {
    bearer = std::string(absl::StripAsciiWhitespace(header));
  } else if (request.authorization.empty()) {
    bearer = CookieValue(request.cookie, kTokenCookie);
  }
  if (absl::Status status = auth_.CheckBearer(bearer, Role::kViewer); !status.ok()) {
    WebReply reply = ErrorReply(HttpStatus(status), std::string(status.message()));
    if (reply.status == 401) reply.headers.emplace_back("WWW-Authenticate", "Bearer");
    return reply;
  }
  return HandleApi(path.substr(sizeof(kApiPrefix) - 1), query);
}

WebReply WebApi::HandleApi(const std::string& path, const std::string& query) const {
  controller::SnapshotPtr snapshot = controller_->snapshot();
  if (path == "topology") return JsonReply(200, TopologyJson(*snapshot));
  if (path == "switches") return JsonReply(200, SwitchesJson(*snapshot));
  if (path == "jobs") return JsonReply(200, JobsJson(*snapshot));

  std::vector<double> measured;
  std::optional<controller::DiscoveryReport> discovery;
  WebLiveInputs live;
  auto read_live = [&] {
    if (options_.measured_link_load_bps) {
      measured = options_.measured_link_load_bps();
      live.measured_load_bps = &measured;
    }
    if (options_.discovery) {
      absl::StatusOr<controller::DiscoveryReport> report = options_.discovery();
      if (report.ok()) {
        discovery = *std::move(report);
        live.discovery = &*discovery;
      }
    }
  };
  if (path == "links") {
    read_live();
    return JsonReply(200, LinksJson(*snapshot, live, QueryParam(query, "nics") == "1"));
  }
  if (absl::StartsWith(path, "jobs/")) {
    const std::string id = PercentDecode(path.substr(5));
    std::optional<uint64_t> max_flows = UintParam(query, "max_flows", kDefaultMaxFlows);
    if (!max_flows) return ErrorReply(400, "max_flows: not a non-negative integer");
    read_live();
    absl::StatusOr<nlohmann::json> job = JobJson(*snapshot, id, live, *max_flows);
    if (!job.ok()) return ErrorReply(HttpStatus(job.status()), std::string(job.status().message()));
    return JsonReply(200, *job);
  }
  if (path == "events") {
    std::optional<uint64_t> after = UintParam(query, "after", 0);
    std::optional<uint64_t> max = UintParam(query, "max", 200);
    std::optional<uint64_t> last = UintParam(query, "last", 0);
    if (!after) return ErrorReply(400, "after: not a non-negative integer");
    if (!max || *max == 0) return ErrorReply(400, "max: must be a positive integer");
    if (!last) return ErrorReply(400, "last: not a non-negative integer");
    const controller::EventLog& events = controller_->events();
    uint64_t from = *after;
    if (*last > 0) {
      const uint64_t newest = events.last_sequence();
      from = newest > *last ? newest - *last : 0;
    }
    return JsonReply(200, EventsJson(events, from,
                                     std::min<uint64_t>(std::max(*max, *last), kMaxEventsPerRead)));
  }
  return ErrorReply(404, absl::StrCat("no API at /api/v1/", path));
}

}  // namespace pulse::northbound
