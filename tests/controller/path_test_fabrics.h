// Small hand-built fabrics for the path, ECMP and steering tests and the paths benchmark. Built
// with topology::FabricBuilder directly so these tests do not depend on topology/builders.
#ifndef PULSE_TESTS_CONTROLLER_PATH_TEST_FABRICS_H_
#define PULSE_TESTS_CONTROLLER_PATH_TEST_FABRICS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "topology/fabric.h"

namespace pulse::controller::testing {

inline constexpr int64_t kTestGbps = 1'000'000'000;

// Two-tier leaf-spine: every leaf has `uplinks_per_spine` parallel links to every spine; each
// server has `nics_per_server` NICs, all on its leaf. Ids: leaves first, then spines, then
// servers' NICs in server order.
inline absl::StatusOr<topology::Fabric> BuildLeafSpine(int leaves, int spines, int servers_per_leaf,
                                                       int uplinks_per_spine = 1,
                                                       int nics_per_server = 1,
                                                       int64_t speed_bps = 100 * kTestGbps) {
  topology::FabricBuilder b;
  std::vector<topology::NodeId> leaf_ids, spine_ids;
  for (int i = 0; i < leaves; ++i) {
    leaf_ids.push_back(b.AddSwitch(absl::StrCat("leaf-", i), topology::SwitchRole::kLeaf));
  }
  for (int i = 0; i < spines; ++i) {
    spine_ids.push_back(b.AddSwitch(absl::StrCat("spine-", i), topology::SwitchRole::kSpine));
  }
  for (int l = 0; l < leaves; ++l) {
    for (int s = 0; s < servers_per_leaf; ++s) {
      topology::ServerId server = b.AddServer(absl::StrCat("server-", l * servers_per_leaf + s));
      for (int r = 0; r < nics_per_server; ++r) {
        topology::NodeId nic = b.AddNic(server, r);
        b.AddLink(nic, leaf_ids[l], speed_bps);
      }
    }
  }
  for (int l = 0; l < leaves; ++l) {
    for (int s = 0; s < spines; ++s) {
      for (int p = 0; p < uplinks_per_spine; ++p) b.AddLink(leaf_ids[l], spine_ids[s], speed_bps);
    }
  }
  return std::move(b).Build();
}

// Three-tier k-ary fat-tree (k even): pods of k/2 edge (leaf) and k/2 aggregation (spine)
// switches, (k/2)^2 cores; core j*(k/2)+i connects to aggregation j of every pod; k/2 servers
// per edge switch, one NIC each.
inline absl::StatusOr<topology::Fabric> BuildFatTree(int k, int64_t speed_bps = 100 * kTestGbps) {
  const int half = k / 2;
  topology::FabricBuilder b;
  std::vector<topology::NodeId> edges, aggs, cores;
  for (int p = 0; p < k; ++p) {
    for (int i = 0; i < half; ++i) {
      edges.push_back(
          b.AddSwitch(absl::StrCat("leaf-", p * half + i), topology::SwitchRole::kLeaf, p));
    }
  }
  for (int p = 0; p < k; ++p) {
    for (int j = 0; j < half; ++j) {
      aggs.push_back(
          b.AddSwitch(absl::StrCat("spine-", p * half + j), topology::SwitchRole::kSpine, p));
    }
  }
  for (int c = 0; c < half * half; ++c) {
    cores.push_back(b.AddSwitch(absl::StrCat("core-", c), topology::SwitchRole::kSuperSpine));
  }
  int server_index = 0;
  for (int p = 0; p < k; ++p) {
    for (int i = 0; i < half; ++i) {
      for (int s = 0; s < half; ++s) {
        topology::ServerId server = b.AddServer(absl::StrCat("server-", server_index++), p);
        topology::NodeId nic = b.AddNic(server, 0);
        b.AddLink(nic, edges[p * half + i], speed_bps);
      }
    }
  }
  for (int p = 0; p < k; ++p) {
    for (int i = 0; i < half; ++i) {
      for (int j = 0; j < half; ++j) b.AddLink(edges[p * half + i], aggs[p * half + j], speed_bps);
    }
  }
  for (int j = 0; j < half; ++j) {
    for (int i = 0; i < half; ++i) {
      for (int p = 0; p < k; ++p) b.AddLink(aggs[p * half + j], cores[j * half + i], speed_bps);
    }
  }
  return std::move(b).Build();
}

// Two independent leaf-spine planes: every NIC has port 1 on "p0-leaf-i" and port 2 on
// "p1-leaf-i"; switches carry their plane number.
inline absl::StatusOr<topology::Fabric> BuildTwoPlaneLeafSpine(
    int leaves, int spines, int servers_per_leaf, int64_t speed_bps = 100 * kTestGbps) {
  topology::FabricBuilder b;
  std::vector<std::vector<topology::NodeId>> leaf_ids(2), spine_ids(2);
  for (int plane = 0; plane < 2; ++plane) {
    for (int i = 0; i < leaves; ++i) {
      leaf_ids[plane].push_back(b.AddSwitch(absl::StrCat("p", plane, "-leaf-", i),
                                            topology::SwitchRole::kLeaf, -1, -1, plane));
    }
    for (int i = 0; i < spines; ++i) {
      spine_ids[plane].push_back(b.AddSwitch(absl::StrCat("p", plane, "-spine-", i),
                                             topology::SwitchRole::kSpine, -1, -1, plane));
    }
  }
  for (int l = 0; l < leaves; ++l) {
    for (int s = 0; s < servers_per_leaf; ++s) {
      topology::ServerId server = b.AddServer(absl::StrCat("server-", l * servers_per_leaf + s));
      topology::NodeId nic = b.AddNic(server, 0);
      for (int plane = 0; plane < 2; ++plane) b.AddLink(nic, leaf_ids[plane][l], speed_bps);
    }
  }
  for (int plane = 0; plane < 2; ++plane) {
    for (int l = 0; l < leaves; ++l) {
      for (int s = 0; s < spines; ++s)
        b.AddLink(leaf_ids[plane][l], spine_ids[plane][s], speed_bps);
    }
  }
  return std::move(b).Build();
}

// The link between two nodes (the first one if parallel), or kNoLink.
inline topology::LinkId LinkBetween(const topology::Fabric& fabric, topology::NodeId a,
                                    topology::NodeId b) {
  for (topology::LinkId l : fabric.LinksOf(a)) {
    if (fabric.Peer(l, a) == b) return l;
  }
  return topology::kNoLink;
}

// All links between two nodes.
inline std::vector<topology::LinkId> LinksBetween(const topology::Fabric& fabric,
                                                  topology::NodeId a, topology::NodeId b) {
  std::vector<topology::LinkId> out;
  for (topology::LinkId l : fabric.LinksOf(a)) {
    if (fabric.Peer(l, a) == b) out.push_back(l);
  }
  return out;
}

}  // namespace pulse::controller::testing

#endif  // PULSE_TESTS_CONTROLLER_PATH_TEST_FABRICS_H_
