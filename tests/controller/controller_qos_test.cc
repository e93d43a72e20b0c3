// The QoS policy is part of the controller's state: placement's PFC deadlock check watches the
// priorities the policy makes lossless, not a default of its own (issue 11).
#include <map>
#include <memory>
#include <string>

#include "controller/controller.h"
#include "gtest/gtest.h"
#include "tests/northbound/test_fabric.h"

namespace pulse::controller {
namespace {

// Keeps every applied batch in memory (a store with a policy an admin set before a restart).
class MemoryStore final : public StateStore {
 public:
  absl::StatusOr<int64_t> Apply(const WriteBatch& batch) override {
    for (const StoreWrite& w : batch.writes()) {
      if (w.kind == StoreWrite::Kind::kPut) {
        entries[w.key] = w.value;
      } else {
        entries.erase(w.key);
      }
    }
    return ++revision;
  }
  absl::StatusOr<StoreSnapshot> LoadAll() override { return StoreSnapshot{revision, entries}; }
  absl::StatusOr<std::unique_ptr<StoreWatch>> Watch(absl::string_view, int64_t,
                                                    StoreWatchCallback) override {
    return absl::UnimplementedError("memory store: no watch");
  }
  std::string Describe() const override { return "memory"; }
  std::map<std::string, std::string> entries;
  int64_t revision = 0;
};

JobSpec Pair(const std::string& id, int traffic_class) {
  JobSpec spec;
  spec.id = id;
  spec.endpoints = {"server-0/gpu-0", "server-2/gpu-0"};
  spec.rate_bps = 10e9;
  spec.traffic_class = traffic_class;
  return spec;
}

// A policy that makes priority 5 (only) lossless: RoCE marked DSCP 34 rides class 5.
constexpr char kPriority5Lossless[] =
    "lossless_priorities: [5]\n"
    "dscp_to_tc: {34: 5, 48: 6}\n"
    "tc_to_pg: {5: 5}\n";

// The stored policy (the one an admin set before this controller started) decides which
// classes the deadlock check watches.
TEST(ControllerQosTest, StoredPolicyDecidesWhichClassesPlacementTreatsAsLossless) {
  MemoryStore store;
  ASSERT_TRUE(store.Apply(WriteBatch().Put("qos/policy", kPriority5Lossless)).ok());
  ControllerOptions options;
  options.store = &store;
  auto controller = Controller::Create(testing::SmallLeafSpine(), options);
  ASSERT_TRUE(controller.ok()) << controller.status();
  Controller& c = **controller;

  ASSERT_TRUE(c.PlaceJob(Pair("class-5", 5)).get().ok());
  SnapshotPtr s = c.snapshot();
  EXPECT_TRUE(s->placement.IsLossless(5)) << "priority 5 is lossless by policy";
  EXPECT_FALSE(s->placement.IsLossless(3)) << "priority 3 is lossy by policy";
  EXPECT_FALSE(s->placement.IsLossless(4)) << "priority 4 is lossy by policy";
  // The class-5 job's paths are in the PFC buffer dependency graph the deadlock check walks.
  EXPECT_GT(s->placement.lossless_graph().num_edges(), 0u);

  // A class-3 job adds nothing to it: no PFC on priority 3 under this policy.
  const size_t edges = s->placement.lossless_graph().num_edges();
  ASSERT_TRUE(c.PlaceJob(Pair("class-3", 3)).get().ok());
  EXPECT_EQ(c.snapshot()->placement.lossless_graph().num_edges(), edges);
}

// Set through the controller: leader-gated, persisted, in force for placement, observers told.
TEST(ControllerQosTest, SetQosPolicyIsGatedPersistedAndChangesLosslessClasses) {
  MemoryStore store;
  bool leader = false;
  ControllerOptions options;
  options.store = &store;
  options.write_gate = [&leader] {
    return leader ? absl::OkStatus() : absl::UnavailableError("follower; the leader is r2");
  };
  auto controller = Controller::Create(testing::SmallLeafSpine(), options);
  ASSERT_TRUE(controller.ok()) << controller.status();
  Controller& c = **controller;
  std::vector<QosStatePtr> seen;  // written on the controller thread, read after Sync()
  c.AddQosObserver([&seen](const QosStatePtr& qos) { seen.push_back(qos); });
  EXPECT_TRUE(c.snapshot()->qos->from_defaults);
  EXPECT_TRUE(c.snapshot()->placement.IsLossless(3));

  // A follower refuses with the gate's status; nothing changes.
  auto refused = c.SetQosPolicy(kPriority5Lossless, false).get();
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
  EXPECT_TRUE(store.entries.empty());
  EXPECT_TRUE(c.snapshot()->placement.IsLossless(3));
  // A dry run plans and changes nothing.
  leader = true;
  auto dry = c.SetQosPolicy(kPriority5Lossless, true).get();
  ASSERT_TRUE(dry.ok()) << dry.status();
  EXPECT_FALSE(dry->persisted);
  EXPECT_EQ(dry->switches_planned, 4u);
  EXPECT_TRUE(store.entries.empty());
  EXPECT_FALSE(c.snapshot()->placement.IsLossless(5));
  // A policy that does not validate names the key; the old one stays.
  auto bad = c.SetQosPolicy("lossless_priorities: [9]\n", false).get();
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("qos policy refused"), absl::string_view::npos)
      << bad.status();

  auto set = c.SetQosPolicy(kPriority5Lossless, false).get();
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_TRUE(set->persisted);
  EXPECT_EQ(store.entries["qos/policy"], kPriority5Lossless);
  SnapshotPtr s = c.snapshot();
  EXPECT_FALSE(s->qos->from_defaults);
  EXPECT_EQ(s->qos->policy_yaml, kPriority5Lossless);
  EXPECT_TRUE(s->placement.IsLossless(5));
  EXPECT_FALSE(s->placement.IsLossless(3));
  c.Sync().get();
  ASSERT_EQ(seen.size(), 2u);  // the defaults when registered, then the new policy
  EXPECT_TRUE(seen[0]->from_defaults);
  EXPECT_EQ(seen[1]->policy.lossless_priorities, std::vector<int>{5});

  // A replica restarted on the same store restores it before the jobs.
  ASSERT_TRUE(c.PlaceJob(Pair("class-5", 5)).get().ok());
  controller->reset();
  auto restarted = Controller::Create(testing::SmallLeafSpine(), options);
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  EXPECT_TRUE((*restarted)->snapshot()->placement.IsLossless(5));
  EXPECT_GT((*restarted)->snapshot()->placement.lossless_graph().num_edges(), 0u);
}

// Another replica's policy arrives as a store update and is put in force like a local one.
TEST(ControllerQosTest, ReplicatedPolicyIsAdoptedAndABadOneRefused) {
  auto controller = Controller::Create(testing::SmallLeafSpine());
  ASSERT_TRUE(controller.ok()) << controller.status();
  Controller& c = **controller;
  StoreWatchUpdate update;
  update.revision = 5;
  update.changes.push_back({StoreWrite::Kind::kPut, "qos/policy", kPriority5Lossless});
  c.ApplyStoreUpdate(update);
  c.Sync().get();
  EXPECT_TRUE(c.snapshot()->placement.IsLossless(5));
  StoreWatchUpdate bad;
  bad.revision = 6;
  bad.changes.push_back({StoreWrite::Kind::kPut, "qos/policy", "cnp: {dscp: 99}\n"});
  c.ApplyStoreUpdate(bad);
  c.Sync().get();
  EXPECT_EQ(c.snapshot()->qos->policy_yaml, kPriority5Lossless);
}

}  // namespace
}  // namespace pulse::controller
