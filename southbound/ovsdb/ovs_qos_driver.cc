#include "southbound/ovsdb/ovs_qos_driver.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/thread_name.h"

namespace pulse::southbound::ovsdb {
namespace {

using nlohmann::json;

// "<uuid>" of an OVSDB ["uuid", "<uuid>"] value.
std::string UuidOf(const json& value) {
  if (value.is_array() && value.size() == 2 && value[0] == "uuid") return value[1];
  return "";
}

// The uuids of an OVSDB set column (a single ["uuid", x] or ["set", [...]]).
std::set<std::string> UuidSet(const json& value) {
  std::set<std::string> out;
  if (value.is_array() && value.size() == 2 && value[0] == "set") {
    for (const json& v : value[1]) out.insert(UuidOf(v));
  } else {
    out.insert(UuidOf(value));
  }
  return out;
}

}  // namespace

PortQosConfig PortQosConfigFromPlan(const switches::QosPolicy& policy,
                                    const switches::PortQosPlan& port, std::string ovs_port) {
  PortQosConfig config;
  config.port = std::move(ovs_port);
  config.max_rate_bps = port.speed_bps;
  std::set<int> lossless_queues, other_queues;
  for (const auto& [tc, queue] : policy.tc_to_queue) {
    if (switches::IsLosslessPriority(policy, tc)) {
      lossless_queues.insert(queue);
    } else {
      other_queues.insert(queue);
    }
  }
  for (int q : lossless_queues) other_queues.erase(q);
  const double speed = static_cast<double>(port.speed_bps);
  // A shaped queue's ceiling is its shaping rate (never above the line); its guaranteed share
  // cannot exceed that ceiling (HTB refuses min > max).
  auto queue = [&](int q, double min_share, bool lossless) {
    int64_t max_bps = port.speed_bps;
    if (auto shaped = policy.queue_shaping_bps.find(q); shaped != policy.queue_shaping_bps.end()) {
      max_bps = std::min(max_bps, shaped->second);
    }
    const int64_t min_bps = std::min(static_cast<int64_t>(speed * min_share), max_bps);
    return QueueConfig{min_bps, max_bps, {{"pulse-lossless", lossless ? "true" : "false"}}};
  };
  for (int q : lossless_queues) {
    config.queues[q] = queue(q, kLosslessMinShare / lossless_queues.size(), true);
  }
  for (int q : other_queues) {
    config.queues[q] = queue(q, (1 - kLosslessMinShare) / other_queues.size(), false);
  }
  config.external_ids = LosslessExternalIds(
      port.headroom.xon_bytes, port.headroom.xoff_bytes, port.ecn.kmin_bytes, port.ecn.kmax_bytes,
      port.ecn.pmax_percent, absl::StrJoin(policy.lossless_priorities, ","));
  return config;
}

std::vector<DscpFilter> DscpFiltersFromPolicy(const switches::QosPolicy& policy) {
  // Every DSCP, not only the explicit entries: unmatched packets would land in HTB's default
  // class (queue 0), not in the queue of the policy's default_tc as DSCP_TO_TC_MAP says.
  std::vector<DscpFilter> filters;
  for (int dscp = 0; dscp < switches::kNumDscp; ++dscp) {
    auto queue = policy.tc_to_queue.find(switches::TrafficClassOfDscp(policy, dscp));
    if (queue == policy.tc_to_queue.end()) continue;
    filters.push_back({dscp, HtbClassMinorOfQueue(queue->second)});
  }
  return filters;
}

OvsQosDriver::~OvsQosDriver() {
  stop_ = true;
  if (watch_client_ != nullptr) watch_client_->Close();
  if (watch_thread_.joinable()) watch_thread_.join();
}

absl::Status OvsQosDriver::Connect(absl::string_view endpoint) { return client_.Connect(endpoint); }

absl::StatusOr<std::string> OvsQosDriver::ResolvePort(absl::string_view bridge, int32_t ofport) {
  json ops =
      json::array({{{"op", "select"},
                    {"table", "Bridge"},
                    {"where", json::array({json::array({"name", "==", std::string(bridge)})})},
                    {"columns", {"ports"}}},
                   {{"op", "select"},
                    {"table", "Interface"},
                    {"where", json::array({json::array({"ofport", "==", ofport})})},
                    {"columns", {"_uuid", "name"}}},
                   {{"op", "select"},
                    {"table", "Port"},
                    {"where", json::array()},
                    {"columns", {"_uuid", "name", "interfaces"}}}});
  absl::StatusOr<json> result = client_.Transact("Open_vSwitch", ops);
  if (!result.ok()) return result.status();
  const json& bridges = (*result)[0]["rows"];
  if (bridges.empty()) return absl::NotFoundError(absl::StrCat("ovs: no bridge '", bridge, "'"));
  const std::set<std::string> bridge_ports = UuidSet(bridges[0]["ports"]);
  std::set<std::string> interfaces;
  for (const json& row : (*result)[1]["rows"]) interfaces.insert(UuidOf(row["_uuid"]));
  for (const json& row : (*result)[2]["rows"]) {
    if (bridge_ports.count(UuidOf(row["_uuid"])) == 0) continue;
    for (const std::string& iface : UuidSet(row["interfaces"])) {
      if (interfaces.count(iface) != 0) return row["name"].get<std::string>();
    }
  }
  return absl::NotFoundError(
      absl::StrCat("ovs: bridge '", bridge, "' has no interface with ofport ", ofport));
}

absl::StatusOr<bool> OvsQosDriver::ProgramSwitch(const switches::QosPlan& plan,
                                                 const switches::SwitchQosPlan& sw,
                                                 std::vector<Target>* targets) {
  const std::vector<DscpFilter> filters = DscpFiltersFromPolicy(plan.policy);
  for (const switches::PortQosPlan& port : sw.ports) {
    absl::StatusOr<std::string> name = ResolvePort(sw.name, port.port);
    if (!name.ok()) {
      if (absl::IsNotFound(name.status()) &&
          name.status().message().find("no bridge") != absl::string_view::npos) {
        return false;  // not an OVS bridge here (yet): skip the switch
      }
      return absl::Status(name.status().code(),
                          absl::StrCat("qos push: switch ", sw.name, " port ", port.port, ": ",
                                       name.status().message()));
    }
    Target target{sw.name, port.port, PortQosConfigFromPlan(plan.policy, port, *name), filters};
    absl::Status programmed = ProgramPortQos(client_, target.config);
    // ovs-vswitchd creates the HTB qdisc (parent 1:) shortly after the transaction commits.
    for (int attempt = 0; programmed.ok() && attempt < 50; ++attempt) {
      absl::Status installed = tc_.Install(*name, filters);
      if (installed.ok()) break;
      if (attempt == 49) programmed = installed;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!programmed.ok()) {
      return absl::Status(programmed.code(),
                          absl::StrCat("qos push: switch ", sw.name, " port ", port.port, " (",
                                       *name, "): ", programmed.message()));
    }
    targets->push_back(std::move(target));
  }
  return true;
}

absl::StatusOr<int> OvsQosDriver::Apply(const switches::QosPlan& plan) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Target> targets;
  std::set<std::string> absent;
  for (const switches::SwitchQosPlan& sw : plan.switches) {
    absl::StatusOr<bool> present = ProgramSwitch(plan, sw, &targets);
    if (!present.ok()) return present.status();
    if (!*present) absent.insert(sw.name);
  }
  targets_ = std::move(targets);
  plan_ = plan;
  DeleteOrphanRows();
  absent_switches_ = std::move(absent);
  pulse::Log(pulse::LogLevel::kInfo, "qos push: ", targets_.size(), " OVS ports programmed",
             absent_switches_.empty()
                 ? std::string()
                 : absl::StrCat("; ", absent_switches_.size(),
                                " planned switches have no OVS bridge yet (programmed when "
                                "they appear)"));
  return static_cast<int>(targets_.size());
}

void OvsQosDriver::DeleteOrphanRows() {
  // QoS and Queue are root tables: a deleted bridge (or port) leaves its rows behind. Delete
  // Pulse's QoS rows (those carrying pulse-* external_ids) that no Port uses, and their queues.
  const json select = json::array(
      {{{"op", "select"}, {"table", "Port"}, {"where", json::array()}, {"columns", {"qos"}}},
       {{"op", "select"},
        {"table", "QoS"},
        {"where", json::array()},
        {"columns", {"_uuid", "external_ids", "queues"}}}});
  absl::StatusOr<json> rows = client_.Transact("Open_vSwitch", select);
  if (!rows.ok()) {
    pulse::Log(pulse::LogLevel::kWarning, "qos: orphan rows not read: ", rows.status().message());
    return;
  }
  std::set<std::string> used;
  for (const json& port : (*rows)[0]["rows"]) {
    for (const std::string& uuid : UuidSet(port["qos"])) used.insert(uuid);
  }
  json deletes = json::array();
  int orphans = 0;
  for (const json& qos : (*rows)[1]["rows"]) {
    const std::string uuid = UuidOf(qos["_uuid"]);
    if (uuid.empty() || used.count(uuid) != 0) continue;
    if (qos["external_ids"].dump().find("pulse-") == std::string::npos) continue;  // not ours
    deletes.push_back({{"op", "delete"},
                       {"table", "QoS"},
                       {"where", json::array({json::array({"_uuid", "==", qos["_uuid"]})})}});
    // queues: ["map", [[id, ["uuid", q]], ...]]
    const json& queues = qos["queues"];
    if (queues.is_array() && queues.size() == 2 && queues[1].is_array()) {
      for (const json& entry : queues[1]) {
        if (!entry.is_array() || entry.size() != 2) continue;
        deletes.push_back({{"op", "delete"},
                           {"table", "Queue"},
                           {"where", json::array({json::array({"_uuid", "==", entry[1]})})}});
      }
    }
    ++orphans;
  }
  if (orphans == 0) return;
  absl::StatusOr<json> deleted = client_.Transact("Open_vSwitch", deletes);
  if (!deleted.ok()) {
    pulse::Log(pulse::LogLevel::kWarning,
               "qos: orphan rows not deleted: ", deleted.status().message());
    return;
  }
  pulse::Log(pulse::LogLevel::kInfo, "qos: deleted ", orphans,
             " QoS rows (and their queues) left by ports that no longer exist");
}

absl::StatusOr<int> OvsQosDriver::ApplyToNewBridges() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!plan_.has_value() || absent_switches_.empty()) return 0;
  int programmed = 0;
  for (const switches::SwitchQosPlan& sw : plan_->switches) {
    if (absent_switches_.count(sw.name) == 0) continue;
    std::vector<Target> targets;
    absl::StatusOr<bool> present = ProgramSwitch(*plan_, sw, &targets);
    // A bridge still being built (ports not attached yet) is retried on the next change.
    if (!present.ok() || !*present) continue;
    programmed += static_cast<int>(targets.size());
    for (Target& t : targets) targets_.push_back(std::move(t));
    absent_switches_.erase(sw.name);
    pulse::Log(pulse::LogLevel::kInfo, "qos push: bridge ", sw.name, " appeared: ", targets.size(),
               " ports programmed");
  }
  if (programmed > 0) {
    // A bridge that came back (re-created) left its old rows behind.
    DeleteOrphanRows();
  }
  return programmed;
}

absl::StatusOr<std::vector<OvsQosFinding>> OvsQosDriver::AuditOrRepair(bool repair,
                                                                       int* ports_audited) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<OvsQosFinding> findings;
  for (const Target& t : targets_) {
    absl::StatusOr<std::vector<std::string>> ovs =
        repair ? RepairPortQos(client_, t.config) : AuditPort(client_, t.config);
    if (!ovs.ok()) return ovs.status();
    absl::StatusOr<std::vector<std::string>> tc =
        repair ? tc_.Repair(t.config.port, t.filters) : tc_.Audit(t.config.port, t.filters);
    if (!tc.ok()) return tc.status();
    for (const auto* list : {&*ovs, &*tc}) {
      for (const std::string& d : *list) findings.push_back({t.switch_name, t.port, d});
    }
  }
  if (ports_audited != nullptr) *ports_audited = static_cast<int>(targets_.size());
  return findings;
}

absl::StatusOr<std::vector<OvsQosFinding>> OvsQosDriver::Audit(int* ports_audited) {
  return AuditOrRepair(false, ports_audited);
}

absl::StatusOr<std::vector<OvsQosFinding>> OvsQosDriver::Repair() {
  absl::StatusOr<std::vector<OvsQosFinding>> repaired = AuditOrRepair(true, nullptr);
  if (repaired.ok()) {
    for (const OvsQosFinding& f : *repaired) {
      pulse::Log(pulse::LogLevel::kWarning, "qos drift found and repaired: switch ", f.switch_name,
                 " port ", f.port, ": ", f.difference);
    }
    repairs_ += repaired->size();
  }
  return repaired;
}

bool OvsQosDriver::HasAbsentSwitches() {
  std::lock_guard<std::mutex> lock(mu_);
  return !absent_switches_.empty();
}

absl::Status OvsQosDriver::Watch(absl::string_view endpoint, absl::Duration tc_poll) {
  if (watch_thread_.joinable()) return absl::FailedPreconditionError("qos watch: already running");
  watch_client_ = std::make_unique<OvsdbClient>();
  absl::Status connected = watch_client_->Connect(endpoint);
  if (!connected.ok()) return connected;
  absl::Status started = watcher_.Start(*watch_client_);
  if (!started.ok()) return started;
  watch_thread_ = std::thread([this, tc_poll] {
    pulse::NameThisThread("pulse-ovs-qos");
    int64_t seen = watcher_.updates();
    while (!stop_) {
      watcher_.WaitForUpdateAfter(seen, tc_poll);
      if (stop_) break;
      const bool changed = watcher_.updates() != seen;
      seen = watcher_.updates();
      if (changed && HasAbsentSwitches()) {
        // New Port rows: maybe a planned bridge being built. Wait for a quiet second so its
        // ports are all attached, then program it.
        while (!stop_ && watcher_.WaitForUpdateAfter(seen, absl::Seconds(1))) {
          seen = watcher_.updates();
        }
        if (stop_) break;
        absl::StatusOr<int> added = ApplyToNewBridges();
        if (!added.ok()) {
          pulse::Log(pulse::LogLevel::kError, "qos watch: ", added.status().message());
        }
        seen = watcher_.updates();
      }
      absl::StatusOr<std::vector<OvsQosFinding>> repaired = Repair();
      if (!repaired.ok()) {
        pulse::Log(pulse::LogLevel::kError,
                   "qos watch: repair failed: ", repaired.status().message());
      }
      // Our own repair transaction is itself an update; the next round finds nothing to do.
    }
  });
  return absl::OkStatus();
}

}  // namespace pulse::southbound::ovsdb
