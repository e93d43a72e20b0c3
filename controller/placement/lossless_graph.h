// Incremental PFC deadlock gate: the buffer dependency graph of the lossless paths a placement
// has installed, kept acyclic as paths come and go.
//
// deadlock.h (qos) builds the graph from scratch for a set of paths; placement changes one job or
// one flow at a time and must refuse the change that would close a cycle before anything is
// programmed, so this graph counts how many installed paths use each dependency (paths can be
// removed) and checks only what an addition could have closed.
#ifndef PULSE_CONTROLLER_PLACEMENT_LOSSLESS_GRAPH_H_
#define PULSE_CONTROLLER_PLACEMENT_LOSSLESS_GRAPH_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "controller/paths/paths.h"
#include "controller/qos/deadlock.h"
#include "topology/fabric.h"

namespace pulse::controller {

// Nodes are (directed link, priority) buffers, an edge means "a lossless path enters a switch on
// the first channel and leaves on the second" (as in deadlock.h). Invariant: always acyclic.
//
// Cost: a channel's rank orders up-channels by rising level, then down-channels by falling
// level; every up-down (valley-free) path only climbs in rank, so while all edges climb no cycle
// is possible and AddPath is O(hops). Once an edge that does not climb exists (a bounce,
// down-then-up), AddPath searches from each new edge's head for its tail: O(V + E) worst case.
class LosslessGraph {
 public:
  // `fabric` must outlive the graph.
  explicit LosslessGraph(const Fabric& fabric);

  // Adds one path carried at lossless `priority` (0..7), unless it would close a cycle: then
  // FailedPrecondition whose message names the cycle's buffers (links and priority), and the
  // graph is unchanged. InvalidArgument for a hop that is not a channel, hops that do not
  // connect, or a priority out of range. Adding the same path twice counts it twice.
  absl::Status AddPath(const Path& path, int priority);

  // Undoes one successful AddPath of the same path and priority. Removing a path that was never
  // added is a caller bug: its unmatched dependencies are ignored.
  void RemovePath(const Path& path, int priority);

  // The cycle that adding `path` would close (buffers in dependency order, each waiting for the
  // next and the last for the first), or empty when it would not (or the path is malformed).
  // Leaves the graph unchanged.
  std::vector<BufferNode> CycleIfAdded(const Path& path, int priority);

  // "[prio 3] leaf-1:1->spine-0:2 => [prio 3] ... => (back to the first)".
  std::string DescribeCycle(const std::vector<BufferNode>& cycle) const;

  size_t num_edges() const { return num_edges_; }
  // Edges that do not climb in rank (see above); 0 means the fast path applies.
  size_t num_bounce_edges() const { return bounce_edges_; }

 private:
  // Node index: priority-major, so only the priorities in use get adjacency lists.
  int Index(DirectedLinkId link, int priority) const { return priority * num_directed_ + link; }
  BufferNode NodeOf(int index) const { return {index % num_directed_, index / num_directed_}; }
  // A node's out-neighbours, and beside them (same positions) how many installed paths use
  // each edge.
  std::vector<int>& Out(int index);
  std::vector<int>& Uses(int index);
  bool Climbs(int from, int to) const;
  absl::Status Validate(const Path& path, int priority) const;
  // Edges of `path` at `priority`, as (from, to) node indices.
  void EdgesOf(const Path& path, int priority, std::vector<std::pair<int, int>>& out) const;
  // Adds the edges, leaving those that are new in `added`; Release undoes Acquire.
  void Acquire(const std::vector<std::pair<int, int>>& edges,
               std::vector<std::pair<int, int>>& added);
  void Release(const std::vector<std::pair<int, int>>& edges);
  // A cycle through a new edge (each was added already), or empty.
  std::vector<BufferNode> FindCycleThrough(const std::vector<std::pair<int, int>>& new_edges);

  const Fabric* fabric_;
  int num_directed_ = 0;
  std::vector<int> rank_;  // by DirectedLinkId; -1: a same-level channel
  // Adjacency and use counts by priority, then directed link; a priority's lists are allocated
  // on first use. A node's out-edges go to channels leaving one switch (at most its port count),
  // so a short linear scan of plain ints finds an edge: cheaper than hashing when a job installs
  // millions.
  std::array<std::vector<std::vector<int>>, 8> out_;
  std::array<std::vector<std::vector<int>>, 8> uses_;
  size_t num_edges_ = 0;
  size_t bounce_edges_ = 0;
  // Search scratch, allocated on the first search: visited_[v] == stamp_ means seen.
  std::vector<uint32_t> visited_;
  std::vector<int> parent_;
  uint32_t stamp_ = 0;
  // Per-call scratch (AddPath runs once per flow: millions of times for a large job).
  std::vector<std::pair<int, int>> edges_scratch_;
  std::vector<std::pair<int, int>> added_scratch_;
};

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_PLACEMENT_LOSSLESS_GRAPH_H_
