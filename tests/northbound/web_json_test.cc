// The web view's JSON documents, built from a real controller on a small leaf-spine.
#include "northbound/web_json.h"

#include <cmath>
#include <limits>
#include <set>

#include "gtest/gtest.h"
#include "tests/northbound/test_fabric.h"

namespace pulse::northbound {
namespace {

using nlohmann::json;

class WebJsonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fabric_ = testing::SmallLeafSpine(/*leaves=*/2, /*spines=*/2, /*servers_per_leaf=*/2);
    auto created = controller::Controller::Create(fabric_);
    ASSERT_TRUE(created.ok()) << created.status();
    controller_ = *std::move(created);
  }

  void PlacePair(const std::string& id) {
    controller::JobSpec spec;
    spec.id = id;
    spec.endpoints = {"server-0/gpu-0", "server-2/gpu-0"};
    spec.pattern = controller::CollectivePattern::kExplicit;
    spec.explicit_flows = {{"server-0/gpu-0", "server-2/gpu-0", 0}};
    spec.rate_bps = 40e9;
    auto placed = controller_->PlaceJob(spec).get();
    ASSERT_TRUE(placed.ok()) << placed.status();
  }

  std::shared_ptr<const topology::Fabric> fabric_;
  std::unique_ptr<controller::Controller> controller_;
};

TEST_F(WebJsonTest, TopologyListsSwitchesTiersAndSwitchLinksOnly) {
  json topo = TopologyJson(*controller_->snapshot());
  ASSERT_EQ(topo["switches"].size(), 4u);
  // Leaf-spine: 2 x 2 switch links; the 4 NIC links are summarised per leaf.
  ASSERT_EQ(topo["links"].size(), 4u);
  EXPECT_EQ(topo["servers"], 4);
  EXPECT_EQ(topo["nics"], 4);
  std::set<std::string> leaves, spines;
  for (const json& sw : topo["switches"]) {
    if (sw["role"] == "leaf") {
      leaves.insert(sw["name"].get<std::string>());
      EXPECT_EQ(sw["level"], 1);
      EXPECT_EQ(sw["servers"], 2);
      EXPECT_EQ(sw["nics"], 2);
      EXPECT_EQ(sw["nic_links_down"], 0);
    } else {
      spines.insert(sw["name"].get<std::string>());
      EXPECT_EQ(sw["role"], "spine");
      EXPECT_EQ(sw["level"], 2);
      EXPECT_EQ(sw["servers"], 0);
    }
    EXPECT_FALSE(sw["drained"]);
    EXPECT_FALSE(sw["connected"]);  // planning mode
    EXPECT_EQ(sw["dpid"].get<std::string>().size(), 16u);
  }
  EXPECT_EQ(leaves, (std::set<std::string>{"leaf-0", "leaf-1"}));
  for (const json& link : topo["links"]) {
    EXPECT_EQ(link["capacity_bps"], 100'000'000'000);
    EXPECT_EQ(leaves.count(link["a"].get<std::string>()), 1u) << link;
    EXPECT_EQ(spines.count(link["b"].get<std::string>()), 1u) << link;
  }
  EXPECT_EQ(topo["planes"], json::array({0}));
  EXPECT_TRUE(topo["rails"].empty());
}

TEST_F(WebJsonTest, LinksCarryPlannedLoadDownAndDrainedState) {
  PlacePair("pair");
  ASSERT_TRUE(controller_->DrainSwitch("spine-1").get().ok());
  // leaf-1 port 4 goes to spine-1 (ports 1-2: servers, 3: spine-0).
  const topology::LinkId cut = *fabric_->LinkAtPort(*fabric_->FindNode("leaf-1"), 4);
  controller_->OnLinkStatus(cut, false);
  controller_->Sync().wait();

  json links = LinksJson(*controller_->snapshot(), {}, /*include_nic_links=*/false);
  ASSERT_EQ(links["links"].size(), 4u);
  EXPECT_FALSE(links["measured"]);
  EXPECT_FALSE(links["discovery"]["available"]);
  double planned_total = 0;
  int down = 0, drained = 0;
  for (const json& link : links["links"]) {
    EXPECT_EQ(link["discovery"], "unknown");
    EXPECT_FALSE(link.contains("measured_bps"));
    planned_total += link["planned_bps"][0].get<double>() + link["planned_bps"][1].get<double>();
    if (!link["up"].get<bool>()) {
      ++down;
      EXPECT_EQ(link["id"], cut);
      EXPECT_FALSE(link["drained"]);
    }
    if (link["drained"].get<bool>()) {
      ++drained;
      EXPECT_EQ(link["b"], "spine-1");
      EXPECT_FALSE(link["usable"]);
    }
  }
  EXPECT_EQ(down, 1);
  EXPECT_EQ(drained, 1);  // spine-1's other link is the cut one: down wins
  // The 40G flow crosses leaf-0 -> spine-0 -> leaf-1 on the only usable spine.
  EXPECT_DOUBLE_EQ(planned_total, 80e9);
  json all = LinksJson(*controller_->snapshot(), {}, /*include_nic_links=*/true);
  EXPECT_EQ(all["links"].size(), fabric_->links().size());
}

TEST_F(WebJsonTest, MeasuredLoadAndDiscoveryVerdictsWhenGiven) {
  std::vector<double> measured(fabric_->num_directed_links(),
                               std::numeric_limits<double>::quiet_NaN());
  const topology::LinkId hot = *fabric_->LinkAtPort(*fabric_->FindNode("leaf-0"), 3);
  measured[topology::Fabric::Directed(hot, 0)] = 25e9;
  controller::DiscoveryReport report;
  report.probe_rounds = 3;
  const topology::LinkId missing = *fabric_->LinkAtPort(*fabric_->FindNode("leaf-1"), 4);
  report.diff.missing.push_back(missing);
  report.diff.missing.push_back(99999);  // from another fabric: ignored, not a crash
  report.description = "missing: ...";
  WebLiveInputs live{&measured, &report};

  json links = LinksJson(*controller_->snapshot(), live, false);
  EXPECT_TRUE(links["measured"]);
  EXPECT_TRUE(links["discovery"]["available"]);
  for (const json& link : links["links"]) {
    if (link["id"] == hot) {
      EXPECT_DOUBLE_EQ(link["measured_bps"][0].get<double>(), 25e9);
      EXPECT_DOUBLE_EQ(link["measured_utilisation"][0].get<double>(), 0.25);
      EXPECT_TRUE(link["measured_bps"][1].is_null());
    } else {
      EXPECT_FALSE(link.contains("measured_bps"));
    }
    EXPECT_EQ(link["discovery"], link["id"] == missing ? "missing" : "ok");
  }
}

TEST_F(WebJsonTest, JobDetailListsPathsLinksAndPrediction) {
  PlacePair("pair");
  json jobs = JobsJson(*controller_->snapshot());
  ASSERT_EQ(jobs["jobs"].size(), 1u);
  EXPECT_EQ(jobs["jobs"][0]["id"], "pair");
  EXPECT_EQ(jobs["jobs"][0]["flows"], 1);
  EXPECT_DOUBLE_EQ(jobs["jobs"][0]["predicted_bps"].get<double>(), 40e9);

  absl::StatusOr<json> job = JobJson(*controller_->snapshot(), "pair", {}, 10);
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_EQ((*job)["flows_listed"].size(), 1u);
  const json& flow = (*job)["flows_listed"][0];
  EXPECT_EQ(flow["src"], "server-0/nic-0");
  EXPECT_EQ(flow["dst"], "server-2/nic-0");
  // NIC -> leaf -> spine -> leaf -> NIC.
  EXPECT_EQ(flow["path"].size(), 4u);
  EXPECT_EQ((*job)["links"].size(), 4u);
  for (const json& link : (*job)["links"]) {
    EXPECT_DOUBLE_EQ(link["job_bps"][0].get<double>() + link["job_bps"][1].get<double>(), 40e9);
  }
  EXPECT_FALSE((*job)["flows_truncated"]);
  EXPECT_FALSE((*job)["measured"]["available"]);

  absl::StatusOr<json> truncated = JobJson(*controller_->snapshot(), "pair", {}, 0);
  ASSERT_TRUE(truncated.ok());
  EXPECT_TRUE((*truncated)["flows_listed"].empty());
  EXPECT_TRUE((*truncated)["flows_truncated"]);
  EXPECT_EQ((*truncated)["links"].size(), 4u);  // links still cover every flow

  EXPECT_EQ(JobJson(*controller_->snapshot(), "nope", {}, 10).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(WebEventsJsonTest, ReadsAfterASequenceAndReportsGaps) {
  controller::EventLog log(3);
  EXPECT_TRUE(EventsJson(log, 0, 10)["events"].empty());
  for (int i = 0; i < 5; ++i) log.Append(controller::EventType::kLinkDown, "l", "d");
  json after3 = EventsJson(log, 3, 10);
  ASSERT_EQ(after3["events"].size(), 2u);
  EXPECT_EQ(after3["events"][0]["sequence"], 4);
  EXPECT_EQ(after3["events"][0]["type"], "link-down");
  EXPECT_FALSE(after3["gap"]);
  json old = EventsJson(log, 1, 10);  // 2 was forgotten: starts at the oldest held (3)
  EXPECT_TRUE(old["gap"]);
  EXPECT_EQ(old["events"][0]["sequence"], 3);
  EXPECT_TRUE(EventsJson(log, 5, 10)["events"].empty());
  EXPECT_EQ(EventsJson(log, 2, 1)["events"].size(), 1u);
}

}  // namespace
}  // namespace pulse::northbound
