#include "controller/fabric_sync/forwarding.h"

#include <algorithm>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "controller/oracle/path_oracle.h"
#include "controller/paths/addressing.h"
#include "controller/paths/ecmp_hash.h"
#include "controller/paths/hosts.h"

namespace pulse::controller {
namespace {

using southbound::ForwardingGroup;
using southbound::ForwardingRule;
using southbound::SwitchForwarding;
using topology::NodeId;

constexpr uint16_t kEthTypeIpv4 = 0x0800;
constexpr uint8_t kIpProtoUdp = 17;

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

southbound::RuleMatch PinMatch(const Fabric& fabric, const PlacedFlow& flow,
                               const HostTable* hosts) {
  southbound::RuleMatch match;
  match.eth_type = kEthTypeIpv4;
  match.ipv4_src = ServedIpv4(fabric, hosts, flow.src);
  match.ipv4_dst = ServedIpv4(fabric, hosts, flow.dst);
  if (flow.udp_src_port != 0) {
    match.ip_proto = kIpProtoUdp;
    match.udp_src = flow.udp_src_port;
  }
  return match;
}

std::optional<std::vector<NodeId>> ForwardingAffectedSwitches(const Fabric& fabric,
                                                              const Placement& before,
                                                              const Placement& after) {
  const LinkStatus& a = before.link_status();
  const LinkStatus& b = after.link_status();
  if (a.size() != b.size() || before.hash_models() != after.hash_models()) return std::nullopt;
  for (size_t l = 0; l < a.size(); ++l) {
    if (a.IsUp(static_cast<topology::LinkId>(l)) != b.IsUp(static_cast<topology::LinkId>(l))) {
      return std::nullopt;
    }
  }
  // Forwarding of a job depends on its enforcement, flows, paths and ports: a job replaced for
  // anything else (its max_link_load after a neighbour came, its bandwidth prediction) is not a
  // change here.
  auto same_forwarding = [](const JobPlacement* a, const JobPlacement* b) {
    if (a == nullptr || b == nullptr || a->enforcement != b->enforcement ||
        a->flows.size() != b->flows.size()) {
      return false;
    }
    for (size_t i = 0; i < a->flows.size(); ++i) {
      const PlacedFlow& x = a->flows[i];
      const PlacedFlow& y = b->flows[i];
      if (x.src != y.src || x.dst != y.dst || x.udp_src_port != y.udp_src_port ||
          !(x.path == y.path)) {
        return false;
      }
    }
    return true;
  };
  absl::flat_hash_set<NodeId> touched;
  for (const std::string& id : ChangedJobs(before.jobs(), after.jobs())) {
    if (same_forwarding(before.FindJob(id), after.FindJob(id))) continue;
    for (const Placement* p : {&before, &after}) {
      const JobPlacement* job = p->FindJob(id);
      if (job == nullptr) continue;
      for (const PlacedFlow& flow : job->flows) {
        for (DirectedLinkId hop : flow.path.hops) {
          const NodeId at = fabric.Tail(hop);
          if (fabric.node(at).is_switch()) touched.insert(at);
        }
      }
    }
  }
  std::vector<NodeId> out(touched.begin(), touched.end());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<SwitchForwarding> ComputeForwarding(const Fabric& fabric, const Placement& placement,
                                                EcmpGroups& groups,
                                                const ForwardingOptions& options,
                                                const HostTable* hosts,
                                                const std::vector<NodeId>* only) {
  std::vector<NodeId> switches = fabric.switches();
  if (only != nullptr) {
    std::vector<NodeId> kept;
    for (NodeId sw : switches) {
      if (std::binary_search(only->begin(), only->end(), sw)) kept.push_back(sw);
    }
    switches = std::move(kept);
  }
  std::vector<SwitchForwarding> out(switches.size());
  absl::flat_hash_map<NodeId, size_t> index_of;
  for (size_t i = 0; i < switches.size(); ++i) {
    out[i].node = switches[i];
    index_of[switches[i]] = i;
  }
  const LinkStatus& usable = placement.link_status();

  // Which NICs each plane must route one by one: those with an address that no prefix of their
  // leaf covers. The others are reached through their leaf's prefixes.
  const PrefixPlan prefixes = options.aggregate ? AggregatablePrefixes(fabric) : PrefixPlan{};
  struct Destination {
    NodeId nic;
    NodeId leaf;
    uint32_t ipv4;
  };
  absl::flat_hash_map<int, std::vector<Destination>> per_nic_by_plane;
  std::vector<uint32_t> served(fabric.nodes().size(), 0);
  for (NodeId nic : fabric.nics()) {
    served[nic] = ServedIpv4(fabric, hosts, nic);
    if (served[nic] == 0) continue;
    for (topology::LinkId l : fabric.LinksOf(nic)) {
      const NodeId leaf = fabric.Peer(l, nic);
      if (!fabric.node(leaf).is_switch()) continue;
      const bool learned = fabric.node(nic).ipv4 == 0;
      if (!learned && CoveredByLeafPrefix(fabric, prefixes, nic, leaf)) continue;
      per_nic_by_plane[fabric.node(leaf).plane].push_back(Destination{nic, leaf, served[nic]});
    }
  }
  std::vector<std::pair<NodeId, const LeafPrefixes*>> prefix_leaves;
  for (const auto& [leaf, lp] : prefixes) prefix_leaves.emplace_back(leaf, &lp);
  std::sort(prefix_leaves.begin(), prefix_leaves.end());

  // Destination forwarding.
  for (size_t i = 0; i < switches.size(); ++i) {
    const NodeId sw = switches[i];
    const int plane = fabric.node(sw).plane;
    absl::flat_hash_set<NodeId> groups_used;
    auto towards_leaf = [&](NodeId leaf, ForwardingRule rule) {
      const std::vector<EcmpMember>* members = groups.FindMembers(sw, leaf);
      if (members == nullptr || members->empty()) return;
      rule.action.group_id = GroupIdForLeaf(fabric, leaf);
      groups_used.insert(leaf);
      out[i].rules.push_back(rule);
    };
    // Local NICs: out of their own port.
    for (topology::LinkId l : fabric.LinksOf(sw)) {
      const NodeId nic = fabric.Peer(l, sw);
      if (!fabric.node(nic).is_nic() || served[nic] == 0 || !usable.IsUp(l)) continue;
      ForwardingRule rule;
      rule.priority = options.destination_priority;
      rule.match.eth_type = kEthTypeIpv4;
      rule.match.ipv4_dst = served[nic];
      rule.action.output_port = fabric.TailPort(fabric.DirectedFrom(l, sw));
      out[i].rules.push_back(rule);
    }
    // Other leaves' prefixes, longest first in priority.
    for (const auto& [leaf, lp] : prefix_leaves) {
      if (leaf == sw || fabric.node(leaf).plane != plane) continue;
      for (const Ipv4Prefix& p : lp->prefixes) {
        ForwardingRule rule;
        rule.priority = static_cast<uint16_t>(options.destination_priority - 32 + p.length);
        rule.match.eth_type = kEthTypeIpv4;
        rule.match.ipv4_dst = p.Network();
        rule.match.ipv4_dst_mask = Ipv4Prefix::Mask(p.length);
        towards_leaf(leaf, rule);
      }
    }
    // NICs no prefix covers: one rule each.
    if (auto it = per_nic_by_plane.find(plane); it != per_nic_by_plane.end()) {
      for (const Destination& d : it->second) {
        if (d.leaf == sw) continue;  // local (delivered above while its link is up)
        ForwardingRule rule;
        rule.priority = options.destination_priority;
        rule.match.eth_type = kEthTypeIpv4;
        rule.match.ipv4_dst = d.ipv4;
        towards_leaf(d.leaf, rule);
      }
    }
    std::vector<NodeId> leaves(groups_used.begin(), groups_used.end());
    std::sort(leaves.begin(), leaves.end());
    for (NodeId leaf : leaves) {
      const std::vector<EcmpMember>* members = groups.FindMembers(sw, leaf);
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
      for (const EcmpMember& m : *members) {
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
      if (only != nullptr) {
        bool here = false;
        for (DirectedLinkId hop : flow.path.hops) here |= index_of.contains(fabric.Tail(hop));
        if (!here) continue;
      }
      southbound::RuleMatch match = PinMatch(fabric, flow, hosts);
      if (*match.ipv4_src == 0 || *match.ipv4_dst == 0) continue;  // an end not yet learned
      PinKey key{*match.ipv4_src, *match.ipv4_dst, match.ip_proto.value_or(0),
                 match.udp_src.value_or(0)};
      for (DirectedLinkId hop : flow.path.hops) {
        NodeId at = fabric.Tail(hop);
        if (!fabric.node(at).is_switch()) continue;
        auto where = index_of.find(at);
        if (where == index_of.end()) continue;  // not asked for
        size_t i = where->second;
        if (!pinned.insert({i, key}).second) continue;
        ForwardingRule rule;
        rule.priority = options.pin_priority;
        rule.match = match;
        rule.action.output_port = fabric.TailPort(hop);
        out[i].rules.push_back(rule);
        const NodeId dst_leaf = fabric.Tail(flow.path.hops.back());
        if (options.probe_marker_dscp && at != dst_leaf) {
          const uint32_t group = GroupIdForLeaf(fabric, dst_leaf);
          const bool has_group =
              std::any_of(out[i].groups.begin(), out[i].groups.end(),
                          [group](const ForwardingGroup& g) { return g.id == group; });
          if (has_group) {
            ForwardingRule bypass;
            bypass.priority = options.probe_bypass_priority;
            bypass.match = match;
            bypass.match.dscp = *options.probe_marker_dscp;
            bypass.action.group_id = group;
            out[i].rules.push_back(bypass);
          }
        }
      }
    }
  }
  if (options.probe_marker_dscp) {
    for (size_t i = 0; i < switches.size(); ++i) {
      for (auto& rule : ProbeCatchRules(fabric, switches[i], *options.probe_marker_dscp,
                                        options.probe_catch_priority))
        out[i].rules.push_back(std::move(rule));
    }
  }
  return out;
}

}  // namespace pulse::controller
