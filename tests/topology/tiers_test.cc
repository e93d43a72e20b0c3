#include "topology/tiers.h"

#include "gtest/gtest.h"
#include "topology/builders.h"

namespace pulse::topology {
namespace {

TEST(TiersTest, LeafSpineHasOneBlockPerLeafUnderOneSpineGroup) {
  LeafSpineParams params;
  params.leaves = 4;
  params.spines = 2;
  params.servers_per_leaf = 2;
  absl::StatusOr<Fabric> fabric = LeafSpine(params);
  ASSERT_TRUE(fabric.ok()) << fabric.status();
  FabricTiers tiers = ComputeTiers(*fabric);
  ASSERT_EQ(tiers.blocks.size(), 4u);
  for (int b = 0; b < 4; ++b) {
    EXPECT_EQ(tiers.blocks[b].name, "leaf-" + std::to_string(b));
    ASSERT_EQ(tiers.blocks[b].servers.size(), 2u);
    EXPECT_EQ(fabric->servers()[tiers.blocks[b].servers[0]].name,
              "server-" + std::to_string(2 * b));
    EXPECT_EQ(tiers.blocks[b].spine_group, 0);
  }
  ASSERT_EQ(tiers.spine_groups.size(), 1u);
  EXPECT_EQ(tiers.spine_groups[0].spines.size(), 2u);
  EXPECT_EQ(tiers.spine_groups[0].blocks.size(), 4u);
  EXPECT_FALSE(tiers.has_super_spines);
  EXPECT_EQ(tiers.block_of_server[5], 2);
  EXPECT_EQ(tiers.planes_of_server[5], std::vector<int>{0});
}

TEST(TiersTest, FatTreePodsAreSpineGroups) {
  absl::StatusOr<Fabric> fabric = FatTree(4);
  ASSERT_TRUE(fabric.ok()) << fabric.status();
  FabricTiers tiers = ComputeTiers(*fabric);
  EXPECT_EQ(tiers.blocks.size(), 8u);  // 4 pods x 2 edge switches
  ASSERT_EQ(tiers.spine_groups.size(), 4u);
  for (int g = 0; g < 4; ++g) {
    EXPECT_EQ(tiers.spine_groups[g].name, "pod-" + std::to_string(g));
    EXPECT_EQ(tiers.spine_groups[g].blocks.size(), 2u);
    EXPECT_EQ(tiers.spine_groups[g].spines.size(), 2u);
  }
  EXPECT_TRUE(tiers.has_super_spines);
}

TEST(TiersTest, RailGroupIsOneBlockOfSeveralLeaves) {
  RailOptimizedParams params;
  params.groups = 2;
  params.servers_per_group = 4;
  params.rails = 4;
  params.spines = 4;
  absl::StatusOr<Fabric> fabric = RailOptimized(params);
  ASSERT_TRUE(fabric.ok()) << fabric.status();
  FabricTiers tiers = ComputeTiers(*fabric);
  ASSERT_EQ(tiers.blocks.size(), 2u);
  EXPECT_EQ(tiers.blocks[0].leaves.size(), 4u);
  EXPECT_EQ(tiers.blocks[0].servers.size(), 4u);
  EXPECT_EQ(tiers.blocks[0].name, fabric->node(tiers.blocks[0].leaves[0]).name + "-group");
  EXPECT_EQ(tiers.spine_groups.size(), 1u);
}

TEST(TiersTest, LeavesOfNicIsTheLeafItIsCabledTo) {
  absl::StatusOr<Fabric> fabric = FatTree(4);
  ASSERT_TRUE(fabric.ok());
  NodeId nic = fabric->nics()[0];
  std::vector<NodeId> leaves = LeavesOfNic(*fabric, nic);
  ASSERT_EQ(leaves.size(), 1u);
  EXPECT_EQ(fabric->node(leaves[0]).level, 1);
}

}  // namespace
}  // namespace pulse::topology
