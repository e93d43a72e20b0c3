#include "controller/placement/lower_bound.h"

#include <algorithm>
#include <limits>
#include <memory>
#include <random>

#include <gtest/gtest.h>

#include "controller/placement/placement.h"
#include "tests/controller/placement_test_fabrics.h"
#include "topology/builders.h"

namespace pulse::controller {
namespace {

using placement_testing::kGbps;
using topology::Fabric;

std::shared_ptr<const Fabric> Build(absl::StatusOr<Fabric> f) {
  EXPECT_TRUE(f.ok()) << f.status();
  return std::make_shared<const Fabric>(*std::move(f));
}

// The channel from `from` to `to` (the first link between them).
DirectedLinkId Channel(const Fabric& fabric, const std::string& from, const std::string& to) {
  const NodeId a = *fabric.FindNode(from), b = *fabric.FindNode(to);
  for (topology::LinkId l : fabric.LinksOf(a)) {
    if (fabric.Peer(l, a) == b) return fabric.DirectedFrom(l, a);
  }
  ADD_FAILURE() << "no link " << from << " - " << to;
  return 0;
}

// The best max utilisation over the channels a placement's flows cross, over every choice of
// one up-down path per flow (exhaustive: small instances only).
double BestPlacement(const Fabric& fabric, const std::vector<FlowDemand>& demands,
                     const std::vector<double>& background) {
  LinkStatus status(fabric);
  std::vector<std::vector<Path>> paths;
  for (const FlowDemand& d : demands) paths.push_back(*UpDownPaths(fabric, status, d.src, d.dst));
  std::vector<size_t> choice(demands.size(), 0);
  double best = std::numeric_limits<double>::infinity();
  while (true) {
    std::vector<double> load = background;
    for (size_t i = 0; i < demands.size(); ++i) {
      for (DirectedLinkId d : paths[i][choice[i]].hops) load[d] += demands[i].rate_bps;
    }
    double worst = 0;
    for (size_t i = 0; i < demands.size(); ++i) {
      for (DirectedLinkId d : paths[i][choice[i]].hops) {
        worst = std::max(worst, load[d] / fabric.link(Fabric::LinkOf(d)).capacity_bps);
      }
    }
    best = std::min(best, worst);
    size_t k = 0;
    while (k < choice.size() && ++choice[k] == paths[k].size()) choice[k++] = 0;
    if (k == choice.size()) break;
  }
  return best;
}

TEST(UnsplittableBoundAroundTest, NoSpineWithRoomAtBothEndsIsAnOverload) {
  auto fabric = Build(placement_testing::LeafSpineFabric(2, 2, 2));
  // leaf-0's uplink to spine-0 and spine-1's downlink to leaf-1 are full: a flow from leaf-0 to
  // leaf-1 has room on each cut but on no path.
  std::vector<double> background(fabric->num_directed_links(), 0);
  background[Channel(*fabric, "leaf-0", "spine-0")] = 100e9;
  background[Channel(*fabric, "spine-1", "leaf-1")] = 100e9;
  const auto& nics = fabric->nics();  // nic 0, 1 on leaf-0; 2, 3 on leaf-1
  std::vector<FlowDemand> demands = {{nics[0], nics[2], 100e9, 0}};
  LinkStatus status(*fabric);
  EXPECT_LE(PlacementLowerBound(*fabric, status, demands).max_utilisation, 1.0);
  LowerBound around = UnsplittableBoundAround(*fabric, status, demands, background);
  EXPECT_DOUBLE_EQ(around.max_utilisation, 2.0);
  EXPECT_EQ(around.where, "leaf-0 out: 0 of 1 flows find a spine with room at both ends");
  EXPECT_DOUBLE_EQ(BestPlacement(*fabric, demands, background), 2.0);

  // With spine-1's downlink free again there is a path: the bound rules nothing out.
  background[Channel(*fabric, "spine-1", "leaf-1")] = 0;
  EXPECT_EQ(UnsplittableBoundAround(*fabric, status, demands, background).max_utilisation, 0);
}

TEST(UnsplittableBoundAroundTest, DoesNotApplyToUnequalRatesOrThreeTiers) {
  auto fabric = Build(placement_testing::LeafSpineFabric(2, 2, 2));
  const auto& nics = fabric->nics();
  std::vector<double> background(fabric->num_directed_links(), 100e9);
  LinkStatus status(*fabric);
  std::vector<FlowDemand> unequal = {{nics[0], nics[2], 100e9, 0}, {nics[1], nics[3], 50e9, 0}};
  EXPECT_EQ(UnsplittableBoundAround(*fabric, status, unequal, background).max_utilisation, 0);
  EXPECT_EQ(UnsplittableBoundAround(*fabric, status, {}, background).max_utilisation, 0);
  EXPECT_EQ(UnsplittableBoundAround(*fabric, status, unequal, {}).max_utilisation, 0);
  auto fat_tree = Build(topology::FatTree(4));
  std::vector<FlowDemand> one = {{fat_tree->nics()[0], fat_tree->nics()[15], 10e9, 0}};
  EXPECT_EQ(UnsplittableBoundAround(*fat_tree, LinkStatus(*fat_tree), one,
                                    std::vector<double>(fat_tree->num_directed_links(), 9e10))
                .max_utilisation,
            0);
}

// On random small fragmented instances the bound never exceeds the best placement (it is a
// bound), and it is tight where it proves an overload often enough to matter.
TEST(UnsplittableBoundAroundTest, NeverAboveTheBestPlacement) {
  auto fabric = Build(placement_testing::LeafSpineFabric(3, 3, 2));
  const auto& nics = fabric->nics();
  LinkStatus status(*fabric);
  std::mt19937 rng(15);
  int proved = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<double> background(fabric->num_directed_links(), 0);
    for (DirectedLinkId d = 0; d < fabric->num_directed_links(); ++d) {
      const NodeId tail = fabric->Tail(d), head = fabric->Head(d);
      if (fabric->node(tail).is_nic() || fabric->node(head).is_nic()) continue;
      background[d] = 50e9 * (rng() % 3);  // 0, 50 or 100 of 100 Gb/s
    }
    std::vector<FlowDemand> demands;
    const int flows = 1 + rng() % 5;
    for (int i = 0; i < flows; ++i) {
      const size_t src = rng() % nics.size();
      size_t dst = rng() % nics.size();
      if (fabric->node(nics[src]).server == fabric->node(nics[dst]).server) dst = (src + 2) % 6;
      demands.push_back({nics[src], nics[dst], 50e9, 0});
    }
    const double bound =
        UnsplittableBoundAround(*fabric, status, demands, background).max_utilisation;
    const double best = BestPlacement(*fabric, demands, background);
    EXPECT_LE(bound, best + 1e-9) << "trial " << trial;
    proved += bound > 1 + 1e-9;
  }
  EXPECT_GT(proved, 10);
}

}  // namespace
}  // namespace pulse::controller
