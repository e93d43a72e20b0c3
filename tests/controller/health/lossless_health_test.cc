#include "controller/health/lossless_health.h"

#include "gtest/gtest.h"
#include "topology/builders.h"

namespace pulse::controller {
namespace {

constexpr int64_t kG = 1000000000LL;

// leaf-0 with nic ports 1..3; the supervisor is pure, so deltas are written by hand.
std::shared_ptr<const topology::Fabric> Leaf() {
  topology::FabricBuilder b;
  auto leaf = b.AddSwitch("leaf-0", topology::SwitchRole::kLeaf);
  for (int n = 0; n < 3; ++n) {
    auto server = b.AddServer("server-" + std::to_string(n));
    b.AddLink(b.AddNic(server, 0), leaf, 100 * kG);
  }
  return std::make_shared<const topology::Fabric>(*std::move(b).Build());
}

LosslessPortDelta Stalled(const topology::Fabric& f, int32_t port, int64_t now) {
  LosslessPortDelta d;
  d.key = {*f.FindNode("leaf-0"), static_cast<uint32_t>(port)};
  d.time_ms = now;
  d.interval_ms = 1000;
  d.pfc_rx_frames[3] = 50000;
  return d;
}

TEST(LosslessHealthTest, DryRunCapAndReturnToService) {
  auto f = Leaf();
  HealthOptions options;
  options.max_isolated_links = 1;
  options.clean_window_ms = 5000;
  LosslessHealth health(f, options);
  std::vector<HealthEvent> all;
  for (int64_t t = 1000; t <= 4000; t += 1000) {
    auto e = health.Step({Stalled(*f, 1, t), Stalled(*f, 2, t)}, t);
    all.insert(all.end(), e.begin(), e.end());
  }
  ASSERT_EQ(health.incidents().size(), 2u);  // two stuck NICs, two incidents
  const Incident& a = health.incidents()[0];
  const Incident& b = health.incidents()[1];
  EXPECT_EQ(a.action, HealthAction::kIsolateLink);
  EXPECT_FALSE(a.applied);  // dry-run by default
  EXPECT_EQ(a.polls_to_open, 2);
  EXPECT_EQ(a.origin, "server-0/nic-0");
  EXPECT_EQ(b.action, HealthAction::kNone);  // the cap of one isolated link
  EXPECT_TRUE(b.cap_reached);
  EXPECT_EQ(health.isolated_links(), 1);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_NE(all[0].Describe(*f).find("isolate_link (dry-run)"), std::string::npos)
      << all[0].Describe(*f);
  EXPECT_NE(all[1].Describe(*f).find("cap reached"), std::string::npos);
  // Clean: both close after the window.
  std::vector<HealthEvent> closed;
  for (int64_t t = 5000; t <= 10000; t += 1000) {
    auto e = health.Step({}, t);
    closed.insert(closed.end(), e.begin(), e.end());
  }
  ASSERT_EQ(closed.size(), 2u);
  EXPECT_EQ(closed[0].type, HealthEvent::Type::kClosed);
  EXPECT_EQ(health.isolated_links(), 0);

  MetricsRegistry registry;
  ASSERT_TRUE(RegisterHealthMetrics(registry).ok());
  RecordHealthMetrics(registry, health, all);
  double v = 0;
  ASSERT_TRUE(registry.GetValue(kHealthIncidentsTotal, {"pfc_storm", "cap_reached"}, &v).ok());
  EXPECT_EQ(v, 1);
}

TEST(LosslessHealthTest, ADrainingQueueIsCongestionNotAStorm) {
  auto f = Leaf();
  LosslessHealth health(f);
  for (int64_t t = 1000; t <= 10000; t += 1000) {
    LosslessPortDelta d = Stalled(*f, 1, t);
    d.queue_tx_packets[3] = 5000000;  // still sending at line rate between pauses
    health.Step({d}, t);
  }
  EXPECT_TRUE(health.incidents().empty());
}

TEST(LosslessHealthTest, NotDryRunMarksTheActionApplied) {
  auto f = Leaf();
  HealthOptions options;
  options.dry_run = false;
  LosslessHealth health(f, options);
  for (int64_t t = 1000; t <= 3000; t += 1000) health.Step({Stalled(*f, 3, t)}, t);
  ASSERT_EQ(health.incidents().size(), 1u);
  EXPECT_TRUE(health.incidents()[0].applied);
  EXPECT_EQ(health.incidents()[0].actions, 1);
  EXPECT_EQ(health.incidents()[0].outcome, "pending");
}

// The controller's answer is recorded: a refused action frees its place under the cap, so the
// next storm may act; an applied isolation undone after the window reads "returned".
TEST(LosslessHealthTest, OutcomesAndTheCap) {
  auto f = Leaf();
  HealthOptions options;
  options.dry_run = false;
  options.max_isolated_links = 1;
  options.clean_window_ms = 3000;
  LosslessHealth health(f, options);
  for (int64_t t = 1000; t <= 3000; t += 1000) health.Step({Stalled(*f, 1, t)}, t);
  ASSERT_EQ(health.incidents().size(), 1u);
  EXPECT_EQ(health.isolated_links(), 1);
  health.RecordOutcome(health.incidents()[0].id, false, "refused: follower");
  EXPECT_EQ(health.incidents()[0].outcome, "refused");
  EXPECT_FALSE(health.incidents()[0].applied);
  EXPECT_EQ(health.isolated_links(), 0);
  for (int64_t t = 4000; t <= 6000; t += 1000) {
    health.Step({Stalled(*f, 1, t), Stalled(*f, 2, t)}, t);
  }
  ASSERT_EQ(health.incidents().size(), 2u);
  const Incident& second = health.incidents()[1];
  EXPECT_EQ(second.action, HealthAction::kIsolateLink);  // the refused one holds no place
  EXPECT_FALSE(second.cap_reached);
  const uint64_t second_id = second.id;
  health.RecordOutcome(second_id, true, "isolated");
  EXPECT_EQ(health.incidents()[1].outcome, "applied");
  std::vector<HealthEvent> closed;
  for (int64_t t = 7000; t <= 12000; t += 1000) {
    auto e = health.Step({}, t);
    closed.insert(closed.end(), e.begin(), e.end());
  }
  ASSERT_EQ(closed.size(), 2u);
  health.RecordOutcome(second_id, true, "returned leaf-0:2");
  EXPECT_EQ(health.incidents()[1].outcome, "returned");
  EXPECT_EQ(health.incidents()[1].outcome_detail, "returned leaf-0:2");
}

}  // namespace
}  // namespace pulse::controller
