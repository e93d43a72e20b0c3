#include "topology/tiers.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"

namespace pulse::topology {

std::vector<NodeId> LeavesOfNic(const Fabric& fabric, NodeId nic) {
  std::vector<NodeId> leaves;
  for (LinkId link : fabric.LinksOf(nic)) {
    NodeId peer = fabric.Peer(link, nic);
    if (peer != kNoNode && fabric.node(peer).is_switch() && fabric.node(peer).level == 1) {
      leaves.push_back(peer);
    }
  }
  std::sort(leaves.begin(), leaves.end());
  leaves.erase(std::unique(leaves.begin(), leaves.end()), leaves.end());
  return leaves;
}

FabricTiers ComputeTiers(const Fabric& fabric) {
  FabricTiers tiers;
  const int num_servers = static_cast<int>(fabric.servers().size());
  tiers.block_of_server.assign(num_servers, -1);
  tiers.planes_of_server.resize(num_servers);

  // Servers by the set of leaves their NICs reach.
  std::map<std::vector<NodeId>, std::vector<ServerId>> servers_by_leaves;
  for (ServerId s = 0; s < num_servers; ++s) {
    std::set<NodeId> leaves;
    std::set<int> planes;
    for (NodeId nic : fabric.servers()[s].nics) {
      for (NodeId leaf : LeavesOfNic(fabric, nic)) {
        leaves.insert(leaf);
        planes.insert(fabric.node(leaf).plane);
      }
    }
    tiers.planes_of_server[s].assign(planes.begin(), planes.end());
    if (leaves.empty()) continue;
    servers_by_leaves[std::vector<NodeId>(leaves.begin(), leaves.end())].push_back(s);
  }
  for (auto& [leaves, servers] : servers_by_leaves) {
    LeafBlock block;
    block.leaves = leaves;
    block.servers = servers;
    block.name = leaves.size() == 1 ? fabric.node(leaves[0]).name
                                    : absl::StrCat(fabric.node(leaves[0]).name, "-group");
    tiers.blocks.push_back(std::move(block));
  }
  std::sort(tiers.blocks.begin(), tiers.blocks.end(),
            [](const LeafBlock& a, const LeafBlock& b) { return a.leaves < b.leaves; });
  for (size_t b = 0; b < tiers.blocks.size(); ++b) {
    for (ServerId s : tiers.blocks[b].servers) tiers.block_of_server[s] = static_cast<int>(b);
  }

  // Blocks by the set of spines their leaves reach.
  std::map<std::vector<NodeId>, std::vector<int>> blocks_by_spines;
  for (size_t b = 0; b < tiers.blocks.size(); ++b) {
    std::set<NodeId> spines;
    for (NodeId leaf : tiers.blocks[b].leaves) {
      for (LinkId link : fabric.LinksOf(leaf)) {
        NodeId peer = fabric.Peer(link, leaf);
        if (peer != kNoNode && fabric.node(peer).level == 2) spines.insert(peer);
      }
    }
    blocks_by_spines[std::vector<NodeId>(spines.begin(), spines.end())].push_back(
        static_cast<int>(b));
  }
  for (auto& [spines, blocks] : blocks_by_spines) {
    SpineGroup group;
    group.spines = spines;
    group.blocks = blocks;
    tiers.spine_groups.push_back(std::move(group));
  }
  std::sort(tiers.spine_groups.begin(), tiers.spine_groups.end(),
            [](const SpineGroup& a, const SpineGroup& b) { return a.blocks < b.blocks; });
  // Names: the pod when every leaf of the group shares one, else a counter; unique either way.
  std::set<std::string> used;
  for (size_t g = 0; g < tiers.spine_groups.size(); ++g) {
    SpineGroup& group = tiers.spine_groups[g];
    std::set<int> pods;
    for (int b : group.blocks) {
      for (NodeId leaf : tiers.blocks[b].leaves) pods.insert(fabric.node(leaf).pod);
      tiers.blocks[b].spine_group = static_cast<int>(g);
    }
    std::string name = pods.size() == 1 && *pods.begin() >= 0 ? absl::StrCat("pod-", *pods.begin())
                                                              : absl::StrCat("spines-", g);
    if (!used.insert(name).second) name = absl::StrCat("spines-", g);
    used.insert(name);
    group.name = name;
  }
  for (NodeId sw : fabric.switches()) {
    if (fabric.node(sw).level == 3) tiers.has_super_spines = true;
  }
  return tiers;
}

}  // namespace pulse::topology
