#include "controller/paths/path_cache.h"

#include <algorithm>
#include <memory>
#include <set>

#include "gtest/gtest.h"
#include "tests/controller/path_test_fabrics.h"

namespace pulse::controller {
namespace {

using testing::BuildFatTree;
using testing::BuildLeafSpine;
using testing::BuildTwoPlaneLeafSpine;
using testing::LinkBetween;
using testing::LinksBetween;

std::shared_ptr<const Fabric> Share(absl::StatusOr<Fabric> f) {
  return std::make_shared<const Fabric>(std::move(f).value());
}
NodeId Node(const Fabric& f, const std::string& name) { return f.FindNode(name).value(); }

std::vector<NodeId> Leaves(const Fabric& f) {
  std::vector<NodeId> out;
  for (NodeId s : f.switches()) {
    if (f.node(s).level == 1) out.push_back(s);
  }
  return out;
}

std::set<std::vector<DirectedLinkId>> AsSet(const std::vector<Path>& paths) {
  std::set<std::vector<DirectedLinkId>> s;
  for (const Path& p : paths) s.insert(p.hops);
  return s;
}

// Every NIC pair: the cache gives exactly the paths UpDownPaths computes from scratch.
void ExpectMatchesUpDownPaths(PathCache& cache) {
  const Fabric& f = cache.fabric();
  for (NodeId a : f.nics()) {
    for (NodeId b : f.nics()) {
      if (a == b) continue;
      auto fresh = UpDownPaths(f, cache.status(), a, b);
      auto cached = cache.Paths(a, b);
      ASSERT_EQ(fresh.ok(), cached.ok()) << f.node(a).name << " -> " << f.node(b).name;
      if (!fresh.ok()) continue;
      EXPECT_EQ(AsSet(*fresh), AsSet(*cached)) << f.node(a).name << " -> " << f.node(b).name;
      EXPECT_EQ(fresh->size(), cached->size());
    }
  }
}

// Fill the cache with every leaf pair.
void Warm(PathCache& cache) {
  for (NodeId a : Leaves(cache.fabric())) {
    for (NodeId b : Leaves(cache.fabric())) ASSERT_TRUE(cache.LeafPaths(a, b).ok());
  }
}

TEST(PathCacheTest, MatchesUpDownPathsOnSeveralShapes) {
  for (auto fabric : {Share(BuildLeafSpine(4, 3, 2, 2)), Share(BuildFatTree(4)),
                      Share(BuildTwoPlaneLeafSpine(3, 2, 2))}) {
    PathCache cache(fabric);
    ExpectMatchesUpDownPaths(cache);
  }
}

TEST(PathCacheTest, ComputesEachLeafPairOnce) {
  auto fabric = Share(BuildLeafSpine(4, 3, 4));
  PathCache cache(fabric);
  const Fabric& f = *fabric;
  ASSERT_TRUE(cache.Paths(f.nics()[0], f.nics()[5]).ok());  // leaf-0 -> leaf-1
  ASSERT_TRUE(cache.Paths(f.nics()[1], f.nics()[6]).ok());  // leaf-0 -> leaf-1 again
  ASSERT_TRUE(cache.Paths(f.nics()[0], f.nics()[1]).ok());  // leaf-0 -> leaf-0
  ASSERT_TRUE(cache.Paths(f.nics()[5], f.nics()[0]).ok());  // leaf-1 -> leaf-0
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.computations(), 3u);
}

TEST(PathCacheTest, BadIdsAreErrors) {
  auto fabric = Share(BuildLeafSpine(2, 2, 1));
  PathCache cache(fabric);
  const Fabric& f = *fabric;
  EXPECT_EQ(cache.LeafPaths(Node(f, "spine-0"), Node(f, "leaf-0")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cache.LeafPaths(-3, Node(f, "leaf-0")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cache.Paths(f.nics()[0], f.nics()[0]).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cache.Paths(f.nics()[0], 12345).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PathCacheTest, LeafSpineLinkFailureRecomputesOnlyEntriesThroughTheLink) {
  auto fabric = Share(BuildLeafSpine(8, 4, 1));
  const Fabric& f = *fabric;
  PathCache cache(fabric);
  Warm(cache);
  ASSERT_EQ(cache.size(), 64u);
  const LinkId link = LinkBetween(f, Node(f, "leaf-2"), Node(f, "spine-1"));
  // Brute force: the entries whose walks cross the link.
  size_t crossing = 0;
  for (NodeId a : Leaves(f)) {
    for (NodeId b : Leaves(f)) {
      const LeafPathSet* e = cache.LeafPaths(a, b).value();
      if (std::binary_search(e->links.begin(), e->links.end(), link)) ++crossing;
    }
  }
  EXPECT_EQ(crossing, 14u);  // leaf-2 to and from the 7 other leaves
  PathCacheUpdate down = cache.SetLinkUp(link, false);
  EXPECT_EQ(down.entries_recomputed, crossing);
  EXPECT_EQ(down.changed.size(), crossing);
  EXPECT_EQ(cache.LeafPaths(Node(f, "leaf-2"), Node(f, "leaf-5")).value()->walks.size(), 3u);
  ExpectMatchesUpDownPaths(cache);
  // Same state again: nothing to do.
  EXPECT_EQ(cache.SetLinkUp(link, false).entries_recomputed, 0u);
  // Recovery: only the entries with leaf-2 as an end that climb to the spines (not leaf-2 to
  // itself, which turns at the leaf).
  PathCacheUpdate up = cache.SetLinkUp(link, true);
  EXPECT_EQ(up.entries_recomputed, 14u);
  EXPECT_EQ(up.changed.size(), 14u);
  EXPECT_EQ(cache.LeafPaths(Node(f, "leaf-2"), Node(f, "leaf-5")).value()->walks.size(), 4u);
  ExpectMatchesUpDownPaths(cache);
}

TEST(PathCacheTest, FatTreeCoreLinkFailureAndRecoveryTouchOnlyCrossPodEntriesOfThePod) {
  auto fabric = Share(BuildFatTree(4));
  const Fabric& f = *fabric;
  PathCache cache(fabric);
  Warm(cache);
  ASSERT_EQ(cache.size(), 64u);
  const LinkId link = LinkBetween(f, Node(f, "spine-0"), Node(f, "core-0"));
  // Pod 0 has leaf-0 and leaf-1; cross-pod entries with an end in pod 0: 2*6 + 6*2 = 24.
  PathCacheUpdate down = cache.SetLinkUp(link, false);
  EXPECT_EQ(down.entries_recomputed, 24u);
  EXPECT_LT(down.entries_recomputed, cache.size());
  ExpectMatchesUpDownPaths(cache);
  PathCacheUpdate up = cache.SetLinkUp(link, true);
  EXPECT_EQ(up.entries_recomputed, 24u);  // in-pod entries turn at level 2: not touched
  EXPECT_EQ(up.changed.size(), 24u);
  ExpectMatchesUpDownPaths(cache);
}

TEST(PathCacheTest, SwitchFailureAndNicLinkFailure) {
  auto fabric = Share(BuildLeafSpine(3, 3, 2));
  const Fabric& f = *fabric;
  PathCache cache(fabric);
  Warm(cache);
  PathCacheUpdate down = cache.SetSwitchUp(Node(f, "spine-1"), false);
  EXPECT_EQ(down.entries_recomputed, 6u);  // the 6 cross-leaf entries
  const std::vector<Path> paths = cache.Paths(f.nics()[0], f.nics()[5]).value();
  EXPECT_EQ(paths.size(), 2u);
  for (const Path& p : paths) {
    EXPECT_NE(f.Head(p.hops[1]), Node(f, "spine-1"));
  }
  ExpectMatchesUpDownPaths(cache);
  cache.SetSwitchUp(Node(f, "spine-1"), true);
  ExpectMatchesUpDownPaths(cache);
  // A NIC link is not in any leaf walk: no recomputation, but the NIC has no path.
  PathCacheUpdate nic = cache.SetLinkUp(f.LinksOf(f.nics()[0])[0], false);
  EXPECT_EQ(nic.entries_recomputed, 0u);
  EXPECT_EQ(cache.Paths(f.nics()[0], f.nics()[5]).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(PathCacheTest, WeightsFollowSurvivingBottleneckCapacity) {
  auto fabric = Share(BuildLeafSpine(3, 2, 1, /*uplinks_per_spine=*/2));
  const Fabric& f = *fabric;
  PathCache cache(fabric);
  const NodeId leaf0 = Node(f, "leaf-0"), leaf1 = Node(f, "leaf-1");
  const NodeId spine0 = Node(f, "spine-0");
  // leaf-1 loses one of its two uplinks to spine-0.
  cache.SetLinkUp(LinksBetween(f, leaf1, spine0)[0], false);
  const LeafPathSet* to_leaf1 = cache.LeafPaths(leaf0, leaf1).value();
  const auto& hops = to_leaf1->next_hops.at(leaf0);
  ASSERT_EQ(hops.size(), 4u);
  for (const WeightedHop& h : hops) {
    // Through spine-0 only 100G reach leaf-1, shared by two uplinks; through spine-1, 200G.
    const double expected = f.Head(h.link) == spine0 ? 50e9 : 100e9;
    EXPECT_DOUBLE_EQ(h.weight_bps, expected) << f.DescribeDirected(h.link);
  }
  ASSERT_EQ(to_leaf1->next_hops.at(spine0).size(), 1u);
  EXPECT_DOUBLE_EQ(to_leaf1->next_hops.at(spine0)[0].weight_bps, 100e9);
  // The other way leaf-1 has three uplinks left, each able to carry its full rate.
  const LeafPathSet* from_leaf1 = cache.LeafPaths(leaf1, leaf0).value();
  ASSERT_EQ(from_leaf1->next_hops.at(leaf1).size(), 3u);
  for (const WeightedHop& h : from_leaf1->next_hops.at(leaf1)) {
    EXPECT_DOUBLE_EQ(h.weight_bps, 100e9);
  }
}

}  // namespace
}  // namespace pulse::controller
