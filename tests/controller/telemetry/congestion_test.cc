#include "controller/telemetry/congestion.h"

#include <memory>
#include <string>
#include <vector>

#include "controller/telemetry/telemetry.h"
#include "gtest/gtest.h"
#include "topology/fabric.h"

namespace pulse::controller {
namespace {

using topology::DirectedLinkId;
using topology::Fabric;
using topology::NodeId;
using topology::SwitchRole;

constexpr double k10G = 10e9;

// Two leaves, two spines, two single-NIC servers per leaf; every link 10 Gb/s.
class CongestionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    topology::FabricBuilder b;
    const NodeId leaf0 = b.AddSwitch("leaf-0", SwitchRole::kLeaf);
    const NodeId leaf1 = b.AddSwitch("leaf-1", SwitchRole::kLeaf);
    spine0_ = b.AddSwitch("spine-0", SwitchRole::kSpine);
    spine1_ = b.AddSwitch("spine-1", SwitchRole::kSpine);
    for (int s = 0; s < 4; ++s) {
      const topology::ServerId server = b.AddServer("server-" + std::to_string(s));
      nics_.push_back(b.AddNic(server, 0));
      b.AddLink(nics_.back(), s < 2 ? leaf0 : leaf1, static_cast<int64_t>(k10G));
    }
    for (NodeId leaf : {leaf0, leaf1}) {
      for (NodeId spine : {spine0_, spine1_}) b.AddLink(leaf, spine, static_cast<int64_t>(k10G));
    }
    absl::StatusOr<Fabric> built = std::move(b).Build();
    ASSERT_TRUE(built.ok()) << built.status();
    fabric_ = std::make_shared<const Fabric>(*std::move(built));
    status_ = LinkStatus(*fabric_);
  }

  // The shortest path from NIC `src` to NIC `dst` that turns at `spine`.
  Path Via(NodeId src, NodeId dst, NodeId spine) const {
    absl::StatusOr<std::vector<Path>> paths = UpDownPaths(*fabric_, status_, src, dst);
    EXPECT_TRUE(paths.ok()) << paths.status();
    for (const Path& p : *paths) {
      if (Crosses(p, spine)) return p;
    }
    ADD_FAILURE() << "no path via spine " << spine;
    return {};
  }
  bool Crosses(const Path& p, NodeId node) const {
    for (DirectedLinkId hop : p.hops) {
      if (fabric_->Head(hop) == node) return true;
    }
    return false;
  }

  MeasuredFlow Flow(std::string job, size_t index, NodeId src, NodeId dst, NodeId spine,
                    double demand_bps, bool strict = false) const {
    MeasuredFlow f;
    f.job_id = std::move(job);
    f.flow_index = index;
    f.src = src;
    f.dst = dst;
    f.path = Via(src, dst, spine);
    f.demand_bps = demand_bps;
    f.strict = strict;
    return f;
  }

  // Measured load: the flows' demand plus `background` (traffic Pulse does not know).
  std::vector<double> Load(const std::vector<MeasuredFlow>& flows,
                           const std::vector<double>& background = {}) const {
    std::vector<MeasuredFlowRate> rates;
    for (const MeasuredFlow& f : flows) rates.push_back({f.job_id, f.path, f.demand_bps});
    absl::StatusOr<LoadAttribution> a = AttributeLoad(*fabric_, rates);
    EXPECT_TRUE(a.ok()) << a.status();
    std::vector<double> load = a->link_load_bps;
    for (size_t d = 0; d < background.size(); ++d) load[d] += background[d];
    return load;
  }
  std::vector<double> Utilisation(const std::vector<double>& load) const {
    std::vector<double> u(load.size());
    for (size_t d = 0; d < load.size(); ++d) u[d] = load[d] / k10G;
    return u;
  }
  // Applies decisions to `flows` as the daemon would (Placement::MoveFlow + flow programming).
  static void Apply(const std::vector<MoveDecision>& decisions, std::vector<MeasuredFlow>& flows) {
    for (const MoveDecision& d : decisions) {
      for (MeasuredFlow& f : flows) {
        if (f.job_id == d.job_id && f.flow_index == d.flow_index) {
          EXPECT_EQ(f.path, d.old_path);
          f.path = d.new_path;
        }
      }
    }
  }
  // One control round at `now_ms`: measure, observe, decide, apply. Returns the decisions.
  std::vector<MoveDecision> Round(CongestionDetector& detector, std::vector<MeasuredFlow>& flows,
                                  int64_t now_ms, const std::vector<double>& background = {}) {
    const std::vector<double> load = Load(flows, background);
    detector.Observe(Utilisation(load), now_ms);
    std::vector<MoveDecision> decisions = detector.Decide(flows, load, status_, now_ms);
    Apply(decisions, flows);
    return decisions;
  }

  std::shared_ptr<const Fabric> fabric_;
  LinkStatus status_;
  NodeId spine0_ = -1, spine1_ = -1;
  std::vector<NodeId> nics_;
};

TEST_F(CongestionTest, CreateValidatesOptions) {
  CongestionOptions bad;
  bad.clear_utilisation = 0.95;
  EXPECT_FALSE(CongestionDetector::Create(fabric_, bad).ok());
  CongestionOptions negative;
  negative.hold_ms = -1;
  EXPECT_FALSE(CongestionDetector::Create(fabric_, negative).ok());
  EXPECT_FALSE(CongestionDetector::Create(nullptr, {}).ok());
}

TEST_F(CongestionTest, TwoFlowsOnOneSpineAtTwiceCapacityAreSeparatedOnce) {
  absl::StatusOr<CongestionDetector> detector = CongestionDetector::Create(fabric_, {});
  ASSERT_TRUE(detector.ok());
  // Demand 2 x 10 Gb/s through spine-0: 200% on both spine-0 channels.
  std::vector<MeasuredFlow> flows = {Flow("job-a", 0, nics_[0], nics_[2], spine0_, k10G),
                                     Flow("job-b", 0, nics_[1], nics_[3], spine0_, k10G)};
  // Hot for less than the hold time: nothing happens.
  EXPECT_TRUE(Round(*detector, flows, 0).empty());
  EXPECT_TRUE(Round(*detector, flows, 1000).empty());
  EXPECT_TRUE(detector->HotLinks().empty());
  const std::vector<MoveDecision> moves = Round(*detector, flows, 2000);
  ASSERT_EQ(moves.size(), 1u);
  EXPECT_EQ(moves[0].job_id, "job-b");
  EXPECT_TRUE(Crosses(moves[0].new_path, spine1_));
  EXPECT_TRUE(IsValleyFree(*fabric_, moves[0].new_path, nics_[1], nics_[3]));
  EXPECT_TRUE(detector->IsHot(moves[0].hot_link));
  EXPECT_DOUBLE_EQ(moves[0].old_bottleneck_utilisation, 2.0);
  EXPECT_DOUBLE_EQ(moves[0].new_bottleneck_utilisation, 1.0);
  EXPECT_TRUE(Crosses(flows[0].path, spine0_));
  EXPECT_TRUE(Crosses(flows[1].path, spine1_));
  // The separated flows still fill their links (100%), but no move can improve that: 30 more
  // rounds make no further moves (no flapping between the spines).
  int later_moves = 0;
  for (int64_t t = 3000; t <= 32000; t += 1000) later_moves += Round(*detector, flows, t).size();
  EXPECT_EQ(later_moves, 0);
  EXPECT_TRUE(Crosses(flows[0].path, spine0_));
  EXPECT_TRUE(Crosses(flows[1].path, spine1_));
}

TEST_F(CongestionTest, HysteresisKeepsALinkHotUntilItFallsBelowTheClearLevel) {
  absl::StatusOr<CongestionDetector> detector = CongestionDetector::Create(fabric_, {});
  ASSERT_TRUE(detector.ok());
  std::vector<double> u(fabric_->num_directed_links(), 0.0);
  const DirectedLinkId link = 5;
  auto observe = [&](double value, int64_t t) {
    u[link] = value;
    detector->Observe(u, t);
    return detector->IsHot(link);
  };
  EXPECT_FALSE(observe(0.95, 0));
  EXPECT_FALSE(observe(0.95, 1999));
  EXPECT_TRUE(observe(0.95, 2000));
  EXPECT_TRUE(observe(0.8, 3000));  // in the band: stays hot
  EXPECT_TRUE(observe(0.71, 4000));
  EXPECT_FALSE(observe(0.69, 5000));  // below clear
  EXPECT_FALSE(observe(0.8, 6000));   // in the band: stays cool
  // A dip into the band restarts the hold time.
  EXPECT_FALSE(observe(0.95, 7000));
  EXPECT_FALSE(observe(0.85, 8000));
  EXPECT_FALSE(observe(0.95, 9000));
  EXPECT_FALSE(observe(0.95, 10000));
  EXPECT_TRUE(observe(0.95, 11000));
  EXPECT_EQ(detector->HotLinks(), std::vector<DirectedLinkId>{link});
}

TEST_F(CongestionTest, RestartHoldMakesEveryHotLinkProveItselfAgain) {
  absl::StatusOr<CongestionDetector> detector = CongestionDetector::Create(fabric_, {});
  ASSERT_TRUE(detector.ok());
  std::vector<double> u(fabric_->num_directed_links(), 0.0);
  const DirectedLinkId a = 2, b = 6;
  u[a] = 0.95;
  u[b] = 0.95;
  detector->Observe(u, 0);
  detector->Observe(u, 2000);
  ASSERT_EQ(detector->HotLinks(), (std::vector<DirectedLinkId>{a, b}));
  // Moves were applied: both links forget their hold, even though they read hot right away.
  detector->RestartHold();
  EXPECT_TRUE(detector->HotLinks().empty());
  detector->Observe(u, 2500);
  EXPECT_TRUE(detector->HotLinks().empty());
  // Link a cooled after the move (its load went elsewhere), link b stays above the threshold:
  // only b is hot again, and only a full hold time after the restart's first observation.
  u[a] = 0.5;
  detector->Observe(u, 4000);
  EXPECT_TRUE(detector->HotLinks().empty());
  detector->Observe(u, 4500);
  EXPECT_EQ(detector->HotLinks(), std::vector<DirectedLinkId>{b});
  EXPECT_FALSE(detector->IsHot(a));
  // Decisions are made only for hot links: with both flows measured on the cooled link a, a
  // decision right after the restart moves nothing.
  detector->RestartHold();
  std::vector<MeasuredFlow> flows = {Flow("job-a", 0, nics_[0], nics_[2], spine0_, k10G),
                                     Flow("job-b", 0, nics_[1], nics_[3], spine0_, k10G)};
  const std::vector<double> load = Load(flows);
  detector->Observe(Utilisation(load), 5000);
  EXPECT_TRUE(detector->Decide(flows, load, status_, 5000).empty());
}

TEST_F(CongestionTest, MoveCapPerIntervalIsRespected) {
  CongestionOptions options;
  options.max_moves_per_interval = 2;
  options.move_interval_ms = 10000;
  absl::StatusOr<CongestionDetector> detector = CongestionDetector::Create(fabric_, options);
  ASSERT_TRUE(detector.ok());
  // Six 4 Gb/s flows through spine-0 (240%); without a cap global first fit would move three.
  std::vector<MeasuredFlow> flows;
  for (size_t i = 0; i < 6; ++i) {
    flows.push_back(Flow("job", i, nics_[i % 2], nics_[2 + i % 2], spine0_, 4e9));
  }
  EXPECT_TRUE(Round(*detector, flows, 0).empty());
  EXPECT_EQ(Round(*detector, flows, 2000).size(), 2u);
  EXPECT_EQ(detector->moves_in_interval(2000), 2);
  // spine-0 is still at 160% but the budget of the interval is spent.
  for (int64_t t = 3000; t < 12000; t += 1000) {
    EXPECT_TRUE(Round(*detector, flows, t).empty()) << "t=" << t;
  }
  const std::vector<MoveDecision> next = Round(*detector, flows, 12000);
  EXPECT_GE(next.size(), 1u);
  EXPECT_LE(next.size(), 2u);
  int on_spine0 = 0;
  for (const MeasuredFlow& f : flows) on_spine0 += Crosses(f.path, spine0_) ? 1 : 0;
  EXPECT_EQ(on_spine0, 3);
}

TEST_F(CongestionTest, StrictFlowsAreNotMovedOntoPathsAboveCapacity) {
  // job-a and job-b push 10 Gb/s each through spine-0; spine-1 already carries 5 Gb/s of
  // traffic Pulse did not place. Moving job-b there gives 150%: better than 200% (a best-effort
  // flow moves) but above 100% (a strict flow must stay).
  std::vector<double> background(fabric_->num_directed_links(), 0.0);
  const Path spine1_path = Via(nics_[1], nics_[3], spine1_);
  for (DirectedLinkId hop : spine1_path.hops) {
    if (fabric_->Head(hop) == spine1_ || fabric_->Tail(hop) == spine1_) background[hop] = 5e9;
  }
  for (bool strict : {false, true}) {
    absl::StatusOr<CongestionDetector> detector = CongestionDetector::Create(fabric_, {});
    ASSERT_TRUE(detector.ok());
    std::vector<MeasuredFlow> flows = {Flow("job-a", 0, nics_[0], nics_[2], spine0_, k10G),
                                       Flow("job-b", 0, nics_[1], nics_[3], spine0_, k10G, strict)};
    Round(*detector, flows, 0, background);
    const std::vector<MoveDecision> moves = Round(*detector, flows, 2000, background);
    if (strict) {
      EXPECT_TRUE(moves.empty());
      EXPECT_TRUE(Crosses(flows[1].path, spine0_));
    } else {
      ASSERT_EQ(moves.size(), 1u);
      EXPECT_EQ(moves[0].job_id, "job-b");
      EXPECT_DOUBLE_EQ(moves[0].new_bottleneck_utilisation, 1.5);
    }
  }
  // Without the background traffic the strict flow fits exactly (100%) and is moved.
  absl::StatusOr<CongestionDetector> detector = CongestionDetector::Create(fabric_, {});
  ASSERT_TRUE(detector.ok());
  std::vector<MeasuredFlow> flows = {Flow("job-a", 0, nics_[0], nics_[2], spine0_, k10G),
                                     Flow("job-b", 0, nics_[1], nics_[3], spine0_, k10G, true)};
  Round(*detector, flows, 0);
  ASSERT_EQ(Round(*detector, flows, 2000).size(), 1u);
  EXPECT_TRUE(Crosses(flows[1].path, spine1_));
}

TEST_F(CongestionTest, PinnedFlowsAndColdLinksAreLeftAlone) {
  absl::StatusOr<CongestionDetector> detector = CongestionDetector::Create(fabric_, {});
  ASSERT_TRUE(detector.ok());
  std::vector<MeasuredFlow> flows = {Flow("job-a", 0, nics_[0], nics_[2], spine0_, k10G),
                                     Flow("job-b", 0, nics_[1], nics_[3], spine0_, k10G)};
  flows[0].movable = false;
  flows[1].movable = false;
  Round(*detector, flows, 0);
  EXPECT_TRUE(Round(*detector, flows, 2000).empty());
  // Two 4 Gb/s flows on one spine: 80%, below the hot level, so nothing moves.
  absl::StatusOr<CongestionDetector> cool = CongestionDetector::Create(fabric_, {});
  std::vector<MeasuredFlow> light = {Flow("job-a", 0, nics_[0], nics_[2], spine0_, 4e9),
                                     Flow("job-b", 0, nics_[1], nics_[3], spine0_, 4e9)};
  for (int64_t t = 0; t <= 10000; t += 1000) EXPECT_TRUE(Round(*cool, light, t).empty());
}

}  // namespace
}  // namespace pulse::controller
