#include "southbound/sonic/qos_export.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace pulse::southbound::sonic {
namespace {

using switches::AsicProfile;
using switches::EcnProfile;
using switches::kNumDscp;
using switches::kNumPriorities;
using switches::PlatformPools;
using switches::PortQosPlan;
using switches::QosPlan;
using switches::QosPolicy;
using switches::SwitchQosPlan;

// CABLE_LENGTH values are whole metres in SONiC's schema ("40m"). Rounded up: a switch that
// derives headroom from it (SONiC's dynamic buffer model) then never gets less than planned.
std::string CableName(double m) { return absl::StrCat(static_cast<int64_t>(std::ceil(m)), "m"); }

// The exact length, "40m" or "10.4m": one profile per (speed, exact cable), so ports whose cables
// round to the same metre never share a profile holding the other's (smaller) headroom.
std::string ExactCableName(double m) { return absl::StrCat(m, "m"); }

std::string BufferProfileName(const PortQosPlan& p) {
  return absl::StrCat("pg_lossless_", p.speed_bps / 1000000, "_", ExactCableName(p.cable_length_m),
                      "_profile");
}

constexpr char kMapName[] = "AZURE";
constexpr char kLosslessScheduler[] = "scheduler.lossless";
constexpr char kLossyScheduler[] = "scheduler.lossy";
// SONiC's usual DWRR weights: lossless queues slightly ahead of lossy ones.
constexpr int kLosslessWeight = 15, kLossyWeight = 14;

std::string WredProfileName(const EcnProfile& e) {
  return e.speed_bps == 0 ? std::string("AZURE_LOSSLESS")
                          : absl::StrCat("AZURE_LOSSLESS_", e.speed_bps / 1000000000, "G");
}

// A BUFFER_POOL entry; `size` only when the platform published one (see PlatformPools).
nlohmann::json PoolEntry(const char* type, const char* mode, int64_t size_bytes) {
  nlohmann::json pool = {{"type", type}, {"mode", mode}};
  if (size_bytes > 0) pool["size"] = std::to_string(size_bytes);
  return pool;
}

// Keys "port|range" for maximal runs of consecutive indices 0..7 whose attributes are equal.
void PutRuns(nlohmann::json& table, const std::string& port,
             const std::vector<nlohmann::json>& attrs_by_index) {
  for (size_t i = 0; i < attrs_by_index.size();) {
    size_t j = i;
    while (j + 1 < attrs_by_index.size() && attrs_by_index[j + 1] == attrs_by_index[i]) ++j;
    if (!attrs_by_index[i].is_null()) {
      table[i == j ? absl::StrCat(port, "|", i) : absl::StrCat(port, "|", i, "-", j)] =
          attrs_by_index[i];
    }
    i = j + 1;
  }
}

}  // namespace

std::string SonicPortName(int32_t port, int stride) {
  return absl::StrCat("Ethernet", (port - 1) * stride);
}

absl::StatusOr<nlohmann::json> ExportSonicConfigDb(const QosPlan& plan,
                                                   absl::string_view switch_name,
                                                   int port_name_stride) {
  const SwitchQosPlan* sw = plan.FindSwitch(switch_name);
  if (sw == nullptr) {
    return absl::NotFoundError(absl::StrCat("qos plan has no switch '", switch_name, "'"));
  }
  if (port_name_stride <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("port name stride ", port_name_stride, " must be positive"));
  }
  const QosPolicy& policy = plan.policy;
  using nlohmann::json;
  json db = json::object();

  json dscp = json::object();
  for (int d = 0; d < kNumDscp; ++d) {
    dscp[std::to_string(d)] = std::to_string(TrafficClassOfDscp(policy, d));
  }
  db["DSCP_TO_TC_MAP"][kMapName] = dscp;
  json tc_pg = json::object(), tc_q = json::object(), pfc_q = json::object(),
       pfc_pg = json::object();
  std::vector<int> pg_of(kNumPriorities), queue_of(kNumPriorities);
  for (int tc = 0; tc < kNumPriorities; ++tc) {
    auto pg = policy.tc_to_pg.find(tc);
    pg_of[tc] = pg == policy.tc_to_pg.end() ? 0 : pg->second;
    auto q = policy.tc_to_queue.find(tc);
    queue_of[tc] = q == policy.tc_to_queue.end() ? tc : q->second;
    tc_pg[std::to_string(tc)] = std::to_string(pg_of[tc]);
    tc_q[std::to_string(tc)] = std::to_string(queue_of[tc]);
    // A PAUSE for priority p stops the queue and is accounted to the PG of traffic class p
    // (a lossless priority is its traffic class, qos_policy.h).
    pfc_q[std::to_string(tc)] = std::to_string(queue_of[tc]);
    pfc_pg[std::to_string(tc)] = std::to_string(pg_of[tc]);
  }
  db["TC_TO_PRIORITY_GROUP_MAP"][kMapName] = tc_pg;
  db["TC_TO_QUEUE_MAP"][kMapName] = tc_q;
  db["MAP_PFC_PRIORITY_TO_QUEUE"][kMapName] = pfc_q;
  db["PFC_PRIORITY_TO_PRIORITY_GROUP_MAP"][kMapName] = pfc_pg;
  db["PORT_QOS_MAP"]["global"] = {{"dscp_to_tc_map", kMapName}};

  std::vector<int> lossless = policy.lossless_priorities;
  std::sort(lossless.begin(), lossless.end());
  const std::string pfc_enable = absl::StrJoin(lossless, ",");
  std::vector<bool> lossless_pg(kNumPriorities), lossless_queue(kNumPriorities);
  for (int p : lossless) {
    lossless_pg[policy.tc_to_pg.at(p)] = true;
    lossless_queue[policy.tc_to_queue.at(p)] = true;
  }
  const AsicProfile& asic = *FindAsicProfile(policy, policy.asic);
  const PlatformPools& pools = asic.platform_pools;

  db["BUFFER_POOL"]["ingress_lossless_pool"] =
      PoolEntry("ingress", "dynamic", pools.ingress_lossless_bytes);
  db["BUFFER_POOL"]["ingress_lossy_pool"] =
      PoolEntry("ingress", "dynamic", pools.ingress_lossy_bytes);
  db["BUFFER_POOL"]["egress_lossless_pool"] =
      PoolEntry("egress", "static", pools.egress_lossless_bytes);
  db["BUFFER_POOL"]["egress_lossy_pool"] = PoolEntry("egress", "dynamic", pools.egress_lossy_bytes);
  db["BUFFER_PROFILE"]["ingress_lossless_profile"] = {
      {"pool", "ingress_lossless_pool"}, {"size", "0"}, {"dynamic_th", "7"}};
  db["BUFFER_PROFILE"]["ingress_lossy_profile"] = {
      {"pool", "ingress_lossy_pool"}, {"size", "0"}, {"dynamic_th", "3"}};
  db["BUFFER_PROFILE"]["egress_lossless_profile"] = {
      {"pool", "egress_lossless_pool"}, {"size", "0"}, {"dynamic_th", "7"}};
  db["BUFFER_PROFILE"]["egress_lossy_profile"] = {
      {"pool", "egress_lossy_pool"}, {"size", "0"}, {"dynamic_th", "3"}};

  // Schedulers: DWRR by class, plus one per shaped queue carrying its peak rate (pir, bytes/s).
  db["SCHEDULER"][kLosslessScheduler] = {{"type", "DWRR"},
                                         {"weight", std::to_string(kLosslessWeight)}};
  db["SCHEDULER"][kLossyScheduler] = {{"type", "DWRR"}, {"weight", std::to_string(kLossyWeight)}};
  std::vector<std::string> scheduler_of(kNumPriorities);
  for (int q = 0; q < kNumPriorities; ++q) {
    scheduler_of[q] = lossless_queue[q] ? kLosslessScheduler : kLossyScheduler;
    auto shaped = policy.queue_shaping_bps.find(q);
    if (shaped == policy.queue_shaping_bps.end()) continue;
    scheduler_of[q] = absl::StrCat("scheduler.q", q, "_shaped");
    db["SCHEDULER"][scheduler_of[q]] = {
        {"type", "DWRR"},
        {"weight", std::to_string(lossless_queue[q] ? kLosslessWeight : kLossyWeight)},
        {"meter_type", "bytes"},
        // SONiC's YANG accepts pir only with a positive cir; 1 B/s guarantees nothing beyond
        // the DWRR share, which is what shaping alone means.
        {"cir", "1"},
        {"pir", std::to_string(shaped->second / 8)},
        {"pbs", std::to_string(policy.port_mtu_bytes)}};
  }

  db["PFC_WD"]["GLOBAL"] = {{"POLL_INTERVAL", std::to_string(policy.pfc_watchdog.poll_ms)}};
  json cable = json::object();
  for (const PortQosPlan& p : sw->ports) {
    const std::string port = SonicPortName(p.port, port_name_stride);
    db["PORT_QOS_MAP"][port] = {{"dscp_to_tc_map", kMapName},   {"tc_to_pg_map", kMapName},
                                {"tc_to_queue_map", kMapName},  {"pfc_to_queue_map", kMapName},
                                {"pfc_to_pg_map", kMapName},    {"pfc_enable", pfc_enable},
                                {"pfcwd_sw_enable", pfc_enable}};
    const std::string wred = WredProfileName(p.ecn);
    json wred_entry = {{"ecn", "ecn_all"}};
    for (const char* color : {"green", "yellow", "red"}) {
      wred_entry[absl::StrCat("wred_", color, "_enable")] = "true";
      wred_entry[absl::StrCat(color, "_min_threshold")] = std::to_string(p.ecn.kmin_bytes);
      wred_entry[absl::StrCat(color, "_max_threshold")] = std::to_string(p.ecn.kmax_bytes);
      wred_entry[absl::StrCat(color, "_drop_probability")] = std::to_string(p.ecn.pmax_percent);
    }
    db["WRED_PROFILE"][wred] = wred_entry;

    std::vector<json> queue_attrs(kNumPriorities), buffer_queue(kNumPriorities);
    for (int q = 0; q < kNumPriorities; ++q) {
      queue_attrs[q] = {{"scheduler", scheduler_of[q]}};
      if (lossless_queue[q]) queue_attrs[q]["wred_profile"] = wred;
      buffer_queue[q] = {
          {"profile", lossless_queue[q] ? "egress_lossless_profile" : "egress_lossy_profile"}};
    }
    PutRuns(db["QUEUE"], port, queue_attrs);
    PutRuns(db["BUFFER_QUEUE"], port, buffer_queue);

    const std::string profile = BufferProfileName(p);
    const json profile_entry = {{"pool", "ingress_lossless_pool"},
                                {"size", std::to_string(p.headroom.size_bytes)},
                                {"xon", std::to_string(p.headroom.xon_bytes)},
                                {"xoff", std::to_string(p.headroom.xoff_bytes)},
                                {"dynamic_th", std::to_string(policy.pg_dynamic_th)}};
    json& existing = db["BUFFER_PROFILE"][profile];
    if (!existing.is_null() && existing != profile_entry) {
      return absl::InternalError(absl::StrCat("buffer profile ", profile, " planned twice with ",
                                              "different headroom (", existing.dump(), " vs ",
                                              profile_entry.dump(), ")"));
    }
    existing = profile_entry;
    // Lossless PGs get their headroom profile; PG 0 carries the lossy traffic.
    std::vector<json> pg_attrs(kNumPriorities);
    pg_attrs[0] = {{"profile", "ingress_lossy_profile"}};
    for (int pg = 0; pg < kNumPriorities; ++pg) {
      if (lossless_pg[pg]) pg_attrs[pg] = {{"profile", profile}};
    }
    PutRuns(db["BUFFER_PG"], port, pg_attrs);
    db["BUFFER_PORT_INGRESS_PROFILE_LIST"][port] = {
        {"profile_list", "ingress_lossless_profile,ingress_lossy_profile"}};
    db["BUFFER_PORT_EGRESS_PROFILE_LIST"][port] = {
        {"profile_list", "egress_lossless_profile,egress_lossy_profile"}};
    db["PFC_WD"][port] = {
        {"action", std::string(PfcWatchdogActionName(policy.pfc_watchdog.action))},
        {"detection_time", std::to_string(policy.pfc_watchdog.detection_time_ms)},
        {"restoration_time", std::to_string(policy.pfc_watchdog.restoration_time_ms)}};
    cable[port] = CableName(p.cable_length_m);
  }
  db["CABLE_LENGTH"][kMapName] = cable;
  return db;
}

}  // namespace pulse::southbound::sonic
