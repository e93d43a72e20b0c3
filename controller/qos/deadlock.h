// PFC deadlock-freedom check: the buffer dependency graph of lossless paths.
//
// A PFC deadlock needs a cycle of buffers each waiting for the next. Nodes are (directed link,
// lossless priority): the ingress buffer at the head of that channel for that priority. A lossless
// path that enters a switch on channel i and leaves on channel i+1 makes buffer i wait for buffer
// i+1, an edge. The configuration is deadlock-free iff the graph has no cycle. Up-down paths
// on a Clos never close one; "bounces" (down then up again, e.g. after a failure reroute) can.
#ifndef PULSE_CONTROLLER_QOS_DEADLOCK_H_
#define PULSE_CONTROLLER_QOS_DEADLOCK_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "controller/paths/paths.h"
#include "topology/fabric.h"

namespace pulse::controller {

// One buffer: the lossless `priority` queue fed by directed channel `link`.
struct BufferNode {
  DirectedLinkId link = 0;
  int priority = 0;
  bool operator==(const BufferNode& o) const { return link == o.link && priority == o.priority; }
};

class BufferDependencyGraph {
 public:
  explicit BufferDependencyGraph(const Fabric& fabric);

  // Adds the dependencies of one lossless path at `priority` (0..7): hop i -> hop i+1 wherever
  // the node between them is a switch. Errors: a hop that is not a channel of the fabric, hops
  // that do not connect, or a priority out of range; the graph is unchanged then.
  absl::Status AddPath(const Path& path, int priority);

  // A cycle, as the buffers in dependency order (each waits for the next, the last for the
  // first), or nullopt when the graph is acyclic. Iterative DFS, O(V + E).
  std::optional<std::vector<BufferNode>> FindCycle() const;

  // "prio 3: leaf-1:1 -> spine-0:2 => spine-0:3 -> leaf-2:1 => ..." for reports.
  std::string DescribeCycle(const std::vector<BufferNode>& cycle) const;

  size_t num_edges() const { return edge_set_.size(); }

 private:
  int Index(DirectedLinkId link, int priority) const { return link * 8 + priority; }
  const Fabric* fabric_;
  std::vector<std::vector<int>> out_;  // adjacency by node index
  absl::flat_hash_set<std::pair<int, int>> edge_set_;
};

// Result of a check: deadlock_free, or the cycle found and its description. For failure checks
// `failed_link` names the link whose failure produced the cycle.
struct DeadlockReport {
  bool deadlock_free = true;
  std::vector<BufferNode> cycle;
  std::string description;
  topology::LinkId failed_link = topology::kNoLink;
};

// Checks `paths` (every ECMP branch of every lossless flow), each carried on every one of the
// lossless `priorities`. Errors: a malformed path or priority.
absl::StatusOr<DeadlockReport> CheckPaths(const Fabric& fabric, const std::vector<Path>& paths,
                                          const std::vector<int>& priorities);

// The lossless flows of a fabric: each a NIC pair with all its ECMP branches.
struct LosslessFlow {
  NodeId src = topology::kNoNode;
  NodeId dst = topology::kNoNode;
  std::vector<Path> paths;
};

// How a flow is rerouted when links fail: all ECMP paths of src->dst given `status`.
using Rerouter = std::function<absl::StatusOr<std::vector<Path>>(const Fabric&, const LinkStatus&,
                                                                 NodeId src, NodeId dst)>;

// UpDownPaths (paths.h) as a Rerouter.
Rerouter UpDownRerouter();

// For each link of the fabric in turn: marks it down, reroutes (with `reroute`) every flow
// that had a branch over it, keeps the other flows' paths, and checks the union. Returns the
// first cycle found (with failed_link set) or a deadlock-free report. A flow left without any
// path by a failure is dropped from that check (it carries no lossless traffic then).
absl::StatusOr<DeadlockReport> CheckWithSingleLinkFailures(const Fabric& fabric,
                                                           const std::vector<LosslessFlow>& flows,
                                                           const std::vector<int>& priorities,
                                                           const Rerouter& reroute);

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_QOS_DEADLOCK_H_
