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
  }
  return findings;
}

}  // namespace pulse::southbound::sonic
