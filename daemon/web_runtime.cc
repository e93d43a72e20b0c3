#include "daemon/web_runtime.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "boost/asio/ssl/context.hpp"
#include "common/thread_name.h"
#include "daemon/config.h"

namespace pulse::northbound {

WebRuntime::WebRuntime(controller::Controller* controller, WebApiOptions options)
    : api_(controller, std::move(options)) {}

namespace {

// The server side of TLS from PEM files; errors name the file.
absl::StatusOr<std::shared_ptr<boost::asio::ssl::context>> TlsContext(const TlsFiles& tls) {
  namespace ssl = boost::asio::ssl;
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  boost::system::error_code ec;
  if (context->use_certificate_chain_file(tls.cert_file, ec); ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("web_listen: tls.cert ", tls.cert_file, ": ", ec.message()));
  }
  if (context->use_private_key_file(tls.key_file, ssl::context::pem, ec); ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("web_listen: tls.key ", tls.key_file, ": ", ec.message()));
  }
  if (!tls.client_ca_file.empty()) {
    if (context->load_verify_file(tls.client_ca_file, ec); ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("web_listen: tls.client_ca ", tls.client_ca_file, ": ", ec.message()));
    }
    context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  }
  return context;
}

}  // namespace

absl::StatusOr<std::unique_ptr<WebRuntime>> WebRuntime::Start(controller::Controller* controller,
                                                              const std::string& listen,
                                                              const TlsFiles& tls,
                                                              WebApiOptions options) {
  absl::StatusOr<std::pair<std::string, uint16_t>> address = SplitHostPort(listen);
  if (!address.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("web_listen: ", address.status().message()));
  }
  std::unique_ptr<WebRuntime> runtime(new WebRuntime(controller, std::move(options)));
  MetricsHttpOptions http_options;
  http_options.bind_address = address->first;
  http_options.port = address->second;
  if (!tls.cert_file.empty()) {
    absl::StatusOr<std::shared_ptr<boost::asio::ssl::context>> context = TlsContext(tls);
    if (!context.ok()) return context.status();
    http_options.tls_context = *std::move(context);
    runtime->tls_ = true;
  }
  const WebApi* api = &runtime->api_;
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> server = MetricsHttpServer::Start(
      runtime->io_, http_options, /*render_metrics=*/nullptr,
      [api](const HttpRequestInfo& request) {
        WebReply reply =
            api->Handle({request.method, request.target, request.authorization, request.cookie});
        return HttpReplyInfo{reply.status, std::move(reply.content_type), std::move(reply.body),
                             std::move(reply.headers)};
      });
  if (!server.ok()) {
    return absl::Status(server.status().code(),
                        absl::StrCat("web_listen: ", server.status().message()));
  }
  runtime->server_ = *std::move(server);
  runtime->port_ = runtime->server_->port();
  runtime->thread_ = std::thread([io = &runtime->io_] {
    pulse::NameThisThread("pulse-web");
    io->run();
  });
  return runtime;
}

WebRuntime::~WebRuntime() {
  io_.stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

}  // namespace pulse::northbound
