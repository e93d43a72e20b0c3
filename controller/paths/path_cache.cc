#include "controller/paths/path_cache.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace pulse::controller {

namespace {

// Memoised C(node) over a next-hop DAG (see EcmpWeights). Children are evaluated before a node's
// own grouping, so the scratch vectors are shared by all nodes without clashing.
struct WeightSolver {
  const Fabric& fabric;
  NodeId destination;
  const absl::flat_hash_map<NodeId, std::vector<DirectedLinkId>>& next_hops;
  absl::flat_hash_map<NodeId, double> capacity;
  absl::flat_hash_map<NodeId, std::vector<WeightedHop>> weights;
  std::vector<std::pair<NodeId, size_t>> by_head;  // (next node, index into hops)
  std::vector<double> share;                       // per hop: share of its channel capacity

  double Reach(NodeId node, int depth) {
    if (node == destination) return std::numeric_limits<double>::infinity();
    if (auto it = capacity.find(node); it != capacity.end()) return it->second;
    auto found = next_hops.find(node);
    // Depth is bounded by the DAG's length (at most 6 hops on a 3-tier Clos).
    if (found == next_hops.end() || depth > 16) return 0;
    const std::vector<DirectedLinkId>& hops = found->second;
    capacity[node] = 0;  // guards against a cycle in bad input
    for (DirectedLinkId d : hops) Reach(fabric.Head(d), depth + 1);
    const double total = ShareByNextNode(
        fabric, hops, [&](size_t i) { return fabric.Head(hops[i]); },
        [&](NodeId h, size_t) {
          if (h == destination) return std::numeric_limits<double>::infinity();
          auto it = capacity.find(h);
          return it != capacity.end() ? it->second : 0.0;
        },
        by_head, share);
    std::vector<WeightedHop> out;
    out.reserve(hops.size());
    for (size_t i = 0; i < hops.size(); ++i) {
      const double cap = static_cast<double>(fabric.link(Fabric::LinkOf(hops[i])).capacity_bps);
      out.push_back(WeightedHop{hops[i], cap * share[i]});
    }
    weights[node] = std::move(out);
    capacity[node] = total;
    return total;
  }
};

}  // namespace

absl::flat_hash_map<NodeId, std::vector<WeightedHop>> EcmpWeights(
    const Fabric& fabric, NodeId destination,
    const absl::flat_hash_map<NodeId, std::vector<DirectedLinkId>>& next_hops) {
  WeightSolver solver{fabric, destination, next_hops, {}, {}, {}, {}};
  solver.capacity.reserve(next_hops.size());
  solver.weights.reserve(next_hops.size());
  for (const auto& [node, hops] : next_hops) solver.Reach(node, 0);
  return std::move(solver.weights);
}

PathCache::PathCache(std::shared_ptr<const Fabric> fabric, size_t max_walks_per_pair)
    : fabric_(std::move(fabric)), max_walks_(max_walks_per_pair), status_(*fabric_) {}

LeafPathSet PathCache::Compute(NodeId src_leaf, NodeId dst_leaf) {
  ++computations_;
  const Fabric& f = *fabric_;
  LeafPathSet set;
  set.walks = ShortestUpDownWalks(f, status_, src_leaf, dst_leaf, max_walks_);
  if (set.walks.empty()) return set;
  set.top_level = f.node(src_leaf).level;
  for (DirectedLinkId d : set.walks.front()) {
    set.top_level = std::max(set.top_level, f.node(f.Head(d)).level);
  }
  std::vector<DirectedLinkId> channels;
  for (const auto& walk : set.walks) channels.insert(channels.end(), walk.begin(), walk.end());
  std::sort(channels.begin(), channels.end());
  channels.erase(std::unique(channels.begin(), channels.end()), channels.end());
  absl::flat_hash_map<NodeId, std::vector<DirectedLinkId>> next;
  next.reserve(channels.size());
  for (DirectedLinkId d : channels) {
    next[f.Tail(d)].push_back(d);
    set.links.push_back(Fabric::LinkOf(d));
  }
  std::sort(set.links.begin(), set.links.end());
  set.links.erase(std::unique(set.links.begin(), set.links.end()), set.links.end());
  set.next_hops = EcmpWeights(f, dst_leaf, next);
  return set;
}

absl::StatusOr<const LeafPathSet*> PathCache::LeafPaths(NodeId src_leaf, NodeId dst_leaf) {
  const Fabric& f = *fabric_;
  for (NodeId n : {src_leaf, dst_leaf}) {
    if (n < 0 || n >= static_cast<NodeId>(f.nodes().size()) || !f.node(n).is_switch() ||
        f.node(n).level != topology::LevelOf(topology::SwitchRole::kLeaf)) {
      return absl::InvalidArgumentError(absl::StrCat("path cache: node ", n, " is not a leaf"));
    }
  }
  const uint64_t key = Key(src_leaf, dst_leaf);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    it = entries_.emplace(key, Compute(src_leaf, dst_leaf)).first;
    entries_by_leaf_[src_leaf].push_back(key);
    if (dst_leaf != src_leaf) entries_by_leaf_[dst_leaf].push_back(key);
  }
  return &it->second;
}

absl::StatusOr<std::vector<Path>> PathCache::Paths(NodeId src_nic, NodeId dst_nic,
                                                   size_t max_paths) {
  const Fabric& f = *fabric_;
  const int n = static_cast<int>(f.nodes().size());
  if (src_nic < 0 || src_nic >= n || !f.node(src_nic).is_nic()) {
    return absl::InvalidArgumentError(absl::StrCat("path source ", src_nic, " is not a NIC"));
  }
  if (dst_nic < 0 || dst_nic >= n || !f.node(dst_nic).is_nic()) {
    return absl::InvalidArgumentError(absl::StrCat("path destination ", dst_nic, " is not a NIC"));
  }
  if (src_nic == dst_nic) {
    return absl::InvalidArgumentError(
        absl::StrCat("flow from '", f.node(src_nic).name, "' to itself"));
  }
  // (first hop, last hop, leaf walks) for every pair of attachments, keeping the shortest.
  struct Combo {
    DirectedLinkId first;
    DirectedLinkId last;
    const LeafPathSet* set;
  };
  std::vector<Combo> best;
  size_t best_len = std::numeric_limits<size_t>::max();
  for (LinkId up : f.LinksOf(src_nic)) {
    if (!status_.IsUp(up)) continue;
    for (LinkId down : f.LinksOf(dst_nic)) {
      if (!status_.IsUp(down)) continue;
      NodeId src_leaf = f.Peer(up, src_nic), dst_leaf = f.Peer(down, dst_nic);
      auto set = LeafPaths(src_leaf, dst_leaf);
      if (!set.ok() || (*set)->walks.empty()) continue;
      const size_t len = (*set)->walks.front().size() + 2;
      if (len > best_len) continue;
      if (len < best_len) best.clear();
      best_len = len;
      best.push_back(Combo{f.DirectedFrom(up, src_nic), f.DirectedFrom(down, dst_leaf), *set});
    }
  }
  std::vector<Path> paths;
  for (const Combo& c : best) {
    for (const auto& walk : c.set->walks) {
      if (paths.size() >= max_paths) break;
      Path p;
      p.hops.reserve(walk.size() + 2);
      p.hops.push_back(c.first);
      p.hops.insert(p.hops.end(), walk.begin(), walk.end());
      p.hops.push_back(c.last);
      paths.push_back(std::move(p));
    }
  }
  if (paths.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no up-down path from '", f.node(src_nic).name, "' to '", f.node(dst_nic).name, "'"));
  }
  return paths;
}

const std::vector<NodeId>& PathCache::LeavesBelow(NodeId node) {
  auto it = leaves_below_.find(node);
  if (it != leaves_below_.end()) return it->second;
  const Fabric& f = *fabric_;
  const int leaf_level = topology::LevelOf(topology::SwitchRole::kLeaf);
  std::vector<NodeId> leaves;
  absl::flat_hash_set<NodeId> seen{node};
  std::vector<NodeId> stack{node};
  while (!stack.empty()) {
    NodeId n = stack.back();
    stack.pop_back();
    if (f.node(n).level == leaf_level) {
      leaves.push_back(n);
      continue;
    }
    for (LinkId l : f.LinksOf(n)) {
      NodeId peer = f.Peer(l, n);
      if (f.node(peer).level == f.node(n).level - 1 && seen.insert(peer).second) {
        stack.push_back(peer);
      }
    }
  }
  std::sort(leaves.begin(), leaves.end());
  return leaves_below_.emplace(node, std::move(leaves)).first->second;
}

PathCacheUpdate PathCache::SetLinkUp(LinkId link, bool up) {
  return SetLinksUp(std::vector<LinkId>{link}, up);
}

PathCacheUpdate PathCache::SetSwitchUp(NodeId node, bool up) {
  if (node < 0 || node >= static_cast<NodeId>(fabric_->nodes().size())) return {};
  return SetLinksUp(fabric_->LinksOf(node), up);
}

PathCacheUpdate PathCache::SetLinksUp(const std::vector<LinkId>& links, bool up) {
  const Fabric& f = *fabric_;
  PathCacheUpdate update;
  std::vector<LinkId> changed_links;
  for (LinkId l : links) {
    if (l < 0 || l >= static_cast<LinkId>(f.links().size()) || status_.IsUp(l) == up) continue;
    status_.SetUp(l, up);
    changed_links.push_back(l);
  }
  std::sort(changed_links.begin(), changed_links.end());
  absl::flat_hash_set<uint64_t> checked;
  std::vector<uint64_t> to_recompute;
  for (LinkId l : changed_links) {
    // Link.a is the lower end (FabricBuilder keeps it so).
    const NodeId lower = f.link(l).a.node, upper = f.link(l).b.node;
    if (!f.node(lower).is_switch()) continue;  // NIC links never appear in leaf walks
    const int upper_level = f.node(upper).level;
    for (NodeId leaf : LeavesBelow(lower)) {
      auto by_leaf = entries_by_leaf_.find(leaf);
      if (by_leaf == entries_by_leaf_.end()) continue;
      for (uint64_t key : by_leaf->second) {
        const LeafPathSet& e = entries_.at(key);
        bool touch;
        if (up) {
          // A new shortest path through the link climbs to upper_level at least.
          touch = e.walks.empty() || e.top_level >= upper_level;
        } else {
          touch = std::binary_search(e.links.begin(), e.links.end(), l);
        }
        if (checked.insert(key).second) ++update.entries_checked;
        if (touch) to_recompute.push_back(key);
      }
    }
  }
  std::sort(to_recompute.begin(), to_recompute.end());
  to_recompute.erase(std::unique(to_recompute.begin(), to_recompute.end()), to_recompute.end());
  for (uint64_t key : to_recompute) {
    const NodeId a = static_cast<NodeId>(key >> 32), b = static_cast<NodeId>(key & 0xffffffffu);
    LeafPathSet fresh = Compute(a, b);
    ++update.entries_recomputed;
    LeafPathSet& old = entries_.at(key);
    if (fresh.walks != old.walks || fresh.next_hops.size() != old.next_hops.size()) {
      update.changed.emplace_back(a, b);
    } else {
      for (const auto& [node, hops] : fresh.next_hops) {
        const auto& before = old.next_hops.at(node);
        bool same = before.size() == hops.size();
        for (size_t i = 0; same && i < hops.size(); ++i) {
          same = before[i].link == hops[i].link && before[i].weight_bps == hops[i].weight_bps;
        }
        if (!same) {
          update.changed.emplace_back(a, b);
          break;
        }
      }
    }
    old = std::move(fresh);
  }
  return update;
}

}  // namespace pulse::controller
