// The web view in the daemon: the page and its JSON API (northbound/web_api.h) served over HTTP
// on `web_listen`, on its own small event loop and thread. Plaintext: put it behind a TLS proxy
// (or keep it on loopback) where the API itself uses TLS; the viewer token is still required when
// tokens are configured.
#ifndef PULSE_DAEMON_WEB_RUNTIME_H_
#define PULSE_DAEMON_WEB_RUNTIME_H_

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "boost/asio/io_context.hpp"
#include "controller/controller.h"
#include "daemon/metrics_http.h"
#include "northbound/web_api.h"

namespace pulse::northbound {

class WebRuntime {
 public:
  // Binds `listen` ("host:port"; port 0 picks one) and starts serving. Errors name web_listen.
  // `controller` must outlive the runtime.
  static absl::StatusOr<std::unique_ptr<WebRuntime>> Start(controller::Controller* controller,
                                                           const std::string& listen,
                                                           WebApiOptions options);
  // Stops the loop and joins its thread: no call into the controller after it returns.
  ~WebRuntime();

  uint16_t port() const { return port_; }

 private:
  WebRuntime(controller::Controller* controller, WebApiOptions options);

  WebApi api_;
  boost::asio::io_context io_;
  std::unique_ptr<MetricsHttpServer> server_;
  std::thread thread_;
  uint16_t port_ = 0;
};

}  // namespace pulse::northbound

#endif  // PULSE_DAEMON_WEB_RUNTIME_H_
