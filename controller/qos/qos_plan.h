// Per-port PFC/ECN plan of a fabric under a QosPolicy, its validation, and its export in SONiC
// CONFIG_DB form.
//
// PlanQos walks every switch port that has a link: speed from the link, cable length from the
// link (or the policy's default for the tiers it joins: NIC-leaf, leaf-spine, spine-superspine),
// headroom from headroom.h, ECN profile from the policy. It refuses a plan that breaks a buffer
// rule, naming the switch, the port, the rule and the numbers:
//  - port headroom: size x (number of lossless PGs) <= asic.max_headroom_bytes;
//  - pool budget: the headroom of all ports of a switch <= asic.pool_size_bytes;
//  - ECN before PFC: Kmin < Kmax < xoff trigger, where the xoff trigger is the occupancy at which
//    a lossless PG sends XOFF under SONiC's dynamic threshold, alpha x shared / (1 + alpha),
//    alpha = 2^pg_dynamic_th and shared = pool - headroom of the switch (one congested PG takes
//    at most that share). ECN marks on egress queue depth and PFC on ingress PG occupancy; this
//    is the usual conservative comparison of the two thresholds.
#ifndef PULSE_CONTROLLER_QOS_QOS_PLAN_H_
#define PULSE_CONTROLLER_QOS_QOS_PLAN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/qos/headroom.h"
#include "controller/qos/qos_policy.h"
#include "nlohmann/json.hpp"
#include "topology/fabric.h"

namespace pulse::controller {

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

struct QosPlan {
  QosPolicy policy;
  std::vector<SwitchQosPlan> switches;  // in fabric switch order
  const SwitchQosPlan* FindSwitch(absl::string_view name) const;
};

// Plans every switch of `fabric`. Errors: an invalid policy, a port speed with no pause quanta,
// a cable length out of range, or a broken buffer rule (see the file comment), each naming the
// switch and port.
absl::StatusOr<QosPlan> PlanQos(const topology::Fabric& fabric, const QosPolicy& policy);

// SONiC port name of a fabric port: "Ethernet" + (port - 1) x stride. Stride 8 matches 8-lane
// (400G/800G) Spectrum-4 front panels; use 4 for 4-lane platforms.
std::string SonicPortName(int32_t port, int stride = 8);

// The switch's CONFIG_DB tables as config_db.json holds them (all values are strings), the same
// set SONiC's own QoS templates write, so nothing is left to write by hand:
//  - maps (all named AZURE): DSCP_TO_TC_MAP, TC_TO_PRIORITY_GROUP_MAP, TC_TO_QUEUE_MAP,
//    MAP_PFC_PRIORITY_TO_QUEUE, PFC_PRIORITY_TO_PRIORITY_GROUP_MAP; PORT_QOS_MAP|global
//    (dscp_to_tc_map) and PORT_QOS_MAP|<port> (every map, pfc_enable "3,4", pfcwd_sw_enable);
//  - WRED_PROFILE|<name>: ecn_all, green/yellow/red thresholds and drop probability;
//  - SCHEDULER: scheduler.lossless / scheduler.lossy (DWRR) and scheduler.q<N>_shaped for each
//    queue in queue_shaping (pir in bytes/s, cir 1: YANG needs one); QUEUE|<port>|<queues>
//    (scheduler, and wred_profile on lossless queues), keyed by runs of equal queues ("0-2", "3-4",
//    "5-7");
//  - BUFFER_POOL: ingress_lossless/ingress_lossy/egress_lossless/egress_lossy_pool, `size` only
//    where the ASIC profile's platform_pools gives one; BUFFER_PROFILE: the four pool profiles
//    and pg_lossless_<speed Mb/s>_<exact cable>m_profile (size, xon, xoff, dynamic_th) named by
//    the exact length ("10.4m") so unequal cables never share headroom;
//    BUFFER_PG|<port>|0 (ingress_lossy_profile) and |<lossless PGs>; BUFFER_QUEUE|<port>|<queues>;
//    BUFFER_PORT_INGRESS_PROFILE_LIST / BUFFER_PORT_EGRESS_PROFILE_LIST|<port>;
//  - PFC_WD|<port> (action, detection_time, restoration_time), PFC_WD|GLOBAL (POLL_INTERVAL);
//  - CABLE_LENGTH|AZURE (<port>: whole metres rounded up, "11m" for 10.4 m).
// Ports are named by SonicPortName(port, port_name_stride). NotFound if the plan has no such
// switch.
absl::StatusOr<nlohmann::json> ExportSonicConfigDb(const QosPlan& plan,
                                                   absl::string_view switch_name,
                                                   int port_name_stride = 8);

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_QOS_QOS_PLAN_H_
