// Per-port PFC/ECN plan of a fabric under a QosPolicy and its validation. The plan is handed to
// the switch drivers (controller/switches/qos.h); its SONiC CONFIG_DB form is the SONiC driver's
// (southbound/sonic/qos_export.h).
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
#include "controller/switches/qos.h"
#include "topology/fabric.h"

namespace pulse::controller {

// The plan's types are the switch contract's vocabulary (controller/switches/qos.h).
using switches::PortQosPlan;
using switches::QosPlan;
using switches::SwitchQosPlan;

// Plans every switch of `fabric`. Errors: an invalid policy, a port speed with no pause quanta,
// a cable length out of range, or a broken buffer rule (see the file comment), each naming the
// switch and port.
absl::StatusOr<QosPlan> PlanQos(const topology::Fabric& fabric, const QosPolicy& policy);

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_QOS_QOS_PLAN_H_
