// Paths benchmark: path sets, placement-style greedy choice, failure updates, ECMP groups and the
// ECMP baseline on a large leaf-spine (default 512 leaves x 64 spines x 64 servers per leaf,
// 32,768 NICs). Prints figures; asserts nothing.
//
//   pulse_paths_bench [leaves spines servers_per_leaf]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <numeric>
#include <random>
#include <vector>

#include "bench/bench_args.h"
#include "controller/paths/ecmp_groups.h"
#include "controller/paths/ecmp_hash.h"
#include "controller/paths/path_cache.h"
#include "controller/paths/paths.h"
#include "controller/paths/steering.h"
#include "tests/controller/path_test_fabrics.h"

namespace pc = pulse::controller;
using pulse::topology::DirectedLinkId;
using pulse::topology::Fabric;
using pulse::topology::LinkId;
using pulse::topology::NodeId;

namespace {

// Process CPU time: the machine is shared, so wall time overstates our cost under load.
struct Timer {
  std::chrono::steady_clock::time_point wall = std::chrono::steady_clock::now();
  std::clock_t cpu = std::clock();
};
double MsSince(const Timer& t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t.wall)
      .count();
}
double CpuMsSince(const Timer& t) {
  return 1000.0 * static_cast<double>(std::clock() - t.cpu) / CLOCKS_PER_SEC;
}

struct Placed {
  NodeId src, dst;
  double rate_bps;
  pc::Path path;
};

// Greedy least-loaded path (the smallest resulting max utilisation over its channels).
const pc::Path& PickLeastLoaded(const Fabric& f, const std::vector<pc::Path>& paths,
                                const std::vector<double>& load_bps, double rate_bps) {
  size_t best = 0;
  double best_util = 1e300;
  for (size_t i = 0; i < paths.size(); ++i) {
    double util = 0;
    for (DirectedLinkId d : paths[i].hops) {
      util = std::max(util, (load_bps[d] + rate_bps) /
                                static_cast<double>(f.link(Fabric::LinkOf(d)).capacity_bps));
    }
    if (util < best_util) {
      best_util = util;
      best = i;
    }
  }
  return paths[best];
}

double MaxUtil(const Fabric& f, const std::vector<double>& load_bps) {
  double m = 0;
  for (DirectedLinkId d = 0; d < f.num_directed_links(); ++d) {
    m = std::max(m, load_bps[d] / static_cast<double>(f.link(Fabric::LinkOf(d)).capacity_bps));
  }
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  if (auto exit_code = pulse::bench::CheckArgs(
          argc, argv, {}, 3, "[LEAVES SPINES SERVERS_PER_LEAF]   (default 512 64 64)")) {
    return *exit_code;
  }
  int leaves = 512, spines = 64, servers = 64;
  if (argc == 4) {
    leaves = std::atoi(argv[1]);
    spines = std::atoi(argv[2]);
    servers = std::atoi(argv[3]);
  }
  Timer start;
  auto built = pc::testing::BuildLeafSpine(leaves, spines, servers);
  if (!built.ok()) {
    std::fprintf(stderr, "fabric: %s\n", std::string(built.status().message()).c_str());
    return 1;
  }
  auto fabric = std::make_shared<const Fabric>(*std::move(built));
  const Fabric& f = *fabric;
  std::printf(
      "fabric: %d leaves x %d spines x %d servers/leaf: %zu NICs, %zu links, built in %.1f ms\n",
      leaves, spines, servers, f.nics().size(), f.links().size(), MsSince(start));

  // A random permutation: every NIC sends to one NIC on another leaf, at line rate / 2.
  std::mt19937_64 rng(7);
  std::vector<NodeId> dsts = f.nics();
  std::shuffle(dsts.begin(), dsts.end(), rng);
  std::vector<pc::FlowDemand> flows;
  for (size_t i = 0; i < f.nics().size(); ++i) {
    if (f.nics()[i] != dsts[i]) flows.push_back({f.nics()[i], dsts[i], 50e9, 0});
  }

  // 1. UpDownPaths alone, no cache.
  pc::LinkStatus status(f);
  start = Timer();
  size_t total_paths = 0;
  for (const auto& fl : flows) total_paths += pc::UpDownPaths(f, status, fl.src, fl.dst)->size();
  std::printf("UpDownPaths, %zu flows, no cache: %.1f ms wall, %.1f ms cpu (%zu paths)\n",
              flows.size(), MsSince(start), CpuMsSince(start), total_paths);

  // 2. Placement-style: cached path sets + greedy least-loaded choice.
  pc::PathCache cache(fabric);
  start = Timer();
  for (const auto& fl : flows) {
    const NodeId src_leaf = f.Peer(f.LinksOf(fl.src)[0], fl.src);
    const NodeId dst_leaf = f.Peer(f.LinksOf(fl.dst)[0], fl.dst);
    (void)cache.LeafPaths(src_leaf, dst_leaf);
  }
  std::printf(
      "cache warm-up for the permutation's leaf pairs: %.1f ms wall, %.1f ms cpu (%zu "
      "entries)\n",
      MsSince(start), CpuMsSince(start), cache.size());
  std::vector<double> load(f.num_directed_links(), 0);
  std::vector<Placed> placed;
  placed.reserve(flows.size());
  start = Timer();
  for (const auto& fl : flows) {
    auto paths = cache.Paths(fl.src, fl.dst);
    const pc::Path& p = PickLeastLoaded(f, *paths, load, fl.rate_bps);
    for (DirectedLinkId d : p.hops) load[d] += fl.rate_bps;
    placed.push_back({fl.src, fl.dst, fl.rate_bps, p});
  }
  std::printf(
      "place permutation on the warm cache (paths + greedy least-loaded): %.1f ms wall, "
      "%.1f ms cpu, max utilisation %.3f  [target < 1000 ms incl. warm-up]\n",
      MsSince(start), CpuMsSince(start), MaxUtil(f, load));

  // 3. One spine link fails: update the cache, move the flows that crossed it.
  const LinkId failed =
      pc::testing::LinkBetween(f, f.FindNode("leaf-0").value(), f.FindNode("spine-0").value());
  start = Timer();
  pc::PathCacheUpdate update = cache.SetLinkUp(failed, false);
  const double cache_ms = CpuMsSince(start);
  size_t moved = 0;
  for (Placed& p : placed) {
    bool crosses = false;
    for (DirectedLinkId d : p.path.hops) crosses |= Fabric::LinkOf(d) == failed;
    if (!crosses) continue;
    for (DirectedLinkId d : p.path.hops) load[d] -= p.rate_bps;
    auto paths = cache.Paths(p.src, p.dst);
    p.path = PickLeastLoaded(f, *paths, load, p.rate_bps);
    for (DirectedLinkId d : p.path.hops) load[d] += p.rate_bps;
    ++moved;
  }
  const double reroute_ms = CpuMsSince(start);
  std::printf(
      "spine link failure: cache update %.2f ms cpu (%zu entries checked, %zu recomputed of "
      "%zu); reroute incl. update %.2f ms cpu, %zu flows moved, max utilisation %.3f  "
      "[target < 100 ms]\n",
      cache_ms, update.entries_checked, update.entries_recomputed, cache.size(), reroute_ms, moved,
      MaxUtil(f, load));
  start = Timer();
  update = cache.SetLinkUp(failed, true);
  std::printf("spine link recovery: cache update %.2f ms cpu (%zu recomputed)\n", CpuMsSince(start),
              update.entries_recomputed);

  // 4. ECMP groups for every destination leaf, a failure update, and the ECMP baseline.
  pc::EcmpGroups groups(fabric);
  start = Timer();
  size_t n_groups = 0, n_members = 0;
  for (NodeId sw : f.switches()) {
    if (f.node(sw).level != 1) continue;
    for (const auto& g : groups.GroupsToward(sw)) {
      ++n_groups;
      n_members += g.members.size();
    }
  }
  std::printf("ECMP groups, all %zu destinations: %.1f ms cpu (%zu groups, %zu buckets)\n",
              groups.destinations(), CpuMsSince(start), n_groups, n_members);
  start = Timer();
  pc::EcmpGroupsUpdate gu = groups.SetLinkUp(failed, false);
  std::printf(
      "ECMP groups, spine link failure: %.1f ms cpu (%zu destinations touched, %zu groups "
      "rebuilt, %zu changed)\n",
      CpuMsSince(start), gu.destinations_recomputed, gu.groups_recomputed, gu.changed.size());
  start = Timer();
  gu = groups.SetLinkUp(failed, true);
  std::printf(
      "ECMP groups, spine link recovery: %.1f ms cpu (%zu destinations recomputed, "
      "%zu groups)\n",
      CpuMsSince(start), gu.destinations_recomputed, gu.groups_recomputed);
  pc::HashModels models;
  start = Timer();
  auto baseline = pc::EcmpBaseline(groups, models, flows, 1);
  std::printf(
      "ECMP baseline (crc32, random UDP source ports): %.1f ms cpu, max utilisation %.3f, "
      "%zu unrouted (placed greedy: %.3f)\n",
      CpuMsSince(start), baseline->max_utilisation, baseline->unrouted_flows, MaxUtil(f, load));

  // 5. Steering: a source port for each of the first 2,000 placed paths.
  for (NodeId sw : f.switches()) {
    models.per_switch[sw] = {pc::HashAlgorithm::kCrc32, static_cast<uint32_t>(sw) * 2654435761u,
                             pc::kHashAllFields};
  }
  const size_t n_steer = std::min<size_t>(2000, placed.size());
  size_t found = 0;
  start = Timer();
  for (size_t i = 0; i < n_steer; ++i)
    found += pc::FindSteeringPort(groups, models, placed[i].path).ok();
  std::printf("steering: %zu of %zu paths got a UDP source port, %.1f us cpu/path\n", found,
              n_steer, CpuMsSince(start) * 1000 / n_steer);
  return 0;
}
