#include "controller/placement/flow_sim.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <queue>
#include <random>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "controller/placement/placement.h"

namespace pulse::controller {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
// Flows that would finish within this fraction of the stage's elapsed time after the first one
// finish with it: flows that end within a hair of each other cost one solve, not one each.
constexpr double kFinishTolerance = 1e-3;

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
  using Entry = std::pair<double, int>;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
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
    double link_level = kInf;
    int link = -1;
    while (!heap.empty()) {
      auto [key, c] = heap.top();
      if (count[c] == 0) {
        heap.pop();
        continue;
      }
      const double share = left[c] / count[c];
      if (std::abs(share - key) > 1e-12 * std::max(1.0, share)) {
        heap.pop();
        heap.emplace(share, c);
        continue;
      }
      link_level = share;
      link = c;
      break;
    }
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

absl::StatusOr<SimResult> SimulateCompletion(const std::vector<double>& capacity_bps,
                                             const std::vector<SimFlow>& flows,
                                             const std::vector<SimFlow>& background) {
  const auto channels = static_cast<DirectedLinkId>(capacity_bps.size());
  auto check_hops = [&](const SimFlow& f, const char* what, size_t i) -> absl::Status {
    for (DirectedLinkId d : f.hops) {
      if (d < 0 || d >= channels) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, " ", i, ": hop ", d, " is not a channel (0..", channels - 1, ")"));
      }
    }
    return absl::OkStatus();
  };
  std::map<int, std::vector<size_t>> stages;
  for (size_t i = 0; i < flows.size(); ++i) {
    if (!(flows[i].bits > 0) || !std::isfinite(flows[i].bits)) {
      return absl::InvalidArgumentError(
          absl::StrCat("flow ", i, ": bits must be finite and > 0, got ", flows[i].bits));
    }
    if (auto s = check_hops(flows[i], "flow", i); !s.ok()) return s;
    stages[flows[i].stage].push_back(i);
  }
  for (size_t i = 0; i < background.size(); ++i) {
    if (std::isfinite(background[i].bits)) {
      return absl::InvalidArgumentError(
          absl::StrCat("background flow ", i, ": bits must be infinite (persistent)"));
    }
    if (auto s = check_hops(background[i], "background flow", i); !s.ok()) return s;
  }

  SimResult result;
  std::vector<char> touched(capacity_bps.size(), 0);
  for (const auto& [stage, members] : stages) {
    // Background flows that share a channel with this stage; the others cannot slow it (they are
    // capped at their planned rates, so leaving them out only errs towards more contention).
    for (size_t i : members) {
      for (DirectedLinkId d : flows[i].hops) touched[d] = 1;
    }
    std::vector<const SimFlow*> set;
    for (size_t i : members) set.push_back(&flows[i]);
    const size_t job_flows = set.size();
    for (const SimFlow& b : background) {
      bool shares = false;
      for (DirectedLinkId d : b.hops) shares |= touched[d] != 0;
      if (shares) set.push_back(&b);
    }
    for (size_t i : members) {
      for (DirectedLinkId d : flows[i].hops) touched[d] = 0;
    }
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
      now.reserve(active.size() + set.size() - job_flows);
      for (size_t k : active) now.push_back(set[k]);
      now.insert(now.end(), set.begin() + job_flows, set.end());
      std::vector<double> rate = MaxMinFairRates(capacity_bps, now);
      ++result.rate_solves;
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

absl::StatusOr<BandwidthPrediction> PredictBandwidth(const Fabric& fabric, const LinkStatus& status,
                                                     CollectivePattern pattern,
                                                     const std::vector<SimConnection>& connections,
                                                     const std::vector<SimFlow>& background,
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
      auto r = SimulateCompletion(cap, placed, background);
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
      auto r = SimulateCompletion(cap, qps, background);
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
