// OvsdbClient against a scripted fake ovsdb-server on a unix socket (no OVS needed).
#include "southbound/ovsdb/ovsdb_client.h"

#include <unistd.h>

#include <functional>
#include <future>
#include <string>
#include <thread>

#include "boost/asio.hpp"
#include "gtest/gtest.h"
#include "southbound/ovsdb/json_stream.h"

namespace pulse::southbound::ovsdb {
namespace {

namespace asio = boost::asio;
using nlohmann::json;

// Accepts one connection and, for each request read, calls `respond(request)` and writes the
// raw text it returns (which may hold several messages, garbage, or nothing).
class FakeServer {
 public:
  using Respond = std::function<std::string(const json& request)>;
  explicit FakeServer(Respond respond)
      : path_("/tmp/pulse-ovsdb-test-" + std::to_string(getpid()) + "-" +
              std::to_string(counter_++) + ".sock"),
        acceptor_(io_) {
    ::unlink(path_.c_str());
    asio::local::stream_protocol::endpoint ep(path_);
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    acceptor_.listen();
    thread_ = std::thread([this, respond = std::move(respond)] {
      boost::system::error_code ec;
      asio::local::stream_protocol::socket sock(io_);
      acceptor_.accept(sock, ec);
      if (ec) return;
      JsonStreamSplitter splitter;
      char buf[4096];
      while (true) {
        size_t n = sock.read_some(asio::buffer(buf), ec);
        if (ec) return;
        splitter.Append(absl::string_view(buf, n));
        while (true) {
          absl::StatusOr<std::optional<json>> msg = splitter.Next();
          if (!msg.ok() || !msg->has_value()) break;
          received_.push_back(**msg);
          std::string out = respond(**msg);
          if (!out.empty()) asio::write(sock, asio::buffer(out), ec);
        }
      }
    });
  }
  ~FakeServer() {
    boost::system::error_code ec;
    acceptor_.close(ec);
    if (thread_.joinable()) thread_.join();
    ::unlink(path_.c_str());
  }
  std::string endpoint() const { return "unix:" + path_; }
  // Messages the server received (read after the client is closed).
  const std::vector<json>& received() const { return received_; }

 private:
  static inline int counter_ = 0;
  std::string path_;
  asio::io_context io_;
  asio::local::stream_protocol::acceptor acceptor_;
  std::thread thread_;
  std::vector<json> received_;
};

std::string Reply(const json& req, const json& result) {
  return json({{"id", req["id"]}, {"result", result}, {"error", nullptr}}).dump();
}

TEST(OvsdbClientTest, EchoAndAnswersServerEchoInTheSameRead) {
  FakeServer server([](const json& req) -> std::string {
    if (req.contains("method") && req["method"] == "echo") {
      // The server's own inactivity probe, then the reply, in one write.
      return json({{"method", "echo"}, {"params", json::array()}, {"id", "probe"}}).dump() +
             Reply(req, req["params"]);
    }
    return "";
  });
  {
    OvsdbClient client;
    ASSERT_TRUE(client.Connect(server.endpoint()).ok());
    absl::StatusOr<json> r = client.Echo();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r, json::array({"pulse"}));
    // A second call makes sure the probe reply was written before we close.
    ASSERT_TRUE(client.Echo().ok());
  }
  bool probe_answered = false;
  for (const json& m : server.received()) {
    probe_answered |= m.contains("id") && m["id"] == "probe" && m.contains("result");
  }
  EXPECT_TRUE(probe_answered);
}

TEST(OvsdbClientTest, MalformedReplyIsAnErrorNotACrash) {
  FakeServer server([](const json&) -> std::string { return "{\"id\":1,,,}"; });
  OvsdbClient client;
  ASSERT_TRUE(client.Connect(server.endpoint()).ok());
  absl::StatusOr<json> r = client.Echo();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("malformed"), absl::string_view::npos) << r.status();
  EXPECT_FALSE(client.connected());
  EXPECT_FALSE(client.Echo().ok());
}

TEST(OvsdbClientTest, NonObjectAndIdlessRepliesAreErrors) {
  FakeServer server([](const json&) -> std::string { return "[1,2,3]"; });
  OvsdbClient client;
  ASSERT_TRUE(client.Connect(server.endpoint()).ok());
  absl::StatusOr<json> r = client.Echo();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not a JSON object"), absl::string_view::npos);
}

TEST(OvsdbClientTest, ServerErrorAndTransactOperationError) {
  FakeServer server([](const json& req) -> std::string {
    if (req["method"] == "list_dbs") {
      return json({{"id", req["id"]}, {"result", nullptr}, {"error", "unknown method"}}).dump();
    }
    // transact: first op ok, second fails (the server rolls back).
    return Reply(req, json::array({{{"count", 1}},
                                   {{"error", "constraint violation"}, {"details", "no port"}}}));
  });
  OvsdbClient client;
  ASSERT_TRUE(client.Connect(server.endpoint()).ok());
  absl::StatusOr<json> r = client.Call("list_dbs", json::array());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown method"), absl::string_view::npos);
  absl::StatusOr<json> t =
      client.Transact("Open_vSwitch", json::array({{{"op", "update"}}, {{"op", "insert"}}}));
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kAborted);
  EXPECT_NE(t.status().message().find("operation 1 (\"insert\") failed: \"constraint violation\""),
            absl::string_view::npos)
      << t.status();
}

TEST(OvsdbClientTest, MonitorDeliversUpdates) {
  FakeServer server([](const json& req) -> std::string {
    if (req["method"] == "monitor") {
      json update = {{"method", "update"},
                     {"params", json::array({req["params"][1], {{"QoS", {{"u1", {}}}}}})},
                     {"id", nullptr}};
      return Reply(req, json::object()) + update.dump();
    }
    return "";
  });
  OvsdbClient client;
  ASSERT_TRUE(client.Connect(server.endpoint()).ok());
  std::promise<json> got;
  absl::StatusOr<json> initial = client.Monitor("Open_vSwitch", "m1", {{"QoS", json::object()}},
                                                [&](const json& id, const json& updates) {
                                                  EXPECT_EQ(id, "m1");
                                                  got.set_value(updates);
                                                });
  ASSERT_TRUE(initial.ok()) << initial.status();
  std::future<json> f = got.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_TRUE(f.get().contains("QoS"));
}

TEST(OvsdbClientTest, ConnectErrors) {
  OvsdbClient client;
  EXPECT_EQ(client.Connect("http://x").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client.Connect("tcp:localhost").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client.Connect("tcp:127.0.0.1:99999").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client.Connect("unix:/nonexistent/db.sock").code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(client.Echo().ok());
}

}  // namespace
}  // namespace pulse::southbound::ovsdb
