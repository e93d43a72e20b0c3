#include "controller/forwarding.h"

#include <memory>
#include <set>

#include "controller/addressing.h"
#include "gtest/gtest.h"
#include "topology/builders.h"

namespace pulse::controller {
namespace {

using southbound::ForwardingRule;
using southbound::SwitchForwarding;
using topology::NodeId;

// A packet walked through the computed tables the way a switch would: the highest-priority
// matching rule wins; a group may send to any bucket, so every bucket is followed.
class TableWalker {
 public:
  TableWalker(const Fabric& fabric, const std::vector<SwitchForwarding>& tables) : fabric_(fabric) {
    for (const auto& t : tables) by_dpid_[t.dpid] = &t;
  }

  // The set of NICs a packet (src ip, dst ip, udp src port) reaches from `nic`, and every
  // switch-level port sequence it may take.
  std::set<NodeId> Reach(NodeId src_nic, NodeId dst_nic, uint16_t udp_src,
                         std::vector<std::vector<DirectedLinkId>>* walks = nullptr) {
    std::set<NodeId> reached;
    std::vector<DirectedLinkId> walk;
    NodeId leaf_link_peer = topology::kNoNode;
    for (topology::LinkId l : fabric_.LinksOf(src_nic)) {
      walk.push_back(fabric_.DirectedFrom(l, src_nic));
      leaf_link_peer = fabric_.Peer(l, src_nic);
      Walk(leaf_link_peer, src_nic, dst_nic, udp_src, walk, reached, walks, 0);
      walk.pop_back();
      break;  // single-plane fabrics here: the NIC's first port
    }
    return reached;
  }

 private:
  void Walk(NodeId at, NodeId src, NodeId dst, uint16_t udp_src, std::vector<DirectedLinkId>& walk,
            std::set<NodeId>& reached, std::vector<std::vector<DirectedLinkId>>* walks, int depth) {
    ASSERT_LT(depth, 8) << "forwarding loop";
    if (fabric_.node(at).is_nic()) {
      reached.insert(at);
      if (walks) walks->push_back(walk);
      return;
    }
    const SwitchForwarding* table = by_dpid_.at(fabric_.node(at).datapath_id);
    const ForwardingRule* best = nullptr;
    uint32_t src_ip = *NicAddress(fabric_, src);
    uint32_t dst_ip = *NicAddress(fabric_, dst);
    for (const ForwardingRule& r : table->rules) {
      const auto& m = r.match;
      if (m.ipv4_src && (*m.ipv4_src & m.ipv4_src_mask) != (src_ip & m.ipv4_src_mask)) continue;
      if (m.ipv4_dst && (*m.ipv4_dst & m.ipv4_dst_mask) != (dst_ip & m.ipv4_dst_mask)) continue;
      if (m.ip_proto && *m.ip_proto != 17) continue;
      if (m.udp_src && *m.udp_src != udp_src) continue;
      if (best == nullptr || r.priority > best->priority) best = &r;
    }
    if (best == nullptr) return;  // dropped
    std::vector<uint32_t> ports;
    if (best->action.output_port) ports.push_back(*best->action.output_port);
    if (best->action.group_id) {
      for (const auto& g : table->groups) {
        if (g.id != *best->action.group_id) continue;
        for (const auto& b : g.buckets) ports.push_back(b.output_port);
      }
    }
    for (uint32_t port : ports) {
      auto link = fabric_.LinkAtPort(at, static_cast<int32_t>(port));
      ASSERT_TRUE(link.has_value()) << fabric_.node(at).name << " outputs to empty port " << port;
      walk.push_back(fabric_.DirectedFrom(*link, at));
      Walk(fabric_.Peer(*link, at), src, dst, udp_src, walk, reached, walks, depth + 1);
      walk.pop_back();
    }
  }

  const Fabric& fabric_;
  std::map<uint64_t, const SwitchForwarding*> by_dpid_;
};

std::shared_ptr<const Fabric> LabFabric() {
  topology::LeafSpineParams p;
  p.leaves = 4;
  p.spines = 2;
  p.servers_per_leaf = 2;
  return std::make_shared<const Fabric>(*topology::LeafSpine(p));
}

TEST(ForwardingTest, EveryNicReachesEveryOtherNicOnlyOverUpDownPaths) {
  auto fabric = LabFabric();
  Placement placement(fabric);
  EcmpGroups groups(fabric);
  auto tables = ComputeForwarding(*fabric, placement, groups);
  ASSERT_EQ(tables.size(), fabric->switches().size());
  TableWalker walker(*fabric, tables);
  for (NodeId s : fabric->nics()) {
    for (NodeId d : fabric->nics()) {
      if (s == d) continue;
      std::vector<std::vector<DirectedLinkId>> walks;
      std::set<NodeId> reached = walker.Reach(s, d, 0, &walks);
      ASSERT_EQ(reached, std::set<NodeId>{d})
          << fabric->node(s).name << " -> " << fabric->node(d).name;
      for (const auto& w : walks) {
        EXPECT_TRUE(IsValleyFree(*fabric, Path{w}, s, d));
      }
      // Cross-leaf traffic may use both spines (ECMP), same-leaf traffic never leaves the leaf.
      bool same_leaf =
          fabric->Peer(fabric->LinksOf(s)[0], s) == fabric->Peer(fabric->LinksOf(d)[0], d);
      EXPECT_EQ(walks.size(), same_leaf ? 1u : 2u);
    }
  }
}

TEST(ForwardingTest, PinsSendPlacedFlowsExactlyAlongTheirPaths) {
  auto fabric = LabFabric();
  Placement placement(fabric);
  JobSpec spec;
  spec.id = "ring";
  for (int i = 0; i < 8; ++i) spec.endpoints.push_back("server-" + std::to_string(i) + "/gpu-0");
  spec.pattern = CollectivePattern::kRing;
  ASSERT_TRUE(placement.PlaceJob(spec).ok());
  EcmpGroups groups(fabric);
  auto tables = ComputeForwarding(*fabric, placement, groups);
  TableWalker walker(*fabric, tables);
  int cross_leaf = 0;
  for (const PlacedFlow& flow : placement.FindJob("ring")->flows) {
    std::vector<std::vector<DirectedLinkId>> walks;
    walker.Reach(flow.src, flow.dst, flow.udp_src_port, &walks);
    ASSERT_EQ(walks.size(), 1u) << "a pinned flow must have exactly one way";
    EXPECT_EQ(walks[0], flow.path.hops);
    if (flow.path.hops.size() > 2) ++cross_leaf;
  }
  EXPECT_GT(cross_leaf, 0);
}

// A steered job holds its paths through its UDP source ports alone: no pin anywhere.
TEST(ForwardingTest, SteeredJobsInstallNoPerFlowRule) {
  auto fabric = LabFabric();
  PlacementOptions options;
  options.enforcement = Enforcement::kSteer;
  Placement placement(fabric, options);
  HashModels models;
  models.default_model = {HashAlgorithm::kOvsMultipath, 0, kHashAllFields};
  placement.EnableSteering(models);
  JobSpec spec;
  spec.id = "ring";
  for (int i = 0; i < 8; ++i) spec.endpoints.push_back("server-" + std::to_string(i) + "/gpu-0");
  ASSERT_TRUE(placement.PlaceJob(spec).ok());
  EcmpGroups groups(fabric);
  ForwardingOptions forwarding;
  auto steered = ComputeForwarding(*fabric, placement, groups, forwarding);
  for (const auto& sw : steered) {
    for (const auto& rule : sw.rules) EXPECT_NE(rule.priority, forwarding.pin_priority);
  }
  spec.id = "pinned";
  spec.enforcement = Enforcement::kPin;
  ASSERT_TRUE(placement.PlaceJob(spec).ok());
  int pins = 0;
  for (const auto& sw : ComputeForwarding(*fabric, placement, groups, forwarding)) {
    for (const auto& rule : sw.rules) pins += rule.priority == forwarding.pin_priority;
  }
  EXPECT_GT(pins, 0);
}

TEST(ForwardingTest, FailedUplinkLeavesGroupsAndNoRuleUsesIt) {
  auto fabric = LabFabric();
  Placement placement(fabric);
  NodeId leaf0 = *fabric->FindNode("leaf-0");
  NodeId spine0 = *fabric->FindNode("spine-0");
  topology::LinkId cut = topology::kNoLink;
  for (topology::LinkId l : fabric->LinksOf(leaf0)) {
    if (fabric->Peer(l, leaf0) == spine0) cut = l;
  }
  ASSERT_NE(cut, topology::kNoLink);
  ASSERT_TRUE(placement.SetLinkUp(cut, false).ok());
  EcmpGroups groups(fabric);
  groups.SetLinkUp(cut, false);
  auto tables = ComputeForwarding(*fabric, placement, groups);
  TableWalker walker(*fabric, tables);
  for (NodeId s : fabric->nics()) {
    for (NodeId d : fabric->nics()) {
      if (s == d) continue;
      std::vector<std::vector<DirectedLinkId>> walks;
      EXPECT_EQ(walker.Reach(s, d, 0, &walks), std::set<NodeId>{d});
      for (const auto& w : walks) {
        for (DirectedLinkId hop : w) EXPECT_NE(Fabric::LinkOf(hop), cut);
      }
    }
  }
}

TEST(ForwardingTest, GroupIdsAreStableAndDistinctPerLeaf) {
  auto fabric = LabFabric();
  std::set<uint32_t> ids;
  for (NodeId sw : fabric->switches()) {
    if (fabric->node(sw).role == topology::SwitchRole::kLeaf) {
      EXPECT_TRUE(ids.insert(GroupIdForLeaf(*fabric, sw)).second);
    }
  }
  EXPECT_EQ(ids.size(), 4u);
  EXPECT_GE(*ids.begin(), 1u);
}

}  // namespace
}  // namespace pulse::controller
