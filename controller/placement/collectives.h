// Collective communication patterns expanded into NIC-to-NIC flow demands.
//
// GPU collectives (NCCL-style) move data in steps; Pulse plans the steady state of each step.
// Traffic between two GPUs of one server rides NVLink and costs the fabric nothing, so it never
// becomes a demand. Patterns whose steps are permutations (ring, halving-doubling, the phases of
// all-to-all) tag each demand with its phase so placement can colour each permutation exactly.
#ifndef PULSE_CONTROLLER_PLACEMENT_COLLECTIVES_H_
#define PULSE_CONTROLLER_PLACEMENT_COLLECTIVES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "topology/fabric.h"

namespace pulse::controller {

enum class CollectivePattern {
  kExplicit,          // the job's explicit flow list
  kRing,              // ring all-reduce, both directions
  kDoubleBinaryTree,  // NCCL's double binary tree
  kAllToAll,          // every rank to every other rank, as n-1 permutation phases
  kHalvingDoubling,   // recursive halving-doubling
  kRailAligned,       // hierarchical: NVLink inside a server, rings per rail across servers
};

absl::StatusOr<CollectivePattern> ParseCollectivePattern(absl::string_view name);
absl::string_view CollectivePatternName(CollectivePattern pattern);

// One flow of an explicit job, between endpoint names.
struct ExplicitFlow {
  std::string src;
  std::string dst;
  double rate_bps = 0;  // 0: the job's rate
};

// A NIC-to-NIC demand.
struct FlowDemand {
  topology::NodeId src = topology::kNoNode;
  topology::NodeId dst = topology::kNoNode;
  double rate_bps = 0;
  int phase = 0;  // demands of one phase of a permutation pattern form a (partial) permutation
};

// Expands `pattern` over `endpoints` (NIC ids in rank order; two ranks may share a NIC when GPUs
// share one) into fabric demands. Ranks on one server talk over NVLink: such pairs give no demand.
//
// Rate convention: the demands are the time-averaged steady state in which every rank's NIC
// sends `rate_bps` in total (0: the NIC's line rate, the sum of its link capacities), shared
// equally by the flows the pattern gives a rank:
//   ring            two rings (i -> i+1, phase 0; i -> i-1, phase 1), each flow rate / 2;
//   double tree     two complementary binary trees, each edge in both directions; a rank has at
//                   most 4 tree sends (3 where internal, 1 where a leaf), each flow rate / 4;
//                   phases 0-7 are (tree, up/down, left/right child) so each is a permutation;
//   all-to-all      n-1 phases, phase k-1: i -> (i+k) mod n, each flow rate / (n-1);
//   halving-doubl.  log2(n) phases, phase k: i -> i xor 2^k, each flow rate / log2(n); n must be
//                   a power of two (InvalidArgument otherwise);
//   rail-aligned    ranks grouped by their NIC's rail; per rail, a ring in both directions over
//                   the distinct servers' NICs (phase 0 and 1), each flow rate / 2.
// Errors: InvalidArgument for kExplicit (explicit flows carry names; Placement expands them), an
// endpoint that is not a NIC, a negative or non-finite rate, or a NIC with no capacity.
absl::StatusOr<std::vector<FlowDemand>> CollectiveFlows(
    const topology::Fabric& fabric, CollectivePattern pattern,
    const std::vector<topology::NodeId>& endpoints, double rate_bps);

// Line rate of a NIC: the sum of the capacities of its links (one per plane).
double NicLineRateBps(const topology::Fabric& fabric, topology::NodeId nic);

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_PLACEMENT_COLLECTIVES_H_
