#include "controller/placement/lower_bound.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>

#include "absl/strings/str_cat.h"

namespace pulse::controller {
namespace {

using topology::Fabric;
using topology::NodeId;

// A family of disjoint node sets ("cuts"), as a set index per node (-1: in none).
struct CutFamily {
  std::vector<int> set_of;  // by NodeId
  size_t count = 0;
  // The name of set i, built only for the cut that gives the bound (a fabric of 100K NICs would
  // otherwise build 100K strings per placement).
  std::function<std::string(size_t)> name;
};

void Evaluate(const Fabric& fabric, const LinkStatus& status,
              const std::vector<FlowDemand>& demands, const CutFamily& cuts, LowerBound& best) {
  const size_t k = cuts.count;
  if (k == 0) return;
  std::vector<double> out_traffic(k, 0), in_traffic(k, 0), out_cap(k, 0), in_cap(k, 0);
  for (const FlowDemand& d : demands) {
    int s = cuts.set_of[d.src], t = cuts.set_of[d.dst];
    if (s == t) continue;
    if (s >= 0) out_traffic[s] += d.rate_bps;
    if (t >= 0) in_traffic[t] += d.rate_bps;
  }
  for (topology::LinkId l = 0; l < static_cast<topology::LinkId>(fabric.links().size()); ++l) {
    if (!status.IsUp(l)) continue;
    const auto& link = fabric.link(l);
    int a = cuts.set_of[link.a.node], b = cuts.set_of[link.b.node];
    if (a == b) continue;
    if (a >= 0) out_cap[a] += link.capacity_bps, in_cap[a] += link.capacity_bps;
    if (b >= 0) out_cap[b] += link.capacity_bps, in_cap[b] += link.capacity_bps;
  }
  int best_set = -1;
  bool best_out = true;
  for (size_t i = 0; i < k; ++i) {
    if (out_cap[i] > 0 && out_traffic[i] / out_cap[i] > best.max_utilisation) {
      best.max_utilisation = out_traffic[i] / out_cap[i];
      best_set = static_cast<int>(i), best_out = true;
    }
    if (in_cap[i] > 0 && in_traffic[i] / in_cap[i] > best.max_utilisation) {
      best.max_utilisation = in_traffic[i] / in_cap[i];
      best_set = static_cast<int>(i), best_out = false;
    }
  }
  if (best_set >= 0) best.where = absl::StrCat(cuts.name(best_set), best_out ? " out" : " in");
}

// NICs whose every link goes to switches of one set join that set.
void AddSingleHomedNics(const Fabric& fabric, CutFamily& cuts) {
  for (NodeId nic : fabric.nics()) {
    int set = -2;
    for (topology::LinkId l : fabric.LinksOf(nic)) {
      int s = cuts.set_of[fabric.Peer(l, nic)];
      if (set == -2) set = s;
      if (s != set) set = -1;
    }
    cuts.set_of[nic] = set < 0 ? -1 : set;
  }
}

}  // namespace

LowerBound PlacementLowerBound(const Fabric& fabric, const LinkStatus& status,
                               const std::vector<FlowDemand>& demands) {
  LowerBound best;
  const size_t n = fabric.nodes().size();
  // Each NIC alone.
  CutFamily nics{std::vector<int>(n, -1), 0, nullptr};
  std::vector<NodeId> members;
  for (NodeId nic : fabric.nics()) {
    nics.set_of[nic] = static_cast<int>(nics.count++);
    members.push_back(nic);
  }
  nics.name = [&](size_t i) { return absl::StrCat("nic ", fabric.node(members[i]).name); };
  Evaluate(fabric, status, demands, nics, best);
  // Each leaf with its NICs.
  CutFamily leaves{std::vector<int>(n, -1), 0, nullptr};
  std::vector<NodeId> leaf_nodes;
  for (NodeId sw : fabric.switches()) {
    if (fabric.node(sw).role != topology::SwitchRole::kLeaf) continue;
    leaves.set_of[sw] = static_cast<int>(leaves.count++);
    leaf_nodes.push_back(sw);
  }
  leaves.name = [&](size_t i) { return fabric.node(leaf_nodes[i]).name; };
  AddSingleHomedNics(fabric, leaves);
  Evaluate(fabric, status, demands, leaves, best);
  // Each pod (only meaningful with a tier above the pods).
  bool has_super_spine = false;
  for (NodeId sw : fabric.switches()) {
    has_super_spine |= fabric.node(sw).role == topology::SwitchRole::kSuperSpine;
  }
  if (has_super_spine) {
    CutFamily pods{std::vector<int>(n, -1), 0, nullptr};
    std::map<int, int> pod_index;
    std::vector<int> pod_numbers;
    for (NodeId sw : fabric.switches()) {
      const auto& node = fabric.node(sw);
      if (node.role == topology::SwitchRole::kSuperSpine || node.pod < 0) continue;
      auto [it, inserted] = pod_index.emplace(node.pod, static_cast<int>(pod_index.size()));
      if (inserted) pod_numbers.push_back(node.pod);
      pods.set_of[sw] = it->second;
    }
    pods.count = pod_numbers.size();
    pods.name = [&](size_t i) { return absl::StrCat("pod ", pod_numbers[i]); };
    AddSingleHomedNics(fabric, pods);
    Evaluate(fabric, status, demands, pods, best);
  }
  return best;
}

LowerBound UnsplittableBoundAround(const Fabric& fabric, const LinkStatus& status,
                                   const std::vector<FlowDemand>& demands,
                                   const std::vector<double>& background_bps) {
  LowerBound none;
  if (demands.empty() ||
      background_bps.size() != static_cast<size_t>(fabric.num_directed_links())) {
    return none;
  }
  const double rate = demands.front().rate_bps;
  for (const FlowDemand& d : demands) {
    if (!(rate > 0) || std::abs(d.rate_bps - rate) > 1e-9 * rate) return none;
  }
  const size_t n = fabric.nodes().size();
  for (NodeId sw : fabric.switches()) {
    if (fabric.node(sw).role == topology::SwitchRole::kSuperSpine) return none;
  }
  // Each NIC's leaf; spines by index; the up links between each leaf and spine.
  std::vector<NodeId> leaf_of(n, topology::kNoNode);
  for (NodeId nic : fabric.nics()) {
    const auto& links = fabric.LinksOf(nic);
    if (links.size() != 1) return none;
    leaf_of[nic] = fabric.Peer(links[0], nic);
  }
  std::vector<int> spine_index(n, -1);
  int spines = 0;
  for (NodeId sw : fabric.switches()) {
    if (fabric.node(sw).role == topology::SwitchRole::kSpine) spine_index[sw] = spines++;
  }
  // Slots of `rate` left on a channel, and the utilisation one flow more than that would give.
  auto slots = [&](DirectedLinkId d) {
    const double cap = static_cast<double>(fabric.link(Fabric::LinkOf(d)).capacity_bps);
    return static_cast<int>(std::floor((cap - background_bps[d]) / rate + 1e-9));
  };
  auto overload = [&](DirectedLinkId d) {
    const double cap = static_cast<double>(fabric.link(Fabric::LinkOf(d)).capacity_bps);
    if (cap <= 0) return std::numeric_limits<double>::infinity();
    return (background_bps[d] + (std::max(0, slots(d)) + 1) * rate) / cap;
  };
  // Channels from `leaf` up to each spine (out) and down from each spine to `leaf` (in).
  auto channels = [&](NodeId leaf, bool up) {
    std::vector<std::vector<DirectedLinkId>> by_spine(spines);
    for (topology::LinkId l : fabric.LinksOf(leaf)) {
      const NodeId peer = fabric.Peer(l, leaf);
      if (!status.IsUp(l) || spine_index[peer] < 0) continue;
      by_spine[spine_index[peer]].push_back(fabric.DirectedFrom(l, up ? leaf : peer));
    }
    return by_spine;
  };
  LowerBound best;
  for (bool out_side : {true, false}) {
    std::map<NodeId, std::vector<NodeId>> far_by_leaf;  // leaf -> far leaf of each of its flows
    for (const FlowDemand& d : demands) {
      const NodeId a = leaf_of[d.src], b = leaf_of[d.dst];
      if (a == topology::kNoNode || b == topology::kNoNode || a == b) continue;
      far_by_leaf[out_side ? a : b].push_back(out_side ? b : a);
    }
    for (const auto& [leaf, fars] : far_by_leaf) {
      // Right side: this leaf's channels (each with its slots); a flow may take one whose spine
      // has a slot on the far leaf's channel.
      const auto near = channels(leaf, out_side);
      std::vector<DirectedLinkId> right;
      std::vector<int> right_spine, capacity;
      double least_overload = std::numeric_limits<double>::infinity();
      for (int s = 0; s < spines; ++s) {
        for (DirectedLinkId d : near[s]) {
          right.push_back(d);
          right_spine.push_back(s);
          capacity.push_back(std::max(0, slots(d)));
          least_overload = std::min(least_overload, overload(d));
        }
      }
      std::map<NodeId, std::vector<char>> far_room;  // far leaf -> spine has a slot there
      for (NodeId far : fars) {
        if (far_room.count(far) > 0) continue;
        std::vector<char>& room = far_room[far];
        room.assign(spines, 0);
        const auto far_channels = channels(far, !out_side);
        for (int s = 0; s < spines; ++s) {
          for (DirectedLinkId d : far_channels[s]) {
            room[s] |= slots(d) > 0;
            least_overload = std::min(least_overload, overload(d));
          }
        }
      }
      // Maximum b-matching of flows to channel slots by augmenting paths.
      std::vector<std::vector<int>> holder(right.size());
      std::vector<char> seen;
      std::function<bool(size_t)> augment = [&](size_t i) {
        const std::vector<char>& room = far_room[fars[i]];
        for (size_t r = 0; r < right.size(); ++r) {
          if (seen[r] || capacity[r] == 0 || !room[right_spine[r]]) continue;
          seen[r] = 1;
          if (static_cast<int>(holder[r].size()) < capacity[r]) {
            holder[r].push_back(static_cast<int>(i));
            return true;
          }
          for (int& j : holder[r]) {
            if (augment(static_cast<size_t>(j))) {
              j = static_cast<int>(i);
              return true;
            }
          }
        }
        return false;
      };
      size_t matched = 0;
      for (size_t i = 0; i < fars.size(); ++i) {
        seen.assign(right.size(), 0);
        matched += augment(i) ? 1 : 0;
      }
      if (matched == fars.size() || !std::isfinite(least_overload)) continue;
      if (least_overload > best.max_utilisation) {
        best.max_utilisation = least_overload;
        best.where =
            absl::StrCat(fabric.node(leaf).name, out_side ? " out: " : " in: ", matched, " of ",
                         fars.size(), " flows find a spine with room at both ends");
      }
    }
  }
  return best;
}

}  // namespace pulse::controller
