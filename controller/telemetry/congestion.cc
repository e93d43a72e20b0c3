#include "controller/telemetry/congestion.h"

#include <algorithm>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace pulse::controller {
namespace {

using topology::DirectedLinkId;

// Utilisations closer than this are ties (avoids moves that gain nothing measurable).
constexpr double kEpsilon = 1e-9;

}  // namespace

CongestionDetector::CongestionDetector(std::shared_ptr<const topology::Fabric> fabric,
                                       CongestionOptions options)
    : fabric_(std::move(fabric)), options_(options) {
  links_.resize(fabric_->num_directed_links());
}

absl::StatusOr<CongestionDetector> CongestionDetector::Create(
    std::shared_ptr<const topology::Fabric> fabric, CongestionOptions options) {
  if (fabric == nullptr) return absl::InvalidArgumentError("congestion: no fabric");
  if (!(options.clear_utilisation > 0) || !(options.clear_utilisation <= options.hot_utilisation)) {
    return absl::InvalidArgumentError(
        absl::StrCat("congestion: need 0 < clear_utilisation (", options.clear_utilisation,
                     ") <= hot_utilisation (", options.hot_utilisation, ")"));
  }
  if (options.hold_ms < 0 || options.move_interval_ms < 0 || options.flow_cooldown_ms < 0 ||
      options.max_moves_per_interval < 0) {
    return absl::InvalidArgumentError(
        "congestion: hold_ms, move_interval_ms, flow_cooldown_ms and max_moves_per_interval must "
        "not be negative");
  }
  return CongestionDetector(std::move(fabric), options);
}

void CongestionDetector::Observe(const std::vector<double>& utilisation, int64_t now_ms) {
  const size_t n = std::min(utilisation.size(), links_.size());
  for (size_t d = 0; d < n; ++d) {
    LinkState& s = links_[d];
    const double u = utilisation[d];
    if (u >= options_.hot_utilisation) {
      if (s.above_since_ms < 0) s.above_since_ms = now_ms;
      if (now_ms - s.above_since_ms >= options_.hold_ms) s.hot = true;
    } else if (u < options_.clear_utilisation || !(u == u)) {
      s.hot = false;
      s.above_since_ms = -1;
      s.acted_at_ms = -1;
    } else if (!s.hot) {
      // In the hysteresis band and not yet hot: the hold time must restart.
      s.above_since_ms = -1;
    }
  }
}

void CongestionDetector::RestartHold() {
  for (LinkState& s : links_) s = LinkState{};
}

std::vector<DirectedLinkId> CongestionDetector::HotLinks() const {
  std::vector<DirectedLinkId> hot;
  for (size_t d = 0; d < links_.size(); ++d) {
    if (links_[d].hot) hot.push_back(static_cast<DirectedLinkId>(d));
  }
  return hot;
}

bool CongestionDetector::IsHot(DirectedLinkId link) const {
  return link >= 0 && static_cast<size_t>(link) < links_.size() && links_[link].hot;
}

bool CongestionDetector::Actionable(DirectedLinkId link, int64_t now_ms) const {
  const LinkState& s = links_[link];
  return s.hot && (s.acted_at_ms < 0 || now_ms - s.acted_at_ms >= options_.hold_ms);
}

int CongestionDetector::moves_in_interval(int64_t now_ms) const {
  int n = 0;
  for (int64_t t : move_times_ms_) {
    if (now_ms - t < options_.move_interval_ms) ++n;
  }
  return n;
}

std::vector<MoveDecision> CongestionDetector::Decide(const std::vector<MeasuredFlow>& flows,
                                                     const std::vector<double>& link_load_bps,
                                                     const LinkStatus& status, int64_t now_ms) {
  std::vector<MoveDecision> decisions;
  while (!move_times_ms_.empty() && now_ms - move_times_ms_.front() >= options_.move_interval_ms) {
    move_times_ms_.pop_front();
  }
  int budget = options_.max_moves_per_interval - static_cast<int>(move_times_ms_.size());
  if (budget <= 0) return decisions;

  const int num_links = fabric_->num_directed_links();
  // Candidates: movable flows crossing an actionable hot link, not moved recently.
  struct Candidate {
    const MeasuredFlow* flow;
    DirectedLinkId hot_link;
  };
  std::vector<Candidate> candidates;
  std::set<DirectedLinkId> acted;
  for (const MeasuredFlow& f : flows) {
    if (!f.movable || !(f.demand_bps > 0)) continue;
    auto last = last_move_ms_.find({f.job_id, f.flow_index});
    if (last != last_move_ms_.end() && now_ms - last->second < options_.flow_cooldown_ms) continue;
    for (DirectedLinkId hop : f.path.hops) {
      if (hop >= 0 && hop < num_links && Actionable(hop, now_ms)) {
        candidates.push_back({&f, hop});
        acted.insert(hop);
        break;
      }
    }
  }
  if (candidates.empty()) return decisions;

  // Lift every candidate off its path, then re-place largest demand first (global first fit).
  std::vector<double> load(num_links, 0.0);
  for (int d = 0; d < num_links && d < static_cast<int>(link_load_bps.size()); ++d) {
    load[d] = std::max(0.0, link_load_bps[d]);
  }
  for (const Candidate& c : candidates) {
    for (DirectedLinkId hop : c.flow->path.hops) {
      if (hop >= 0 && hop < num_links) load[hop] = std::max(0.0, load[hop] - c.flow->demand_bps);
    }
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Candidate& a, const Candidate& b) {
                     if (a.flow->demand_bps != b.flow->demand_bps)
                       return a.flow->demand_bps > b.flow->demand_bps;
                     if (a.flow->job_id != b.flow->job_id) return a.flow->job_id < b.flow->job_id;
                     return a.flow->flow_index < b.flow->flow_index;
                   });

  auto capacity = [&](DirectedLinkId d) {
    return static_cast<double>(fabric_->link(topology::Fabric::LinkOf(d)).capacity_bps);
  };
  // Bottleneck utilisation of `path` with `demand` added, over the hops that are not `common`
  // (hops every candidate path shares, like the NIC links, cannot be relieved by moving).
  auto bottleneck = [&](const Path& path, double demand, const std::set<DirectedLinkId>& common) {
    double worst = 0;
    for (DirectedLinkId hop : path.hops) {
      if (hop < 0 || hop >= num_links || common.count(hop) != 0) continue;
      const double cap = capacity(hop);
      const double u = cap > 0 ? (load[hop] + demand) / cap : 0;
      worst = std::max(worst, u);
    }
    return worst;
  };

  for (const Candidate& c : candidates) {
    const MeasuredFlow& f = *c.flow;
    const Path* chosen = &f.path;
    absl::StatusOr<std::vector<Path>> paths =
        UpDownPaths(*fabric_, status, f.src, f.dst, options_.max_candidate_paths);
    MoveDecision decision;
    if (budget > 0 && paths.ok() && paths->size() > 1) {
      absl::flat_hash_map<DirectedLinkId, size_t> hop_count;
      for (const Path& p : *paths) {
        for (DirectedLinkId hop : p.hops) ++hop_count[hop];
      }
      std::set<DirectedLinkId> common;
      for (const auto& [hop, count] : hop_count) {
        if (count == paths->size()) common.insert(hop);
      }
      const double current = bottleneck(f.path, f.demand_bps, common);
      double best = current;
      for (const Path& p : *paths) {
        if (p == f.path) continue;
        const double u = bottleneck(p, f.demand_bps, common);
        if (u < best - kEpsilon) {
          best = u;
          chosen = &p;
        }
      }
      // Strict jobs keep their guarantee: never onto a path above 100%.
      if (chosen != &f.path && f.strict && best > 1.0 + kEpsilon) chosen = &f.path;
      if (chosen != &f.path) {
        decision.job_id = f.job_id;
        decision.flow_index = f.flow_index;
        decision.old_path = f.path;
        decision.new_path = *chosen;
        decision.demand_bps = f.demand_bps;
        decision.hot_link = c.hot_link;
        decision.old_bottleneck_utilisation = current;
        decision.new_bottleneck_utilisation = best;
      }
    }
    for (DirectedLinkId hop : chosen->hops) {
      if (hop >= 0 && hop < num_links) load[hop] += f.demand_bps;
    }
    if (chosen != &f.path) {
      decisions.push_back(std::move(decision));
      move_times_ms_.push_back(now_ms);
      last_move_ms_[{f.job_id, f.flow_index}] = now_ms;
      --budget;
    }
  }
  for (DirectedLinkId link : acted) links_[link].acted_at_ms = now_ms;
  // Forget cooldowns that have expired so the map stays bounded by recent moves.
  for (auto it = last_move_ms_.begin(); it != last_move_ms_.end();) {
    if (now_ms - it->second >= options_.flow_cooldown_ms) {
      it = last_move_ms_.erase(it);
    } else {
      ++it;
    }
  }
  return decisions;
}

}  // namespace pulse::controller
