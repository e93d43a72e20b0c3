// The daemon's SONiC wiring: two SONiC switches (one redis-server each) from an intent, the QoS
// plan pushed to both, counters into the PFC/ECN metric families, and a pause storm found by the
// supervisor and listed by the health service's snapshot.
#include "daemon/sonic_runtime.h"

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/southbound/sonic/redis_server.h"
#include "topology/intent.h"

namespace pulse::northbound {
namespace {

using southbound::sonic::RedisReply;
using std::chrono::milliseconds;

template <typename Pred>
bool WaitUntil(Pred pred, milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return pred();
}

TEST(SonicRuntimeTest, PushesThePlanExportsPfcMetricsAndFindsAStorm) {
  testing::RedisServer leaf_redis, spine_redis("pw");
  const std::string yaml = absl::StrCat(R"(switches:
  - {name: leaf-0, role: leaf, driver: sonic, redis: "127.0.0.1:)",
                                        leaf_redis.port(), R"(", port_names: {1: Ethernet4}}
  - {name: spine-0, role: spine, driver: sonic, redis: "unix:)",
                                        spine_redis.socket_path(), R"(", redis_password: pw}
servers: [{name: s0}]
links:
  - {a: "s0/nic-0", b: "leaf-0:1", speed: 400G}
  - {a: "leaf-0:2", b: "spine-0:1", speed: 400G, cable_m: 40}
)");
  absl::StatusOr<topology::Intent> intent = topology::ParseIntent(yaml, "fabric.yaml");
  ASSERT_TRUE(intent.ok()) << intent.status();
  auto fabric = std::make_shared<const topology::Fabric>(intent->fabric);
  auto plan = std::make_shared<const controller::QosPlan>(
      *controller::PlanQos(*fabric, controller::DefaultQosPolicy()));

  controller::MetricsRegistry registry;
  ASSERT_TRUE(controller::RegisterPulseMetrics(registry).ok());
  SonicRuntimeOptions options;
  options.fabric = fabric;
  options.drivers = intent->switch_drivers;
  options.current_plan = [plan] { return plan; };
  options.metrics = &registry;
  options.counters_interval_ms = 200;
  options.health.clean_window_ms = 60000;
  auto runtime = SonicRuntime::Start(options);
  ASSERT_TRUE(runtime.ok()) << runtime.status();
  ASSERT_EQ((*runtime)->num_switches(), 2u);

  // The plan lands on both switches, under each switch's own port names.
  auto leaf = *leaf_redis.Client(southbound::sonic::kConfigDb);
  auto spine = *spine_redis.Client(southbound::sonic::kConfigDb);
  ASSERT_TRUE(WaitUntil(
      [&] {
        pulse::v1::ListIncidentsResponse s = (*runtime)->Snapshot();
        return s.sonic_switches_size() == 2 && s.sonic_switches(0).in_sync() &&
               s.sonic_switches(1).in_sync();
      },
      milliseconds(5000)));
  EXPECT_EQ(leaf->Command({"HGET", "PORT_QOS_MAP|Ethernet4", "pfc_enable"})->str, "3,4");
  EXPECT_EQ(leaf->Command({"HGET", "CABLE_LENGTH|AZURE", "Ethernet8"})->str, "40m");
  EXPECT_EQ(spine->Command({"HGET", "BUFFER_PG|Ethernet0|3-4", "profile"})->str,
            "pg_lossless_400000_40m_profile");
  EXPECT_EQ(spine->Command({"HGET", "SWITCH_HASH|GLOBAL", "ecmp_hash_algorithm"})->str, "CRC");

  // A stuck NIC pauses leaf-0's Ethernet4; the leaf's lossless queue stops sending.
  auto counters = *leaf_redis.Client(southbound::sonic::kCountersDb);
  ASSERT_NE(counters
                ->Command({"HSET", "COUNTERS_PORT_NAME_MAP", "Ethernet4", "oid:0x1", "Ethernet8",
                           "oid:0x2"})
                ->kind,
            RedisReply::Kind::kError);
  (void)counters->Command({"HSET", "COUNTERS_QUEUE_NAME_MAP", "Ethernet4:3", "oid:0x13"});
  (void)counters->Command({"HSET", "COUNTERS:oid:0x13", "SAI_QUEUE_STAT_PACKETS", "1000",
                           "SAI_QUEUE_STAT_WRED_ECN_MARKED_PACKETS", "10"});
  std::atomic<bool> stop{false};
  std::thread storm([&] {
    uint64_t pauses = 0, ecn = 10;
    while (!stop) {
      pauses += 20000;  // about 100,000 frames/s at a 200 ms poll
      ecn += 5;
      (void)counters->Command(
          {"HSET", "COUNTERS:oid:0x1", "SAI_PORT_STAT_PFC_3_RX_PKTS", std::to_string(pauses)});
      (void)counters->Command({"HSET", "COUNTERS:oid:0x13",
                               "SAI_QUEUE_STAT_WRED_ECN_MARKED_PACKETS", std::to_string(ecn)});
      std::this_thread::sleep_for(milliseconds(200));
    }
  });
  const bool found =
      WaitUntil([&] { return (*runtime)->Snapshot().incidents_size() > 0; }, milliseconds(8000));
  stop = true;
  storm.join();
  ASSERT_TRUE(found);
  const pulse::v1::ListIncidentsResponse s = (*runtime)->Snapshot();
  EXPECT_EQ(s.incidents(0).kind(), "pfc_storm");
  EXPECT_EQ(s.incidents(0).root_switch(), "leaf-0");
  EXPECT_EQ(s.incidents(0).root_port(), 1);
  EXPECT_EQ(s.incidents(0).origin(), "s0/nic-0");
  EXPECT_EQ(s.incidents(0).action(), "isolate_link");
  EXPECT_FALSE(s.incidents(0).applied());  // dry-run by default
  EXPECT_TRUE(s.dry_run());

  double pauses = 0, marked = 0, incidents = 0;
  const std::string into_leaf = fabric->DescribeDirected(fabric->DirectedFrom(
      *fabric->LinkAtPort(*fabric->FindNode("leaf-0"), 1), *fabric->FindNode("s0/nic-0")));
  EXPECT_TRUE(registry.GetValue(controller::kPfcPauseFramesTotal, {into_leaf, "3"}, &pauses).ok())
      << registry.RenderText();
  EXPECT_GT(pauses, 0);
  const std::string out_of_leaf = fabric->DescribeDirected(fabric->DirectedFrom(
      *fabric->LinkAtPort(*fabric->FindNode("leaf-0"), 1), *fabric->FindNode("leaf-0")));
  EXPECT_TRUE(registry.GetValue(controller::kEcnMarkedPacketsTotal, {out_of_leaf}, &marked).ok());
  EXPECT_GT(marked, 0);
  EXPECT_TRUE(
      registry
          .GetValue(controller::kHealthIncidentsTotal, {"pfc_storm", "isolate_link"}, &incidents)
          .ok());
  EXPECT_EQ(incidents, 1);
}

}  // namespace
}  // namespace pulse::northbound
