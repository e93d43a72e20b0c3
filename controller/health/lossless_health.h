// The fabric-wide lossless health supervisor: finds PFC pause storms and their root, finds gray
// links, and decides one action per incident. Pure decision code: Step(deltas, now) is a function
// of the supervisor's state, the counters of one poll and the time; it reads no clock and does no
// I/O, so every scenario is a unit test. The caller applies (or, in dry-run, only shows) the
// actions it returns.
//
// PFC storm and its root. A port "is paused" when it receives PAUSE on a lossless priority at
// >= storm_pause_frames_per_s: its egress toward the peer is stopped. Pauses travel upstream,
// against the traffic: a switch whose egress is paused fills its ingress buffers and pauses its
// own upstream neighbours. So from any paused port (S, p) the cause lies at the peer P: if P is a
// switch with paused ports of its own, the cause is further down (follow them all); if not, or if
// P is a NIC, the pauses originate at P and (S, p) is a root port, its link the root link. This
// follows the pause direction over the buffer dependency graph (port -> peer's egress ports)
// without needing the flows. Every paused port whose dependencies reach a root already known (an
// open incident or a candidate) belongs to that storm, so a storm that spreads, even back around
// a cycle of pauses, stays one incident; among several sinks, and in a pure cycle, the port paused
// first is the root. It is a storm, not congestion, when the root port's
// lossless queues send (almost) nothing while paused (pause held with no tx: a stuck receiver);
// an incast that keeps the root queue draining at line rate is congestion and left to ECN.
// A storm opens as an incident once the same root is seen in storm_confirm_polls consecutive
// polls, which for a storm spreading one hop per poll is within 2 polls of its start.
//
// Gray link. A link whose ports lose (discards + errors) more than gray_loss_ratio of their
// packets over the last gray_window_polls polls (and carried at least gray_min_packets), in
// gray_confirm_polls consecutive polls.
//
// Actions, once per incident: a storm isolates its root link (drained: flows re-placed off it),
// a gray link has its flows re-placed off it. At most max_isolated_links links are isolated at a
// time; beyond that the incident is recorded with "cap reached" and nothing is done. An incident
// closes after clean_window_ms without its condition; an isolated link is then returned to
// service. dry_run (the default): the same decisions, marked not applied.
#ifndef PULSE_CONTROLLER_HEALTH_LOSSLESS_HEALTH_H_
#define PULSE_CONTROLLER_HEALTH_LOSSLESS_HEALTH_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "controller/health/lossless_counters.h"
#include "controller/telemetry/metrics.h"
#include "topology/fabric.h"

namespace pulse::controller {

struct HealthOptions {
  bool dry_run = true;
  std::vector<int> lossless_priorities = {3, 4};
  double storm_pause_frames_per_s = 1000;
  // A paused root whose lossless queues send less than this is stalled (a storm).
  double storm_max_queue_tx_pps = 100;
  int storm_confirm_polls = 2;
  double gray_loss_ratio = 1e-4;
  uint64_t gray_min_packets = 10000;
  int gray_window_polls = 6;
  int gray_confirm_polls = 2;
  int64_t clean_window_ms = 60000;
  int max_isolated_links = 2;
};

enum class IncidentKind { kPfcStorm, kGrayLink };
enum class HealthAction { kNone, kIsolateLink, kReplaceFlows };
absl::string_view IncidentKindName(IncidentKind kind);    // "pfc_storm", "gray_link"
absl::string_view HealthActionName(HealthAction action);  // "none", "isolate_link", ...

struct Incident {
  uint64_t id = 0;
  IncidentKind kind = IncidentKind::kPfcStorm;
  topology::LinkId root_link = topology::kNoLink;
  std::string root_switch;  // the switch holding the root port
  int32_t root_port = 0;
  std::string origin;  // the node the pauses (or losses) come from
  int64_t first_seen_ms = 0;
  int64_t opened_ms = 0;
  int64_t closed_ms = 0;  // 0 while open
  int polls_to_open = 0;  // polls from the first sighting to the incident
  HealthAction action = HealthAction::kNone;
  // Decided to act (not dry-run, under the cap); false again if the controller refused it
  // (RecordOutcome).
  bool applied = false;
  bool cap_reached = false;
  int actions = 0;  // decisions taken (at most one)
  std::string detail;
  // What became of the action: "dry_run", "cap_reached", "none", "pending" (decided, not yet
  // carried out), "applied", "refused"; "returned" once an applied isolation was undone.
  std::string outcome;
  std::string outcome_detail;  // what the controller did ("isolated ..., 3 flows moved")
  bool open() const { return closed_ms == 0; }
};

// What one Step decided: incidents opened (with their action) and closed (return to service).
struct HealthEvent {
  enum class Type { kOpened, kClosed };
  Type type = Type::kOpened;
  Incident incident;  // as of the event
  std::string Describe(const topology::Fabric& fabric) const;
};

class LosslessHealth {
 public:
  LosslessHealth(std::shared_ptr<const topology::Fabric> fabric, HealthOptions options = {});

  // One poll's deltas (any ports, any switches; ports not in the fabric are ignored).
  std::vector<HealthEvent> Step(const std::vector<LosslessPortDelta>& deltas, int64_t now_ms);

  const std::vector<Incident>& incidents() const { return incidents_; }
  // Links isolated (or with flows re-placed) by open incidents: applied ones, or in dry-run the
  // ones that would be. A refused action does not hold a place under the cap.
  int isolated_links() const;
  // What the caller made of an incident's action (health_actions.h): `applied` false marks a
  // refused action (Incident::applied cleared); on a closed incident, a return to service.
  // Unknown ids are ignored.
  void RecordOutcome(uint64_t id, bool applied, std::string detail);
  const HealthOptions& options() const { return options_; }

 private:
  struct PortRate {
    double pause_rx_per_s = 0;
    double queue_tx_pps = 0;
  };
  struct Candidate {
    int polls = 0;
    int64_t first_seen_ms = 0;
    int64_t last_seen_ms = 0;
    std::string origin;
    topology::NodeId root_node = topology::kNoNode;
    int32_t root_port = 0;
  };
  struct LinkWindow {
    std::deque<std::pair<uint64_t, uint64_t>> polls;  // (packets, losses) per poll
    int bad_polls = 0;
    int64_t first_bad_ms = 0;
    int64_t last_bad_ms = 0;
  };
  void TraceStorms(const std::map<std::pair<topology::NodeId, int32_t>, PortRate>& rates,
                   int64_t now_ms, std::vector<HealthEvent>& events);
  void TrackGray(const std::map<topology::LinkId, std::pair<uint64_t, uint64_t>>& link_losses,
                 int64_t now_ms, std::vector<HealthEvent>& events);
  Incident* OpenIncident(IncidentKind kind, topology::LinkId link);
  void Open(Incident incident, std::vector<HealthEvent>& events);
  void CloseClean(int64_t now_ms, std::vector<HealthEvent>& events);

  std::shared_ptr<const topology::Fabric> fabric_;
  HealthOptions options_;
  std::map<topology::LinkId, Candidate> storm_candidates_;
  std::map<std::pair<topology::NodeId, int32_t>, int64_t> paused_since_;
  std::map<topology::LinkId, LinkWindow> gray_;
  std::vector<Incident> incidents_;
  std::map<uint64_t, int64_t> last_active_ms_;  // incident id -> last poll its condition held
  uint64_t next_id_ = 1;
};

// Metric families of the supervisor: pulse_health_incidents_total{kind,action} (counter) and
// pulse_health_isolated_links (gauge).
inline constexpr char kHealthIncidentsTotal[] = "pulse_health_incidents_total";
inline constexpr char kHealthIsolatedLinks[] = "pulse_health_isolated_links";
absl::Status RegisterHealthMetrics(MetricsRegistry& registry);
// Updates the families for one Step's events.
void RecordHealthMetrics(MetricsRegistry& registry, const LosslessHealth& health,
                         const std::vector<HealthEvent>& events);

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_HEALTH_LOSSLESS_HEALTH_H_
