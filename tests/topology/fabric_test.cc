#include "topology/fabric.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pulse::topology {
namespace {

using ::testing::HasSubstr;

constexpr int64_t k100G = 100'000'000'000;

// leaf-0 and leaf-1 under spine-0; server-0 (1 NIC, 2 GPUs) on leaf-0, server-1 on leaf-1.
absl::StatusOr<Fabric> SmallFabric() {
  FabricBuilder b;
  NodeId leaf0 = b.AddSwitch("leaf-0", SwitchRole::kLeaf);
  NodeId leaf1 = b.AddSwitch("leaf-1", SwitchRole::kLeaf);
  NodeId spine = b.AddSwitch("spine-0", SwitchRole::kSpine, -1, -1, 0, 0x99);
  ServerId s0 = b.AddServer("server-0");
  ServerId s1 = b.AddServer("server-1");
  NodeId n0 = b.AddNic(s0, 0);
  NodeId n1 = b.AddNic(s1, 0);
  b.AddGpu(s0, n0);
  b.AddGpu(s0, n0);
  b.AddGpu(s1, n1);
  b.AddLink(n0, leaf0, k100G, 5);
  b.AddLink(leaf1, n1, k100G);  // given upper end first: stored NIC first
  b.AddLink(spine, leaf0, k100G, 40, 7, 0);
  b.AddLink(leaf1, spine, k100G);
  return std::move(b).Build();
}

TEST(FabricTest, BuildsAndLooksUp) {
  absl::StatusOr<Fabric> f = SmallFabric();
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->nodes().size(), 5u);
  EXPECT_EQ(f->links().size(), 4u);
  EXPECT_EQ(f->nics().size(), 2u);
  EXPECT_EQ(f->switches().size(), 3u);
  NodeId leaf0 = *f->FindNode("leaf-0");
  NodeId spine = *f->FindNode("spine-0");
  NodeId n1 = *f->FindNode("server-1/nic-0");
  EXPECT_EQ(f->node(leaf0).level, 1);
  EXPECT_EQ(f->node(spine).level, 2);
  EXPECT_EQ(f->node(n1).level, kNicLevel);
  // Auto dpids 1, 2; explicit 0x99.
  EXPECT_EQ(f->node(leaf0).datapath_id, 1u);
  EXPECT_EQ(*f->FindByDatapathId(0x99), spine);
  EXPECT_FALSE(f->FindByDatapathId(0x98).has_value());
  // The lower-level end is `a`, whatever order the link was added in.
  EXPECT_EQ(f->link(1).a.node, n1);
  EXPECT_EQ(f->link(2).a.node, leaf0);
  EXPECT_EQ(f->link(2).b.port, 7);
  EXPECT_EQ(f->DescribeLink(2), "leaf-0:2 <-> spine-0:7");
  EXPECT_EQ(f->DescribeDirected(Fabric::Directed(2, 1)), "spine-0:7 -> leaf-0:2");
  EXPECT_EQ(f->Tail(Fabric::Directed(2, 0)), leaf0);
  EXPECT_EQ(f->Head(Fabric::Directed(2, 0)), spine);
  EXPECT_EQ(f->DirectedFrom(2, spine), Fabric::Directed(2, 1));
  EXPECT_EQ(f->Peer(2, spine), leaf0);
  EXPECT_EQ(*f->LinkAtPort(spine, 7), 2);
  EXPECT_FALSE(f->LinkAtPort(spine, 1).has_value());
  EXPECT_EQ(*f->ResolveEndpoint("server-0/gpu-1"), *f->FindNode("server-0/nic-0"));
  EXPECT_EQ(*f->ResolveEndpoint("server-1/nic-0"), n1);
  EXPECT_EQ(f->ResolveEndpoint("leaf-0").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(f->ResolveEndpoint("server-9/gpu-0").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*f->FindServer("server-1"), 1);
  EXPECT_EQ(f->FindGpu("server-1/gpu-1").status().code(), absl::StatusCode::kNotFound);
}

TEST(FabricTest, RoleNamesRoundTrip) {
  for (SwitchRole role : {SwitchRole::kLeaf, SwitchRole::kSpine, SwitchRole::kSuperSpine}) {
    absl::StatusOr<SwitchRole> parsed = ParseSwitchRole(SwitchRoleName(role));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, role);
  }
  EXPECT_EQ(*ParseSwitchRole("core"), SwitchRole::kSuperSpine);
  EXPECT_THAT(std::string(ParseSwitchRole("router").status().message()), HasSubstr("router"));
}

TEST(FabricBuilderTest, DuplicateNamesAreErrors) {
  FabricBuilder b;
  b.AddSwitch("leaf-0", SwitchRole::kLeaf);
  b.AddSwitch("leaf-0", SwitchRole::kLeaf);
  b.AddServer("server-0");
  b.AddServer("server-0");
  absl::StatusOr<Fabric> f = std::move(b).Build();
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(f.status().message()), HasSubstr("duplicate node name 'leaf-0'"));
  EXPECT_THAT(std::string(f.status().message()), HasSubstr("duplicate server name 'server-0'"));
}

TEST(FabricBuilderTest, DuplicateDatapathIdIsAnError) {
  FabricBuilder b;
  b.AddSwitch("leaf-0", SwitchRole::kLeaf, -1, -1, 0, 5);
  b.AddSwitch("leaf-1", SwitchRole::kLeaf, -1, -1, 0, 5);
  EXPECT_THAT(std::string(std::move(b).Build().status().message()), HasSubstr("datapath id 5"));
}

TEST(FabricBuilderTest, AutoDatapathIdsSkipTakenOnes) {
  FabricBuilder b;
  b.AddSwitch("leaf-0", SwitchRole::kLeaf, -1, -1, 0, 1);
  b.AddSwitch("leaf-1", SwitchRole::kLeaf);
  absl::StatusOr<Fabric> f = std::move(b).Build();
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->node(1).datapath_id, 2u);
}

TEST(FabricBuilderTest, PortUsedTwiceIsAnError) {
  FabricBuilder b;
  NodeId leaf = b.AddSwitch("leaf-0", SwitchRole::kLeaf);
  NodeId s0 = b.AddSwitch("spine-0", SwitchRole::kSpine);
  NodeId s1 = b.AddSwitch("spine-1", SwitchRole::kSpine);
  b.AddLink(leaf, s0, k100G, 0, 3, 0);
  b.AddLink(leaf, s1, k100G, 0, 3, 0);
  EXPECT_THAT(std::string(std::move(b).Build().status().message()),
              HasSubstr("port 3 of 'leaf-0' is used twice"));
}

TEST(FabricBuilderTest, SelfLinkAndNonAdjacentTiersAreErrors) {
  FabricBuilder b;
  NodeId leaf = b.AddSwitch("leaf-0", SwitchRole::kLeaf);
  NodeId leaf1 = b.AddSwitch("leaf-1", SwitchRole::kLeaf);
  NodeId core = b.AddSwitch("core-0", SwitchRole::kSuperSpine);
  b.AddLink(leaf, leaf1, k100G);
  b.AddLink(leaf, core, k100G);
  std::string msg(std::move(b).Build().status().message());
  EXPECT_THAT(msg, HasSubstr("'leaf-0' - 'leaf-1' does not join adjacent tiers"));
  EXPECT_THAT(msg, HasSubstr("'leaf-0' - 'core-0' does not join adjacent tiers"));

  FabricBuilder self;
  NodeId s = self.AddSwitch("spine-0", SwitchRole::kSpine);
  self.AddLink(s, s, k100G);
  EXPECT_THAT(std::string(std::move(self).Build().status().message()), HasSubstr("to itself"));
}

TEST(FabricBuilderTest, ZeroCapacityIsAnError) {
  FabricBuilder b;
  NodeId leaf = b.AddSwitch("leaf-0", SwitchRole::kLeaf);
  NodeId spine = b.AddSwitch("spine-0", SwitchRole::kSpine);
  b.AddLink(leaf, spine, 0);
  EXPECT_THAT(std::string(std::move(b).Build().status().message()), HasSubstr("has no capacity"));
}

TEST(FabricBuilderTest, UnlinkedNicAndRailGapAreErrors) {
  FabricBuilder b;
  b.AddSwitch("leaf-0", SwitchRole::kLeaf);
  ServerId s = b.AddServer("server-0");
  b.AddNic(s, 1);  // no NIC on rail 0, and this one has no link
  std::string msg(std::move(b).Build().status().message());
  EXPECT_THAT(msg, HasSubstr("server 'server-0' has no NIC on rail 0"));
  EXPECT_THAT(msg, HasSubstr("NIC 'server-0/nic-1' has no link"));
}

TEST(FabricBuilderTest, ManyErrorsAreCapped) {
  FabricBuilder b;
  for (int i = 0; i < 15; ++i) b.AddSwitch("same", SwitchRole::kLeaf);
  std::string msg(std::move(b).Build().status().message());
  EXPECT_THAT(msg, HasSubstr("and 4 more"));
}

}  // namespace
}  // namespace pulse::topology
