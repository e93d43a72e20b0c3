#include "controller/qos/qos_policy.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/yaml_fields.h"
#include "topology/units.h"
#include "yaml-cpp/yaml.h"

namespace pulse::controller {
namespace {

using yaml::YamlFields;

// Errors read "qos policy key 'cnp.dscp' (line 3): problem": the policy often arrives over the
// API (SetQosPolicy, pulsectl) with no file name to show.
std::string FormatPolicyError(int line, absl::string_view field, absl::string_view problem) {
  const std::string key = field.empty() ? std::string("<top>") : std::string(field);
  return line > 0 ? absl::StrCat("qos policy key '", key, "' (line ", line, "): ", problem)
                  : absl::StrCat("qos policy key '", key, "': ", problem);
}

// Int -> int map with duplicate keys refused (yaml-cpp keeps both entries of a duplicate key).
absl::StatusOr<std::map<int, int>> ReadIntMap(const YamlFields& fields, const YAML::Node& node,
                                              absl::string_view key) {
  if (!node.IsMap()) return fields.Error(node, key, "expected a mapping");
  std::map<int, int> out;
  for (const auto& kv : node) {
    const std::string entry_key = yaml::Field(key, kv.first.IsScalar() ? kv.first.Scalar() : "?");
    absl::StatusOr<int> k = fields.Int32(kv.first, entry_key);
    if (!k.ok()) return k.status();
    absl::StatusOr<int> v = fields.Int32(kv.second, entry_key);
    if (!v.ok()) return v.status();
    if (!out.emplace(*k, *v).second) {
      return fields.Error(kv.first, entry_key,
                          absl::StrCat(*k, " is mapped twice (overlapping map)"));
    }
  }
  return out;
}

// Queue -> rate ("10G"), duplicate queues refused.
absl::Status ReadShaping(const YamlFields& fields, const YAML::Node& node, absl::string_view key,
                         std::map<int, int64_t>& out) {
  if (!node.IsMap()) return fields.Error(node, key, "expected a mapping of queue: rate");
  out.clear();
  for (const auto& kv : node) {
    const std::string entry_key = yaml::Field(key, kv.first.IsScalar() ? kv.first.Scalar() : "?");
    absl::StatusOr<int> queue = fields.Int32(kv.first, entry_key);
    if (!queue.ok()) return queue.status();
    if (!kv.second.IsScalar()) return fields.Error(kv.second, entry_key, "expected a rate");
    absl::StatusOr<double> rate = topology::ParseBitsPerSecond(kv.second.Scalar());
    if (!rate.ok() || !(*rate >= 1) || *rate > 1e15) {
      return fields.Error(kv.second, entry_key,
                          absl::StrCat("'", kv.second.Scalar(),
                                       "' is not a rate (e.g. 100M, 25G; at least 1 bit/s)"));
    }
    if (!out.emplace(*queue, static_cast<int64_t>(*rate)).second) {
      return fields.Error(kv.first, entry_key, absl::StrCat("queue ", *queue, " shaped twice"));
    }
  }
  return absl::OkStatus();
}

absl::Status ReadAsicProfile(const YamlFields& fields, const YAML::Node& node,
                             absl::string_view key, AsicProfile& p) {
  PlatformPools& pools = p.platform_pools;
  return fields.ReadSlots(
      node, key,
      {{"name", &p.name},
       {"cell_bytes", &p.cell_bytes},
       {"pipeline_latency_bytes", &p.pipeline_latency_bytes},
       {"mac_phy_delay_bytes", &p.mac_phy_delay_bytes},
       {"extra_latency_ns", &p.extra_latency_ns},
       {"lossless_mtu_bytes", &p.lossless_mtu_bytes},
       {"max_headroom_bytes", &p.max_headroom_bytes},
       {"pool_size_bytes", &p.pool_size_bytes}},
      {"platform_pools"}, [&](const std::string&, const std::string& field, const YAML::Node& v) {
        return fields.ReadSlots(v, field,
                                {{"ingress_lossless_bytes", &pools.ingress_lossless_bytes},
                                 {"ingress_lossy_bytes", &pools.ingress_lossy_bytes},
                                 {"egress_lossless_bytes", &pools.egress_lossless_bytes},
                                 {"egress_lossy_bytes", &pools.egress_lossy_bytes}});
      });
}

absl::Status ReadEcnProfile(const YamlFields& fields, const YAML::Node& node, absl::string_view key,
                            EcnProfile& p) {
  return fields.ReadSlots(node, key,
                          {{"asic", &p.asic},
                           {"kmin_bytes", &p.kmin_bytes},
                           {"kmax_bytes", &p.kmax_bytes},
                           {"pmax_percent", &p.pmax_percent}},
                          {"speed_gbps"},
                          [&](const std::string&, const std::string& field, const YAML::Node& v) {
                            absl::StatusOr<int64_t> gbps = fields.Int(v, field, 0, 100000);
                            if (!gbps.ok()) return gbps.status();
                            p.speed_bps = *gbps * 1000000000;
                            return absl::OkStatus();
                          });
}

absl::Status ReadWatchdog(const YamlFields& fields, const YAML::Node& node, absl::string_view key,
                          PfcWatchdog& wd) {
  return fields.ReadSlots(
      node, key,
      {{"detection_time_ms", &wd.detection_time_ms},
       {"restoration_time_ms", &wd.restoration_time_ms},
       {"poll_ms", &wd.poll_ms}},
      {"action"},
      [&](const std::string&, const std::string& field, const YAML::Node& v) -> absl::Status {
        absl::StatusOr<std::string> name = fields.String(v, field);
        if (!name.ok()) return name.status();
        if (*name == "drop") {
          wd.action = PfcWatchdogAction::kDrop;
        } else if (*name == "forward") {
          wd.action = PfcWatchdogAction::kForward;
        } else if (*name == "alert") {
          wd.action = PfcWatchdogAction::kAlert;
        } else {
          return fields.Error(v, field,
                              absl::StrCat("'", *name, "' is not one of drop, forward, alert"));
        }
        return absl::OkStatus();
      });
}

// Reads a list of profiles with `read(fields, item, "key[i]", profile)`.
template <typename Profile, typename Reader>
absl::Status ReadProfiles(const YamlFields& fields, const YAML::Node& node, absl::string_view key,
                          Reader read, std::vector<Profile>& out) {
  out.clear();
  return fields.ReadList(node, key, [&](size_t, const std::string& field, const YAML::Node& item) {
    Profile p;
    if (absl::Status s = read(fields, item, field, p); !s.ok()) return s;
    out.push_back(std::move(p));
    return absl::OkStatus();
  });
}

absl::Status ParseInto(const YAML::Node& root, QosPolicy& policy) {
  const YamlFields fields(FormatPolicyError);
  DefaultCableLengths& cables = policy.default_cable_lengths;
  return fields.ReadSlots(
      root, "",
      {{"default_tc", &policy.default_tc},
       {"asic", &policy.asic},
       {"port_mtu_bytes", &policy.port_mtu_bytes},
       {"pg_dynamic_th", &policy.pg_dynamic_th}},
      {"lossless_priorities", "dscp_to_tc", "tc_to_pg", "tc_to_queue", "cnp", "asic_profiles",
       "ecn_profiles", "pfc_watchdog", "default_cable_length_m", "queue_shaping"},
      [&](const std::string& k, const std::string&, const YAML::Node& v) -> absl::Status {
        if (k == "lossless_priorities") {
          policy.lossless_priorities.clear();
          return fields.ReadList(v, k,
                                 [&](size_t, const std::string& item_key, const YAML::Node& item) {
                                   absl::StatusOr<int> p = fields.Int32(item, item_key);
                                   if (!p.ok()) return p.status();
                                   policy.lossless_priorities.push_back(*p);
                                   return absl::OkStatus();
                                 });
        }
        if (k == "dscp_to_tc" || k == "tc_to_pg" || k == "tc_to_queue") {
          absl::StatusOr<std::map<int, int>> map = ReadIntMap(fields, v, k);
          if (!map.ok()) return map.status();
          (k == "dscp_to_tc" ? policy.dscp_to_tc
                             : (k == "tc_to_pg" ? policy.tc_to_pg : policy.tc_to_queue)) =
              *std::move(map);
          return absl::OkStatus();
        }
        if (k == "cnp") {
          return fields.ReadSlots(v, k,
                                  {{"dscp", &policy.cnp_dscp}, {"priority", &policy.cnp_priority}});
        }
        if (k == "asic_profiles") {
          return ReadProfiles(fields, v, k, ReadAsicProfile, policy.asic_profiles);
        }
        if (k == "ecn_profiles") {
          return ReadProfiles(fields, v, k, ReadEcnProfile, policy.ecn_profiles);
        }
        if (k == "pfc_watchdog") return ReadWatchdog(fields, v, k, policy.pfc_watchdog);
        if (k == "queue_shaping") return ReadShaping(fields, v, k, policy.queue_shaping_bps);
        return fields.ReadSlots(v, k,
                                {{"nic_leaf", &cables.nic_leaf_m},
                                 {"leaf_spine", &cables.leaf_spine_m},
                                 {"spine_superspine", &cables.spine_superspine_m}});
      });
}

absl::Status CheckPriority(int p, absl::string_view what) {
  if (p < 0 || p >= kNumPriorities) {
    return absl::InvalidArgumentError(
        absl::StrCat("qos policy: ", what, " ", p, " is not a priority (0..7)"));
  }
  return absl::OkStatus();
}

absl::Status CheckRange(int value, int lo, int hi, absl::string_view what) {
  if (value < lo || value > hi) {
    return absl::InvalidArgumentError(absl::StrCat("qos policy: ", what, " ", value,
                                                   " ms is outside the documented range ", lo, "..",
                                                   hi, " ms"));
  }
  return absl::OkStatus();
}

absl::Status CheckCable(double m, absl::string_view what) {
  if (!(m > 0) || m > kMaxCableLengthM) {
    return absl::InvalidArgumentError(
        absl::StrCat("qos policy: ", what, " ", m, " m is not in (0, ", kMaxCableLengthM, "] m"));
  }
  return absl::OkStatus();
}

}  // namespace

AsicProfile Spectrum4Profile() {
  AsicProfile p;
  p.name = "spectrum4";
  p.cell_bytes = 192;
  p.pipeline_latency_bytes = 19 * 1024;
  p.mac_phy_delay_bytes = 960;
  p.extra_latency_ns = 120;
  p.lossless_mtu_bytes = 1024;
  // Not published per port; 1 MiB holds two lossless PGs of a 400G port on a 300 m cable.
  p.max_headroom_bytes = 1 << 20;
  // Ingress lossless pool: an assumption (Spectrum-4 has about 160 MB of packet buffer in all).
  p.pool_size_bytes = 64LL << 20;
  return p;
}

QosPolicy DefaultQosPolicy() {
  QosPolicy p;
  // RoCE data on DSCP 26 and 24 (ConnectX defaults) plus SONiC's 3 and 4, CNP on 48.
  p.dscp_to_tc = {{3, 3}, {4, 4}, {24, 3}, {26, 3}, {46, 5}, {48, 6}, {8, 0}};
  p.default_tc = 1;
  p.tc_to_pg = {{3, 3}, {4, 4}};
  for (int tc = 0; tc < kNumPriorities; ++tc) p.tc_to_queue[tc] = tc;
  p.asic_profiles = {Spectrum4Profile()};
  // SONiC AZURE_LOSSLESS for every speed.
  p.ecn_profiles = {EcnProfile{"spectrum4", 0, 1 << 20, 2 << 20, 5}};
  return p;
}

absl::StatusOr<QosPolicy> ParseQosPolicyYaml(absl::string_view yaml_text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("qos policy: YAML syntax error at line ", e.mark.line + 1, ": ", e.msg));
  }
  QosPolicy policy = DefaultQosPolicy();
  if (root.IsNull()) return policy;
  try {
    if (absl::Status s = ParseInto(root, policy); !s.ok()) return s;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("qos policy: malformed YAML at line ", e.mark.line + 1, ": ", e.msg));
  }
  if (absl::Status s = ValidateQosPolicy(policy); !s.ok()) return s;
  return policy;
}

absl::Status ValidateQosPolicy(const QosPolicy& policy) {
  // Priorities.
  if (policy.lossless_priorities.empty()) {
    return absl::InvalidArgumentError("qos policy: lossless_priorities is empty");
  }
  std::set<int> lossless;
  for (int p : policy.lossless_priorities) {
    if (absl::Status s = CheckPriority(p, "lossless priority"); !s.ok()) return s;
    if (!lossless.insert(p).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("qos policy: lossless priority ", p, " listed twice"));
    }
  }
  if (absl::Status s = CheckPriority(policy.default_tc, "default_tc"); !s.ok()) return s;
  if (absl::Status s = CheckPriority(policy.cnp_priority, "cnp.priority"); !s.ok()) return s;

  // DSCP map.
  for (const auto& [dscp, tc] : policy.dscp_to_tc) {
    if (dscp < 0 || dscp >= kNumDscp) {
      return absl::InvalidArgumentError(
          absl::StrCat("qos policy: dscp_to_tc key ", dscp, " is not a DSCP (0..63)"));
    }
    if (absl::Status s = CheckPriority(tc, absl::StrCat("dscp_to_tc[", dscp, "]")); !s.ok()) {
      return s;
    }
  }
  if (policy.cnp_dscp < 0 || policy.cnp_dscp >= kNumDscp) {
    return absl::InvalidArgumentError(
        absl::StrCat("qos policy: cnp.dscp ", policy.cnp_dscp, " is not a DSCP (0..63)"));
  }
  if (lossless.count(policy.cnp_priority)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "qos policy: cnp.priority ", policy.cnp_priority,
        " is a lossless priority; CNPs must not be paused behind the data they throttle"));
  }
  if (TrafficClassOfDscp(policy, policy.cnp_dscp) != policy.cnp_priority) {
    return absl::InvalidArgumentError(
        absl::StrCat("qos policy: cnp.dscp ", policy.cnp_dscp, " maps to traffic class ",
                     TrafficClassOfDscp(policy, policy.cnp_dscp), " but cnp.priority is ",
                     policy.cnp_priority, " (contradicting maps)"));
  }
  if (lossless.count(policy.default_tc)) {
    return absl::InvalidArgumentError(
        absl::StrCat("qos policy: default_tc ", policy.default_tc,
                     " is lossless; unclassified traffic must not be lossless"));
  }

  // TC -> PG and TC -> queue.
  for (const auto& [tc, pg] : policy.tc_to_pg) {
    if (absl::Status s = CheckPriority(tc, "tc_to_pg key"); !s.ok()) return s;
    if (pg < 0 || pg >= kNumPriorities) {
      return absl::InvalidArgumentError(
          absl::StrCat("qos policy: tc_to_pg[", tc, "] = ", pg, " is not a PG (0..7)"));
    }
  }
  for (const auto& [tc, q] : policy.tc_to_queue) {
    if (absl::Status s = CheckPriority(tc, "tc_to_queue key"); !s.ok()) return s;
    if (q < 0 || q >= kNumPriorities) {
      return absl::InvalidArgumentError(
          absl::StrCat("qos policy: tc_to_queue[", tc, "] = ", q, " is not a queue (0..7)"));
    }
  }
  for (const auto& [q, rate_bps] : policy.queue_shaping_bps) {
    if (q < 0 || q >= kNumPriorities) {
      return absl::InvalidArgumentError(
          absl::StrCat("qos policy: queue_shaping key ", q, " is not a queue (0..7)"));
    }
    if (rate_bps <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("qos policy: queue_shaping[", q, "] = ", rate_bps, " bps is not a rate"));
    }
  }
  std::map<int, int> lossless_pg_owner, lossless_queue_owner;
  for (int p : policy.lossless_priorities) {
    auto pg = policy.tc_to_pg.find(p);
    if (pg == policy.tc_to_pg.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("qos policy: lossless traffic class ", p, " has no tc_to_pg entry"));
    }
    auto q = policy.tc_to_queue.find(p);
    if (q == policy.tc_to_queue.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("qos policy: lossless traffic class ", p, " has no tc_to_queue entry"));
    }
    lossless_pg_owner[pg->second] = p;
    lossless_queue_owner[q->second] = p;
  }
  for (const auto& [tc, pg] : policy.tc_to_pg) {
    auto owner = lossless_pg_owner.find(pg);
    if (owner != lossless_pg_owner.end() && owner->second != tc) {
      return absl::InvalidArgumentError(
          absl::StrCat("qos policy: traffic class ", tc, " shares priority group ", pg,
                       " with lossless traffic class ", owner->second,
                       " (contradicting maps: a PG is either lossless or lossy, and one PG per "
                       "lossless class)"));
    }
  }
  for (const auto& [tc, q] : policy.tc_to_queue) {
    auto owner = lossless_queue_owner.find(q);
    if (owner != lossless_queue_owner.end() && owner->second != tc) {
      return absl::InvalidArgumentError(
          absl::StrCat("qos policy: traffic class ", tc, " shares queue ", q,
                       " with lossless traffic class ", owner->second, " (contradicting maps)"));
    }
  }

  // ASIC profiles.
  std::set<std::string> asic_names;
  for (const AsicProfile& a : policy.asic_profiles) {
    if (a.name.empty()) return absl::InvalidArgumentError("qos policy: asic profile without name");
    if (!asic_names.insert(a.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("qos policy: asic profile '", a.name, "' defined twice"));
    }
    if (a.cell_bytes <= 0 || a.pipeline_latency_bytes <= 0 || a.mac_phy_delay_bytes < 0 ||
        a.extra_latency_ns < 0 || a.lossless_mtu_bytes <= 0 || a.max_headroom_bytes <= 0 ||
        a.pool_size_bytes <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("qos policy: asic profile '", a.name,
                       "' needs positive cell_bytes, pipeline_latency_bytes, lossless_mtu_bytes, "
                       "max_headroom_bytes, pool_size_bytes and non-negative delays"));
    }
    const PlatformPools& pools = a.platform_pools;
    if (pools.ingress_lossless_bytes < 0 || pools.ingress_lossy_bytes < 0 ||
        pools.egress_lossless_bytes < 0 || pools.egress_lossy_bytes < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("qos policy: asic profile '", a.name,
                       "' platform_pools sizes must be positive (or absent: left to the switch)"));
    }
  }
  if (FindAsicProfile(policy, policy.asic) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("qos policy: asic '", policy.asic, "' has no asic profile"));
  }

  // ECN profiles.
  for (const EcnProfile& e : policy.ecn_profiles) {
    const std::string name =
        absl::StrCat("ecn profile (", e.asic, ", ", e.speed_bps / 1000000000, "G)");
    if (FindAsicProfile(policy, e.asic) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("qos policy: ", name, " names an unknown asic"));
    }
    if (e.kmin_bytes <= 0 || e.kmin_bytes >= e.kmax_bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("qos policy: ", name, ": thresholds out of order, need 0 < kmin (",
                       e.kmin_bytes, ") < kmax (", e.kmax_bytes, ")"));
    }
    if (e.pmax_percent < 1 || e.pmax_percent > 100) {
      return absl::InvalidArgumentError(
          absl::StrCat("qos policy: ", name, ": pmax_percent ", e.pmax_percent, " not in 1..100"));
    }
  }
  if (FindEcnProfile(policy, policy.asic, 0) == nullptr) {
    bool any = false;
    for (const EcnProfile& e : policy.ecn_profiles) any = any || e.asic == policy.asic;
    if (!any) {
      return absl::InvalidArgumentError(
          absl::StrCat("qos policy: no ecn profile for asic '", policy.asic, "'"));
    }
  }

  // PFC watchdog.
  const PfcWatchdog& wd = policy.pfc_watchdog;
  if (absl::Status s = CheckRange(wd.detection_time_ms, kPfcWdDetectionMinMs, kPfcWdDetectionMaxMs,
                                  "pfc_watchdog.detection_time_ms");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckRange(wd.restoration_time_ms, kPfcWdRestorationMinMs,
                                  kPfcWdRestorationMaxMs, "pfc_watchdog.restoration_time_ms");
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          CheckRange(wd.poll_ms, kPfcWdPollMinMs, kPfcWdPollMaxMs, "pfc_watchdog.poll_ms");
      !s.ok()) {
    return s;
  }
  if (wd.detection_time_ms < wd.poll_ms || wd.restoration_time_ms < wd.poll_ms) {
    const bool detection = wd.detection_time_ms < wd.poll_ms;
    return absl::InvalidArgumentError(absl::StrCat(
        "qos policy: pfc_watchdog.", detection ? "detection_time_ms " : "restoration_time_ms ",
        detection ? wd.detection_time_ms : wd.restoration_time_ms,
        " ms is shorter than pfc_watchdog.poll_ms ", wd.poll_ms,
        " ms; the watchdog cannot act faster than it polls (SONiC refuses it)"));
  }

  // MTU, cables, dynamic threshold.
  if (policy.port_mtu_bytes < 1500 || policy.port_mtu_bytes > 16384) {
    return absl::InvalidArgumentError(
        absl::StrCat("qos policy: port_mtu_bytes ", policy.port_mtu_bytes, " not in 1500..16384"));
  }
  const DefaultCableLengths& c = policy.default_cable_lengths;
  if (absl::Status s = CheckCable(c.nic_leaf_m, "default_cable_length_m.nic_leaf"); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckCable(c.leaf_spine_m, "default_cable_length_m.leaf_spine"); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckCable(c.spine_superspine_m, "default_cable_length_m.spine_superspine");
      !s.ok()) {
    return s;
  }
  if (policy.pg_dynamic_th < -7 || policy.pg_dynamic_th > 7) {
    return absl::InvalidArgumentError(
        absl::StrCat("qos policy: pg_dynamic_th ", policy.pg_dynamic_th, " not in -7..7"));
  }
  return absl::OkStatus();
}

}  // namespace pulse::controller
