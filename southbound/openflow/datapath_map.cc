#include "southbound/openflow/datapath_map.h"

#include "absl/strings/str_cat.h"

namespace pulse::southbound::openflow {

std::vector<std::pair<switches::SwitchId, Dpid>> OpenFlowDatapaths(const topology::Fabric& fabric) {
  std::vector<std::pair<switches::SwitchId, Dpid>> out;
  for (topology::NodeId id : fabric.switches()) {
    const std::string& driver = fabric.node(id).driver;
    if (driver.empty() || driver == topology::kDefaultSwitchDriver) {
      out.emplace_back(id, fabric.node(id).datapath_id);
    }
  }
  return out;
}

DatapathMap::DatapathMap(const std::vector<std::pair<switches::SwitchId, Dpid>>& datapaths) {
  for (const auto& [node, dpid] : datapaths) {
    node_of_[dpid] = node;
    dpid_of_[node] = dpid;
  }
}

std::optional<switches::SwitchId> DatapathMap::NodeOf(Dpid dpid) const {
  auto it = node_of_.find(dpid);
  if (it == node_of_.end()) return std::nullopt;
  return it->second;
}

std::optional<Dpid> DatapathMap::DpidOf(switches::SwitchId node) const {
  auto it = dpid_of_.find(node);
  if (it == dpid_of_.end()) return std::nullopt;
  return it->second;
}

std::string DescribeDpid(Dpid dpid) {
  return absl::StrCat("0x", absl::Hex(dpid, absl::kZeroPad16));
}

}  // namespace pulse::southbound::openflow
