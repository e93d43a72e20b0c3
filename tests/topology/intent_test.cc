#include "topology/intent.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pulse::topology {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string ExamplePath(const std::string& file) {
  const char* src = std::getenv("PULSE_SOURCE_DIR");
  return std::string(src ? src : ".") + "/examples/" + file;
}

int CountRole(const Fabric& f, SwitchRole role) {
  int n = 0;
  for (NodeId id : f.switches()) n += f.node(id).role == role;
  return n;
}

TEST(SpeedTest, ParsesUnitsAndRejectsJunk) {
  EXPECT_EQ(*ParseSpeedBps("100G"), 100'000'000'000);
  EXPECT_EQ(*ParseSpeedBps("400G"), 400'000'000'000);
  EXPECT_EQ(*ParseSpeedBps("25g"), 25'000'000'000);
  EXPECT_EQ(*ParseSpeedBps("1.6T"), 1'600'000'000'000);
  EXPECT_EQ(*ParseSpeedBps("800Mbps"), 800'000'000);
  EXPECT_EQ(*ParseSpeedBps("10000000000"), 10'000'000'000);
  for (const char* bad : {"", "fast", "G", "-100G", "0", "100X", "1e30"}) {
    EXPECT_FALSE(ParseSpeedBps(bad).ok()) << bad;
  }
}

TEST(IntentEcmpHashTest, SectionParsedWithLinesAndRefusedWhenMalformed) {
  const std::string base =
      "builder: {type: leaf-spine, leaves: 2, spines: 2, servers_per_leaf: 1}\n";
  auto intent = ParseIntent(base +
                                "ecmp_hash:\n"
                                "  default: {algorithm: crc32, seed: 7}\n"
                                "  roles:\n"
                                "    spine: {algorithm: crc16-ccitt, fields: [src_ip, src_port]}\n"
                                "  switches:\n"
                                "    leaf-0: {algorithm: ovs-multipath}\n",
                            "f.yaml");
  ASSERT_TRUE(intent.ok()) << intent.status();
  ASSERT_TRUE(intent->ecmp_hash.fabric_default.has_value());
  EXPECT_EQ(intent->ecmp_hash.fabric_default->algorithm, "crc32");
  EXPECT_EQ(intent->ecmp_hash.fabric_default->seed, 7u);
  EXPECT_EQ(intent->ecmp_hash.by_role.at("spine").fields,
            (std::vector<std::string>{"src_ip", "src_port"}));
  EXPECT_NE(intent->ecmp_hash.by_switch.at("leaf-0").where.find("f.yaml:7"), std::string::npos)
      << intent->ecmp_hash.by_switch.at("leaf-0").where;
  auto bad_role =
      ParseIntent(base + "ecmp_hash:\n  roles:\n    tor: {algorithm: crc32}\n", "f.yaml");
  ASSERT_FALSE(bad_role.ok());
  EXPECT_NE(bad_role.status().message().find("f.yaml:4"), std::string::npos) << bad_role.status();
  auto no_algorithm = ParseIntent(base + "ecmp_hash:\n  default: {seed: 1}\n", "f.yaml");
  ASSERT_FALSE(no_algorithm.ok());
  EXPECT_NE(no_algorithm.status().message().find("algorithm"), std::string::npos);
  auto unknown_key =
      ParseIntent(base + "ecmp_hash:\n  default: {algorithm: crc32, salt: 1}\n", "f.yaml");
  EXPECT_FALSE(unknown_key.ok());
}

TEST(IntentExamplesTest, LeafSpineLab) {
  absl::StatusOr<Intent> intent = LoadIntentFile(ExamplePath("leaf-spine.yaml"));
  ASSERT_TRUE(intent.ok()) << intent.status();
  EXPECT_EQ(intent->name, "lab-leaf-spine");
  EXPECT_EQ(CountRole(intent->fabric, SwitchRole::kLeaf), 4);
  EXPECT_EQ(CountRole(intent->fabric, SwitchRole::kSpine), 2);
  EXPECT_EQ(intent->fabric.servers().size(), 8u);
  EXPECT_EQ(intent->fabric.links().size(), 16u);
  EXPECT_EQ(intent->controller.openflow_address, "127.0.0.1:6653");
  EXPECT_EQ(intent->controller.lossless_priority, 3);
  for (const Link& l : intent->fabric.links()) EXPECT_EQ(l.capacity_bps, 100'000'000'000);
}

TEST(IntentExamplesTest, EveryExampleLoads) {
  struct Case {
    const char* file;
    size_t switches;
    size_t servers;
    size_t links;
  };
  for (const Case& c :
       {Case{"leaf-spine.yaml", 6, 8, 16}, Case{"leaf-spine-4x4x4.yaml", 8, 16, 32},
        Case{"rail-optimized.yaml", 6, 8, 16 + 8}, Case{"fat-tree-k4.yaml", 20, 16, 48},
        Case{"leaf-spine-64x64.yaml", 128, 4096, 4096 + 4096}, Case{"explicit.yaml", 3, 3, 6}}) {
    absl::StatusOr<Intent> intent = LoadIntentFile(ExamplePath(c.file));
    ASSERT_TRUE(intent.ok()) << c.file << ": " << intent.status();
    EXPECT_EQ(intent->fabric.switches().size(), c.switches) << c.file;
    EXPECT_EQ(intent->fabric.servers().size(), c.servers) << c.file;
    EXPECT_EQ(intent->fabric.links().size(), c.links) << c.file;
    EXPECT_FALSE(intent->name.empty());
  }
}

TEST(IntentExamplesTest, ExplicitFabricKeepsPortsDpidsAndCables) {
  absl::StatusOr<Intent> intent = LoadIntentFile(ExamplePath("explicit.yaml"));
  ASSERT_TRUE(intent.ok()) << intent.status();
  const Fabric& f = intent->fabric;
  NodeId spine = *f.FindNode("spine");
  NodeId tor_a = *f.FindNode("tor-a");
  EXPECT_EQ(f.node(spine).datapath_id, 0x201u);
  EXPECT_EQ(f.node(spine).role, SwitchRole::kSpine);
  EXPECT_EQ(f.Peer(*f.LinkAtPort(spine, 1), spine), tor_a);
  EXPECT_EQ(f.link(*f.LinkAtPort(tor_a, 49)).capacity_bps, 400'000'000'000);
  EXPECT_EQ(f.link(*f.LinkAtPort(spine, 1)).cable_length_m, 30);  // role default from file
  EXPECT_EQ(f.link(*f.LinkAtPort(spine, 2)).cable_length_m, 55);  // override
  EXPECT_EQ(f.link(*f.LinkAtPort(tor_a, 2)).cable_length_m, 3);   // per link
  EXPECT_EQ(f.link(*f.LinkAtPort(tor_a, 1)).cable_length_m, 5);   // host default
  EXPECT_EQ(f.gpus().size(), 4u + 1u + 2u);
  EXPECT_EQ(*f.ResolveEndpoint("gpu-node-0/gpu-3"), *f.FindNode("gpu-node-0/nic-1"));
}

// Each switch may name its driver (one daemon serving a mixed fabric); openflow by default.
TEST(IntentDriverTest, SwitchesNameTheirDriverOrGetOpenflow) {
  constexpr char kYaml[] =
      "switches:\n"
      "  - {name: tor-a, role: leaf}\n"
      "  - {name: tor-b, role: leaf, driver: sonic, redis: \"127.0.0.1:6379\"}\n"
      "  - {name: spine, role: spine, driver: openflow}\n"
      "servers:\n"
      "  - {name: h0}\n"
      "links:\n"
      "  - {a: \"h0/nic-0\", b: \"tor-a:1\", speed: 100G}\n"
      "  - {a: \"tor-a:49\", b: \"spine:1\", speed: 400G}\n"
      "  - {a: \"tor-b:49\", b: \"spine:2\", speed: 400G}\n";
  absl::StatusOr<Intent> intent = ParseIntent(kYaml, "mixed.yaml");
  ASSERT_TRUE(intent.ok()) << intent.status();
  const Fabric& f = intent->fabric;
  EXPECT_EQ(f.node(*f.FindNode("tor-a")).driver, "openflow");
  EXPECT_EQ(f.node(*f.FindNode("tor-b")).driver, "sonic");
  EXPECT_EQ(f.node(*f.FindNode("spine")).driver, "openflow");
  EXPECT_EQ(f.node(*f.FindNode("h0/nic-0")).driver, "");

  std::string bad = kYaml;
  bad.replace(bad.find("driver: sonic"), 13, "driver: Open Flow");
  absl::StatusOr<Intent> refused = ParseIntent(bad, "mixed.yaml");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("mixed.yaml:3: switches[1].driver"), std::string::npos)
      << refused.status();
}

TEST(IntentExamplesTest, CableDefaultsFromFileReachTheBuilder) {
  absl::StatusOr<Intent> intent = LoadIntentFile(ExamplePath("fat-tree-k4.yaml"));
  ASSERT_TRUE(intent.ok()) << intent.status();
  for (const Link& l : intent->fabric.links()) {
    if (intent->fabric.node(l.b.node).level == 3) {
      EXPECT_EQ(l.cable_length_m, 150);
    }
  }
}

TEST(IntentFileTest, MissingFileIsNotFound) {
  absl::StatusOr<Intent> intent = LoadIntentFile("/nonexistent/fabric.yaml");
  EXPECT_EQ(intent.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(intent.status().message()), HasSubstr("/nonexistent/fabric.yaml"));
}

// Each kind of mistake gives "file:line: field: ...".
struct ErrorCase {
  const char* name;
  const char* yaml;
  const char* prefix;  // "fabric.yaml:LINE: FIELD"
  const char* detail;
};

class IntentErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(IntentErrorTest, NamesFileLineAndField) {
  const ErrorCase& c = GetParam();
  absl::StatusOr<Intent> intent = ParseIntent(c.yaml, "fabric.yaml");
  ASSERT_FALSE(intent.ok()) << c.name;
  EXPECT_EQ(intent.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
  EXPECT_THAT(std::string(intent.status().message()), StartsWith(c.prefix)) << c.name;
  EXPECT_THAT(std::string(intent.status().message()), HasSubstr(c.detail)) << c.name;
}

constexpr char kLeafSpineHead[] =
    "name: x\n"
    "builder:\n"
    "  type: leaf-spine\n"
    "  spines: 2\n";

INSTANTIATE_TEST_SUITE_P(
    Errors, IntentErrorTest,
    ::testing::Values(
        ErrorCase{"syntax", "name: [unclosed\n", "fabric.yaml:", "syntax error"},
        ErrorCase{"empty", "", "fabric.yaml:1: intent", "empty"},
        ErrorCase{"not a map", "- a\n- b\n", "fabric.yaml:1: ", "expected a mapping"},
        ErrorCase{"unknown top key", "name: x\nfabrik: {}\n", "fabric.yaml:2: fabrik",
                  "unknown key"},
        ErrorCase{"neither", "name: x\n", "fabric.yaml:1: builder", "required"},
        ErrorCase{"both", "builder: {type: fat-tree}\nlinks: []\n", "fabric.yaml:2: builder",
                  "not both"},
        ErrorCase{"unknown builder", "builder:\n  type: torus\n", "fabric.yaml:2: builder.type",
                  "torus"},
        ErrorCase{"unknown builder key", "builder:\n  type: fat-tree\n  k: 4\n  pods: 4\n",
                  "fabric.yaml:4: builder.pods", "unknown key"},
        ErrorCase{"wrong type int",
                  "name: x\nbuilder:\n  type: leaf-spine\n  spines: 2\n  leaves: four\n",
                  "fabric.yaml:5: builder.leaves", "expected an integer, got 'four'"},
        ErrorCase{"builder param",
                  "name: x\nbuilder:\n  type: leaf-spine\n  spines: 2\n  leaves: 0\n"
                  "  servers_per_leaf: 2\n",
                  "fabric.yaml:5: builder.leaves", "at least 1"},
        ErrorCase{"builder param left out",
                  "name: x\nbuilder:\n  type: leaf-spine\n  spines: 2\n  servers_per_leaf: 2\n",
                  "fabric.yaml:3: builder.leaves", "at least 1"},
        ErrorCase{"odd k", "builder:\n  type: fat-tree\n  k: 5\n", "fabric.yaml:3: builder.k",
                  "even"},
        ErrorCase{"bad ratio",
                  "builder:\n  type: leaf-spine\n  leaves: 2\n  spines: 2\n"
                  "  servers_per_leaf: 2\n  oversubscription: 3\n",
                  "fabric.yaml:6: builder.oversubscription", "not a whole number"},
        ErrorCase{"ratio junk", "builder:\n  type: leaf-spine\n  oversubscription: lots\n",
                  "fabric.yaml:3: builder.oversubscription", "expected a positive ratio"},
        ErrorCase{"bad builder speed", "builder:\n  type: leaf-spine\n  host_speed: fast\n",
                  "fabric.yaml:3: builder.host_speed", "expected a speed"},
        ErrorCase{"bad spine mode", "builder:\n  type: rail-optimized\n  spine_mode: some\n",
                  "fabric.yaml:3: builder.spine_mode", "per-rail"},
        ErrorCase{"duplicate key", "builder:\n  type: fat-tree\n  k: 4\n  k: 6\n",
                  "fabric.yaml:4: builder.k", "twice"},
        ErrorCase{"link speed",
                  "switches:\n"
                  "  - {name: l0, role: leaf}\n"
                  "  - {name: s0, role: spine}\n"
                  "servers:\n"
                  "  - {name: h0}\n"
                  "links:\n"
                  "  - {a: \"h0/nic-0\", b: l0, speed: 100G}\n"
                  "  - {a: l0, b: s0, speed: fast}\n",
                  "fabric.yaml:8: links[1].speed", "expected a speed"},
        ErrorCase{"link unknown node",
                  "switches:\n  - {name: l0, role: leaf}\nlinks:\n"
                  "  - {a: l0, b: \"spine-9:1\", speed: 100G}\n",
                  "fabric.yaml:4: links[0].b", "no switch or NIC named 'spine-9'"},
        ErrorCase{"link bad port",
                  "switches:\n  - {name: l0, role: leaf}\n  - {name: s0, role: spine}\nlinks:\n"
                  "  - {a: \"l0:x\", b: s0, speed: 100G}\n",
                  "fabric.yaml:5: links[0].a", "port from 1"},
        ErrorCase{"link port too big",
                  "switches:\n  - {name: l0, role: leaf}\n  - {name: s0, role: spine}\nlinks:\n"
                  "  - {a: \"l0:2147483647\", b: s0, speed: 100G}\n",
                  "fabric.yaml:5: links[0].a", "port from 1 to 65535"},
        ErrorCase{"link port twice",
                  "switches:\n  - {name: l0, role: leaf}\n  - {name: s0, role: spine}\n"
                  "  - {name: s1, role: spine}\nlinks:\n"
                  "  - {a: \"l0:3\", b: s0, speed: 100G}\n"
                  "  - {a: \"l0:3\", b: s1, speed: 100G}\n",
                  "fabric.yaml:7: links[1].a", "port 3 of 'l0' is already used"},
        ErrorCase{"link tiers",
                  "switches:\n  - {name: l0, role: leaf}\n  - {name: l1, role: leaf}\nlinks:\n"
                  "  - {a: l0, b: l1, speed: 100G}\n",
                  "fabric.yaml:5: links[0]", "adjacent tiers"},
        ErrorCase{"link missing field",
                  "switches:\n  - {name: l0, role: leaf}\n  - {name: s0, role: spine}\nlinks:\n"
                  "  - {a: l0, b: s0}\n",
                  "fabric.yaml:5: links[0].speed", "required"},
        ErrorCase{"link unknown key",
                  "switches:\n  - {name: l0, role: leaf}\n  - {name: s0, role: spine}\nlinks:\n"
                  "  - {a: l0, b: s0, speed: 1G, colour: red}\n",
                  "fabric.yaml:5: links[0].colour", "unknown key"},
        ErrorCase{"bad role",
                  "switches:\n  - {name: l0, role: leaf}\n  - {name: r0, role: router}\n",
                  "fabric.yaml:3: switches[1].role", "router"},
        ErrorCase{"duplicate switch",
                  "switches:\n  - {name: l0, role: leaf}\n  - {name: l0, role: spine}\n",
                  "fabric.yaml:3: switches[1].name", "used twice"},
        ErrorCase{"duplicate dpid",
                  "switches:\n  - {name: l0, role: leaf, dpid: 7}\n"
                  "  - {name: s0, role: spine, dpid: 0x7}\n",
                  "fabric.yaml:3: switches[1].dpid", "already used by 'l0'"},
        ErrorCase{"bad dpid", "switches:\n  - {name: l0, role: leaf, dpid: 0xZZ}\n",
                  "fabric.yaml:2: switches[0].dpid", "datapath id"},
        ErrorCase{"switches not a list", "switches: {name: l0}\nlinks: []\n",
                  "fabric.yaml:1: switches", "non-empty list"},
        ErrorCase{"nic without link",
                  "switches:\n  - {name: l0, role: leaf}\n  - {name: s0, role: spine}\n"
                  "servers:\n  - {name: h0, nics: 2}\nlinks:\n"
                  "  - {a: \"h0/nic-0\", b: l0, speed: 100G}\n",
                  "fabric.yaml:5: servers[0]", "'h0/nic-1' has no link"},
        ErrorCase{"server nics range",
                  "switches:\n  - {name: l0, role: leaf}\nservers:\n  - {name: h0, nics: 0}\n",
                  "fabric.yaml:4: servers[0].nics", "between 1 and 64"},
        ErrorCase{"cable override unused",
                  "builder: {type: leaf-spine, leaves: 1, spines: 1, servers_per_leaf: 1}\n"
                  "cables:\n  overrides: {\"leaf-0:7\": 10}\n",
                  "fabric.yaml:3: cables.overrides.leaf-0:7", "names no link"},
        ErrorCase{"cable negative", "cables:\n  host_m: -1\n", "fabric.yaml:2: cables.host_m",
                  "0..100000"},
        ErrorCase{"controller priority",
                  "builder: {type: fat-tree}\ncontroller:\n  lossless_priority: 9\n",
                  "fabric.yaml:3: controller.lossless_priority", "between 0 and 7"},
        ErrorCase{"controller address",
                  "builder: {type: fat-tree}\ncontroller:\n  openflow_address: localhost\n",
                  "fabric.yaml:3: controller.openflow_address", "host:port"},
        ErrorCase{"name not string", "name: [a, b]\n", "fabric.yaml:1: name", "expected a string"}),
    [](const ::testing::TestParamInfo<ErrorCase>& info) {
      std::string n = info.param.name;
      for (char& ch : n) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return n;
    });

TEST(IntentTest, NameDefaultsToSourceAndControllerDefaultsApply) {
  absl::StatusOr<Intent> intent = ParseIntent("builder: {type: fat-tree, k: 2}\n", "inline-test");
  ASSERT_TRUE(intent.ok()) << intent.status();
  EXPECT_EQ(intent->name, "inline-test");
  EXPECT_EQ(intent->source, "inline-test");
  EXPECT_EQ(intent->controller.max_paths, 16);
  EXPECT_EQ(intent->fabric.servers().size(), 2u);
}

TEST(IntentTest, MultiPlaneRailOptimizedFromYaml) {
  absl::StatusOr<Intent> intent = ParseIntent(
      "builder:\n  type: rail-optimized\n  groups: 1\n  servers_per_group: 2\n  rails: 4\n"
      "  spines: 4\n  spine_mode: per-rail\n  planes: 2\n  host_speed: 400G\n"
      "  fabric_speed: 400Gbps\n",
      "inline");
  ASSERT_TRUE(intent.ok()) << intent.status();
  EXPECT_TRUE(intent->fabric.FindNode("p1-rail-0-3").ok());
  EXPECT_EQ(intent->fabric.switches().size(), 2u * (4u + 4u));
}

}  // namespace
}  // namespace pulse::topology

namespace pulse::topology {
namespace {

constexpr char kLabWithNames[] = R"(name: lab
builder: {type: leaf-spine, leaves: 2, spines: 1, servers_per_leaf: 2}
node_names:
  server-0: n1
  server-3: gpu-node-04
)";

TEST(IntentNodeNamesTest, MapsServersToSchedulerNames) {
  absl::StatusOr<Intent> intent = ParseIntent(kLabWithNames, "lab.yaml");
  ASSERT_TRUE(intent.ok()) << intent.status();
  EXPECT_EQ(intent->node_names.size(), 2u);
  EXPECT_EQ(intent->node_names.at("server-0"), "n1");
  EXPECT_EQ(intent->node_names.at("server-3"), "gpu-node-04");
}

TEST(IntentNodeNamesTest, RefusesUnknownServersDuplicatesAndBadNames) {
  const std::string head =
      "builder: {type: leaf-spine, leaves: 2, spines: 1, servers_per_leaf: 2}\n";
  struct Case {
    std::string yaml;
    std::string message;
  } cases[] = {
      {head + "node_names: {server-9: n9}\n", "lab.yaml:2: node_names.server-9: names no server"},
      {head + "node_names: {server-0: n1, server-1: n1}\n", "already given to server-0"},
      {head + "node_names: {server-0: 'bad name'}\n", "is not a node name"},
      {head + "node_names: {server-0: server-1}\n", "also the name of unmapped server server-1"},
      {head + "node_names: [n1]\n", "node_names: expected a mapping"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Intent> intent = ParseIntent(c.yaml, "lab.yaml");
    ASSERT_FALSE(intent.ok()) << c.yaml;
    EXPECT_THAT(std::string(intent.status().message()), ::testing::HasSubstr(c.message)) << c.yaml;
  }
}

TEST(IntentNodeNamesTest, SlurmExampleNamesEveryServer) {
  const char* src = std::getenv("PULSE_SOURCE_DIR");
  absl::StatusOr<Intent> intent =
      LoadIntentFile(std::string(src ? src : ".") + "/examples/slurm/lab-fabric.yaml");
  ASSERT_TRUE(intent.ok()) << intent.status();
  EXPECT_EQ(intent->node_names.size(), intent->fabric.servers().size());
  EXPECT_EQ(intent->node_names.at("server-7"), "n8");
}

}  // namespace
}  // namespace pulse::topology
