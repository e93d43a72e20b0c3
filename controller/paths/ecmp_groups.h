// Per-switch ECMP next-hop groups: for every switch and destination leaf, the egress ports (with
// weights) that lie on shortest up-down paths to that leaf. This is what the OpenFlow driver
// programs as SELECT group tables; packets for a NIC use the group of the NIC's leaf, and the
// leaf itself delivers on the NIC's port.
//
// Groups follow the same rule as the path sets (paths.h, path_cache.h): a switch that is an
// up-ancestor of the destination leaf sends down towards it; any other switch climbs to the
// neighbours from which the destination is nearest. Following groups hop by hop from a source
// leaf therefore walks exactly the shortest up-down paths of that leaf pair (tested). Weights
// are the bottleneck capacities of EcmpWeights (path_cache.h), so after a partial failure the
// surviving capacity is shared in proportion.
//
// Groups are computed per destination on first use and kept. A link failure visits only the
// destinations whose groups used the link and, in each, rebuilds only the groups that used it and
// those upstream of them (whose distance or capacity may change); a recovery recomputes the
// destinations where the link could appear. A switch whose group comes out the same towards
// several destinations (same channels, same capacity behind each: a leaf's uplinks towards every
// other leaf of a healthy leaf-spine) holds one shared member list, weighed once: 512 leaves x 64
// spines are ~33K lists instead of 17M buckets apart (0.4 GB), and the first computation of every
// destination costs a comparison per channel where it built and weighed a group.
#ifndef PULSE_CONTROLLER_PATHS_ECMP_GROUPS_H_
#define PULSE_CONTROLLER_PATHS_ECMP_GROUPS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "controller/paths/paths.h"
#include "topology/fabric.h"

namespace pulse::controller {

// One bucket of a group.
struct EcmpMember {
  int32_t port = 0;          // egress port number on the switch (OpenFlow port)
  DirectedLinkId link = -1;  // the channel leaving through that port
  double capacity_bps = 0;   // bottleneck capacity of the shortest paths through this member
  // capacity_bps as a small integer (Mbps divided by the group's common divisor): the bucket
  // weight to program. All 1 when capacities are equal.
  uint32_t weight = 1;
  bool operator==(const EcmpMember& o) const {
    return port == o.port && link == o.link && capacity_bps == o.capacity_bps && weight == o.weight;
  }
};

// The group of one switch towards one destination leaf, in plain data form. Members are sorted by
// port number: that order is the one switch hashing indexes (see ecmp_hash.h).
struct EcmpGroup {
  NodeId switch_id = topology::kNoNode;
  NodeId destination = topology::kNoNode;  // a leaf
  std::vector<EcmpMember> members;
  bool operator==(const EcmpGroup& o) const {
    return switch_id == o.switch_id && destination == o.destination && members == o.members;
  }
};

// What a failure or recovery changed. A group with no members means "delete this group".
struct EcmpGroupsUpdate {
  size_t destinations_recomputed = 0;  // destinations whose groups were looked at again
  size_t groups_recomputed = 0;        // groups rebuilt (a failure repairs only the cone above it)
  std::vector<EcmpGroup> changed;
};

class EcmpGroups {
 public:
  explicit EcmpGroups(std::shared_ptr<const Fabric> fabric);

  const Fabric& fabric() const { return *fabric_; }
  const LinkStatus& status() const { return status_; }

  // The group of switch `sw` towards leaf `dst_leaf`; nullopt when `sw` has no shortest up-down
  // path to it, is the leaf itself, or either id is not a switch / leaf.
  std::optional<EcmpGroup> Find(NodeId sw, NodeId dst_leaf);
  // Find's members without the copy (for callers that ask per rule): nullptr where Find has
  // none; valid until the next update.
  const std::vector<EcmpMember>* FindMembers(NodeId sw, NodeId dst_leaf);

  // Every group towards `dst_leaf`, sorted by switch id (empty for a non-leaf).
  std::vector<EcmpGroup> GroupsToward(NodeId dst_leaf);

  // Where switch `sw` sends a packet for NIC `dst_nic`: the NIC's own port(s) when `sw` is a leaf
  // the NIC hangs off (links up), else the group towards the NIC's leaf in `sw`'s plane.
  // InvalidArgument for bad ids, FailedPrecondition when `sw` cannot reach the NIC.
  absl::StatusOr<std::vector<EcmpMember>> NextHops(NodeId sw, NodeId dst_nic);
  // NextHops without the copy, for callers that ask per flow (steering.h): a view of the group,
  // valid until the next update, or of `scratch` (overwritten) when `sw` is the NIC's leaf.
  // Same answers and errors as NextHops.
  absl::StatusOr<absl::Span<const EcmpMember>> NextHopsView(NodeId sw, NodeId dst_nic,
                                                            std::vector<EcmpMember>& scratch);

  // Failure (up = false) and recovery (up = true) of links or a whole switch.
  EcmpGroupsUpdate SetLinkUp(LinkId link, bool up);
  EcmpGroupsUpdate SetSwitchUp(NodeId node, bool up);
  EcmpGroupsUpdate SetLinksUp(const std::vector<LinkId>& links, bool up);

  // Destinations computed so far, and computations done (first ones and recomputations).
  size_t destinations() const { return tables_.size(); }
  size_t computations() const { return computations_; }

 public:
  // A group's members, shared by the destinations towards which the switch's group is the same.
  using Members = std::shared_ptr<const std::vector<EcmpMember>>;

 private:
  struct Entry {
    Members members;          // never null
    bool descending = false;  // the switch is an up-ancestor of the destination
    int distance = 0;         // hops to the destination on a shortest up-down path
  };
  // Per switch, the last group Compute weighed and what it depended on (see Weighed).
  struct LastGroup {
    std::vector<DirectedLinkId> hops;
    std::vector<double> reach;          // per hop: what its next node passes on
    std::vector<double> scratch_reach;  // the current computation's, compared with `reach`
    double total_bps = 0;               // what the switch passes on
    Members members;
  };
  using Table = absl::flat_hash_map<NodeId, Entry>;  // switch -> its group towards one leaf

  const Table* TableFor(NodeId dst_leaf);
  Table Compute(NodeId dst_leaf);
  // Within Compute: switch n's weighted group over its channels scratch_hops_[n] (next nodes
  // scratch_heads_[n]), their throughput read from scratch_reach_ (set there for n too).
  // EcmpWeights' arithmetic; the switch's last group when its inputs are the same.
  Members Weighed(NodeId n, NodeId dst);
  // After failures only: rebuilds the groups that used a failed link and those upstream of
  // them, in place; appends the changed groups to `diff` and returns how many were rebuilt.
  size_t RepairAfterFailure(NodeId dst, Table& table, const std::vector<LinkId>& failed,
                            std::vector<EcmpGroup>& diff);
  // The members of a group with weights, from its egress channels and the next nodes' entries.
  std::vector<EcmpMember> Weigh(NodeId dst, const Table& table,
                                const std::vector<DirectedLinkId>& hops) const;

  std::shared_ptr<const Fabric> fabric_;
  LinkStatus status_;
  std::vector<std::vector<LinkId>> up_links_;    // switch-to-switch links to the level above
  std::vector<std::vector<LinkId>> down_links_;  // switch-to-switch links to the level below
  std::vector<std::vector<NodeId>> up_peers_;    // the far ends of up_links_, same order
  std::vector<std::vector<NodeId>> down_peers_;  // the far ends of down_links_, same order
  std::vector<std::vector<NodeId>> switches_by_level_;
  absl::node_hash_map<NodeId, Table> tables_;              // destination leaf -> table (stable)
  std::vector<int> scratch_distance_;                      // per node, reset after each computation
  std::vector<char> scratch_ancestor_;                     // per node, reset after Compute
  std::vector<std::vector<DirectedLinkId>> scratch_hops_;  // per node, Compute's channels
  std::vector<std::vector<NodeId>> scratch_heads_;         // their next nodes
  std::vector<double> scratch_reach_;                      // per node, reset after Compute
  std::vector<LastGroup> last_group_;                      // per node
  size_t computations_ = 0;
};

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_PATHS_ECMP_GROUPS_H_
