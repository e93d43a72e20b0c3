#include "controller/placement/lossless_graph.h"

#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "controller/paths/paths.h"
#include "controller/qos/deadlock.h"
#include "tests/controller/placement_test_fabrics.h"

namespace pulse::controller {
namespace {

using topology::Fabric;
using topology::NodeId;

std::shared_ptr<const Fabric> MustBuild(absl::StatusOr<Fabric> f) {
  EXPECT_TRUE(f.ok()) << f.status();
  return std::make_shared<const Fabric>(*std::move(f));
}

NodeId Node(const Fabric& f, const std::string& name) {
  auto n = f.FindNode(name);
  EXPECT_TRUE(n.ok()) << name;
  return *n;
}

// The path through the named nodes in order, using the first link between each pair.
Path Through(const Fabric& f, const std::vector<std::string>& names) {
  Path path;
  for (size_t i = 0; i + 1 < names.size(); ++i) {
    NodeId a = Node(f, names[i]), b = Node(f, names[i + 1]);
    for (topology::LinkId l : f.LinksOf(a)) {
      if (f.Peer(l, a) == b) {
        path.hops.push_back(f.DirectedFrom(l, a));
        break;
      }
    }
  }
  EXPECT_EQ(path.hops.size() + 1, names.size());
  return path;
}

// Four leaves, two spines, one server per leaf. The two bounces each go down to a leaf and up to
// the other spine, in opposite directions: together with nothing else they close
// spine-1->leaf-2 => leaf-2->spine-0 => spine-0->leaf-3 => leaf-3->spine-1 => (first).
class BounceTest : public ::testing::Test {
 protected:
  BounceTest() : fabric_(MustBuild(placement_testing::LeafSpineFabric(4, 2, 1))), graph_(*fabric_) {
    first_ = Through(*fabric_, {"server-1/nic-0", "leaf-1", "spine-1", "leaf-2", "spine-0",
                                "leaf-3", "server-3/nic-0"});
    reverse_ = Through(*fabric_, {"server-0/nic-0", "leaf-0", "spine-0", "leaf-3", "spine-1",
                                  "leaf-2", "server-2/nic-0"});
  }
  std::vector<Path> AllPaths() const { return {first_, reverse_}; }

  std::shared_ptr<const Fabric> fabric_;
  LosslessGraph graph_;
  Path first_, reverse_;
};

TEST_F(BounceTest, SecondBounceIsRefusedNamingTheCycleAndChangesNothing) {
  ASSERT_TRUE(graph_.AddPath(reverse_, 3).ok());
  EXPECT_GT(graph_.num_bounce_edges(), 0u);
  const size_t edges = graph_.num_edges();
  absl::Status refused = graph_.AddPath(first_, 3);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  for (auto [a, b] : std::vector<std::pair<std::string, std::string>>{{"spine-1", "leaf-2"},
                                                                      {"leaf-2", "spine-0"},
                                                                      {"spine-0", "leaf-3"},
                                                                      {"leaf-3", "spine-1"}}) {
    const DirectedLinkId d = Through(*fabric_, {a, b}).hops[0];
    EXPECT_NE(refused.message().find(fabric_->DescribeDirected(d)), absl::string_view::npos)
        << a << "->" << b << " missing from: " << refused.message();
  }
  EXPECT_NE(refused.message().find("[prio 3]"), absl::string_view::npos);
  EXPECT_EQ(graph_.num_edges(), edges);
  // qos's from-scratch check agrees that the pair is cyclic and each alone is not.
  auto both = CheckPaths(*fabric_, AllPaths(), {3});
  ASSERT_TRUE(both.ok());
  EXPECT_FALSE(both->deadlock_free);
  auto alone = CheckPaths(*fabric_, {reverse_}, {3});
  ASSERT_TRUE(alone.ok());
  EXPECT_TRUE(alone->deadlock_free);
}

TEST_F(BounceTest, CycleIsAChainOfDependencies) {
  ASSERT_TRUE(graph_.AddPath(reverse_, 3).ok());
  std::vector<BufferNode> cycle = graph_.CycleIfAdded(first_, 3);
  ASSERT_EQ(cycle.size(), 4u);
  for (size_t i = 0; i < cycle.size(); ++i) {
    const BufferNode& a = cycle[i];
    const BufferNode& b = cycle[(i + 1) % cycle.size()];
    EXPECT_EQ(fabric_->Head(a.link), fabric_->Tail(b.link));
    EXPECT_EQ(a.priority, 3);
  }
  EXPECT_TRUE(graph_.AddPath(reverse_, 3).ok());  // unchanged by the query: same path again fits
}

TEST_F(BounceTest, PrioritiesAreSeparateBuffers) {
  ASSERT_TRUE(graph_.AddPath(reverse_, 3).ok());
  EXPECT_TRUE(graph_.AddPath(first_, 4).ok());
}

TEST_F(BounceTest, RemovalIsCountedPerPath) {
  ASSERT_TRUE(graph_.AddPath(reverse_, 3).ok());
  ASSERT_TRUE(graph_.AddPath(reverse_, 3).ok());
  graph_.RemovePath(reverse_, 3);
  EXPECT_FALSE(graph_.AddPath(first_, 3).ok());  // one copy is still installed
  graph_.RemovePath(reverse_, 3);
  EXPECT_EQ(graph_.num_edges(), 0u);
  EXPECT_EQ(graph_.num_bounce_edges(), 0u);
  EXPECT_TRUE(graph_.AddPath(first_, 3).ok());
  EXPECT_EQ(graph_.AddPath(reverse_, 3).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(BounceTest, MalformedInputIsRejected) {
  EXPECT_EQ(graph_.AddPath(first_, 8).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(graph_.AddPath(first_, -1).code(), absl::StatusCode::kInvalidArgument);
  Path bad = first_;
  bad.hops[2] = fabric_->num_directed_links();
  EXPECT_EQ(graph_.AddPath(bad, 3).code(), absl::StatusCode::kInvalidArgument);
  Path gap = first_;
  gap.hops.erase(gap.hops.begin() + 1);
  EXPECT_EQ(graph_.AddPath(gap, 3).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(graph_.num_edges(), 0u);
  graph_.RemovePath(first_, 3);  // never added: ignored
  EXPECT_EQ(graph_.num_edges(), 0u);
}

// Every up-down path between every NIC pair together stays acyclic, on the fast path.
TEST(LosslessGraphTest, AllUpDownPathsAreAcyclic) {
  for (auto fabric : {MustBuild(placement_testing::LeafSpineFabric(4, 3, 2, 2)),
                      MustBuild(placement_testing::FatTreeFabric(4))}) {
    LosslessGraph graph(*fabric);
    LinkStatus status(*fabric);
    std::vector<Path> all;
    for (NodeId a : fabric->nics()) {
      for (NodeId b : fabric->nics()) {
        if (a == b) continue;
        auto paths = UpDownPaths(*fabric, status, a, b);
        ASSERT_TRUE(paths.ok());
        for (const Path& p : *paths) {
          ASSERT_TRUE(graph.AddPath(p, 3).ok());
          all.push_back(p);
        }
      }
    }
    EXPECT_EQ(graph.num_bounce_edges(), 0u);
    auto check = CheckPaths(*fabric, all, {3});
    ASSERT_TRUE(check.ok());
    EXPECT_TRUE(check->deadlock_free);
  }
}

// Random walks (bounces included) added and removed at random: the incremental graph accepts a
// path exactly when qos's from-scratch check of the installed set plus that path is acyclic.
TEST(LosslessGraphTest, AgreesWithFromScratchCheck) {
  auto fabric = MustBuild(placement_testing::LeafSpineFabric(4, 3, 1));
  std::mt19937 rng(5);
  LosslessGraph graph(*fabric);
  std::vector<std::pair<Path, int>> installed;
  int accepted = 0, refused = 0;
  for (int step = 0; step < 600; ++step) {
    if (!installed.empty() && rng() % 3 == 0) {
      size_t victim = rng() % installed.size();
      graph.RemovePath(installed[victim].first, installed[victim].second);
      installed.erase(installed.begin() + victim);
      continue;
    }
    // A walk from a random NIC through 2..6 switches without immediate U-turns.
    NodeId at = fabric->nics()[rng() % fabric->nics().size()];
    Path path;
    topology::LinkId last = topology::kNoLink;
    const int len = 2 + static_cast<int>(rng() % 5);
    for (int h = 0; h < len; ++h) {
      std::vector<topology::LinkId> choices;
      for (topology::LinkId l : fabric->LinksOf(at)) {
        if (l != last && fabric->node(fabric->Peer(l, at)).is_switch()) choices.push_back(l);
      }
      if (choices.empty()) break;
      last = choices[rng() % choices.size()];
      path.hops.push_back(fabric->DirectedFrom(last, at));
      at = fabric->Peer(last, at);
    }
    const int priority = 3 + static_cast<int>(rng() % 2);
    std::vector<Path> with;
    std::vector<Path> same_prio;
    for (const auto& [p, prio] : installed) {
      if (prio == priority) same_prio.push_back(p);
    }
    same_prio.push_back(path);
    auto oracle = CheckPaths(*fabric, same_prio, {priority});
    ASSERT_TRUE(oracle.ok());
    absl::Status added = graph.AddPath(path, priority);
    ASSERT_EQ(added.ok(), oracle->deadlock_free) << added;
    if (added.ok()) {
      installed.push_back({path, priority});
      ++accepted;
    } else {
      EXPECT_EQ(added.code(), absl::StatusCode::kFailedPrecondition);
      ++refused;
    }
  }
  EXPECT_GT(accepted, 50);
  EXPECT_GT(refused, 10);
}

}  // namespace
}  // namespace pulse::controller
