// The lossless QoS policy of the fabric: which priorities are lossless, how DSCP maps to traffic
// classes, priority groups and queues, where CNPs go, the ECN (WRED) profile per ASIC and speed,
// the PFC watchdog, and the buffer parameters of each ASIC.
//
// A policy is checked whole before anything uses it (ValidateQosPolicy), the same way an intent
// file is: a policy that contradicts itself is refused with a message naming the offending key,
// never half applied. The defaults (DefaultQosPolicy) are the usual RoCE layout of
// shared/notes/lossless.md: RoCE data on priorities 3 and 4, CNP on DSCP 48 / priority 6, SONiC's
// AZURE_LOSSLESS ECN profile, PFC watchdog at 200 ms, and the Spectrum-4 buffer model.
//
// Traffic class, priority and queue: as on SONiC, a lossless priority p is the traffic class p
// (pfc_enable lists traffic classes) and is carried in the priority group tc_to_pg[p] and the
// egress queue tc_to_queue[p].
#ifndef PULSE_CONTROLLER_QOS_QOS_POLICY_H_
#define PULSE_CONTROLLER_QOS_QOS_POLICY_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pulse::controller {

inline constexpr int kNumPriorities = 8;  // 802.1p priorities / traffic classes 0..7
inline constexpr int kNumDscp = 64;       // DSCP 0..63

// Cable lengths outside (0, kMaxCableLengthM] are refused. 10 km is the reach of the longest
// single-mode optics used inside a data-center campus (LR4); anything longer is a typo (metres
// given in millimetres) and its headroom would not fit any switch anyway.
inline constexpr double kMaxCableLengthM = 10000.0;

// Documented PFC watchdog ranges (SONiC PFC_WD), in milliseconds.
inline constexpr int kPfcWdDetectionMinMs = 100, kPfcWdDetectionMaxMs = 5000;
inline constexpr int kPfcWdRestorationMinMs = 100, kPfcWdRestorationMaxMs = 60000;
inline constexpr int kPfcWdPollMinMs = 100, kPfcWdPollMaxMs = 1000;

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
int64_t PlanningPoolBytes(const AsicProfile& asic);

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
absl::string_view PfcWatchdogActionName(PfcWatchdogAction action);  // "drop", "forward", "alert"

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
  // shared buffer before XOFF is sent. Used for the "ECN before PFC" check (qos_plan.h).
  int pg_dynamic_th = 0;
  // Egress shaping per queue (SONiC SCHEDULER pir, OVS Queue max-rate): a queue never sends
  // faster than this, even on an idle port. Absent: line rate (queues share by their ETS minimum
  // only under congestion).
  std::map<int, int64_t> queue_shaping_bps;
};

// The usual RoCE layout described in the file comment. Always valid.
QosPolicy DefaultQosPolicy();

// The Spectrum-4 profile the defaults use (constants derived in headroom.h).
AsicProfile Spectrum4Profile();

// Reads a policy from YAML. Keys present replace the defaults; keys absent keep them. Unknown
// keys, wrong types and duplicate map entries are errors naming the key and its line. The result
// is validated (ValidateQosPolicy) before it is returned. Schema:
//   lossless_priorities: [3, 4]
//   dscp_to_tc: {26: 3, 48: 6}       default_tc: 1
//   tc_to_pg: {3: 3, 4: 4}           tc_to_queue: {0: 0, ..., 7: 7}
//   cnp: {dscp: 48, priority: 6}
//   asic: spectrum4
//   asic_profiles: [{name, cell_bytes, pipeline_latency_bytes, mac_phy_delay_bytes,
//                    extra_latency_ns, lossless_mtu_bytes, max_headroom_bytes, pool_size_bytes,
//                    platform_pools: {ingress_lossless_bytes, ingress_lossy_bytes,
//                                     egress_lossless_bytes, egress_lossy_bytes}}]
//   ecn_profiles: [{asic, speed_gbps (0: any), kmin_bytes, kmax_bytes, pmax_percent}]
//   pfc_watchdog: {action: drop|forward|alert, detection_time_ms, restoration_time_ms, poll_ms}
//   port_mtu_bytes: 9100
//   default_cable_length_m: {nic_leaf: 5, leaf_spine: 40, spine_superspine: 300}
//   pg_dynamic_th: 0
//   queue_shaping: {3: 40G, 0: 10G}  # queue -> max rate ("100M", "25G", bits per second)
absl::StatusOr<QosPolicy> ParseQosPolicyYaml(absl::string_view yaml_text);

// Checks a policy on its own (no fabric): priorities in 0..7, DSCP in 0..63, maps that agree
// (a lossless class has a PG and a queue of its own, no lossy class shares a lossless PG, the
// CNP class is not lossless and CNP DSCP lands on the CNP class), ECN thresholds in order
// (0 < Kmin < Kmax, Pmax in 1..100), ASIC profiles complete, default cable lengths in
// (0, kMaxCableLengthM], PFC watchdog timers in the documented ranges and detection/restoration
// no shorter than the poll interval (SONiC's YANG refuses them: the watchdog cannot see a storm
// faster than it polls).
absl::Status ValidateQosPolicy(const QosPolicy& policy);

// The traffic class a DSCP value is mapped to.
int TrafficClassOfDscp(const QosPolicy& policy, int dscp);
bool IsLosslessPriority(const QosPolicy& policy, int priority);

// Look-ups; nullptr when absent. FindEcnProfile prefers an exact speed over a speed-0 profile.
const AsicProfile* FindAsicProfile(const QosPolicy& policy, absl::string_view name);
const EcnProfile* FindEcnProfile(const QosPolicy& policy, absl::string_view asic,
                                 int64_t speed_bps);

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_QOS_QOS_POLICY_H_
