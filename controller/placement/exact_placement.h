// Exact single-path placement as a mixed-integer program (GLPK), the yardstick for the
// placement heuristic and a solver for small or hard instances.
//
// Given flow demands, the candidate up-down paths of each and the load already on every channel,
// choose one path per flow minimising the maximum utilisation over the candidate channels:
//   minimise z  s.t.  sum_p x[f][p] = 1                       for every flow f
//                     (bg[d] + sum_{f,p : d in p} r_f x[f][p]) / cap[d] <= z   for every channel d
//                     x binary.
// The channels constrained are those of some candidate path, so z is at least the largest
// background utilisation among them.
#ifndef PULSE_CONTROLLER_PLACEMENT_EXACT_PLACEMENT_H_
#define PULSE_CONTROLLER_PLACEMENT_EXACT_PLACEMENT_H_

#include <vector>

#include "absl/status/statusor.h"
#include "controller/paths/paths.h"
#include "controller/placement/collectives.h"
#include "topology/fabric.h"

namespace pulse::controller {

struct ExactPlacementOptions {
  int time_limit_ms = 10000;  // GLPK's branch-and-cut time limit
  // A known assignment (path index per flow), e.g. the heuristic's; empty: none. It is returned
  // when GLPK finds nothing better within the limit. (It is not given to GLPK as an incumbent:
  // GLPK's presolver renumbers columns, so its heuristic-solution hook cannot take it.)
  std::vector<int> start;
};

struct ExactPlacement {
  std::vector<int> path_index;  // per flow, index into its candidate paths
  double max_utilisation = 0;   // of path_index, recomputed (not GLPK's rounded objective)
  bool proven_optimal = false;  // false: the time limit struck first (best found returned)
};

// Errors: InvalidArgument when sizes disagree (paths per flow, background per channel) or a flow
// has no candidate path; Internal when GLPK fails; DeadlineExceeded when the time limit struck
// before any assignment was found and no start was given.
absl::StatusOr<ExactPlacement> SolveExactPlacement(const topology::Fabric& fabric,
                                                   const std::vector<FlowDemand>& demands,
                                                   const std::vector<std::vector<Path>>& paths,
                                                   const std::vector<double>& background_bps,
                                                   const ExactPlacementOptions& options = {});

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_PLACEMENT_EXACT_PLACEMENT_H_
