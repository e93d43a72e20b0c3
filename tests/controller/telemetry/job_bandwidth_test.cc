#include "controller/telemetry/job_bandwidth.h"

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/controller/path_test_fabrics.h"
#include "topology/fabric.h"

namespace pulse::controller {
namespace {

using topology::DirectedLinkId;
using topology::NodeId;

constexpr double k10G = 10e9;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Two leaves, two spines, two single-NIC servers per leaf, 10 Gb/s links.
class JobBandwidthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<topology::Fabric> built = testing::BuildLeafSpine(
        /*leaves=*/2, /*spines=*/2, /*servers_per_leaf=*/2,
        /*uplinks_per_spine=*/1, /*nics_per_server=*/1, static_cast<int64_t>(k10G));
    ASSERT_TRUE(built.ok()) << built.status();
    fabric_ = std::make_shared<const topology::Fabric>(*std::move(built));
    leaf0_ = fabric_->FindNode("leaf-0").value();
    leaf1_ = fabric_->FindNode("leaf-1").value();
    spine0_ = fabric_->FindNode("spine-0").value();
    spine1_ = fabric_->FindNode("spine-1").value();
    nics_ = fabric_->nics();
    placement_ = std::make_unique<Placement>(fabric_);
  }

  std::string Nic(int i) const { return fabric_->node(nics_[i]).name; }

  // The channel from node a to node b.
  DirectedLinkId Channel(NodeId a, NodeId b) const {
    for (topology::LinkId link : fabric_->LinksOf(a)) {
      const DirectedLinkId out = fabric_->DirectedFrom(link, a);
      if (fabric_->Head(out) == b) return out;
    }
    ADD_FAILURE() << "no channel";
    return 0;
  }

  void PlaceFlows(const std::string& id, const std::vector<std::pair<int, int>>& pairs,
                  double rate_bps = 0) {
    JobSpec spec;
    spec.id = id;
    spec.pattern = CollectivePattern::kExplicit;
    for (int i = 0; i < 4; ++i) spec.endpoints.push_back(Nic(i));
    for (const auto& [s, d] : pairs) spec.explicit_flows.push_back(ExplicitFlow{Nic(s), Nic(d), 0});
    spec.rate_bps = rate_bps;
    absl::StatusOr<const JobPlacement*> placed = placement_->PlaceJob(spec);
    ASSERT_TRUE(placed.ok()) << placed.status();
  }

  // Loads as a switch would report them when each flow of `job` runs at `rate_bps` on its path.
  void AddPlannedTraffic(const std::string& job, double rate_bps, std::vector<double>& load) {
    for (const PlacedFlow& flow : placement_->FindJob(job)->flows) {
      for (DirectedLinkId hop : flow.path.hops) load[hop] += rate_bps;
    }
  }

  std::vector<double> Zero() const { return std::vector<double>(fabric_->num_directed_links(), 0); }

  NodeId leaf0_, leaf1_, spine0_, spine1_;
  std::vector<NodeId> nics_;
  std::shared_ptr<const topology::Fabric> fabric_;
  std::unique_ptr<Placement> placement_;
};

TEST_F(JobBandwidthTest, FlowsAtTheirPlannedRateDeliverOne) {
  PlaceFlows("perm", {{0, 2}, {1, 3}});
  std::vector<double> load = Zero();
  AddPlannedTraffic("perm", k10G, load);
  const JobBandwidthMap m = MeasureJobBandwidth(*placement_, load, 1234);
  ASSERT_EQ(m.count("perm"), 1u);
  const MeasuredJobBandwidth& perm = m.at("perm");
  EXPECT_TRUE(perm.measured);
  EXPECT_EQ(perm.flows, 2u);
  EXPECT_EQ(perm.flows_measured, 2u);
  EXPECT_DOUBLE_EQ(perm.planned_bps, 2 * k10G);
  EXPECT_DOUBLE_EQ(perm.delivered_bps, 2 * k10G);
  EXPECT_DOUBLE_EQ(perm.delivered_fraction, 1.0);
  EXPECT_DOUBLE_EQ(perm.measured_busbw_fraction, 1.0);
  EXPECT_EQ(perm.time_ms, 1234);
}

// The switches hash both flows onto spine-0 although the plan spreads them: each gets half. The
// delivered rate is read on the destination NICs' channels, so the planned spine-1 link's idle
// counters do not matter.
TEST_F(JobBandwidthTest, CollisionOffThePlannedPathsIsSeenAtTheDestination) {
  PlaceFlows("perm", {{0, 2}, {1, 3}});
  std::vector<double> load = Zero();
  for (auto [s, d] : std::vector<std::pair<int, int>>{{0, 2}, {1, 3}}) {
    load[Channel(nics_[s], leaf0_)] += k10G;
    load[Channel(leaf1_, nics_[d])] += k10G / 2;
  }
  load[Channel(leaf0_, spine0_)] = k10G;
  load[Channel(spine0_, leaf1_)] = k10G;
  const MeasuredJobBandwidth perm = MeasureJobBandwidth(*placement_, load).at("perm");
  EXPECT_DOUBLE_EQ(perm.delivered_fraction, 0.5);
  EXPECT_DOUBLE_EQ(perm.measured_busbw_fraction, 0.5);
}

// One flow at full rate, the other at a quarter: delivered is the mean, busbw the slowest.
TEST_F(JobBandwidthTest, BusbwFollowsTheSlowestFlow) {
  PlaceFlows("perm", {{0, 2}, {1, 3}});
  std::vector<double> load = Zero();
  load[Channel(leaf1_, nics_[2])] = k10G;
  load[Channel(leaf1_, nics_[3])] = k10G / 4;
  const MeasuredJobBandwidth perm = MeasureJobBandwidth(*placement_, load).at("perm");
  EXPECT_DOUBLE_EQ(perm.delivered_fraction, 0.625);
  EXPECT_DOUBLE_EQ(perm.measured_busbw_fraction, 0.25);
}

// Two jobs' flows end on one NIC: its channel's load is shared by planned rate (3:1).
TEST_F(JobBandwidthTest, FlowsIntoOneNicShareItsChannelByPlannedRate) {
  PlaceFlows("big", {{0, 2}}, 7.5e9);
  PlaceFlows("small", {{1, 2}}, 2.5e9);
  std::vector<double> load = Zero();
  load[Channel(leaf1_, nics_[2])] = 8e9;
  const JobBandwidthMap m = MeasureJobBandwidth(*placement_, load);
  EXPECT_DOUBLE_EQ(m.at("big").delivered_bps, 6e9);
  EXPECT_DOUBLE_EQ(m.at("small").delivered_bps, 2e9);
  EXPECT_DOUBLE_EQ(m.at("big").delivered_fraction, 0.8);
  EXPECT_DOUBLE_EQ(m.at("small").delivered_fraction, 0.8);
}

// Without the destination channel, the flow's bottleneck share over its measured hops counts;
// without any measured hop the job is not measured (and says so rather than reading 0).
TEST_F(JobBandwidthTest, UnmeasuredLastHopFallsBackAndNothingMeasuredSaysSo) {
  PlaceFlows("one", {{0, 2}});
  std::vector<double> load(fabric_->num_directed_links(), kNaN);
  EXPECT_FALSE(MeasureJobBandwidth(*placement_, load).at("one").measured);
  EXPECT_FALSE(MeasureJobBandwidth(*placement_, {}).at("one").measured);
  const PlacedFlow& flow = placement_->FindJob("one")->flows[0];
  ASSERT_EQ(flow.path.hops.size(), 4u);
  load[flow.path.hops[0]] = 9e9;
  load[flow.path.hops[1]] = 6e9;
  const MeasuredJobBandwidth one = MeasureJobBandwidth(*placement_, load).at("one");
  EXPECT_TRUE(one.measured);
  EXPECT_DOUBLE_EQ(one.delivered_bps, 6e9);
  EXPECT_DOUBLE_EQ(one.measured_busbw_fraction, 0.6);
}

// Pairs on one server have no fabric path: a job made only of them is not listed.
TEST_F(JobBandwidthTest, JobsWithoutFabricFlowsAreLeftOut) {
  EXPECT_TRUE(MeasureJobBandwidth(*placement_, Zero()).empty());
}

}  // namespace
}  // namespace pulse::controller
