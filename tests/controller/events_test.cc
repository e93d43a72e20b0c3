#include "controller/events.h"

#include <atomic>
#include <thread>

#include "gtest/gtest.h"

namespace pulse::controller {
namespace {

TEST(EventLogTest, NumbersEventsAndReadsFromASequence) {
  EventLog log(10);
  EXPECT_EQ(log.last_sequence(), 0u);
  EXPECT_EQ(log.oldest_sequence(), 1u);
  EXPECT_EQ(log.Append(EventType::kJobPlaced, "a", ""), 1u);
  EXPECT_EQ(log.Append(EventType::kJobDeleted, "a", ""), 2u);
  EXPECT_EQ(log.Append(EventType::kLinkDown, "l", "3 flows moved", 3), 3u);
  auto events = log.ReadFrom(2, 10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].sequence, 2u);
  EXPECT_EQ((*events)[0].type, EventType::kJobDeleted);
  EXPECT_EQ((*events)[1].flows_moved, 3);
  EXPECT_EQ(log.ReadFrom(1, 2)->size(), 2u);  // max_events respected
  EXPECT_TRUE(log.ReadFrom(4, 10)->empty());  // nothing yet
  EXPECT_TRUE(log.ReadFrom(100, 10)->empty());
}

TEST(EventLogTest, ForgetsOldestBeyondCapacity) {
  EventLog log(3);
  for (int i = 0; i < 5; ++i) log.Append(EventType::kJobPlaced, std::to_string(i), "");
  EXPECT_EQ(log.oldest_sequence(), 3u);
  EXPECT_EQ(log.last_sequence(), 5u);
  auto old = log.ReadFrom(2, 10);
  EXPECT_EQ(old.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_NE(old.status().message().find("(3)"), std::string::npos);
  auto held = log.ReadFrom(3, 10);
  ASSERT_TRUE(held.ok());
  ASSERT_EQ(held->size(), 3u);
  EXPECT_EQ(held->front().subject, "2");
}

TEST(EventLogTest, ListenersHearAppendsUntilUnsubscribed) {
  EventLog log(100);
  std::atomic<int> heard{0};
  int id = log.Subscribe([&] { ++heard; });
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&] {
      for (int i = 0; i < 50; ++i) log.Append(EventType::kJobPlaced, "x", "");
    });
  }
  for (auto& w : writers) w.join();
  EXPECT_EQ(heard.load(), 200);
  EXPECT_EQ(log.last_sequence(), 200u);
  log.Unsubscribe(id);
  log.Append(EventType::kJobPlaced, "y", "");
  EXPECT_EQ(heard.load(), 200);
}

}  // namespace
}  // namespace pulse::controller
