// Lower bounds on the maximum link utilisation of any placement of a set of demands.
//
// The bound is what no routing can beat, even one that splits flows fractionally: for a set X of
// nodes, the traffic that starts inside X and ends outside must cross X's outgoing channels, so
// max utilisation >= that traffic / their capacity (and the same inward). Pulse evaluates the
// sets that matter on a Clos: each NIC alone, each leaf with the NICs attached only to it, and
// each pod (its leaves, spines and their NICs). The placement reports its gap to this bound.
#ifndef PULSE_CONTROLLER_PLACEMENT_LOWER_BOUND_H_
#define PULSE_CONTROLLER_PLACEMENT_LOWER_BOUND_H_

#include <string>
#include <vector>

#include "controller/paths/paths.h"
#include "controller/placement/collectives.h"
#include "topology/fabric.h"

namespace pulse::controller {

struct LowerBound {
  double max_utilisation = 0;  // the bound itself (0 for no demand)
  std::string where;  // the cut that gives it: "nic server-3/nic-0 out", "leaf-2 in", "pod 1 out"
};

// The cut bound over NIC, leaf and pod cuts, using only links that are up. A cut with traffic
// and no capacity left is skipped (placement reports that as "no path").
LowerBound PlacementLowerBound(const topology::Fabric& fabric, const LinkStatus& status,
                               const std::vector<FlowDemand>& demands);

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_PLACEMENT_LOWER_BOUND_H_
