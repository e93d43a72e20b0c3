// The QoS policy in force, as part of the controller's state (controller.h).
//
// One owner: the policy and its per-port plan change only on the controller thread, through
// Controller::SetQosPolicy (leader-gated and persisted like PlaceJob), a replicated store update,
// or a Reload. Placement takes its lossless priorities from the policy, so the PFC deadlock check
// watches exactly the classes the switches are told to pause. Readers get an immutable QosState
// from the snapshot; switch drivers follow it with Controller::AddQosObserver.
#ifndef PULSE_CONTROLLER_QOS_STATE_H_
#define PULSE_CONTROLLER_QOS_STATE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/qos/qos_plan.h"
#include "controller/qos/qos_policy.h"
#include "topology/fabric.h"

namespace pulse::controller {

// Store key of the policy's YAML text (the format is the text an admin set).
inline constexpr absl::string_view kQosPolicyStoreKey = "qos/policy";

// Immutable once published.
struct QosState {
  QosPolicy policy;  // in force; its lossless_priorities are placement's lossless classes
  // The per-port plan of `policy` on the fabric; null when the built-in default policy does not
  // fit this fabric (QoS is then off: nothing to program, placement still follows `policy`).
  std::shared_ptr<const QosPlan> plan;
  std::string policy_yaml;    // the text it came from; "" for the defaults
  bool from_defaults = true;  // no policy was ever set or configured
};
using QosStatePtr = std::shared_ptr<const QosState>;

// What Controller::SetQosPolicy did.
struct QosPolicyChange {
  uint32_t switches_planned = 0;
  uint32_t ports_planned = 0;
  bool persisted = false;  // written to the store (not for a dry run or without a store)
};

// Parses, validates and plans `yaml_text` ("" : DefaultQosPolicy()) on `fabric`. Errors start
// with `error_prefix` and carry the validator's message (port, rule and numbers).
absl::StatusOr<QosState> PlanQosState(const topology::Fabric& fabric, absl::string_view yaml_text,
                                      absl::string_view error_prefix);

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_QOS_STATE_H_
