// The one translation between OpenFlow's name for a switch (the 64-bit datapath id of its
// handshake) and the core's (its fabric node, controller/switches/counters.h SwitchId). The
// OpenFlow driver names every event and request through it, and the sFlow port map of Open
// vSwitch (southbound/sflow/ovs_port_map.h), whose bridges carry the same datapath ids, uses it
// to name the ports its agent reports. Datapath ids never cross into the core.
#ifndef PULSE_SOUTHBOUND_OPENFLOW_DATAPATH_MAP_H_
#define PULSE_SOUTHBOUND_OPENFLOW_DATAPATH_MAP_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "controller/switches/counters.h"
#include "topology/fabric.h"

namespace pulse::southbound::openflow {

// An OpenFlow datapath id (the switch's FEATURES_REPLY; Open vSwitch's Bridge.datapath_id).
using Dpid = uint64_t;

// The switches of `fabric` that OpenFlow serves (intent `driver: openflow`, the default), with
// the datapath id the intent gives each.
std::vector<std::pair<switches::SwitchId, Dpid>> OpenFlowDatapaths(const topology::Fabric& fabric);

// Fabric node <-> datapath id, both ways. Immutable after construction (any thread may read).
class DatapathMap {
 public:
  DatapathMap() = default;
  // A later pair of the list wins over an earlier one with the same node or datapath id.
  explicit DatapathMap(const std::vector<std::pair<switches::SwitchId, Dpid>>& datapaths);

  // The node of a datapath; nullopt for a datapath the map does not list (a switch the fabric
  // intent does not know: its events and counters are the caller's to count and drop).
  std::optional<switches::SwitchId> NodeOf(Dpid dpid) const;
  std::optional<Dpid> DpidOf(switches::SwitchId node) const;
  size_t size() const { return node_of_.size(); }

 private:
  std::map<Dpid, switches::SwitchId> node_of_;
  std::map<switches::SwitchId, Dpid> dpid_of_;
};

// "0x00000000a1b2c3d4": a datapath id as logs name it (the form ovs-ofctl shows, 16 hex digits).
std::string DescribeDpid(Dpid dpid);

}  // namespace pulse::southbound::openflow

#endif  // PULSE_SOUTHBOUND_OPENFLOW_DATAPATH_MAP_H_
