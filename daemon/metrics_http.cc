#include "daemon/metrics_http.h"

#include <chrono>
#include <optional>
#include <type_traits>

#include <boost/asio/strand.hpp>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace pulse::northbound {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One connection: read a request, answer it, repeat while keep-alive. Owns itself through
// shared_from_this; the server pointer is used only while the server is alive. `Stream` is
// beast::tcp_stream (plaintext) or TlsStream (after a server handshake).
template <class Stream>
class HttpSession : public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  template <class... StreamArgs>
  HttpSession(MetricsHttpServer* server, std::shared_ptr<std::atomic<bool>> alive,
              StreamArgs&&... stream_args)
      : stream_(std::forward<StreamArgs>(stream_args)...),
        server_(server),
        alive_(std::move(alive)) {}

  void Start() {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      beast::get_lowest_layer(stream_).expires_after(
          std::chrono::milliseconds(server_->options_.read_timeout_ms));
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec || !self->alive_->load()) {
                                  self->Close();
                                  return;
                                }
                                self->Read();
                              });
    } else {
      Read();
    }
  }

  void Read() {
    parser_.emplace();
    parser_->header_limit(server_->options_.max_header_bytes);
    parser_->body_limit(server_->options_.max_body_bytes);
    beast::get_lowest_layer(stream_).expires_after(
        std::chrono::milliseconds(server_->options_.read_timeout_ms));
    http::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || !alive_->load()) {
      Close();
      return;
    }
    if (ec == http::error::header_limit || ec == http::error::body_limit ||
        ec == http::error::buffer_overflow) {
      Respond(http::status::payload_too_large, "request too large\n", /*keep_alive=*/false, 11);
      return;
    }
    if (ec) {
      Respond(http::status::bad_request, "bad request\n", /*keep_alive=*/false, 11);
      return;
    }
    const http::request<http::string_body>& req = parser_->get();
    const bool keep_alive = req.keep_alive();
    const unsigned version = req.version();
    std::string target(req.target());
    const size_t query = target.find('?');
    if (query != std::string::npos) target.resize(query);
    const bool own_path =
        target == "/healthz" || (target == "/metrics" && server_->render_metrics_);
    if (!own_path && server_->other_paths_) {
      HttpRequestInfo info{std::string(req.method_string()), std::string(req.target()),
                           std::string(req[http::field::authorization]),
                           std::string(req[http::field::cookie])};
      HttpReplyInfo reply = server_->other_paths_(info);
      auto res = std::make_shared<http::response<http::string_body>>(
          static_cast<http::status>(reply.status), version);
      res->set(http::field::server, "pulse");
      res->set(http::field::content_type, reply.content_type);
      for (const auto& [name, value] : reply.headers) res->set(name, value);
      res->body() = std::move(reply.body);
      Send(std::move(res), keep_alive, req.method() == http::verb::head);
      return;
    }
    if (!own_path) {
      Respond(http::status::not_found, "not found\n", keep_alive, version);
      return;
    }
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      Respond(http::status::method_not_allowed, "method not allowed\n", keep_alive, version);
      return;
    }
    if (target == "/healthz") {
      absl::Status health =
          server_->options_.health ? server_->options_.health() : absl::OkStatus();
      if (health.ok()) {
        Respond(http::status::ok, "ok\n", keep_alive, version);
      } else {
        Respond(http::status::service_unavailable,
                absl::StrCat("not serving: ", health.message(), "\n"), keep_alive, version);
      }
    } else {
      Respond(http::status::ok, server_->render_metrics_ ? server_->render_metrics_() : "",
              keep_alive, version, "text/plain; version=0.0.4; charset=utf-8",
              req.method() == http::verb::head);
    }
  }

  void Respond(http::status status, std::string body, bool keep_alive, unsigned version,
               const char* content_type = "text/plain; charset=utf-8", bool head = false) {
    auto res = std::make_shared<http::response<http::string_body>>(status, version);
    res->set(http::field::server, "pulse");
    res->set(http::field::content_type, content_type);
    res->keep_alive(keep_alive);
    if (status == http::status::method_not_allowed) res->set(http::field::allow, "GET, HEAD");
    res->body() = std::move(body);
    Send(std::move(res), keep_alive, head);
  }

  void Send(std::shared_ptr<http::response<http::string_body>> res, bool keep_alive, bool head) {
    res->keep_alive(keep_alive);
    res->prepare_payload();
    if (head) res->body().clear();
    server_->requests_served_.fetch_add(1);
    beast::get_lowest_layer(stream_).expires_after(
        std::chrono::milliseconds(server_->options_.read_timeout_ms));
    http::async_write(
        stream_, *res,
        [self = this->shared_from_this(), res, keep_alive](beast::error_code ec, size_t) {
          if (ec || !keep_alive || !self->alive_->load()) {
            self->Close();
            return;
          }
          self->Read();
        });
  }

  void Close() {
    // TLS: no close_notify exchange (a client may be gone); closing the socket ends it.
    beast::error_code ignored;
    tcp::socket& socket = beast::get_lowest_layer(stream_).socket();
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    socket.close(ignored);
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  MetricsHttpServer* server_;
  std::shared_ptr<std::atomic<bool>> alive_;
};

MetricsHttpServer::MetricsHttpServer(asio::io_context& io, const MetricsHttpOptions& options,
                                     Renderer render_metrics, Handler other_paths)
    : io_(io),
      options_(options),
      render_metrics_(std::move(render_metrics)),
      other_paths_(std::move(other_paths)),
      acceptor_(io),
      alive_(std::make_shared<std::atomic<bool>>(true)) {}

MetricsHttpServer::~MetricsHttpServer() {
  alive_->store(false);
  beast::error_code ignored;
  acceptor_.close(ignored);
}

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    asio::io_context& io, const MetricsHttpOptions& options, Renderer render_metrics,
    Handler other_paths) {
  beast::error_code ec;
  const asio::ip::address address = asio::ip::make_address(options.bind_address, ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat("metrics http: bad bind address '",
                                                   options.bind_address, "': ", ec.message()));
  }
  std::unique_ptr<MetricsHttpServer> server(
      new MetricsHttpServer(io, options, std::move(render_metrics), std::move(other_paths)));
  const tcp::endpoint endpoint(address, options.port);
  server->acceptor_.open(endpoint.protocol(), ec);
  if (!ec) server->acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) server->acceptor_.bind(endpoint, ec);
  if (!ec) server->acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("metrics http: cannot listen on ",
                                               options.bind_address, ":", options.port, ": ",
                                               ec.message()));
  }
  server->port_ = server->acceptor_.local_endpoint(ec).port();
  server->Accept();
  return server;
}

void MetricsHttpServer::Accept() {
  acceptor_.async_accept(
      asio::make_strand(io_), [this, alive = alive_](beast::error_code ec, tcp::socket socket) {
        if (!alive->load()) return;
        if (!ec && options_.tls_context) {
          std::make_shared<HttpSession<TlsStream>>(this, alive, std::move(socket),
                                                   *options_.tls_context)
              ->Start();
        } else if (!ec) {
          std::make_shared<HttpSession<beast::tcp_stream>>(this, alive, std::move(socket))->Start();
        }
        if (acceptor_.is_open()) Accept();
      });
}

void MetricsHttpServer::Stop() {
  beast::error_code ignored;
  acceptor_.close(ignored);
}

}  // namespace pulse::northbound
