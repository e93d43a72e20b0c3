#include "controller/placement/flow_sim.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <queue>
#include <random>
#include <set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "controller/placement/channel_flows.h"
#include "controller/placement/placement.h"

namespace pulse::controller {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
// Flows that would finish within this fraction of the stage's elapsed time after the first one
// finish with it: flows that end within a hair of each other cost one solve, not one each.
constexpr double kFinishTolerance = 1e-3;

// Channels by fill level, lowest first, kept lazily: an entry is a lower bound of its channel's
// level and is refreshed when it reaches the top.
using LevelEntry = std::pair<double, int>;
using LevelHeap =
    std::priority_queue<LevelEntry, std::vector<LevelEntry>, std::greater<LevelEntry>>;

// The channel whose current level (`level_of(c)`, kInf for a channel with nothing left to fill)
// is the lowest, as (level, channel); (kInf, -1) when none is left. Stale entries are pushed again
// with their true level; an entry whose key is its level is exact, and no other can be lower.
template <typename LevelOf>
LevelEntry LowestCurrentLevel(LevelHeap& heap, const LevelOf& level_of) {
  while (!heap.empty()) {
    const auto [key, c] = heap.top();
    const double l = level_of(c);
    if (l == kInf) {
      heap.pop();
      continue;
    }
    if (std::abs(l - key) > 1e-12 * std::max(1.0, l)) {
      heap.pop();
      heap.emplace(l, c);
      continue;
    }
    return {l, c};
  }
  return {kInf, -1};
}

}  // namespace

std::vector<double> MaxMinFairRates(const std::vector<double>& capacity_bps,
                                    const std::vector<const SimFlow*>& flows) {
  const size_t n = flows.size();
  std::vector<double> rate(n, 0);
  // Flows per channel (compressed: offsets into one array), over the channels in use only, so a
  // solve costs the flows' hops, not the fabric's size.
  std::vector<int> local_of;  // channel -> local index, -1 when unused
  std::vector<DirectedLinkId> channels;
  local_of.assign(capacity_bps.size(), -1);
  std::vector<int> count;
  for (const SimFlow* f : flows) {
    for (DirectedLinkId d : f->hops) {
      if (local_of[d] < 0) {
        local_of[d] = static_cast<int>(channels.size());
        channels.push_back(d);
        count.push_back(0);
      }
      ++count[local_of[d]];
    }
  }
  const size_t m = channels.size();
  std::vector<size_t> offset(m + 1, 0);
  for (size_t c = 0; c < m; ++c) offset[c + 1] = offset[c] + count[c];
  std::vector<int> members(offset[m]);
  {
    std::vector<size_t> fill(offset.begin(), offset.end() - 1);
    for (size_t i = 0; i < n; ++i) {
      for (DirectedLinkId d : flows[i]->hops) members[fill[local_of[d]]++] = static_cast<int>(i);
    }
  }
  std::vector<double> left(m);
  for (size_t c = 0; c < m; ++c) left[c] = std::max(0.0, capacity_bps[channels[c]]);
  std::vector<char> frozen(n, 0);
  size_t unfrozen = n;

  // Channels by fair share (left / unfrozen flows), lazily: freezing a flow at the current level
  // never lowers another channel's share, so every entry is a lower bound of its channel's share
  // and an entry that reaches the top is refreshed (pushed again with the true share) unless it
  // is exact, in which case no other channel's share can be lower.
  LevelHeap heap;
  for (size_t c = 0; c < m; ++c) heap.emplace(left[c] / count[c], static_cast<int>(c));
  // Capped flows in order of cap.
  std::vector<int> capped;
  for (size_t i = 0; i < n; ++i) {
    if (flows[i]->hops.empty()) {
      rate[i] = flows[i]->max_rate_bps;
      frozen[i] = 1;
      --unfrozen;
    } else if (flows[i]->max_rate_bps < kInf) {
      capped.push_back(static_cast<int>(i));
    }
  }
  std::sort(capped.begin(), capped.end(),
            [&](int a, int b) { return flows[a]->max_rate_bps < flows[b]->max_rate_bps; });
  size_t next_capped = 0;

  auto freeze = [&](int i, double r) {
    rate[i] = r;
    frozen[i] = 1;
    --unfrozen;
    for (DirectedLinkId d : flows[i]->hops) {
      const int c = local_of[d];
      left[c] = std::max(0.0, left[c] - r);
      --count[c];  // its heap entry is now a lower bound; refreshed when it reaches the top
    }
  };
  while (unfrozen > 0) {
    const auto [link_level, link] =
        LowestCurrentLevel(heap, [&](int c) { return count[c] == 0 ? kInf : left[c] / count[c]; });
    while (next_capped < capped.size() && frozen[capped[next_capped]]) ++next_capped;
    const double cap_level =
        next_capped < capped.size() ? flows[capped[next_capped]]->max_rate_bps : kInf;
    if (link < 0 && cap_level == kInf) break;  // cannot happen: every unfrozen flow has a hop
    if (cap_level <= link_level) {
      freeze(capped[next_capped], cap_level);
      continue;
    }
    heap.pop();
    for (size_t k = offset[link]; k < offset[link + 1]; ++k) {
      if (!frozen[members[k]]) freeze(members[k], link_level);
    }
  }
  return rate;
}

namespace {

// The rates of a stage's unfinished job flows next to that stage's background traffic, which
// the solver holds.
class StageSolver {
 public:
  virtual ~StageSolver() = default;
  // A new stage with these job flows (all of them, finished ones included, decide which
  // background flows take part).
  virtual void BeginStage(const std::vector<const SimFlow*>& members) = 0;
  // The rates of `active` (the stage's unfinished job flows), in order.
  virtual std::vector<double> Solve(const std::vector<const SimFlow*>& active) = 0;
  // True when a Solve met a case the solver does not answer exactly (its answer is then unused).
  virtual bool gave_up() const { return false; }
};

// Background as a list of flows: the stage takes those sharing a channel with its job flows and
// solves everything together.
class ListedBackground : public StageSolver {
 public:
  ListedBackground(const std::vector<double>& capacity_bps, const std::vector<SimFlow>& background)
      : capacity_bps_(capacity_bps), background_(background), touched_(capacity_bps.size(), 0) {}

  void BeginStage(const std::vector<const SimFlow*>& members) override {
    // Background flows that share a channel with this stage; the others cannot slow it (they
    // are capped at their planned rates, so leaving them out only errs towards more contention).
    for (const SimFlow* f : members) {
      for (DirectedLinkId d : f->hops) touched_[d] = 1;
    }
    sharing_.clear();
    for (const SimFlow& b : background_) {
      bool shares = false;
      for (DirectedLinkId d : b.hops) shares |= touched_[d] != 0;
      if (shares) sharing_.push_back(&b);
    }
    for (const SimFlow* f : members) {
      for (DirectedLinkId d : f->hops) touched_[d] = 0;
    }
  }

  std::vector<double> Solve(const std::vector<const SimFlow*>& active) override {
    std::vector<const SimFlow*> now;
    now.reserve(active.size() + sharing_.size());
    now.insert(now.end(), active.begin(), active.end());
    now.insert(now.end(), sharing_.begin(), sharing_.end());
    std::vector<double> rate = MaxMinFairRates(capacity_bps_, now);
    rate.resize(active.size());
    return rate;
  }

 private:
  const std::vector<double>& capacity_bps_;
  const std::vector<SimFlow>& background_;
  std::vector<char> touched_;
  std::vector<const SimFlow*> sharing_;
};

absl::Status CheckHops(const SimFlow& f, DirectedLinkId channels, const char* what, size_t i) {
  for (DirectedLinkId d : f.hops) {
    if (d < 0 || d >= channels) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " ", i, ": hop ", d, " is not a channel (0..", channels - 1, ")"));
    }
  }
  return absl::OkStatus();
}

// SimulateCompletion's stage loop, the background traffic held by `solver`.
absl::StatusOr<SimResult> RunStages(const std::vector<double>& capacity_bps,
                                    const std::vector<SimFlow>& flows, StageSolver& solver) {
  const auto channels = static_cast<DirectedLinkId>(capacity_bps.size());
  std::map<int, std::vector<size_t>> stages;
  for (size_t i = 0; i < flows.size(); ++i) {
    if (!(flows[i].bits > 0) || !std::isfinite(flows[i].bits)) {
      return absl::InvalidArgumentError(
          absl::StrCat("flow ", i, ": bits must be finite and > 0, got ", flows[i].bits));
    }
    if (auto s = CheckHops(flows[i], channels, "flow", i); !s.ok()) return s;
    stages[flows[i].stage].push_back(i);
  }

  SimResult result;
  for (const auto& [stage, members] : stages) {
    std::vector<const SimFlow*> set;
    for (size_t i : members) set.push_back(&flows[i]);
    const size_t job_flows = set.size();
    solver.BeginStage(set);
    // Units: a group of QPs sharing one message, or a flow alone.
    std::vector<int> unit_of(job_flows);
    std::vector<double> unit_left;
    {
      std::map<int, int> unit_of_group;
      for (size_t k = 0; k < job_flows; ++k) {
        const int group = set[k]->group;
        int u;
        if (group < 0) {
          u = static_cast<int>(unit_left.size());
          unit_left.push_back(0);
        } else {
          auto [it, inserted] = unit_of_group.emplace(group, static_cast<int>(unit_left.size()));
          if (inserted) unit_left.push_back(0);
          u = it->second;
        }
        unit_of[k] = u;
        unit_left[u] += set[k]->bits;
      }
    }
    std::vector<char> unit_done(unit_left.size(), 0);
    std::vector<double> unit_rate(unit_left.size(), 0);
    std::vector<size_t> active(job_flows);  // positions in `set` of unfinished job flows
    for (size_t k = 0; k < job_flows; ++k) active[k] = k;
    double elapsed = 0;
    while (!active.empty()) {
      std::vector<const SimFlow*> now;
      now.reserve(active.size());
      for (size_t k : active) now.push_back(set[k]);
      std::vector<double> rate = solver.Solve(now);
      ++result.rate_solves;
      if (solver.gave_up()) return result;  // the caller asks another solver
      for (size_t k : active) unit_rate[unit_of[k]] = 0;
      for (size_t a = 0; a < active.size(); ++a) unit_rate[unit_of[active[a]]] += rate[a];
      double dt = kInf;
      for (size_t k : active) {
        const int u = unit_of[k];
        if (unit_rate[u] > 0) dt = std::min(dt, unit_left[u] / unit_rate[u]);
      }
      if (!std::isfinite(dt)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "stage ", stage, ": ", active.size(), " flows get no bandwidth and never finish"));
      }
      elapsed += dt;
      const double slack = kFinishTolerance * elapsed;
      for (size_t k : active) {
        const int u = unit_of[k];
        if (unit_done[u] || unit_rate[u] < 0) continue;
        unit_left[u] -= unit_rate[u] * dt;
        // Mark as updated this round (rates are recomputed next round anyway).
        if (unit_left[u] <= unit_rate[u] * slack) unit_done[u] = 1;
        unit_rate[u] = -1;
      }
      std::vector<size_t> still;
      for (size_t k : active) {
        if (!unit_done[unit_of[k]]) still.push_back(k);
      }
      active = std::move(still);
    }
    result.stage_seconds.push_back(elapsed);
    result.completion_seconds += elapsed;
  }
  return result;
}

// Background as the owner's per-channel summaries of the placed flows (channel_flows.h), minus
// the predicted job's own flows. Progressive filling runs over the job flows alone: on each
// channel of the stage the standing flows take min(their rate, the fill level), a binary search
// over the channel's sorted rates with prefix sums, so a solve costs the job's flows and hops,
// not the standing flows.
//
// This is the listed solve (the same max-min allocation) when every summarised standing flow
// that the fill holds below its rate on some channel crosses no other saturated channel of the
// stage at a different level, and no channel outside the stage carries more than its capacity
// with the stage's standing flows (then those flows are held back on the stage's channels only,
// as in the listed solve). The first is checked after each fill on the flows actually held
// below their rates (few: each gets the fill level, so at most capacity / level of them per
// channel), and a flow that fails it is taken out of the summaries and filled as a flow, until
// none fails; the second when the stage begins. The solver gives up (and the caller solves from
// the listed flows) when the second fails or more than 256 flows would be filled as flows.
class SummarizedBackground : public StageSolver {
 public:
  using ExcludedRates = absl::flat_hash_map<DirectedLinkId, std::vector<double>>;

  SummarizedBackground(const std::vector<double>& capacity_bps, const ChannelFlows& flows,
                       const absl::flat_hash_set<ChannelFlows::FlowHandle>& excluded,
                       const ExcludedRates& excluded_rates)
      : capacity_bps_(capacity_bps),
        flows_(flows),
        job_flows_(excluded),
        job_rates_(excluded_rates),
        local_of_(capacity_bps.size(), -1) {}

  void BeginStage(const std::vector<const SimFlow*>& members) override {
    excluded_ = job_flows_;
    excluded_rates_ = job_rates_;
    promoted_.clear();
    for (DirectedLinkId d : channels_) local_of_[d] = -1;
    channels_.clear();
    for (const SimFlow* f : members) {
      for (DirectedLinkId d : f->hops) {
        if (local_of_[d] >= 0) continue;
        local_of_[d] = static_cast<int>(channels_.size());
        channels_.push_back(d);
      }
    }
    // A channel outside the stage over its capacity holds the standing flows of the stage that
    // cross it below their rates only if those flows alone are over its capacity.
    for (DirectedLinkId d : flows_.Overloaded()) {
      if (gave_up_) break;
      if (d < 0 || static_cast<size_t>(d) >= local_of_.size() || local_of_[d] >= 0) continue;
      double sharing_bps = 0;
      for (const ChannelFlows::Entry& e : flows_.channel(d).entries) {
        if (excluded_.contains(e.flow)) continue;
        for (DirectedLinkId h : flows_.Hops(e.flow)) {
          if (local_of_[h] >= 0) {
            sharing_bps += e.rate_bps;
            break;
          }
        }
      }
      gave_up_ = sharing_bps > capacity_bps_[d] * (1 + 1e-12);
    }
  }

  std::vector<double> Solve(const std::vector<const SimFlow*>& active) override {
    constexpr size_t kMaxPromoted = 256;
    std::vector<double> rate(active.size(), 0);
    while (!gave_up_) {
      std::vector<const SimFlow*> all = active;
      for (const SimFlow& f : promoted_) all.push_back(&f);
      rate = Fill(all);
      const std::vector<ChannelFlows::FlowHandle> inconsistent = HeldAtTwoLevels();
      if (inconsistent.empty()) break;
      if (promoted_.size() + inconsistent.size() > kMaxPromoted) {
        gave_up_ = true;
        break;
      }
      for (ChannelFlows::FlowHandle h : inconsistent) Promote(h);
    }
    rate.resize(active.size());
    return rate;
  }

  bool gave_up() const override { return gave_up_; }

 private:
  // Progressive filling of `active` (job flows, then promoted standing flows) against the
  // summaries of the other standing flows: the rates of `active`, in order.
  std::vector<double> Fill(const std::vector<const SimFlow*>& active) {
    const size_t n = active.size();
    const size_t m = channels_.size();
    std::vector<double> rate(n, 0);
    unfrozen_on_.assign(m, 0);
    frozen_bps_.assign(m, 0);
    saturated_at_.assign(m, -1);
    std::vector<size_t> offset(m + 1, 0);
    for (const SimFlow* f : active) {
      for (DirectedLinkId d : f->hops) ++offset[local_of_[d] + 1];
    }
    for (size_t c = 0; c < m; ++c) {
      unfrozen_on_[c] = static_cast<int>(offset[c + 1]);
      offset[c + 1] += offset[c];
    }
    std::vector<int> members(offset[m]);
    {
      std::vector<size_t> fill(offset.begin(), offset.end() - 1);
      for (size_t i = 0; i < n; ++i) {
        for (DirectedLinkId d : active[i]->hops) {
          members[fill[local_of_[d]]++] = static_cast<int>(i);
        }
      }
    }
    std::vector<char> frozen(n, 0);
    size_t unfrozen = n;
    std::vector<int> capped;
    for (size_t i = 0; i < n; ++i) {
      if (active[i]->hops.empty()) {
        rate[i] = active[i]->max_rate_bps;
        frozen[i] = 1;
        --unfrozen;
      } else if (active[i]->max_rate_bps < kInf) {
        capped.push_back(static_cast<int>(i));
      }
    }
    std::sort(capped.begin(), capped.end(),
              [&](int a, int b) { return active[a]->max_rate_bps < active[b]->max_rate_bps; });
    size_t next_capped = 0;
    double level = 0;
    LevelHeap heap;
    for (size_t c = 0; c < m; ++c) {
      const double l = FillLevel(c, level);
      if (l < kInf) heap.emplace(l, static_cast<int>(c));
    }
    auto freeze = [&](int i, double r) {
      rate[i] = r;
      frozen[i] = 1;
      --unfrozen;
      for (DirectedLinkId d : active[i]->hops) {
        const int c = local_of_[d];
        frozen_bps_[c] += r;
        --unfrozen_on_[c];
      }
    };
    while (unfrozen > 0) {
      const auto [link_level, link] =
          LowestCurrentLevel(heap, [&](int c) { return FillLevel(c, level); });
      while (next_capped < capped.size() && frozen[capped[next_capped]]) ++next_capped;
      const double cap_level =
          next_capped < capped.size() ? active[capped[next_capped]]->max_rate_bps : kInf;
      if (link < 0 && cap_level == kInf) break;  // cannot happen: every unfrozen flow has a hop
      if (cap_level <= link_level) {
        level = std::max(level, cap_level);
        freeze(capped[next_capped], cap_level);
        continue;
      }
      heap.pop();
      level = std::max(level, link_level);
      saturated_at_[link] = link_level;
      for (size_t k = offset[link]; k < offset[link + 1]; ++k) {
        if (!frozen[members[k]]) freeze(members[k], link_level);
      }
    }
    return rate;
  }

  // The summarised standing flows the last fill held below their rates on one saturated channel
  // while another saturated channel they cross filled at a different level: the summaries
  // counted them at both levels, so they must be solved as flows (Promote).
  std::vector<ChannelFlows::FlowHandle> HeldAtTwoLevels() const {
    std::vector<ChannelFlows::FlowHandle> out;
    for (size_t c = 0; c < channels_.size(); ++c) {
      const double at = saturated_at_[c];
      if (at < 0) continue;
      const auto& entries = flows_.channel(channels_[c]).entries;
      for (size_t k = entries.size(); k-- > 0;) {
        if (!(entries[k].rate_bps > at * (1 + 1e-12))) break;
        if (excluded_.contains(entries[k].flow)) continue;
        for (DirectedLinkId e : flows_.Hops(entries[k].flow)) {
          const int o = local_of_[e];
          if (o < 0 || static_cast<size_t>(o) == c || saturated_at_[o] < 0) continue;
          if (std::abs(saturated_at_[o] - at) > 1e-12 * std::max(at, saturated_at_[o])) {
            out.push_back(entries[k].flow);
            break;
          }
        }
      }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  // Takes a standing flow out of the summaries for the rest of the stage and fills it as a flow
  // capped at its rate, over the stage's channels it crosses (elsewhere it cannot be held back:
  // BeginStage checked that no channel outside the stage is over capacity with it).
  void Promote(ChannelFlows::FlowHandle h) {
    excluded_.insert(h);
    SimFlow flow;
    flow.bits = kInf;
    flow.max_rate_bps = flows_.Rate(h);
    for (DirectedLinkId d : flows_.Hops(h)) {
      if (local_of_[d] < 0) continue;
      flow.hops.push_back(d);
      std::vector<double>& rates = excluded_rates_[d];
      rates.insert(std::upper_bound(rates.begin(), rates.end(), flows_.Rate(h)), flows_.Rate(h));
    }
    promoted_.push_back(std::move(flow));
  }

  // The fill level (common rate of the unfrozen job flows) at which local channel c fills: the
  // t >= `floor` where frozen + unfrozen * t + sum over standing flows of min(rate, t) reaches the
  // capacity; infinity when it never does.
  double FillLevel(size_t c, double floor) const {
    const DirectedLinkId d = channels_[c];
    const ChannelFlows::Channel& ch = flows_.channel(d);
    const std::vector<double>* ex = nullptr;
    if (auto it = excluded_rates_.find(d); it != excluded_rates_.end()) ex = &it->second;
    const size_t nx = ex == nullptr ? 0 : ex->size();
    const size_t n = ch.entries.size();
    const double u = unfrozen_on_[c];
    if (u == 0 && n <= nx) return kInf;
    const double target = capacity_bps_[d] - frozen_bps_[c];
    if (target <= 0) return floor;
    // H(t): what the unfrozen job flows and the standing flows take at level t.
    auto excluded_at = [&](double t, size_t* above) {
      double sum = 0;
      size_t count = 0;
      if (ex != nullptr) {
        for (double x : *ex) {
          if (x > t) {
            sum += t;
            ++count;
          } else {
            sum += x;
          }
        }
      }
      if (above != nullptr) *above = count;
      return sum;
    };
    auto take = [&](double t, size_t* slope) {
      const auto k = static_cast<size_t>(
          std::upper_bound(ch.entries.begin(), ch.entries.end(), t,
                           [](double v, const ChannelFlows::Entry& e) { return v < e.rate_bps; }) -
          ch.entries.begin());
      size_t ex_above = 0;
      const double h =
          u * t + ch.prefix_bps[k] + static_cast<double>(n - k) * t - excluded_at(t, &ex_above);
      if (slope != nullptr) *slope = static_cast<size_t>(u) + (n - k) - ex_above;
      return h;
    };
    double lo = 0;
    if (n > 0 && take(ch.entries[n - 1].rate_bps, nullptr) < target) {
      lo = ch.entries[n - 1].rate_bps;
    } else if (n > 0) {
      // The first entry whose rate fills the channel; the level lies below it.
      size_t a = 0, b = n - 1;
      while (a < b) {
        const size_t mid = (a + b) / 2;
        if (take(ch.entries[mid].rate_bps, nullptr) >= target) {
          b = mid;
        } else {
          a = mid + 1;
        }
      }
      lo = a == 0 ? 0 : ch.entries[a - 1].rate_bps;
    }
    size_t slope = 0;
    const double h_lo = take(lo, &slope);
    if (slope == 0) return kInf;
    return std::max(floor, lo + (target - h_lo) / static_cast<double>(slope));
  }

  const std::vector<double>& capacity_bps_;
  const ChannelFlows& flows_;
  const absl::flat_hash_set<ChannelFlows::FlowHandle>& job_flows_;  // the predicted job's
  const ExcludedRates& job_rates_;
  // Left out of the summaries in this stage: the job's flows and the promoted ones.
  absl::flat_hash_set<ChannelFlows::FlowHandle> excluded_;
  ExcludedRates excluded_rates_;  // their rates by channel, sorted
  std::vector<SimFlow> promoted_;
  std::vector<int> local_of_;             // channel -> index in channels_, -1 outside the stage
  std::vector<DirectedLinkId> channels_;  // the stage's channels
  std::vector<int> unfrozen_on_;          // by local channel
  std::vector<double> frozen_bps_;        // by local channel
  std::vector<double> saturated_at_;      // fill level, -1 when not saturated
  bool gave_up_ = false;
};

}  // namespace

absl::StatusOr<SimResult> SimulateCompletion(const std::vector<double>& capacity_bps,
                                             const std::vector<SimFlow>& flows,
                                             const std::vector<SimFlow>& background) {
  const auto channels = static_cast<DirectedLinkId>(capacity_bps.size());
  for (size_t i = 0; i < flows.size(); ++i) {
    if (!(flows[i].bits > 0) || !std::isfinite(flows[i].bits)) {
      return absl::InvalidArgumentError(
          absl::StrCat("flow ", i, ": bits must be finite and > 0, got ", flows[i].bits));
    }
    if (auto s = CheckHops(flows[i], channels, "flow", i); !s.ok()) return s;
  }
  for (size_t i = 0; i < background.size(); ++i) {
    if (std::isfinite(background[i].bits)) {
      return absl::InvalidArgumentError(
          absl::StrCat("background flow ", i, ": bits must be infinite (persistent)"));
    }
    if (auto s = CheckHops(background[i], channels, "background flow", i); !s.ok()) return s;
  }
  ListedBackground solver(capacity_bps, background);
  return RunStages(capacity_bps, flows, solver);
}

std::vector<double> ChannelCapacities(const Fabric& fabric, const LinkStatus& status) {
  std::vector<double> cap(fabric.num_directed_links(), 0);
  for (DirectedLinkId d = 0; d < fabric.num_directed_links(); ++d) {
    const LinkId l = Fabric::LinkOf(d);
    if (status.size() == 0 || status.IsUp(l)) {
      cap[d] = static_cast<double>(fabric.link(l).capacity_bps);
    }
  }
  return cap;
}

int StageOf(CollectivePattern pattern, int phase) {
  return pattern == CollectivePattern::kHalvingDoubling ? phase : 0;
}

namespace {

// Runs job flows next to some background traffic (listed, or summarised).
using SimulateNextToBackground = std::function<absl::StatusOr<SimResult>(
    const std::vector<double>& capacity_bps, const std::vector<SimFlow>& flows)>;

absl::StatusOr<BandwidthPrediction> Predict(const Fabric& fabric, const LinkStatus& status,
                                            CollectivePattern pattern,
                                            const std::vector<SimConnection>& connections,
                                            const SimulateNextToBackground& simulate,
                                            const BandwidthOptions& options) {
  if (options.ecmp_qps < 1 || options.ecmp_qps > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("ecmp_qps must be 1..64, got ", options.ecmp_qps));
  }
  if (options.ecmp_seeds < 1 || options.ecmp_seeds > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("ecmp_seeds must be 1..64, got ", options.ecmp_seeds));
  }
  BandwidthPrediction out;
  out.ecmp_qps = options.ecmp_qps;
  if (connections.size() > options.max_connections) {
    out.skipped_reason = absl::StrCat(connections.size(), " connections, over the bound of ",
                                      options.max_connections);
    return out;
  }
  // Demands: connections with the same (src, dst, phase) are sub-flows of one demand; ECMP and
  // the ideal see the demand (the sub-flows are Pulse's own split).
  struct Demand {
    NodeId src, dst;
    double rate;
    int stage;
  };
  std::vector<Demand> demands;
  {
    std::map<std::tuple<NodeId, NodeId, int>, size_t> index;
    for (const SimConnection& c : connections) {
      auto [it, inserted] = index.emplace(std::make_tuple(c.src, c.dst, c.phase), demands.size());
      if (inserted) {
        demands.push_back({c.src, c.dst, c.rate_bps, StageOf(pattern, c.phase)});
      } else {
        demands[it->second].rate += c.rate_bps;
      }
    }
  }
  if (demands.empty()) {
    out.skipped_reason = "no fabric traffic (every pair rides NVLink)";
    return out;
  }
  std::vector<double> cap = ChannelCapacities(fabric, status);

  // Ideal: each NIC limited to its line rate in each direction, nothing else (two virtual
  // channels per node after the real ones), the job alone.
  {
    const auto base = static_cast<DirectedLinkId>(cap.size());
    std::vector<double> ideal_cap(cap.size() + 2 * fabric.nodes().size(), 0);
    std::vector<SimFlow> ideal;
    for (const Demand& d : demands) {
      const DirectedLinkId out_ch = base + 2 * d.src, in_ch = base + 2 * d.dst + 1;
      ideal_cap[out_ch] = NicLineRateBps(fabric, d.src);
      ideal_cap[in_ch] = NicLineRateBps(fabric, d.dst);
      ideal.push_back(SimFlow{{out_ch, in_ch}, d.rate, kInf, d.stage});
    }
    auto r = SimulateCompletion(ideal_cap, ideal);
    if (!r.ok()) return r.status();
    out.ideal_seconds = r->completion_seconds;
    out.rate_solves += r->rate_solves;
  }
  // Pulse: the placed paths.
  {
    std::vector<SimFlow> placed;
    for (const SimConnection& c : connections) {
      if (c.path.hops.empty()) continue;
      placed.push_back(SimFlow{c.path.hops, c.rate_bps, kInf, StageOf(pattern, c.phase)});
    }
    if (placed.empty()) {
      out.predicted_seconds = out.ideal_seconds;
    } else {
      auto r = simulate(cap, placed);
      if (!r.ok()) return r.status();
      out.predicted_seconds = r->completion_seconds;
      out.rate_solves += r->rate_solves;
    }
  }
  // ECMP: every demand split over q QPs, each on a uniformly drawn equal-cost path.
  {
    std::vector<std::vector<Path>> choices(demands.size());
    std::mt19937_64 rng(options.seed);
    const int draws = options.ecmp_qps * options.ecmp_seeds;
    for (size_t i = 0; i < demands.size(); ++i) {
      auto paths = UpDownPaths(fabric, status, demands[i].src, demands[i].dst);
      if (!paths.ok()) return paths.status();
      std::uniform_int_distribution<size_t> pick(0, paths->size() - 1);
      for (int k = 0; k < draws; ++k) choices[i].push_back((*paths)[pick(rng)]);
    }
    double seconds = 0, fraction = 0;
    for (int s = 0; s < options.ecmp_seeds; ++s) {
      std::vector<SimFlow> qps;
      for (size_t i = 0; i < demands.size(); ++i) {
        for (int q = 0; q < options.ecmp_qps; ++q) {
          qps.push_back(SimFlow{choices[i][s * options.ecmp_qps + q].hops,
                                demands[i].rate / options.ecmp_qps, kInf, demands[i].stage,
                                options.ecmp_qps_share_message ? static_cast<int>(i) : -1});
        }
      }
      auto r = simulate(cap, qps);
      if (!r.ok()) return r.status();
      seconds += r->completion_seconds;
      fraction += out.ideal_seconds / r->completion_seconds;
      out.rate_solves += r->rate_solves;
    }
    out.ecmp_seconds = seconds / options.ecmp_seeds;
    out.ecmp_busbw_fraction = fraction / options.ecmp_seeds;
  }
  out.predicted_busbw_fraction = out.ideal_seconds / out.predicted_seconds;
  out.computed = true;
  return out;
}

// The gave-up marker of a summarised simulation (never returned to callers of this file).
constexpr absl::string_view kSummariesGaveUp = "channel summaries cannot answer exactly";

// PredictJobBandwidth from the owner's channel summaries; nullopt when they cannot answer
// exactly (then the caller gathers the listed flows).
std::optional<absl::StatusOr<BandwidthPrediction>> PredictFromSummaries(
    const Placement& placement, const JobPlacement& job,
    const std::vector<SimConnection>& connections, const BandwidthOptions& options) {
  const ChannelFlows* flows = placement.channel_flows();
  if (flows == nullptr) return std::nullopt;
  const std::vector<ChannelFlows::FlowHandle>* own = flows->FlowsOf(job.spec.id);
  if (own == nullptr || own->size() != job.flows.size()) return std::nullopt;
  // A standing flow over a link that is down gets nothing there: only the listed solve knows.
  const LinkStatus& status = placement.link_status();
  for (LinkId l = 0; status.down_count() > 0 && l < static_cast<LinkId>(status.size()); ++l) {
    if (status.IsUp(l)) continue;
    for (DirectedLinkId d : {2 * l, 2 * l + 1}) {
      if (static_cast<size_t>(d) < flows->num_channels() && flows->channel(d).entries.size() > 0) {
        return std::nullopt;
      }
    }
  }
  absl::flat_hash_set<ChannelFlows::FlowHandle> excluded(own->begin(), own->end());
  SummarizedBackground::ExcludedRates excluded_rates;
  for (ChannelFlows::FlowHandle h : *own) {
    if (!(flows->Rate(h) > 0)) continue;
    for (DirectedLinkId d : flows->Hops(h)) excluded_rates[d].push_back(flows->Rate(h));
  }
  for (auto& [d, rates] : excluded_rates) std::sort(rates.begin(), rates.end());
  bool gave_up = false;
  auto simulate = [&](const std::vector<double>& capacity_bps,
                      const std::vector<SimFlow>& sim_flows) -> absl::StatusOr<SimResult> {
    SummarizedBackground solver(capacity_bps, *flows, excluded, excluded_rates);
    absl::StatusOr<SimResult> r = RunStages(capacity_bps, sim_flows, solver);
    if (solver.gave_up()) {
      gave_up = true;
      return absl::AbortedError(kSummariesGaveUp);
    }
    return r;
  };
  absl::StatusOr<BandwidthPrediction> prediction =
      Predict(placement.fabric(), status, job.spec.pattern, connections, simulate, options);
  if (gave_up) return std::nullopt;
  if (prediction.ok()) prediction->from_channel_summaries = true;
  return prediction;
}

}  // namespace

absl::StatusOr<BandwidthPrediction> PredictBandwidth(const Fabric& fabric, const LinkStatus& status,
                                                     CollectivePattern pattern,
                                                     const std::vector<SimConnection>& connections,
                                                     const std::vector<SimFlow>& background,
                                                     const BandwidthOptions& options) {
  return Predict(
      fabric, status, pattern, connections,
      [&](const std::vector<double>& capacity_bps, const std::vector<SimFlow>& flows) {
        return SimulateCompletion(capacity_bps, flows, background);
      },
      options);
}

absl::StatusOr<BandwidthPrediction> PredictJobBandwidth(const Placement& placement,
                                                        const std::string& job_id,
                                                        const BandwidthOptions& options) {
  const JobPlacement* job = placement.FindJob(job_id);
  if (job == nullptr) return absl::NotFoundError(absl::StrCat("no job '", job_id, "'"));
  std::vector<SimConnection> connections;
  connections.reserve(job->flows.size());
  for (const PlacedFlow& f : job->flows) {
    connections.push_back(SimConnection{f.src, f.dst, f.rate_bps, f.phase, f.path});
  }
  if (connections.size() > options.max_connections) {
    return PredictBandwidth(placement.fabric(), placement.link_status(), job->spec.pattern,
                            connections, {}, options);
  }
  if (options.use_channel_summaries) {
    if (auto fast = PredictFromSummaries(placement, *job, connections, options)) {
      return *std::move(fast);
    }
  }
  // Only background flows sharing a channel with a flow the simulation runs can matter (and
  // SimulateCompletion keeps only those): the job's placed paths and every equal-cost path its
  // ECMP model may draw. Gathering just those, in job order as before, makes the prediction cost
  // follow the job's neighbourhood instead of the number of jobs placed.
  absl::flat_hash_set<DirectedLinkId> reach;
  std::set<std::pair<NodeId, NodeId>> pairs;
  for (const PlacedFlow& f : job->flows) {
    reach.insert(f.path.hops.begin(), f.path.hops.end());
    pairs.emplace(f.src, f.dst);
  }
  for (const auto& [src, dst] : pairs) {
    auto paths = UpDownPaths(placement.fabric(), placement.link_status(), src, dst);
    if (!paths.ok()) continue;  // PredictBandwidth reports it
    for (const Path& p : *paths) reach.insert(p.hops.begin(), p.hops.end());
  }
  // The same channels as a bitmap for the per-hop test below (hundreds of jobs' flows).
  const DirectedLinkId num_channels = placement.fabric().num_directed_links();
  std::vector<char> in_reach(num_channels, 0);
  for (DirectedLinkId d : reach) {
    if (d >= 0 && d < num_channels) in_reach[d] = 1;
  }
  std::vector<SimFlow> background;
  for (const std::string& id : placement.JobsCrossing(reach)) {
    if (id == job_id) continue;
    for (const PlacedFlow& f : placement.FindJob(id)->flows) {
      if (f.path.hops.empty() || !(f.rate_bps > 0)) continue;
      bool shares = false;
      for (DirectedLinkId d : f.path.hops) {
        shares |= d >= 0 && d < num_channels && in_reach[d] != 0;
      }
      if (shares) background.push_back(SimFlow{f.path.hops, kInf, f.rate_bps, 0});
    }
  }
  return PredictBandwidth(placement.fabric(), placement.link_status(), job->spec.pattern,
                          connections, background, options);
}

std::vector<std::string> JobsCrossing(const Placement& placement,
                                      const std::vector<DirectedLinkId>& channels) {
  absl::flat_hash_set<DirectedLinkId> wanted;
  for (DirectedLinkId c : channels) {
    if (c >= 0 && c < placement.fabric().num_directed_links()) wanted.insert(c);
  }
  if (wanted.empty()) return {};
  // The state owner's Placement answers from its jobs-by-channel index (the jobs on these
  // channels), a copy by scanning its jobs.
  return placement.JobsCrossing(wanted);
}

}  // namespace pulse::controller
