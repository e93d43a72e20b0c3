#include "controller/forwarding.h"

#include <algorithm>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "controller/addressing.h"
#include "controller/ecmp_hash.h"

namespace pulse::controller {
namespace {

using southbound::ForwardingGroup;
using southbound::ForwardingRule;
using southbound::SwitchForwarding;
using topology::NodeId;

constexpr uint16_t kEthTypeIpv4 = 0x0800;
constexpr uint8_t kIpProtoUdp = 17;

// The leaf a NIC hangs off in `plane`, or kNoNode.
NodeId LeafOfNicInPlane(const Fabric& fabric, NodeId nic, int plane) {
  for (topology::LinkId l : fabric.LinksOf(nic)) {
    NodeId peer = fabric.Peer(l, nic);
    if (fabric.node(peer).is_switch() && fabric.node(peer).plane == plane) return peer;
  }
  return topology::kNoNode;
}

// A key that identifies a pin's match, to keep the first pin when two jobs pin the same flow.
using PinKey = std::tuple<uint32_t, uint32_t, int, int>;

}  // namespace

uint32_t GroupIdForLeaf(const Fabric& fabric, NodeId leaf) {
  // Switch ids are dense and stable for a given fabric; the leaf's position among switches is a
  // stable small number.
  const auto& switches = fabric.switches();
  auto it = std::lower_bound(switches.begin(), switches.end(), leaf);
  return static_cast<uint32_t>(it - switches.begin()) + 1;
}

southbound::RuleMatch PinMatch(const Fabric& fabric, const PlacedFlow& flow) {
  southbound::RuleMatch match;
  match.eth_type = kEthTypeIpv4;
  match.ipv4_src = NicAddress(fabric, flow.src).value_or(0);
  match.ipv4_dst = NicAddress(fabric, flow.dst).value_or(0);
  if (flow.udp_src_port != 0) {
    match.ip_proto = kIpProtoUdp;
    match.udp_src = flow.udp_src_port;
  }
  return match;
}

std::vector<SwitchForwarding> ComputeForwarding(const Fabric& fabric, const Placement& placement,
                                                EcmpGroups& groups,
                                                const ForwardingOptions& options) {
  const auto& switches = fabric.switches();
  std::vector<SwitchForwarding> out(switches.size());
  absl::flat_hash_map<NodeId, size_t> index_of;
  for (size_t i = 0; i < switches.size(); ++i) {
    out[i].dpid = fabric.node(switches[i]).datapath_id;
    index_of[switches[i]] = i;
  }
  const LinkStatus& usable = placement.link_status();

  // Destination forwarding.
  for (size_t i = 0; i < switches.size(); ++i) {
    const NodeId sw = switches[i];
    const int plane = fabric.node(sw).plane;
    absl::flat_hash_set<NodeId> groups_used;
    for (NodeId nic : fabric.nics()) {
      auto address = NicAddress(fabric, nic);
      if (!address.ok()) continue;
      ForwardingRule rule;
      rule.priority = options.destination_priority;
      rule.match.eth_type = kEthTypeIpv4;
      rule.match.ipv4_dst = *address;
      // Delivered here: the NIC hangs off this switch.
      bool delivered = false;
      for (topology::LinkId l : fabric.LinksOf(sw)) {
        if (fabric.Peer(l, sw) == nic && usable.IsUp(l)) {
          rule.action.output_port = fabric.TailPort(fabric.DirectedFrom(l, sw));
          delivered = true;
          break;
        }
      }
      if (!delivered) {
        NodeId leaf = LeafOfNicInPlane(fabric, nic, plane);
        if (leaf == topology::kNoNode) continue;
        const EcmpGroup* group = groups.Find(sw, leaf);
        if (group == nullptr || group->members.empty()) continue;
        rule.action.group_id = GroupIdForLeaf(fabric, leaf);
        groups_used.insert(leaf);
      }
      out[i].rules.push_back(rule);
    }
    std::vector<NodeId> leaves(groups_used.begin(), groups_used.end());
    std::sort(leaves.begin(), leaves.end());
    for (NodeId leaf : leaves) {
      const EcmpGroup* group = groups.Find(sw, leaf);
      ForwardingGroup g;
      g.id = GroupIdForLeaf(fabric, leaf);
      g.kind = southbound::GroupKind::kSelect;
      // The switch hashes with the seed its model says (Open vSwitch: the multipath basis), so
      // the UDP source ports steering chose hold on the switch.
      if (const HashModels* models = placement.hash_models(); models != nullptr) {
        const EcmpHashModel& model = models->For(sw);
        if (model.algorithm == HashAlgorithm::kOvsMultipath)
          g.hash_basis = static_cast<uint16_t>(model.seed);
      }
      for (const EcmpMember& m : group->members) {
        g.buckets.push_back(southbound::GroupBucket{
            static_cast<uint16_t>(std::min<uint32_t>(m.weight, 0xffff)),
            static_cast<southbound::PortNo>(m.port), static_cast<southbound::PortNo>(m.port)});
      }
      out[i].groups.push_back(std::move(g));
    }
  }

  // Pins for placed flows. jobs() is ordered by id, so when two jobs pin the same flow the
  // first id wins deterministically. A steered flow needs no rule: its UDP source port makes
  // the ECMP hash follow its path; only a steered flow left without a port (a move found none)
  // is pinned.
  absl::flat_hash_set<std::pair<size_t, PinKey>> pinned;
  for (const auto& [job_id, job] : placement.jobs()) {
    for (const PlacedFlow& flow : job.flows) {
      if (job.enforcement == Enforcement::kSteer && flow.udp_src_port != 0) continue;
      southbound::RuleMatch match = PinMatch(fabric, flow);
      PinKey key{*match.ipv4_src, *match.ipv4_dst, match.ip_proto.value_or(0),
                 match.udp_src.value_or(0)};
      for (DirectedLinkId hop : flow.path.hops) {
        NodeId at = fabric.Tail(hop);
        if (!fabric.node(at).is_switch()) continue;
        size_t i = index_of.at(at);
        if (!pinned.insert({i, key}).second) continue;
        ForwardingRule rule;
        rule.priority = options.pin_priority;
        rule.match = match;
        rule.action.output_port = fabric.TailPort(hop);
        out[i].rules.push_back(rule);
      }
    }
  }
  return out;
}

}  // namespace pulse::controller
