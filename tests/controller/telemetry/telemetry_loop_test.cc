#include "controller/telemetry/telemetry_loop.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "controller/controller.h"
#include "controller/telemetry/metrics.h"
#include "gtest/gtest.h"
#include "tests/controller/path_test_fabrics.h"
#include "topology/fabric.h"

namespace pulse::controller {
namespace {

using topology::DirectedLinkId;
using topology::NodeId;
using topology::SwitchRole;

constexpr double k10G = 10e9;

// Two leaves, two spines, two single-NIC servers per leaf, 10 Gb/s links; a real Controller; a
// fluid model of the data plane that turns the controller's current placement (plus optional
// background traffic) into switch port counters, as a switch would report them.
class TelemetryLoopTest : public ::testing::Test {
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
    tx_bytes_.assign(fabric_->links().size() * 2, 0);
  }

  topology::LinkId LinkBetween(NodeId a, NodeId b) const {
    for (topology::LinkId link : fabric_->LinksOf(a)) {
      const DirectedLinkId out = fabric_->DirectedFrom(link, a);
      if (fabric_->Head(out) == b) return link;
    }
    ADD_FAILURE() << "no link";
    return 0;
  }

  std::string Nic(int i) const { return fabric_->node(nics_[i]).name; }

  // Places a one-flow job from NIC `src` to NIC `dst` at line rate.
  void PlaceFlow(const std::string& id, int src, int dst, bool strict) {
    JobSpec spec;
    spec.id = id;
    spec.endpoints = {Nic(src), Nic(dst)};
    spec.pattern = CollectivePattern::kExplicit;
    spec.explicit_flows = {ExplicitFlow{Nic(src), Nic(dst), 0}};
    spec.strict = strict;
    absl::StatusOr<PlaceJobResult> placed = controller_->PlaceJob(spec).get();
    ASSERT_TRUE(placed.ok()) << placed.status();
    ASSERT_EQ(placed->job.flows.size(), 1u);
  }

  // The spine job `id`'s only flow turns at.
  NodeId SpineOf(const std::string& id) const {
    const SnapshotPtr snapshot = controller_->snapshot();  // keeps `job` alive
    const JobPlacement* job = snapshot->placement.FindJob(id);
    if (job == nullptr) return topology::kNoNode;
    for (DirectedLinkId hop : job->flows[0].path.hops) {
      if (fabric_->node(fabric_->Head(hop)).role == SwitchRole::kSpine) return fabric_->Head(hop);
    }
    return topology::kNoNode;
  }

  // Puts job `id`'s flow on the path through `spine` (through the API under test).
  void Force(const std::string& id, NodeId spine) {
    const SnapshotPtr snap = controller_->snapshot();
    const PlacedFlow& flow = snap->placement.FindJob(id)->flows[0];
    absl::StatusOr<std::vector<Path>> paths =
        UpDownPaths(*fabric_, snap->placement.link_status(), flow.src, flow.dst);
    ASSERT_TRUE(paths.ok()) << paths.status();
    for (const Path& p : *paths) {
      for (DirectedLinkId hop : p.hops) {
        if (fabric_->Head(hop) != spine) continue;
        absl::StatusOr<MoveFlowsResult> moved =
            controller_->MoveFlows({FlowMoveRequest{id, 0, p}}, "test setup").get();
        ASSERT_TRUE(moved.ok()) << moved.status();
        ASSERT_EQ(moved->moved.size(), 1u);
        return;
      }
    }
    FAIL() << "no path via " << fabric_->node(spine).name;
  }

  // Fluid model: every flow sends at line rate and gets an equal share of its most shared hop.
  // Returns the flows' combined throughput, and advances the channels' tx byte counters by `dt_ms`.
  double Advance(int64_t dt_ms) {
    // With lag, the data plane follows the placement one step late (as counters do on OVS).
    const SnapshotPtr snap = lag_ && lagged_ != nullptr ? lagged_ : controller_->snapshot();
    lagged_ = controller_->snapshot();
    std::vector<int> count(tx_bytes_.size(), 0);
    for (const auto& [id, job] : snap->placement.jobs()) {
      for (const PlacedFlow& f : job.flows) {
        for (DirectedLinkId hop : f.path.hops) ++count[hop];
      }
    }
    std::vector<double> rate_bps(tx_bytes_.size(), 0);
    double total_bps = 0;
    for (const auto& [id, job] : snap->placement.jobs()) {
      for (const PlacedFlow& f : job.flows) {
        int most = 1;
        for (DirectedLinkId hop : f.path.hops) most = std::max(most, count[hop]);
        const double rate = k10G / most;
        total_bps += rate;
        for (DirectedLinkId hop : f.path.hops) rate_bps[hop] += rate;
      }
    }
    for (const auto& [hop, bps] : background_bps_) rate_bps[hop] += bps;
    for (size_t d = 0; d < tx_bytes_.size(); ++d) {
      tx_bytes_[d] += static_cast<uint64_t>(std::min(rate_bps[d], k10G) / 8 * dt_ms / 1000);
    }
    return total_bps;
  }

  // Every switch's port counters: a port's tx is the channel leaving it, rx the one arriving.
  void Report(TelemetryLoop& loop, int64_t now_ms) {
    for (NodeId sw : {leaf0_, leaf1_, spine0_, spine1_}) {
      std::vector<southbound::PortCounters> counters;
      for (topology::LinkId link : fabric_->LinksOf(sw)) {
        const DirectedLinkId out = fabric_->DirectedFrom(link, sw);
        southbound::PortCounters c;
        c.port = static_cast<southbound::PortNo>(fabric_->TailPort(out));
        c.tx_bytes = tx_bytes_[out];
        c.rx_bytes = tx_bytes_[out ^ 1];
        counters.push_back(c);
      }
      loop.Ingest(sw, counters, now_ms);
    }
  }

  // Runs the loop for `seconds` of simulated time (counters every 500 ms, a tick every 1 s,
  // each batch of moves applied before the next step); returns the flows' combined throughput
  // at the end.
  double Run(TelemetryLoop& loop, int seconds) {
    double total = 0;
    for (int step = 0; step < seconds * 2; ++step) {
      now_ms_ += 500;
      total = Advance(500);
      Report(loop, now_ms_);
      if (now_ms_ % tick_ms_ == 0) {
        loop.Tick(now_ms_);
        controller_->Sync().get();
      }
    }
    return total;
  }

  int JobMovedEvents() const {
    absl::StatusOr<std::vector<Event>> events = controller_->events().ReadFrom(1, 10000);
    EXPECT_TRUE(events.ok()) << events.status();
    int n = 0;
    for (const Event& e : *events) n += e.type == EventType::kJobMoved ? 1 : 0;
    return n;
  }

  std::unique_ptr<TelemetryLoop> MakeLoop(MetricsRegistry* registry = nullptr) {
    TelemetryLoopOptions options;
    options.period_ms = 1000;
    options.congestion.hold_ms = 2000;
    options.congestion.move_interval_ms = 5000;
    options.congestion.flow_cooldown_ms = 10000;
    absl::StatusOr<std::unique_ptr<TelemetryLoop>> loop =
        TelemetryLoop::Create(controller_.get(), options, registry);
    EXPECT_TRUE(loop.ok()) << loop.status();
    return loop.ok() ? *std::move(loop) : nullptr;
  }

  NodeId leaf0_, leaf1_, spine0_, spine1_;
  std::vector<NodeId> nics_;
  std::shared_ptr<const topology::Fabric> fabric_;
  std::unique_ptr<Controller> controller_;
  std::vector<uint64_t> tx_bytes_;
  std::map<DirectedLinkId, double> background_bps_;
  int64_t now_ms_ = 100000;
  bool lag_ = false;
  SnapshotPtr lagged_;
  int64_t tick_ms_ = 1000;
};

TEST_F(TelemetryLoopTest, SeparatesTwoFlowsCollidingOnOneSpineAndDoesNotFlap) {
  PlaceFlow("a", 0, 2, false);
  PlaceFlow("b", 1, 3, false);
  Force("a", spine0_);
  Force("b", spine0_);
  ASSERT_EQ(SpineOf("a"), spine0_);
  ASSERT_EQ(SpineOf("b"), spine0_);
  const int moved_events_before = JobMovedEvents();

  MetricsRegistry registry;
  std::unique_ptr<TelemetryLoop> loop = MakeLoop(&registry);
  ASSERT_NE(loop, nullptr);
  // Two 10 Gb/s flows share one 10 Gb/s spine path: 10 Gb/s combined.
  const double before_bps = Advance(0);
  EXPECT_DOUBLE_EQ(before_bps, k10G);

  // Detected after the 2 s hold, acted on at the next tick.
  double after_bps = 0;
  int seconds = 0;
  while (SpineOf("a") == SpineOf("b") && seconds < 10) after_bps = Run(*loop, 1), ++seconds;
  EXPECT_NE(SpineOf("a"), SpineOf("b")) << "not separated within 10 s";
  EXPECT_LE(seconds, 4);
  after_bps = Run(*loop, 2);
  EXPECT_GE(after_bps, 1.8 * before_bps);
  EXPECT_EQ(loop->stats().moves_applied, 1u);
  EXPECT_EQ(JobMovedEvents(), moved_events_before + 1);
  double moves = 0;
  ASSERT_TRUE(registry.GetValue(kFlowMovesTotal, {"congestion"}, &moves).ok());
  EXPECT_EQ(moves, 1);

  // No flapping: a minute later the flows have not moved again.
  const NodeId a = SpineOf("a");
  const NodeId b = SpineOf("b");
  Run(*loop, 60);
  EXPECT_EQ(SpineOf("a"), a);
  EXPECT_EQ(SpineOf("b"), b);
  EXPECT_EQ(loop->stats().moves_applied, 1u);
  // The links stay full (each flow alone at line rate keeps them hot), yet nothing more is even
  // attempted: no flow has a strictly better path.
  EXPECT_EQ(loop->stats().moves_requested, 1u);
}

// Counters that show a move only a step later must not make the loop move the partner flow off
// the collision's other hot link (both links of the shared spine path are hot).
TEST_F(TelemetryLoopTest, LaggingCountersDoNotMoveBothFlows) {
  lag_ = true;
  tick_ms_ = 500;
  PlaceFlow("a", 0, 2, false);
  PlaceFlow("b", 1, 3, false);
  Force("a", spine0_);
  Force("b", spine0_);
  std::unique_ptr<TelemetryLoop> loop = MakeLoop();
  ASSERT_NE(loop, nullptr);
  Run(*loop, 20);
  EXPECT_NE(SpineOf("a"), SpineOf("b"));
  EXPECT_EQ(loop->stats().moves_applied, 1u);
}

TEST_F(TelemetryLoopTest, ExportsMeasuredUtilisationPerLink) {
  PlaceFlow("a", 0, 2, false);
  const NodeId spine = SpineOf("a");
  MetricsRegistry registry;
  std::unique_ptr<TelemetryLoop> loop = MakeLoop(&registry);
  ASSERT_NE(loop, nullptr);
  const DirectedLinkId up = fabric_->DirectedFrom(LinkBetween(leaf0_, spine), leaf0_);
  // Before any switch reported, no link is measured: NaN, not a measured 0 (an idle link).
  EXPECT_TRUE(loop->MeasuredLinkLoadBps().empty());
  loop->Tick(0);
  ASSERT_EQ(loop->MeasuredLinkLoadBps().size(), static_cast<size_t>(fabric_->num_directed_links()));
  for (double load : loop->MeasuredLinkLoadBps()) EXPECT_TRUE(std::isnan(load)) << load;
  Run(*loop, 3);
  double utilisation = 0;
  ASSERT_TRUE(
      registry.GetValue(kLinkUtilisation, {fabric_->DescribeDirected(up)}, &utilisation).ok())
      << registry.RenderText();
  EXPECT_NEAR(utilisation, 1.0, 0.01);
  EXPECT_NEAR(loop->MeasuredLinkLoadBps()[up], k10G, k10G * 0.01);
  // Every switch reports here, so every link is measured; the idle direction measures 0.
  for (double load : loop->MeasuredLinkLoadBps()) EXPECT_FALSE(std::isnan(load));
  EXPECT_EQ(loop->MeasuredLinkLoadBps()[up ^ 1], 0.0);
  EXPECT_EQ(loop->stats().moves_applied, 0u);  // one flow on a full link is not congestion
}

// Two jobs forced onto one spine (moves off): each delivers half its planned rate. The loop
// publishes that per job, and /metrics carries it next to the prediction (refreshed by the
// controller after the move); a deleted job's series go.
TEST_F(TelemetryLoopTest, MeasuresEachJobsDeliveredBandwidthAndExportsIt) {
  PlaceFlow("a", 0, 2, false);
  PlaceFlow("b", 1, 3, false);
  Force("b", SpineOf("a"));
  MetricsRegistry registry;
  TelemetryLoopOptions options;
  options.congestion.max_moves_per_interval = 0;  // measure only
  absl::StatusOr<std::unique_ptr<TelemetryLoop>> created =
      TelemetryLoop::Create(controller_.get(), options, &registry);
  ASSERT_TRUE(created.ok()) << created.status();
  TelemetryLoop& loop = **created;
  EXPECT_TRUE(loop.MeasuredJobBandwidth()->empty());
  Run(loop, 3);
  const JobBandwidthPtr measured = loop.MeasuredJobBandwidth();
  ASSERT_EQ(measured->size(), 2u);
  for (const char* id : {"a", "b"}) {
    const MeasuredJobBandwidth& m = measured->at(id);
    EXPECT_TRUE(m.measured) << id;
    EXPECT_NEAR(m.delivered_fraction, 0.5, 0.01) << id;
    EXPECT_NEAR(m.measured_busbw_fraction, 0.5, 0.01) << id;
    EXPECT_GT(m.time_ms, 0) << id;
    double value = 0;
    ASSERT_TRUE(registry.GetValue(kJobMeasuredBusbwFraction, {id}, &value).ok())
        << registry.RenderText();
    EXPECT_NEAR(value, 0.5, 0.01);
    ASSERT_TRUE(registry.GetValue(kJobDeliveredFraction, {id}, &value).ok());
    EXPECT_NEAR(value, 0.5, 0.01);
    ASSERT_TRUE(registry.GetValue(kJobPredictedBusbwFraction, {id}, &value).ok());
    EXPECT_NEAR(value, 0.5, 0.01);  // the prediction, refreshed after the forced move
  }
  ASSERT_TRUE(controller_->DeleteJob("b").get().ok());
  Run(loop, 1);
  double value = 0;
  EXPECT_FALSE(registry.GetValue(kJobMeasuredBusbwFraction, {"b"}, &value).ok());
  EXPECT_TRUE(registry.GetValue(kJobMeasuredBusbwFraction, {"a"}, &value).ok());
  EXPECT_EQ(loop.MeasuredJobBandwidth()->count("b"), 0u);
}

TEST_F(TelemetryLoopTest, StrictFlowsAreNotMovedOntoAFullPath) {
  PlaceFlow("a", 0, 2, true);
  PlaceFlow("b", 1, 3, true);
  Force("a", spine0_);
  Force("b", spine0_);
  // Traffic Pulse does not know fills spine-1 both ways.
  for (NodeId leaf : {leaf0_, leaf1_}) {
    const topology::LinkId link = LinkBetween(leaf, spine1_);
    background_bps_[fabric_->DirectedFrom(link, leaf)] = 0.95 * k10G;
    background_bps_[fabric_->DirectedFrom(link, spine1_)] = 0.95 * k10G;
  }
  std::unique_ptr<TelemetryLoop> loop = MakeLoop();
  ASSERT_NE(loop, nullptr);
  Run(*loop, 15);
  EXPECT_GT(loop->stats().hot_links, 0);
  EXPECT_EQ(SpineOf("a"), spine0_);
  EXPECT_EQ(SpineOf("b"), spine0_);
  EXPECT_EQ(loop->stats().moves_applied, 0u);

  // Once the background stops, the same strict flows are separated.
  background_bps_.clear();
  Run(*loop, 15);
  EXPECT_NE(SpineOf("a"), SpineOf("b"));
}

TEST_F(TelemetryLoopTest, EstimatesDemandAsTheBottleneckShare) {
  PlaceFlow("a", 0, 2, false);
  PlaceFlow("b", 1, 3, false);
  Force("a", spine0_);
  Force("b", spine0_);
  std::vector<double> load(fabric_->links().size() * 2, 0);
  const SnapshotPtr snap = controller_->snapshot();
  for (const auto& [id, job] : snap->placement.jobs()) {
    for (DirectedLinkId hop : job.flows[0].path.hops) load[hop] += 5e9;
  }
  std::vector<MeasuredFlow> flows = TelemetryLoop::EstimateFlowDemand(*snap, load);
  ASSERT_EQ(flows.size(), 2u);
  for (const MeasuredFlow& f : flows) EXPECT_NEAR(f.demand_bps, 5e9, 1);
}

TEST_F(TelemetryLoopTest, RejectsBadOptions) {
  TelemetryLoopOptions options;
  options.period_ms = 0;
  EXPECT_FALSE(TelemetryLoop::Create(controller_.get(), options).ok());
  options.period_ms = 1000;
  options.congestion.clear_utilisation = 0.95;
  options.congestion.hot_utilisation = 0.9;
  EXPECT_FALSE(TelemetryLoop::Create(controller_.get(), options).ok());
  EXPECT_FALSE(TelemetryLoop::Create(nullptr, TelemetryLoopOptions{}).ok());
}

TEST_F(TelemetryLoopTest, StartedLoopIngestsCountersPostedFromAnotherThread) {
  std::unique_ptr<TelemetryLoop> loop = MakeLoop();
  ASSERT_NE(loop, nullptr);
  ASSERT_TRUE(loop->Start().ok());
  EXPECT_FALSE(loop->Start().ok());
  std::vector<southbound::PortCounters> counters(2);
  counters[0].port = 1;
  counters[1].port = 2;
  loop->OnPortCounters(leaf0_, counters);
  for (int i = 0; i < 200 && loop->stats().samples_ingested < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(loop->stats().samples_ingested, 2u);
  loop->Stop();
}

}  // namespace
}  // namespace pulse::controller
