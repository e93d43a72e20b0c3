#include "southbound/sonic/config_db.h"

#include "controller/qos/qos_plan.h"
#include "gtest/gtest.h"
#include "topology/builders.h"

namespace pulse::southbound::sonic {
namespace {

constexpr int64_t kG = 1000000000LL;

controller::QosPlan Plan() {
  topology::FabricBuilder b;
  auto leaf = b.AddSwitch("leaf-0", topology::SwitchRole::kLeaf);
  auto spine = b.AddSwitch("spine-0", topology::SwitchRole::kSpine);
  auto server = b.AddServer("server-0");
  b.AddLink(b.AddNic(server, 0), leaf, 400 * kG);
  b.AddLink(leaf, spine, 400 * kG, 40);
  return *controller::PlanQos(*std::move(b).Build(), controller::DefaultQosPolicy());
}

TEST(ConfigDbTest, PlanEntriesUseTheSwitchsPortNamesAndHash) {
  PortNaming naming;
  naming.aliases = {{2, "Ethernet256"}};
  switches::EcmpHashModel hash;
  hash.fields = switches::kHashSrcIp | switches::kHashDstIp | switches::kHashSrcPort;
  hash.algorithm = switches::HashAlgorithm::kXorFold;
  absl::StatusOr<ConfigDbEntries> e = PlanConfigDbEntries(Plan(), "leaf-0", naming, &hash);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_TRUE(e->count("PORT_QOS_MAP|Ethernet0"));
  EXPECT_TRUE(e->count("PORT_QOS_MAP|Ethernet256"));
  EXPECT_FALSE(e->count("PORT_QOS_MAP|Ethernet8"));
  EXPECT_TRUE(e->count("BUFFER_PG|Ethernet256|3-4"));
  EXPECT_EQ(e->at("CABLE_LENGTH|AZURE").at("Ethernet256"), "40m");
  EXPECT_EQ(e->at("SWITCH_HASH|GLOBAL").at("ecmp_hash@"), "SRC_IP,DST_IP,L4_SRC_PORT");
  EXPECT_EQ(e->at("SWITCH_HASH|GLOBAL").at("ecmp_hash_algorithm"), "XOR");
  naming.aliases = {{1, "Ethernet8"}};  // collides with port 2's stride name
  EXPECT_FALSE(PlanConfigDbEntries(Plan(), "leaf-0", naming, nullptr).ok());
  EXPECT_FALSE(PlanConfigDbEntries(Plan(), "leaf-9", PortNaming{}, nullptr).ok());
}

TEST(ConfigDbTest, JsonListsBecomeAtFieldsAndBadValuesAreRefused) {
  nlohmann::json j = {
      {"T", {{"k", {{"a", "1"}, {"l", {"x", "y"}}}}, {"e", nlohmann::json::object()}}}};
  absl::StatusOr<ConfigDbEntries> e = EntriesFromConfigDbJson(j);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->at("T|k").at("l@"), "x,y");
  EXPECT_EQ(e->at("T|e").at("NULL"), "NULL");
  j["T"]["k"]["n"] = 3;
  absl::StatusOr<ConfigDbEntries> bad = EntriesFromConfigDbJson(j);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("T|k field n"), absl::string_view::npos);
}

TEST(ConfigDbTest, DiffNamesMissingKeysFieldsAndValues) {
  ConfigDbEntries want = {{"A|1", {{"f", "1"}, {"g", "2"}}}, {"B|1", {{"f", "1"}}}};
  ConfigDbEntries have = {{"A|1", {{"f", "9"}, {"extra", "x"}}}};
  std::vector<EntryDifference> d = DiffEntries(want, have);
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].ToString(), "A|1 f: want '1', have '9'");
  EXPECT_EQ(d[1].ToString(), "A|1 g: missing, want '2'");
  EXPECT_EQ(d[2].ToString(), "B|1: missing");
}

}  // namespace
}  // namespace pulse::southbound::sonic
