#include "southbound/sflow/ovs_port_map.h"

#include "gtest/gtest.h"

namespace pulse::southbound::sflow {
namespace {

using nlohmann::json;

// What ovsdb-server answers to the three selects: bridge s1 (dpid 0x1) with ports p1, p2 and
// a port whose interface has no ofport yet; bridge s2 without a datapath id yet.
json Results() {
  return json::parse(R"([
    {"rows": [
      {"name": "s1", "datapath_id": "0000000000000001",
       "ports": ["set", [["uuid", "p1"], ["uuid", "p2"], ["uuid", "p3"]]]},
      {"name": "s2", "datapath_id": ["set", []], "ports": ["uuid", "p4"]}]},
    {"rows": [
      {"_uuid": ["uuid", "p1"], "interfaces": ["uuid", "i1"]},
      {"_uuid": ["uuid", "p2"], "interfaces": ["set", [["uuid", "i2"]]]},
      {"_uuid": ["uuid", "p3"], "interfaces": ["uuid", "i3"]},
      {"_uuid": ["uuid", "p4"], "interfaces": ["uuid", "i4"]}]},
    {"rows": [
      {"_uuid": ["uuid", "i1"], "ifindex": 41, "ofport": 1},
      {"_uuid": ["uuid", "i2"], "ifindex": 42, "ofport": 2},
      {"_uuid": ["uuid", "i3"], "ifindex": 43, "ofport": ["set", []]},
      {"_uuid": ["uuid", "i4"], "ifindex": 44, "ofport": 1}]}
  ])");
}

TEST(IfIndexMapFromOvsdbTest, MapsIfindexToDatapathAndOpenFlowPort) {
  absl::StatusOr<IfIndexMap> map = IfIndexMapFromOvsdb(Results());
  ASSERT_TRUE(map.ok()) << map.status();
  ASSERT_EQ(map->size(), 2u);
  EXPECT_EQ(map->at(41), (OvsPort{1, 1}));
  EXPECT_EQ(map->at(42), (OvsPort{1, 2}));
  EXPECT_EQ(map->count(43), 0u);  // no ofport yet
  EXPECT_EQ(map->count(44), 0u);  // its bridge has no datapath yet
}

TEST(IfIndexMapFromOvsdbTest, FailedInterfacesAndBadRowsAreSkipped) {
  json results = Results();
  results[2]["rows"][0]["ofport"] = -1;               // OVS's "failed to attach"
  results[2]["rows"][1]["ifindex"] = "not-a-number";  // junk from a confused peer
  results[0]["rows"].push_back(42);                   // not an object
  absl::StatusOr<IfIndexMap> map = IfIndexMapFromOvsdb(results);
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_TRUE(map->empty());
}

TEST(IfIndexMapFromOvsdbTest, MalformedResultsAreAnError) {
  for (const char* text : {R"([])", R"({"rows": []})", R"([{"rows": []}, {"rows": []}])",
                           R"([{"rows": 1}, {"rows": []}, {"rows": []}])", R"("x")"}) {
    absl::StatusOr<IfIndexMap> map = IfIndexMapFromOvsdb(json::parse(text));
    EXPECT_FALSE(map.ok()) << text;
    if (!map.ok()) {
      EXPECT_NE(map.status().message().find("ovsdb"), absl::string_view::npos);
    }
  }
}

}  // namespace
}  // namespace pulse::southbound::sflow

namespace pulse::southbound::sflow {
namespace {

// Bridges named by datapath ids that are neither 1..N nor in node order: the port map must name
// them by the fabric node the OpenFlow datapath map gives, not by anything the id suggests.
openflow::DatapathMap ArbitraryDatapaths() {
  return openflow::DatapathMap({{3, 0x00000000a1b2c3d4}, {0, 0xfeedfacecafe0001}, {5, 0x2}});
}

TEST(ToFabricPortTest, BridgeDatapathIdBecomesItsFabricNode) {
  const openflow::DatapathMap datapaths = ArbitraryDatapaths();
  EXPECT_EQ(ToFabricPort(OvsPort{0x00000000a1b2c3d4, 7}, datapaths), (switches::PortKey{3, 7}));
  EXPECT_EQ(ToFabricPort(OvsPort{0xfeedfacecafe0001, 1}, datapaths), (switches::PortKey{0, 1}));
  EXPECT_EQ(ToFabricPort(OvsPort{0x2, 4}, datapaths), (switches::PortKey{5, 4}));
  EXPECT_FALSE(ToFabricPort(OvsPort{0x3, 4}, datapaths).has_value());  // not in the intent
}

TEST(OvsSflowPortMapTest, UnknownSwitchesAndIfindexesAreCountedAndDropped) {
  IfIndexMap ports;
  ports[41] = OvsPort{0x00000000a1b2c3d4, 1};
  ports[42] = OvsPort{0x00000000a1b2c3d4, 2};
  ports[50] = OvsPort{0xdeadbeef, 1};  // a bridge on this host that the fabric does not list
  std::unique_ptr<OvsSflowPortMap> map = OvsSflowPortMap::FromMap(ports, ArbitraryDatapaths());
  EXPECT_EQ(map->Resolve(41), (switches::PortKey{3, 1}));
  EXPECT_EQ(map->Resolve(42), (switches::PortKey{3, 2}));
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(map->Resolve(50).has_value());
  EXPECT_FALSE(map->Resolve(99).has_value());  // no OVS interface has it
  const OvsSflowPortMapStats stats = map->stats();
  EXPECT_EQ(stats.resolved, 2u);
  EXPECT_EQ(stats.unknown_switch, 3u);
  EXPECT_EQ(stats.unknown_ifindex, 1u);
  EXPECT_FALSE(map->Refresh().ok());  // nothing to re-read
}

}  // namespace
}  // namespace pulse::southbound::sflow
