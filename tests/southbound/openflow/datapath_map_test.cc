#include "southbound/openflow/datapath_map.h"

#include "gtest/gtest.h"

namespace pulse::southbound::openflow {
namespace {

using topology::SwitchRole;

TEST(DatapathMapTest, TranslatesBothWaysWhateverTheIds) {
  const DatapathMap map({{3, 0x00000000a1b2c3d4}, {0, 0xfeedfacecafe0001}, {5, 0x2}});
  EXPECT_EQ(map.size(), 3u);
  EXPECT_EQ(map.NodeOf(0x00000000a1b2c3d4), 3);
  EXPECT_EQ(map.NodeOf(0xfeedfacecafe0001), 0);
  EXPECT_EQ(map.NodeOf(0x2), 5);
  EXPECT_FALSE(map.NodeOf(0x3).has_value());  // a datapath id the intent does not list
  EXPECT_FALSE(map.NodeOf(0).has_value());
  EXPECT_EQ(map.DpidOf(3), 0x00000000a1b2c3d4u);
  EXPECT_EQ(map.DpidOf(5), 0x2u);
  EXPECT_FALSE(map.DpidOf(2).has_value());
  EXPECT_FALSE(DatapathMap().NodeOf(1).has_value());
}

TEST(DatapathMapTest, OpenFlowDatapathsAreTheIntentsOpenFlowSwitches) {
  topology::FabricBuilder b;
  const topology::NodeId leaf = b.AddSwitch("leaf-0", SwitchRole::kLeaf, -1, -1, 0, 0xa1b2c3d4);
  const topology::NodeId sonic = b.AddSwitch("leaf-1", SwitchRole::kLeaf, -1, -1, 0, 0x77);
  const topology::NodeId spine = b.AddSwitch("spine-0", SwitchRole::kSpine, -1, -1, 0, 0x5);
  b.SetSwitchDriver(sonic, "sonic");
  b.AddLink(leaf, spine, 1'000'000'000);
  b.AddLink(sonic, spine, 1'000'000'000);
  absl::StatusOr<topology::Fabric> fabric = std::move(b).Build();
  ASSERT_TRUE(fabric.ok()) << fabric.status();
  const std::vector<std::pair<switches::SwitchId, Dpid>> datapaths = OpenFlowDatapaths(*fabric);
  EXPECT_EQ(datapaths,
            (std::vector<std::pair<switches::SwitchId, Dpid>>{{leaf, 0xa1b2c3d4}, {spine, 0x5}}));
  EXPECT_FALSE(DatapathMap(datapaths).NodeOf(0x77).has_value());  // served by SONiC
}

TEST(DatapathMapTest, DescribesDatapathIdsAsOvsShowsThem) {
  EXPECT_EQ(DescribeDpid(0xa1b2c3d4), "0x00000000a1b2c3d4");
}

}  // namespace
}  // namespace pulse::southbound::openflow
