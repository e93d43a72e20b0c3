#include "northbound/topology_export.h"

#include <map>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/northbound/test_fabric.h"

namespace pulse::northbound {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class TopologyExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fabric_ = pulse::testing::SmallLeafSpine(4, 2, 2);
    snapshot_ = std::make_unique<controller::ControllerSnapshot>(fabric_);
    snapshot_->link_up.assign(fabric_->links().size(), true);
    snapshot_->switch_connected.assign(fabric_->nodes().size(), false);
    snapshot_->switch_drained.assign(fabric_->nodes().size(), false);
    snapshot_->event_sequence = 7;
    tiers_ = topology::ComputeTiers(*fabric_);
    for (int i = 0; i < 8; ++i) {
      names_["server-" + std::to_string(i)] = "n" + std::to_string(i + 1);
    }
  }

  std::string Export(ExportFormat format, int* degraded = nullptr) {
    ExportInput in;
    in.snapshot = snapshot_.get();
    in.tiers = &tiers_;
    in.node_names = &names_;
    in.fabric_name = "lab";
    return ExportTopology(in, format, degraded);
  }

  void LinkDown(const std::string& node, int port) {
    topology::LinkId l = *fabric_->LinkAtPort(*fabric_->FindNode(node), port);
    snapshot_->link_up[l] = false;
    ASSERT_TRUE(snapshot_->placement.SetLinkUp(l, false).ok());
  }

  void Drain(const std::string& name) {
    topology::NodeId sw = *fabric_->FindNode(name);
    snapshot_->switch_drained[sw] = true;
    for (topology::LinkId l : fabric_->LinksOf(sw)) {
      ASSERT_TRUE(snapshot_->placement.SetLinkUp(l, false).ok());
    }
  }

  std::shared_ptr<const topology::Fabric> fabric_;
  std::unique_ptr<controller::ControllerSnapshot> snapshot_;
  topology::FabricTiers tiers_;
  std::map<std::string, std::string> names_;
};

TEST_F(TopologyExportTest, SlurmTreeOfLeavesUnderTheSpines) {
  int degraded = -1;
  const std::string text = Export(ExportFormat::kSlurm, &degraded);
  EXPECT_EQ(degraded, 0);
  EXPECT_THAT(text, HasSubstr("at event 7"));
  EXPECT_THAT(text, HasSubstr("\nSwitchName=leaf-0 Nodes=n[1-2]\n"));
  EXPECT_THAT(text, HasSubstr("\nSwitchName=leaf-3 Nodes=n[7-8]\n"));
  EXPECT_THAT(text, HasSubstr("\nSwitchName=spines-0 Switches=leaf-[0-3]\n"));
}

TEST_F(TopologyExportTest, DegradedBlockIsCommentedAndIsolatedBlockLeftOut) {
  LinkDown("leaf-1", 3);  // one of leaf-1's two uplinks
  Drain("leaf-2");
  int degraded = 0;
  const std::string text = Export(ExportFormat::kSlurm, &degraded);
  EXPECT_EQ(degraded, 2);
  EXPECT_THAT(text, HasSubstr("# leaf-1 degraded: leaf-1:3 <-> spine-0:2 down\n"));
  EXPECT_THAT(text, HasSubstr("# leaf-2 isolated: leaf-2 drained\n"));
  EXPECT_THAT(text, HasSubstr("\nSwitchName=spines-0 Switches=leaf-[0-1,3]\n"));

  const std::string labels = Export(ExportFormat::kK8sLabels);
  EXPECT_THAT(labels, HasSubstr("name: n5\n    labels:\n"));
  EXPECT_THAT(labels, HasSubstr("network.topology.pulse.io/state: \"isolated\""));
  EXPECT_THAT(labels, HasSubstr("network.topology.pulse.io/state: \"degraded\""));

  const std::string volcano = Export(ExportFormat::kVolcano);
  EXPECT_THAT(volcano, HasSubstr("name: leaf-2\n  annotations:\n    pulse.io/state: isolated\n"));
  // The tier-2 HyperNode lists leaf-0, leaf-1 and leaf-3 only.
  const size_t tier2 = volcano.find("tier: 2");
  ASSERT_NE(tier2, std::string::npos);
  EXPECT_THAT(volcano.substr(tier2), Not(HasSubstr("name: leaf-2")));
  EXPECT_THAT(volcano.substr(tier2), HasSubstr("name: leaf-3"));

  nlohmann::json j = nlohmann::json::parse(Export(ExportFormat::kJson));
  EXPECT_EQ(j["blocks"][1]["state"], "degraded");
  EXPECT_EQ(j["blocks"][1]["usable_uplinks"], 1);
  EXPECT_EQ(j["blocks"][2]["state"], "isolated");
}

TEST_F(TopologyExportTest, K8sLabelsOnePerTier) {
  const std::string text = Export(ExportFormat::kK8sLabels);
  EXPECT_THAT(text, HasSubstr("kind: List\nitems:\n- apiVersion: v1\n  kind: Node\n"));
  EXPECT_THAT(text, HasSubstr("    name: n3\n    labels:\n"
                              "      network.topology.pulse.io/fabric: \"lab\"\n"
                              "      network.topology.pulse.io/spine: \"spines-0\"\n"
                              "      network.topology.pulse.io/leaf: \"leaf-1\"\n"
                              "      network.topology.pulse.io/plane: \"plane-0\"\n"
                              "      network.topology.pulse.io/state: \"ok\"\n"));
}

TEST_F(TopologyExportTest, VolcanoHyperNodesByTier) {
  const std::string text = Export(ExportFormat::kVolcano);
  EXPECT_THAT(text, HasSubstr("kind: HyperNode\nmetadata:\n  name: leaf-0\n"));
  EXPECT_THAT(text, HasSubstr("spec:\n  tier: 1\n  members:\n  - type: Node\n    selector:\n"
                              "      exactMatch:\n        name: n1\n"));
  EXPECT_THAT(text, HasSubstr("metadata:\n  name: spines-0\nspec:\n  tier: 2\n  members:\n"
                              "  - type: HyperNode\n"));
}

TEST_F(TopologyExportTest, JsonGraphCarriesServersSwitchesAndLinks) {
  nlohmann::json j = nlohmann::json::parse(Export(ExportFormat::kJson));
  EXPECT_EQ(j["fabric"], "lab");
  EXPECT_EQ(j["event_sequence"], 7);
  EXPECT_EQ(j["switches"].size(), 6u);
  EXPECT_EQ(j["links"].size(), fabric_->links().size());
  ASSERT_EQ(j["servers"].size(), 8u);
  EXPECT_EQ(j["servers"][2]["node_name"], "n3");
  EXPECT_EQ(j["servers"][2]["block"], "leaf-1");
  EXPECT_EQ(j["servers"][2]["gpus"][0], "server-2/gpu-0");
  EXPECT_EQ(j["spine_groups"][0]["blocks"].size(), 4u);
}

TEST(SlurmHostlistTest, CompressesRunsAndKeepsPadding) {
  EXPECT_EQ(SlurmHostlist({"n3", "n1", "n2", "n5"}), "n[1-3,5]");
  EXPECT_EQ(SlurmHostlist({"gpu07", "gpu08", "login"}), "gpu[07-08],login");
  EXPECT_EQ(SlurmHostlist({"leaf-0"}), "leaf-0");
  EXPECT_EQ(SlurmHostlist({}), "");
}

TEST(K8sLabelValueTest, ValidAndBounded) {
  EXPECT_EQ(K8sLabelValue("leaf-0"), "leaf-0");
  EXPECT_EQ(K8sLabelValue("a b/c"), "a-b-c");
  const std::string long_value = K8sLabelValue(std::string(100, 'x'));
  EXPECT_LE(long_value.size(), 63u);
  EXPECT_EQ(long_value, K8sLabelValue(std::string(100, 'x')));  // stable
  EXPECT_NE(long_value, K8sLabelValue(std::string(99, 'x') + "y"));
}

TEST(ExportFormatTest, ParsesNames) {
  EXPECT_EQ(*ParseExportFormat("slurm"), ExportFormat::kSlurm);
  EXPECT_EQ(*ParseExportFormat("k8s-labels"), ExportFormat::kK8sLabels);
  EXPECT_FALSE(ParseExportFormat("xml").ok());
}

}  // namespace
}  // namespace pulse::northbound
