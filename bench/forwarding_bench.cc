// Forwarding table size and compute time under two address plans, in one run:
//   per-leaf (each leaf owns a /24-sized block: other switches forward by the leaf's prefix)
//   mininet  (every NIC in one /8: one exact rule per NIC on every switch, the old tables)
// on the 64x64 and 512x64 leaf-spines (64 servers per leaf, one NIC each), no jobs placed.
//
//   build/bench/pulse_forwarding_bench [--skip-512-mininet]
//
// Prints rules per switch (max over switches, and spine/leaf), rules in total, and the time of
// one ComputeForwarding with warm ECMP groups (median of a few runs), per-leaf against mininet.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_args.h"
#include "controller/fabric_sync/forwarding.h"
#include "controller/paths/ecmp_groups.h"
#include "controller/placement/placement.h"
#include "topology/builders.h"

namespace {

using pulse::controller::ComputeForwarding;
using pulse::controller::EcmpGroups;
using pulse::controller::Placement;
using pulse::topology::AddressPlan;
using pulse::topology::AddressPlanKind;
using pulse::topology::Fabric;

struct Figures {
  size_t max_rules = 0, spine_rules = 0, leaf_rules = 0, total_rules = 0;
  double compute_ms = 0;
};

Figures Measure(int leaves, int spines, int servers, AddressPlanKind kind, int runs) {
  pulse::topology::LeafSpineParams p;
  p.leaves = leaves;
  p.spines = spines;
  p.servers_per_leaf = servers;
  p.address_plan.kind = kind;
  if (kind == AddressPlanKind::kPerLeaf) {
    p.address_plan.base = pulse::topology::Ipv4Prefix{0x0A000000, 8};
    p.address_plan.block_length = 24;
  }
  auto fabric = std::make_shared<const Fabric>(*pulse::topology::LeafSpine(p));
  Placement placement(fabric);
  EcmpGroups groups(fabric);
  (void)ComputeForwarding(*fabric, placement, groups);  // warm the group tables
  Figures f;
  std::vector<double> times;
  for (int r = 0; r < runs; ++r) {
    auto start = std::chrono::steady_clock::now();
    auto tables = ComputeForwarding(*fabric, placement, groups);
    times.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
    if (r == 0) {
      for (size_t i = 0; i < tables.size(); ++i) {
        const size_t n = tables[i].rules.size();
        f.max_rules = std::max(f.max_rules, n);
        f.total_rules += n;
        const auto role = fabric->node(fabric->switches()[i]).role;
        (role == pulse::topology::SwitchRole::kSpine ? f.spine_rules : f.leaf_rules) = n;
      }
    }
  }
  std::sort(times.begin(), times.end());
  f.compute_ms = times[times.size() / 2];
  return f;
}

void Report(const char* name, int leaves, int spines, int servers, int runs, bool skip_mininet) {
  Figures per_leaf = Measure(leaves, spines, servers, AddressPlanKind::kPerLeaf, runs);
  std::printf(
      "%-14s per-leaf: rules/switch max %6zu (spine %zu, leaf %zu), total %10zu, "
      "compute %8.1f ms\n",
      name, per_leaf.max_rules, per_leaf.spine_rules, per_leaf.leaf_rules, per_leaf.total_rules,
      per_leaf.compute_ms);
  std::printf("%-14s   bound: leaves x prefixes + local NICs + 0 = %d\n", "",
              (leaves - 1) + servers);
  if (skip_mininet) return;
  Figures mininet = Measure(leaves, spines, servers, AddressPlanKind::kMininet, runs);
  std::printf(
      "%-14s mininet:  rules/switch max %6zu (spine %zu, leaf %zu), total %10zu, "
      "compute %8.1f ms\n",
      name, mininet.max_rules, mininet.spine_rules, mininet.leaf_rules, mininet.total_rules,
      mininet.compute_ms);
  std::printf("%-14s ratio mininet/per-leaf: rules per switch %.1fx, total %.1fx, time %.1fx\n", "",
              static_cast<double>(mininet.max_rules) / per_leaf.max_rules,
              static_cast<double>(mininet.total_rules) / per_leaf.total_rules,
              mininet.compute_ms / per_leaf.compute_ms);
}

}  // namespace

int main(int argc, char** argv) {
  if (auto exit_code =
          pulse::bench::CheckArgs(argc, argv, {"--skip-512-mininet"}, 0, "[--skip-512-mininet]")) {
    return *exit_code;
  }
  bool skip_512_mininet = argc > 1 && std::strcmp(argv[1], "--skip-512-mininet") == 0;
  std::printf("forwarding tables, no jobs placed (pins add per placed flow hop)\n");
  Report("64x64x64", 64, 64, 64, 5, false);
  Report("512x64x64", 512, 64, 64, 3, skip_512_mininet);
  return 0;
}
