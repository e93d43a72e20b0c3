// The web view's HTTP routes: the page (HTML, JS, CSS embedded in the binary at build time, see
// northbound/web/) and its read-only JSON API, as one function from a request to a reply. No
// sockets here: the daemon's HTTP server (daemon/metrics_http.h) calls Handle for every request,
// and tests call it directly.
//
//   GET /                       the page (also /index.html); /app.js, /style.css
//   GET /api/v1/topology        switches (tiers, planes, rails, servers per leaf) and their links
//   GET /api/v1/switches        switch state (connected, drained, NIC links down)
//   GET /api/v1/links[?nics=1]  link state, planned and measured load, discovery verdicts
//   GET /api/v1/jobs            job summaries
//   GET /api/v1/jobs/ID[?max_flows=N]   one job: flows with paths, the links it crosses
//   GET /api/v1/events?after=N[&max=M] | ?last=M   events after sequence N (or the last M)
//
// Auth: when tokens are configured every /api/ request needs a token of role viewer or above,
// as "Authorization: Bearer TOKEN" (scripts) or a "pulse_token" cookie (the page sets it from a
// ?token= URL parameter); otherwise 401. The page's static files carry no fabric data and are
// served without a token (the page then asks for one). Everything is read from the controller's
// published snapshot: nothing here changes state.
#ifndef PULSE_NORTHBOUND_WEB_API_H_
#define PULSE_NORTHBOUND_WEB_API_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/controller.h"
#include "controller/fabric_sync/fabric_sync.h"
#include "northbound/auth.h"

namespace pulse::northbound {

struct WebRequest {
  std::string method;         // "GET", "HEAD", ...
  std::string target;         // path and query, as sent: "/api/v1/events?after=3"
  std::string authorization;  // the Authorization header ("" when absent)
  std::string cookie;         // the Cookie header ("" when absent)
};

struct WebReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra response headers
};

struct WebApiOptions {
  std::vector<Token> tokens;  // empty: auth off
  // Measured load per directed link (TelemetryLoop::MeasuredLinkLoadBps); unset: none measured.
  std::function<std::vector<double>()> measured_link_load_bps;
  // LLDP discovery (FabricSync::Discovery); unset in planning mode.
  std::function<absl::StatusOr<controller::DiscoveryReport>()> discovery;
};

class WebApi {
 public:
  // `controller` must outlive this object.
  WebApi(controller::Controller* controller, WebApiOptions options);

  // Thread-safe: reads only the controller's snapshot, event log and the option callbacks.
  WebReply Handle(const WebRequest& request) const;

 private:
  WebReply HandleApi(const std::string& path, const std::string& query) const;

  controller::Controller* controller_;
  WebApiOptions options_;
  Authorizer auth_;
};

// The value of `name` in a URL query string ("a=1&b=2"), percent-decoded; "" when absent.
std::string QueryParam(const std::string& query, const std::string& name);
// The value of cookie `name` in a Cookie header ("a=1; b=2"); "" when absent.
std::string CookieValue(const std::string& cookie_header, const std::string& name);
// %XX and '+' decoding; malformed escapes are kept as written.
std::string PercentDecode(const std::string& text);

}  // namespace pulse::northbound

#endif  // PULSE_NORTHBOUND_WEB_API_H_
