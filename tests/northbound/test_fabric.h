// Small fabrics and a test server for the northbound tests.
#ifndef PULSE_TESTS_NORTHBOUND_TEST_FABRIC_H_
#define PULSE_TESTS_NORTHBOUND_TEST_FABRIC_H_

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "topology/fabric.h"

namespace pulse::testing {

// `leaves` leaves x `spines` spines, `servers_per_leaf` servers per leaf with one 100G NIC and
// one GPU each ("server-N/nic-0", "server-N/gpu-0"). Every link is 100G.
inline std::shared_ptr<const topology::Fabric> SmallLeafSpine(int leaves = 2, int spines = 2,
                                                              int servers_per_leaf = 2) {
  constexpr int64_t k100G = 100'000'000'000;
  topology::FabricBuilder b;
  std::vector<topology::NodeId> leaf_ids, spine_ids;
  for (int s = 0; s < spines; ++s) {
    spine_ids.push_back(b.AddSwitch(absl::StrCat("spine-", s), topology::SwitchRole::kSpine));
  }
  for (int l = 0; l < leaves; ++l) {
    leaf_ids.push_back(b.AddSwitch(absl::StrCat("leaf-", l), topology::SwitchRole::kLeaf));
  }
  for (int l = 0; l < leaves; ++l) {
    for (int i = 0; i < servers_per_leaf; ++i) {
      topology::ServerId server = b.AddServer(absl::StrCat("server-", l * servers_per_leaf + i));
      topology::NodeId nic = b.AddNic(server, 0);
      b.AddGpu(server, nic);
      b.AddLink(nic, leaf_ids[l], k100G);
    }
  }
  for (int l = 0; l < leaves; ++l) {
    for (int s = 0; s < spines; ++s) b.AddLink(leaf_ids[l], spine_ids[s], k100G);
  }
  auto fabric = std::move(b).Build();
  EXPECT_TRUE(fabric.ok()) << fabric.status();
  return std::make_shared<const topology::Fabric>(*std::move(fabric));
}

}  // namespace pulse::testing

#endif  // PULSE_TESTS_NORTHBOUND_TEST_FABRIC_H_
