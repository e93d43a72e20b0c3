#include "controller/paths.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace pulse::controller {
namespace {

// The nodes reachable from `start` by climbing only, each with the up-channels that reach it
// from one level below. parents[node] lists directed (upward) link ids arriving at node.
struct UpReach {
  absl::flat_hash_map<NodeId, std::vector<DirectedLinkId>> parents;
  std::vector<std::vector<NodeId>> by_level;  // by_level[l]: reached nodes at level l
};

UpReach Climb(const Fabric& fabric, const LinkStatus& status, NodeId start) {
  UpReach reach;
  reach.by_level.resize(4);
  reach.by_level[fabric.node(start).level].push_back(start);
  reach.parents[start];
  for (int level = fabric.node(start).level; level < 3; ++level) {
    for (NodeId n : reach.by_level[level]) {
      for (LinkId l : fabric.LinksOf(n)) {
        if (!status.IsUp(l)) continue;
        NodeId peer = fabric.Peer(l, n);
        if (fabric.node(peer).level != level + 1) continue;
        auto [it, inserted] = reach.parents.try_emplace(peer);
        if (inserted) reach.by_level[level + 1].push_back(peer);
        it->second.push_back(fabric.DirectedFrom(l, n));
      }
    }
  }
  return reach;
}

// Every upward channel sequence from the root of `reach` to `top`, appended to `out`.
void UpwardWalks(const Fabric& fabric, const UpReach& reach, NodeId top,
                 std::vector<DirectedLinkId>& suffix,
                 std::vector<std::vector<DirectedLinkId>>& out, size_t limit) {
  const auto& parents = reach.parents.at(top);
  if (parents.empty()) {
    out.emplace_back(suffix.rbegin(), suffix.rend());
    return;
  }
  for (DirectedLinkId up : parents) {
    if (out.size() >= limit) return;
    suffix.push_back(up);
    UpwardWalks(fabric, reach, fabric.Tail(up), suffix, out, limit);
    suffix.pop_back();
  }
}

}  // namespace

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
  UpReach from_src = Climb(fabric, status, src);
  UpReach from_dst = Climb(fabric, status, dst);
  std::vector<Path> paths;
  for (int level = 1; level <= 3 && paths.empty(); ++level) {
    std::vector<NodeId> meeting;
    for (NodeId node : from_src.by_level[level]) {
      if (from_dst.parents.contains(node)) meeting.push_back(node);
    }
    std::sort(meeting.begin(), meeting.end());
    for (NodeId top : meeting) {
      std::vector<DirectedLinkId> scratch;
      std::vector<std::vector<DirectedLinkId>> ups, downs;
      UpwardWalks(fabric, from_src, top, scratch, ups, max_paths);
      UpwardWalks(fabric, from_dst, top, scratch, downs, max_paths);
      for (const auto& up : ups) {
        for (const auto& down_as_up : downs) {
          if (paths.size() >= max_paths) return paths;
          Path p;
          p.hops = up;
          // The destination's climb, reversed and flipped, is the descent.
          for (auto it = down_as_up.rbegin(); it != down_as_up.rend(); ++it) {
            p.hops.push_back(*it ^ 1);
          }
          paths.push_back(std::move(p));
        }
      }
    }
  }
  if (paths.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("no up-down path from '",
                                                      fabric.node(src).name, "' to '",
                                                      fabric.node(dst).name, "'"));
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
