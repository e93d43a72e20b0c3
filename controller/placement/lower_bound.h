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

// A bound for one job of unsplittable flows placed next to load that stays where it is (other
// jobs never move), on a two-tier leaf-spine. The cut bound above cannot see fragmentation: when
// other jobs fill the fabric, every cut may have room in total while no single path does. Here a
// slot is room for one more flow on a channel; the flows leaving a leaf need distinct slots on
// its uplinks whose spine also has a slot on the downlink to each flow's destination leaf (and
// the same for the flows entering a leaf). When Hall's condition fails for a leaf (a maximum
// matching of its flows to such slots leaves some out), every placement overloads one of the
// channels those flows could use, so the max utilisation is at least the least overload any of
// them would take ((load + (slots + 1) x rate) / capacity). `where` then names the leaf and how
// many of its flows fit, e.g. "leaf-3 out: 3 of 4 flows find a spine with room at both ends".
// max_utilisation is 0 when the check rules nothing out or does not apply (flows of unequal
// rates, a tier above the spines, NICs on several leaves). `background_bps` is the load by
// DirectedLinkId.
LowerBound UnsplittableBoundAround(const topology::Fabric& fabric, const LinkStatus& status,
                                   const std::vector<FlowDemand>& demands,
                                   const std::vector<double>& background_bps);

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_PLACEMENT_LOWER_BOUND_H_
