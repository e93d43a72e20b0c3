// Resolves the ports that Open vSwitch's sFlow agent names by ifIndex to OpenFlow switch ports.
//
// OVS exports interface counters keyed by the interface's ifindex (the kernel's, for the veths of
// a Mininet lab and the ports of the userspace datapath alike), while Pulse keys ports by
// (datapath id, OpenFlow port). OVSDB holds both sides: Bridge (datapath_id, ports) -> Port
// (interfaces) -> Interface (ifindex, ofport). The map is read whole from OVSDB and re-read on a
// miss (a bridge or port created after the last read), at most once per `min_refresh_interval`,
// so a flood of samples for ports Pulse does not know costs one query per interval.
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
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/switches/counters.h"
#include "nlohmann/json.hpp"
#include "southbound/ovsdb/ovsdb_client.h"

namespace pulse::southbound::sflow {

using IfIndexMap = absl::flat_hash_map<uint32_t, switches::PortKey>;

// Builds the map from the results of the three selects OvsSflowPortMap sends (Bridge: name,
// datapath_id, ports; Port: _uuid, interfaces; Interface: _uuid, ifindex, ofport). Rows with no
// datapath id, no ifindex or an ofport <= 0 (not yet attached, or a failed interface) are skipped.
// InvalidArgument when the results are not three select results.
absl::StatusOr<IfIndexMap> IfIndexMapFromOvsdb(const nlohmann::json& results);

class OvsSflowPortMap {
 public:
  // Connects to ovsdb-server ("unix:/path" or "tcp:IP:PORT") and reads the map once.
  static absl::StatusOr<std::unique_ptr<OvsSflowPortMap>> Connect(
      absl::string_view endpoint,
      std::chrono::milliseconds min_refresh_interval = std::chrono::seconds(1));

  // The switch port of `if_index`, re-reading OVSDB on a miss when the interval allows.
  // Thread-safe; blocks for the query on a miss.
  std::optional<switches::PortKey> Resolve(uint32_t if_index);
  // Re-reads the map now.
  absl::Status Refresh();
  size_t size() const;

 private:
  explicit OvsSflowPortMap(std::chrono::milliseconds min_refresh_interval)
      : min_refresh_interval_(min_refresh_interval) {}
  absl::Status RefreshLocked();

  const std::chrono::milliseconds min_refresh_interval_;
  ovsdb::OvsdbClient client_;
  mutable std::mutex mu_;
  IfIndexMap map_;  // guarded by mu_
  std::chrono::steady_clock::time_point last_refresh_;
};

}  // namespace pulse::southbound::sflow

#endif  // PULSE_SOUTHBOUND_SFLOW_OVS_PORT_MAP_H_
