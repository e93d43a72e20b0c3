// The small fabric the QoS plan tests share (controller/qos/qos_plan and its SONiC export,
// southbound/sonic/qos_export): two leaves under two spines, two NICs per leaf.
#ifndef PULSE_TESTS_CONTROLLER_QOS_QOS_TEST_FABRIC_H_
#define PULSE_TESTS_CONTROLLER_QOS_QOS_TEST_FABRIC_H_

#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "topology/fabric.h"

namespace pulse::controller::testing {

inline constexpr int64_t kQosTestGbps = 1000000000LL;

// leaf-0 and leaf-1 under spine-0 and spine-1, two NICs per leaf. NIC links at speed_bps with no
// cable length (role default 5 m), leaf-spine links at speed_bps: leaf-0 <-> spine-0 has
// explicit_cable_m, the others none. Switch ports are numbered in link order: on each leaf its
// two NICs are ports 1 and 2, spine-0 and spine-1 ports 3 and 4.
inline topology::Fabric QosTestFabric(int64_t speed_bps = 400 * kQosTestGbps,
                                      double explicit_cable_m = 40) {
  topology::FabricBuilder b;
  topology::NodeId leaf0 = b.AddSwitch("leaf-0", topology::SwitchRole::kLeaf);
  topology::NodeId leaf1 = b.AddSwitch("leaf-1", topology::SwitchRole::kLeaf);
  topology::NodeId spine0 = b.AddSwitch("spine-0", topology::SwitchRole::kSpine);
  topology::NodeId spine1 = b.AddSwitch("spine-1", topology::SwitchRole::kSpine);
  for (int s = 0; s < 4; ++s) {
    topology::ServerId server = b.AddServer("server-" + std::to_string(s));
    topology::NodeId nic = b.AddNic(server, 0);
    b.AddLink(nic, s < 2 ? leaf0 : leaf1, speed_bps);
  }
  b.AddLink(leaf0, spine0, speed_bps, explicit_cable_m);
  b.AddLink(leaf0, spine1, speed_bps);
  b.AddLink(leaf1, spine0, speed_bps);
  b.AddLink(leaf1, spine1, speed_bps);
  absl::StatusOr<topology::Fabric> f = std::move(b).Build();
  EXPECT_TRUE(f.ok()) << f.status();
  return *std::move(f);
}

}  // namespace pulse::controller::testing

#endif  // PULSE_TESTS_CONTROLLER_QOS_QOS_TEST_FABRIC_H_
