// HTTP endpoint for Prometheus scrapes and liveness probes, on Boost.Beast.
//
// GET /metrics returns the text exposition produced by a caller-supplied function (usually
// MetricsRegistry::RenderText); GET /healthz returns "ok" while the server runs and its health
// function (if any) says OK, else 503 with the reason (e.g. the state store's writes failing). Any
// other path is 404, other methods 405. Requests are bounded (header and body size, a read timeout)
// so a slow or hostile client cannot hold memory or a connection forever. Runs asynchronously on
// the caller's io_context; no threads of its own.
#ifndef PULSE_DAEMON_METRICS_HTTP_H_
#define PULSE_DAEMON_METRICS_HTTP_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "absl/status/statusor.h"

namespace pulse::northbound {

struct MetricsHttpOptions {
  std::string bind_address = "127.0.0.1";
  uint16_t port = 9464;  // 0: ephemeral (tests); read back with port()
  uint32_t max_header_bytes = 8192;
  uint32_t max_body_bytes = 4096;  // scrapes have no body
  int read_timeout_ms = 5000;
  // Asked on every GET /healthz (on the io thread); non-OK answers 503 with its message.
  std::function<absl::Status()> health;
};

class MetricsHttpServer {
 public:
  // Produces the /metrics body. Called on the io_context's thread for every scrape.
  using Renderer = std::function<std::string()>;

  // Binds, listens and starts accepting. InvalidArgument for a bad address, Unavailable when the
  // port cannot be bound (both name the address and port).
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(boost::asio::io_context& io,
                                                                  const MetricsHttpOptions& options,
                                                                  Renderer render_metrics);
  ~MetricsHttpServer();

  uint16_t port() const { return port_; }
  uint64_t requests_served() const { return requests_served_.load(); }
  // Stops accepting; open connections finish their current request. Call on the io thread.
  void Stop();

 private:
  class Session;
  MetricsHttpServer(boost::asio::io_context& io, const MetricsHttpOptions& options,
                    Renderer render_metrics);
  void Accept();

  boost::asio::io_context& io_;
  MetricsHttpOptions options_;
  Renderer render_metrics_;
  boost::asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<uint64_t> requests_served_{0};
  // Shared with sessions and pending accepts: they check it before touching the server.
  std::shared_ptr<std::atomic<bool>> alive_;
};

}  // namespace pulse::northbound

#endif  // PULSE_DAEMON_METRICS_HTTP_H_
