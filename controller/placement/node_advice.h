// Node advice for schedulers: which servers to give a job, and in which rank order, so that its
// collective is non-blocking given the jobs already placed.
//
// Candidates come from the fabric's tiers (topology/tiers.h), in order of preference:
//   1. one leaf block with room, best fit first (the block with the fewest free servers that
//      still fits), so large free blocks stay whole for later jobs;
//   2. several blocks, fewest first: the fullest-free blocks taken whole and the remainder from
//      the smallest block that fits it (within one spine group first, then anywhere), and the
//      blocks with the most spare uplink capacity first;
//   3. spread over more blocks (partly used blocks first): a smaller share per block sends less
//      across its uplinks, which can make an all-to-all non-blocking that no packed choice is.
// Each candidate gets a cheap lower bound first (what it would send across each block's uplinks,
// plus what already crosses them, over their capacity); one above 100% is certainly blocking and
// is not placed. The others are judged by the real placement (Placement::PlaceJob on the
// caller's copy of the state, undone after), in rank order block by block and server by server,
// so a ring crosses each leaf boundary once. The first non-blocking one (every link the job
// crosses at most 100%, all jobs counted) wins; when none is, the least loaded of those placed
// (or the one with the lowest bound) is returned and marked blocking, with its max link load.
#ifndef PULSE_CONTROLLER_PLACEMENT_NODE_ADVICE_H_
#define PULSE_CONTROLLER_PLACEMENT_NODE_ADVICE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/placement/placement.h"
#include "topology/tiers.h"

namespace pulse::controller {

struct NodeAdviceRequest {
  int gpu_count = 0;  // exactly one of gpu_count and server_count is > 0
  int server_count = 0;
  CollectivePattern pattern = CollectivePattern::kRing;
  double rate_bps = 0;  // per rank; 0: line rate
  int traffic_class = 3;
  // Servers the job may get; `all_unused`: every server no placed job uses (then `free` is
  // ignored).
  std::vector<topology::ServerId> free;
  bool all_unused = true;
  std::vector<topology::ServerId> exclude;
  int max_leaves = 0;       // at most this many leaf blocks; 0: no limit
  int max_candidates = 24;  // placements tried at most
};

struct NodeAdvice {
  std::vector<topology::ServerId> servers;  // rank order
  std::vector<std::string> endpoints;       // GPU (or NIC) names in rank order
  bool non_blocking = false;
  double max_link_load = 0;
  int leaves = 0;  // leaf blocks spanned
  int candidates_evaluated = 0;
  std::string reason;
};

// Servers any placed job has an endpoint on.
std::vector<bool> ServersInUse(const Placement& placement);

// Advice on `placement` (changed during the call and restored before it returns: pass a copy of
// the state, Placement::DetachedCopy). InvalidArgument for a bad request (both or no counts, an
// explicit pattern, a server id out of range); ResourceExhausted when fewer servers are free than
// needed (or than fit in max_leaves blocks); FailedPrecondition when no candidate could be placed
// at all.
absl::StatusOr<NodeAdvice> SuggestServers(Placement* placement, const topology::FabricTiers& tiers,
                                          const NodeAdviceRequest& request);

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_PLACEMENT_NODE_ADVICE_H_
