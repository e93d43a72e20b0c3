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
#include "controller/switches/qos.h"

namespace pulse::controller {

// Cable lengths outside (0, kMaxCableLengthM] are refused. 10 km is the reach of the longest
// single-mode optics used inside a data-center campus (LR4); anything longer is a typo (metres
// given in millimetres) and its headroom would not fit any switch anyway.
inline constexpr double kMaxCableLengthM = 10000.0;

// Documented PFC watchdog ranges (SONiC PFC_WD), in milliseconds.
inline constexpr int kPfcWdDetectionMinMs = 100, kPfcWdDetectionMaxMs = 5000;
inline constexpr int kPfcWdRestorationMinMs = 100, kPfcWdRestorationMaxMs = 60000;
inline constexpr int kPfcWdPollMinMs = 100, kPfcWdPollMaxMs = 1000;

// The policy's types are the switch contract's vocabulary (controller/switches/qos.h).
using switches::AsicProfile;
using switches::DefaultCableLengths;
using switches::EcnProfile;
using switches::FindAsicProfile;
using switches::FindEcnProfile;
using switches::IsLosslessPriority;
using switches::kNumDscp;
using switches::kNumPriorities;
using switches::PfcWatchdog;
using switches::PfcWatchdogAction;
using switches::PfcWatchdogActionName;
using switches::PlanningPoolBytes;
using switches::PlatformPools;
using switches::QosPolicy;
using switches::TrafficClassOfDscp;

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

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_QOS_QOS_POLICY_H_
