// Compares the switch-to-switch links the intent promises with the links LLDP actually finds.
//
// Cabling mistakes are the commonest day-one fault of a GPU fabric, and a lossless fabric that is
// miswired can route traffic on paths the controller never planned (and so never protected with
// PFC headroom). The diff classifies every difference so an operator can go and fix the cable:
// missing (promised, not seen), unexpected (seen, no place in the intent) and miswired (one end in
// the right port, the other end somewhere else).
#ifndef PULSE_TOPOLOGY_DIFF_H_
#define PULSE_TOPOLOGY_DIFF_H_

#include <cstdint>
#include <string>
#include <vector>

#include "topology/fabric.h"

namespace pulse::topology {

// A switch-to-switch link as discovery reports it: two (datapath id, OpenFlow port) ends. The
// order of the ends carries no meaning.
struct ObservedLink {
  uint64_t dpid_a = 0;
  uint32_t port_a = 0;
  uint64_t dpid_b = 0;
  uint32_t port_b = 0;

  bool operator==(const ObservedLink& o) const {
    return dpid_a == o.dpid_a && port_a == o.port_a && dpid_b == o.dpid_b && port_b == o.port_b;
  }
};

// An observed link with at least one end in a port where the intent expects a switch-to-switch
// link, but which does not join the ports the intent says. `expected` holds the intent links
// (one or two) that should occupy the observed link's ports.
struct MiswiredLink {
  ObservedLink actual;
  std::vector<LinkId> expected;
};

struct FabricDiff {
  std::vector<LinkId> missing;           // intent links neither seen nor displaced by a miswire
  std::vector<ObservedLink> unexpected;  // seen, and neither end is an intent link's port
  std::vector<MiswiredLink> miswired;

  bool empty() const { return missing.empty() && unexpected.empty() && miswired.empty(); }
};

// The switch-to-switch links of `fabric` as discovery would report them (links to NICs are not
// discovered by LLDP and are left out), in link-id order.
std::vector<ObservedLink> ExpectedSwitchLinks(const Fabric& fabric);

// Classifies `observed` against the intent. Direction-insensitive (a->b equals b->a) and
// duplicates are tolerated (LLDP reports each link from both ends). Results are sorted: missing by
// link id, unexpected and miswired by their canonical ends (lower end first).
FabricDiff DiffLinks(const Fabric& intent, const std::vector<ObservedLink>& observed);

// One line per difference, for logs and the CLI, e.g.
//   missing: leaf-0:3 <-> spine-1:1
//   miswired: leaf-0:3 is cabled to spine-0:2; intent: leaf-0:3 <-> spine-1:1
//   unexpected: leaf-0:9 <-> dpid 0x00000000000000ff:1
// "no differences" for an empty diff.
std::string DescribeDiff(const Fabric& intent, const FabricDiff& diff);

}  // namespace pulse::topology

#endif  // PULSE_TOPOLOGY_DIFF_H_
