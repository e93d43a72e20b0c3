#include "controller/paths/ecmp_groups.h"

#include <memory>
#include <optional>
#include <random>
#include <set>

#include "controller/paths/path_cache.h"
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

// Every walk obtained by following the groups from `at` to `dst` (any member at each hop).
void FollowGroups(EcmpGroups& groups, NodeId at, NodeId dst, std::vector<DirectedLinkId>& walk,
                  std::set<std::vector<DirectedLinkId>>& out) {
  if (at == dst) {
    out.insert(walk);
    return;
  }
  ASSERT_LT(walk.size(), 8u) << "loop";
  std::optional<EcmpGroup> g = groups.Find(at, dst);
  if (!g.has_value()) return;
  for (const EcmpMember& m : g->members) {
    walk.push_back(m.link);
    FollowGroups(groups, groups.fabric().Head(m.link), dst, walk, out);
    walk.pop_back();
  }
}

// Groups agree with the path cache: following them from every leaf gives exactly the cached
// shortest walks, and the source leaf's bucket capacities equal the cache's weights.
void ExpectGroupsMatchPathSets(EcmpGroups& groups, PathCache& cache) {
  const Fabric& f = groups.fabric();
  for (NodeId a : Leaves(f)) {
    for (NodeId b : Leaves(f)) {
      if (a == b) continue;
      const LeafPathSet* set = cache.LeafPaths(a, b).value();
      std::set<std::vector<DirectedLinkId>> expected(set->walks.begin(), set->walks.end());
      std::set<std::vector<DirectedLinkId>> followed;
      std::vector<DirectedLinkId> walk;
      FollowGroups(groups, a, b, walk, followed);
      EXPECT_EQ(followed, expected) << f.node(a).name << " -> " << f.node(b).name;
      std::optional<EcmpGroup> g = groups.Find(a, b);
      if (set->walks.empty()) {
        EXPECT_FALSE(g.has_value());
        continue;
      }
      ASSERT_TRUE(g.has_value());
      const auto& weighted = set->next_hops.at(a);
      ASSERT_EQ(g->members.size(), weighted.size());
      for (const WeightedHop& h : weighted) {
        bool found = false;
        for (const EcmpMember& m : g->members) {
          if (m.link != h.link) continue;
          found = true;
          EXPECT_DOUBLE_EQ(m.capacity_bps, h.weight_bps);
          EXPECT_EQ(m.port, f.TailPort(m.link));
        }
        EXPECT_TRUE(found);
      }
      for (size_t i = 1; i < g->members.size(); ++i) {
        EXPECT_LT(g->members[i - 1].port, g->members[i].port);
      }
    }
  }
}

TEST(EcmpGroupsTest, GroupsWalkExactlyTheShortestUpDownPaths) {
  for (auto fabric : {Share(BuildLeafSpine(4, 3, 1, 2)), Share(BuildFatTree(4)),
                      Share(BuildFatTree(6)), Share(BuildTwoPlaneLeafSpine(3, 2, 1))}) {
    EcmpGroups groups(fabric);
    PathCache cache(fabric);
    ExpectGroupsMatchPathSets(groups, cache);
  }
}

TEST(EcmpGroupsTest, GroupsStillMatchAfterFailures) {
  auto fabric = Share(BuildFatTree(4));
  const Fabric& f = *fabric;
  EcmpGroups groups(fabric);
  PathCache cache(fabric);
  ExpectGroupsMatchPathSets(groups, cache);
  for (auto [a, b] : {std::pair<std::string, std::string>{"spine-0", "core-1"},
                      {"leaf-5", "spine-5"},
                      {"spine-6", "core-2"}}) {
    LinkId l = LinkBetween(f, Node(f, a), Node(f, b));
    groups.SetLinkUp(l, false);
    cache.SetLinkUp(l, false);
    ExpectGroupsMatchPathSets(groups, cache);
  }
  groups.SetSwitchUp(Node(f, "core-3"), false);
  cache.SetSwitchUp(Node(f, "core-3"), false);
  ExpectGroupsMatchPathSets(groups, cache);
}

TEST(EcmpGroupsTest, WeightsAfterLosingOneOfTwoParallelUplinks) {
  auto fabric = Share(BuildLeafSpine(3, 2, 1, 2));
  const Fabric& f = *fabric;
  EcmpGroups groups(fabric);
  const NodeId leaf0 = Node(f, "leaf-0"), leaf1 = Node(f, "leaf-1");
  const NodeId spine0 = Node(f, "spine-0");
  std::optional<EcmpGroup> before = groups.Find(leaf0, leaf1);
  ASSERT_TRUE(before.has_value());
  for (const EcmpMember& m : before->members) EXPECT_EQ(m.weight, 1u);
  EcmpGroupsUpdate update = groups.SetLinkUp(LinksBetween(f, leaf1, spine0)[0], false);
  std::optional<EcmpGroup> g = groups.Find(leaf0, leaf1);
  ASSERT_TRUE(g.has_value());
  ASSERT_EQ(g->members.size(), 4u);
  for (const EcmpMember& m : g->members) {
    EXPECT_EQ(m.weight, f.Head(m.link) == spine0 ? 1u : 2u) << f.DescribeDirected(m.link);
  }
  bool reported = false;
  for (const EcmpGroup& c : update.changed) reported |= (c == *g);
  EXPECT_TRUE(reported);
}

// A switch whose group is the same towards several leaves holds one member list for them (what
// keeps 512 x 64 leaf-spine groups in cache); a failure gives the affected groups their own.
TEST(EcmpGroupsTest, IdenticalGroupsShareTheirMembers) {
  auto fabric = Share(BuildLeafSpine(4, 2, 1, 2));
  const Fabric& f = *fabric;
  EcmpGroups groups(fabric);
  const NodeId leaf0 = Node(f, "leaf-0"), leaf1 = Node(f, "leaf-1"), leaf2 = Node(f, "leaf-2");
  const NodeId spine0 = Node(f, "spine-0");
  const std::vector<EcmpMember>* to1 = groups.FindMembers(leaf0, leaf1);
  const std::vector<EcmpMember>* to2 = groups.FindMembers(leaf0, leaf2);
  ASSERT_NE(to1, nullptr);
  EXPECT_EQ(to1, to2);
  EXPECT_EQ(to1->size(), 4u);
  EXPECT_EQ(groups.FindMembers(leaf0, leaf0), nullptr);
  groups.SetLinkUp(LinksBetween(f, leaf2, spine0)[0], false);
  to1 = groups.FindMembers(leaf0, leaf1);
  to2 = groups.FindMembers(leaf0, leaf2);
  ASSERT_NE(to1, nullptr);
  ASSERT_NE(to2, nullptr);
  EXPECT_NE(*to1, *to2);  // towards leaf-2, spine-0 carries half of what spine-1 does
  EXPECT_EQ(*to1, *groups.FindMembers(leaf0, Node(f, "leaf-3")));
  EcmpGroups fresh(fabric);
  fresh.SetLinkUp(LinksBetween(f, leaf2, spine0)[0], false);
  EXPECT_EQ(*fresh.FindMembers(leaf0, leaf2), *to2);
  EXPECT_EQ(fresh.FindMembers(leaf0, leaf1), fresh.FindMembers(leaf0, Node(f, "leaf-3")));
}

TEST(EcmpGroupsTest, UpdatesAreIncrementalAndEqualAFreshComputation) {
  auto fabric = Share(BuildTwoPlaneLeafSpine(4, 3, 1));
  const Fabric& f = *fabric;
  EcmpGroups groups(fabric);
  for (NodeId leaf : Leaves(f)) groups.GroupsToward(leaf);
  ASSERT_EQ(groups.destinations(), 8u);
  const LinkId link = LinkBetween(f, Node(f, "p0-leaf-1"), Node(f, "p0-spine-2"));
  std::vector<std::vector<EcmpGroup>> before;
  for (NodeId leaf : Leaves(f)) before.push_back(groups.GroupsToward(leaf));
  EcmpGroupsUpdate down = groups.SetLinkUp(link, false);
  // Only plane 0's four destinations use the link.
  EXPECT_EQ(down.destinations_recomputed, 4u);
  EcmpGroups fresh(fabric);
  fresh.SetLinkUp(link, false);
  size_t expected_changes = 0;
  std::vector<NodeId> leaves = Leaves(f);
  for (size_t i = 0; i < leaves.size(); ++i) {
    auto now = groups.GroupsToward(leaves[i]);
    EXPECT_EQ(now, fresh.GroupsToward(leaves[i]));
    // Count the groups that differ from before (added, removed or modified).
    std::set<NodeId> switches;
    for (const auto& g : now) switches.insert(g.switch_id);
    for (const auto& g : before[i]) switches.insert(g.switch_id);
    for (NodeId sw : switches) {
      const EcmpGroup* a = nullptr;
      const EcmpGroup* b = nullptr;
      for (const auto& g : now) {
        if (g.switch_id == sw) a = &g;
      }
      for (const auto& g : before[i]) {
        if (g.switch_id == sw) b = &g;
      }
      if (a == nullptr || b == nullptr || !(*a == *b)) ++expected_changes;
    }
  }
  EXPECT_EQ(down.changed.size(), expected_changes);
  EXPECT_GT(expected_changes, 0u);
  // A NIC link: no group uses it.
  EXPECT_EQ(groups.SetLinkUp(f.LinksOf(f.nics()[0])[0], false).destinations_recomputed, 0u);
  EcmpGroupsUpdate up = groups.SetLinkUp(link, true);
  EXPECT_EQ(up.destinations_recomputed, 4u);
  EXPECT_EQ(up.changed.size(), expected_changes);
  for (size_t i = 0; i < leaves.size(); ++i) {
    EXPECT_EQ(groups.GroupsToward(leaves[i]), before[i]);
  }
}

// Failures are repaired in place (only the groups above the failure are rebuilt): after every
// step of a random failure sequence, and after recovery, every group equals a from-scratch
// computation, capacities and bucket weights included.
TEST(EcmpGroupsTest, RepairedGroupsEqualFreshOnesUnderRandomFailures) {
  for (auto fabric : {Share(BuildFatTree(6)), Share(BuildLeafSpine(6, 4, 1, 2))}) {
    const Fabric& f = *fabric;
    EcmpGroups groups(fabric);
    for (NodeId leaf : Leaves(f)) groups.GroupsToward(leaf);
    std::vector<LinkId> fabric_links;
    for (LinkId l = 0; l < static_cast<LinkId>(f.links().size()); ++l) {
      if (f.node(f.link(l).a.node).is_switch()) fabric_links.push_back(l);
    }
    std::mt19937 rng(11);
    std::vector<LinkId> failed;
    size_t rebuilt = 0, total = 0;
    for (int step = 0; step < 12; ++step) {
      const LinkId l = fabric_links[rng() % fabric_links.size()];
      EcmpGroupsUpdate u = groups.SetLinkUp(l, false);
      rebuilt += u.groups_recomputed;
      failed.push_back(l);
      EcmpGroups fresh(fabric);
      for (LinkId x : failed) fresh.SetLinkUp(x, false);
      for (NodeId leaf : Leaves(f)) {
        auto now = groups.GroupsToward(leaf);
        total += now.size();
        ASSERT_EQ(now, fresh.GroupsToward(leaf)) << "step " << step << " to " << f.node(leaf).name;
      }
    }
    EXPECT_LT(rebuilt, total);  // repairs touch part of the tables, not all of them
    groups.SetLinksUp(failed, true);
    EcmpGroups fresh(fabric);
    for (NodeId leaf : Leaves(f)) EXPECT_EQ(groups.GroupsToward(leaf), fresh.GroupsToward(leaf));
  }
}

TEST(EcmpGroupsTest, NextHopsDeliversOnTheLeafAndStaysInPlane) {
  auto fabric = Share(BuildTwoPlaneLeafSpine(2, 2, 2));
  const Fabric& f = *fabric;
  EcmpGroups groups(fabric);
  const NodeId nic = Node(f, "server-3/nic-0");  // on leaf 1 of both planes
  auto at_leaf = groups.NextHops(Node(f, "p1-leaf-1"), nic).value();
  ASSERT_EQ(at_leaf.size(), 1u);
  EXPECT_EQ(f.Head(at_leaf[0].link), nic);
  auto at_spine = groups.NextHops(Node(f, "p1-spine-0"), nic).value();
  ASSERT_EQ(at_spine.size(), 1u);
  EXPECT_EQ(f.Head(at_spine[0].link), Node(f, "p1-leaf-1"));
  auto at_other_leaf = groups.NextHops(Node(f, "p0-leaf-0"), nic).value();
  EXPECT_EQ(at_other_leaf.size(), 2u);
  for (const auto& m : at_other_leaf) EXPECT_EQ(f.node(f.Head(m.link)).plane, 0);
  EXPECT_EQ(groups.NextHops(nic, nic).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(groups.NextHops(Node(f, "p0-leaf-0"), Node(f, "p0-leaf-1")).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Plane 0 cut off from leaf 1: no way from p0-leaf-0.
  groups.SetSwitchUp(Node(f, "p0-leaf-1"), false);
  EXPECT_EQ(groups.NextHops(Node(f, "p0-leaf-0"), nic).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(groups.NextHops(Node(f, "p1-leaf-0"), nic).ok());
}

}  // namespace
}  // namespace pulse::controller
