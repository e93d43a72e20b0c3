// The lossless QoS the core asks of switches, in the core's vocabulary: the policy (priorities,
// maps, ECN, PFC watchdog, buffer model), the per-port plan derived from it for every switch
// (headroom, ECN profile, xoff trigger), and the QosDriver interface a southbound implements to
// apply a plan to the switches it serves and read it back. Switches are named by fabric node (and
// the node's name); ports by the fabric's port numbers: each driver maps them to its own names
// (an OVS bridge and its ofports, a SONiC switch's Redis and its EthernetN ports).
//
// The planners that produce these values (controller/qos/: ParseQosPolicyYaml, ValidateQosPolicy,
// HeadroomBytes, PlanQos) stay in the core; drivers include only this header.
#ifndef PULSE_CONTROLLER_SWITCHES_QOS_H_
#define PULSE_CONTROLLER_SWITCHES_QOS_H_

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "topology/fabric.h"

namespace pulse::switches {

inline constexpr int kNumPriorities = 8;  // 802.1p priorities / traffic classes 0..7
inline constexpr int kNumDscp = 64;       // DSCP 0..63

// Buffer pool sizes a platform publishes (SONiC's buffers_defaults for one SKU, e.g.
// 52,161,690 B for one 51.2T platform's lossless pool). 0: not known, so the exported BUFFER_POOL
// entry carries no `size` and the switch keeps its own; Pulse never invents a platform fact.
struct PlatformPools {
  int64_t ingress_lossless_bytes = 0;
  int64_t ingress_lossy_bytes = 0;
  int64_t egress_lossless_bytes = 0;
  int64_t egress_lossy_bytes = 0;
};

// Buffer model of one switch ASIC, the inputs of the headroom formula (see headroom.h).
struct AsicProfile {
  std::string name;                    // "spectrum4"
  int64_t cell_bytes = 0;              // buffer cell size; worst-case occupancy is cell/64
  int64_t pipeline_latency_bytes = 0;  // xon: bytes the pipeline holds after XON
  int64_t mac_phy_delay_bytes = 0;     // MAC + PHY latency of both ends, as bytes on the wire
  double extra_latency_ns = 0;         // per-speed extra delay (Spectrum-4/5: 120 ns)
  int64_t lossless_mtu_bytes = 0;      // the packet in flight when XOFF is decided
  int64_t max_headroom_bytes = 0;      // per-port headroom limit (all lossless PGs together)
  // Ingress lossless pool (headroom + shared) used to plan when the platform publishes none: an
  // assumption, checked against but never written to a switch.
  int64_t pool_size_bytes = 0;
  PlatformPools platform_pools;
};

// The ingress lossless pool the plan budgets against: the platform's figure when known, else the
// profile's assumption.
inline int64_t PlanningPoolBytes(const AsicProfile& asic) {
  return asic.platform_pools.ingress_lossless_bytes > 0 ? asic.platform_pools.ingress_lossless_bytes
                                                        : asic.pool_size_bytes;
}

// WRED/ECN marking profile for one (ASIC, port speed). speed_bps 0 matches any speed for which
// no exact profile exists.
struct EcnProfile {
  std::string asic;
  int64_t speed_bps = 0;
  int64_t kmin_bytes = 0;
  int64_t kmax_bytes = 0;
  int pmax_percent = 0;
};

enum class PfcWatchdogAction { kDrop, kForward, kAlert };
// "drop", "forward", "alert".
inline absl::string_view PfcWatchdogActionName(PfcWatchdogAction action) {
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

// PFC storm watchdog: a queue paused for detection_time is declared stormed and `action` applies
// until no pause is seen for restoration_time; the switch polls every poll_ms.
struct PfcWatchdog {
  PfcWatchdogAction action = PfcWatchdogAction::kDrop;
  int detection_time_ms = 200;
  int restoration_time_ms = 200;
  int poll_ms = 200;
};

// Cable lengths used when a link has none (Link::cable_length_m == 0), by the tiers it joins.
struct DefaultCableLengths {
  double nic_leaf_m = 5;            // server-ToR in SONiC terms
  double leaf_spine_m = 40;         // ToR-leaf
  double spine_superspine_m = 300;  // leaf-spine
};

struct QosPolicy {
  std::vector<int> lossless_priorities = {3, 4};
  std::map<int, int> dscp_to_tc;  // explicit entries; every other DSCP goes to default_tc
  int default_tc = 1;
  std::map<int, int> tc_to_pg;     // traffic class -> priority group (lossless classes at least)
  std::map<int, int> tc_to_queue;  // traffic class -> egress queue (all 8 classes)
  int cnp_dscp = 48;
  int cnp_priority = 6;
  std::string asic = "spectrum4";  // the AsicProfile every switch uses
  std::vector<AsicProfile> asic_profiles;
  std::vector<EcnProfile> ecn_profiles;
  PfcWatchdog pfc_watchdog;
  int64_t port_mtu_bytes = 9100;
  DefaultCableLengths default_cable_lengths;
  // SONiC dynamic_th of the lossless PG: the PG may take alpha = 2^dynamic_th times the free
  // shared buffer before XOFF is sent. Used for the "ECN before PFC" check
  // (controller/qos/qos_plan.h).
  int pg_dynamic_th = 0;
  // Egress shaping per queue (SONiC SCHEDULER pir, OVS Queue max-rate): a queue never sends
  // faster than this, even on an idle port. Absent: line rate (queues share by their ETS minimum
  // only under congestion).
  std::map<int, int64_t> queue_shaping_bps;
};

// Headroom of one lossless PG, in bytes (controller/qos/headroom.h computes it).
struct Headroom {
  int64_t xon_bytes = 0;
  int64_t xoff_bytes = 0;
  int64_t size_bytes = 0;  // xon + xoff
  bool operator==(const Headroom& o) const {
    return xon_bytes == o.xon_bytes && xoff_bytes == o.xoff_bytes && size_bytes == o.size_bytes;
  }
};

// The plan of one switch port.
struct PortQosPlan {
  int32_t port = 0;  // the fabric's port number (1-based)
  topology::LinkId link = topology::kNoLink;
  std::string peer;  // name of the node at the other end
  int64_t speed_bps = 0;
  double cable_length_m = 0;
  bool cable_length_defaulted = false;  // true when the link had none and a role default was used
  Headroom headroom;                    // per lossless PG
  EcnProfile ecn;
  int64_t xoff_trigger_bytes = 0;
};

struct SwitchQosPlan {
  topology::NodeId node = topology::kNoNode;
  std::string name;
  std::vector<PortQosPlan> ports;  // in port-number order
  int64_t headroom_bytes = 0;      // all ports, all lossless PGs
  int64_t shared_pool_bytes = 0;   // pool left for the shared buffer
};

// The plan of every switch under one policy (controller/qos/qos_plan.h PlanQos).
struct QosPlan {
  QosPolicy policy;
  std::vector<SwitchQosPlan> switches;  // in fabric switch order
  const SwitchQosPlan* FindSwitch(absl::string_view name) const {
    for (const SwitchQosPlan& s : switches) {
      if (s.name == name) return &s;
    }
    return nullptr;
  }
  const SwitchQosPlan* FindSwitch(topology::NodeId node) const {
    for (const SwitchQosPlan& s : switches) {
      if (s.node == node) return &s;
    }
    return nullptr;
  }
};

// Reading a policy: the traffic class a DSCP value is mapped to; whether a priority is lossless.
inline int TrafficClassOfDscp(const QosPolicy& policy, int dscp) {
  auto it = policy.dscp_to_tc.find(dscp);
  return it == policy.dscp_to_tc.end() ? policy.default_tc : it->second;
}
inline bool IsLosslessPriority(const QosPolicy& policy, int priority) {
  return std::find(policy.lossless_priorities.begin(), policy.lossless_priorities.end(),
                   priority) != policy.lossless_priorities.end();
}

// Look-ups; nullptr when absent. FindEcnProfile prefers an exact speed over a speed-0 profile.
inline const AsicProfile* FindAsicProfile(const QosPolicy& policy, absl::string_view name) {
  for (const AsicProfile& p : policy.asic_profiles) {
    if (p.name == name) return &p;
  }
  return nullptr;
}
inline const EcnProfile* FindEcnProfile(const QosPolicy& policy, absl::string_view asic,
                                        int64_t speed_bps) {
  const EcnProfile* any_speed = nullptr;
  for (const EcnProfile& p : policy.ecn_profiles) {
    if (p.asic != asic) continue;
    if (p.speed_bps == speed_bps) return &p;
    if (p.speed_bps == 0) any_speed = &p;
  }
  return any_speed;
}

// One way a switch port differs from the plan (or was repaired), for the QoS audit.
struct QosFinding {
  std::string switch_name;
  int32_t port = 0;  // fabric port number
  std::string difference;
};

// What the core asks of a southbound for lossless QoS. A driver serves some of the fabric's
// switches (an OVS bridge per switch over OVSDB, a SONiC switch over Redis) and skips the others.
class QosDriver {
 public:
  virtual ~QosDriver() = default;
  // Makes the switches this driver serves hold `plan` (replacing the previous one) and remembers
  // it for audits. Returns the number of ports programmed (or handed to the switch's own
  // reconciler); the first error names the switch and port.
  virtual absl::StatusOr<int> ApplyQos(const QosPlan& plan) = 0;
  // Reads back the switches of the last applied plan and lists how they differ from it.
  virtual absl::StatusOr<std::vector<QosFinding>> AuditQos() = 0;
};

}  // namespace pulse::switches

#endif  // PULSE_CONTROLLER_SWITCHES_QOS_H_
