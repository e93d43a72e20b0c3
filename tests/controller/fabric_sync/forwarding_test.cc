#include "controller/fabric_sync/forwarding.h"

#include <memory>
#include <set>

#include "controller/paths/addressing.h"
#include "controller/paths/hosts.h"
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
  TableWalker(const Fabric& fabric, const std::vector<SwitchForwarding>& tables,
              const HostTable* hosts = nullptr)
      : fabric_(fabric), hosts_(hosts) {
    for (const auto& t : tables) by_node_[t.node] = &t;
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
    const SwitchForwarding* table = by_node_.at(at);
    const ForwardingRule* best = nullptr;
    uint32_t src_ip = ServedIpv4(fabric_, hosts_, src);
    uint32_t dst_ip = ServedIpv4(fabric_, hosts_, dst);
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
  const HostTable* hosts_;
  std::map<NodeId, const SwitchForwarding*> by_node_;
};

std::shared_ptr<const Fabric> LabFabric() {
  topology::LeafSpineParams p;
  p.leaves = 4;
  p.spines = 2;
  p.servers_per_leaf = 2;
  return std::make_shared<const Fabric>(*topology::LeafSpine(p));
}

// Job "ring": a ring over the first GPU of each of LabFabric's 8 servers.
JobSpec LabRing() {
  JobSpec spec;
  spec.id = "ring";
  for (int i = 0; i < 8; ++i) spec.endpoints.push_back("server-" + std::to_string(i) + "/gpu-0");
  spec.pattern = CollectivePattern::kRing;
  return spec;
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
  ASSERT_TRUE(placement.PlaceJob(LabRing()).ok());
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
  JobSpec spec = LabRing();
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

// The path oracle's probe-catching rules: one per switch-facing port of every switch, above every
// other rule, sending marked RoCEv2 probes to the controller; none without the option.
TEST(ForwardingTest, ProbeCatchRulesOnlyWhenAsked) {
  auto fabric = LabFabric();
  Placement placement(fabric);
  EcmpGroups groups(fabric);
  const auto plain = ComputeForwarding(*fabric, placement, groups);
  ForwardingOptions options;
  options.probe_marker_dscp = 63;
  const auto caught = ComputeForwarding(*fabric, placement, groups, options);
  ASSERT_EQ(plain.size(), caught.size());
  for (size_t i = 0; i < plain.size(); ++i) {
    const NodeId sw = fabric->switches()[i];
    size_t switch_ports = 0;
    for (LinkId l : fabric->LinksOf(sw))
      if (fabric->node(fabric->Peer(l, sw)).is_switch()) ++switch_ports;
    ASSERT_EQ(caught[i].rules.size(), plain[i].rules.size() + switch_ports);
    for (size_t r = plain[i].rules.size(); r < caught[i].rules.size(); ++r) {
      const auto& rule = caught[i].rules[r];
      EXPECT_EQ(rule.match.dscp, 63);
      EXPECT_EQ(rule.action.output_port, switches::kPortToController);
      EXPECT_GT(rule.priority, options.pin_priority);
    }
  }
}

// With the probe marker, a pinned pair's probes still see the ECMP hash: every pin not at the
// flow's destination leaf has a twin matching the marker that sends to the group towards that
// leaf, above the pin and below the catching rules; pins at the destination leaf have none.
TEST(ForwardingTest, PinsGetAProbeBypassTwinWithTheMarker) {
  auto fabric = LabFabric();
  Placement placement(fabric);
  ASSERT_TRUE(placement.PlaceJob(LabRing()).ok());
  EcmpGroups groups(fabric);
  ForwardingOptions options;
  options.probe_marker_dscp = 63;
  size_t pins_away_from_destination = 0, twins = 0;
  const auto tables = ComputeForwarding(*fabric, placement, groups, options);
  for (const PlacedFlow& flow : placement.FindJob("ring")->flows) {
    const NodeId dst_leaf = fabric->Tail(flow.path.hops.back());
    for (DirectedLinkId hop : flow.path.hops) {
      const NodeId at = fabric->Tail(hop);
      if (fabric->node(at).is_switch() && at != dst_leaf) ++pins_away_from_destination;
    }
  }
  for (const auto& sw : tables) {
    for (const auto& rule : sw.rules) {
      if (rule.priority != options.probe_bypass_priority) continue;
      ++twins;
      EXPECT_EQ(rule.match.dscp, 63);
      EXPECT_TRUE(rule.match.ipv4_src.has_value());
      ASSERT_TRUE(rule.action.group_id.has_value());
      bool group_exists = false;
      for (const auto& g : sw.groups) group_exists |= g.id == *rule.action.group_id;
      EXPECT_TRUE(group_exists);
    }
  }
  EXPECT_GT(pins_away_from_destination, 0u);
  EXPECT_EQ(twins, pins_away_from_destination);
  EXPECT_GT(options.probe_bypass_priority, options.pin_priority);
  EXPECT_LT(options.probe_bypass_priority, options.probe_catch_priority);
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

std::shared_ptr<const Fabric> PerLeafFabric(int leaves, int servers_per_leaf) {
  topology::LeafSpineParams p;
  p.leaves = leaves;
  p.spines = 2;
  p.servers_per_leaf = servers_per_leaf;
  p.address_plan = topology::AddressPlan{topology::AddressPlanKind::kPerLeaf,
                                         topology::ParseIpv4Prefix("10.8.0.0/16").value(), 24};
  return std::make_shared<const Fabric>(*topology::LeafSpine(p));
}

TEST(ForwardingTest, PerLeafPlanForwardsByLeafPrefixes) {
  auto fabric = PerLeafFabric(4, 8);
  Placement placement(fabric);
  JobSpec spec;
  spec.id = "ring";
  for (int i = 0; i < 32; i += 3)
    spec.endpoints.push_back("server-" + std::to_string(i) + "/gpu-0");
  ASSERT_TRUE(placement.PlaceJob(spec).ok());
  EcmpGroups groups(fabric);
  auto tables = ComputeForwarding(*fabric, placement, groups);
  size_t pins = 0;
  for (const auto& flow : placement.FindJob("ring")->flows) pins += flow.path.hops.size() - 1;
  size_t total = 0;
  for (size_t i = 0; i < tables.size(); ++i) {
    const topology::Node& sw = fabric->node(fabric->switches()[i]);
    size_t destination_rules = 0, masked = 0;
    for (const auto& r : tables[i].rules) {
      if (r.match.ipv4_src) continue;  // a pin
      ++destination_rules;
      if (r.match.ipv4_dst_mask != 0xffffffff) {
        ++masked;
        EXPECT_EQ(r.match.ipv4_dst_mask, 0xffffff00u);
        EXPECT_EQ(r.priority, 192);
      }
    }
    // Spines: one prefix per leaf. Leaves: their 8 NICs plus the 3 other leaves' prefixes.
    EXPECT_EQ(destination_rules, sw.role == topology::SwitchRole::kSpine ? 4u : 11u) << sw.name;
    EXPECT_EQ(masked, sw.role == topology::SwitchRole::kSpine ? 4u : 3u) << sw.name;
    total += tables[i].rules.size();
  }
  EXPECT_EQ(total, 2 * 4 + 4 * 11 + pins);
  TableWalker walker(*fabric, tables);
  for (NodeId s : fabric->nics()) {
    for (NodeId d : fabric->nics()) {
      if (s == d) continue;
      std::vector<std::vector<DirectedLinkId>> walks;
      ASSERT_EQ(walker.Reach(s, d, 0, &walks), std::set<NodeId>{d});
      for (const auto& w : walks) EXPECT_TRUE(IsValleyFree(*fabric, Path{w}, s, d));
    }
  }
  for (const PlacedFlow& flow : placement.FindJob("ring")->flows) {
    std::vector<std::vector<DirectedLinkId>> walks;
    walker.Reach(flow.src, flow.dst, flow.udp_src_port, &walks);
    ASSERT_EQ(walks.size(), 1u);
    EXPECT_EQ(walks[0], flow.path.hops);
  }
}

TEST(ForwardingTest, MininetPlanKeepsOneRulePerNic) {
  auto fabric = LabFabric();
  Placement placement(fabric);
  EcmpGroups groups(fabric);
  auto tables = ComputeForwarding(*fabric, placement, groups);
  for (const auto& t : tables) {
    EXPECT_EQ(t.rules.size(), fabric->nics().size());
    for (const auto& r : t.rules) EXPECT_EQ(r.match.ipv4_dst_mask, 0xffffffffu);
  }
}

TEST(ForwardingTest, LearnedAddressesGetExactRulesAboveAnyPrefix) {
  // Leaf 0's NICs are listed in 10.1.0.0/24; leaf 1's are learned, one of them (oddly) inside
  // leaf 0's prefix; one is not learned yet.
  topology::FabricBuilder b;
  b.SetAddressPlan(topology::AddressPlan{topology::AddressPlanKind::kNone});
  NodeId leaf[2] = {b.AddSwitch("leaf-0", topology::SwitchRole::kLeaf),
                    b.AddSwitch("leaf-1", topology::SwitchRole::kLeaf)};
  NodeId spine = b.AddSwitch("spine-0", topology::SwitchRole::kSpine);
  std::vector<NodeId> nics;
  for (int s = 0; s < 6; ++s) {
    topology::ServerId server = b.AddServer("server-" + std::to_string(s));
    NodeId nic = b.AddNic(server, 0);
    b.AddGpu(server, nic);
    b.AddLink(nic, leaf[s / 3], 100 * topology::kGbps);
    if (s < 3) {
      b.SetNicAddress(nic, topology::Ipv4Prefix{0x0A010000u + 10 + static_cast<uint32_t>(s), 24},
                      0x0c0000000001ull + s);
    }
    nics.push_back(nic);
  }
  for (NodeId l : leaf) b.AddLink(l, spine, 100 * topology::kGbps);
  auto fabric = std::make_shared<const Fabric>(std::move(b).Build().value());
  HostTable hosts;
  ASSERT_EQ(hosts.Observe(*fabric, nics[3], 0x0A010063, 0x0c00000000a3, 1).change,
            HostChange::kLearned);  // 10.1.0.99: inside leaf 0's prefix
  ASSERT_EQ(hosts.Observe(*fabric, nics[4], 0x0A020004, 0x0c00000000a4, 1).change,
            HostChange::kLearned);
  Placement placement(fabric);
  EcmpGroups groups(fabric);
  auto tables = ComputeForwarding(*fabric, placement, groups, {}, &hosts);
  TableWalker walker(*fabric, tables, &hosts);
  for (NodeId s : {nics[0], nics[1], nics[3], nics[4]}) {
    for (NodeId d : {nics[0], nics[2], nics[3], nics[4]}) {
      if (s != d) {
        EXPECT_EQ(walker.Reach(s, d, 0), std::set<NodeId>{d});
      }
    }
  }
  EXPECT_TRUE(walker.Reach(nics[0], nics[5], 0).empty());  // not learned: nowhere to send
  // The spine: leaf 0's prefix plus the two learned NICs.
  const auto& spine_rules = tables[2].rules;
  EXPECT_EQ(spine_rules.size(), 3u);
}

// FabricSync's delta: after one more job only the switches on its paths are recomputed, and each
// of them gets exactly the tables the full computation gives it.
TEST(ForwardingTest, AffectedSwitchesAreThoseOnTheNewJobsPathsAndMatchTheFullComputation) {
  auto fabric = LabFabric();
  Placement placement(fabric);
  ASSERT_TRUE(placement.PlaceJob(LabRing()).ok());
  const Placement before = placement;  // a snapshot
  JobSpec pair;
  pair.id = "pair";
  pair.endpoints = {"server-0/gpu-0", "server-7/gpu-0"};
  pair.rate_bps = 1e9;
  ASSERT_TRUE(placement.PlaceJob(pair).ok());

  std::optional<std::vector<NodeId>> only = ForwardingAffectedSwitches(*fabric, before, placement);
  ASSERT_TRUE(only.has_value());
  std::set<NodeId> expected;
  for (const PlacedFlow& flow : placement.FindJob("pair")->flows) {
    for (DirectedLinkId hop : flow.path.hops) {
      if (fabric->node(fabric->Tail(hop)).is_switch()) expected.insert(fabric->Tail(hop));
    }
  }
  EXPECT_EQ(std::set<NodeId>(only->begin(), only->end()), expected);
  EXPECT_LT(only->size(), fabric->switches().size());

  EcmpGroups groups(fabric);
  auto full = ComputeForwarding(*fabric, placement, groups);
  auto partial = ComputeForwarding(*fabric, placement, groups, {}, nullptr, &*only);
  ASSERT_EQ(partial.size(), only->size());
  for (const SwitchForwarding& table : partial) {
    const SwitchForwarding* whole = nullptr;
    for (const SwitchForwarding& t : full) {
      if (t.node == table.node) whole = &t;
    }
    ASSERT_NE(whole, nullptr);
    ASSERT_EQ(table.rules.size(), whole->rules.size());
    ASSERT_EQ(table.groups.size(), whole->groups.size());
    for (size_t i = 0; i < table.rules.size(); ++i) {
      EXPECT_EQ(table.rules[i].priority, whole->rules[i].priority);
      EXPECT_EQ(table.rules[i].match.ipv4_src, whole->rules[i].match.ipv4_src);
      EXPECT_EQ(table.rules[i].match.ipv4_dst, whole->rules[i].match.ipv4_dst);
      EXPECT_EQ(table.rules[i].action.output_port, whole->rules[i].action.output_port);
      EXPECT_EQ(table.rules[i].action.group_id, whole->rules[i].action.group_id);
    }
  }

  // A usability change is not a jobs-only delta: everything is recomputed.
  Placement failed = placement;
  ASSERT_TRUE(failed.SetLinkUp(fabric->LinksOf(fabric->switches().back())[0], false).ok());
  EXPECT_FALSE(ForwardingAffectedSwitches(*fabric, placement, failed).has_value());
  // Nothing changed: nothing to recompute.
  EXPECT_TRUE(ForwardingAffectedSwitches(*fabric, placement, placement)->empty());
}

}  // namespace
}  // namespace pulse::controller
