// HealthActuator against a real Controller: a storm's root link isolated once and returned, a gray
// link's flows re-placed off it (the link stays usable), dry-run / cap / repeated events ignored.
#include "controller/health/health_actions.h"

#include "gtest/gtest.h"
#include "tests/northbound/test_fabric.h"

namespace pulse::controller {
namespace {

class HealthActionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fabric_ = testing::SmallLeafSpine();
    auto controller = Controller::Create(fabric_);
    ASSERT_TRUE(controller.ok()) << controller.status();
    controller_ = *std::move(controller);
    JobSpec job;
    job.id = "train";
    job.endpoints = {"server-0/nic-0", "server-2/nic-0"};
    job.rate_bps = 10e9;
    job.traffic_class = 3;
    ASSERT_TRUE(controller_->PlaceJob(job).get().ok());
    // The leaf-0 uplink a flow crosses.
    const SnapshotPtr snapshot = controller_->snapshot();  // alive while iterated
    for (topology::DirectedLinkId d : snapshot->placement.FindJob("train")->flows[0].path.hops) {
      const topology::Link& l = fabric_->link(Fabric::LinkOf(d));
      if (fabric_->node(l.a.node).is_switch() && fabric_->node(l.b.node).is_switch()) {
        uplink_ = Fabric::LinkOf(d);
        break;
      }
    }
    ASSERT_NE(uplink_, topology::kNoLink);
  }
  int FlowsOn(topology::LinkId link) const {
    int n = 0;
    const SnapshotPtr snapshot = controller_->snapshot();  // alive while iterated
    for (const auto& [id, job] : snapshot->placement.jobs()) {
      for (const PlacedFlow& f : job.flows) {
        for (topology::DirectedLinkId d : f.path.hops) n += Fabric::LinkOf(d) == link;
      }
    }
    return n;
  }
  HealthEvent Opened(uint64_t id, IncidentKind kind, bool applied) const {
    HealthEvent e;
    e.incident.id = id;
    e.incident.kind = kind;
    e.incident.root_link = uplink_;
    e.incident.action =
        kind == IncidentKind::kPfcStorm ? HealthAction::kIsolateLink : HealthAction::kReplaceFlows;
    e.incident.applied = applied;
    return e;
  }

  std::shared_ptr<const topology::Fabric> fabric_;
  std::unique_ptr<Controller> controller_;
  topology::LinkId uplink_ = topology::kNoLink;
};

TEST_F(HealthActionsTest, StormIsolatesOnceAndCloseReturnsTheLink) {
  HealthActuator actuator(controller_.get());
  ASSERT_GT(FlowsOn(uplink_), 0);
  HealthEvent open = Opened(1, IncidentKind::kPfcStorm, true);
  std::optional<HealthActionOutcome> out = actuator.Apply(open);
  ASSERT_TRUE(out.has_value());
  EXPECT_TRUE(out->applied) << out->detail;
  EXPECT_GT(out->flows_moved, 0);
  EXPECT_EQ(FlowsOn(uplink_), 0);
  EXPECT_TRUE(controller_->snapshot()->link_isolated[uplink_]);
  EXPECT_FALSE(controller_->snapshot()->LinkUsable(uplink_));
  EXPECT_EQ(actuator.isolated_links(), 1u);
  // The same incident again (a repeated event): nothing more.
  EXPECT_FALSE(actuator.Apply(open).has_value());
  // A new job avoids the isolated link.
  JobSpec more;
  more.id = "more";
  more.endpoints = {"server-1/nic-0", "server-3/nic-0"};
  more.rate_bps = 10e9;
  ASSERT_TRUE(controller_->PlaceJob(more).get().ok());
  EXPECT_EQ(FlowsOn(uplink_), 0);

  HealthEvent closed = open;
  closed.type = HealthEvent::Type::kClosed;
  out = actuator.Apply(closed);
  ASSERT_TRUE(out.has_value());
  EXPECT_TRUE(out->applied) << out->detail;
  EXPECT_FALSE(controller_->snapshot()->link_isolated[uplink_]);
  EXPECT_TRUE(controller_->snapshot()->LinkUsable(uplink_));
  EXPECT_EQ(actuator.isolated_links(), 0u);
  EXPECT_FALSE(actuator.Apply(closed).has_value());
}

TEST_F(HealthActionsTest, GrayLinkFlowsMoveOffAndTheLinkStaysUsable) {
  HealthActuator actuator(controller_.get());
  const int before = FlowsOn(uplink_);
  ASSERT_GT(before, 0);
  std::optional<HealthActionOutcome> out = actuator.Apply(Opened(2, IncidentKind::kGrayLink, true));
  ASSERT_TRUE(out.has_value());
  EXPECT_TRUE(out->applied) << out->detail;
  EXPECT_EQ(out->flows_moved, before);
  EXPECT_EQ(FlowsOn(uplink_), 0);
  EXPECT_TRUE(controller_->snapshot()->LinkUsable(uplink_));
  // Closing a re-placement returns nothing (nothing was isolated).
  HealthEvent closed = Opened(2, IncidentKind::kGrayLink, true);
  closed.type = HealthEvent::Type::kClosed;
  EXPECT_FALSE(actuator.Apply(closed).has_value());
}

TEST_F(HealthActionsTest, DryRunAndCapReachedDoNothing) {
  HealthActuator actuator(controller_.get());
  const int before = FlowsOn(uplink_);
  EXPECT_FALSE(actuator.Apply(Opened(3, IncidentKind::kPfcStorm, /*applied=*/false)).has_value());
  HealthEvent capped = Opened(4, IncidentKind::kPfcStorm, false);
  capped.incident.action = HealthAction::kNone;
  capped.incident.cap_reached = true;
  EXPECT_FALSE(actuator.Apply(capped).has_value());
  EXPECT_EQ(FlowsOn(uplink_), before);
  EXPECT_FALSE(controller_->snapshot()->link_isolated[uplink_]);
}

TEST_F(HealthActionsTest, ControllerRefusalsAreReported) {
  // Isolated by someone else first: the controller refuses a second isolation.
  ASSERT_TRUE(controller_->IsolateLink(uplink_, true, "operator").get().ok());
  HealthActuator actuator(controller_.get());
  std::optional<HealthActionOutcome> out = actuator.Apply(Opened(5, IncidentKind::kPfcStorm, true));
  ASSERT_TRUE(out.has_value());
  EXPECT_FALSE(out->applied);
  EXPECT_NE(out->detail.find("already isolated"), std::string::npos) << out->detail;
  EXPECT_EQ(controller_->IsolateLink(9999, true, "x").get().status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pulse::controller
