// Collective communication patterns expanded into NIC-to-NIC flow demands.
//
// GPU collectives (NCCL-style) move data in steps; Pulse plans the steady state of each step.
// Traffic between two GPUs of one server rides NVLink and costs the fabric nothing, so it never
// becomes a demand. Patterns whose steps are permutations (ring, halving-doubling, the phases of
// all-to-all) tag each demand with its phase so placement can colour each permutation exactly.
#ifndef PULSE_CONTROLLER_COLLECTIVES_H_
#define PULSE_CONTROLLER_COLLECTIVES_H_

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

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_COLLECTIVES_H_
