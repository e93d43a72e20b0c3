#include "daemon/web_runtime.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "daemon/config.h"

namespace pulse::northbound {

WebRuntime::WebRuntime(controller::Controller* controller, WebApiOptions options)
    : api_(controller, std::move(options)) {}

absl::StatusOr<std::unique_ptr<WebRuntime>> WebRuntime::Start(controller::Controller* controller,
                                                              const std::string& listen,
                                                              WebApiOptions options) {
  absl::StatusOr<std::pair<std::string, uint16_t>> address = SplitHostPort(listen);
  if (!address.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("web_listen: ", address.status().message()));
  }
  std::unique_ptr<WebRuntime> runtime(new WebRuntime(controller, std::move(options)));
  MetricsHttpOptions http_options;
  http_options.bind_address = address->first;
  http_options.port = address->second;
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
  runtime->thread_ = std::thread([io = &runtime->io_] { io->run(); });
  return runtime;
}

WebRuntime::~WebRuntime() {
  io_.stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

}  // namespace pulse::northbound
