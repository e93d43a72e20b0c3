// The SONiC form of a QoS plan: tests/southbound/sonic/qos_export_test.cc for
// southbound/sonic/qos_export.cc (the plans come from controller/qos/qos_plan.h).
#include "southbound/sonic/qos_export.h"

#include <string>

#include "controller/qos/qos_plan.h"
#include "gtest/gtest.h"
#include "tests/controller/qos/qos_test_fabric.h"

namespace pulse::southbound::sonic {
namespace {

using controller::DefaultQosPolicy;
using controller::PlanQos;
using controller::testing::QosTestFabric;
using switches::PortQosPlan;
using switches::QosPlan;
using switches::QosPolicy;
using switches::SwitchQosPlan;

using topology::Fabric;
using topology::FabricBuilder;
using topology::NodeId;
using topology::SwitchRole;

constexpr int64_t kG = controller::testing::kQosTestGbps;

TEST(SonicQosExportTest, ExportsSonicConfigDb) {
  Fabric fabric = QosTestFabric();
  absl::StatusOr<QosPlan> plan = PlanQos(fabric, DefaultQosPolicy());
  ASSERT_TRUE(plan.ok()) << plan.status();
  absl::StatusOr<nlohmann::json> db = ExportSonicConfigDb(*plan, "leaf-0");
  ASSERT_TRUE(db.ok()) << db.status();
  const nlohmann::json& j = *db;
  // Ports 1, 2 (NICs) and 3, 4 (spines) -> Ethernet0, 8, 16, 24.
  EXPECT_EQ(j["DSCP_TO_TC_MAP"]["AZURE"].size(), 64u);
  EXPECT_EQ(j["DSCP_TO_TC_MAP"]["AZURE"]["26"], "3");
  EXPECT_EQ(j["DSCP_TO_TC_MAP"]["AZURE"]["48"], "6");
  EXPECT_EQ(j["DSCP_TO_TC_MAP"]["AZURE"]["0"], "1");
  EXPECT_EQ(j["TC_TO_PRIORITY_GROUP_MAP"]["AZURE"]["3"], "3");
  EXPECT_EQ(j["TC_TO_PRIORITY_GROUP_MAP"]["AZURE"]["4"], "4");
  EXPECT_EQ(j["TC_TO_QUEUE_MAP"]["AZURE"]["5"], "5");
  EXPECT_EQ(j["PORT_QOS_MAP"]["Ethernet0"]["pfc_enable"], "3,4");
  EXPECT_EQ(j["PORT_QOS_MAP"]["Ethernet24"]["dscp_to_tc_map"], "AZURE");
  EXPECT_EQ(j["PORT_QOS_MAP"].size(), 5u);  // four ports and "global"
  EXPECT_EQ(j["WRED_PROFILE"]["AZURE_LOSSLESS"]["ecn"], "ecn_all");
  EXPECT_EQ(j["WRED_PROFILE"]["AZURE_LOSSLESS"]["green_min_threshold"], "1048576");
  EXPECT_EQ(j["WRED_PROFILE"]["AZURE_LOSSLESS"]["green_max_threshold"], "2097152");
  EXPECT_EQ(j["WRED_PROFILE"]["AZURE_LOSSLESS"]["green_drop_probability"], "5");
  EXPECT_EQ(j["QUEUE"]["Ethernet16|3-4"]["wred_profile"], "AZURE_LOSSLESS");
  const nlohmann::json& p40 = j["BUFFER_PROFILE"]["pg_lossless_400000_40m_profile"];
  EXPECT_EQ(p40["xon"], "19456");
  EXPECT_EQ(p40["xoff"], "283648");
  EXPECT_EQ(p40["size"], "303104");
  EXPECT_EQ(p40["pool"], "ingress_lossless_pool");
  EXPECT_EQ(p40["dynamic_th"], "0");
  EXPECT_EQ(j["BUFFER_PROFILE"]["pg_lossless_400000_5m_profile"]["xoff"], "231424");
  EXPECT_EQ(j["BUFFER_PG"]["Ethernet0|3-4"]["profile"], "pg_lossless_400000_5m_profile");
  EXPECT_EQ(j["BUFFER_PG"]["Ethernet16|3-4"]["profile"], "pg_lossless_400000_40m_profile");
  EXPECT_EQ(j["PFC_WD"]["Ethernet8"]["action"], "drop");
  EXPECT_EQ(j["PFC_WD"]["Ethernet8"]["detection_time"], "200");
  EXPECT_EQ(j["PFC_WD"]["Ethernet8"]["restoration_time"], "200");
  EXPECT_EQ(j["PFC_WD"]["GLOBAL"]["POLL_INTERVAL"], "200");
  EXPECT_EQ(j["CABLE_LENGTH"]["AZURE"]["Ethernet0"], "5m");
  EXPECT_EQ(j["CABLE_LENGTH"]["AZURE"]["Ethernet24"], "40m");
  // The 64 MiB planning assumption is never written over the platform's own pool size.
  EXPECT_FALSE(j["BUFFER_POOL"]["ingress_lossless_pool"].contains("size"));
  EXPECT_EQ(j["BUFFER_POOL"]["ingress_lossless_pool"]["type"], "ingress");

  absl::StatusOr<nlohmann::json> four = ExportSonicConfigDb(*plan, "leaf-0", 4);
  ASSERT_TRUE(four.ok());
  EXPECT_TRUE((*four)["PORT_QOS_MAP"].contains("Ethernet12"));
  EXPECT_FALSE(ExportSonicConfigDb(*plan, "leaf-9").ok());
}

TEST(SonicQosExportTest, NonConsecutiveLosslessPrioritiesGetOneKeyEach) {
  QosPolicy policy = DefaultQosPolicy();
  policy.lossless_priorities = {2, 4};
  policy.dscp_to_tc[26] = 2;
  policy.tc_to_pg = {{2, 2}, {4, 4}};
  absl::StatusOr<QosPlan> plan = PlanQos(QosTestFabric(), policy);
  ASSERT_TRUE(plan.ok()) << plan.status();
  nlohmann::json j = *ExportSonicConfigDb(*plan, "spine-0");
  EXPECT_EQ(j["PORT_QOS_MAP"]["Ethernet0"]["pfc_enable"], "2,4");
  EXPECT_TRUE(j["BUFFER_PG"].contains("Ethernet0|2"));
  EXPECT_TRUE(j["BUFFER_PG"].contains("Ethernet0|4"));
  EXPECT_FALSE(j["BUFFER_PG"].contains("Ethernet0|2-4"));
}

// leaf-0 <-> spine-0 at 10.4 m and leaf-0 <-> spine-1 at 9.6 m: both round to 10 m, but each
// port must carry its own headroom (the 10.4 m port needs more).
TEST(SonicQosExportTest, UnequalCablesNeverShareABufferProfile) {
  FabricBuilder b;
  NodeId leaf0 = b.AddSwitch("leaf-0", SwitchRole::kLeaf);
  NodeId spine0 = b.AddSwitch("spine-0", SwitchRole::kSpine);
  NodeId spine1 = b.AddSwitch("spine-1", SwitchRole::kSpine);
  b.AddLink(leaf0, spine0, 400 * kG, 10.4);
  b.AddLink(leaf0, spine1, 400 * kG, 9.6);
  absl::StatusOr<Fabric> fabric = std::move(b).Build();
  ASSERT_TRUE(fabric.ok()) << fabric.status();
  absl::StatusOr<QosPlan> plan = PlanQos(*fabric, DefaultQosPolicy());
  ASSERT_TRUE(plan.ok()) << plan.status();
  const SwitchQosPlan* leaf = plan->FindSwitch("leaf-0");
  ASSERT_EQ(leaf->ports.size(), 2u);
  EXPECT_GT(leaf->ports[0].headroom.size_bytes, leaf->ports[1].headroom.size_bytes);
  nlohmann::json j = *ExportSonicConfigDb(*plan, "leaf-0");
  const std::string long_profile = j["BUFFER_PG"]["Ethernet0|3-4"]["profile"];
  const std::string short_profile = j["BUFFER_PG"]["Ethernet8|3-4"]["profile"];
  EXPECT_EQ(long_profile, "pg_lossless_400000_10.4m_profile");
  EXPECT_EQ(short_profile, "pg_lossless_400000_9.6m_profile");
  // Every port's PG profile holds exactly that port's planned headroom.
  for (const PortQosPlan& p : leaf->ports) {
    const std::string profile = j["BUFFER_PG"][SonicPortName(p.port) + "|3-4"]["profile"];
    EXPECT_EQ(j["BUFFER_PROFILE"][profile]["size"], std::to_string(p.headroom.size_bytes));
    EXPECT_EQ(j["BUFFER_PROFILE"][profile]["xoff"], std::to_string(p.headroom.xoff_bytes));
  }
  // CABLE_LENGTH holds whole metres (SONiC's format), rounded up.
  EXPECT_EQ(j["CABLE_LENGTH"]["AZURE"]["Ethernet0"], "11m");
  EXPECT_EQ(j["CABLE_LENGTH"]["AZURE"]["Ethernet8"], "10m");
}

TEST(SonicQosExportTest, ExportsTheTablesSonicTemplatesWrite) {
  QosPolicy policy = DefaultQosPolicy();
  policy.queue_shaping_bps[3] = 40 * kG;
  absl::StatusOr<QosPlan> plan = PlanQos(QosTestFabric(), policy);
  ASSERT_TRUE(plan.ok()) << plan.status();
  nlohmann::json j = *ExportSonicConfigDb(*plan, "leaf-0");
  // Schedulers, referenced from every queue; the shaped queue 3 has its own with pir in bytes/s.
  EXPECT_EQ(j["SCHEDULER"]["scheduler.lossless"]["type"], "DWRR");
  EXPECT_EQ(j["SCHEDULER"]["scheduler.lossy"]["weight"], "14");
  EXPECT_EQ(j["SCHEDULER"]["scheduler.q3_shaped"]["pir"], std::to_string(40 * kG / 8));
  EXPECT_EQ(j["SCHEDULER"]["scheduler.q3_shaped"]["meter_type"], "bytes");
  EXPECT_EQ(j["SCHEDULER"]["scheduler.q3_shaped"]["cir"], "1");  // YANG: no pir without cir
  EXPECT_EQ(j["QUEUE"]["Ethernet0|3"]["scheduler"], "scheduler.q3_shaped");
  EXPECT_EQ(j["QUEUE"]["Ethernet0|3"]["wred_profile"], "AZURE_LOSSLESS");
  EXPECT_EQ(j["QUEUE"]["Ethernet0|4"]["scheduler"], "scheduler.lossless");
  EXPECT_EQ(j["QUEUE"]["Ethernet0|0-2"]["scheduler"], "scheduler.lossy");
  EXPECT_FALSE(j["QUEUE"]["Ethernet0|0-2"].contains("wred_profile"));
  EXPECT_EQ(j["QUEUE"]["Ethernet0|5-7"]["scheduler"], "scheduler.lossy");
  // Lossy pools and profiles, PG 0, BUFFER_QUEUE and the profile lists.
  for (const char* pool : {"ingress_lossless_pool", "ingress_lossy_pool", "egress_lossless_pool",
                           "egress_lossy_pool"}) {
    EXPECT_TRUE(j["BUFFER_POOL"].contains(pool)) << pool;
  }
  EXPECT_EQ(j["BUFFER_POOL"]["egress_lossy_pool"]["type"], "egress");
  EXPECT_EQ(j["BUFFER_PROFILE"]["ingress_lossy_profile"]["pool"], "ingress_lossy_pool");
  EXPECT_EQ(j["BUFFER_PG"]["Ethernet0|0"]["profile"], "ingress_lossy_profile");
  EXPECT_EQ(j["BUFFER_QUEUE"]["Ethernet0|3-4"]["profile"], "egress_lossless_profile");
  EXPECT_EQ(j["BUFFER_QUEUE"]["Ethernet0|0-2"]["profile"], "egress_lossy_profile");
  EXPECT_EQ(j["BUFFER_QUEUE"]["Ethernet0|5-7"]["profile"], "egress_lossy_profile");
  EXPECT_EQ(j["BUFFER_PORT_INGRESS_PROFILE_LIST"]["Ethernet8"]["profile_list"],
            "ingress_lossless_profile,ingress_lossy_profile");
  EXPECT_EQ(j["BUFFER_PORT_EGRESS_PROFILE_LIST"]["Ethernet8"]["profile_list"],
            "egress_lossless_profile,egress_lossy_profile");
  // PFC maps and their references.
  EXPECT_EQ(j["MAP_PFC_PRIORITY_TO_QUEUE"]["AZURE"]["3"], "3");
  EXPECT_EQ(j["PFC_PRIORITY_TO_PRIORITY_GROUP_MAP"]["AZURE"]["4"], "4");
  EXPECT_EQ(j["PORT_QOS_MAP"]["Ethernet0"]["pfc_to_queue_map"], "AZURE");
  EXPECT_EQ(j["PORT_QOS_MAP"]["Ethernet0"]["pfc_to_pg_map"], "AZURE");
  EXPECT_EQ(j["PORT_QOS_MAP"]["global"]["dscp_to_tc_map"], "AZURE");
  // Yellow and red WRED carry the same ECN thresholds as green.
  const nlohmann::json& wred = j["WRED_PROFILE"]["AZURE_LOSSLESS"];
  for (const char* color : {"green", "yellow", "red"}) {
    EXPECT_EQ(wred[std::string("wred_") + color + "_enable"], "true") << color;
    EXPECT_EQ(wred[std::string(color) + "_min_threshold"], "1048576") << color;
    EXPECT_EQ(wred[std::string(color) + "_max_threshold"], "2097152") << color;
  }
}

TEST(SonicQosExportTest, PoolSizesComeFromThePlatformProfile) {
  QosPolicy policy = DefaultQosPolicy();
  policy.asic_profiles[0].platform_pools.ingress_lossless_bytes = 52161690;
  policy.asic_profiles[0].platform_pools.egress_lossy_bytes = 40000000;
  absl::StatusOr<QosPlan> plan = PlanQos(QosTestFabric(), policy);
  ASSERT_TRUE(plan.ok()) << plan.status();
  // The plan budgets against the platform's pool, not the 64 MiB assumption.
  const SwitchQosPlan* leaf = plan->FindSwitch("leaf-0");
  EXPECT_EQ(leaf->shared_pool_bytes + leaf->headroom_bytes, 52161690);
  nlohmann::json j = *ExportSonicConfigDb(*plan, "leaf-0");
  EXPECT_EQ(j["BUFFER_POOL"]["ingress_lossless_pool"]["size"], "52161690");
  EXPECT_EQ(j["BUFFER_POOL"]["egress_lossy_pool"]["size"], "40000000");
  EXPECT_FALSE(j["BUFFER_POOL"]["ingress_lossy_pool"].contains("size"));
}

}  // namespace
}  // namespace pulse::southbound::sonic
