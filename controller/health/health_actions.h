// Carries out the lossless health supervisor's decisions (lossless_health.h) through the
// Controller, the one owner of the fabric's state: an opened incident's action once, and the
// isolation of a closed incident undone.
//
//   - isolate_link (a PFC storm's root link): Controller::IsolateLink takes the link out of
//     placement and moves every flow crossing it, exactly as a link down would, while the link
//     stays physically up; new placements avoid it too.
//   - replace_flows (a gray link): the flows crossing the link move (Controller::MoveFlows) to the
//     least-loaded other up-down path between their NICs; the link stays usable.
//   - closed incident: an isolated link is returned to service (usable again; flows that moved
//     stay where they are, as after any link up). Re-placed flows are not moved back.
//
// At most one action per incident, whatever events arrive twice. The supervisor's cap on
// isolated links is decided in LosslessHealth; an incident it marked cap_reached or dry-run
// (applied == false at decision) is never acted on here.
//
// Threading: Apply blocks until the controller answered, so call it from the supervisor's own
// thread, never from the controller thread (it would wait for itself) nor a gRPC thread.
#ifndef PULSE_CONTROLLER_HEALTH_HEALTH_ACTIONS_H_
#define PULSE_CONTROLLER_HEALTH_HEALTH_ACTIONS_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "controller/controller.h"
#include "controller/health/lossless_health.h"
#include "controller/telemetry/metrics.h"

namespace pulse::controller {

struct HealthActionOutcome {
  bool applied = false;  // the controller carried it out (some flows may have stayed: detail)
  int flows_moved = 0;
  std::string detail;  // what was done, or why nothing was
};

class HealthActuator {
 public:
  // `controller` must outlive the actuator.
  explicit HealthActuator(Controller* controller,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // The outcome for an event that asks for something (an opened incident decided to act, the
  // close of an isolation this actuator made); nullopt for everything else (dry-run, cap reached,
  // no action, an incident already acted on).
  std::optional<HealthActionOutcome> Apply(const HealthEvent& event);

  // Links this actuator holds isolated now.
  size_t isolated_links() const { return isolated_.size(); }

 private:
  HealthActionOutcome Isolate(const Incident& incident, bool isolate);
  HealthActionOutcome ReplaceFlows(const Incident& incident);

  Controller* controller_;
  std::chrono::milliseconds timeout_;
  std::set<uint64_t> acted_;                       // incident ids acted on
  std::map<uint64_t, topology::LinkId> isolated_;  // incident id -> the link it isolated
};

// pulse_health_actions_total{action,outcome}: actions carried out ("applied"), refused by the
// controller ("refused"), decided in dry-run ("dry_run"), not taken for the cap ("cap_reached"),
// and links returned ("returned").
inline constexpr char kHealthActionsTotal[] = "pulse_health_actions_total";
absl::Status RegisterHealthActionMetrics(MetricsRegistry& registry);
void RecordHealthAction(MetricsRegistry& registry, const Incident& incident,
                        absl::string_view outcome);

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_HEALTH_HEALTH_ACTIONS_H_
