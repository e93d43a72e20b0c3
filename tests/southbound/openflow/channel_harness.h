#ifndef PULSE_TESTS_SOUTHBOUND_OPENFLOW_CHANNEL_HARNESS_H_
#define PULSE_TESTS_SOUTHBOUND_OPENFLOW_CHANNEL_HARNESS_H_

#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "southbound/openflow/channel.h"

namespace pulse::openflow::testing {

using std::chrono::milliseconds;

// A Channel on 127.0.0.1:0 with its io_context running on a background thread, and the events
// it reported.
class ChannelHarness {
 public:
  explicit ChannelHarness(ChannelOptions options = {}) {
    options.listen_address = "127.0.0.1";
    options.port = 0;
    ChannelHandlers handlers;
    handlers.on_ready = [this](const ConnectionPtr& c) {
      std::lock_guard<std::mutex> lock(mu_);
      ready_.push_back({c->dpid(), c->ports().size()});
    };
    handlers.on_lost = [this](uint64_t dpid, const std::string& reason) {
      std::lock_guard<std::mutex> lock(mu_);
      lost_.push_back({dpid, reason});
    };
    handlers.on_message = [this](const ConnectionPtr&, const Message& m) {
      std::lock_guard<std::mutex> lock(mu_);
      if (auto* e = std::get_if<Error>(&m.body)) errors_.push_back(*e);
    };
    channel_ = std::make_unique<Channel>(io_, options, handlers);
    absl::Status s = channel_->Start();
    EXPECT_TRUE(s.ok()) << s;
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ChannelHarness() {
    RunOnIo([this] { channel_->Stop(); });
    guard_.reset();
    io_.stop();
    thread_.join();
  }

  uint16_t port() const { return channel_->port(); }
  Channel& channel() { return *channel_; }

  // Runs fn on the io thread and waits for it.
  template <class Fn>
  auto RunOnIo(Fn fn) -> decltype(fn()) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto future = task.get_future();
    boost::asio::post(io_, [&task] { task(); });
    return future.get();
  }

  // Polls `predicate` (which may call the accessors below) until true or timeout.
  bool WaitFor(std::function<bool()> predicate, milliseconds timeout = milliseconds(5000)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!predicate()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(milliseconds(5));
    }
    return true;
  }
  size_t ready_count() {
    std::lock_guard<std::mutex> lock(mu_);
    return ready_.size();
  }
  std::vector<std::pair<uint64_t, size_t>> ready() {
    std::lock_guard<std::mutex> lock(mu_);
    return ready_;
  }
  // ERROR messages the switches sent without a pending request.
  std::vector<Error> errors() {
    std::lock_guard<std::mutex> lock(mu_);
    return errors_;
  }
  // Refusals counted by the channel, by kind.
  std::map<std::string, uint64_t> refusals() {
    return RunOnIo([this] { return channel_->refusals(); });
  }
  uint64_t refused(const std::string& kind) {
    auto all = refusals();
    auto it = all.find(kind);
    return it == all.end() ? 0 : it->second;
  }
  std::vector<std::pair<uint64_t, std::string>> lost() {
    std::lock_guard<std::mutex> lock(mu_);
    return lost_;
  }

  // Sends a request to dpid and waits for its reply.
  absl::StatusOr<Message> RequestTo(uint64_t dpid, Message m) {
    std::promise<absl::StatusOr<Message>> done;
    auto future = done.get_future();
    RunOnIo([&] {
      ConnectionPtr c = channel_->Find(dpid);
      if (!c) return done.set_value(absl::NotFoundError("no session"));
      c->Request(std::move(m),
                 [&done](absl::StatusOr<Message> r) { done.set_value(std::move(r)); });
    });
    return future.get();
  }
  // Sends a message expecting no reply.
  absl::Status SendTo(uint64_t dpid, Message m) {
    return RunOnIo([&]() -> absl::Status {
      ConnectionPtr c = channel_->Find(dpid);
      if (!c) return absl::NotFoundError("no session");
      return c->Send(std::move(m));
    });
  }

  // Sends a barrier to dpid and waits for its outcome.
  absl::Status BarrierTo(uint64_t dpid, milliseconds timeout = milliseconds(0)) {
    std::promise<absl::Status> done;
    auto future = done.get_future();
    RunOnIo([&] {
      ConnectionPtr c = channel_->Find(dpid);
      if (!c) return done.set_value(absl::NotFoundError("no session"));
      c->Barrier([&done](absl::Status s) { done.set_value(s); }, timeout);
    });
    return future.get();
  }

 private:
  std::mutex mu_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_ =
      boost::asio::make_work_guard(io_);
  std::unique_ptr<Channel> channel_;
  std::thread thread_;
  std::vector<std::pair<uint64_t, size_t>> ready_;
  std::vector<std::pair<uint64_t, std::string>> lost_;
  std::vector<Error> errors_;
};

}  // namespace pulse::openflow::testing

#endif  // PULSE_TESTS_SOUTHBOUND_OPENFLOW_CHANNEL_HARNESS_H_
