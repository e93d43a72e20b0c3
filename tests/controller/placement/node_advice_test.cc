#include "controller/placement/node_advice.h"

#include <memory>
#include <set>

#include "gtest/gtest.h"
#include "tests/controller/placement_test_fabrics.h"

namespace pulse::controller {
namespace {

using placement_testing::kGbps;
using placement_testing::LeafSpineFabric;

// 4 leaves x 4 single-GPU servers, one 100G uplink per leaf to one spine: 4:1 oversubscribed,
// so where a job lands decides whether it blocks.
class NodeAdviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<topology::Fabric> fabric = LeafSpineFabric(4, 1, 4);
    ASSERT_TRUE(fabric.ok()) << fabric.status();
    fabric_ = std::make_shared<const topology::Fabric>(*std::move(fabric));
    placement_ = std::make_unique<Placement>(fabric_);
    tiers_ = topology::ComputeTiers(*fabric_);
  }

  int BlockOf(topology::ServerId s) const { return tiers_.block_of_server[s]; }
  std::set<int> Blocks(const NodeAdvice& advice) const {
    std::set<int> blocks;
    for (topology::ServerId s : advice.servers) blocks.insert(BlockOf(s));
    return blocks;
  }
  void Place(const std::string& id, std::vector<std::string> endpoints, double rate = 0) {
    JobSpec spec;
    spec.id = id;
    spec.endpoints = std::move(endpoints);
    spec.rate_bps = rate;
    ASSERT_TRUE(placement_->PlaceJob(spec).ok());
  }

  std::shared_ptr<const topology::Fabric> fabric_;
  std::unique_ptr<Placement> placement_;
  topology::FabricTiers tiers_;
};

TEST_F(NodeAdviceTest, SmallJobStaysUnderOneLeafBestFit) {
  Place("a", {"server-0/gpu-0", "server-1/gpu-0"});  // leaf-0 keeps 2 free servers
  NodeAdviceRequest request;
  request.server_count = 2;
  absl::StatusOr<NodeAdvice> advice = SuggestServers(placement_.get(), tiers_, request);
  ASSERT_TRUE(advice.ok()) << advice.status();
  EXPECT_TRUE(advice->non_blocking);
  EXPECT_EQ(advice->leaves, 1);
  // Best fit: the half-used leaf-0, so the three empty leaves stay whole.
  EXPECT_EQ(advice->servers, (std::vector<topology::ServerId>{2, 3}));
  EXPECT_EQ(advice->endpoints, (std::vector<std::string>{"server-2/gpu-0", "server-3/gpu-0"}));
  EXPECT_EQ(advice->candidates_evaluated, 1);
  // The state is as it was.
  EXPECT_EQ(placement_->jobs().size(), 1u);
}

TEST_F(NodeAdviceTest, AvoidsLeavesWhoseUplinksOtherJobsFill) {
  // A line-rate job between leaf-0 and leaf-1 fills both their uplinks.
  Place("busy", {"server-0/gpu-0", "server-4/gpu-0"});
  const double load_before = placement_->MaxUtilisation();
  NodeAdviceRequest request;
  request.server_count = 6;
  request.rate_bps = 100 * kGbps;
  absl::StatusOr<NodeAdvice> advice = SuggestServers(placement_.get(), tiers_, request);
  ASSERT_TRUE(advice.ok()) << advice.status();
  EXPECT_TRUE(advice->non_blocking) << advice->reason;
  EXPECT_EQ(advice->leaves, 2);
  EXPECT_EQ(Blocks(*advice), (std::set<int>{2, 3})) << advice->reason;
  EXPECT_LE(advice->max_link_load, 1.0 + 1e-9);
  // The packed choice over leaf-0 or leaf-1 was never placed: its uplink cut bound alone is
  // above 100%.
  EXPECT_EQ(advice->candidates_evaluated, 1);
  // Rank order keeps each leaf's servers together: the ring crosses leaves twice.
  int crossings = 0;
  for (size_t i = 0; i < advice->servers.size(); ++i) {
    crossings +=
        BlockOf(advice->servers[i]) != BlockOf(advice->servers[(i + 1) % advice->servers.size()]);
  }
  EXPECT_EQ(crossings, 2);
  EXPECT_EQ(placement_->jobs().size(), 1u);
  EXPECT_DOUBLE_EQ(placement_->MaxUtilisation(), load_before);
}

TEST_F(NodeAdviceTest, SaysSoWhenNothingIsNonBlocking) {
  NodeAdviceRequest request;
  request.server_count = 8;
  request.pattern = CollectivePattern::kAllToAll;
  absl::StatusOr<NodeAdvice> advice = SuggestServers(placement_.get(), tiers_, request);
  ASSERT_TRUE(advice.ok()) << advice.status();
  EXPECT_FALSE(advice->non_blocking);
  EXPECT_GT(advice->max_link_load, 1.0);
  EXPECT_EQ(advice->servers.size(), 8u);
  EXPECT_NE(advice->reason.find("no non-blocking choice"), std::string::npos) << advice->reason;
  // At a tenth of the rate the same job fits.
  request.rate_bps = 10 * kGbps;
  advice = SuggestServers(placement_.get(), tiers_, request);
  ASSERT_TRUE(advice.ok());
  EXPECT_TRUE(advice->non_blocking) << advice->reason;
}

TEST_F(NodeAdviceTest, FreeListExcludeAndLeafLimit) {
  NodeAdviceRequest request;
  request.server_count = 2;
  request.all_unused = false;
  request.free = {1, 5, 6, 9};
  request.exclude = {6};
  absl::StatusOr<NodeAdvice> advice = SuggestServers(placement_.get(), tiers_, request);
  ASSERT_TRUE(advice.ok()) << advice.status();
  for (topology::ServerId s : advice->servers) {
    EXPECT_TRUE(s == 1 || s == 5 || s == 9) << s;
  }
  request.max_leaves = 1;  // 1, 5 and 9 sit on three different leaves
  EXPECT_TRUE(
      absl::IsResourceExhausted(SuggestServers(placement_.get(), tiers_, request).status()));
}

TEST_F(NodeAdviceTest, GpuCountAndBadRequests) {
  NodeAdviceRequest request;
  request.gpu_count = 3;
  absl::StatusOr<NodeAdvice> advice = SuggestServers(placement_.get(), tiers_, request);
  ASSERT_TRUE(advice.ok()) << advice.status();
  EXPECT_EQ(advice->servers.size(), 3u);
  EXPECT_EQ(advice->endpoints.size(), 3u);

  NodeAdviceRequest both = request;
  both.server_count = 2;
  EXPECT_TRUE(absl::IsInvalidArgument(SuggestServers(placement_.get(), tiers_, both).status()));
  NodeAdviceRequest none;
  EXPECT_TRUE(absl::IsInvalidArgument(SuggestServers(placement_.get(), tiers_, none).status()));
  NodeAdviceRequest too_many;
  too_many.server_count = 17;
  EXPECT_TRUE(
      absl::IsResourceExhausted(SuggestServers(placement_.get(), tiers_, too_many).status()));
  NodeAdviceRequest bad_server;
  bad_server.server_count = 1;
  bad_server.all_unused = false;
  bad_server.free = {99};
  EXPECT_TRUE(
      absl::IsInvalidArgument(SuggestServers(placement_.get(), tiers_, bad_server).status()));
}

TEST_F(NodeAdviceTest, ServersInUseFollowsJobs) {
  Place("a", {"server-3/gpu-0", "server-12/gpu-0"});
  std::vector<bool> used = ServersInUse(*placement_);
  EXPECT_TRUE(used[3]);
  EXPECT_TRUE(used[12]);
  EXPECT_FALSE(used[0]);
}

}  // namespace
}  // namespace pulse::controller
