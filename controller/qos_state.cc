#include "controller/qos_state.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace pulse::controller {

absl::StatusOr<QosState> PlanQosState(const topology::Fabric& fabric, absl::string_view yaml_text,
                                      absl::string_view error_prefix) {
  QosState state;
  if (!yaml_text.empty()) {
    absl::StatusOr<QosPolicy> policy = ParseQosPolicyYaml(yaml_text);
    if (!policy.ok()) {
      return absl::Status(policy.status().code(),
                          absl::StrCat(error_prefix, policy.status().message()));
    }
    state.policy = *std::move(policy);
  } else {
    state.policy = DefaultQosPolicy();
  }
  absl::StatusOr<QosPlan> plan = PlanQos(fabric, state.policy);
  if (!plan.ok()) {
    return absl::Status(plan.status().code(), absl::StrCat(error_prefix, plan.status().message()));
  }
  state.plan = std::make_shared<const QosPlan>(*std::move(plan));
  state.policy_yaml = std::string(yaml_text);
  state.from_defaults = yaml_text.empty();
  return state;
}

}  // namespace pulse::controller
