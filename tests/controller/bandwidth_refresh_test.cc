// Controller: bus-bandwidth predictions follow later changes on the job's links (jobs placed and
// deleted next to it, flows moved off a failed link), and only the jobs sharing a link are redone.
#include <cmath>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "controller/controller.h"
#include "gtest/gtest.h"
#include "tests/controller/path_test_fabrics.h"
#include "topology/fabric.h"

namespace pulse::controller {
namespace {

using topology::NodeId;

constexpr double k10G = 10e9;

// Two leaves, two spines, two single-NIC servers per leaf (NICs 0, 1 on leaf-0; 2, 3 on leaf-1),
// 10 Gb/s links; a real Controller.
class BandwidthRefreshTest : public ::testing::Test {
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
    absl::StatusOr<std::unique_ptr<Controller>> controller = Controller::Create(fabric_);
    ASSERT_TRUE(controller.ok()) << controller.status();
    controller_ = *std::move(controller);
  }

  std::string Nic(int i) const { return fabric_->node(nics_[i]).name; }

  void PlaceFlow(const std::string& id, int src, int dst) {
    JobSpec spec;
    spec.id = id;
    spec.endpoints = {Nic(src), Nic(dst)};
    spec.pattern = CollectivePattern::kExplicit;
    spec.explicit_flows = {ExplicitFlow{Nic(src), Nic(dst), 0}};
    absl::StatusOr<PlaceJobResult> placed = controller_->PlaceJob(spec).get();
    ASSERT_TRUE(placed.ok()) << placed.status();
    ASSERT_TRUE(placed->job.bandwidth.computed);
  }

  // The job's predicted bus-bandwidth fraction once every queued refresh has run.
  double Predicted(const std::string& id) {
    // Each barrier lets one more refresh batch run (a batch posts the next): enough of them
    // drain every batch these tests make.
    for (int i = 0; i < 8; ++i) controller_->Sync().get();
    // Held while `job` is read: a refresh may publish a newer snapshot and free this one.
    const SnapshotPtr snapshot = controller_->snapshot();
    const JobPlacement* job = snapshot->placement.FindJob(id);
    EXPECT_NE(job, nullptr) << id;
    if (job == nullptr || !job->bandwidth.computed) return -1;
    return job->bandwidth.predicted_busbw_fraction;
  }

  // The spine a one-flow job turns at.
  NodeId SpineOf(const std::string& id) {
    const SnapshotPtr snapshot = controller_->snapshot();  // keeps `job` alive
    const JobPlacement* job = snapshot->placement.FindJob(id);
    return fabric_->Head(job->flows[0].path.hops[1]);
  }

  NodeId leaf0_, leaf1_, spine0_, spine1_;
  std::vector<NodeId> nics_;
  std::shared_ptr<const topology::Fabric> fabric_;
  std::unique_ptr<Controller> controller_;
};

// A second job into the same NIC halves the first's prediction; deleting it restores it.
TEST_F(BandwidthRefreshTest, JobPlacedAndDeletedNextToAnotherRefreshesIt) {
  PlaceFlow("a", 0, 2);
  EXPECT_DOUBLE_EQ(Predicted("a"), 1.0);
  PlaceFlow("b", 1, 2);  // shares the channel into NIC 2
  EXPECT_NEAR(Predicted("a"), 0.5, 1e-3);
  EXPECT_NEAR(Predicted("b"), 0.5, 1e-3);
  ASSERT_TRUE(controller_->DeleteJob("b").get().ok());
  EXPECT_DOUBLE_EQ(Predicted("a"), 1.0);
}

// A job that shares no link with the change keeps its prediction untouched (not re-simulated).
TEST_F(BandwidthRefreshTest, JobsOnOtherLinksAreNotRedone) {
  PlaceFlow("a", 0, 2);
  const JobPlacement before = *controller_->snapshot()->placement.FindJob("a");
  PlaceFlow("c", 3, 1);  // leaf-1 -> leaf-0: no channel in common with a (leaf-0 -> leaf-1)
  const SnapshotPtr snapshot = controller_->snapshot();
  const std::vector<topology::DirectedLinkId> c_hops =
      snapshot->placement.FindJob("c")->flows[0].path.hops;
  EXPECT_EQ(JobsCrossing(snapshot->placement, c_hops), std::vector<std::string>{"c"});
  EXPECT_DOUBLE_EQ(Predicted("a"), before.bandwidth.predicted_busbw_fraction);
  EXPECT_DOUBLE_EQ(Predicted("c"), 1.0);
}

// Two flows on different spines; the other flow's uplink fails and it moves onto a's spine: a's
// prediction drops to half, although a itself never moved.
TEST_F(BandwidthRefreshTest, FlowsMovedByALinkFailureRefreshTheJobsTheyJoin) {
  PlaceFlow("a", 0, 2);
  PlaceFlow("d", 1, 3);
  ASSERT_NE(SpineOf("a"), SpineOf("d"));
  EXPECT_DOUBLE_EQ(Predicted("a"), 1.0);
  const topology::DirectedLinkId up =
      controller_->snapshot()->placement.FindJob("d")->flows[0].path.hops[1];
  controller_->OnLinkStatus(fabric_->LinkOf(up), false);
  controller_->Sync().get();
  EXPECT_EQ(SpineOf("d"), SpineOf("a"));
  EXPECT_NEAR(Predicted("a"), 0.5, 1e-3);
  EXPECT_NEAR(Predicted("d"), 0.5, 1e-3);
}

// A change touching more jobs than one refresh batch: every one of them is refreshed (in several
// tasks, so other requests are not held up behind all the simulations).
TEST_F(BandwidthRefreshTest, ManyJobsAreRefreshedInBatches) {
  for (int i = 0; i < 40; ++i) PlaceFlow("small-" + std::to_string(i), 0, 2);
  // 40 jobs at line rate into one NIC: each gets 1/40 (the last placed knows it already).
  for (int i = 0; i < 40; ++i) {
    EXPECT_NEAR(Predicted("small-" + std::to_string(i)), 1.0 / 40, 1e-3) << i;
  }
  for (int i = 1; i < 40; ++i) {
    ASSERT_TRUE(controller_->DeleteJob("small-" + std::to_string(i)).get().ok());
  }
  EXPECT_DOUBLE_EQ(Predicted("small-0"), 1.0);
}

// A request posted while refreshes are queued runs after at most one of them, not behind the
// backlog: posted from the reply of the change that queued 40 refreshes (so it waits before the
// first refresh task starts), its snapshot carries exactly one refreshed prediction. The others
// follow afterwards.
TEST_F(BandwidthRefreshTest, ARequestWaitingGoesBeforeTheRefreshBacklog) {
  for (int i = 0; i < 40; ++i) PlaceFlow("small-" + std::to_string(i), 0, 2);
  for (int i = 0; i < 40; ++i) {
    ASSERT_NEAR(Predicted("small-" + std::to_string(i)), 1.0 / 40, 1e-3) << i;
  }
  std::promise<SnapshotPtr> seen_by_next;
  JobSpec joins;  // one more flow into NIC 2: every small job's prediction drops to 1/41
  joins.id = "joins";
  joins.endpoints = {Nic(1), Nic(2)};
  joins.pattern = CollectivePattern::kExplicit;
  joins.explicit_flows = {ExplicitFlow{Nic(1), Nic(2), 0}};
  JobSpec elsewhere;  // shares no channel with them
  elsewhere.id = "elsewhere";
  elsewhere.endpoints = {Nic(3), Nic(1)};
  elsewhere.pattern = CollectivePattern::kExplicit;
  elsewhere.explicit_flows = {ExplicitFlow{Nic(3), Nic(1), 0}};
  controller_->PlaceJob(joins, [&](absl::StatusOr<PlaceJobResult> placed) {
    ASSERT_TRUE(placed.ok()) << placed.status();
    // On the controller thread, after the refreshes were queued.
    controller_->PlaceJob(elsewhere, [&](absl::StatusOr<PlaceJobResult> next) {
      EXPECT_TRUE(next.ok()) << next.status();
      seen_by_next.set_value(controller_->snapshot());
    });
  });
  const SnapshotPtr snapshot = seen_by_next.get_future().get();
  int refreshed = 0;
  for (int i = 0; i < 40; ++i) {
    const JobPlacement* job = snapshot->placement.FindJob("small-" + std::to_string(i));
    ASSERT_NE(job, nullptr);
    refreshed += std::abs(job->bandwidth.predicted_busbw_fraction - 1.0 / 41) < 1e-4;
  }
  EXPECT_EQ(refreshed, 1);
  for (int i = 0; i < 40; ++i) {
    EXPECT_NEAR(Predicted("small-" + std::to_string(i)), 1.0 / 41, 1e-4) << i;
  }
}

}  // namespace
}  // namespace pulse::controller
