// Resolves the ports that Open vSwitch's sFlow agent names by ifIndex to fabric ports (the switch
// contract's PortKey: fabric node, fabric port number).
//
// OVS exports interface counters keyed by the interface's ifindex (the kernel's, for the veths of
// a Mininet lab and the ports of the userspace datapath alike), while the core keys ports by
// (fabric node, port). OVSDB holds the OVS side: Bridge (datapath_id, ports) -> Port (interfaces)
// -> Interface (ifindex, ofport); the bridge's datapath id becomes a fabric node through the
// OpenFlow southbound's one DatapathMap (southbound/openflow/datapath_map.h), and the ofport is the
// fabric's port number (OVS bridges of a Pulse fabric number ports as the intent does). A bridge
// the fabric intent does not list is counted and its samples dropped, logged once per bridge.
// The map is read whole from OVSDB and re-read on a miss (a bridge or port created after the last
// read), at most once per `min_refresh_interval`, so a flood of samples for ports Pulse does not
// know costs one query per interval.
//
// ifindexes are unique per host, so one map serves every bridge of one OVS instance; the agent
// address is not consulted. Hardware switches number ifIndex per device and need a per-agent map
// (not built yet).
#ifndef PULSE_SOUTHBOUND_SFLOW_OVS_PORT_MAP_H_
#define PULSE_SOUTHBOUND_SFLOW_OVS_PORT_MAP_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/switches/counters.h"
#include "nlohmann/json.hpp"
#include "southbound/openflow/datapath_map.h"
#include "southbound/ovsdb/ovsdb_client.h"

namespace pulse::southbound::sflow {

// An Open vSwitch port as OVSDB names it: its bridge's datapath id and its OpenFlow port number.
struct OvsPort {
  openflow::Dpid datapath_id = 0;
  uint32_t ofport = 0;
  bool operator==(const OvsPort& o) const {
    return datapath_id == o.datapath_id && ofport == o.ofport;
  }
};

using IfIndexMap = absl::flat_hash_map<uint32_t, OvsPort>;

// Builds the map from the results of the three selects OvsSflowPortMap sends (Bridge: name,
// datapath_id, ports; Port: _uuid, interfaces; Interface: _uuid, ifindex, ofport). Rows with no
// datapath id, no ifindex or an ofport <= 0 (not yet attached, or a failed interface) are skipped.
// InvalidArgument when the results are not three select results.
absl::StatusOr<IfIndexMap> IfIndexMapFromOvsdb(const nlohmann::json& results);

// The fabric port an OVS port is: its bridge's node by `datapaths`, its ofport as the port
// number. nullopt when the fabric intent does not list the bridge's datapath id.
std::optional<switches::PortKey> ToFabricPort(const OvsPort& port,
                                              const openflow::DatapathMap& datapaths);

// What Resolve did with the ifindexes it was asked about.
struct OvsSflowPortMapStats {
  uint64_t resolved = 0;
  uint64_t unknown_ifindex = 0;  // no OVS interface has it (not a bridge port, or gone)
  uint64_t unknown_switch = 0;   // a port of a bridge the fabric intent does not list: dropped
};

class OvsSflowPortMap {
 public:
  // Connects to ovsdb-server ("unix:/path" or "tcp:IP:PORT") and reads the map once. Bridges are
  // named by `datapaths` (the daemon: openflow::OpenFlowDatapaths(fabric)).
  static absl::StatusOr<std::unique_ptr<OvsSflowPortMap>> Connect(
      absl::string_view endpoint, openflow::DatapathMap datapaths,
      std::chrono::milliseconds min_refresh_interval = std::chrono::seconds(1));

  // A map over `ports` as read elsewhere, never re-read (unit tests; a lab whose OVSDB is not
  // reachable from the controller).
  static std::unique_ptr<OvsSflowPortMap> FromMap(IfIndexMap ports,
                                                  openflow::DatapathMap datapaths);

  // The fabric port of `if_index`, re-reading OVSDB on a miss when the interval allows; nullopt
  // for an ifindex of no OVS port, or of a bridge the fabric does not list (both counted in
  // stats(), logged once per ifindex or bridge). Thread-safe; blocks for the query on a miss.
  std::optional<switches::PortKey> Resolve(uint32_t if_index);
  // Re-reads the map now.
  absl::Status Refresh();
  size_t size() const;
  OvsSflowPortMapStats stats() const;

 private:
  OvsSflowPortMap(openflow::DatapathMap datapaths, std::chrono::milliseconds min_refresh_interval)
      : datapaths_(std::move(datapaths)), min_refresh_interval_(min_refresh_interval) {}
  absl::Status RefreshLocked();
  // Translates a found OVS port, counting and logging a bridge the fabric does not list.
  std::optional<switches::PortKey> TranslateLocked(uint32_t if_index, const OvsPort& port);

  const openflow::DatapathMap datapaths_;
  const std::chrono::milliseconds min_refresh_interval_;
  bool refreshable_ = true;  // false: FromMap
  ovsdb::OvsdbClient client_;
  mutable std::mutex mu_;
  IfIndexMap map_;  // guarded by mu_
  std::chrono::steady_clock::time_point last_refresh_;
  OvsSflowPortMapStats stats_;  // guarded by mu_
  // Bridges and ifindexes whose drop was logged (bounded: a flood of junk is not remembered).
  absl::flat_hash_set<openflow::Dpid> logged_unknown_switches_;  // guarded by mu_
  absl::flat_hash_set<uint32_t> logged_unknown_ifindexes_;       // guarded by mu_
};

}  // namespace pulse::southbound::sflow

#endif  // PULSE_SOUTHBOUND_SFLOW_OVS_PORT_MAP_H_
