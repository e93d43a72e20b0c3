#include "controller/qos/deadlock.h"

#include <algorithm>
#include <string>

#include "gtest/gtest.h"
#include "topology/builders.h"

namespace pulse::controller {
namespace {

using topology::Fabric;
using topology::FabricBuilder;
using topology::ServerId;
using topology::SwitchRole;

constexpr int64_t kSpeed = 400000000000LL;

// Hand-built fabrics (topology/builders.h is written concurrently; FabricBuilder is stable).
Fabric LeafSpine(int leaves, int spines, int nics_per_leaf) {
  FabricBuilder b;
  std::vector<NodeId> leaf, spine;
  for (int i = 0; i < leaves; ++i)
    leaf.push_back(b.AddSwitch("leaf-" + std::to_string(i), SwitchRole::kLeaf));
  for (int i = 0; i < spines; ++i)
    spine.push_back(b.AddSwitch("spine-" + std::to_string(i), SwitchRole::kSpine));
  for (int l = 0; l < leaves; ++l) {
    for (int n = 0; n < nics_per_leaf; ++n) {
      ServerId s = b.AddServer("server-" + std::to_string(l * nics_per_leaf + n));
      b.AddLink(b.AddNic(s, 0), leaf[l], kSpeed);
    }
  }
  for (int l = 0; l < leaves; ++l) {
    for (int s = 0; s < spines; ++s) b.AddLink(leaf[l], spine[s], kSpeed);
  }
  absl::StatusOr<Fabric> f = std::move(b).Build();
  EXPECT_TRUE(f.ok()) << f.status();
  return *std::move(f);
}

// Three-tier k-ary fat-tree: k pods of k/2 leaves and k/2 spines, (k/2)^2 super-spines.
Fabric FatTree(int k) {
  FabricBuilder b;
  const int half = k / 2;
  std::vector<NodeId> core;
  for (int c = 0; c < half * half; ++c) {
    core.push_back(b.AddSwitch("super-" + std::to_string(c), SwitchRole::kSuperSpine));
  }
  int server = 0;
  for (int pod = 0; pod < k; ++pod) {
    std::vector<NodeId> leaf, agg;
    for (int i = 0; i < half; ++i) {
      leaf.push_back(b.AddSwitch("leaf-" + std::to_string(pod) + "-" + std::to_string(i),
                                 SwitchRole::kLeaf, pod));
      agg.push_back(b.AddSwitch("spine-" + std::to_string(pod) + "-" + std::to_string(i),
                                SwitchRole::kSpine, pod));
    }
    for (int i = 0; i < half; ++i) {
      for (int h = 0; h < half; ++h) {
        ServerId s = b.AddServer("server-" + std::to_string(server++), pod);
        b.AddLink(b.AddNic(s, 0), leaf[i], kSpeed);
      }
      for (int j = 0; j < half; ++j) b.AddLink(leaf[i], agg[j], kSpeed);
    }
    for (int j = 0; j < half; ++j) {
      for (int c = 0; c < half; ++c) b.AddLink(agg[j], core[j * half + c], kSpeed);
    }
  }
  absl::StatusOr<Fabric> f = std::move(b).Build();
  EXPECT_TRUE(f.ok()) << f.status();
  return *std::move(f);
}

// Rail-optimized: `servers` servers with `rails` NICs each; NIC r goes to rail switch r;
// every rail switch connects to every spine.
Fabric RailOptimized(int servers, int rails, int spines) {
  FabricBuilder b;
  std::vector<NodeId> rail, spine;
  for (int r = 0; r < rails; ++r)
    rail.push_back(b.AddSwitch("rail-" + std::to_string(r), SwitchRole::kLeaf, -1, r));
  for (int s = 0; s < spines; ++s)
    spine.push_back(b.AddSwitch("spine-" + std::to_string(s), SwitchRole::kSpine));
  for (int sv = 0; sv < servers; ++sv) {
    ServerId s = b.AddServer("server-" + std::to_string(sv));
    for (int r = 0; r < rails; ++r) b.AddLink(b.AddNic(s, r), rail[r], kSpeed);
  }
  for (int r = 0; r < rails; ++r) {
    for (int s = 0; s < spines; ++s) b.AddLink(rail[r], spine[s], kSpeed);
  }
  absl::StatusOr<Fabric> f = std::move(b).Build();
  EXPECT_TRUE(f.ok()) << f.status();
  return *std::move(f);
}

std::vector<LosslessFlow> AllPairsUpDown(const Fabric& fabric) {
  std::vector<LosslessFlow> flows;
  LinkStatus status(fabric);
  for (NodeId src : fabric.nics()) {
    for (NodeId dst : fabric.nics()) {
      if (src == dst) continue;
      absl::StatusOr<std::vector<Path>> paths = UpDownPaths(fabric, status, src, dst);
      EXPECT_TRUE(paths.ok()) << paths.status();
      if (paths.ok()) flows.push_back({src, dst, *paths});
    }
  }
  return flows;
}

std::vector<Path> Flatten(const std::vector<LosslessFlow>& flows) {
  std::vector<Path> out;
  for (const LosslessFlow& f : flows) out.insert(out.end(), f.paths.begin(), f.paths.end());
  return out;
}

void ExpectAllPairsAcyclic(const Fabric& fabric, size_t min_paths) {
  std::vector<Path> paths = Flatten(AllPairsUpDown(fabric));
  EXPECT_GE(paths.size(), min_paths);
  BufferDependencyGraph graph(fabric);
  for (const Path& p : paths) ASSERT_TRUE(graph.AddPath(p, 3).ok());
  EXPECT_GT(graph.num_edges(), 0u);
  absl::StatusOr<DeadlockReport> report = CheckPaths(fabric, paths, {3, 4});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->deadlock_free) << report->description;
}

TEST(DeadlockTest, UpDownAllPairsAcyclicOnLeafSpine) {
  // 8 leaves x 2 NICs = 16 NICs, 240 pairs; 224 cross-leaf pairs x 4 spines + 16 same-leaf.
  ExpectAllPairsAcyclic(LeafSpine(8, 4, 2), 224 * 4 + 16);
}

TEST(DeadlockTest, UpDownAllPairsAcyclicOnFatTree) {
  Fabric fabric = FatTree(4);
  ASSERT_EQ(fabric.nics().size(), 16u);
  ExpectAllPairsAcyclic(fabric, 240);
}

TEST(DeadlockTest, UpDownAllPairsAcyclicOnRailOptimized) {
  Fabric fabric = RailOptimized(4, 4, 2);
  ExpectAllPairsAcyclic(fabric, 240);
}

// The same property on the shared builders' fabrics (parallel uplinks, multi-NIC servers).
TEST(DeadlockTest, UpDownAllPairsAcyclicOnBuilderFabrics) {
  topology::LeafSpineParams ls;
  ls.leaves = 4;
  ls.spines = 2;
  ls.servers_per_leaf = 2;
  ls.nics_per_server = 2;
  ls.uplinks_per_spine = 2;
  absl::StatusOr<Fabric> leaf_spine = topology::LeafSpine(ls);
  ASSERT_TRUE(leaf_spine.ok()) << leaf_spine.status();
  ExpectAllPairsAcyclic(*leaf_spine, 16 * 15);

  absl::StatusOr<Fabric> fat_tree = topology::FatTree(4);
  ASSERT_TRUE(fat_tree.ok()) << fat_tree.status();
  ExpectAllPairsAcyclic(*fat_tree, 16 * 15);

  topology::RailOptimizedParams ro;
  ro.groups = 2;
  ro.servers_per_group = 2;
  ro.rails = 4;
  ro.spines = 4;
  absl::StatusOr<Fabric> rails = topology::RailOptimized(ro);
  ASSERT_TRUE(rails.ok()) << rails.status();
  ExpectAllPairsAcyclic(*rails, 16 * 15);
}

TEST(DeadlockTest, SingleLinkFailuresOnBuilderFatTreeStayAcyclic) {
  absl::StatusOr<Fabric> fabric = topology::FatTree(4);
  ASSERT_TRUE(fabric.ok()) << fabric.status();
  absl::StatusOr<DeadlockReport> report =
      CheckWithSingleLinkFailures(*fabric, AllPairsUpDown(*fabric), {3, 4}, UpDownRerouter());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->deadlock_free) << report->description;
}

// Three leaves, spines 0..2, one NIC per leaf (two on leaf-2): the bounce scenario.
struct BounceFixture {
  Fabric fabric = LeafSpine(3, 3, 2);
  NodeId N(const std::string& name) { return *fabric.FindNode(name); }
  DirectedLinkId Ch(const std::string& from, const std::string& to) {
    NodeId a = N(from), b = N(to);
    for (LinkId l : fabric.LinksOf(a)) {
      if (fabric.Peer(l, a) == b) return fabric.DirectedFrom(l, a);
    }
    ADD_FAILURE() << "no link " << from << " -> " << to;
    return 0;
  }
  NodeId NicOf(int server) { return fabric.servers()[server].nics[0]; }
  DirectedLinkId Ch2(NodeId a, NodeId b) {
    for (LinkId l : fabric.LinksOf(a)) {
      if (fabric.Peer(l, a) == b) return fabric.DirectedFrom(l, a);
    }
    ADD_FAILURE() << "no link";
    return 0;
  }
  // leaf-2 -> spine-0 -> leaf-1 -> spine-1 -> leaf-0 (server 4 to server 0)
  Path BounceA() {
    return Path{{Ch2(NicOf(4), N("leaf-2")), Ch("leaf-2", "spine-0"), Ch("spine-0", "leaf-1"),
                 Ch("leaf-1", "spine-1"), Ch("spine-1", "leaf-0"), Ch2(N("leaf-0"), NicOf(0))}};
  }
  // leaf-2 -> spine-1 -> leaf-0 -> spine-0 -> leaf-1 (server 5 to server 2): the counterpart
  // that bounces the other way round the same leaf-0/leaf-1/spine-0/spine-1 square.
  Path BounceB() {
    return Path{{Ch2(NicOf(5), N("leaf-2")), Ch("leaf-2", "spine-1"), Ch("spine-1", "leaf-0"),
                 Ch("leaf-0", "spine-0"), Ch("spine-0", "leaf-1"), Ch2(N("leaf-1"), NicOf(2))}};
  }
  std::vector<DirectedLinkId> ExpectedCycle() {
    return {Ch("spine-0", "leaf-1"), Ch("leaf-1", "spine-1"), Ch("spine-1", "leaf-0"),
            Ch("leaf-0", "spine-0")};
  }
};

// True if `got` is `want` rotated.
bool IsRotation(std::vector<DirectedLinkId> got, const std::vector<DirectedLinkId>& want) {
  if (got.size() != want.size()) return false;
  for (size_t r = 0; r < got.size(); ++r) {
    if (got == want) return true;
    std::rotate(got.begin(), got.begin() + 1, got.end());
  }
  return false;
}

TEST(DeadlockTest, BouncePairYieldsExactlyTheExpectedCycle) {
  BounceFixture fx;
  // One bounce alone is acyclic; with its counterpart the square closes.
  absl::StatusOr<DeadlockReport> one = CheckPaths(fx.fabric, {fx.BounceA()}, {3});
  ASSERT_TRUE(one.ok());
  EXPECT_TRUE(one->deadlock_free);

  std::vector<Path> paths = Flatten(AllPairsUpDown(fx.fabric));
  paths.push_back(fx.BounceA());
  paths.push_back(fx.BounceB());
  absl::StatusOr<DeadlockReport> report = CheckPaths(fx.fabric, paths, {3});
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_FALSE(report->deadlock_free);
  std::vector<DirectedLinkId> got;
  for (const BufferNode& n : report->cycle) {
    EXPECT_EQ(n.priority, 3);
    got.push_back(n.link);
  }
  EXPECT_TRUE(IsRotation(got, fx.ExpectedCycle())) << report->description;
  for (const char* name : {"spine-0:", "leaf-1:", "spine-1:", "leaf-0:"}) {
    EXPECT_NE(report->description.find(name), std::string::npos) << report->description;
  }
  EXPECT_EQ(report->description.find("leaf-2"), std::string::npos) << report->description;
}

TEST(DeadlockTest, DifferentPrioritiesDoNotCloseTheCycle) {
  // Tagger's fix: raise the priority at the bounce, so A and B live in different planes.
  BounceFixture fx;
  BufferDependencyGraph graph(fx.fabric);
  ASSERT_TRUE(graph.AddPath(fx.BounceA(), 3).ok());
  ASSERT_TRUE(graph.AddPath(fx.BounceB(), 4).ok());
  EXPECT_FALSE(graph.FindCycle().has_value());
  ASSERT_TRUE(graph.AddPath(fx.BounceB(), 3).ok());
  EXPECT_TRUE(graph.FindCycle().has_value());
}

TEST(DeadlockTest, RefusesMalformedPaths) {
  BounceFixture fx;
  BufferDependencyGraph graph(fx.fabric);
  Path broken = fx.BounceA();
  std::swap(broken.hops[1], broken.hops[2]);
  absl::Status s = graph.AddPath(broken, 3);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("do not connect"), absl::string_view::npos) << s;
  EXPECT_FALSE(graph.AddPath(Path{{-1}}, 3).ok());
  EXPECT_FALSE(graph.AddPath(Path{{fx.fabric.num_directed_links()}}, 3).ok());
  EXPECT_FALSE(graph.AddPath(fx.BounceA(), 8).ok());
  EXPECT_EQ(graph.num_edges(), 0u);
}

TEST(DeadlockTest, SingleLinkFailuresWithUpDownRerouteStayAcyclic) {
  Fabric fabric = LeafSpine(4, 3, 2);
  absl::StatusOr<DeadlockReport> report =
      CheckWithSingleLinkFailures(fabric, AllPairsUpDown(fabric), {3, 4}, UpDownRerouter());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->deadlock_free) << report->description;
}

TEST(DeadlockTest, SingleLinkFailureWithBouncingRerouteIsCaught) {
  BounceFixture fx;
  const LinkId failed = Fabric::LinkOf(fx.Ch("leaf-2", "spine-2"));
  const NodeId a_src = fx.NicOf(4), a_dst = fx.NicOf(0);
  const NodeId b_src = fx.NicOf(5), b_dst = fx.NicOf(2);
  Rerouter bouncing = [&](const Fabric& fabric, const LinkStatus& status, NodeId src,
                          NodeId dst) -> absl::StatusOr<std::vector<Path>> {
    if (!status.IsUp(failed)) {
      if (src == a_src && dst == a_dst) return std::vector<Path>{fx.BounceA()};
      if (src == b_src && dst == b_dst) return std::vector<Path>{fx.BounceB()};
    }
    return UpDownPaths(fabric, status, src, dst);
  };
  absl::StatusOr<DeadlockReport> report =
      CheckWithSingleLinkFailures(fx.fabric, AllPairsUpDown(fx.fabric), {3}, bouncing);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_FALSE(report->deadlock_free);
  EXPECT_EQ(report->failed_link, failed);
  std::vector<DirectedLinkId> got;
  for (const BufferNode& n : report->cycle) got.push_back(n.link);
  EXPECT_TRUE(IsRotation(got, fx.ExpectedCycle())) << report->description;
  EXPECT_NE(report->description.find("after failure of"), std::string::npos);
}

}  // namespace
}  // namespace pulse::controller
