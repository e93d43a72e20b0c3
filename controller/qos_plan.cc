#include "controller/qos_plan.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace pulse::controller {
namespace {

using topology::Fabric;
using topology::Link;
using topology::Node;

double DefaultCableLength(const QosPolicy& policy, int level_a, int level_b) {
  const int low = std::min(level_a, level_b);
  if (low <= topology::kNicLevel) return policy.default_cable_lengths.nic_leaf_m;
  if (low == 1) return policy.default_cable_lengths.leaf_spine_m;
  return policy.default_cable_lengths.spine_superspine_m;
}

std::string CableName(double m) { return absl::StrCat(static_cast<int64_t>(std::llround(m)), "m"); }

std::string BufferProfileName(const PortQosPlan& p) {
  return absl::StrCat("pg_lossless_", p.speed_bps / 1000000, "_", CableName(p.cable_length_m),
                      "_profile");
}

std::string WredProfileName(const EcnProfile& e) {
  return e.speed_bps == 0 ? std::string("AZURE_LOSSLESS")
                          : absl::StrCat("AZURE_LOSSLESS_", e.speed_bps / 1000000000, "G");
}

// "3-4" for consecutive values, "3,5" otherwise? SONiC keys take a range "3-4" or one index.
// We emit one key per maximal run of consecutive values.
std::vector<std::string> IndexRanges(std::vector<int> values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  std::vector<std::string> out;
  for (size_t i = 0; i < values.size();) {
    size_t j = i;
    while (j + 1 < values.size() && values[j + 1] == values[j] + 1) ++j;
    out.push_back(i == j ? absl::StrCat(values[i]) : absl::StrCat(values[i], "-", values[j]));
    i = j + 1;
  }
  return out;
}

}  // namespace

const SwitchQosPlan* QosPlan::FindSwitch(absl::string_view name) const {
  for (const SwitchQosPlan& s : switches) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::string SonicPortName(int32_t port, int stride) {
  return absl::StrCat("Ethernet", (port - 1) * stride);
}

absl::StatusOr<QosPlan> PlanQos(const Fabric& fabric, const QosPolicy& policy) {
  if (absl::Status s = ValidateQosPolicy(policy); !s.ok()) return s;
  const AsicProfile& asic = *FindAsicProfile(policy, policy.asic);
  const int64_t num_lossless_pgs = static_cast<int64_t>(policy.lossless_priorities.size());
  const double alpha = std::ldexp(1.0, policy.pg_dynamic_th);

  QosPlan plan;
  plan.policy = policy;
  for (topology::NodeId id : fabric.switches()) {
    const Node& node = fabric.node(id);
    SwitchQosPlan sw;
    sw.node = id;
    sw.name = node.name;
    std::vector<topology::Port> ports = node.ports;
    std::sort(ports.begin(), ports.end(),
              [](const topology::Port& a, const topology::Port& b) { return a.number < b.number; });
    for (const topology::Port& port : ports) {
      if (port.link == topology::kNoLink) continue;
      const Link& link = fabric.link(port.link);
      const Node& peer = fabric.node(fabric.Peer(port.link, id));
      const std::string where =
          absl::StrCat("switch ", node.name, " port ", port.number, " (to ", peer.name, ")");
      PortQosPlan p;
      p.port = port.number;
      p.link = port.link;
      p.peer = peer.name;
      p.speed_bps = port.speed_bps > 0 ? port.speed_bps : link.capacity_bps;
      if (link.cable_length_m > 0) {
        p.cable_length_m = link.cable_length_m;
      } else if (link.cable_length_m == 0) {
        p.cable_length_m = DefaultCableLength(policy, node.level, peer.level);
        p.cable_length_defaulted = true;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": cable length ", link.cable_length_m, " m is negative"));
      }
      absl::StatusOr<Headroom> h =
          HeadroomBytes(p.speed_bps, p.cable_length_m, policy.port_mtu_bytes, asic);
      if (!h.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": ", h.status().message()));
      }
      p.headroom = *h;
      const int64_t port_headroom = h->size_bytes * num_lossless_pgs;
      if (port_headroom > asic.max_headroom_bytes) {
        return absl::FailedPreconditionError(absl::StrCat(
            where, ": rule 'headroom fits the port': ", num_lossless_pgs, " lossless PGs x ",
            h->size_bytes, " B (", p.speed_bps / 1000000000, "G, ", p.cable_length_m,
            " m) = ", port_headroom, " B exceeds max headroom ", asic.max_headroom_bytes, " B"));
      }
      const EcnProfile* ecn = FindEcnProfile(policy, asic.name, p.speed_bps);
      if (ecn == nullptr) {
        return absl::FailedPreconditionError(absl::StrCat(where, ": no ecn profile for asic ",
                                                          asic.name, " at ", p.speed_bps, " bps"));
      }
      p.ecn = *ecn;
      sw.headroom_bytes += port_headroom;
      sw.ports.push_back(std::move(p));
    }
    if (sw.headroom_bytes > asic.pool_size_bytes) {
      return absl::FailedPreconditionError(
          absl::StrCat("switch ", node.name, ": rule 'headroom fits the pool': ", sw.ports.size(),
                       " ports need ", sw.headroom_bytes, " B of headroom, pool is ",
                       asic.pool_size_bytes, " B"));
    }
    sw.shared_pool_bytes = asic.pool_size_bytes - sw.headroom_bytes;
    const int64_t trigger = static_cast<int64_t>(
        std::floor(alpha * static_cast<double>(sw.shared_pool_bytes) / (1.0 + alpha)));
    for (PortQosPlan& p : sw.ports) {
      p.xoff_trigger_bytes = trigger;
      if (!(p.ecn.kmin_bytes < p.ecn.kmax_bytes && p.ecn.kmax_bytes < trigger)) {
        return absl::FailedPreconditionError(
            absl::StrCat("switch ", node.name, " port ", p.port, " (to ", p.peer,
                         "): rule 'ECN before PFC' needs Kmin < Kmax < xoff trigger, have Kmin ",
                         p.ecn.kmin_bytes, " B, Kmax ", p.ecn.kmax_bytes, " B, xoff trigger ",
                         trigger, " B (shared pool ", sw.shared_pool_bytes, " B, dynamic_th ",
                         policy.pg_dynamic_th, ")"));
      }
    }
    plan.switches.push_back(std::move(sw));
  }
  return plan;
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
  db["DSCP_TO_TC_MAP"]["AZURE"] = dscp;
  json tc_pg = json::object();
  for (int tc = 0; tc < kNumPriorities; ++tc) {
    auto it = policy.tc_to_pg.find(tc);
    tc_pg[std::to_string(tc)] = std::to_string(it == policy.tc_to_pg.end() ? 0 : it->second);
  }
  db["TC_TO_PRIORITY_GROUP_MAP"]["AZURE"] = tc_pg;
  json tc_q = json::object();
  for (int tc = 0; tc < kNumPriorities; ++tc) {
    auto it = policy.tc_to_queue.find(tc);
    tc_q[std::to_string(tc)] = std::to_string(it == policy.tc_to_queue.end() ? tc : it->second);
  }
  db["TC_TO_QUEUE_MAP"]["AZURE"] = tc_q;

  std::vector<int> lossless = policy.lossless_priorities;
  std::sort(lossless.begin(), lossless.end());
  const std::string pfc_enable = absl::StrJoin(lossless, ",");
  std::vector<int> pgs, queues;
  for (int p : lossless) {
    pgs.push_back(policy.tc_to_pg.at(p));
    queues.push_back(policy.tc_to_queue.at(p));
  }
  const AsicProfile& asic = *FindAsicProfile(policy, policy.asic);

  db["BUFFER_POOL"]["ingress_lossless_pool"] = {
      {"size", std::to_string(asic.pool_size_bytes)}, {"type", "ingress"}, {"mode", "dynamic"}};
  db["PFC_WD"]["GLOBAL"] = {{"POLL_INTERVAL", std::to_string(policy.pfc_watchdog.poll_ms)}};
  json cable = json::object();
  for (const PortQosPlan& p : sw->ports) {
    const std::string port = SonicPortName(p.port, port_name_stride);
    db["PORT_QOS_MAP"][port] = {{"dscp_to_tc_map", "AZURE"},
                                {"tc_to_pg_map", "AZURE"},
                                {"tc_to_queue_map", "AZURE"},
                                {"pfc_enable", pfc_enable},
                                {"pfcwd_sw_enable", pfc_enable}};
    const std::string wred = WredProfileName(p.ecn);
    db["WRED_PROFILE"][wred] = {{"ecn", "ecn_all"},
                                {"wred_green_enable", "true"},
                                {"green_min_threshold", std::to_string(p.ecn.kmin_bytes)},
                                {"green_max_threshold", std::to_string(p.ecn.kmax_bytes)},
                                {"green_drop_probability", std::to_string(p.ecn.pmax_percent)}};
    for (const std::string& q : IndexRanges(queues)) {
      db["QUEUE"][absl::StrCat(port, "|", q)] = {{"wred_profile", wred}};
    }
    const std::string profile = BufferProfileName(p);
    db["BUFFER_PROFILE"][profile] = {{"pool", "ingress_lossless_pool"},
                                     {"size", std::to_string(p.headroom.size_bytes)},
                                     {"xon", std::to_string(p.headroom.xon_bytes)},
                                     {"xoff", std::to_string(p.headroom.xoff_bytes)},
                                     {"dynamic_th", std::to_string(policy.pg_dynamic_th)}};
    for (const std::string& pg : IndexRanges(pgs)) {
      db["BUFFER_PG"][absl::StrCat(port, "|", pg)] = {{"profile", profile}};
    }
    db["PFC_WD"][port] = {
        {"action", std::string(PfcWatchdogActionName(policy.pfc_watchdog.action))},
        {"detection_time", std::to_string(policy.pfc_watchdog.detection_time_ms)},
        {"restoration_time", std::to_string(policy.pfc_watchdog.restoration_time_ms)}};
    cable[port] = CableName(p.cable_length_m);
  }
  db["CABLE_LENGTH"]["AZURE"] = cable;
  return db;
}

}  // namespace pulse::controller
