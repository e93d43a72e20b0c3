// The tiers a job scheduler sees in a fabric: servers grouped into leaf blocks, leaf blocks into
// spine groups, and planes. Schedulers (Slurm topology/tree, Kubernetes topology labels, Volcano
// HyperNodes) think in such nested sets of nodes; this derives them from the cabling alone, so
// any builder's fabric or an explicit one gets the same treatment.
//
// - Leaf block (tier 1): servers whose NICs attach to the same set of leaves. In a leaf-spine
//   fabric that is one block per ToR; in a rail-optimized fabric, one per rail group (every
//   server of the group reaches the group's rail switches). Traffic among a block's servers never
//   climbs above its leaves.
// - Spine group (tier 2): blocks whose leaves reach the same set of spines (a fat-tree pod, or
//   the whole leaf-spine fabric). Traffic among them climbs no higher than a spine.
// - Top (tier 3): every spine group, joined by super-spines (or nothing, in a two-tier fabric).
// - Planes: the planes a server's NICs reach (0 in single-plane fabrics).
//
// Pure and static: state (links down, drains) is layered on by the users (exports, advice).
#ifndef PULSE_TOPOLOGY_TIERS_H_
#define PULSE_TOPOLOGY_TIERS_H_

#include <string>
#include <vector>

#include "topology/fabric.h"

namespace pulse::topology {

struct LeafBlock {
  std::string name;               // the leaf's name, or "<first-leaf>-group" for several leaves
  std::vector<NodeId> leaves;     // ascending
  std::vector<ServerId> servers;  // ascending
  int spine_group = -1;           // index into FabricTiers::spine_groups
};

struct SpineGroup {
  std::string name;            // "pod-N" when its leaves share a pod, else "spines-N"
  std::vector<NodeId> spines;  // ascending; empty when the blocks have no uplinks
  std::vector<int> blocks;     // indices into FabricTiers::blocks, ascending
};

struct FabricTiers {
  std::vector<LeafBlock> blocks;
  std::vector<SpineGroup> spine_groups;
  std::vector<int> block_of_server;                // by ServerId; -1 for a server with no leaf
  std::vector<std::vector<int>> planes_of_server;  // by ServerId, ascending
  bool has_super_spines = false;
};

// Derives the tiers from the cabling. Blocks are ordered by their first leaf's id, spine groups
// by their first block.
FabricTiers ComputeTiers(const Fabric& fabric);

// The leaves a NIC is cabled to (one per plane), ascending.
std::vector<NodeId> LeavesOfNic(const Fabric& fabric, NodeId nic);

}  // namespace pulse::topology

#endif  // PULSE_TOPOLOGY_TIERS_H_
