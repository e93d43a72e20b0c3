// The SONiC driver against a real redis-server per emulated switch (redis_server.h).
#include "southbound/sonic/sonic_switch.h"

#include <chrono>
#include <thread>

#include "controller/qos/qos_plan.h"
#include "gtest/gtest.h"
#include "southbound/sonic/sonic_qos_driver.h"
#include "tests/southbound/sonic/redis_server.h"
#include "topology/builders.h"

namespace pulse::southbound::sonic {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr int64_t kG = 1000000000LL;

controller::QosPlan SmallPlan() {
  topology::FabricBuilder b;
  auto leaf = b.AddSwitch("leaf-0", topology::SwitchRole::kLeaf);
  auto spine0 = b.AddSwitch("spine-0", topology::SwitchRole::kSpine);
  auto spine1 = b.AddSwitch("spine-1", topology::SwitchRole::kSpine);
  for (int s = 0; s < 2; ++s) {
    auto server = b.AddServer("server-" + std::to_string(s));
    b.AddLink(b.AddNic(server, 0), leaf, 400 * kG);
  }
  b.AddLink(leaf, spine0, 400 * kG, 10.4);
  b.AddLink(leaf, spine1, 400 * kG, 9.6);
  absl::StatusOr<topology::Fabric> fabric = std::move(b).Build();
  EXPECT_TRUE(fabric.ok()) << fabric.status();
  absl::StatusOr<controller::QosPlan> plan =
      controller::PlanQos(*fabric, controller::DefaultQosPolicy());
  EXPECT_TRUE(plan.ok()) << plan.status();
  return *plan;
}

ConfigDbEntries LeafEntries() {
  switches::EcmpHashModel hash;
  absl::StatusOr<ConfigDbEntries> entries =
      PlanConfigDbEntries(SmallPlan(), "leaf-0", PortNaming{}, &hash);
  EXPECT_TRUE(entries.ok()) << entries.status();
  return *entries;
}

ConfigDbEntries ReadBack(testing::RedisServer& redis, const ConfigDbEntries& keys) {
  auto client = redis.Client(kConfigDb);
  EXPECT_TRUE(client.ok()) << client.status();
  ConfigDbEntries have;
  for (const auto& [key, fields] : keys) {
    auto r = (*client)->Command({"HGETALL", key});
    EXPECT_TRUE(r.ok());
    if (r.ok() && !r->AsMap().empty()) have[key] = r->AsMap();
  }
  return have;
}

template <typename Pred>
bool WaitUntil(Pred pred, milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return pred();
}

SonicSwitchOptions Options(const RedisAddress& address) {
  SonicSwitchOptions o;
  o.name = "leaf-0";
  o.address = address;
  o.reconnect_min = milliseconds(50);
  o.reconnect_max = milliseconds(400);
  return o;
}

void Exec(testing::RedisServer& redis, std::vector<std::string> argv) {
  auto client = redis.Client(kConfigDb);
  ASSERT_TRUE(client.ok());
  auto r = (*client)->Command(argv);
  ASSERT_TRUE(r.ok());
  ASSERT_NE(r->kind, RedisReply::Kind::kError) << r->str;
}

TEST(SonicSwitchTest, EveryPlannedFieldLandsAndReadsBackForeignKeysUntouched) {
  testing::RedisServer redis;
  // The switch's own entries before Pulse arrives: a foreign key, and the platform's pool size.
  Exec(redis, {"HSET", "PORT|Ethernet0", "speed", "400000", "mtu", "9100"});
  Exec(redis, {"HSET", "BUFFER_POOL|ingress_lossless_pool", "size", "52161690", "type", "ingress",
               "mode", "dynamic"});
  const ConfigDbEntries want = LeafEntries();
  SonicSwitch sw(Options(redis.tcp_address()));
  sw.SetDesired(want);
  sw.Start();
  ASSERT_TRUE(WaitUntil([&] { return sw.status().in_sync; }, milliseconds(5000)))
      << sw.status().last_error;
  EXPECT_TRUE(sw.connected());
  EXPECT_EQ(sw.status().transactions, 1u);  // the whole plan in one MULTI/EXEC

  const ConfigDbEntries have = ReadBack(redis, want);
  size_t fields = 0;
  for (const auto& [key, f] : want) fields += f.size();
  const std::vector<EntryDifference> diff = DiffEntries(want, have);
  EXPECT_TRUE(diff.empty()) << diff.size() << " of " << fields << " fields differ, first "
                            << diff[0].ToString();
  std::printf("round trip: %zu keys, %zu fields written, %zu read back equal (%.0f%%)\n",
              want.size(), fields, fields - diff.size(), 100.0 * (fields - diff.size()) / fields);
  EXPECT_GT(want.size(), 40u);
  EXPECT_TRUE(want.count("SWITCH_HASH|GLOBAL"));
  EXPECT_TRUE(want.count("SCHEDULER|scheduler.lossless"));
  EXPECT_TRUE(want.count("BUFFER_PROFILE|pg_lossless_400000_10.4m_profile"));

  auto client = redis.Client(kConfigDb);
  ASSERT_TRUE(client.ok());
  EXPECT_EQ((*client)->Command({"HGETALL", "PORT|Ethernet0"})->AsMap(),
            (Fields{{"speed", "400000"}, {"mtu", "9100"}}));
  // The adopted pool keeps the platform's size.
  EXPECT_EQ((*client)->Command({"HGET", "BUFFER_POOL|ingress_lossless_pool", "size"})->str,
            "52161690");
  auto state = redis.Client(kStateDb);
  ASSERT_TRUE(state.ok());
  const Fields owned = (*state)->Command({"HGETALL", kOwnershipKey})->AsMap();
  EXPECT_EQ(owned.size(), want.size());
  EXPECT_FALSE(owned.count("PORT|Ethernet0"));
  EXPECT_EQ(owned.at("BUFFER_POOL|ingress_lossless_pool").rfind("adopted:", 0), 0u);
  EXPECT_EQ(owned.at("SCHEDULER|scheduler.lossless"), "created");
}

TEST(SonicSwitchTest, EditsBehindPulsesBackAreRepairedWithinFiveSeconds) {
  testing::RedisServer redis;
  Exec(redis, {"HSET", "PORT|Ethernet0", "speed", "400000"});
  const ConfigDbEntries want = LeafEntries();
  SonicSwitchOptions options = Options(redis.tcp_address());
  options.audit_interval = std::chrono::hours(1);  // only notifications can trigger a repair
  SonicSwitch sw(options);
  sw.SetDesired(want);
  sw.Start();
  ASSERT_TRUE(WaitUntil([&] { return sw.status().in_sync; }, milliseconds(5000)));

  const std::vector<std::vector<std::string>> edits = {
      {"HSET", "BUFFER_PROFILE|pg_lossless_400000_10.4m_profile", "xoff", "1024"},
      {"HDEL", "PORT_QOS_MAP|Ethernet0", "pfc_enable"},
      {"DEL", "WRED_PROFILE|AZURE_LOSSLESS"},
      {"HSET", "SCHEDULER|scheduler.lossless", "stray", "field"},
      {"HSET", "PFC_WD|Ethernet8", "detection_time", "5000"},
  };
  uint64_t repairs = 0;
  for (const auto& edit : edits) {
    const auto start = Clock::now();
    Exec(redis, edit);
    Exec(redis, {"HSET", "PORT|Ethernet0", "speed", "100000"});  // a foreign edit, left alone
    ASSERT_TRUE(WaitUntil(
        [&] {
          ConfigDbEntries have = ReadBack(redis, want);
          return DiffEntries(want, have).empty() &&
                 !have["SCHEDULER|scheduler.lossless"].count("stray");
        },
        milliseconds(5000)))
        << "not repaired: " << edit[0] << " " << edit[1];
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    std::printf("repaired %s %s in %.0f ms\n", edit[0].c_str(), edit[1].c_str(), ms);
    EXPECT_LT(ms, 5000);
    EXPECT_TRUE(WaitUntil([&] { return sw.status().repairs > repairs; }, milliseconds(1000)));
    repairs = sw.status().repairs;
  }
  auto client = redis.Client(kConfigDb);
  EXPECT_EQ((*client)->Command({"HGET", "PORT|Ethernet0", "speed"})->str, "100000");
  EXPECT_FALSE(sw.status().last_differences.empty());
}

TEST(SonicSwitchTest, UnreachableRedisIsRetriedAndThePlanAppliedWhenItReturns) {
  const int port = testing::RedisServer::FreePort();
  RedisAddress address;
  address.host = "127.0.0.1";
  address.port = port;
  std::vector<bool> transitions;
  std::mutex mu;
  SonicSwitch sw(Options(address));
  sw.SetConnectionCallback([&](bool up) {
    std::lock_guard<std::mutex> lock(mu);
    transitions.push_back(up);
  });
  const ConfigDbEntries want = LeafEntries();
  sw.SetDesired(want);
  sw.Start();
  std::this_thread::sleep_for(milliseconds(1500));
  EXPECT_FALSE(sw.connected());
  EXPECT_FALSE(sw.status().last_error.empty());
  // Retried with backoff (50, 100, 200, 400, 400 ms ...): about 6 attempts in 1.5 s, not the
  // hundreds an immediate retry against a closed port would make.
  EXPECT_GE(sw.status().failed_connects, 3u);
  EXPECT_LE(sw.status().failed_connects, 12u);

  {
    testing::RedisServer redis("", port);
    ASSERT_TRUE(WaitUntil([&] { return sw.status().in_sync; }, milliseconds(5000)))
        << sw.status().last_error;
    EXPECT_TRUE(DiffEntries(want, ReadBack(redis, want)).empty());
    // The switch restarts with empty databases: Pulse sees it go, and re-applies on return.
    redis.Kill();
    ASSERT_TRUE(WaitUntil([&] { return !sw.connected(); }, milliseconds(5000)));
    redis.Start();
    ASSERT_TRUE(
        WaitUntil([&] { return sw.connected() && sw.status().in_sync; }, milliseconds(5000)));
    ASSERT_TRUE(WaitUntil([&] { return DiffEntries(want, ReadBack(redis, want)).empty(); },
                          milliseconds(5000)));
    EXPECT_GE(sw.status().connects, 2u);
  }
  sw.Stop();
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_GE(transitions.size(), 3u);
  EXPECT_EQ(transitions[0], true);
  EXPECT_EQ(transitions[1], false);
  EXPECT_EQ(transitions[2], true);
}

TEST(SonicSwitchTest, UnixSocketPasswordAndReleaseOfKeysNoLongerWanted) {
  testing::RedisServer redis("s3cret");
  Exec(redis, {"HSET", "BUFFER_POOL|ingress_lossless_pool", "size", "52161690"});
  SonicSwitchOptions options = Options(redis.unix_address());
  options.password = "wrong";
  {
    SonicSwitch refused(options);
    refused.Start();
    ASSERT_TRUE(
        WaitUntil([&] { return !refused.status().last_error.empty(); }, milliseconds(3000)));
    EXPECT_NE(refused.status().last_error.find("AUTH"), std::string::npos)
        << refused.status().last_error;
    EXPECT_FALSE(refused.connected());
  }
  options.password = "s3cret";
  SonicSwitch sw(options);
  const ConfigDbEntries want = LeafEntries();
  sw.SetDesired(want);
  sw.Start();
  ASSERT_TRUE(WaitUntil([&] { return sw.status().in_sync; }, milliseconds(5000)))
      << sw.status().last_error;
  // Now only the maps are wanted: everything else Pulse created goes; the adopted pool keeps
  // the platform's size but loses Pulse's fields.
  ConfigDbEntries fewer;
  for (const auto& [key, fields] : want) {
    if (key.rfind("DSCP_TO_TC_MAP|", 0) == 0) fewer[key] = fields;
  }
  sw.SetDesired(fewer);
  auto client = redis.Client(kConfigDb);
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(WaitUntil(
      [&] {
        return (*client)->Command({"EXISTS", "SCHEDULER|scheduler.lossless"})->integer == 0 &&
               sw.status().in_sync;
      },
      milliseconds(5000)));
  EXPECT_EQ((*client)->Command({"HGETALL", "BUFFER_POOL|ingress_lossless_pool"})->AsMap(),
            (Fields{{"size", "52161690"}}));
  EXPECT_EQ((*client)->Command({"EXISTS", "DSCP_TO_TC_MAP|AZURE"})->integer, 1);
  EXPECT_EQ(sw.status().owned_keys, 1u);
}

// The ECMP hash seed has no CONFIG_DB field: SONiC's swss writes it into APPL_DB
// SWITCH_TABLE:switch from switch.json. Pulse reads it, reports a seed that is not the steering
// model's (switch status, QoS audit finding), and never writes it.
TEST(SonicSwitchTest, HashSeedOtherThanTheModelsIsReportedNeverWritten) {
  testing::RedisServer redis;
  auto appl = redis.Client(kApplDb);
  ASSERT_TRUE(appl.ok());
  // A LeafRouter's switch.json seed (sonic-buildimage dockers/docker-orchagent/switch.json.j2).
  ASSERT_TRUE((*appl)
                  ->Command({"HSET", kApplSwitchTableKey, kEcmpHashSeedField, "10",
                             "ecmp_hash_offset", "10"})
                  .ok());
  SonicSwitchOptions options = Options(redis.tcp_address());
  options.audit_interval = milliseconds(200);
  SonicSwitch sw(options);
  SonicQosDriver driver({{topology::kNoNode, "leaf-0", PortNaming{}, &sw}},
                        switches::EcmpHashModel(switches::HashAlgorithm::kCrc32, /*seed=*/0));
  ASSERT_TRUE(driver.ApplyQos(SmallPlan()).ok());
  sw.Start();
  ASSERT_TRUE(WaitUntil(
      [&] { return sw.status().in_sync && !sw.status().hash_seed_difference.key.empty(); },
      milliseconds(5000)))
      << sw.status().last_error;
  const EntryDifference d = sw.status().hash_seed_difference;
  EXPECT_EQ(d.key, "APPL_DB SWITCH_TABLE:switch");
  EXPECT_EQ(d.field, "ecmp_hash_seed");
  EXPECT_EQ(d.want, "0");
  EXPECT_EQ(d.have, "10");
  absl::StatusOr<std::vector<switches::QosFinding>> findings = driver.AuditQos();
  ASSERT_TRUE(findings.ok());
  ASSERT_EQ(findings->size(), 1u);
  EXPECT_NE((*findings)[0].difference.find("want '0', have '10'"), std::string::npos)
      << (*findings)[0].difference;
  // Pulse wrote nothing into APPL_DB: the seed is SONiC's.
  EXPECT_EQ((*appl)->Command({"HGET", kApplSwitchTableKey, kEcmpHashSeedField})->str, "10");
  EXPECT_EQ((*appl)->Command({"DBSIZE"})->integer, 1);

  // The operator aligns the switch (or the intent): the warning clears at the next audit.
  ASSERT_TRUE((*appl)->Command({"HSET", kApplSwitchTableKey, kEcmpHashSeedField, "0"}).ok());
  ASSERT_TRUE(
      WaitUntil([&] { return sw.status().hash_seed_difference.key.empty(); }, milliseconds(3000)));
  findings = driver.AuditQos();
  ASSERT_TRUE(findings.ok());
  EXPECT_TRUE(findings->empty());

  // No seed at all (swss not started, or a platform without switch.json): reported as missing,
  // since SAI's default is not known to be the model's.
  ASSERT_TRUE((*appl)->Command({"DEL", kApplSwitchTableKey}).ok());
  ASSERT_TRUE(
      WaitUntil([&] { return !sw.status().hash_seed_difference.key.empty(); }, milliseconds(3000)));
  EXPECT_EQ(sw.status().hash_seed_difference.have, "");
}

TEST(SonicSwitchTest, ReadsCountersDbIntoSnapshots) {
  testing::RedisServer redis;
  auto counters = redis.Client(kCountersDb);
  ASSERT_TRUE(counters.ok());
  auto cmd = [&](std::vector<std::string> argv) {
    auto r = (*counters)->Command(argv);
    ASSERT_TRUE(r.ok());
    ASSERT_NE(r->kind, RedisReply::Kind::kError) << r->str;
  };
  cmd({"HSET", "COUNTERS_PORT_NAME_MAP", "Ethernet0", "oid:0x1000000000001", "Ethernet8",
       "oid:0x1000000000002", "Ethernet99", "oid:0x1000000000063"});
  cmd({"HSET", "COUNTERS_QUEUE_NAME_MAP", "Ethernet0:3", "oid:0x1500000000003", "Ethernet0:4",
       "oid:0x1500000000004", "bogus", "oid:0x1"});
  cmd({"HSET", "COUNTERS:oid:0x1000000000001", "SAI_PORT_STAT_IF_IN_OCTETS", "1000",
       "SAI_PORT_STAT_IF_OUT_OCTETS", "2000", "SAI_PORT_STAT_IF_IN_UCAST_PKTS", "10",
       "SAI_PORT_STAT_PFC_3_RX_PKTS", "77", "SAI_PORT_STAT_PFC_4_TX_PKTS", "5",
       "SAI_PORT_STAT_IF_IN_DISCARDS", "not-a-number"});
  cmd({"HSET", "COUNTERS:oid:0x1500000000003", "SAI_QUEUE_STAT_PACKETS", "9",
       "SAI_QUEUE_STAT_WRED_ECN_MARKED_PACKETS", "4", "SAI_QUEUE_STAT_WRED_DROPPED_PACKETS", "-3"});
  cmd({"HSET", "USER_WATERMARKS:oid:0x1500000000003", "SAI_QUEUE_STAT_SHARED_WATERMARK_BYTES",
       "65536"});
  SonicSwitchOptions options = Options(redis.tcp_address());
  options.counters_interval = milliseconds(100);
  options.counter_ports = {{"Ethernet0", 1}, {"Ethernet8", 2}};
  std::mutex mu;
  std::vector<SonicCounterSnapshot> snapshots;
  SonicSwitch sw(options);
  sw.SetCountersCallback([&](const SonicCounterSnapshot& s) {
    std::lock_guard<std::mutex> lock(mu);
    snapshots.push_back(s);
  });
  sw.Start();
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return !snapshots.empty();
      },
      milliseconds(5000)));
  std::lock_guard<std::mutex> lock(mu);
  const SonicCounterSnapshot& s = snapshots[0];
  ASSERT_EQ(s.ports.size(), 2u);  // Ethernet99 is not in the switch's naming
  const SonicPortCounters& e0 = s.ports[0];
  EXPECT_EQ(e0.name, "Ethernet0");
  EXPECT_EQ(e0.port, 1);
  EXPECT_EQ(e0.in_octets, 1000u);
  EXPECT_EQ(e0.in_packets, 10u);
  EXPECT_EQ(e0.pfc_rx_frames[3], 77u);
  EXPECT_EQ(e0.pfc_tx_frames[4], 5u);
  EXPECT_EQ(e0.in_discards, 0u);  // malformed: ignored
  ASSERT_EQ(e0.queues.size(), 2u);
  EXPECT_EQ(e0.queues[0].queue, 3);
  EXPECT_EQ(e0.queues[0].ecn_marked_packets, 4u);
  EXPECT_TRUE(e0.queues[0].has_ecn_marked);
  EXPECT_FALSE(e0.queues[0].has_wred_dropped);  // "-3" is malformed
  EXPECT_EQ(e0.queues[0].watermark_bytes, 65536u);
  EXPECT_EQ(s.malformed_values, 3u);  // "not-a-number", "-3", queue name "bogus"
}

}  // namespace
}  // namespace pulse::southbound::sonic
