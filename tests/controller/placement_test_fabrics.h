// Fabrics for the placement tests and benchmark, built with topology::FabricBuilder directly
// (names follow topology/builders.h: leaf-N, spine-N, core-N, rail-G-R, server-N, nic-R, gpu-R).
#ifndef PULSE_TESTS_CONTROLLER_PLACEMENT_TEST_FABRICS_H_
#define PULSE_TESTS_CONTROLLER_PLACEMENT_TEST_FABRICS_H_

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "topology/fabric.h"

namespace pulse::controller::placement_testing {

inline constexpr int64_t kGbps = 1'000'000'000;

// Two tiers: `hosts_per_leaf` single-NIC servers per leaf, `parallel` links from every leaf to
// every spine.
inline absl::StatusOr<topology::Fabric> LeafSpineFabric(int leaves, int spines, int hosts_per_leaf,
                                                        int parallel = 1,
                                                        int64_t host_bps = 100 * kGbps,
                                                        int64_t fabric_bps = 100 * kGbps) {
  topology::FabricBuilder b;
  std::vector<topology::NodeId> leaf, spine;
  for (int i = 0; i < leaves; ++i) {
    leaf.push_back(b.AddSwitch(absl::StrCat("leaf-", i), topology::SwitchRole::kLeaf));
  }
  for (int i = 0; i < spines; ++i) {
    spine.push_back(b.AddSwitch(absl::StrCat("spine-", i), topology::SwitchRole::kSpine));
  }
  for (int l = 0; l < leaves; ++l) {
    for (int h = 0; h < hosts_per_leaf; ++h) {
      topology::ServerId s = b.AddServer(absl::StrCat("server-", l * hosts_per_leaf + h));
      topology::NodeId nic = b.AddNic(s, 0);
      b.AddGpu(s, nic);
      b.AddLink(nic, leaf[l], host_bps);
    }
    for (int s = 0; s < spines; ++s) {
      for (int p = 0; p < parallel; ++p) b.AddLink(leaf[l], spine[s], fabric_bps);
    }
  }
  return std::move(b).Build();
}

// k-ary fat-tree: pods of k/2 edge (leaf) and k/2 aggregation (spine) switches; core
// j*(k/2)+i connects to aggregation j of every pod; k/2 single-NIC servers per edge switch.
inline absl::StatusOr<topology::Fabric> FatTreeFabric(int k, int64_t speed_bps = 100 * kGbps) {
  const int half = k / 2;
  topology::FabricBuilder b;
  std::vector<topology::NodeId> edge, agg, core;
  for (int p = 0; p < k; ++p) {
    for (int i = 0; i < half; ++i) {
      edge.push_back(
          b.AddSwitch(absl::StrCat("leaf-", p * half + i), topology::SwitchRole::kLeaf, p));
    }
    for (int i = 0; i < half; ++i) {
      agg.push_back(
          b.AddSwitch(absl::StrCat("spine-", p * half + i), topology::SwitchRole::kSpine, p));
    }
  }
  for (int c = 0; c < half * half; ++c) {
    core.push_back(b.AddSwitch(absl::StrCat("core-", c), topology::SwitchRole::kSuperSpine));
  }
  int server = 0;
  for (int p = 0; p < k; ++p) {
    for (int i = 0; i < half; ++i) {
      for (int h = 0; h < half; ++h) {
        topology::ServerId s = b.AddServer(absl::StrCat("server-", server++), p);
        topology::NodeId nic = b.AddNic(s, 0);
        b.AddGpu(s, nic);
        b.AddLink(nic, edge[p * half + i], speed_bps);
      }
      for (int j = 0; j < half; ++j) b.AddLink(edge[p * half + i], agg[p * half + j], speed_bps);
    }
    for (int j = 0; j < half; ++j) {
      for (int i = 0; i < half; ++i) b.AddLink(agg[p * half + j], core[j * half + i], speed_bps);
    }
  }
  return std::move(b).Build();
}

// Rail-optimized: `groups` of `servers_per_group` servers with `rails` NICs and GPUs each; in
// group g, rail switch rail-g-r connects NIC r of every server; every rail switch connects to
// every spine once.
inline absl::StatusOr<topology::Fabric> RailFabric(int groups, int servers_per_group, int rails,
                                                   int spines, int64_t speed_bps = 100 * kGbps) {
  topology::FabricBuilder b;
  std::vector<topology::NodeId> rail_sw, spine;
  for (int g = 0; g < groups; ++g) {
    for (int r = 0; r < rails; ++r) {
      rail_sw.push_back(
          b.AddSwitch(absl::StrCat("rail-", g, "-", r), topology::SwitchRole::kLeaf, -1, r));
    }
  }
  for (int s = 0; s < spines; ++s) {
    spine.push_back(b.AddSwitch(absl::StrCat("spine-", s), topology::SwitchRole::kSpine));
  }
  int server = 0;
  for (int g = 0; g < groups; ++g) {
    for (int i = 0; i < servers_per_group; ++i) {
      topology::ServerId s = b.AddServer(absl::StrCat("server-", server++));
      for (int r = 0; r < rails; ++r) {
        topology::NodeId nic = b.AddNic(s, r);
        b.AddGpu(s, nic);
        b.AddLink(nic, rail_sw[g * rails + r], speed_bps);
      }
    }
  }
  for (topology::NodeId r : rail_sw) {
    for (topology::NodeId s : spine) b.AddLink(r, s, speed_bps);
  }
  return std::move(b).Build();
}

}  // namespace pulse::controller::placement_testing

#endif  // PULSE_TESTS_CONTROLLER_PLACEMENT_TEST_FABRICS_H_
