// HTTP endpoint for Prometheus scrapes and liveness probes, on Boost.Beast.
//
// GET /metrics returns the text exposition produced by a caller-supplied function (usually
// MetricsRegistry::RenderText); GET /healthz returns "ok" while the server runs and its health
// function (if any) says OK, else 503 with the reason (e.g. the state store's writes failing). Any
// other path goes to an optional handler (the web view, northbound/web_api.h), else is 404; other
// methods 405. Requests are bounded (header and body size, a read timeout) so a slow or hostile
// client cannot hold memory or a connection forever. Runs asynchronously on the caller's
// io_context; no threads of its own.
#ifndef PULSE_DAEMON_METRICS_HTTP_H_
#define PULSE_DAEMON_METRICS_HTTP_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "absl/status/statusor.h"

namespace boost::asio::ssl {
class context;
}

namespace pulse::northbound {

template <class Stream>
class HttpSession;

struct MetricsHttpOptions {
  std::string bind_address = "127.0.0.1";
  uint16_t port = 9464;  // 0: ephemeral (tests); read back with port()
  uint32_t max_header_bytes = 8192;
  uint32_t max_body_bytes = 4096;  // scrapes have no body
  int read_timeout_ms = 5000;
  // Asked on every GET /healthz (on the io thread); non-OK answers 503 with its message.
  std::function<absl::Status()> health;
  // Serve HTTPS with this context (certificate and key loaded, client verification set);
  // null: plaintext.
  std::shared_ptr<boost::asio::ssl::context> tls_context;
};

// A request for a path other than /metrics and /healthz, and the handler's answer.
struct HttpRequestInfo {
  std::string method;  // "GET", "HEAD", ...
  std::string target;  // path and query as sent
  std::string authorization;
  std::string cookie;
};
struct HttpReplyInfo {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

class MetricsHttpServer {
 public:
  // Produces the /metrics body. Called on the io_context's thread for every scrape. Null: no
  // /metrics on this server (the path goes to the handler).
  using Renderer = std::function<std::string()>;
  // Answers every other path; called on the io_context's thread.
  using Handler = std::function<HttpReplyInfo(const HttpRequestInfo&)>;

  // Binds, listens and starts accepting. InvalidArgument for a bad address, Unavailable when the
  // port cannot be bound (both name the address and port).
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(boost::asio::io_context& io,
                                                                  const MetricsHttpOptions& options,
                                                                  Renderer render_metrics,
                                                                  Handler other_paths = nullptr);
  ~MetricsHttpServer();

  uint16_t port() const { return port_; }
  uint64_t requests_served() const { return requests_served_.load(); }
  // Stops accepting; open connections finish their current request. Call on the io thread.
  void Stop();

 private:
  template <class Stream>
  friend class HttpSession;
  MetricsHttpServer(boost::asio::io_context& io, const MetricsHttpOptions& options,
                    Renderer render_metrics, Handler other_paths);
  void Accept();

  boost::asio::io_context& io_;
  MetricsHttpOptions options_;
  Renderer render_metrics_;
  Handler other_paths_;
  boost::asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<uint64_t> requests_served_{0};
  // Shared with sessions and pending accepts: they check it before touching the server.
  std::shared_ptr<std::atomic<bool>> alive_;
};

}  // namespace pulse::northbound

#endif  // PULSE_DAEMON_METRICS_HTTP_H_
