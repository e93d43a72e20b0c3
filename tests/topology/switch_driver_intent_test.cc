#include "topology/switch_driver_intent.h"

#include "gtest/gtest.h"
#include "topology/intent.h"

namespace pulse::topology {
namespace {

constexpr char kFabric[] = R"(switches:
  - {name: leaf-0, role: leaf}
  - name: leaf-1
    role: leaf
    driver: sonic
    redis: 127.0.0.1:6380
    redis_password: pw
    port_name_stride: 4
    port_names: {1: Ethernet0, 2: Ethernet2}
  - {name: spine-0, role: spine, driver: sonic, redis: "unix:/run/redis/redis.sock"}
servers: [{name: s0}]
links:
  - {a: "s0/nic-0", b: leaf-0, speed: 100G}
  - {a: leaf-0, b: spine-0, speed: 100G}
  - {a: leaf-1, b: spine-0, speed: 100G}
)";

TEST(SwitchDriverIntentTest, SonicSwitchesCarryTheirRedisAndPortNames) {
  absl::StatusOr<Intent> intent = ParseIntent(kFabric, "fabric.yaml");
  ASSERT_TRUE(intent.ok()) << intent.status();
  ASSERT_EQ(intent->switch_drivers.size(), 2u);  // leaf-0 stays on the default driver
  const SwitchDriverIntent& leaf1 = intent->switch_drivers.at("leaf-1");
  EXPECT_EQ(leaf1.driver, "sonic");
  EXPECT_EQ(leaf1.redis, "127.0.0.1:6380");
  EXPECT_EQ(leaf1.redis_password, "pw");
  EXPECT_EQ(leaf1.port_name_stride, 4);
  EXPECT_EQ(leaf1.port_names.at(2), "Ethernet2");
  EXPECT_EQ(intent->switch_drivers.at("spine-0").redis, "unix:/run/redis/redis.sock");
}

TEST(SwitchDriverIntentTest, BadDriverEntriesNameTheKeyAndLine) {
  struct Case {
    std::string from, to, message;
  };
  const std::vector<Case> cases = {
      {"driver: sonic\n    redis: 127.0.0.1:6380", "driver: netconf\n    redis: 127.0.0.1:6380",
       "fabric.yaml:5: switches[1].driver: 'netconf' is not one of openflow, sonic"},
      {"redis: 127.0.0.1:6380", "redis: nowhere", "switches[1].redis: 'nowhere' is not"},
      {"    redis: 127.0.0.1:6380\n", "", "driver: sonic needs redis"},
      {"port_name_stride: 4", "port_name_stride: 100", "port_name_stride"},
      {"2: Ethernet2", "2: Ethernet0", "'Ethernet0' is used twice"},
      {"2: Ethernet2", "2: eth2", "not a SONiC port name"},
      {"{name: leaf-0, role: leaf}", "{name: leaf-0, role: leaf, redis: 1.2.3.4:5}",
       "only for driver: sonic"},
  };
  for (const Case& c : cases) {
    std::string text = kFabric;
    const size_t at = text.find(c.from);
    ASSERT_NE(at, std::string::npos) << c.from;
    text.replace(at, c.from.size(), c.to);
    absl::StatusOr<Intent> intent = ParseIntent(text, "fabric.yaml");
    ASSERT_FALSE(intent.ok()) << c.to;
    EXPECT_NE(intent.status().message().find(c.message), absl::string_view::npos)
        << intent.status().message();
  }
}

}  // namespace
}  // namespace pulse::topology
