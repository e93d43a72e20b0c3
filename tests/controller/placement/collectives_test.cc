#include "controller/placement/collectives.h"

#include <map>
#include <set>

#include <gtest/gtest.h>

#include "tests/controller/placement_test_fabrics.h"

namespace pulse::controller {
namespace {

using placement_testing::kGbps;
using topology::Fabric;
using topology::NodeId;

Fabric MustBuild(absl::StatusOr<Fabric> f) {
  EXPECT_TRUE(f.ok()) << f.status();
  return *std::move(f);
}

std::vector<NodeId> FirstNics(const Fabric& fabric, size_t n) {
  return std::vector<NodeId>(fabric.nics().begin(), fabric.nics().begin() + n);
}

// Every phase is a partial permutation: each NIC sends at most one and receives at most one.
void ExpectPhasesArePermutations(const std::vector<FlowDemand>& demands) {
  std::map<int, std::set<NodeId>> senders, receivers;
  for (const FlowDemand& d : demands) {
    EXPECT_TRUE(senders[d.phase].insert(d.src).second) << "phase " << d.phase << " src " << d.src;
    EXPECT_TRUE(receivers[d.phase].insert(d.dst).second) << "phase " << d.phase;
  }
}

TEST(CollectivesTest, PatternNamesRoundTrip) {
  for (auto p : {CollectivePattern::kExplicit, CollectivePattern::kRing,
                 CollectivePattern::kDoubleBinaryTree, CollectivePattern::kAllToAll,
                 CollectivePattern::kHalvingDoubling, CollectivePattern::kRailAligned}) {
    auto parsed = ParseCollectivePattern(CollectivePatternName(p));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, p);
  }
  EXPECT_EQ(*ParseCollectivePattern("All-To-All"), CollectivePattern::kAllToAll);
  auto bad = ParseCollectivePattern("butterfly");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("butterfly"), absl::string_view::npos);
}

TEST(CollectivesTest, RingBothDirectionsHalfRateEach) {
  Fabric f = MustBuild(placement_testing::LeafSpineFabric(2, 2, 4));
  auto nics = FirstNics(f, 6);
  auto demands = CollectiveFlows(f, CollectivePattern::kRing, nics, 0);
  ASSERT_TRUE(demands.ok()) << demands.status();
  ASSERT_EQ(demands->size(), 12u);
  std::map<NodeId, double> sent;
  for (const FlowDemand& d : *demands) {
    EXPECT_DOUBLE_EQ(d.rate_bps, 50.0 * kGbps);  // line rate 100G split over two rings
    sent[d.src] += d.rate_bps;
  }
  for (NodeId n : nics) EXPECT_DOUBLE_EQ(sent[n], 100.0 * kGbps);
  EXPECT_EQ(demands->at(0).dst, nics[1]);
  EXPECT_EQ(demands->at(1).dst, nics[5]);
  ExpectPhasesArePermutations(*demands);
}

TEST(CollectivesTest, IntraServerPairsGiveNoDemand) {
  // Rail fabric: each server has 4 NICs. A ring over the 4 GPUs of server 0 and 4 of server 1
  // crosses the fabric only at the two server boundaries.
  Fabric f = MustBuild(placement_testing::RailFabric(1, 2, 4, 4));
  std::vector<NodeId> ranks;
  for (int s = 0; s < 2; ++s) {
    for (NodeId nic : f.servers()[s].nics) ranks.push_back(nic);
  }
  auto demands = CollectiveFlows(f, CollectivePattern::kRing, ranks, 0);
  ASSERT_TRUE(demands.ok());
  EXPECT_EQ(demands->size(), 4u);  // 3->4 and 7->0 forward; 4->3 and 0->7 backward
  for (const FlowDemand& d : *demands) EXPECT_NE(f.node(d.src).server, f.node(d.dst).server);
}

TEST(CollectivesTest, AllToAllPhasesAndRateShare) {
  Fabric f = MustBuild(placement_testing::LeafSpineFabric(2, 2, 4));
  auto nics = FirstNics(f, 5);
  auto demands = CollectiveFlows(f, CollectivePattern::kAllToAll, nics, 40 * kGbps);
  ASSERT_TRUE(demands.ok());
  ASSERT_EQ(demands->size(), 20u);
  std::set<std::pair<NodeId, NodeId>> pairs;
  for (const FlowDemand& d : *demands) {
    EXPECT_DOUBLE_EQ(d.rate_bps, 10.0 * kGbps);
    EXPECT_GE(d.phase, 0);
    EXPECT_LT(d.phase, 4);
    pairs.insert({d.src, d.dst});
  }
  EXPECT_EQ(pairs.size(), 20u);  // every ordered pair once
  ExpectPhasesArePermutations(*demands);
}

TEST(CollectivesTest, HalvingDoublingPowerOfTwo) {
  Fabric f = MustBuild(placement_testing::LeafSpineFabric(2, 2, 4));
  auto demands = CollectiveFlows(f, CollectivePattern::kHalvingDoubling, FirstNics(f, 8), 0);
  ASSERT_TRUE(demands.ok());
  ASSERT_EQ(demands->size(), 24u);  // 3 phases x 8 ranks
  for (const FlowDemand& d : *demands) {
    EXPECT_DOUBLE_EQ(d.rate_bps, 100.0 * kGbps / 3);
    EXPECT_EQ((d.src - f.nics()[0]) ^ (d.dst - f.nics()[0]), 1 << d.phase);
  }
  ExpectPhasesArePermutations(*demands);
  auto bad = CollectiveFlows(f, CollectivePattern::kHalvingDoubling, FirstNics(f, 6), 0);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("power-of-two"), absl::string_view::npos);
}

TEST(CollectivesTest, DoubleBinaryTreeIsTwoSpanningTreesBothWays) {
  Fabric f = MustBuild(placement_testing::LeafSpineFabric(4, 4, 4));
  for (size_t n : {2u, 5u, 8u, 13u, 16u}) {
    auto nics = FirstNics(f, n);
    auto demands = CollectiveFlows(f, CollectivePattern::kDoubleBinaryTree, nics, 0);
    ASSERT_TRUE(demands.ok());
    // Two trees of n-1 edges, each edge both directions.
    EXPECT_EQ(demands->size(), 4 * (n - 1)) << n;
    std::map<NodeId, int> sends;
    std::set<std::pair<NodeId, NodeId>> directed;
    for (const FlowDemand& d : *demands) {
      ++sends[d.src];
      EXPECT_DOUBLE_EQ(d.rate_bps, 25.0 * kGbps);
      directed.insert({d.src, d.dst});
    }
    for (const auto& [src, dst] : directed) EXPECT_TRUE(directed.count({dst, src}));
    for (const auto& [nic, count] : sends) EXPECT_LE(count, 4) << "n=" << n;
    ExpectPhasesArePermutations(*demands);
  }
  // Even n: a rank is internal in at most one tree, so no rank sends more than 4 flows and the
  // leaves of tree 0 are internal in tree 1.
  auto demands = CollectiveFlows(f, CollectivePattern::kDoubleBinaryTree, FirstNics(f, 8), 0);
  std::map<NodeId, int> tree0_degree, tree1_degree;
  for (const FlowDemand& d : *demands) (d.phase < 4 ? tree0_degree : tree1_degree)[d.src]++;
  for (NodeId n : FirstNics(f, 8)) {
    EXPECT_FALSE(tree0_degree[n] > 1 && tree1_degree[n] > 1) << "rank " << n << " internal twice";
  }
}

TEST(CollectivesTest, RailAlignedStaysOnRails) {
  Fabric f = MustBuild(placement_testing::RailFabric(2, 2, 2, 2));  // 4 servers x 2 rails
  std::vector<NodeId> ranks;
  for (const auto& gpu : f.gpus()) ranks.push_back(gpu.nic);
  auto demands = CollectiveFlows(f, CollectivePattern::kRailAligned, ranks, 0);
  ASSERT_TRUE(demands.ok());
  EXPECT_EQ(demands->size(), 16u);  // 2 rails x 4 servers x 2 directions
  for (const FlowDemand& d : *demands) {
    EXPECT_EQ(f.node(d.src).rail, f.node(d.dst).rail);
    EXPECT_NE(f.node(d.src).server, f.node(d.dst).server);
    EXPECT_DOUBLE_EQ(d.rate_bps, 50.0 * kGbps);
  }
  ExpectPhasesArePermutations(*demands);
}

TEST(CollectivesTest, BadInput) {
  Fabric f = MustBuild(placement_testing::LeafSpineFabric(2, 2, 2));
  auto nics = FirstNics(f, 4);
  EXPECT_EQ(CollectiveFlows(f, CollectivePattern::kRing, nics, -1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CollectiveFlows(f, CollectivePattern::kExplicit, nics, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<NodeId> with_switch = {nics[0], f.switches()[0]};
  auto bad = CollectiveFlows(f, CollectivePattern::kRing, with_switch, 0);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("not a NIC"), absl::string_view::npos);
  EXPECT_FALSE(CollectiveFlows(f, CollectivePattern::kRing, {nics[0], 9999}, 0).ok());
  // One rank: nothing to send, not an error.
  auto single = CollectiveFlows(f, CollectivePattern::kRing, {nics[0]}, 0);
  ASSERT_TRUE(single.ok());
  EXPECT_TRUE(single->empty());
}

}  // namespace
}  // namespace pulse::controller
