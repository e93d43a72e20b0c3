#include "controller/qos_policy.h"

#include <algorithm>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "yaml-cpp/yaml.h"

namespace pulse::controller {
namespace {

// --- YAML helpers: every error names the key and its 1-based line. ---

std::string Where(const YAML::Node& node, absl::string_view key) {
  return absl::StrCat("qos policy key '", key, "' (line ", node.Mark().line + 1, ")");
}

absl::StatusOr<int64_t> ReadInt(const YAML::Node& node, absl::string_view key) {
  if (!node.IsScalar()) {
    return absl::InvalidArgumentError(absl::StrCat(Where(node, key), ": expected an integer"));
  }
  try {
    return node.as<int64_t>();
  } catch (const YAML::Exception&) {
    return absl::InvalidArgumentError(
        absl::StrCat(Where(node, key), ": expected an integer, got '", node.Scalar(), "'"));
  }
}

absl::StatusOr<int> ReadSmallInt(const YAML::Node& node, absl::string_view key) {
  absl::StatusOr<int64_t> v = ReadInt(node, key);
  if (!v.ok()) return v.status();
  if (*v < -1000000000 || *v > 1000000000) {
    return absl::InvalidArgumentError(absl::StrCat(Where(node, key), ": ", *v, " out of range"));
  }
  return static_cast<int>(*v);
}

absl::StatusOr<double> ReadDouble(const YAML::Node& node, absl::string_view key) {
  if (!node.IsScalar()) {
    return absl::InvalidArgumentError(absl::StrCat(Where(node, key), ": expected a number"));
  }
  try {
    return node.as<double>();
  } catch (const YAML::Exception&) {
    return absl::InvalidArgumentError(
        absl::StrCat(Where(node, key), ": expected a number, got '", node.Scalar(), "'"));
  }
}

absl::StatusOr<std::string> ReadString(const YAML::Node& node, absl::string_view key) {
  if (!node.IsScalar()) {
    return absl::InvalidArgumentError(absl::StrCat(Where(node, key), ": expected a string"));
  }
  return node.Scalar();
}

absl::Status ExpectMap(const YAML::Node& node, absl::string_view key) {
  if (!node.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat(Where(node, key), ": expected a mapping"));
  }
  return absl::OkStatus();
}

// Int -> int map with duplicate keys refused (yaml-cpp keeps both entries of a duplicate key).
absl::StatusOr<std::map<int, int>> ReadIntMap(const YAML::Node& node, absl::string_view key) {
  if (absl::Status s = ExpectMap(node, key); !s.ok()) return s;
  std::map<int, int> out;
  for (const auto& kv : node) {
    const std::string entry_key = absl::StrCat(key, ".", kv.first.Scalar());
    absl::StatusOr<int> k = ReadSmallInt(kv.first, entry_key);
    if (!k.ok()) return k.status();
    absl::StatusOr<int> v = ReadSmallInt(kv.second, entry_key);
    if (!v.ok()) return v.status();
    if (!out.emplace(*k, *v).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(kv.first, entry_key), ": ", *k, " is mapped twice (overlapping map)"));
    }
  }
  return out;
}

#define PULSE_ASSIGN_OR_RETURN_IMPL(var, tmp, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  var = std::move(*tmp)
#define PULSE_QOS_CONCAT2(a, b) a##b
#define PULSE_QOS_CONCAT(a, b) PULSE_QOS_CONCAT2(a, b)
#define ASSIGN_OR_RETURN(var, expr) \
  PULSE_ASSIGN_OR_RETURN_IMPL(var, PULSE_QOS_CONCAT(status_or_, __LINE__), expr)

absl::StatusOr<AsicProfile> ReadAsicProfile(const YAML::Node& node, absl::string_view key) {
  if (absl::Status s = ExpectMap(node, key); !s.ok()) return s;
  AsicProfile p;
  for (const auto& kv : node) {
    const std::string k = kv.first.Scalar();
    const std::string full = absl::StrCat(key, ".", k);
    if (k == "name") {
      ASSIGN_OR_RETURN(p.name, ReadString(kv.second, full));
    } else if (k == "cell_bytes") {
      ASSIGN_OR_RETURN(p.cell_bytes, ReadInt(kv.second, full));
    } else if (k == "pipeline_latency_bytes") {
      ASSIGN_OR_RETURN(p.pipeline_latency_bytes, ReadInt(kv.second, full));
    } else if (k == "mac_phy_delay_bytes") {
      ASSIGN_OR_RETURN(p.mac_phy_delay_bytes, ReadInt(kv.second, full));
    } else if (k == "extra_latency_ns") {
      ASSIGN_OR_RETURN(p.extra_latency_ns, ReadDouble(kv.second, full));
    } else if (k == "lossless_mtu_bytes") {
      ASSIGN_OR_RETURN(p.lossless_mtu_bytes, ReadInt(kv.second, full));
    } else if (k == "max_headroom_bytes") {
      ASSIGN_OR_RETURN(p.max_headroom_bytes, ReadInt(kv.second, full));
    } else if (k == "pool_size_bytes") {
      ASSIGN_OR_RETURN(p.pool_size_bytes, ReadInt(kv.second, full));
    } else {
      return absl::InvalidArgumentError(absl::StrCat(Where(kv.first, full), ": unknown key"));
    }
  }
  return p;
}

absl::StatusOr<EcnProfile> ReadEcnProfile(const YAML::Node& node, absl::string_view key) {
  if (absl::Status s = ExpectMap(node, key); !s.ok()) return s;
  EcnProfile p;
  for (const auto& kv : node) {
    const std::string k = kv.first.Scalar();
    const std::string full = absl::StrCat(key, ".", k);
    if (k == "asic") {
      ASSIGN_OR_RETURN(p.asic, ReadString(kv.second, full));
    } else if (k == "speed_gbps") {
      int64_t gbps = 0;
      ASSIGN_OR_RETURN(gbps, ReadInt(kv.second, full));
      if (gbps < 0 || gbps > 100000) {
        return absl::InvalidArgumentError(
            absl::StrCat(Where(kv.second, full), ": ", gbps, " Gb/s out of range"));
      }
      p.speed_bps = gbps * 1000000000;
    } else if (k == "kmin_bytes") {
      ASSIGN_OR_RETURN(p.kmin_bytes, ReadInt(kv.second, full));
    } else if (k == "kmax_bytes") {
      ASSIGN_OR_RETURN(p.kmax_bytes, ReadInt(kv.second, full));
    } else if (k == "pmax_percent") {
      ASSIGN_OR_RETURN(p.pmax_percent, ReadSmallInt(kv.second, full));
    } else {
      return absl::InvalidArgumentError(absl::StrCat(Where(kv.first, full), ": unknown key"));
    }
  }
  return p;
}

absl::StatusOr<PfcWatchdogAction> ParseAction(const YAML::Node& node, absl::string_view key) {
  std::string name;
  ASSIGN_OR_RETURN(name, ReadString(node, key));
  if (name == "drop") return PfcWatchdogAction::kDrop;
  if (name == "forward") return PfcWatchdogAction::kForward;
  if (name == "alert") return PfcWatchdogAction::kAlert;
  return absl::InvalidArgumentError(
      absl::StrCat(Where(node, key), ": '", name, "' is not one of drop, forward, alert"));
}

absl::Status ParseInto(const YAML::Node& root, QosPolicy& policy) {
  if (absl::Status s = ExpectMap(root, "<top>"); !s.ok()) return s;
  for (const auto& kv : root) {
    const std::string k = kv.first.Scalar();
    const YAML::Node& v = kv.second;
    if (k == "lossless_priorities") {
      if (!v.IsSequence()) {
        return absl::InvalidArgumentError(absl::StrCat(Where(v, k), ": expected a list"));
      }
      policy.lossless_priorities.clear();
      for (const auto& item : v) {
        int p = 0;
        ASSIGN_OR_RETURN(p, ReadSmallInt(item, k));
        policy.lossless_priorities.push_back(p);
      }
    } else if (k == "dscp_to_tc") {
      ASSIGN_OR_RETURN(policy.dscp_to_tc, ReadIntMap(v, k));
    } else if (k == "default_tc") {
      ASSIGN_OR_RETURN(policy.default_tc, ReadSmallInt(v, k));
    } else if (k == "tc_to_pg") {
      ASSIGN_OR_RETURN(policy.tc_to_pg, ReadIntMap(v, k));
    } else if (k == "tc_to_queue") {
      ASSIGN_OR_RETURN(policy.tc_to_queue, ReadIntMap(v, k));
    } else if (k == "cnp") {
      if (absl::Status s = ExpectMap(v, k); !s.ok()) return s;
      for (const auto& c : v) {
        const std::string ck = c.first.Scalar();
        const std::string full = absl::StrCat(k, ".", ck);
        if (ck == "dscp") {
          ASSIGN_OR_RETURN(policy.cnp_dscp, ReadSmallInt(c.second, full));
        } else if (ck == "priority") {
          ASSIGN_OR_RETURN(policy.cnp_priority, ReadSmallInt(c.second, full));
        } else {
          return absl::InvalidArgumentError(absl::StrCat(Where(c.first, full), ": unknown key"));
        }
      }
    } else if (k == "asic") {
      ASSIGN_OR_RETURN(policy.asic, ReadString(v, k));
    } else if (k == "asic_profiles" || k == "ecn_profiles") {
      if (!v.IsSequence()) {
        return absl::InvalidArgumentError(absl::StrCat(Where(v, k), ": expected a list"));
      }
      if (k == "asic_profiles") policy.asic_profiles.clear();
      if (k == "ecn_profiles") policy.ecn_profiles.clear();
      int i = 0;
      for (const auto& item : v) {
        const std::string full = absl::StrCat(k, "[", i++, "]");
        if (k == "asic_profiles") {
          AsicProfile p;
          ASSIGN_OR_RETURN(p, ReadAsicProfile(item, full));
          policy.asic_profiles.push_back(std::move(p));
        } else {
          EcnProfile p;
          ASSIGN_OR_RETURN(p, ReadEcnProfile(item, full));
          policy.ecn_profiles.push_back(std::move(p));
        }
      }
    } else if (k == "pfc_watchdog") {
      if (absl::Status s = ExpectMap(v, k); !s.ok()) return s;
      for (const auto& w : v) {
        const std::string wk = w.first.Scalar();
        const std::string full = absl::StrCat(k, ".", wk);
        if (wk == "action") {
          ASSIGN_OR_RETURN(policy.pfc_watchdog.action, ParseAction(w.second, full));
        } else if (wk == "detection_time_ms") {
          ASSIGN_OR_RETURN(policy.pfc_watchdog.detection_time_ms, ReadSmallInt(w.second, full));
        } else if (wk == "restoration_time_ms") {
          ASSIGN_OR_RETURN(policy.pfc_watchdog.restoration_time_ms, ReadSmallInt(w.second, full));
        } else if (wk == "poll_ms") {
          ASSIGN_OR_RETURN(policy.pfc_watchdog.poll_ms, ReadSmallInt(w.second, full));
        } else {
          return absl::InvalidArgumentError(absl::StrCat(Where(w.first, full), ": unknown key"));
        }
      }
    } else if (k == "port_mtu_bytes") {
      ASSIGN_OR_RETURN(policy.port_mtu_bytes, ReadInt(v, k));
    } else if (k == "default_cable_length_m") {
      if (absl::Status s = ExpectMap(v, k); !s.ok()) return s;
      for (const auto& c : v) {
        const std::string ck = c.first.Scalar();
        const std::string full = absl::StrCat(k, ".", ck);
        if (ck == "nic_leaf") {
          ASSIGN_OR_RETURN(policy.default_cable_lengths.nic_leaf_m, ReadDouble(c.second, full));
        } else if (ck == "leaf_spine") {
          ASSIGN_OR_RETURN(policy.default_cable_lengths.leaf_spine_m, ReadDouble(c.second, full));
        } else if (ck == "spine_superspine") {
          ASSIGN_OR_RETURN(policy.default_cable_lengths.spine_superspine_m,
                           ReadDouble(c.second, full));
        } else {
          return absl::InvalidArgumentError(absl::StrCat(Where(c.first, full), ": unknown key"));
        }
      }
    } else if (k == "pg_dynamic_th") {
      ASSIGN_OR_RETURN(policy.pg_dynamic_th, ReadSmallInt(v, k));
    } else {
      return absl::InvalidArgumentError(absl::StrCat(Where(kv.first, k), ": unknown key"));
    }
  }
  return absl::OkStatus();
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

absl::string_view PfcWatchdogActionName(PfcWatchdogAction action) {
  switch (action) {
    case PfcWatchdogAction::kDrop:
      return "drop";
    case PfcWatchdogAction::kForward:
      return "forward";
    case PfcWatchdogAction::kAlert:
      return "alert";
  }
  return "drop";
}

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

int TrafficClassOfDscp(const QosPolicy& policy, int dscp) {
  auto it = policy.dscp_to_tc.find(dscp);
  return it == policy.dscp_to_tc.end() ? policy.default_tc : it->second;
}

bool IsLosslessPriority(const QosPolicy& policy, int priority) {
  return std::find(policy.lossless_priorities.begin(), policy.lossless_priorities.end(),
                   priority) != policy.lossless_priorities.end();
}

const AsicProfile* FindAsicProfile(const QosPolicy& policy, absl::string_view name) {
  for (const AsicProfile& p : policy.asic_profiles) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

const EcnProfile* FindEcnProfile(const QosPolicy& policy, absl::string_view asic,
                                 int64_t speed_bps) {
  const EcnProfile* any_speed = nullptr;
  for (const EcnProfile& p : policy.ecn_profiles) {
    if (p.asic != asic) continue;
    if (p.speed_bps == speed_bps) return &p;
    if (p.speed_bps == 0) any_speed = &p;
  }
  return any_speed;
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
