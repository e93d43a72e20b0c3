#include "controller/qos/qos_plan.h"

#include <string>

#include "gtest/gtest.h"
#include "tests/controller/qos/qos_test_fabric.h"
#include "topology/builders.h"

namespace pulse::controller {
namespace {

using testing::QosTestFabric;
using topology::Fabric;
using topology::SwitchRole;

constexpr int64_t kG = testing::kQosTestGbps;

TEST(QosPlanTest, PlansEveryLinkedPortWithHeadroomAndDefaults) {
  Fabric fabric = QosTestFabric();
  absl::StatusOr<QosPlan> plan = PlanQos(fabric, DefaultQosPolicy());
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->switches.size(), 4u);
  const SwitchQosPlan* leaf0 = plan->FindSwitch("leaf-0");
  ASSERT_NE(leaf0, nullptr);
  ASSERT_EQ(leaf0->ports.size(), 4u);  // 2 NICs + 2 spines
  int nic_ports = 0, explicit_40m = 0, default_40m = 0;
  for (const PortQosPlan& p : leaf0->ports) {
    EXPECT_EQ(p.speed_bps, 400 * kG);
    if (p.peer.find("nic") != std::string::npos) {
      ++nic_ports;
      EXPECT_EQ(p.cable_length_m, 5);
      EXPECT_TRUE(p.cable_length_defaulted);
      EXPECT_EQ(p.headroom.xoff_bytes, 231424);  // 400G / 5 m
    } else {
      EXPECT_EQ(p.cable_length_m, 40);
      EXPECT_EQ(p.headroom.xoff_bytes, 283648);  // 400G / 40 m
      (p.cable_length_defaulted ? default_40m : explicit_40m)++;
    }
    EXPECT_EQ(p.ecn.kmax_bytes, 2 << 20);
    EXPECT_GT(p.xoff_trigger_bytes, p.ecn.kmax_bytes);
  }
  EXPECT_EQ(nic_ports, 2);
  EXPECT_EQ(explicit_40m, 1);
  EXPECT_EQ(default_40m, 1);
  EXPECT_EQ(leaf0->headroom_bytes, 2 * (2 * (231424 + 19456) + 2 * 303104));
  EXPECT_EQ(leaf0->shared_pool_bytes, (64LL << 20) - leaf0->headroom_bytes);
}

TEST(QosPlanTest, RefusesHeadroomAbovePortMaximumNamingPortRuleAndNumbers) {
  Fabric fabric = QosTestFabric(400 * kG, 300);  // leaf-0 <-> spine-0 on 300 m
  QosPolicy policy = DefaultQosPolicy();
  policy.asic_profiles[0].max_headroom_bytes = 800000;
  absl::StatusOr<QosPlan> plan = PlanQos(fabric, policy);
  ASSERT_FALSE(plan.ok());
  const std::string msg(plan.status().message());
  EXPECT_NE(msg.find("switch leaf-0 port 3 (to spine-0)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("headroom fits the port"), std::string::npos) << msg;
  EXPECT_NE(msg.find("exceeds max headroom 800000 B"), std::string::npos) << msg;
}

TEST(QosPlanTest, RefusesPoolOverflow) {
  QosPolicy policy = DefaultQosPolicy();
  policy.asic_profiles[0].pool_size_bytes = 2000000;
  absl::StatusOr<QosPlan> plan = PlanQos(QosTestFabric(), policy);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("headroom fits the pool"), absl::string_view::npos)
      << plan.status();
}

TEST(QosPlanTest, RefusesEcnAfterPfc) {
  QosPolicy policy = DefaultQosPolicy();
  // Pool 8 MiB: headroom ~2.2 MB per leaf leaves ~6 MB shared, trigger ~3 MB with alpha 1.
  policy.asic_profiles[0].pool_size_bytes = 8 << 20;
  policy.ecn_profiles[0].kmin_bytes = 1 << 20;
  policy.ecn_profiles[0].kmax_bytes = 4 << 20;
  absl::StatusOr<QosPlan> plan = PlanQos(QosTestFabric(), policy);
  ASSERT_FALSE(plan.ok());
  const std::string msg(plan.status().message());
  EXPECT_NE(msg.find("ECN before PFC"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Kmax 4194304 B"), std::string::npos) << msg;
  // Same pool with the default 2 MiB Kmax passes: the check is about the numbers.
  policy.ecn_profiles[0].kmax_bytes = 2 << 20;
  EXPECT_TRUE(PlanQos(QosTestFabric(), policy).ok());
}

TEST(QosPlanTest, RefusesAbsurdCableAndUnknownSpeed) {
  absl::StatusOr<QosPlan> plan = PlanQos(QosTestFabric(400 * kG, 25000), DefaultQosPolicy());
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("25000"), absl::string_view::npos) << plan.status();
  EXPECT_NE(plan.status().message().find("leaf-0 port 3"), absl::string_view::npos);
  plan = PlanQos(QosTestFabric(123 * kG), DefaultQosPolicy());
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("pause quanta"), absl::string_view::npos);
}

// A builder fat-tree carries cable lengths per tier; the plan uses them (no defaults needed) and
// the spine-superspine ports get the published 100G / 300 m headroom.
TEST(QosPlanTest, PlansBuilderFatTree) {
  absl::StatusOr<Fabric> fabric = topology::FatTree(4);
  ASSERT_TRUE(fabric.ok()) << fabric.status();
  absl::StatusOr<QosPlan> plan = PlanQos(*fabric, DefaultQosPolicy());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->switches.size(), 20u);
  int core_ports = 0;
  for (const SwitchQosPlan& sw : plan->switches) {
    EXPECT_EQ(sw.ports.size(), 4u) << sw.name;
    for (const PortQosPlan& p : sw.ports) {
      EXPECT_EQ(p.speed_bps, 100 * kG);
      if (fabric->node(sw.node).role == SwitchRole::kSuperSpine) {
        ++core_ports;
        EXPECT_EQ(p.cable_length_m, 300);
        EXPECT_EQ(p.headroom.xoff_bytes, 225280);
      }
    }
  }
  EXPECT_EQ(core_ports, 16);
}

}  // namespace
}  // namespace pulse::controller
