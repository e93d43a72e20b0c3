#include "controller/paths/paths.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace pulse::controller {
namespace {

constexpr int kTopLevel = 3;

// The nodes reachable from `start` by climbing only, each with the up-channels that reach it
// from one level below, kept as per-node linked lists in flat arrays (no allocation per node).
// Climbing is done one level at a time, on demand: the search stops at the lowest level where
// the two ends meet, so a leaf-to-leaf query never scans the (wide) downlink lists of spines.
struct UpReach {
  absl::flat_hash_map<NodeId, int> slot;      // node -> index into first/last
  std::vector<int> first, last;               // per slot: first/last parent edge, -1 if none
  std::vector<DirectedLinkId> edge_channel;   // parent edges: the upward channel
  std::vector<int> edge_next;                 // next parent edge of the same node, or -1
  std::vector<std::vector<NodeId>> by_level;  // by_level[l]: reached nodes at level l
  int climbed_to = 0;                         // highest level whose nodes are all known

  bool Contains(NodeId n) const { return slot.contains(n); }
  void AddParent(NodeId n, DirectedLinkId channel) {
    const int s = slot.at(n);
    const int e = static_cast<int>(edge_channel.size());
    edge_channel.push_back(channel);
    edge_next.push_back(-1);
    if (last[s] < 0) {
      first[s] = e;
    } else {
      edge_next[last[s]] = e;
    }
    last[s] = e;
  }
  // Adds `n`; false if it was already there.
  bool Add(NodeId n) {
    auto [it, inserted] = slot.try_emplace(n, static_cast<int>(first.size()));
    if (inserted) {
      first.push_back(-1);
      last.push_back(-1);
    }
    return inserted;
  }
};

UpReach StartClimb(const Fabric& fabric, NodeId start) {
  UpReach reach;
  reach.by_level.resize(kTopLevel + 1);
  const int level = fabric.node(start).level;
  reach.by_level[level].push_back(start);
  reach.Add(start);
  reach.climbed_to = level;
  return reach;
}

// Extends `reach` until the nodes at `level` are known.
void ClimbTo(const Fabric& fabric, const LinkStatus& status, UpReach& reach, int level) {
  for (; reach.climbed_to < level; ++reach.climbed_to) {
    const int from_level = reach.climbed_to;
    for (NodeId n : reach.by_level[from_level]) {
      for (LinkId l : fabric.LinksOf(n)) {
        if (!status.IsUp(l)) continue;
        NodeId peer = fabric.Peer(l, n);
        if (fabric.node(peer).level != from_level + 1) continue;
        if (reach.Add(peer)) reach.by_level[from_level + 1].push_back(peer);
        reach.AddParent(peer, fabric.DirectedFrom(l, n));
      }
    }
  }
}

// Every upward channel sequence from the root of `reach` to `top`, appended to `out`.
void UpwardWalks(const Fabric& fabric, const UpReach& reach, NodeId top,
                 std::vector<DirectedLinkId>& suffix, std::vector<std::vector<DirectedLinkId>>& out,
                 size_t limit) {
  int e = reach.first[reach.slot.at(top)];
  if (e < 0) {
    if (out.size() < limit) out.emplace_back(suffix.rbegin(), suffix.rend());
    return;
  }
  for (; e >= 0; e = reach.edge_next[e]) {
    if (out.size() >= limit) return;
    const DirectedLinkId up = reach.edge_channel[e];
    suffix.push_back(up);
    UpwardWalks(fabric, reach, fabric.Tail(up), suffix, out, limit);
    suffix.pop_back();
  }
}

}  // namespace

std::vector<std::vector<DirectedLinkId>> ShortestUpDownWalks(const Fabric& fabric,
                                                             const LinkStatus& status, NodeId from,
                                                             NodeId to, size_t max_walks) {
  std::vector<std::vector<DirectedLinkId>> walks;
  if (max_walks == 0) return walks;
  if (from == to) {
    walks.emplace_back();
    return walks;
  }
  UpReach from_src = StartClimb(fabric, from);
  UpReach from_dst = StartClimb(fabric, to);
  const int lowest = std::max(fabric.node(from).level, fabric.node(to).level);
  for (int level = lowest; level <= kTopLevel && walks.empty(); ++level) {
    ClimbTo(fabric, status, from_src, level);
    ClimbTo(fabric, status, from_dst, level);
    std::vector<NodeId> meeting;
    for (NodeId node : from_src.by_level[level]) {
      if (from_dst.Contains(node)) meeting.push_back(node);
    }
    std::sort(meeting.begin(), meeting.end());
    std::vector<DirectedLinkId> scratch;
    std::vector<std::vector<DirectedLinkId>> ups, downs;
    for (NodeId top : meeting) {
      ups.clear();
      downs.clear();
      UpwardWalks(fabric, from_src, top, scratch, ups, max_walks);
      UpwardWalks(fabric, from_dst, top, scratch, downs, max_walks);
      for (const auto& up : ups) {
        for (const auto& down_as_up : downs) {
          if (walks.size() >= max_walks) return walks;
          std::vector<DirectedLinkId> walk = up;
          walk.reserve(up.size() + down_as_up.size());
          // The destination's climb, reversed and flipped, is the descent.
          for (auto it = down_as_up.rbegin(); it != down_as_up.rend(); ++it) {
            walk.push_back(*it ^ 1);
          }
          walks.push_back(std::move(walk));
        }
      }
    }
  }
  return walks;
}

absl::StatusOr<std::vector<Path>> UpDownPaths(const Fabric& fabric, const LinkStatus& status,
                                              NodeId src, NodeId dst, size_t max_paths) {
  const int n = static_cast<int>(fabric.nodes().size());
  if (src < 0 || src >= n || !fabric.node(src).is_nic()) {
    return absl::InvalidArgumentError(absl::StrCat("path source ", src, " is not a NIC"));
  }
  if (dst < 0 || dst >= n || !fabric.node(dst).is_nic()) {
    return absl::InvalidArgumentError(absl::StrCat("path destination ", dst, " is not a NIC"));
  }
  if (src == dst) {
    return absl::InvalidArgumentError(
        absl::StrCat("flow from '", fabric.node(src).name, "' to itself"));
  }
  if (status.size() != fabric.links().size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "link status covers ", status.size(), " links but the fabric has ", fabric.links().size()));
  }
  std::vector<Path> paths;
  for (auto& walk : ShortestUpDownWalks(fabric, status, src, dst, max_paths)) {
    paths.push_back(Path{std::move(walk)});
  }
  if (paths.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no up-down path from '", fabric.node(src).name, "' to '", fabric.node(dst).name, "'"));
  }
  return paths;
}

bool IsValleyFree(const Fabric& fabric, const Path& path, NodeId src, NodeId dst) {
  if (path.hops.empty()) return false;
  NodeId at = src;
  bool descending = false;
  for (DirectedLinkId hop : path.hops) {
    if (hop < 0 || hop >= fabric.num_directed_links()) return false;
    if (fabric.Tail(hop) != at) return false;
    NodeId next = fabric.Head(hop);
    bool up = fabric.node(next).level > fabric.node(at).level;
    if (up && descending) return false;
    if (!up) descending = true;
    at = next;
  }
  return at == dst;
}

}  // namespace pulse::controller
