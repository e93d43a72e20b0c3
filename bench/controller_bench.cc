// The cost of a change with many jobs standing, on examples/leaf-spine-64x64.yaml:
//   - PlaceJob latency through the Controller (persist-free, as the daemon without a store) with
//     0, 1,000 and 8,000 standing two-NIC jobs (issue 11 target: flat within 2x);
//   - after one small job, how many switches FabricSync recomputes: the full computation (every
//     switch, what FabricSync did before issue 11) against the delta it computes now
//     (ForwardingAffectedSwitches: the switches on the changed jobs' paths), with both times, and
//     how many switches' tables actually changed.
// Prints one line per figure, next to the figures measured before the change (issue 11 brief:
// PlaceJob 0.24 / 1.23 / 77.7 ms; 128 switches recomputed). `--quick` stops at 1,000 standing
// jobs; `--no-predict` turns off the bandwidth prediction made after each placement.
// Measured 2026-12-03 on the shared 2-core machine (loaded), after the job map became a chunked
// persistent map and bandwidth refreshes used the jobs-by-channel index: PlaceJob median
// 0.33 / 1.05 / 31.5 ms (waiting behind the burst's refresh backlog), settled 0.31 / 0.59 /
// 2.13 ms; with --no-predict 0.105 / 0.168 / 0.333 ms.
// Then refresh tasks gave way to waiting requests (a request waits for one job's simulation at
// most, not a 16-job batch) and publish once per task or with the request's snapshot. Same
// machine, back to back, another helper building (load average 1.2-2), before -> after, for
// 0 / 1,000 / 8,000 standing jobs:
//   median           0.27 / 0.81 / 19.2 ms  ->  0.35 / 0.72 / 2.74 ms
//   settled median   0.27 / 0.47 / 2.04 ms  ->  0.36 / 0.62 / 1.88 ms
//   --no-predict     0.18 / 0.30 / 0.44 ms  ->  0.21 / 0.30 / 0.51 ms (unchanged: noise)
// What still grew with standing jobs was the new job's own prediction, made before the reply:
// its input was every other flow on the channels its ECMP paths may take (about 500 jobs per
// leaf pair at 8,000), so the settled figure stayed about 5x the empty one with prediction on.
// Then the prediction filled only the job's flows against per-channel summaries of the standing
// flows (placement/channel_flows.h; the same max-min rates), and PlaceJob stopped its stronger
// searches at the job's per-flow path floor (they ran to their budget on 1 probe in 7 at 8,000,
// for nothing). Same machine, 3 runs each back to back, load average 2-3.7 (4 helpers on 2
// cores), settled median for 0 / 1,000 / 8,000 standing jobs, before -> after:
//   prediction on    0.24 / 0.41-0.48 / 1.36-1.73 ms  ->  0.20-0.34 / 0.27-0.40 / 0.43-0.59 ms
//   (its max         15-21 ms at 8,000                 ->  0.6-0.8 ms; median while refreshes
//                    still run: 2.3-2.5 ms             ->  0.58-0.67 ms)
//   --no-predict     0.08-0.16 / 0.15-0.17 / 0.24-0.37 ->  0.09 / 0.13-0.15 / 0.21-0.36 ms
//   (its max         13-18 ms at 8,000                 ->  0.3-0.6 ms)
// What grows without prediction now (perf, 1,000 probes at 8,000): Placement::RefreshJobLoads
// (about 27%: the stored max_link_load of the ~100 jobs sharing the new job's channels, copied
// on write when it changes; half of it a scan of every channel, which does not grow), and
// ImproveLocally (about 17%: next to standing load the colouring's first choice is not the
// least loaded, so the local search has real work); PlacementLowerBound (18%) does not grow.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_args.h"
#include "controller/controller.h"
#include "controller/fabric_sync/forwarding.h"
#include "controller/paths/ecmp_groups.h"
#include "topology/intent.h"

namespace {

using pulse::controller::Controller;
using pulse::controller::JobSpec;

double MsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

JobSpec PairJob(const pulse::topology::Fabric& fabric, std::mt19937_64& rng,
                const std::string& id) {
  const auto& nics = fabric.nics();
  std::uniform_int_distribution<size_t> pick(0, nics.size() - 1);
  size_t a = pick(rng), b = pick(rng);
  while (b == a) b = pick(rng);
  JobSpec spec;
  spec.id = id;
  spec.endpoints = {fabric.node(nics[a]).name, fabric.node(nics[b]).name};
  spec.rate_bps = 1e6;  // small: thousands fit on the fabric
  return spec;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (auto exit_code = pulse::bench::CheckArgs(
          argc, argv, {"--quick", "--no-predict"}, 0,
          "[--quick] [--no-predict]   (--quick: up to 1,000 standing jobs; --no-predict: no "
          "bandwidth prediction)")) {
    return *exit_code;
  }
  bool quick = false, predict = true;
  for (int i = 1; i < argc; ++i) {
    quick |= std::strcmp(argv[i], "--quick") == 0;
    predict &= std::strcmp(argv[i], "--no-predict") != 0;
  }
  const std::string path = std::string(PULSE_SOURCE_DIR) + "/examples/leaf-spine-64x64.yaml";
  auto intent = pulse::topology::LoadIntentFile(path);
  if (!intent.ok()) {
    std::fprintf(stderr, "%s\n", std::string(intent.status().message()).c_str());
    return 1;
  }
  auto fabric = std::make_shared<const pulse::topology::Fabric>(std::move(intent->fabric));
  std::mt19937_64 rng(11);
  pulse::controller::ControllerOptions options;
  options.max_jobs = 20000;
  options.predict_bandwidth = predict;
  auto controller = Controller::Create(fabric, options);
  if (!controller.ok()) return 1;
  Controller& c = **controller;
  int standing = 0;
  for (int target : {0, 1000, 8000}) {
    if (quick && target > 1000) break;
    for (; standing < target; ++standing) {
      if (!c.PlaceJob(PairJob(*fabric, rng, "standing-" + std::to_string(standing))).get().ok()) {
        std::fprintf(stderr, "standing job %d refused\n", standing);
        return 1;
      }
    }
    std::vector<double> place_ms;
    for (int i = 0; i < 50; ++i) {
      JobSpec probe = PairJob(*fabric, rng, "probe");
      auto start = std::chrono::steady_clock::now();
      auto placed = c.PlaceJob(probe).get();
      place_ms.push_back(MsSince(start));
      if (!placed.ok() || !c.DeleteJob("probe").get().ok()) return 1;
    }
    const double before_ms = standing == 0 ? 0.24 : standing == 1000 ? 1.23 : 77.7;
    std::printf(
        "standing_jobs=%d place_job_median_ms=%.3f place_job_max_ms=%.3f (before: median %.2f)\n",
        standing, Median(place_ms), *std::max_element(place_ms.begin(), place_ms.end()), before_ms);
    // The same once the bandwidth refreshes queued by placing the standing jobs in a burst have
    // run (each barrier lets one refresh batch run): what a change costs with jobs standing,
    // apart from the backlog a burst leaves (the figure above waits behind one batch of it).
    for (int i = 0; i < 1000; ++i) c.Sync().get();
    std::vector<double> settled_ms;
    for (int i = 0; i < 50; ++i) {
      JobSpec probe = PairJob(*fabric, rng, "probe");
      auto start = std::chrono::steady_clock::now();
      auto placed = c.PlaceJob(probe).get();
      settled_ms.push_back(MsSince(start));
      if (!placed.ok() || !c.DeleteJob("probe").get().ok()) return 1;
      for (int j = 0; j < 4; ++j) c.Sync().get();
    }
    std::printf("standing_jobs=%d place_job_settled_median_ms=%.3f place_job_settled_max_ms=%.3f\n",
                standing, Median(settled_ms),
                *std::max_element(settled_ms.begin(), settled_ms.end()));

    // FabricSync's work for one small job: the full computation over the snapshot after it
    // (before issue 11) against the delta from the snapshot before it (now).
    pulse::controller::EcmpGroups groups(fabric);
    const pulse::controller::SnapshotPtr before_snapshot = c.snapshot();
    auto first_start = std::chrono::steady_clock::now();
    auto before = pulse::controller::ComputeForwarding(*fabric, before_snapshot->placement, groups);
    const double first_ms = MsSince(first_start);
    if (!c.PlaceJob(PairJob(*fabric, rng, "small")).get().ok()) return 1;
    const pulse::controller::SnapshotPtr after_snapshot = c.snapshot();
    auto full_start = std::chrono::steady_clock::now();
    auto after = pulse::controller::ComputeForwarding(*fabric, after_snapshot->placement, groups);
    const double full_ms = MsSince(full_start);
    auto delta_start = std::chrono::steady_clock::now();
    auto only = pulse::controller::ForwardingAffectedSwitches(*fabric, before_snapshot->placement,
                                                              after_snapshot->placement);
    if (!only) return 1;
    auto delta = pulse::controller::ComputeForwarding(*fabric, after_snapshot->placement, groups,
                                                      {}, nullptr, &*only);
    const double delta_ms = MsSince(delta_start);
    size_t changed = 0;
    for (size_t s = 0; s < after.size() && s < before.size(); ++s) {
      changed += after[s].rules.size() != before[s].rules.size() ||
                 after[s].groups.size() != before[s].groups.size();
    }
    std::printf(
        "standing_jobs=%d fabric_sync_switches_recomputed=%zu (before: %zu) switches_changed=%zu "
        "delta_compute_ms=%.2f full_compute_ms=%.1f first_compute_ms=%.1f\n",
        standing, delta.size(), after.size(), changed, delta_ms, full_ms, first_ms);
    std::fflush(stdout);
    if (!c.DeleteJob("small").get().ok()) return 1;
  }
  return 0;
}
