// The web view in the daemon: the page and its JSON API (northbound/web_api.h) served on
// `web_listen`, on its own small event loop and thread. HTTPS with the API's certificate and key
// when the API uses TLS (and, with a client CA, only to clients holding a certificate it signed);
// plaintext HTTP when the API is insecure. The viewer token is required whenever tokens are
// configured.
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
#include "northbound/server.h"
#include "northbound/web_api.h"

namespace pulse::northbound {

class WebRuntime {
 public:
  // Binds `listen` ("host:port"; port 0 picks one) and starts serving, over TLS when
  // `tls.cert_file` is set. Errors name web_listen (or the TLS file that cannot be loaded).
  // `controller` must outlive the runtime.
  static absl::StatusOr<std::unique_ptr<WebRuntime>> Start(controller::Controller* controller,
                                                           const std::string& listen,
                                                           const TlsFiles& tls,
                                                           WebApiOptions options);
  bool tls() const { return tls_; }
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
  bool tls_ = false;
};

}  // namespace pulse::northbound

#endif  // PULSE_DAEMON_WEB_RUNTIME_H_
