#include "daemon/health_monitor.h"

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace pulse::daemon {
namespace {

class Recorder {
 public:
  void Publish(const std::string& service, bool serving) {
    std::lock_guard<std::mutex> lock(mu_);
    status_[service] = serving;
    ++calls_;
  }
  std::map<std::string, bool> status() {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }
  int calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, bool> status_;
  int calls_ = 0;
};

TEST(HealthMonitorTest, OverallFollowsTheChecksThatCountAndPublishesOnlyChanges) {
  std::atomic<bool> store_ok{true};
  std::atomic<bool> leader{false};
  Recorder recorder;
  HealthMonitor monitor(
      {{"pulse.store",
        [&] { return store_ok.load() ? absl::OkStatus() : absl::UnavailableError("disk full"); },
        true},
       {"pulse.cluster.leader",
        [&] { return leader.load() ? absl::OkStatus() : absl::UnavailableError("follower"); },
        false}},
      [&](const std::string& service, bool serving) { recorder.Publish(service, serving); },
      absl::Hours(1));  // polled by hand below
  monitor.PollOnce();
  std::map<std::string, bool> expected{
      {"", true}, {"pulse.store", true}, {"pulse.cluster.leader", false}};
  EXPECT_EQ(recorder.status(), expected);
  EXPECT_TRUE(monitor.overall().ok());
  const int first_calls = recorder.calls();
  monitor.PollOnce();
  EXPECT_EQ(recorder.calls(), first_calls);  // nothing changed, nothing published

  store_ok.store(false);
  monitor.PollOnce();
  EXPECT_FALSE(recorder.status()[""]);
  EXPECT_FALSE(recorder.status()["pulse.store"]);
  EXPECT_EQ(monitor.overall().message(), "pulse.store: disk full");

  store_ok.store(true);
  leader.store(true);
  monitor.PollOnce();
  expected = {{"", true}, {"pulse.store", true}, {"pulse.cluster.leader", true}};
  EXPECT_EQ(recorder.status(), expected);
  EXPECT_TRUE(monitor.overall().ok());
}

TEST(HealthMonitorTest, ThreadPollsUntilStopped) {
  std::atomic<int> polls{0};
  HealthMonitor monitor(
      {{"x",
        [&] {
          ++polls;
          return absl::OkStatus();
        },
        true}},
      [](const std::string&, bool) {}, absl::Milliseconds(5));
  monitor.Start();
  while (polls.load() < 5) std::this_thread::yield();
  monitor.Stop();
  const int after_stop = polls.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(polls.load(), after_stop);
}

}  // namespace
}  // namespace pulse::daemon
