#include "controller/health/health_actions.h"

#include <algorithm>
#include <future>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "controller/paths/paths.h"

namespace pulse::controller {
namespace {

template <typename T>
absl::StatusOr<T> Await(std::future<absl::StatusOr<T>> future, std::chrono::milliseconds timeout) {
  if (future.wait_for(timeout) != std::future_status::ready) {
    return absl::DeadlineExceededError("the controller did not answer in time");
  }
  return future.get();
}

}  // namespace

HealthActuator::HealthActuator(Controller* controller, std::chrono::milliseconds timeout)
    : controller_(controller), timeout_(timeout) {}

std::optional<HealthActionOutcome> HealthActuator::Apply(const HealthEvent& event) {
  const Incident& incident = event.incident;
  if (incident.root_link == topology::kNoLink) return std::nullopt;
  if (event.type == HealthEvent::Type::kClosed) {
    if (!isolated_.count(incident.id)) return std::nullopt;
    return Isolate(incident, false);
  }
  // Decided to act (not dry-run, under the cap), and never acted on before.
  if (incident.action == HealthAction::kNone || !incident.applied) return std::nullopt;
  if (!acted_.insert(incident.id).second) return std::nullopt;
  if (incident.action == HealthAction::kIsolateLink) return Isolate(incident, true);
  return ReplaceFlows(incident);
}

HealthActionOutcome HealthActuator::Isolate(const Incident& incident, bool isolate) {
  HealthActionOutcome out;
  const std::string reason = absl::StrCat(
      "health incident ", incident.id, " (", IncidentKindName(incident.kind),
      isolate ? ", root " : " closed, root ", incident.root_switch, ":", incident.root_port, ")");
  absl::StatusOr<DrainResult> result =
      Await(controller_->IsolateLink(incident.root_link, isolate, reason), timeout_);
  const std::string link = controller_->fabric().DescribeLink(incident.root_link);
  if (!isolate) isolated_.erase(incident.id);
  if (result.ok()) {
    out.applied = true;
    out.flows_moved = result->flows_moved;
    if (isolate) isolated_[incident.id] = incident.root_link;
    out.detail = isolate ? absl::StrCat("isolated ", link, ", ", out.flows_moved, " flows moved")
                         : absl::StrCat("returned ", link, " to service");
    return out;
  }
  if (isolate && result.status().code() == absl::StatusCode::kFailedPrecondition &&
      absl::StrContains(result.status().message(), "no other path")) {
    // Isolated all the same; the flows without another path stay (e.g. a single-homed NIC).
    out.applied = true;
    isolated_[incident.id] = incident.root_link;
    out.detail = absl::StrCat("isolated ", link, "; ", result.status().message());
    return out;
  }
  out.detail =
      absl::StrCat(isolate ? "not isolated: " : "not returned: ", result.status().message());
  return out;
}

HealthActionOutcome HealthActuator::ReplaceFlows(const Incident& incident) {
  HealthActionOutcome out;
  const SnapshotPtr snap = controller_->snapshot();
  const topology::Fabric& fabric = *snap->fabric;
  const Placement& placement = snap->placement;
  LinkStatus without = placement.link_status();
  without.SetUp(incident.root_link, false);
  // Load added by the moves chosen so far, so flows spread instead of piling onto one path.
  std::map<topology::DirectedLinkId, double> added;
  auto utilisation = [&](topology::DirectedLinkId d) {
    const double cap = static_cast<double>(fabric.link(Fabric::LinkOf(d)).capacity_bps);
    const double load = placement.LoadBps(d) + added[d];
    return cap <= 0 ? std::numeric_limits<double>::infinity() : load / cap;
  };
  std::vector<FlowMoveRequest> requests;
  int stranded = 0;
  for (const auto& [job_id, job] : placement.jobs()) {
    for (size_t f = 0; f < job.flows.size(); ++f) {
      const PlacedFlow& flow = job.flows[f];
      const bool crosses = std::any_of(
          flow.path.hops.begin(), flow.path.hops.end(),
          [&](topology::DirectedLinkId d) { return Fabric::LinkOf(d) == incident.root_link; });
      if (!crosses) continue;
      absl::StatusOr<std::vector<Path>> paths = UpDownPaths(fabric, without, flow.src, flow.dst);
      if (!paths.ok() || paths->empty()) {
        ++stranded;
        continue;
      }
      const Path* best = nullptr;
      double best_max = std::numeric_limits<double>::infinity();
      for (const Path& p : *paths) {
        double worst = 0;
        for (topology::DirectedLinkId d : p.hops) worst = std::max(worst, utilisation(d));
        if (best == nullptr || worst < best_max) {
          best = &p;
          best_max = worst;
        }
      }
      for (topology::DirectedLinkId d : best->hops) added[d] += flow.rate_bps;
      requests.push_back(FlowMoveRequest{job_id, f, *best});
    }
  }
  const std::string link = fabric.DescribeLink(incident.root_link);
  if (requests.empty()) {
    out.applied = true;  // nothing crosses it (or nothing can leave it): nothing to do
    out.detail = stranded == 0 ? absl::StrCat("no flows on ", link)
                               : absl::StrCat(stranded, " flows on ", link, " have no other path");
    return out;
  }
  absl::StatusOr<MoveFlowsResult> result = Await(
      controller_->MoveFlows(std::move(requests),
                             absl::StrCat("health incident ", incident.id, " (",
                                          IncidentKindName(incident.kind), " on ", link, ")")),
      timeout_);
  if (!result.ok()) {
    out.detail = absl::StrCat("flows not moved: ", result.status().message());
    return out;
  }
  out.applied = true;
  out.flows_moved = static_cast<int>(result->moved.size());
  out.detail = absl::StrCat(out.flows_moved, " flows moved off ", link);
  if (!result->refused.empty()) {
    absl::StrAppend(&out.detail, "; ", result->refused.size(), " refused (", result->refused[0],
                    ")");
  }
  if (stranded > 0) absl::StrAppend(&out.detail, "; ", stranded, " have no other path");
  return out;
}

absl::Status RegisterHealthActionMetrics(MetricsRegistry& registry) {
  return registry.RegisterCounter(
      kHealthActionsTotal,
      "Lossless health actions by action and outcome (applied, refused, dry_run, cap_reached, "
      "returned).",
      {"action", "outcome"});
}

void RecordHealthAction(MetricsRegistry& registry, const Incident& incident,
                        absl::string_view outcome) {
  (void)registry.IncrementCounter(
      kHealthActionsTotal, {std::string(HealthActionName(incident.action)), std::string(outcome)});
}

}  // namespace pulse::controller
