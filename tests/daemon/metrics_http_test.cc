#include "daemon/metrics_http.h"

#include <atomic>
#include <string>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "controller/telemetry/metrics.h"
#include "gtest/gtest.h"

namespace pulse::northbound {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// Server on its own io thread; the test talks to it over loopback with raw sockets, so the HTTP
// on the wire is exactly what a scraper would see.
class MetricsHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(controller::RegisterPulseMetrics(registry_).ok());
    MetricsHttpOptions options;
    options.port = 0;
    options.max_header_bytes = 1024;
    options.health = [this] {
      return healthy_.load() ? absl::OkStatus() : absl::UnavailableError("pulse.store: disk full");
    };
    absl::StatusOr<std::unique_ptr<MetricsHttpServer>> server =
        MetricsHttpServer::Start(io_, options, [this] {
          ++scrapes_;
          return registry_.RenderText();
        });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    asio::post(io_, [this] { server_.reset(); });
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
    server_.reset();
  }

  // Sends `request` on a fresh connection and reads until the server closes it.
  std::string Exchange(const std::string& request) {
    asio::io_context client;
    tcp::socket socket(client);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    asio::write(socket, asio::buffer(request));
    std::string response;
    boost::system::error_code ec;
    asio::read(socket, asio::dynamic_buffer(response), ec);  // until EOF
    return response;
  }

  controller::MetricsRegistry registry_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::unique_ptr<MetricsHttpServer> server_;
  std::thread thread_;
  std::atomic<int> scrapes_{0};
  std::atomic<bool> healthy_{true};
};

TEST_F(MetricsHttpTest, ServesMetricsInTheExpositionFormat) {
  controller::PulseMetrics metrics(&registry_);
  ASSERT_TRUE(metrics.SetLinkUtilisation("leaf-0:5 -> spine-0:1", 0.5).ok());
  ASSERT_TRUE(metrics.SetConnectedSwitches(3).ok());
  const std::string response =
      Exchange("GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << response;
  EXPECT_NE(response.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
  const std::string body = response.substr(response.find("\r\n\r\n") + 4);
  EXPECT_EQ(body, registry_.RenderText());
  EXPECT_NE(body.find("pulse_link_utilisation{link=\"leaf-0:5 -> spine-0:1\"} 0.5\n"),
            std::string::npos);
  EXPECT_NE(body.find("pulse_connected_switches 3\n"), std::string::npos);
  EXPECT_EQ(scrapes_.load(), 1);
}

TEST_F(MetricsHttpTest, HealthzOtherPathsAndMethods) {
  std::string r = Exchange("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
  EXPECT_EQ(r.substr(r.find("\r\n\r\n") + 4), "ok\n");
  r = Exchange("GET /metricsx HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u) << r;
  r = Exchange("GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.0 404 Not Found\r\n", 0), 0u) << r;
  r = Exchange(
      "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi");
  EXPECT_EQ(r.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0), 0u) << r;
  EXPECT_EQ(scrapes_.load(), 0);
}

TEST_F(MetricsHttpTest, HealthzIs503WithTheReasonWhileUnhealthy) {
  healthy_.store(false);
  std::string r = Exchange("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u) << r;
  EXPECT_EQ(r.substr(r.find("\r\n\r\n") + 4), "not serving: pulse.store: disk full\n");
  healthy_.store(true);
  r = Exchange("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
}

TEST_F(MetricsHttpTest, OversizedAndMalformedRequestsAreRefused) {
  const std::string big_header(4096, 'a');
  std::string r = Exchange("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + big_header +
                           "\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 413 Payload Too Large\r\n", 0), 0u) << r.substr(0, 80);
  r = Exchange("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 413 Payload Too Large\r\n", 0), 0u) << r.substr(0, 80);
  r = Exchange("NOT HTTP AT ALL\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << r.substr(0, 80);
  EXPECT_EQ(scrapes_.load(), 0);
  // The server still serves after refusing bad clients.
  r = Exchange("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
}

TEST_F(MetricsHttpTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  const std::string r = Exchange(
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const size_t first = r.find("HTTP/1.1 200 OK\r\n");
  ASSERT_EQ(first, 0u) << r;
  EXPECT_NE(r.find("HTTP/1.1 200 OK\r\n", first + 1), std::string::npos) << r;
  EXPECT_EQ(scrapes_.load(), 1);
  EXPECT_EQ(server_->requests_served(), 2u);
}

TEST(MetricsHttpStartTest, BindErrorsAreStatuses) {
  asio::io_context io;
  MetricsHttpOptions bad;
  bad.bind_address = "nonsense";
  EXPECT_EQ(MetricsHttpServer::Start(io, bad, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  MetricsHttpOptions first;
  first.port = 0;
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> a =
      MetricsHttpServer::Start(io, first, nullptr);
  ASSERT_TRUE(a.ok());
  MetricsHttpOptions same;
  same.port = (*a)->port();
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> b =
      MetricsHttpServer::Start(io, same, nullptr);
  EXPECT_EQ(b.status().code(), absl::StatusCode::kUnavailable);
}

// Other paths go to the handler with the request's method, target and auth headers; without a
// renderer /metrics is the handler's too.
TEST(MetricsHttpHandlerTest, OtherPathsGoToTheHandler) {
  asio::io_context io;
  MetricsHttpOptions options;
  options.port = 0;
  HttpRequestInfo seen;
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> server =
      MetricsHttpServer::Start(io, options, nullptr, [&seen](const HttpRequestInfo& request) {
        seen = request;
        return HttpReplyInfo{401, "application/json", "{}", {{"WWW-Authenticate", "Bearer"}}};
      });
  ASSERT_TRUE(server.ok()) << server.status();
  std::thread thread([&io] { io.run(); });
  asio::io_context client;
  tcp::socket socket(client);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), (*server)->port()));
  asio::write(socket, asio::buffer(std::string(
                          "GET /metrics?x=1 HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer t\r\n"
                          "Cookie: a=b\r\nConnection: close\r\n\r\n")));
  std::string response;
  boost::system::error_code ec;
  asio::read(socket, asio::dynamic_buffer(response), ec);
  asio::post(io, [&server] { server->reset(); });
  io.stop();
  thread.join();
  EXPECT_EQ(response.rfind("HTTP/1.1 401 Unauthorized\r\n", 0), 0u) << response;
  EXPECT_NE(response.find("WWW-Authenticate: Bearer\r\n"), std::string::npos);
  EXPECT_EQ(response.substr(response.find("\r\n\r\n") + 4), "{}");
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.target, "/metrics?x=1");
  EXPECT_EQ(seen.authorization, "Bearer t");
  EXPECT_EQ(seen.cookie, "a=b");
}

}  // namespace
}  // namespace pulse::northbound
