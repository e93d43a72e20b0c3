// A cache of shortest up-down path sets between leaf pairs, updated incrementally on failures.
//
// NIC pairs behind the same two leaves share everything but their first and last hop, so the
// cache keeps leaf-to-leaf walks and composes NIC paths on demand. Entries are computed on first
// use and kept. When a link fails only the entries whose walks cross it are recomputed; when a
// link comes back only the entries that could gain a shortest path through it (one end climbs
// through the link's lower node and the entry's paths climb at least as high as its upper node,
// or the entry has no path at all). The counters make that checkable.
//
// Weighted ECMP: when surviving capacity is unequal (a leaf lost one of two parallel uplinks, a
// spine lost a downlink) each next hop of an entry gets a weight equal to the bottleneck
// capacity the paths through it can carry (see EcmpWeights).
#ifndef PULSE_CONTROLLER_PATHS_PATH_CACHE_H_
#define PULSE_CONTROLLER_PATHS_PATH_CACHE_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/statusor.h"
#include "controller/paths/paths.h"
#include "topology/fabric.h"

namespace pulse::controller {

// One egress channel of a node with its weighted-ECMP weight: the capacity (bits per second)
// that the shortest paths through this channel can carry to the destination, limited by their
// bottleneck links and shared fairly among parallel channels into the same next node.
struct WeightedHop {
  DirectedLinkId link = -1;
  double weight_bps = 0;
};

// Weighted ECMP over a shortest-path DAG towards one destination. `next_hops` maps each node to
// its egress channels on the DAG (every channel must head towards `destination`, without
// cycles). For each node, C(node) = sum over next nodes h of min(capacity of its channels to h,
// C(h)), with C(destination) infinite; a channel's weight is its share (by link capacity) of
// min(capacity to h, C(h)). Returns the weights per node, in the order of `next_hops`.
absl::flat_hash_map<NodeId, std::vector<WeightedHop>> EcmpWeights(
    const Fabric& fabric, NodeId destination,
    const absl::flat_hash_map<NodeId, std::vector<DirectedLinkId>>& next_hops);

// EcmpWeights' rule at one node, for every place that weighs a group (EcmpWeights, EcmpGroups),
// so all of them compute the same doubles: `hops` grouped by the node each leads to
// (head_of(i) is Head(hops[i])); per next node h, min(capacity of the channels to h,
// reach_of(h, i) for any of them i) shared among those channels by capacity. Fills share[i]
// (hop i's fraction of its link capacity) and returns the node's C(node). `by_head` is scratch.
template <typename HeadOf, typename ReachOf>
double ShareByNextNode(const Fabric& fabric, const std::vector<DirectedLinkId>& hops,
                       HeadOf head_of, ReachOf reach_of,
                       std::vector<std::pair<NodeId, size_t>>& by_head,
                       std::vector<double>& share) {
  by_head.clear();
  for (size_t i = 0; i < hops.size(); ++i) by_head.emplace_back(head_of(i), i);
  std::sort(by_head.begin(), by_head.end());  // (node, index): no hashing per node
  share.assign(hops.size(), 0);
  double total = 0;
  for (size_t a = 0; a < by_head.size();) {
    size_t b = a;
    double channel_bps = 0;
    for (; b < by_head.size() && by_head[b].first == by_head[a].first; ++b) {
      channel_bps +=
          static_cast<double>(fabric.link(Fabric::LinkOf(hops[by_head[b].second])).capacity_bps);
    }
    const double through = std::min(channel_bps, reach_of(by_head[a].first, by_head[a].second));
    total += through;
    for (size_t k = a; k < b; ++k) share[by_head[k].second] = through / channel_bps;
    a = b;
  }
  return total;
}

// The shortest up-down walks from one leaf to another, with weights.
struct LeafPathSet {
  std::vector<std::vector<DirectedLinkId>> walks;  // leaf -> ... -> leaf; one empty walk if same
  int top_level = 0;                               // level where the walks turn (0 if none)
  std::vector<LinkId> links;                       // every link the walks use, sorted, unique
  // Weighted ECMP at every switch on the walks (the source leaf included), towards the dst leaf.
  absl::flat_hash_map<NodeId, std::vector<WeightedHop>> next_hops;
};

// What an update did: how many cached entries it looked at and recomputed, and which leaf
// pairs' path sets changed (so placement can re-place only their flows).
struct PathCacheUpdate {
  size_t entries_checked = 0;
  size_t entries_recomputed = 0;
  std::vector<std::pair<NodeId, NodeId>> changed;  // (src leaf, dst leaf)
};

class PathCache {
 public:
  // `max_walks_per_pair` bounds each leaf pair's path set (deterministic prefix, as UpDownPaths).
  explicit PathCache(std::shared_ptr<const Fabric> fabric,
                     size_t max_walks_per_pair = std::numeric_limits<size_t>::max());

  const Fabric& fabric() const { return *fabric_; }
  const LinkStatus& status() const { return status_; }

  // The walks from `src_leaf` to `dst_leaf` (any two switches of level 1). InvalidArgument if
  // either is not a leaf. Computed on first use; the reference stays valid until the next update.
  absl::StatusOr<const LeafPathSet*> LeafPaths(NodeId src_leaf, NodeId dst_leaf);

  // All shortest up-down NIC-to-NIC paths over up links (the same set as UpDownPaths, built from
  // cached leaf walks), at most `max_paths`. Same errors as UpDownPaths.
  absl::StatusOr<std::vector<Path>> Paths(NodeId src_nic, NodeId dst_nic,
                                          size_t max_paths = std::numeric_limits<size_t>::max());

  // Link or switch failure (up = false) and recovery (up = true). A switch is all its links.
  // Setting a link to the state it already has changes nothing.
  PathCacheUpdate SetLinkUp(LinkId link, bool up);
  PathCacheUpdate SetSwitchUp(NodeId node, bool up);
  PathCacheUpdate SetLinksUp(const std::vector<LinkId>& links, bool up);

  size_t size() const { return entries_.size(); }
  // Entries computed so far, first computations and recomputations together.
  size_t computations() const { return computations_; }

 private:
  static uint64_t Key(NodeId a, NodeId b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  LeafPathSet Compute(NodeId src_leaf, NodeId dst_leaf);
  const std::vector<NodeId>& LeavesBelow(NodeId node);

  std::shared_ptr<const Fabric> fabric_;
  size_t max_walks_;
  LinkStatus status_;
  absl::node_hash_map<uint64_t, LeafPathSet> entries_;  // stable addresses
  // leaf -> keys of the entries with that leaf as source or destination.
  absl::flat_hash_map<NodeId, std::vector<uint64_t>> entries_by_leaf_;
  // switch -> the leaves it is an up-ancestor (or self) of in the full fabric; filled lazily.
  absl::flat_hash_map<NodeId, std::vector<NodeId>> leaves_below_;
  size_t computations_ = 0;
};

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_PATHS_PATH_CACHE_H_
