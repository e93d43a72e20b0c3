#include "southbound/sflow/ovs_port_map.h"

#include <set>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace pulse::southbound::sflow {
namespace {

using nlohmann::json;

// The members of an OVSDB value that may be a scalar or ["set", [...]] (empty set = no value).
std::vector<json> SetMembers(const json& value) {
  if (value.is_array() && value.size() == 2 && value[0] == "set" && value[1].is_array()) {
    return std::vector<json>(value[1].begin(), value[1].end());
  }
  return {value};
}

// "<uuid>" of ["uuid", "<uuid>"], else "".
std::string UuidOf(const json& value) {
  if (value.is_array() && value.size() == 2 && value[0] == "uuid" && value[1].is_string()) {
    return value[1].get<std::string>();
  }
  return "";
}

// Bounds the memory of "already logged" (each distinct bridge or ifindex is logged once).
constexpr size_t kMaxLoggedUnknown = 1024;

std::optional<int64_t> IntegerOf(const json& value) {
  for (const json& member : SetMembers(value)) {
    if (member.is_number_integer()) return member.get<int64_t>();
  }
  return std::nullopt;
}

const json* RowsOf(const json& results, size_t index) {
  if (!results.is_array() || results.size() <= index || !results[index].is_object()) return nullptr;
  auto rows = results[index].find("rows");
  return rows != results[index].end() && rows->is_array() ? &*rows : nullptr;
}

}  // namespace

absl::StatusOr<IfIndexMap> IfIndexMapFromOvsdb(const json& results) {
  const json* bridges = RowsOf(results, 0);
  const json* ports = RowsOf(results, 1);
  const json* interfaces = RowsOf(results, 2);
  if (bridges == nullptr || ports == nullptr || interfaces == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("ovsdb: expected three select results (Bridge, Port, Interface), got ",
                     results.dump().substr(0, 200)));
  }
  // Interface uuid -> (ifindex, ofport).
  absl::flat_hash_map<std::string, std::pair<int64_t, int64_t>> interface_ids;
  for (const json& row : *interfaces) {
    if (!row.is_object()) continue;
    const std::string uuid = UuidOf(row.value("_uuid", json()));
    std::optional<int64_t> ifindex = IntegerOf(row.value("ifindex", json()));
    std::optional<int64_t> ofport = IntegerOf(row.value("ofport", json()));
    if (uuid.empty() || !ifindex || !ofport || *ifindex <= 0 || *ifindex > UINT32_MAX ||
        *ofport <= 0 || *ofport >= 0xffffff00) {
      continue;
    }
    interface_ids[uuid] = {*ifindex, *ofport};
  }
  absl::flat_hash_map<std::string, std::vector<std::string>> port_interfaces;
  for (const json& row : *ports) {
    if (!row.is_object()) continue;
    const std::string uuid = UuidOf(row.value("_uuid", json()));
    for (const json& member : SetMembers(row.value("interfaces", json()))) {
      if (std::string iface = UuidOf(member); !iface.empty()) {
        port_interfaces[uuid].push_back(iface);
      }
    }
  }
  IfIndexMap map;
  for (const json& row : *bridges) {
    if (!row.is_object()) continue;
    uint64_t dpid = 0;
    const json datapath = row.value("datapath_id", json());
    std::vector<json> members = SetMembers(datapath);
    if (members.empty() || !members[0].is_string() ||
        !absl::SimpleHexAtoi(members[0].get<std::string>(), &dpid)) {
      continue;  // the bridge has no datapath yet
    }
    for (const json& port : SetMembers(row.value("ports", json()))) {
      auto it = port_interfaces.find(UuidOf(port));
      if (it == port_interfaces.end()) continue;
      for (const std::string& iface : it->second) {
        auto ids = interface_ids.find(iface);
        if (ids == interface_ids.end()) continue;
        map[static_cast<uint32_t>(ids->second.first)] =
            OvsPort{dpid, static_cast<uint32_t>(ids->second.second)};
      }
    }
  }
  return map;
}

std::optional<switches::PortKey> ToFabricPort(const OvsPort& port,
                                              const openflow::DatapathMap& datapaths) {
  std::optional<switches::SwitchId> node = datapaths.NodeOf(port.datapath_id);
  if (!node) return std::nullopt;
  return switches::PortKey{*node, port.ofport};
}

absl::StatusOr<std::unique_ptr<OvsSflowPortMap>> OvsSflowPortMap::Connect(
    absl::string_view endpoint, openflow::DatapathMap datapaths,
    std::chrono::milliseconds min_refresh_interval) {
  std::unique_ptr<OvsSflowPortMap> map(
      new OvsSflowPortMap(std::move(datapaths), min_refresh_interval));
  if (absl::Status status = map->client_.Connect(endpoint); !status.ok()) return status;
  if (absl::Status status = map->Refresh(); !status.ok()) return status;
  return map;
}

std::unique_ptr<OvsSflowPortMap> OvsSflowPortMap::FromMap(IfIndexMap ports,
                                                          openflow::DatapathMap datapaths) {
  std::unique_ptr<OvsSflowPortMap> map(
      new OvsSflowPortMap(std::move(datapaths), std::chrono::milliseconds(0)));
  map->refreshable_ = false;
  map->map_ = std::move(ports);
  return map;
}

absl::Status OvsSflowPortMap::Refresh() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!refreshable_) return absl::FailedPreconditionError("sflow port map: no OVSDB to read");
  return RefreshLocked();
}

absl::Status OvsSflowPortMap::RefreshLocked() {
  last_refresh_ = std::chrono::steady_clock::now();
  auto select = [](const char* table, std::vector<std::string> columns) {
    return json{{"op", "select"}, {"table", table}, {"where", json::array()}, {"columns", columns}};
  };
  const json ops = json::array({select("Bridge", {"name", "datapath_id", "ports"}),
                                select("Port", {"_uuid", "interfaces"}),
                                select("Interface", {"_uuid", "ifindex", "ofport"})});
  absl::StatusOr<json> results = client_.Transact("Open_vSwitch", ops);
  if (!results.ok()) return results.status();
  absl::StatusOr<IfIndexMap> map = IfIndexMapFromOvsdb(*results);
  if (!map.ok()) return map.status();
  map_ = *std::move(map);
  return absl::OkStatus();
}

std::optional<switches::PortKey> OvsSflowPortMap::TranslateLocked(uint32_t if_index,
                                                                  const OvsPort& port) {
  std::optional<switches::PortKey> key = ToFabricPort(port, datapaths_);
  if (key) {
    ++stats_.resolved;
    return key;
  }
  ++stats_.unknown_switch;
  if (logged_unknown_switches_.size() < kMaxLoggedUnknown &&
      logged_unknown_switches_.insert(port.datapath_id).second) {
    Log(LogLevel::kWarning, "sflow: counters of ifindex ", if_index, " (bridge ",
        openflow::DescribeDpid(port.datapath_id), " port ", port.ofport,
        ") dropped: the bridge's datapath id is not a switch of the fabric intent (further "
        "samples of this bridge are dropped without a log line)");
  }
  return std::nullopt;
}

std::optional<switches::PortKey> OvsSflowPortMap::Resolve(uint32_t if_index) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = map_.find(if_index); it != map_.end()) return TranslateLocked(if_index, it->second);
  // The next miss after the interval retries a failed refresh.
  if (refreshable_ && std::chrono::steady_clock::now() - last_refresh_ >= min_refresh_interval_ &&
      RefreshLocked().ok()) {
    if (auto it = map_.find(if_index); it != map_.end()) {
      return TranslateLocked(if_index, it->second);
    }
  }
  ++stats_.unknown_ifindex;
  if (logged_unknown_ifindexes_.size() < kMaxLoggedUnknown &&
      logged_unknown_ifindexes_.insert(if_index).second) {
    Log(LogLevel::kWarning, "sflow: counters of ifindex ", if_index,
        " dropped: no Open vSwitch interface has it (an agent Pulse does not serve, or a port "
        "not attached to a bridge); further samples of it are dropped without a log line");
  }
  return std::nullopt;
}

OvsSflowPortMapStats OvsSflowPortMap::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

size_t OvsSflowPortMap::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return map_.size();
}

}  // namespace pulse::southbound::sflow
