// Addresses in the fabric model: parsing, the address plans, and NIC objects in intent files.
#include "topology/addresses.h"

#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "topology/builders.h"
#include "topology/intent.h"

namespace pulse::topology {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(AddressesTest, ParsesAndFormats) {
  EXPECT_EQ(FormatIpv4(ParseIpv4("10.1.2.3").value()), "10.1.2.3");
  Ipv4Prefix p = ParseIpv4Prefix("10.1.2.3/24").value();
  EXPECT_EQ(p.length, 24);
  EXPECT_EQ(FormatIpv4(p.Network()), "10.1.2.0");
  EXPECT_TRUE(p.Contains(ParseIpv4("10.1.2.200").value()));
  EXPECT_FALSE(p.Contains(ParseIpv4("10.1.3.1").value()));
  EXPECT_EQ(FormatMac(ParseMac("0c:42:A1:00:00:01").value()), "0c:42:a1:00:00:01");
  for (const char* bad : {"10.1.2", "10.1.2.256", "a.b.c.d", "10.1.2.3.4", ""}) {
    EXPECT_FALSE(ParseIpv4(bad).ok()) << bad;
  }
  EXPECT_THAT(std::string(ParseIpv4Prefix("fd00::1/64").status().message()), HasSubstr("IPv6"));
  EXPECT_THAT(std::string(ParseMac("00:00:00:00:00:00").status().message()), HasSubstr("zero"));
  EXPECT_THAT(std::string(ParseMac("01:00:5e:00:00:01").status().message()),
              HasSubstr("multicast"));
  EXPECT_THAT(std::string(ParseMac("ff:ff:ff:ff:ff:ff").status().message()),
              HasSubstr("multicast"));
  EXPECT_FALSE(ParseMac("0c:42:a1:00:00").ok());
}

TEST(AddressPlanTest, MininetPlanIsTheLabDefault) {
  LeafSpineParams p;
  p.leaves = 2;
  p.spines = 1;
  p.servers_per_leaf = 2;
  Fabric f = LeafSpine(p).value();
  EXPECT_EQ(FormatIpv4(f.node(f.nics()[0]).ipv4), "10.0.0.1");
  EXPECT_EQ(f.node(f.nics()[3]).mac, 4u);
  EXPECT_EQ(f.node(f.nics()[3]).ipv4_prefix_length, 8);
  EXPECT_EQ(f.FindNicByIpv4(ParseIpv4("10.0.0.4").value()), f.nics()[3]);
}

TEST(AddressPlanTest, PerLeafGivesEachLeafABlock) {
  LeafSpineParams p;
  p.leaves = 4;
  p.spines = 2;
  p.servers_per_leaf = 3;
  p.address_plan =
      AddressPlan{AddressPlanKind::kPerLeaf, ParseIpv4Prefix("10.8.0.0/16").value(), 24};
  Fabric f = LeafSpine(p).value();
  std::set<uint32_t> ips;
  for (NodeId nic : f.nics()) {
    const Node& n = f.node(nic);
    const NodeId leaf = f.Peer(f.LinksOf(nic)[0], nic);
    const int leaf_index = std::stoi(f.node(leaf).name.substr(5));
    EXPECT_EQ((n.ipv4 >> 8) & 0xff, static_cast<uint32_t>(leaf_index)) << n.name;
    EXPECT_EQ(n.ipv4 >> 16, 0x0a08u);
    EXPECT_EQ(n.ipv4_prefix_length, 24);
    EXPECT_EQ(n.mac, PlannedMac(n.ipv4));
    EXPECT_TRUE(ips.insert(n.ipv4).second);
  }
  EXPECT_EQ(FormatIpv4(f.node(f.nics()[0]).ipv4), "10.8.0.1");
  EXPECT_EQ(FormatMac(f.node(f.nics()[0]).mac), "02:00:0a:08:00:01");
}

TEST(AddressPlanTest, PerLeafTooSmallIsAnError) {
  LeafSpineParams p;
  p.leaves = 5;
  p.spines = 1;
  p.servers_per_leaf = 1;
  p.address_plan =
      AddressPlan{AddressPlanKind::kPerLeaf, ParseIpv4Prefix("10.8.0.0/22").value(), 24};
  auto f = LeafSpine(p);
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(std::string(f.status().message()), HasSubstr("holds 4 blocks of /24"));
  p.leaves = 1;
  p.servers_per_leaf = 3;
  p.address_plan.block_length = 30;  // 2 usable hosts
  f = LeafSpine(p);
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(std::string(f.status().message()), HasSubstr("more NICs than its block"));
}

constexpr char kExplicit[] = R"(name: own
switches:
  - {name: l0, role: leaf, dpid: 0x100}
  - {name: l1, role: leaf, dpid: 0x101}
  - {name: s0, role: spine, dpid: 0x200}
servers:
  - {name: a, nics: [{ip: 10.1.0.10/24, mac: "0c:42:a1:00:00:01"}]}
  - {name: b, nics: [{ip: 10.1.1.10/24}]}
  - {name: c}
links:
  - {a: "a/nic-0", b: "l0:3", speed: 100G}
  - {a: "b/nic-0", b: "l1:3", speed: 100G}
  - {a: "c/nic-0", b: "l1:4", speed: 100G}
  - {a: "l0:1", b: "s0:1", speed: 100G}
  - {a: "l1:1", b: "s0:2", speed: 100G}
)";

TEST(IntentAddressesTest, NicObjectsCarryAddressesAndTheRestIsLearned) {
  Intent intent = ParseIntent(kExplicit, "own.yaml").value();
  const Fabric& f = intent.fabric;
  const Node& a = f.node(f.FindNode("a/nic-0").value());
  EXPECT_EQ(FormatIpv4(a.ipv4), "10.1.0.10");
  EXPECT_EQ(a.ipv4_prefix_length, 24);
  EXPECT_EQ(FormatMac(a.mac), "0c:42:a1:00:00:01");
  const Node& b = f.node(f.FindNode("b/nic-0").value());
  EXPECT_EQ(FormatIpv4(b.ipv4), "10.1.1.10");
  EXPECT_EQ(b.mac, 0u);  // learned
  const Node& c = f.node(f.FindNode("c/nic-0").value());
  EXPECT_EQ(c.ipv4, 0u);  // explicit fabrics have no plan unless they ask for one
  EXPECT_EQ(f.address_plan().kind, AddressPlanKind::kNone);
  // Endpoints by address.
  EXPECT_EQ(f.ResolveEndpoint("10.1.1.10").value(), f.FindNode("b/nic-0").value());
  EXPECT_EQ(f.ResolveEndpoint("10.1.1.99").status().code(), absl::StatusCode::kNotFound);
}

TEST(IntentAddressesTest, PerLeafPlanOnAnExplicitFabric) {
  std::string yaml = kExplicit;
  yaml += "address_plan: {type: per-leaf, base: 10.1.0.0/16, block: 24}\n";
  Intent intent = ParseIntent(yaml, "own.yaml").value();
  const Fabric& f = intent.fabric;
  EXPECT_EQ(FormatIpv4(f.node(f.FindNode("c/nic-0").value()).ipv4), "10.1.1.1");
  EXPECT_EQ(f.node(f.FindNode("b/nic-0").value()).ipv4_prefix_length, 24);
}

TEST(IntentAddressesTest, BuilderTakesThePlan) {
  Intent intent = ParseIntent(
                      "builder: {type: leaf-spine, leaves: 2, spines: 1, servers_per_leaf: 2}\n"
                      "address_plan: {type: per-leaf, base: 172.16.0.0/12, block: 26}\n",
                      "x.yaml")
                      .value();
  const Fabric& f = intent.fabric;
  EXPECT_EQ(FormatIpv4(f.node(f.nics()[2]).ipv4), "172.16.0.65");
  Intent none = ParseIntent(
                    "builder: {type: leaf-spine, leaves: 2, spines: 1, servers_per_leaf: 2}\n"
                    "address_plan: none\n",
                    "x.yaml")
                    .value();
  EXPECT_EQ(none.fabric.node(none.fabric.nics()[0]).ipv4, 0u);
}

struct AddressErrorCase {
  const char* name;
  std::string yaml;
  const char* prefix;
  const char* detail;
};

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  s.replace(s.find(from), from.size(), to);
  return s;
}

TEST(IntentAddressesTest, BadAddressesNameFileLineAndField) {
  const std::string base = kExplicit;
  const AddressErrorCase cases[] = {
      {"duplicate ip", Replace(base, "10.1.1.10/24}", "10.1.0.10/24}"),
       "own.yaml:8: servers[1].nics[0].ip", "also the address of 'a/nic-0'"},
      {"duplicate mac", Replace(base, "10.1.1.10/24}", "10.1.1.10/24, mac: \"0c:42:a1:00:00:01\"}"),
       "own.yaml:8: servers[1].nics[0].mac", "also the MAC of 'a/nic-0'"},
      {"malformed ip", Replace(base, "10.1.1.10/24", "10.1.1/24"),
       "own.yaml:8: servers[1].nics[0].ip", "expected an IPv4 address"},
      {"ipv6", Replace(base, "10.1.1.10/24", "\"fd00::1/64\""), "own.yaml:8: servers[1].nics[0].ip",
       "IPv6, which is not supported yet"},
      {"network address", Replace(base, "10.1.1.10/24", "10.1.1.0/24"),
       "own.yaml:8: servers[1].nics[0].ip", "not a usable host address"},
      {"multicast mac", Replace(base, "0c:42:a1:00:00:01", "01:00:5e:00:00:01"),
       "own.yaml:7: servers[0].nics[0].mac", "multicast"},
      {"zero mac", Replace(base, "0c:42:a1:00:00:01", "00:00:00:00:00:00"),
       "own.yaml:7: servers[0].nics[0].mac", "zero MAC"},
      {"unknown nic key", Replace(base, "{ip: 10.1.1.10/24}", "{ip: 10.1.1.10/24, vlan: 3}"),
       "own.yaml:8: servers[1].nics[0].vlan", "unknown key"},
      {"outside its leaf's block",
       Replace(base, "10.1.1.10/24", "10.1.0.11/24") +
           "address_plan: {type: per-leaf, base: 10.1.0.0/16, block: 24}\n",
       "own.yaml:8: servers[1].nics[0].ip", "outside the block 10.1.1.0/24 of its leaf 'l1'"},
      {"plan base ipv6", base + "address_plan: {type: per-leaf, base: \"fd00::/48\", block: 64}\n",
       "own.yaml:16: address_plan.base", "IPv6"},
      {"plan block", base + "address_plan: {type: per-leaf, base: 10.1.0.0/16, block: 8}\n",
       "own.yaml:16: address_plan.block", "longer than the base"},
      {"plan unknown", base + "address_plan: dhcp\n", "own.yaml:16: address_plan",
       "unknown address plan 'dhcp'"},
      {"plan too small", base + "address_plan: {type: per-leaf, base: 10.1.0.0/24, block: 25}\n",
       "own.yaml:8: servers[1].nics[0].ip",
       "NIC 'b/nic-0': 10.1.1.10 is outside the block 10.1.0.128/25 of its leaf 'l1'"},
  };
  for (const AddressErrorCase& c : cases) {
    absl::StatusOr<Intent> intent = ParseIntent(c.yaml, "own.yaml");
    ASSERT_FALSE(intent.ok()) << c.name;
    EXPECT_EQ(intent.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(std::string(intent.status().message()), StartsWith(c.prefix)) << c.name;
    EXPECT_THAT(std::string(intent.status().message()), HasSubstr(c.detail)) << c.name;
  }
}

}  // namespace
}  // namespace pulse::topology
