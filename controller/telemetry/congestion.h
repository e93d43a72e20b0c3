// Congestion-driven re-placement: decides which flows to move off links that stay hot.
//
// A directed link becomes hot when its measured utilisation stays at or above `hot_utilisation`
// for `hold_ms`, and stops being hot only when it falls below `clear_utilisation` (hysteresis:
// a link hovering around the threshold does not flap). For the flows crossing hot links, the
// detector runs a Hedera-style global first fit on measured demand: all candidate flows are lifted
// off their paths, then, largest demand first, each is put on the least-loaded shortest up-down
// path. A flow is moved only when that path's bottleneck is strictly better than its current one;
// flows of strict-mode jobs are moved only onto paths that stay at or below 100% of capacity.
// Moves are capped per interval, and after acting on a link it must stay hot for another full hold
// time before it is acted on again (the measurements need time to show the moves).
//
// Pure: the caller passes measurements and `now_ms`; the detector returns decisions and assumes
// the caller applies them (Placement::MoveFlow + flow programming) before the next call.
#ifndef PULSE_CONTROLLER_TELEMETRY_CONGESTION_H_
#define PULSE_CONTROLLER_TELEMETRY_CONGESTION_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/paths/paths.h"
#include "topology/fabric.h"

namespace pulse::controller {

struct CongestionOptions {
  double hot_utilisation = 0.9;
  double clear_utilisation = 0.7;
  int64_t hold_ms = 2000;
  int max_moves_per_interval = 8;
  int64_t move_interval_ms = 10000;
  // A flow that moved is not moved again within this time (stops ping-pong between two paths).
  int64_t flow_cooldown_ms = 10000;
  size_t max_candidate_paths = 64;  // shortest up-down paths considered per flow
};

// A flow as the detector sees it: where it runs now and how much it actually carries.
struct MeasuredFlow {
  std::string job_id;
  size_t flow_index = 0;  // index into the job's JobPlacement::flows
  topology::NodeId src = topology::kNoNode;
  topology::NodeId dst = topology::kNoNode;
  Path path;
  double demand_bps = 0;  // measured rate
  bool movable = true;    // false for pinned flows
  bool strict = false;    // the job was placed in strict mode
};

// One re-placement decision.
struct MoveDecision {
  std::string job_id;
  size_t flow_index = 0;
  Path old_path;
  Path new_path;
  double demand_bps = 0;
  topology::DirectedLinkId hot_link = -1;  // the hot link the flow crossed
  double old_bottleneck_utilisation = 0;   // projected, with all moves of this round applied
  double new_bottleneck_utilisation = 0;
};

class CongestionDetector {
 public:
  // InvalidArgument unless 0 < clear <= hot, hold >= 0, caps >= 0.
  static absl::StatusOr<CongestionDetector> Create(std::shared_ptr<const topology::Fabric> fabric,
                                                   CongestionOptions options);

  // Feeds measured utilisation per directed link (indexed by DirectedLinkId; shorter vectors
  // leave the missing links untouched) at `now_ms`. Updates which links are hot.
  void Observe(const std::vector<double>& utilisation, int64_t now_ms);

  // Links currently hot (sorted).
  std::vector<topology::DirectedLinkId> HotLinks() const;
  bool IsHot(topology::DirectedLinkId link) const;

  // The re-placement decisions for this moment. `link_load_bps` is the measured load per directed
  // link (all traffic, including flows Pulse does not know); `flows` are the known flows with
  // their measured demand. At most the remaining move budget of the interval is returned.
  std::vector<MoveDecision> Decide(const std::vector<MeasuredFlow>& flows,
                                   const std::vector<double>& link_load_bps,
                                   const LinkStatus& status, int64_t now_ms);

  int moves_in_interval(int64_t now_ms) const;

  // Forgets which links are hot: each must again stay at or above the threshold for a full hold
  // time before it is acted on. Called once moves are applied, so the next decision rests only on
  // counters taken after them (earlier ones still show the moved flows on their old paths).
  void RestartHold();

 private:
  CongestionDetector(std::shared_ptr<const topology::Fabric> fabric, CongestionOptions options);

  struct LinkState {
    int64_t above_since_ms = -1;  // first time of the current run at or above the threshold
    bool hot = false;
    int64_t acted_at_ms = -1;  // last time decisions were made for this link
  };
  // Hot and not acted on within the last hold time.
  bool Actionable(topology::DirectedLinkId link, int64_t now_ms) const;

  std::shared_ptr<const topology::Fabric> fabric_;
  CongestionOptions options_;
  std::vector<LinkState> links_;
  std::deque<int64_t> move_times_ms_;
  std::map<std::pair<std::string, size_t>, int64_t> last_move_ms_;
};

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_TELEMETRY_CONGESTION_H_
