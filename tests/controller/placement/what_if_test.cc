#include "controller/placement/what_if.h"

#include <memory>

#include "gtest/gtest.h"
#include "tests/controller/placement_test_fabrics.h"

namespace pulse::controller {
namespace {

using placement_testing::kGbps;
using placement_testing::LeafSpineFabric;

// The lab shape: 4 leaves x 2 servers, 2 spines, every link 100G (non-blocking).
class WhatIfTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<topology::Fabric> fabric = LeafSpineFabric(4, 2, 2);
    ASSERT_TRUE(fabric.ok()) << fabric.status();
    fabric_ = std::make_shared<const topology::Fabric>(*std::move(fabric));
    placement_ = std::make_unique<Placement>(fabric_);
    JobSpec ring;
    ring.id = "ring";
    for (int s = 0; s < 8; ++s) ring.endpoints.push_back("server-" + std::to_string(s) + "/gpu-0");
    ring.rate_bps = 50 * kGbps;
    ASSERT_TRUE(placement_->PlaceJob(ring).ok());
    JobSpec local;  // stays under leaf-3: no failure of a spine touches it
    local.id = "local";
    local.endpoints = {"server-6/gpu-0", "server-7/gpu-0"};
    local.rate_bps = 10 * kGbps;
    ASSERT_TRUE(placement_->PlaceJob(local).ok());
  }

  std::vector<topology::LinkId> LinksOf(const std::string& node) const {
    return fabric_->LinksOf(*fabric_->FindNode(node));
  }
  topology::LinkId Uplink(const std::string& leaf, int port) const {
    return *fabric_->LinkAtPort(*fabric_->FindNode(leaf), port);
  }

  std::shared_ptr<const topology::Fabric> fabric_;
  std::unique_ptr<Placement> placement_;
};

TEST_F(WhatIfTest, SpineLossMovesFlowsAndKeepsTheRingNonBlocking) {
  const std::vector<PlacedFlow> flows_before = placement_->FindJob("ring")->flows;
  Placement copy = placement_->DetachedCopy();
  absl::StatusOr<FailureImpact> impact = WhatIfLinksFail(&copy, LinksOf("spine-0"));
  ASSERT_TRUE(impact.ok()) << impact.status();
  EXPECT_EQ(impact->failed_links.size(), 4u);
  EXPECT_GT(impact->flows_moved, 0);
  EXPECT_EQ(impact->flows_unplaced, 0);
  ASSERT_EQ(impact->jobs.size(), 1u);
  EXPECT_EQ(impact->jobs[0].job_id, "ring");
  EXPECT_FALSE(impact->jobs[0].loses_non_blocking);
  EXPECT_LE(impact->max_link_load_after, 1.0 + 1e-9);
  EXPECT_TRUE(impact->jobs_losing_non_blocking.empty());
  // The original placement did not move.
  EXPECT_TRUE(placement_->link_status().IsUp(LinksOf("spine-0")[0]));
  const std::vector<PlacedFlow>& flows_after = placement_->FindJob("ring")->flows;
  ASSERT_EQ(flows_after.size(), flows_before.size());
  for (size_t i = 0; i < flows_after.size(); ++i) {
    EXPECT_EQ(flows_after[i].path, flows_before[i].path) << "flow " << i;
  }
}

TEST_F(WhatIfTest, LeafCutOffLosesNonBlocking) {
  Placement copy = placement_->DetachedCopy();
  // Both uplinks of leaf-0 (ports 3 and 4: after its two servers).
  absl::StatusOr<FailureImpact> impact =
      WhatIfLinksFail(&copy, {Uplink("leaf-0", 3), Uplink("leaf-0", 4), Uplink("leaf-0", 4)});
  ASSERT_TRUE(impact.ok()) << impact.status();
  EXPECT_EQ(impact->failed_links.size(), 2u);
  EXPECT_GT(impact->flows_unplaced, 0);
  EXPECT_EQ(impact->jobs_losing_non_blocking, std::vector<std::string>{"ring"});
}

TEST_F(WhatIfTest, OverloadAfterFailureIsReported) {
  // An all-to-all beside the ring fills the NICs (50G + 40G + the local 10G) and sends about
  // 119G out of each leaf: 59% of two uplinks, 119% of the one left when a spine goes.
  JobSpec big;
  big.id = "big";
  for (int s = 0; s < 8; ++s) big.endpoints.push_back("server-" + std::to_string(s) + "/gpu-0");
  big.pattern = CollectivePattern::kAllToAll;
  big.rate_bps = 40 * kGbps;
  ASSERT_TRUE(placement_->PlaceJob(big).ok());
  Placement copy = placement_->DetachedCopy();
  absl::StatusOr<FailureImpact> impact = WhatIfLinksFail(&copy, LinksOf("spine-1"));
  ASSERT_TRUE(impact.ok()) << impact.status();
  EXPECT_GT(impact->max_link_load_after, 1.0);
  EXPECT_FALSE(impact->jobs_losing_non_blocking.empty());
}

TEST_F(WhatIfTest, RefusesUnknownLinks) {
  Placement copy = placement_->DetachedCopy();
  EXPECT_TRUE(absl::IsInvalidArgument(WhatIfLinksFail(&copy, {9999}).status()));
}

}  // namespace
}  // namespace pulse::controller
