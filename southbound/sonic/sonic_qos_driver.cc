#include "southbound/sonic/sonic_qos_driver.h"

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace pulse::southbound::sonic {

absl::StatusOr<int> SonicQosDriver::ApplyQos(const switches::QosPlan& plan) {
  absl::Status first_error;
  int ports = 0;
  for (const SonicQosTarget& t : targets_) {
    absl::StatusOr<ConfigDbEntries> entries =
        PlanConfigDbEntries(plan, t.name, t.naming, hash_ ? &*hash_ : nullptr);
    if (!entries.ok()) {
      Log(LogLevel::kError, "sonic switch ", t.name, ": ", entries.status().message());
      if (first_error.ok()) {
        first_error =
            absl::Status(entries.status().code(),
                         absl::StrCat("sonic switch ", t.name, ": ", entries.status().message()));
      }
      continue;
    }
    t.sonic->SetDesired(*std::move(entries));
    // The seed is only checked (SONiC keeps it outside CONFIG_DB, sonic_switch.h); a learned
    // hash (probed choices) has no seed to compare.
    t.sonic->SetExpectedEcmpHashSeed(hash_ && hash_->algorithm != switches::HashAlgorithm::kLearned
                                         ? std::optional<uint32_t>(hash_->seed)
                                         : std::nullopt);
    if (const switches::SwitchQosPlan* sw = plan.FindSwitch(t.name)) {
      ports += static_cast<int>(sw->ports.size());
    }
  }
  if (!first_error.ok()) return first_error;
  return ports;
}

absl::StatusOr<std::vector<switches::QosFinding>> SonicQosDriver::AuditQos() {
  std::vector<switches::QosFinding> findings;
  for (const SonicQosTarget& t : targets_) {
    const SonicSwitchStatus s = t.sonic->status();
    if (!s.connected) {
      findings.push_back({t.name, 0, absl::StrCat("not connected: ", s.last_error)});
    } else if (!s.in_sync) {
      findings.push_back({t.name, 0,
                          absl::StrCat("CONFIG_DB differed from the plan at the last reconcile (",
                                       s.last_differences.size(), " differences repaired)")});
    }
    if (s.connected && !s.hash_seed_difference.key.empty()) {
      findings.push_back({t.name, 0,
                          absl::StrCat("ECMP hash seed is not the steering model's (set by SONiC's "
                                       "switch.json, not by Pulse): ",
                                       s.hash_seed_difference.ToString())});
    }
  }
  return findings;
}

}  // namespace pulse::southbound::sonic
