#include "controller/oracle/oracle_coordinator.h"

#include <functional>
#include <memory>
#include <random>

#include "controller/paths/steering.h"
#include "gtest/gtest.h"
#include "tests/controller/oracle/fake_switches.h"
#include "tests/controller/path_test_fabrics.h"

namespace pulse::controller {
namespace {

using testing::BuildLeafSpine;
using testing::FakeSwitches;
using testing::LinksBetween;

struct Scene {
  std::shared_ptr<const Fabric> fabric =
      std::make_shared<const Fabric>(BuildLeafSpine(4, 4, 4).value());
  std::vector<NodeId> leaves;
  std::vector<std::pair<NodeId, NodeId>> pairs;
  Scene() {
    for (NodeId sw : fabric->switches())
      if (fabric->node(sw).level == 1) leaves.push_back(sw);
    const auto& nics = fabric->nics();
    for (size_t i = 0; i < nics.size(); ++i) pairs.push_back({nics[i], nics[(i + 4) % 16]});
  }
};

// The switches' real choice: Open vSwitch's hash with basis 0 (what a fake "unknown" switch runs).
size_t Ovs(NodeId, const FiveTuple& t, const std::vector<EcmpMember>& members) {
  return EcmpSelector(EcmpHashModel(HashAlgorithm::kOvsMultipath, 0), members).Select(t);
}

TEST(OracleCoordinatorTest, ReprobesOnReconnectGroupChangeAndNewPairsOnly) {
  Scene s;
  const Fabric& f = *s.fabric;
  EcmpGroups truth_groups(s.fabric);
  FakeSwitches switches(truth_groups, Ovs);
  OracleCoordinatorOptions options;
  options.switches = s.leaves;
  options.declared[s.leaves[3]] = EcmpHashModel(HashAlgorithm::kOvsMultipath, 0);
  OracleCoordinator coordinator(s.fabric, &switches, HashModels{}, options);
  coordinator.SetPairs(s.pairs);
  EXPECT_EQ(coordinator.pending().size(), 4u);
  auto reports = coordinator.RunPending();
  ASSERT_EQ(reports.size(), 4u);
  for (const auto& r : reports) EXPECT_TRUE(r.status.ok()) << r.status;
  EXPECT_TRUE(reports[3].verified);
  EXPECT_TRUE(coordinator.pending().empty());
  EXPECT_EQ(coordinator.models().For(s.leaves[0]).algorithm, HashAlgorithm::kLearned);
  EXPECT_EQ(coordinator.models().For(s.leaves[3]).algorithm, HashAlgorithm::kOvsMultipath);

  // Nothing new: nothing to probe.
  coordinator.SetPairs(s.pairs);
  EXPECT_TRUE(coordinator.pending().empty());
  // A reconnect: that switch only.
  coordinator.OnSwitchConnected(s.leaves[1]);
  EXPECT_EQ(coordinator.pending(), std::set<NodeId>{s.leaves[1]});
  coordinator.RunPending();
  // A link down: every leaf whose group towards some leaf lost a member (all of them here: every
  // leaf reaches leaf-1 through spine-0), and steering follows the shrunken groups.
  const LinkId cut = LinksBetween(f, s.leaves[1], f.FindNode("spine-0").value())[0];
  truth_groups.SetLinkUp(cut, false);
  coordinator.SetLinkUp(cut, false);
  EXPECT_EQ(coordinator.pending().size(), 4u);
  for (const auto& r : coordinator.RunPending()) EXPECT_TRUE(r.status.ok()) << r.status;
  for (const auto& [src, dst] : s.pairs) {
    auto paths = UpDownPaths(f, truth_groups.status(), src, dst);
    ASSERT_TRUE(paths.ok()) << paths.status();
    for (const Path& path : *paths) {
      auto port = FindSteeringPort(truth_groups, coordinator.models(), path);
      ASSERT_TRUE(port.ok()) << port.status();
    }
  }
  // New pairs: the learned switches, not the verified one.
  auto more = s.pairs;
  more.push_back({f.nics()[0], f.nics()[9]});
  coordinator.SetPairs(more);
  EXPECT_EQ(coordinator.pending(), (std::set<NodeId>{s.leaves[0], s.leaves[1], s.leaves[2]}));
  coordinator.RunPending();
  EXPECT_EQ(coordinator.counters().failures, 0u);
  EXPECT_EQ(coordinator.counters().runs, 4u + 1u + 4u + 3u);
  EXPECT_EQ(coordinator.counters().probes, switches.sent());
}

TEST(OracleCoordinatorTest, CountsFailedSwitches) {
  Scene s;
  EcmpGroups truth_groups(s.fabric);
  std::mt19937 rng(3);
  FakeSwitches switches(truth_groups, [&](NodeId sw, const FiveTuple& t, const auto& members) {
    return sw == s.leaves[2] ? rng() : Ovs(sw, t, members);
  });
  OracleCoordinatorOptions options;
  options.switches = s.leaves;
  options.declared[s.leaves[0]] = EcmpHashModel(HashAlgorithm::kCrc32, 0);  // wrong
  OracleCoordinator coordinator(s.fabric, &switches, HashModels{}, options);
  coordinator.SetPairs(s.pairs);
  coordinator.RunPending();
  EXPECT_EQ(coordinator.counters().failed_switches, 2u);
  EXPECT_FALSE(coordinator.last_reports().at(s.leaves[0]).status.ok());
  EXPECT_FALSE(coordinator.last_reports().at(s.leaves[2]).status.ok());
  EXPECT_FALSE(HashesSourcePort(coordinator.models().For(s.leaves[0])));
  EXPECT_FALSE(HashesSourcePort(coordinator.models().For(s.leaves[2])));
  EXPECT_TRUE(HashesSourcePort(coordinator.models().For(s.leaves[1])));
}

}  // namespace
}  // namespace pulse::controller
