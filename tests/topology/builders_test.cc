#include "topology/builders.h"

#include <cstdint>
#include <map>
#include <queue>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pulse::topology {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

int CountSwitches(const Fabric& f, SwitchRole role, int plane = -1) {
  int n = 0;
  for (NodeId id : f.switches()) {
    if (f.node(id).role == role && (plane < 0 || f.node(id).plane == plane)) ++n;
  }
  return n;
}

// Links of `node` whose peer is at `level`.
int DegreeTo(const Fabric& f, NodeId node, int level) {
  int n = 0;
  for (LinkId l : f.LinksOf(node)) {
    if (f.node(f.Peer(l, node)).level == level) ++n;
  }
  return n;
}

int64_t CapacityTo(const Fabric& f, NodeId node, int level) {
  int64_t bps = 0;
  for (LinkId l : f.LinksOf(node)) {
    if (f.node(f.Peer(l, node)).level == level) bps += f.link(l).capacity_bps;
  }
  return bps;
}

// NICs reachable from `from` over any links (BFS), optionally only through one plane.
std::set<NodeId> ReachableNics(const Fabric& f, NodeId from, int plane = -1) {
  std::vector<bool> seen(f.nodes().size(), false);
  std::queue<NodeId> q;
  q.push(from);
  seen[from] = true;
  std::set<NodeId> nics;
  while (!q.empty()) {
    NodeId n = q.front();
    q.pop();
    if (f.node(n).is_nic()) nics.insert(n);
    for (LinkId l : f.LinksOf(n)) {
      NodeId p = f.Peer(l, n);
      if (seen[p]) continue;
      if (plane >= 0 && f.node(p).is_switch() && f.node(p).plane != plane) continue;
      seen[p] = true;
      q.push(p);
    }
  }
  return nics;
}

void ExpectUniqueDpids(const Fabric& f) {
  std::set<uint64_t> dpids;
  for (NodeId id : f.switches()) {
    EXPECT_NE(f.node(id).datapath_id, 0u) << f.node(id).name;
    EXPECT_TRUE(dpids.insert(f.node(id).datapath_id).second) << f.node(id).name;
    ASSERT_TRUE(f.FindByDatapathId(f.node(id).datapath_id).has_value());
    EXPECT_EQ(*f.FindByDatapathId(f.node(id).datapath_id), id);
  }
}

TEST(LeafSpineTest, CountsDegreesAndNames) {
  LeafSpineParams p;
  p.leaves = 4;
  p.spines = 2;
  p.servers_per_leaf = 2;
  absl::StatusOr<Fabric> f = LeafSpine(p);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(CountSwitches(*f, SwitchRole::kLeaf), 4);
  EXPECT_EQ(CountSwitches(*f, SwitchRole::kSpine), 2);
  EXPECT_EQ(f->servers().size(), 8u);
  EXPECT_EQ(f->nics().size(), 8u);
  EXPECT_EQ(f->gpus().size(), 8u);
  EXPECT_EQ(f->links().size(), 8u + 4u * 2u);
  for (NodeId id : f->switches()) {
    const Node& n = f->node(id);
    if (n.role == SwitchRole::kLeaf) {
      EXPECT_EQ(DegreeTo(*f, id, kNicLevel), 2) << n.name;
      EXPECT_EQ(DegreeTo(*f, id, 2), 2) << n.name;
      // Host ports first, then uplinks.
      EXPECT_EQ(f->node(f->Peer(*f->LinkAtPort(id, 1), id)).level, kNicLevel);
      EXPECT_EQ(f->node(f->Peer(*f->LinkAtPort(id, 3), id)).level, 2);
    } else {
      EXPECT_EQ(DegreeTo(*f, id, 1), 4) << n.name;
    }
  }
  ASSERT_TRUE(f->FindNode("leaf-3").ok());
  ASSERT_TRUE(f->FindNode("spine-1").ok());
  ASSERT_TRUE(f->FindNode("server-7/nic-0").ok());
  ASSERT_TRUE(f->FindGpu("server-7/gpu-0").ok());
  // server-7 sits on leaf-3, port 2.
  NodeId leaf3 = *f->FindNode("leaf-3");
  EXPECT_EQ(f->Peer(*f->LinkAtPort(leaf3, 2), leaf3), *f->FindNode("server-7/nic-0"));
  ExpectUniqueDpids(*f);
  EXPECT_EQ(f->node(leaf3).datapath_id, 0x0000000100000004u);
  EXPECT_EQ(f->node(*f->FindNode("spine-0")).datapath_id, 0x0000000200000001u);
}

TEST(LeafSpineTest, OneToOneBalancesHostAndUplinkCapacity) {
  LeafSpineParams p;
  p.leaves = 3;
  p.spines = 4;
  p.servers_per_leaf = 8;
  p.nics_per_server = 2;
  p.host_speed_bps = 100 * kGbps;
  p.fabric_speed_bps = 400 * kGbps;
  p.oversubscription = 1;
  absl::StatusOr<Fabric> f = LeafSpine(p);
  ASSERT_TRUE(f.ok()) << f.status();
  // 8 servers * 2 NICs * 100G = 1.6T per leaf = 4 spines * 1 uplink * 400G.
  for (NodeId id : f->switches()) {
    if (f->node(id).role != SwitchRole::kLeaf) continue;
    EXPECT_EQ(CapacityTo(*f, id, kNicLevel), CapacityTo(*f, id, 2)) << f->node(id).name;
    EXPECT_EQ(CapacityTo(*f, id, 2), 1600 * kGbps);
    EXPECT_EQ(DegreeTo(*f, id, 2), 4);
  }
}

TEST(LeafSpineTest, OversubscriptionSizesUplinks) {
  LeafSpineParams p;
  p.leaves = 2;
  p.spines = 2;
  p.servers_per_leaf = 12;
  p.oversubscription = 3;  // 1.2T of hosts over 400G of uplinks: 2 per spine
  absl::StatusOr<Fabric> f = LeafSpine(p);
  ASSERT_TRUE(f.ok()) << f.status();
  NodeId leaf = *f->FindNode("leaf-0");
  EXPECT_EQ(DegreeTo(*f, leaf, 2), 4);
  EXPECT_EQ(CapacityTo(*f, leaf, kNicLevel), 3 * CapacityTo(*f, leaf, 2));

  p.oversubscription = 0;
  p.uplinks_per_spine = 3;
  f = LeafSpine(p);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(DegreeTo(*f, *f->FindNode("leaf-1"), 2), 6);
  EXPECT_EQ(DegreeTo(*f, *f->FindNode("spine-1"), 1), 6);

  p.oversubscription = 2;  // 3 uplinks per spine make 1200/600 = 2:1: consistent
  EXPECT_TRUE(LeafSpine(p).ok());
  p.oversubscription = 3;  // inconsistent with 3 uplinks
  absl::StatusOr<Fabric> bad = LeafSpine(p);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), StartsWith("oversubscription:"));

  p.uplinks_per_spine = 0;
  p.oversubscription = 5;  // 1200 / (5 * 200) = 1.2 uplinks: not whole
  bad = LeafSpine(p);
  EXPECT_THAT(std::string(bad.status().message()), StartsWith("oversubscription:"));
}

TEST(LeafSpineTest, MultiPlaneCopiesAreIsolated) {
  LeafSpineParams p;
  p.leaves = 2;
  p.spines = 2;
  p.servers_per_leaf = 2;
  p.planes = 2;
  absl::StatusOr<Fabric> f = LeafSpine(p);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(CountSwitches(*f, SwitchRole::kLeaf, 0), 2);
  EXPECT_EQ(CountSwitches(*f, SwitchRole::kLeaf, 1), 2);
  EXPECT_EQ(CountSwitches(*f, SwitchRole::kSpine, 1), 2);
  EXPECT_EQ(f->nics().size(), 4u);
  ASSERT_TRUE(f->FindNode("p1-leaf-1").ok());
  EXPECT_FALSE(f->FindNode("leaf-1").ok());
  // Each NIC: port p+1 goes to plane p.
  for (NodeId nic : f->nics()) {
    ASSERT_EQ(f->node(nic).ports.size(), 2u);
    for (int plane = 0; plane < 2; ++plane) {
      std::optional<LinkId> l = f->LinkAtPort(nic, plane + 1);
      ASSERT_TRUE(l.has_value());
      EXPECT_EQ(f->node(f->Peer(*l, nic)).plane, plane);
    }
  }
  // No link joins switches of different planes.
  for (const Link& l : f->links()) {
    const Node& a = f->node(l.a.node);
    const Node& b = f->node(l.b.node);
    if (a.is_switch() && b.is_switch()) {
      EXPECT_EQ(a.plane, b.plane);
    }
  }
  // Within one plane every NIC reaches every NIC.
  for (int plane = 0; plane < 2; ++plane) {
    EXPECT_EQ(ReachableNics(*f, f->nics()[0], plane).size(), 4u);
  }
  ExpectUniqueDpids(*f);
  EXPECT_EQ(f->node(*f->FindNode("p1-spine-0")).datapath_id, 0x0000010200000001u);
}

TEST(LeafSpineTest, ImpossibleParametersNameTheParameter) {
  LeafSpineParams p;
  p.leaves = 0;
  p.spines = 2;
  p.servers_per_leaf = 2;
  EXPECT_THAT(std::string(LeafSpine(p).status().message()), StartsWith("leaves:"));
  p.leaves = 2;
  p.spines = -1;
  EXPECT_THAT(std::string(LeafSpine(p).status().message()), StartsWith("spines:"));
  p.spines = 2;
  p.host_speed_bps = 0;
  EXPECT_THAT(std::string(LeafSpine(p).status().message()), StartsWith("host_speed:"));
  p.host_speed_bps = 100 * kGbps;
  p.planes = 0;
  EXPECT_THAT(std::string(LeafSpine(p).status().message()), StartsWith("planes:"));
  p.planes = 1;
  p.leaves = 1'000'000;
  p.servers_per_leaf = 1'000;
  EXPECT_THAT(std::string(LeafSpine(p).status().message()), HasSubstr("too large"));
  p.leaves = 10;
  p.servers_per_leaf = 2;
  p.gpus_per_server = 1'000'000;
  EXPECT_THAT(std::string(LeafSpine(p).status().message()), StartsWith("gpus_per_server:"));
}

TEST(LeafSpineTest, GpusShareNicsRoundRobin) {
  LeafSpineParams p;
  p.leaves = 1;
  p.spines = 1;
  p.servers_per_leaf = 1;
  p.nics_per_server = 2;
  p.gpus_per_server = 4;
  absl::StatusOr<Fabric> f = LeafSpine(p);
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_EQ(f->gpus().size(), 4u);
  EXPECT_EQ(*f->ResolveEndpoint("server-0/gpu-0"), *f->FindNode("server-0/nic-0"));
  EXPECT_EQ(*f->ResolveEndpoint("server-0/gpu-3"), *f->FindNode("server-0/nic-1"));
}

TEST(FatTreeTest, K4CountsAndWiring) {
  absl::StatusOr<Fabric> f = FatTree(4);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(CountSwitches(*f, SwitchRole::kLeaf), 8);
  EXPECT_EQ(CountSwitches(*f, SwitchRole::kSpine), 8);
  EXPECT_EQ(CountSwitches(*f, SwitchRole::kSuperSpine), 4);
  EXPECT_EQ(f->servers().size(), 16u);
  // hosts 16 + edge-agg 4 pods * 2 * 2 + agg-core 8 * 2.
  EXPECT_EQ(f->links().size(), 16u + 16u + 16u);
  for (NodeId id : f->switches()) {
    const Node& n = f->node(id);
    EXPECT_EQ(f->LinksOf(id).size(), 4u) << n.name;  // every switch has k ports in use
    if (n.role != SwitchRole::kSuperSpine) {
      EXPECT_GE(n.pod, 0);
      for (LinkId l : f->LinksOf(id)) {
        const Node& peer = f->node(f->Peer(l, id));
        if (peer.level != 3) {
          EXPECT_EQ(peer.pod, n.pod) << n.name << " " << peer.name;
        }
      }
    } else {
      EXPECT_EQ(n.pod, -1);
      std::set<int> pods;
      for (LinkId l : f->LinksOf(id)) pods.insert(f->node(f->Peer(l, id)).pod);
      EXPECT_EQ(pods.size(), 4u) << n.name;  // one link to each pod
    }
  }
  // Core j*(k/2)+i connects to aggregation j of every pod: core-3 (j=1) to spine-1, -3, -5, -7.
  NodeId core3 = *f->FindNode("core-3");
  std::set<std::string> peers;
  for (LinkId l : f->LinksOf(core3)) peers.insert(f->node(f->Peer(l, core3)).name);
  EXPECT_EQ(peers, (std::set<std::string>{"spine-1", "spine-3", "spine-5", "spine-7"}));
  EXPECT_EQ(ReachableNics(*f, f->nics()[0]).size(), 16u);
  ExpectUniqueDpids(*f);
  // Default cable lengths per tier.
  for (const Link& l : f->links()) {
    const int top = f->node(l.b.node).level;
    EXPECT_EQ(l.cable_length_m, top == 1 ? 5 : (top == 2 ? 40 : 300));
  }
}

TEST(FatTreeTest, LargerKScales) {
  for (int k : {2, 6, 8, 16}) {
    absl::StatusOr<Fabric> f = FatTree(k);
    ASSERT_TRUE(f.ok()) << k << ": " << f.status();
    EXPECT_EQ(f->servers().size(), static_cast<size_t>(k * k * k / 4)) << k;
    EXPECT_EQ(CountSwitches(*f, SwitchRole::kSuperSpine), k * k / 4) << k;
    EXPECT_EQ(f->switches().size(), static_cast<size_t>(k * k + k * k / 4)) << k;
    for (NodeId id : f->switches()) EXPECT_EQ(f->LinksOf(id).size(), static_cast<size_t>(k));
    EXPECT_EQ(ReachableNics(*f, f->nics().back()).size(), f->nics().size());
    ExpectUniqueDpids(*f);
  }
}

TEST(FatTreeTest, OddOrSmallKIsRejected) {
  for (int k : {-2, 0, 1, 3, 7}) {
    absl::StatusOr<Fabric> f = FatTree(k);
    EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument) << k;
    EXPECT_THAT(std::string(f.status().message()), StartsWith("k:")) << k;
  }
}

TEST(RailOptimizedTest, RailSwitchesConnectOneNicPerServer) {
  RailOptimizedParams p;
  p.groups = 2;
  p.servers_per_group = 4;
  p.rails = 2;
  p.spines = 2;
  absl::StatusOr<Fabric> f = RailOptimized(p);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(CountSwitches(*f, SwitchRole::kLeaf), 4);
  EXPECT_EQ(CountSwitches(*f, SwitchRole::kSpine), 2);
  EXPECT_EQ(f->servers().size(), 8u);
  EXPECT_EQ(f->nics().size(), 16u);
  EXPECT_EQ(f->gpus().size(), 16u);
  for (NodeId id : f->switches()) {
    const Node& n = f->node(id);
    if (n.role != SwitchRole::kLeaf) continue;
    EXPECT_EQ(DegreeTo(*f, id, kNicLevel), 4);
    std::set<ServerId> servers;
    for (LinkId l : f->LinksOf(id)) {
      const Node& peer = f->node(f->Peer(l, id));
      if (!peer.is_nic()) continue;
      EXPECT_EQ(peer.rail, n.rail) << n.name << " " << peer.name;
      servers.insert(peer.server);
    }
    EXPECT_EQ(servers.size(), 4u);                // one NIC from each server of the group
    EXPECT_EQ(DegreeTo(*f, id, 2), 2) << n.name;  // one uplink to each spine by default
  }
  NodeId rail = *f->FindNode("rail-1-0");
  EXPECT_EQ(f->Peer(*f->LinkAtPort(rail, 1), rail), *f->FindNode("server-4/nic-0"));
  EXPECT_EQ(ReachableNics(*f, f->nics()[0]).size(), 16u);
  ExpectUniqueDpids(*f);
}

TEST(RailOptimizedTest, PerRailSpinesSeparateRails) {
  RailOptimizedParams p;
  p.groups = 2;
  p.servers_per_group = 2;
  p.rails = 2;
  p.spines = 4;
  p.spine_mode = RailSpineMode::kPerRail;
  absl::StatusOr<Fabric> f = RailOptimized(p);
  ASSERT_TRUE(f.ok()) << f.status();
  for (NodeId id : f->switches()) {
    const Node& n = f->node(id);
    if (n.role != SwitchRole::kSpine) continue;
    EXPECT_EQ(n.rail, n.name == "spine-0" || n.name == "spine-1" ? 0 : 1);
    for (LinkId l : f->LinksOf(id)) EXPECT_EQ(f->node(f->Peer(l, id)).rail, n.rail);
  }
  // Rail 0 NICs reach exactly the rail 0 NICs (4 servers).
  std::set<NodeId> reach = ReachableNics(*f, *f->FindNode("server-0/nic-0"));
  EXPECT_EQ(reach.size(), 4u);
  for (NodeId nic : reach) EXPECT_EQ(f->node(nic).rail, 0);

  p.spines = 3;
  EXPECT_THAT(std::string(RailOptimized(p).status().message()), StartsWith("spines:"));
}

TEST(RailOptimizedTest, MultiPlaneAndOversubscription) {
  RailOptimizedParams p;
  p.groups = 1;
  p.servers_per_group = 4;
  p.rails = 2;
  p.spines = 2;
  p.planes = 2;
  p.oversubscription = 2;  // 400G per rail switch over 2 spines: 1 link each = 200G
  absl::StatusOr<Fabric> f = RailOptimized(p);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(CountSwitches(*f, SwitchRole::kLeaf, 1), 2);
  NodeId rail = *f->FindNode("p1-rail-0-1");
  EXPECT_EQ(f->node(rail).plane, 1);
  EXPECT_EQ(f->node(rail).rail, 1);
  EXPECT_EQ(CapacityTo(*f, rail, kNicLevel), 2 * CapacityTo(*f, rail, 2));
  for (NodeId nic : f->nics()) {
    EXPECT_EQ(f->node(f->Peer(*f->LinkAtPort(nic, 2), nic)).plane, 1);
  }
  ExpectUniqueDpids(*f);
  p.oversubscription = 3;
  EXPECT_THAT(std::string(RailOptimized(p).status().message()), StartsWith("oversubscription:"));
  p.oversubscription = 0;
  p.groups = 0;
  EXPECT_THAT(std::string(RailOptimized(p).status().message()), StartsWith("groups:"));
}

TEST(CableTest, OverridesApplyAndUnknownOverridesFail) {
  LeafSpineParams p;
  p.leaves = 2;
  p.spines = 1;
  p.servers_per_leaf = 1;
  p.cables.leaf_spine_m = 60;
  p.cables.overrides_m["spine-0:2"] = 150;
  p.cables.overrides_m["server-0/nic-0:1"] = 2;
  absl::StatusOr<Fabric> f = LeafSpine(p);
  ASSERT_TRUE(f.ok()) << f.status();
  NodeId spine = *f->FindNode("spine-0");
  EXPECT_EQ(f->link(*f->LinkAtPort(spine, 1)).cable_length_m, 60);
  EXPECT_EQ(f->link(*f->LinkAtPort(spine, 2)).cable_length_m, 150);
  NodeId nic0 = *f->FindNode("server-0/nic-0");
  NodeId nic1 = *f->FindNode("server-1/nic-0");
  EXPECT_EQ(f->link(*f->LinkAtPort(nic0, 1)).cable_length_m, 2);
  EXPECT_EQ(f->link(*f->LinkAtPort(nic1, 1)).cable_length_m, 5);

  p.cables.overrides_m["spine-0:9"] = 1;
  absl::StatusOr<Fabric> bad = LeafSpine(p);
  EXPECT_THAT(std::string(bad.status().message()), StartsWith("cables:"));
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("spine-0:9"));
}

TEST(BuilderTest, SameParametersGiveSameFabric) {
  RailOptimizedParams p;
  p.groups = 2;
  p.servers_per_group = 3;
  p.rails = 4;
  p.spines = 4;
  absl::StatusOr<Fabric> a = RailOptimized(p);
  absl::StatusOr<Fabric> b = RailOptimized(p);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->links().size(), b->links().size());
  for (LinkId l = 0; l < static_cast<LinkId>(a->links().size()); ++l) {
    EXPECT_EQ(a->DescribeLink(l), b->DescribeLink(l));
  }
  for (NodeId n : a->switches()) EXPECT_EQ(a->node(n).datapath_id, b->node(n).datapath_id);
}

}  // namespace
}  // namespace pulse::topology
