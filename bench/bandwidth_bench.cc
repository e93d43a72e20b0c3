// Bandwidth-contract benchmark (issue 15). One line per case:
// - 1,024-NIC 1:1 leaf-spine (32 leaves x 32 hosts, 32 spines, 100G): the bus-bandwidth fraction
//   of Pulse's placement and of plain ECMP with q = 1, 2, 4, 8 QPs per connection (flow_sim.h:
//   fluid max-min fair, re-solved as flows finish; ECMP averaged over 3 hash draws) for a random
//   permutation, one halving-doubling step (i <-> i xor 32: every leaf talks to one other leaf),
//   an all-to-all over the 128 NICs of 4 leaves, and 8 tenants of 128 (the whole fabric; with 1,
//   2 and 4 QPs per connection, max_subflows) or 96 NICs scattered over the fabric running rings
//   (each tenant simulated with the other seven on
//   their paths; min and mean over tenants; each tenant's line shows the fragmentation bound
//   around the tenants placed before it, lower_bound.h: above 1, no placement of that tenant
//   avoids an overloaded link without moving the others); the prediction's cost for a 1,024-NIC
//   ring;
// - unsplittable quality: Pulse's max link load against the exact MIP (GLPK, 20 s limit) on the
//   issue's demand sets (8x8x8 leaf-spine 1:1 with every NIC sending and receiving line rate,
//   8x4x8 2:1 at half line rate; ~125 flows of unequal rates);
// - scale: planning time (wall and CPU) and peak RSS of a ring over the 101,306-NIC k=74
//   fat-tree and of a 65,536-GPU halving-doubling job (1M flows), each in its own process.
//
// Usage: pulse_bandwidth_bench [--quick | --scale | --contract]   (--quick skips the scale
// cases; --scale and --contract run only those)
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/bench_args.h"
#include "controller/placement/exact_placement.h"
#include "controller/placement/flow_sim.h"
#include "controller/placement/lower_bound.h"
#include "controller/placement/placement.h"
#include "topology/builders.h"

namespace pulse::controller {
namespace {

using topology::Fabric;

double PeakRssMb() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

// CPU time of this process (user + system): on a shared machine, steadier than wall time.
double CpuMs() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e3 +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e3;
}

double MsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

std::shared_ptr<const Fabric> Must(absl::StatusOr<Fabric> fabric) {
  if (!fabric.ok()) {
    std::fprintf(stderr, "fabric: %s\n", std::string(fabric.status().message()).c_str());
    std::exit(1);
  }
  return std::make_shared<const Fabric>(*std::move(fabric));
}

std::shared_ptr<const Fabric> LeafSpine(int leaves, int spines, int hosts, double oversub = 1) {
  topology::LeafSpineParams p;
  p.leaves = leaves;
  p.spines = spines;
  p.servers_per_leaf = hosts;
  p.oversubscription = oversub;
  p.uplinks_per_spine = 0;
  return Must(topology::LeafSpine(p));
}

std::string Nic(const Fabric& f, size_t i) { return f.node(f.nics()[i]).name; }

const JobPlacement* MustPlace(Placement& placement, const JobSpec& spec) {
  auto placed = placement.PlaceJob(spec);
  if (!placed.ok()) {
    std::fprintf(stderr, "place %s: %s\n", spec.id.c_str(),
                 std::string(placed.status().message()).c_str());
    std::exit(1);
  }
  return *placed;
}

// Pulse and ECMP q = 1, 2, 4, 8 for one placed job.
void PrintContract(const std::string& name, const Placement& placement, const std::string& id) {
  std::string line = absl::StrCat("case=", name);
  double ms = 0;
  for (int q : {1, 2, 4, 8}) {
    BandwidthOptions options;
    options.ecmp_qps = q;
    options.ecmp_seeds = 3;
    options.max_connections = 1 << 20;
    const auto start = std::chrono::steady_clock::now();
    auto p = PredictJobBandwidth(placement, id, options);
    ms += MsSince(start);
    if (!p.ok() || !p->computed) {
      std::fprintf(stderr, "%s: %s\n", name.c_str(),
                   p.ok() ? p->skipped_reason.c_str() : std::string(p.status().message()).c_str());
      std::exit(1);
    }
    if (q == 1)
      absl::StrAppend(&line, " pulse=", absl::StrFormat("%.3f", p->predicted_busbw_fraction));
    absl::StrAppend(&line, " ecmp_q", q, "=", absl::StrFormat("%.3f", p->ecmp_busbw_fraction));
  }
  absl::StrAppend(&line, " sim_ms=", absl::StrFormat("%.0f", ms));
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

// 8 tenants of `per_tenant` NICs each, scattered at random over the fabric, each a ring; each
// tenant is simulated with the other seven on their paths. `max_subflows` > 1: each connection
// may be split over that many QPs (NCCL_IB_QPS_PER_CONNECTION), as ECMP's q QPs are.
void FragmentedTenants(std::shared_ptr<const Fabric> fabric, size_t per_tenant, int max_subflows,
                       std::mt19937 rng) {
  const size_t n = fabric->nics().size();
  {
    Placement placement(fabric);
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    for (int t = 0; t < 8; ++t) {
      JobSpec spec;
      spec.id = absl::StrCat("tenant-", t);
      spec.pattern = CollectivePattern::kRing;
      spec.max_subflows = max_subflows;
      for (size_t k = 0; k < per_tenant; ++k) {
        spec.endpoints.push_back(Nic(*fabric, order[t * per_tenant + k]));
      }
      // The fragmentation bound around the tenants already placed (they never move): when it
      // exceeds 1, no placement of this tenant avoids an overloaded link.
      std::vector<double> background(fabric->num_directed_links());
      for (DirectedLinkId d = 0; d < fabric->num_directed_links(); ++d) {
        background[d] = placement.LoadBps(d);
      }
      auto demands = JobDemands(*fabric, spec);
      const LowerBound around =
          demands.ok()
              ? UnsplittableBoundAround(*fabric, placement.link_status(), *demands, background)
              : LowerBound{};
      const JobPlacement* job = MustPlace(placement, spec);
      std::printf(
          "  tenant-%d placed: max_link_load=%.3f lower_bound=%.3f exact_flows=%zu/%zu "
          "bound_around_placed=%.3f%s\n",
          t, job->max_link_load, job->lower_bound, job->exact_flows, job->flows.size(),
          around.max_utilisation,
          around.where.empty() ? "" : absl::StrCat(" (", around.where, ")").c_str());
    }
    double min_pulse = 1e9, sum_pulse = 0;
    double min_ecmp[4] = {1e9, 1e9, 1e9, 1e9}, sum_ecmp[4] = {0, 0, 0, 0};
    double ms = 0;
    for (int t = 0; t < 8; ++t) {
      for (int qi = 0; qi < 4; ++qi) {
        BandwidthOptions options;
        options.ecmp_qps = 1 << qi;
        const auto start = std::chrono::steady_clock::now();
        auto p = PredictJobBandwidth(placement, absl::StrCat("tenant-", t), options);
        ms += MsSince(start);
        if (!p.ok() || !p->computed) std::exit(1);
        if (qi == 0) {
          min_pulse = std::min(min_pulse, p->predicted_busbw_fraction);
          sum_pulse += p->predicted_busbw_fraction;
        }
        min_ecmp[qi] = std::min(min_ecmp[qi], p->ecmp_busbw_fraction);
        sum_ecmp[qi] += p->ecmp_busbw_fraction;
      }
    }
    std::string line = absl::StrFormat(
        "case=8-fragmented-tenants-ring-%zu-nics-%d-qp pulse_min=%.3f pulse_mean=%.3f", per_tenant,
        max_subflows, min_pulse, sum_pulse / 8);
    for (int qi = 0; qi < 4; ++qi) {
      absl::StrAppend(&line, absl::StrFormat(" ecmp_q%d_min=%.3f ecmp_q%d_mean=%.3f", 1 << qi,
                                             min_ecmp[qi], 1 << qi, sum_ecmp[qi] / 8));
    }
    absl::StrAppend(
        &line, absl::StrFormat(" max_link_load=%.3f sim_ms=%.0f", placement.MaxUtilisation(), ms));
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }
}

void ContractCases() {
  auto fabric = LeafSpine(32, 32, 32);
  const size_t n = fabric->nics().size();
  std::mt19937 rng(15);
  {
    Placement placement(fabric);
    std::vector<size_t> perm(n);
    for (size_t i = 0; i < n; ++i) perm[i] = i;
    std::shuffle(perm.begin(), perm.end(), rng);
    JobSpec spec;
    spec.id = "perm";
    spec.pattern = CollectivePattern::kExplicit;
    for (size_t i = 0; i < n; ++i) {
      if (perm[i] != i) spec.explicit_flows.push_back({Nic(*fabric, i), Nic(*fabric, perm[i]), 0});
    }
    MustPlace(placement, spec);
    PrintContract("1024-permutation", placement, "perm");
  }
  {
    Placement placement(fabric);
    JobSpec spec;
    spec.id = "hd-step";
    spec.pattern = CollectivePattern::kExplicit;
    for (size_t i = 0; i < n; ++i)
      spec.explicit_flows.push_back({Nic(*fabric, i), Nic(*fabric, i ^ 32), 0});
    MustPlace(placement, spec);
    PrintContract("1024-halving-doubling-step", placement, "hd-step");
  }
  {
    Placement placement(fabric);
    JobSpec spec;
    spec.id = "a2a";
    spec.pattern = CollectivePattern::kAllToAll;
    for (size_t i = 0; i < 128; ++i) spec.endpoints.push_back(Nic(*fabric, i));
    MustPlace(placement, spec);
    PrintContract("128-all-to-all-4-leaves", placement, "a2a");
  }
  // The same scattered layout (same seed) with 1 QP per connection, then with 2: with 1, the last
  // tenant that fills the fabric is bounded above 1 around the tenants placed before it (which
  // never move); splitting over 2 QPs is what ECMP's q=2 gets too.
  for (int qps : {1, 2, 4}) FragmentedTenants(fabric, 128, qps, rng);
  FragmentedTenants(fabric, 96, 1, rng);
  {
    // What PlaceJob adds on the controller thread for a 1,024-NIC ring (2,048 connections) with
    // the controller's default prediction options (4 QPs, 2 hash draws).
    Placement placement(fabric);
    JobSpec spec;
    spec.id = "ring";
    spec.pattern = CollectivePattern::kRing;
    for (size_t i = 0; i < n; ++i) spec.endpoints.push_back(Nic(*fabric, i));
    auto start = std::chrono::steady_clock::now();
    MustPlace(placement, spec);
    const double place_ms = MsSince(start);
    BandwidthOptions options;
    options.ecmp_qps = 4;
    options.ecmp_seeds = 2;
    start = std::chrono::steady_clock::now();
    auto p = PredictJobBandwidth(placement, "ring", options);
    const double predict_ms = MsSince(start);
    if (!p.ok() || !p->computed) std::exit(1);
    std::printf(
        "case=1024-ring-placejob pulse=%.3f ecmp_q4=%.3f place_ms=%.0f predict_ms=%.0f "
        "rate_solves=%zu\n",
        p->predicted_busbw_fraction, p->ecmp_busbw_fraction, place_ms, predict_ms, p->rate_solves);
  }
  {
    // The same for the job the prediction finds hardest: a 1,024-NIC random permutation (every
    // connection crosses the spines, ECMP collides).
    Placement placement(fabric);
    std::vector<size_t> perm(n);
    for (size_t i = 0; i < n; ++i) perm[i] = i;
    std::shuffle(perm.begin(), perm.end(), rng);
    JobSpec spec;
    spec.id = "perm";
    spec.pattern = CollectivePattern::kExplicit;
    for (size_t i = 0; i < n; ++i) {
      if (perm[i] != i) spec.explicit_flows.push_back({Nic(*fabric, i), Nic(*fabric, perm[i]), 0});
    }
    MustPlace(placement, spec);
    BandwidthOptions options;
    options.ecmp_qps = 4;
    options.ecmp_seeds = 2;
    const double cpu_before = CpuMs();
    auto p = PredictJobBandwidth(placement, "perm", options);
    const double predict_cpu_ms = CpuMs() - cpu_before;
    if (!p.ok() || !p->computed) std::exit(1);
    std::printf(
        "case=1024-permutation-placejob pulse=%.3f ecmp_q4=%.3f predict_cpu_ms=%.0f "
        "rate_solves=%zu\n",
        p->predicted_busbw_fraction, p->ecmp_busbw_fraction, predict_cpu_ms, p->rate_solves);
  }
}

// Layers of random permutations with random weights summing to one: every NIC sends and receives
// line rate, flows of unequal rates.
JobSpec UnequalRateJob(const Fabric& fabric, int layers, double load, std::mt19937& rng) {
  const size_t n = fabric.nics().size();
  std::uniform_real_distribution<double> uniform(0.2, 1.0);
  std::vector<double> weights;
  double total = 0;
  for (int k = 0; k < layers; ++k) total += weights.emplace_back(uniform(rng));
  JobSpec spec;
  spec.id = "unequal";
  spec.pattern = CollectivePattern::kExplicit;
  for (int k = 0; k < layers; ++k) {
    std::vector<size_t> perm(n);
    for (size_t i = 0; i < n; ++i) perm[i] = i;
    std::shuffle(perm.begin(), perm.end(), rng);
    for (size_t i = 0; i < n; ++i) {
      if (perm[i] == i) continue;
      spec.explicit_flows.push_back(
          {Nic(fabric, i), Nic(fabric, perm[i]), load * 100e9 * weights[k] / total});
    }
  }
  return spec;
}

void QualityCases() {
  std::mt19937 rng(1515);
  struct Shape {
    const char* name;
    int spines;
    double oversub;
    double load;  // what every NIC sends and receives, as a fraction of line rate
  };
  for (const Shape& shape : {Shape{"8x8x8-1:1", 8, 1.0, 1.0}, Shape{"8x4x8-2:1", 4, 2.0, 0.5}}) {
    auto fabric = LeafSpine(8, shape.spines, 8, shape.oversub);
    for (int seed = 0; seed < 5; ++seed) {
      JobSpec spec = UnequalRateJob(*fabric, 2, shape.load, rng);
      Placement placement(fabric);
      const auto start = std::chrono::steady_clock::now();
      const JobPlacement* job = MustPlace(placement, spec);
      const double place_ms = MsSince(start);
      auto demands = JobDemands(*fabric, spec);
      LinkStatus status(*fabric);
      std::vector<std::vector<Path>> paths;
      for (const FlowDemand& d : *demands)
        paths.push_back(*UpDownPaths(*fabric, status, d.src, d.dst));
      ExactPlacementOptions options;
      options.time_limit_ms = 20000;
      const auto mip_start = std::chrono::steady_clock::now();
      auto exact = SolveExactPlacement(
          *fabric, *demands, paths, std::vector<double>(fabric->num_directed_links(), 0), options);
      const double mip_ms = MsSince(mip_start);
      std::printf(
          "case=unsplittable-%s seed=%d flows=%zu pulse_max_load=%.3f%s exact=%.3f%s ratio=%.3f "
          "lower_bound=%.3f place_ms=%.1f mip_ms=%.0f\n",
          shape.name, seed, demands->size(), job->max_link_load,
          job->max_link_load <= job->lower_bound + 1e-9 ? "(at bound: optimal)" : "",
          exact.ok() ? exact->max_utilisation : -1.0,
          exact.ok() && exact->proven_optimal ? "" : "(not proven)",
          exact.ok() ? job->max_link_load / exact->max_utilisation : -1.0, job->lower_bound,
          place_ms, mip_ms);
      std::fflush(stdout);
    }
  }
}

// Runs `body` in a child process so its peak RSS is its own.
template <typename Body>
void InChild(Body body) {
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    body();
    std::fflush(stdout);
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
}

void ScaleCase(const char* name, bool halving_doubling) {
  InChild([&] {
    auto fabric = Must(topology::FatTree(74));
    JobSpec spec;
    spec.id = name;
    spec.pattern =
        halving_doubling ? CollectivePattern::kHalvingDoubling : CollectivePattern::kRing;
    const size_t count = halving_doubling ? 65536 : fabric->nics().size();
    for (size_t i = 0; i < count; ++i) spec.endpoints.push_back(Nic(*fabric, i));
    Placement placement(fabric);
    const double cpu_before = CpuMs();
    const auto start = std::chrono::steady_clock::now();
    const JobPlacement* job = MustPlace(placement, spec);
    const double ms = MsSince(start);
    const double cpu_ms = CpuMs() - cpu_before;
    std::printf(
        "case=%s endpoints=%zu flows=%zu place_ms=%.0f place_cpu_ms=%.0f max_load=%.3f "
        "peak_rss_mb=%.0f\n",
        name, count, job->flows.size(), ms, cpu_ms, job->max_link_load, PeakRssMb());
  });
}

}  // namespace
}  // namespace pulse::controller

int main(int argc, char** argv) {
  if (auto exit_code = pulse::bench::CheckArgs(
          argc, argv, {"--quick", "--contract", "--scale"}, 0,
          "[--quick | --contract | --scale]   (default: scale, quality and contract cases)")) {
    return *exit_code;
  }
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const bool contract_only = argc > 1 && std::strcmp(argv[1], "--contract") == 0;
  if (argc > 1 && std::strcmp(argv[1], "--scale") == 0) {
    pulse::controller::ScaleCase("fat-tree-k74-ring", false);
    pulse::controller::ScaleCase("fat-tree-k74-hd-65536", true);
    return 0;
  }
  if (contract_only) {
    pulse::controller::ContractCases();
    return 0;
  }
  if (!quick) {
    pulse::controller::ScaleCase("fat-tree-k74-ring", false);
    pulse::controller::ScaleCase("fat-tree-k74-hd-65536", true);
  }
  pulse::controller::QualityCases();
  pulse::controller::ContractCases();
  return 0;
}
