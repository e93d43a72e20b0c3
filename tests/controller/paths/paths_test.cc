#include "controller/paths/paths.h"

#include <set>

#include "gtest/gtest.h"
#include "tests/controller/path_test_fabrics.h"

namespace pulse::controller {
namespace {

using testing::BuildFatTree;
using testing::BuildLeafSpine;
using testing::LinkBetween;
using testing::LinksBetween;

NodeId Node(const Fabric& f, const std::string& name) { return f.FindNode(name).value(); }

void ExpectAllValleyFree(const Fabric& f, const std::vector<Path>& paths, NodeId src, NodeId dst,
                         const LinkStatus& status) {
  std::set<std::vector<DirectedLinkId>> distinct;
  for (const Path& p : paths) {
    EXPECT_TRUE(IsValleyFree(f, p, src, dst));
    for (DirectedLinkId d : p.hops) EXPECT_TRUE(status.IsUp(Fabric::LinkOf(d)));
    distinct.insert(p.hops);
  }
  EXPECT_EQ(distinct.size(), paths.size()) << "duplicate paths";
}

// The count of links down follows every change, and a repeated report does not count twice.
TEST(LinkStatusTest, CountsLinksDown) {
  auto f = BuildLeafSpine(2, 2, 1).value();
  LinkStatus status(f);
  EXPECT_EQ(status.down_count(), 0u);
  status.SetUp(0, false);
  status.SetUp(0, false);
  status.SetUp(1, false);
  EXPECT_EQ(status.down_count(), 2u);
  status.SetUp(0, true);
  status.SetUp(0, true);
  EXPECT_EQ(status.down_count(), 1u);
  LinkStatus copy = status;
  EXPECT_EQ(copy.down_count(), 1u);
}

TEST(UpDownPathsTest, SameLeafNicsHaveOnePathViaTheLeaf) {
  auto f = BuildLeafSpine(2, 4, 2).value();
  LinkStatus status(f);
  NodeId a = Node(f, "server-0/nic-0"), b = Node(f, "server-1/nic-0");
  auto paths = UpDownPaths(f, status, a, b).value();
  ASSERT_EQ(paths.size(), 1u);
  ASSERT_EQ(paths[0].hops.size(), 2u);
  EXPECT_EQ(f.Head(paths[0].hops[0]), Node(f, "leaf-0"));
  ExpectAllValleyFree(f, paths, a, b, status);
}

TEST(UpDownPathsTest, CrossLeafHasOnePathPerSpineAndParallelLink) {
  for (int parallel : {1, 2, 3}) {
    auto f = BuildLeafSpine(3, 4, 2, parallel).value();
    LinkStatus status(f);
    NodeId a = Node(f, "server-0/nic-0"), b = Node(f, "server-5/nic-0");
    auto paths = UpDownPaths(f, status, a, b).value();
    // Every (up link, down link) combination through each spine.
    EXPECT_EQ(paths.size(), static_cast<size_t>(4 * parallel * parallel));
    std::set<NodeId> spines;
    for (const Path& p : paths) {
      ASSERT_EQ(p.hops.size(), 4u);
      spines.insert(f.Head(p.hops[1]));
    }
    EXPECT_EQ(spines.size(), 4u);
    ExpectAllValleyFree(f, paths, a, b, status);
  }
}

TEST(UpDownPathsTest, CrossPodFatTreeHasQuarterKSquaredPaths) {
  for (int k : {4, 6, 8}) {
    auto f = BuildFatTree(k).value();
    LinkStatus status(f);
    NodeId a = f.nics().front(), b = f.nics().back();  // pod 0 and pod k-1
    auto paths = UpDownPaths(f, status, a, b).value();
    EXPECT_EQ(paths.size(), static_cast<size_t>((k / 2) * (k / 2))) << "k=" << k;
    for (const Path& p : paths) EXPECT_EQ(p.hops.size(), 6u);
    ExpectAllValleyFree(f, paths, a, b, status);
    // Same pod, other edge: k/2 paths through the aggregation layer.
    NodeId c = f.nics()[k / 2];  // first server of edge 1 of pod 0
    auto in_pod = UpDownPaths(f, status, a, c).value();
    EXPECT_EQ(in_pod.size(), static_cast<size_t>(k / 2));
    ExpectAllValleyFree(f, in_pod, a, c, status);
  }
}

TEST(UpDownPathsTest, FailuresRemoveExactlyThePathsThroughThem) {
  auto f = BuildLeafSpine(3, 4, 2, 2).value();
  LinkStatus status(f);
  NodeId a = Node(f, "server-0/nic-0"), b = Node(f, "server-5/nic-0");
  const size_t before = UpDownPaths(f, status, a, b)->size();
  // One of two parallel uplinks from leaf-0 to spine-1: the spine keeps half its paths.
  LinkId up = LinksBetween(f, Node(f, "leaf-0"), Node(f, "spine-1"))[0];
  status.SetUp(up, false);
  auto paths = UpDownPaths(f, status, a, b).value();
  EXPECT_EQ(paths.size(), before - 2);
  for (const Path& p : paths) {
    for (DirectedLinkId d : p.hops) EXPECT_NE(Fabric::LinkOf(d), up);
  }
  // A whole spine down (all its links).
  for (LinkId l : f.LinksOf(Node(f, "spine-2"))) status.SetUp(l, false);
  paths = UpDownPaths(f, status, a, b).value();
  EXPECT_EQ(paths.size(), before - 2 - 4);
  ExpectAllValleyFree(f, paths, a, b, status);
}

TEST(UpDownPathsTest, FatTreeCoreLinkFailure) {
  auto f = BuildFatTree(4).value();
  LinkStatus status(f);
  NodeId a = f.nics().front(), b = f.nics().back();
  status.SetUp(LinkBetween(f, Node(f, "spine-0"), Node(f, "core-0")), false);
  auto paths = UpDownPaths(f, status, a, b).value();
  EXPECT_EQ(paths.size(), 3u);
  ExpectAllValleyFree(f, paths, a, b, status);
}

TEST(UpDownPathsTest, NoPathIsAnErrorNamingBothNics) {
  auto f = BuildLeafSpine(2, 2, 1).value();
  LinkStatus status(f);
  NodeId a = Node(f, "server-0/nic-0"), b = Node(f, "server-1/nic-0");
  for (LinkId l : f.LinksOf(Node(f, "leaf-1"))) {
    if (f.node(f.Peer(l, Node(f, "leaf-1"))).is_switch()) status.SetUp(l, false);
  }
  auto paths = UpDownPaths(f, status, a, b);
  ASSERT_FALSE(paths.ok());
  EXPECT_EQ(paths.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(paths.status().message().find("server-0/nic-0"), std::string::npos);
  EXPECT_NE(paths.status().message().find("server-1/nic-0"), std::string::npos);
  // Recovery brings the paths back.
  status = LinkStatus(f);
  EXPECT_EQ(UpDownPaths(f, status, a, b)->size(), 2u);
}

TEST(UpDownPathsTest, BadArgumentsAreErrors) {
  auto f = BuildLeafSpine(2, 2, 1).value();
  LinkStatus status(f);
  NodeId nic = f.nics()[0];
  EXPECT_EQ(UpDownPaths(f, status, nic, nic).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(UpDownPaths(f, status, Node(f, "leaf-0"), nic).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(UpDownPaths(f, status, nic, 9999).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(UpDownPaths(f, status, -1, nic).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(UpDownPaths(f, LinkStatus(), nic, f.nics()[1]).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(UpDownPathsTest, MaxPathsLimitsTheSet) {
  auto f = BuildLeafSpine(2, 8, 1).value();
  LinkStatus status(f);
  auto all = UpDownPaths(f, status, f.nics()[0], f.nics()[1]).value();
  auto some = UpDownPaths(f, status, f.nics()[0], f.nics()[1], 3).value();
  ASSERT_EQ(some.size(), 3u);
  for (size_t i = 0; i < some.size(); ++i) EXPECT_EQ(some[i], all[i]);
}

TEST(IsValleyFreeTest, RejectsValleysAndBrokenWalks) {
  auto f = BuildLeafSpine(2, 2, 1).value();
  LinkStatus status(f);
  NodeId a = f.nics()[0], b = f.nics()[1];
  Path good = UpDownPaths(f, status, a, b).value()[0];
  EXPECT_TRUE(IsValleyFree(f, good, a, b));
  EXPECT_FALSE(IsValleyFree(f, good, b, a));
  EXPECT_FALSE(IsValleyFree(f, Path{}, a, b));
  // leaf-0 -> spine-0 -> leaf-1 -> spine-1 -> leaf-0 ... : down then up is a valley.
  NodeId l0 = Node(f, "leaf-0"), l1 = Node(f, "leaf-1");
  NodeId s0 = Node(f, "spine-0"), s1 = Node(f, "spine-1");
  Path valley{
      {f.DirectedFrom(LinkBetween(f, a, l0), a), f.DirectedFrom(LinkBetween(f, l0, s0), l0),
       f.DirectedFrom(LinkBetween(f, s0, l1), s0), f.DirectedFrom(LinkBetween(f, l1, s1), l1),
       f.DirectedFrom(LinkBetween(f, s1, l0), s1), f.DirectedFrom(LinkBetween(f, l0, a), l0)}};
  EXPECT_FALSE(IsValleyFree(f, valley, a, a));
  Path out_of_range{{f.num_directed_links()}};
  EXPECT_FALSE(IsValleyFree(f, out_of_range, a, b));
}

}  // namespace
}  // namespace pulse::controller
