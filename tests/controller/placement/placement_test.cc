#include "controller/placement/placement.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "controller/placement/lower_bound.h"
#include "controller/qos/deadlock.h"
#include "tests/controller/placement_test_fabrics.h"
#include "topology/builders.h"

namespace pulse::controller {
namespace {

using placement_testing::kGbps;
using topology::Fabric;
using topology::NodeId;

std::shared_ptr<const Fabric> MustBuild(absl::StatusOr<Fabric> f) {
  EXPECT_TRUE(f.ok()) << f.status();
  return std::make_shared<const Fabric>(*std::move(f));
}

std::string NicName(const Fabric& f, int i) { return f.node(f.nics()[i]).name; }

// An explicit job of unit-rate (line-rate) flows i -> perm[i], fixed points dropped.
JobSpec PermutationJob(const Fabric& f, const std::vector<int>& perm, const std::string& id) {
  JobSpec spec;
  spec.id = id;
  spec.pattern = CollectivePattern::kExplicit;
  for (size_t i = 0; i < perm.size(); ++i) {
    if (static_cast<int>(i) == perm[i]) continue;
    spec.explicit_flows.push_back({NicName(f, i), NicName(f, perm[i]), 0});
  }
  return spec;
}

std::vector<int> RandomPermutation(int n, std::mt19937& rng) {
  std::vector<int> perm(n);
  for (int i = 0; i < n; ++i) perm[i] = i;
  std::shuffle(perm.begin(), perm.end(), rng);
  return perm;
}

void ExpectPathsValid(const Fabric& f, const JobPlacement& job) {
  for (const PlacedFlow& flow : job.flows) {
    ASSERT_TRUE(IsValleyFree(f, flow.path, flow.src, flow.dst))
        << f.node(flow.src).name << " -> " << f.node(flow.dst).name;
  }
}

// Recomputes every channel's load from the placed flows: the placement's books must agree.
void ExpectLoadsConsistent(const Placement& p) {
  std::vector<double> load(p.fabric().num_directed_links(), 0);
  for (const auto& [id, job] : p.jobs()) {
    for (const PlacedFlow& flow : job.flows) {
      for (auto d : flow.path.hops) load[d] += flow.rate_bps;
    }
  }
  for (size_t d = 0; d < load.size(); ++d) ASSERT_NEAR(p.LoadBps(d), load[d], 1.0) << d;
}

// Property test: every random permutation of line-rate flows on a 1:1 leaf-spine (with parallel
// links) or k-ary fat-tree is placed with maximum link load exactly 1.0.
TEST(PlacementPropertyTest, RandomPermutationsPlaceAtExactlyLineRate) {
  struct Case {
    std::shared_ptr<const Fabric> fabric;
    int permutations;
  };
  std::vector<Case> cases;
  // (leaves, spines, hosts per leaf, parallel): hosts == spines * parallel (1:1).
  const int shapes[][4] = {{2, 1, 1, 1},   {2, 2, 2, 1},   {3, 2, 4, 2}, {4, 4, 4, 1},
                           {5, 3, 6, 2},   {8, 8, 8, 1},   {8, 4, 8, 2}, {16, 8, 8, 1},
                           {12, 6, 12, 2}, {32, 16, 16, 1}};
  for (const auto& s : shapes) {
    cases.push_back({MustBuild(placement_testing::LeafSpineFabric(s[0], s[1], s[2], s[3])), 1000});
  }
  for (int k : {4, 6, 8, 10})
    cases.push_back({MustBuild(placement_testing::FatTreeFabric(k)), 400});
  cases.push_back({MustBuild(placement_testing::FatTreeFabric(16)), 40});

  std::mt19937 rng(2024);
  int placed = 0;
  for (const Case& c : cases) {
    Placement p(c.fabric);
    const int n = static_cast<int>(c.fabric->nics().size());
    for (int t = 0; t < c.permutations; ++t) {
      std::vector<int> perm = RandomPermutation(n, rng);
      JobSpec spec = PermutationJob(*c.fabric, perm, "perm");
      if (spec.explicit_flows.empty()) continue;
      auto job = p.PlaceJob(spec);
      ASSERT_TRUE(job.ok()) << job.status();
      ASSERT_EQ((*job)->exact_flows, (*job)->flows.size());
      ASSERT_NEAR((*job)->max_link_load, 1.0, 1e-9) << "nics " << n << " trial " << t;
      ASSERT_NEAR(p.MaxUtilisation(), 1.0, 1e-9);
      if (t % 50 == 0) {
        ExpectPathsValid(*c.fabric, **job);
        ExpectLoadsConsistent(p);
      }
      ASSERT_TRUE(p.RemoveJob("perm").ok());
      ASSERT_NEAR(p.MaxUtilisation(), 0.0, 1e-12);
      ++placed;
    }
  }
  EXPECT_GE(placed, 10000);
}

// Loads are sums of doubles: adding rates like 100G/3 and taking them away again leaves dust of
// about 1e-5 b/s on a 100G link, which showed as a loaded channel (pulse-plan listed a failed
// link carrying 5.7e-6 b/s). Once every job is gone, every link carries exactly 0.
TEST(PlacementTest, LoadsReturnToExactlyZeroAfterEveryJobLeaves) {
  std::shared_ptr<const Fabric> fabric = MustBuild(placement_testing::LeafSpineFabric(4, 4, 4, 1));
  Placement p(fabric);
  std::mt19937 rng(7);
  const double rates[] = {100 * kGbps / 3, 100 * kGbps / 7, 37.3 * kGbps, 100 * kGbps / 11,
                          12.345678 * kGbps};
  const int n = static_cast<int>(fabric->nics().size());
  std::vector<std::string> ids;
  for (int j = 0; j < 40; ++j) {
    JobSpec spec = PermutationJob(*fabric, RandomPermutation(n, rng), absl::StrCat("job-", j));
    spec.rate_bps = rates[j % 5];
    spec.max_subflows = 1 + j % 3;
    if (spec.explicit_flows.empty()) continue;
    ASSERT_TRUE(p.PlaceJob(spec).ok());
    ids.push_back(spec.id);
  }
  std::shuffle(ids.begin(), ids.end(), rng);
  for (const std::string& id : ids) ASSERT_TRUE(p.RemoveJob(id).ok());
  int dusty = 0;
  double worst = 0;
  for (size_t d = 0; d < 2 * fabric->links().size(); ++d) {
    double load = p.LoadBps(static_cast<topology::DirectedLinkId>(d));
    if (load != 0) ++dusty;
    worst = std::max(worst, std::abs(load));
  }
  EXPECT_EQ(dusty, 0) << "largest leftover " << worst << " b/s";
}

// The fabrics topology/builders.h makes (the ones the controller runs on) colour exactly too;
// multi-plane fabrics (NICs with one port per plane) fall back to the heuristic, still valid.
TEST(PlacementTest, TopologyBuilderFabrics) {
  topology::LeafSpineParams ls;
  ls.leaves = 6;
  ls.spines = 3;
  ls.servers_per_leaf = 6;
  ls.uplinks_per_spine = 2;
  topology::FatTreeParams ft;
  ft.k = 6;
  topology::RailOptimizedParams rail;
  rail.groups = 2;
  rail.servers_per_group = 4;
  rail.rails = 4;
  rail.spines = 4;
  std::vector<std::shared_ptr<const Fabric>> exact = {MustBuild(topology::LeafSpine(ls)),
                                                      MustBuild(topology::FatTree(ft)),
                                                      MustBuild(topology::RailOptimized(rail))};
  std::mt19937 rng(99);
  for (const auto& fabric : exact) {
    Placement p(fabric);
    for (int t = 0; t < 50; ++t) {
      auto job = p.PlaceJob(
          PermutationJob(*fabric, RandomPermutation(fabric->nics().size(), rng), "perm"));
      ASSERT_TRUE(job.ok()) << job.status();
      EXPECT_EQ((*job)->exact_flows, (*job)->flows.size());
      EXPECT_NEAR((*job)->max_link_load, 1.0, 1e-9);
      ExpectPathsValid(*fabric, **job);
      ASSERT_TRUE(p.RemoveJob("perm").ok());
    }
  }
  ls.planes = 2;
  auto planes = MustBuild(topology::LeafSpine(ls));
  Placement p(planes);
  JobSpec ring;
  ring.id = "ring";
  for (const auto& gpu : planes->gpus()) ring.endpoints.push_back(gpu.name);
  auto job = p.PlaceJob(ring);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ((*job)->exact_flows, 0u);
  EXPECT_LE((*job)->max_link_load, 1.0 + 1e-9);
  ExpectPathsValid(*planes, **job);
  ExpectLoadsConsistent(p);
}

// With steering on, plain ECMP hashing of each flow's 5-tuple (with its udp_src_port) follows
// the planned path, before and after a link failure.
TEST(PlacementTest, SteeringPortsMakeEcmpFollowThePlan) {
  topology::LeafSpineParams ls;
  ls.leaves = 4;
  ls.spines = 4;
  ls.servers_per_leaf = 4;
  auto fabric = MustBuild(topology::LeafSpine(ls));
  Placement p(fabric);
  HashModels models;
  models.default_model.seed = 7;
  p.EnableSteering(models);
  std::mt19937 rng(3);
  JobSpec perm = PermutationJob(*fabric, RandomPermutation(16, rng), "perm");
  perm.enforcement = Enforcement::kSteer;
  ASSERT_TRUE(p.PlaceJob(perm).ok());
  auto expect_followed = [&](EcmpGroups& groups) {
    int steered = 0;
    for (const PlacedFlow& f : p.FindJob("perm")->flows) {
      ASSERT_NE(f.udp_src_port, 0) << fabric->node(f.src).name;
      auto tuple = RoceTuple(*fabric, f.src, f.dst, f.udp_src_port);
      ASSERT_TRUE(tuple.ok()) << tuple.status();
      auto traced = TraceEcmpPath(groups, models, f.src, f.dst, *tuple, f.path.hops[0]);
      ASSERT_TRUE(traced.ok()) << traced.status();
      EXPECT_EQ(*traced, f.path);
      ++steered;
    }
    EXPECT_GT(steered, 0);
  };
  EcmpGroups groups(fabric);
  expect_followed(groups);
  // Fail the first spine link some flow crosses; moved and re-hashed flows must still follow.
  topology::LinkId failed = topology::kNoLink;
  for (const PlacedFlow& f : p.FindJob("perm")->flows) {
    if (f.path.hops.size() == 4) failed = Fabric::LinkOf(f.path.hops[1]);
  }
  ASSERT_NE(failed, topology::kNoLink);
  ASSERT_TRUE(p.SetLinkUp(failed, false).ok());
  groups.SetLinkUp(failed, false);
  expect_followed(groups);
}

// A fabric whose intent gives no addresses (address_plan: none): steering hashes the addresses
// learned from the hosts. Until both ends of a flow are known a steered job is refused naming
// the NIC; a learned or changed address re-steers exactly the flows at that NIC (port changes
// recorded), and forgetting it leaves them without a port (pinned).
TEST(PlacementTest, SteeringUsesLearnedAddresses) {
  topology::LeafSpineParams ls;
  ls.leaves = 4;
  ls.spines = 4;
  ls.servers_per_leaf = 4;
  ls.address_plan.kind = topology::AddressPlanKind::kNone;
  auto fabric = MustBuild(topology::LeafSpine(ls));
  ASSERT_EQ(fabric->node(fabric->nics()[0]).ipv4, 0u);
  Placement p(fabric);
  HashModels models;
  models.default_model = {HashAlgorithm::kOvsMultipath, 3, kHashAllFields};
  p.EnableSteering(models);
  std::mt19937 rng(5);
  JobSpec perm = PermutationJob(*fabric, RandomPermutation(16, rng), "perm");
  perm.enforcement = Enforcement::kSteer;
  auto refused = p.PlaceJob(perm);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_NE(refused.status().message().find("no known IPv4 address"), std::string::npos)
      << refused.status();
  EXPECT_NE(refused.status().message().find("flow 0"), std::string::npos) << refused.status();
  EXPECT_EQ(p.FindJob("perm"), nullptr);

  auto learned = [&](NodeId nic) { return 0x0A640000u + static_cast<uint32_t>(nic); };
  for (NodeId nic : fabric->nics()) EXPECT_EQ(p.SetLearnedAddress(nic, learned(nic)), 0u);
  ASSERT_TRUE(p.PlaceJob(perm).ok());
  EXPECT_TRUE(p.TakePortChanges().empty());
  EcmpGroups groups(fabric);
  auto expect_followed = [&] {
    for (const PlacedFlow& f : p.FindJob("perm")->flows) {
      ASSERT_NE(f.udp_src_port, 0);
      FiveTuple t{p.SteeringAddress(f.src), p.SteeringAddress(f.dst), kUdpProto, f.udp_src_port,
                  kRoceV2Port};
      auto traced = TraceEcmpPath(groups, models, f.src, f.dst, t, f.path.hops[0]);
      ASSERT_TRUE(traced.ok()) << traced.status();
      EXPECT_EQ(*traced, f.path);
    }
  };
  expect_followed();

  // One host comes back under another address: only its flows are looked at again.
  const std::vector<PlacedFlow> before = p.FindJob("perm")->flows;
  const NodeId moved = before[0].src;
  const size_t resteered = p.SetLearnedAddress(moved, 0x0A650001u);
  EXPECT_EQ(resteered, 2u);  // a permutation: one flow from it, one to it
  EXPECT_EQ(p.SteeringAddress(moved), 0x0A650001u);
  expect_followed();
  std::vector<PortChange> changes = p.TakePortChanges();
  for (const PortChange& c : changes) {
    const PlacedFlow& f = p.FindJob("perm")->flows[c.flow_index];
    EXPECT_TRUE(f.src == moved || f.dst == moved);
    EXPECT_EQ(c.old_udp_src_port, before[c.flow_index].udp_src_port);
    EXPECT_EQ(c.new_udp_src_port, f.udp_src_port);
  }
  for (size_t i = 0; i < before.size(); ++i) {
    const PlacedFlow& f = p.FindJob("perm")->flows[i];
    if (f.src != moved && f.dst != moved) {
      EXPECT_EQ(f.udp_src_port, before[i].udp_src_port);
    }
  }
  // The same address again changes nothing.
  EXPECT_EQ(p.SetLearnedAddress(moved, 0x0A650001u), 0u);
  EXPECT_TRUE(p.TakePortChanges().empty());

  // The address is forgotten (it moved to another port): its flows lose their ports.
  EXPECT_EQ(p.SetLearnedAddress(moved, 0), 2u);
  changes = p.TakePortChanges();
  EXPECT_EQ(changes.size(), 2u);
  for (const PlacedFlow& f : p.FindJob("perm")->flows) {
    if (f.src == moved || f.dst == moved) {
      EXPECT_EQ(f.udp_src_port, 0);
    }
  }
  // A model address always wins over a learned one (the steered placement ignores the latter).
  ls.address_plan.kind = topology::AddressPlanKind::kMininet;
  auto addressed = MustBuild(topology::LeafSpine(ls));
  Placement q(addressed);
  q.EnableSteering(models);
  const NodeId nic = addressed->nics()[0];
  EXPECT_EQ(q.SetLearnedAddress(nic, 0x01020304u), 0u);
  EXPECT_EQ(q.SteeringAddress(nic), addressed->node(nic).ipv4);
}

// Enforcement: steered jobs get a port on every flow, pinned jobs none; the placement's default
// applies to jobs that do not choose; a steered job needs hash models.
TEST(PlacementTest, EnforcementDecidesWhichJobsGetPorts) {
  topology::LeafSpineParams ls;
  ls.leaves = 4;
  ls.spines = 4;
  ls.servers_per_leaf = 4;
  auto fabric = MustBuild(topology::LeafSpine(ls));
  std::mt19937 rng(5);
  {
    Placement without_models(fabric);
    JobSpec steer = PermutationJob(*fabric, RandomPermutation(16, rng), "steer");
    steer.enforcement = Enforcement::kSteer;
    auto refused = without_models.PlaceJob(steer);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(refused.status().message().find("hash models"), std::string::npos)
        << refused.status();
    EXPECT_EQ(without_models.FindJob("steer"), nullptr);
    EXPECT_DOUBLE_EQ(without_models.MaxUtilisation(), 0);  // nothing was left behind
  }
  PlacementOptions options;
  options.enforcement = Enforcement::kSteer;
  Placement p(fabric, options);
  HashModels models;
  models.default_model = {HashAlgorithm::kOvsMultipath, 0, kHashAllFields};
  p.EnableSteering(models);
  JobSpec by_default = PermutationJob(*fabric, RandomPermutation(16, rng), "by-default");
  JobSpec pinned = PermutationJob(*fabric, RandomPermutation(16, rng), "pinned");
  pinned.enforcement = Enforcement::kPin;
  auto a = p.PlaceJob(by_default);
  auto b = p.PlaceJob(pinned);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ((*a)->enforcement, Enforcement::kSteer);
  EXPECT_EQ((*a)->spec.enforcement, Enforcement::kSteer);  // stored resolved
  EXPECT_EQ((*b)->enforcement, Enforcement::kPin);
  for (const PlacedFlow& f : (*a)->flows) {
    EXPECT_GE(f.udp_src_port, 49152) << fabric->node(f.src).name;
  }
  for (const PlacedFlow& f : (*b)->flows) EXPECT_EQ(f.udp_src_port, 0);
  EXPECT_TRUE(p.TakePortChanges().empty()) << "placing a job changes no port";
}

// A spine link going down re-steers only the flows whose hashing it touched: flows on other
// spines keep their ports (HRW moves only the dead member's slots), and every change is reported.
TEST(PlacementTest, LinkDownChangesOnlyAffectedPorts) {
  topology::LeafSpineParams ls;
  ls.leaves = 4;
  ls.spines = 4;
  ls.servers_per_leaf = 4;
  auto fabric = MustBuild(topology::LeafSpine(ls));
  PlacementOptions options;
  options.enforcement = Enforcement::kSteer;
  Placement p(fabric, options);
  HashModels models;
  models.default_model = {HashAlgorithm::kOvsMultipath, 0, kHashAllFields};
  p.EnableSteering(models);
  std::mt19937 rng(9);
  ASSERT_TRUE(p.PlaceJob(PermutationJob(*fabric, RandomPermutation(16, rng), "perm")).ok());
  std::vector<PlacedFlow> before = p.FindJob("perm")->flows;
  topology::LinkId failed = topology::kNoLink;
  for (const PlacedFlow& f : before) {
    if (f.path.hops.size() == 4) failed = Fabric::LinkOf(f.path.hops[1]);
  }
  ASSERT_NE(failed, topology::kNoLink);
  ASSERT_TRUE(p.SetLinkUp(failed, false).ok());
  std::vector<PortChange> changes = p.TakePortChanges();
  const std::vector<PlacedFlow>& after = p.FindJob("perm")->flows;
  std::set<size_t> changed;
  for (const PortChange& c : changes) {
    EXPECT_EQ(c.job_id, "perm");
    ASSERT_LT(c.flow_index, after.size());
    EXPECT_EQ(c.old_udp_src_port, before[c.flow_index].udp_src_port);
    EXPECT_EQ(c.new_udp_src_port, after[c.flow_index].udp_src_port);
    changed.insert(c.flow_index);
  }
  int crossed_failed = 0, kept = 0;
  for (size_t i = 0; i < after.size(); ++i) {
    bool crossed = false;
    for (DirectedLinkId d : before[i].path.hops) crossed |= Fabric::LinkOf(d) == failed;
    crossed_failed += crossed;
    if (before[i].udp_src_port != after[i].udp_src_port) {
      EXPECT_TRUE(changed.count(i)) << "flow " << i << " changed port without a report";
    } else if (!crossed) {
      ++kept;
    }
    EXPECT_NE(after[i].udp_src_port, 0) << "flow " << i;
  }
  EXPECT_GT(crossed_failed, 0);
  EXPECT_GT(kept, 0) << "flows away from the failure must keep their ports";
  EXPECT_LE(changes.size(), after.size());
}

TEST(PlacementTest, CollectivesOnLeafSpineAndFatTreeAreAtMostLineRate) {
  for (auto fabric : {MustBuild(placement_testing::LeafSpineFabric(8, 4, 4)),
                      MustBuild(placement_testing::FatTreeFabric(6))}) {
    for (auto pattern :
         {CollectivePattern::kRing, CollectivePattern::kAllToAll,
          CollectivePattern::kDoubleBinaryTree, CollectivePattern::kHalvingDoubling}) {
      Placement p(fabric);
      JobSpec spec;
      spec.id = "job";
      spec.pattern = pattern;
      std::mt19937 rng(static_cast<int>(pattern));
      std::vector<int> order = RandomPermutation(32, rng);
      for (int i : order) spec.endpoints.push_back(NicName(*fabric, i));
      auto job = p.PlaceJob(spec);
      ASSERT_TRUE(job.ok()) << job.status();
      EXPECT_EQ((*job)->exact_flows, (*job)->flows.size()) << CollectivePatternName(pattern);
      EXPECT_LE((*job)->max_link_load, 1.0 + 1e-9) << CollectivePatternName(pattern);
      EXPECT_GE((*job)->max_link_load, (*job)->lower_bound - 1e-9);
      ExpectPathsValid(*fabric, **job);
      ExpectLoadsConsistent(p);
    }
  }
}

TEST(PlacementTest, OversubscribedFabricUsesHeuristicAndReportsGap) {
  // 2:1 oversubscribed: 4 hosts per leaf, 2 uplinks. Every host sends off-leaf.
  auto fabric = MustBuild(placement_testing::LeafSpineFabric(4, 2, 4));
  Placement p(fabric);
  std::vector<int> perm(16);
  for (int i = 0; i < 16; ++i) perm[i] = (i + 4) % 16;
  auto job = p.PlaceJob(PermutationJob(*fabric, perm, "shift"));
  ASSERT_TRUE(job.ok()) << job.status();
  // Leaf cut: 4 x 100G out over 2 x 100G uplinks.
  EXPECT_NEAR((*job)->lower_bound, 2.0, 1e-9);
  EXPECT_NE((*job)->lower_bound_cut.find("leaf-"), std::string::npos);
  EXPECT_NEAR((*job)->max_link_load, 2.0, 1e-9);  // the heuristic reaches the bound here
  ExpectPathsValid(*fabric, **job);
  ExpectLoadsConsistent(p);
}

TEST(PlacementTest, HeuristicLocalImprovementReachesBoundWithExistingLoad) {
  // With an existing job loading some uplinks, a new job avoids them.
  auto fabric = MustBuild(placement_testing::LeafSpineFabric(2, 4, 4));
  Placement p(fabric);
  JobSpec first;
  first.id = "first";
  first.pattern = CollectivePattern::kExplicit;
  first.rate_bps = 50 * kGbps;
  first.explicit_flows = {{NicName(*fabric, 0), NicName(*fabric, 4), 0},
                          {NicName(*fabric, 1), NicName(*fabric, 5), 0}};
  ASSERT_TRUE(p.PlaceJob(first).ok());
  JobSpec second = first;
  second.id = "second";
  second.explicit_flows = {{NicName(*fabric, 2), NicName(*fabric, 6), 0},
                           {NicName(*fabric, 3), NicName(*fabric, 7), 0}};
  auto job = p.PlaceJob(second);
  ASSERT_TRUE(job.ok());
  EXPECT_NEAR(p.MaxUtilisation(), 0.5, 1e-9);  // four flows on four distinct spines
}

// Arbitrary demand (random pairs and rates, some split): never below the cut bound, always on
// valid paths with consistent books; several jobs stack without moving each other.
TEST(PlacementTest, RandomDemandsRespectTheBound) {
  auto fabric = MustBuild(placement_testing::FatTreeFabric(4));
  std::mt19937 rng(17);
  for (int trial = 0; trial < 200; ++trial) {
    Placement p(fabric);
    for (int j = 0; j < 3; ++j) {
      JobSpec spec;
      spec.id = absl::StrCat("job-", j);
      spec.pattern = CollectivePattern::kExplicit;
      spec.max_subflows = 1 + rng() % 3;
      const int flows = 1 + rng() % 12;
      for (int f = 0; f < flows; ++f) {
        int a = rng() % 16, b = rng() % 16;
        if (a == b) b = (b + 1) % 16;
        spec.explicit_flows.push_back(
            {NicName(*fabric, a), NicName(*fabric, b), (5 + rng() % 95) * 1e9});
      }
      auto job = p.PlaceJob(spec);
      ASSERT_TRUE(job.ok()) << job.status();
      if (j == 0) {
        EXPECT_GE((*job)->max_link_load, (*job)->lower_bound - 1e-9);
      }
      ExpectPathsValid(*fabric, **job);
    }
    ExpectLoadsConsistent(p);
  }
}

TEST(PlacementTest, SplittingSpreadsOneFlowOverSubflows) {
  // 100G hosts, 25G fabric links, 4 spines: one flow needs all four spines.
  auto fabric = MustBuild(placement_testing::LeafSpineFabric(2, 4, 1, 1, 100 * kGbps, 25 * kGbps));
  for (int subflows : {1, 2, 4, 8}) {
    Placement p(fabric);
    JobSpec spec;
    spec.id = "big";
    spec.pattern = CollectivePattern::kExplicit;
    spec.max_subflows = subflows;
    spec.explicit_flows = {{NicName(*fabric, 0), NicName(*fabric, 1), 0}};
    auto job = p.PlaceJob(spec);
    ASSERT_TRUE(job.ok()) << job.status();
    const int used = std::min(subflows, 4);
    EXPECT_EQ((*job)->flows.size(), static_cast<size_t>(used));
    EXPECT_NEAR((*job)->max_link_load, 4.0 / used, 1e-9) << subflows;
    EXPECT_NEAR((*job)->lower_bound, 1.0, 1e-9);  // NIC line rate; fabric cut 100/100
    ExpectPathsValid(*fabric, **job);
  }
}

TEST(PlacementTest, PlacingAndRemovingNeverMovesOtherJobs) {
  auto fabric = MustBuild(placement_testing::FatTreeFabric(4));
  Placement p(fabric);
  std::mt19937 rng(5);
  ASSERT_TRUE(p.PlaceJob(PermutationJob(*fabric, RandomPermutation(16, rng), "a")).ok());
  const std::vector<PlacedFlow> before = p.FindJob("a")->flows;
  std::vector<double> load_before(fabric->num_directed_links());
  for (size_t d = 0; d < load_before.size(); ++d) load_before[d] = p.LoadBps(d);

  JobSpec b;
  b.id = "b";
  b.pattern = CollectivePattern::kAllToAll;
  for (int i = 0; i < 16; ++i) b.endpoints.push_back(NicName(*fabric, i));
  b.rate_bps = 30 * kGbps;
  ASSERT_TRUE(p.PlaceJob(b).ok());
  ASSERT_EQ(p.FindJob("a")->flows.size(), before.size());
  for (size_t i = 0; i < before.size(); ++i)
    EXPECT_EQ(p.FindJob("a")->flows[i].path, before[i].path);
  ExpectLoadsConsistent(p);

  ASSERT_TRUE(p.RemoveJob("b").ok());
  for (size_t d = 0; d < load_before.size(); ++d) EXPECT_NEAR(p.LoadBps(d), load_before[d], 1.0);
  EXPECT_EQ(p.RemoveJob("b").code(), absl::StatusCode::kNotFound);
}

TEST(PlacementTest, LinkFailureMovesOnlyFlowsCrossingIt) {
  auto fabric = MustBuild(placement_testing::LeafSpineFabric(8, 8, 8));
  Placement p(fabric);
  std::mt19937 rng(11);
  ASSERT_TRUE(p.PlaceJob(PermutationJob(*fabric, RandomPermutation(64, rng), "a")).ok());
  JobSpec ring;
  ring.id = "ring";
  for (int i = 0; i < 64; i += 3) ring.endpoints.push_back(NicName(*fabric, i));
  ring.rate_bps = 20 * kGbps;
  ASSERT_TRUE(p.PlaceJob(ring).ok());

  // A leaf-spine link that carries traffic.
  topology::LinkId failed = topology::kNoLink;
  for (const PlacedFlow& f : p.FindJob("a")->flows) {
    if (f.path.hops.size() == 4) {
      failed = Fabric::LinkOf(f.path.hops[1]);
      break;
    }
  }
  ASSERT_NE(failed, topology::kNoLink);
  std::map<std::string, std::vector<PlacedFlow>> before;
  size_t crossing = 0;
  for (const auto& [id, job] : p.jobs()) {
    before[id] = job.flows;
    for (const PlacedFlow& f : job.flows) {
      for (auto d : f.path.hops) crossing += Fabric::LinkOf(d) == failed;
    }
  }
  auto moves = p.SetLinkUp(failed, false);
  ASSERT_TRUE(moves.ok()) << moves.status();
  EXPECT_EQ(moves->moves.size(), crossing);
  EXPECT_TRUE(moves->unplaced.empty());
  EXPECT_TRUE(moves->unplaced_error.ok());
  std::set<std::pair<std::string, size_t>> moved;
  for (const FlowMove& m : moves->moves) {
    moved.insert({m.job_id, m.flow_index});
    bool old_crossed = false;
    for (auto d : m.old_path.hops) old_crossed |= Fabric::LinkOf(d) == failed;
    EXPECT_TRUE(old_crossed);
  }
  for (const auto& [id, job] : p.jobs()) {
    for (size_t i = 0; i < job.flows.size(); ++i) {
      for (auto d : job.flows[i].path.hops) EXPECT_NE(Fabric::LinkOf(d), failed);
      if (!moved.count({id, i})) {
        EXPECT_EQ(job.flows[i].path, before[id][i].path);
      }
    }
    ExpectPathsValid(*fabric, job);
  }
  ExpectLoadsConsistent(p);
  // Coming back up moves nothing.
  auto up = p.SetLinkUp(failed, true);
  ASSERT_TRUE(up.ok());
  EXPECT_TRUE(up->moves.empty());
  EXPECT_EQ(p.SetLinkUp(-1, false).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PlacementTest, StrictModeRefusesOverloadNamingTheLink) {
  auto fabric = MustBuild(placement_testing::LeafSpineFabric(2, 2, 2));
  Placement p(fabric);
  JobSpec a;
  a.id = "a";
  a.pattern = CollectivePattern::kExplicit;
  a.explicit_flows = {{NicName(*fabric, 0), NicName(*fabric, 2), 0}};
  ASSERT_TRUE(p.PlaceJob(a).ok());
  JobSpec b = a;
  b.id = "b";
  b.strict = true;
  b.rate_bps = 50 * kGbps;
  auto refused = p.PlaceJob(b);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(refused.status().message().find("server-0/nic-0"), absl::string_view::npos)
      << refused.status();
  EXPECT_NE(refused.status().message().find("would carry 150%"), absl::string_view::npos)
      << refused.status();
  EXPECT_EQ(p.FindJob("b"), nullptr);
  EXPECT_NEAR(p.MaxUtilisation(), 1.0, 1e-9);  // nothing changed
  b.strict = false;
  auto allowed = p.PlaceJob(b);
  ASSERT_TRUE(allowed.ok());
  EXPECT_NEAR((*allowed)->max_link_load, 1.5, 1e-9);
  EXPECT_NEAR(p.FindJob("a")->max_link_load, 1.5, 1e-9);  // refreshed: a shares the NIC link
}

TEST(PlacementTest, MoveFlowChecksThePath) {
  auto fabric = MustBuild(placement_testing::LeafSpineFabric(2, 2, 1));
  Placement p(fabric);
  JobSpec a;
  a.id = "a";
  a.pattern = CollectivePattern::kExplicit;
  a.explicit_flows = {{NicName(*fabric, 0), NicName(*fabric, 1), 0}};
  ASSERT_TRUE(p.PlaceJob(a).ok());
  auto paths = UpDownPaths(*fabric, p.link_status(), fabric->nics()[0], fabric->nics()[1]);
  ASSERT_TRUE(paths.ok());
  ASSERT_EQ(paths->size(), 2u);
  const Path other = p.FindJob("a")->flows[0].path == (*paths)[0] ? (*paths)[1] : (*paths)[0];
  ASSERT_TRUE(p.MoveFlow("a", 0, other).ok());
  EXPECT_EQ(p.FindJob("a")->flows[0].path, other);
  ExpectLoadsConsistent(p);
  Path reversed;
  for (auto it = other.hops.rbegin(); it != other.hops.rend(); ++it)
    reversed.hops.push_back(*it ^ 1);
  EXPECT_EQ(p.MoveFlow("a", 0, reversed).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(p.MoveFlow("a", 5, other).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(p.MoveFlow("nope", 0, other).code(), absl::StatusCode::kNotFound);
}

TEST(PlacementTest, LowerBoundIncastIsPerNic) {
  auto fabric = MustBuild(placement_testing::LeafSpineFabric(2, 2, 2));
  std::vector<FlowDemand> incast;
  for (int i = 1; i < 4; ++i) incast.push_back({fabric->nics()[i], fabric->nics()[0], 100e9, 0});
  LowerBound lb = PlacementLowerBound(*fabric, LinkStatus(*fabric), incast);
  EXPECT_NEAR(lb.max_utilisation, 3.0, 1e-9);
  EXPECT_EQ(lb.where, "nic server-0/nic-0 in");
  EXPECT_EQ(PlacementLowerBound(*fabric, LinkStatus(*fabric), {}).max_utilisation, 0);
}

// --- bad input: each a clear status, and nothing changes ---

class PlacementBadInputTest : public ::testing::Test {
 protected:
  PlacementBadInputTest()
      : fabric_(MustBuild(placement_testing::LeafSpineFabric(2, 2, 2))), placement_(fabric_) {}

  JobSpec Ring() {
    JobSpec spec;
    spec.id = "ring";
    for (int i = 0; i < 4; ++i) spec.endpoints.push_back(NicName(*fabric_, i));
    return spec;
  }
  void ExpectError(const JobSpec& spec, absl::StatusCode code, absl::string_view text) {
    auto result = placement_.PlaceJob(spec);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), code) << result.status();
    EXPECT_NE(result.status().message().find(text), absl::string_view::npos) << result.status();
    EXPECT_EQ(placement_.MaxUtilisation(), 0);
  }

  std::shared_ptr<const Fabric> fabric_;
  Placement placement_;
};

TEST_F(PlacementBadInputTest, UnknownEndpoint) {
  JobSpec spec = Ring();
  spec.endpoints[2] = "server-99/gpu-0";
  ExpectError(spec, absl::StatusCode::kInvalidArgument, "server-99/gpu-0");
}

TEST_F(PlacementBadInputTest, SwitchAsEndpoint) {
  JobSpec spec = Ring();
  spec.endpoints[0] = "leaf-0";
  ExpectError(spec, absl::StatusCode::kInvalidArgument, "is a switch");
}

TEST_F(PlacementBadInputTest, FlowToItself) {
  JobSpec spec;
  spec.id = "self";
  spec.pattern = CollectivePattern::kExplicit;
  spec.explicit_flows = {{"server-1/nic-0", "server-1/nic-0", 0}};
  ExpectError(spec, absl::StatusCode::kInvalidArgument, "to itself");
}

TEST_F(PlacementBadInputTest, NegativeAndNonFiniteRate) {
  JobSpec spec = Ring();
  spec.rate_bps = -5;
  ExpectError(spec, absl::StatusCode::kInvalidArgument, "rate");
  spec.rate_bps = std::nan("");
  ExpectError(spec, absl::StatusCode::kInvalidArgument, "rate");
  JobSpec flows;
  flows.id = "x";
  flows.pattern = CollectivePattern::kExplicit;
  flows.explicit_flows = {{"server-0/nic-0", "server-2/nic-0", -1}};
  ExpectError(flows, absl::StatusCode::kInvalidArgument, "flows[0].rate_bps");
}

TEST_F(PlacementBadInputTest, EmptyJobAndDuplicates) {
  JobSpec empty;
  empty.id = "empty";
  ExpectError(empty, absl::StatusCode::kInvalidArgument, "empty job");
  empty.pattern = CollectivePattern::kExplicit;
  ExpectError(empty, absl::StatusCode::kInvalidArgument, "empty job");
  JobSpec dup = Ring();
  dup.endpoints.push_back(dup.endpoints[0]);
  ExpectError(dup, absl::StatusCode::kInvalidArgument, "listed twice");
  JobSpec no_id = Ring();
  no_id.id = "";
  ExpectError(no_id, absl::StatusCode::kInvalidArgument, "id");
  JobSpec subflows = Ring();
  subflows.max_subflows = 0;
  ExpectError(subflows, absl::StatusCode::kInvalidArgument, "max_subflows");
}

TEST_F(PlacementBadInputTest, DuplicateJobId) {
  ASSERT_TRUE(placement_.PlaceJob(Ring()).ok());
  auto again = placement_.PlaceJob(Ring());
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(again.status().message().find("'ring'"), absl::string_view::npos);
}

TEST_F(PlacementBadInputTest, NoPath) {
  // Cut leaf-0 off from both spines: NICs on leaf-0 reach nothing beyond it.
  const NodeId leaf0 = *fabric_->FindNode("leaf-0");
  for (auto l : fabric_->LinksOf(leaf0)) {
    if (fabric_->node(fabric_->Peer(l, leaf0)).is_switch()) {
      ASSERT_TRUE(placement_.SetLinkUp(l, false).ok());
    }
  }
  ExpectError(Ring(), absl::StatusCode::kFailedPrecondition, "no up-down path");
}

TEST_F(PlacementBadInputTest, MovesAreReturnedAlongsideUnplacedFlows) {
  JobSpec spec;
  spec.id = "a";
  spec.pattern = CollectivePattern::kExplicit;
  spec.explicit_flows = {{"server-0/nic-0", "server-2/nic-0", 0},
                         {"server-1/nic-0", "server-3/nic-0", 0}};
  ASSERT_TRUE(placement_.PlaceJob(spec).ok());
  const JobPlacement before = *placement_.FindJob("a");
  // Cut server-0's NIC link: flow 0 has no surviving path at all.
  const NodeId nic = *fabric_->FindNode("server-0/nic-0");
  auto cut = placement_.SetLinkUp(fabric_->LinksOf(nic)[0], false);
  ASSERT_TRUE(cut.ok()) << cut.status();
  ASSERT_EQ(cut->unplaced.size(), 1u);
  EXPECT_EQ(cut->unplaced[0].flow_index, 0u);
  EXPECT_EQ(cut->unplaced_error.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(cut->unplaced_error.message().find("server-0/nic-0"), absl::string_view::npos);
  EXPECT_EQ(placement_.FindJob("a")->flows[0].path, before.flows[0].path);  // keeps its path
  ExpectLoadsConsistent(placement_);

  // Put flow 1 over the spine flow 0's (dead) path uses, then fail that leaf-spine link: in one
  // call flow 0 is unplaced again and flow 1 moves, and the move is returned.
  const topology::LinkId shared = Fabric::LinkOf(before.flows[0].path.hops[1]);
  const PlacedFlow flow1 = placement_.FindJob("a")->flows[1];
  auto paths = UpDownPaths(*fabric_, placement_.link_status(), flow1.src, flow1.dst);
  ASSERT_TRUE(paths.ok());
  const Path* via_shared = nullptr;
  for (const Path& path : *paths) {
    if (Fabric::LinkOf(path.hops[1]) == shared) via_shared = &path;
  }
  ASSERT_NE(via_shared, nullptr);
  ASSERT_TRUE(placement_.MoveFlow("a", 1, *via_shared).ok());
  auto result = placement_.SetLinkUp(shared, false);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->unplaced.size(), 1u);
  EXPECT_EQ(result->unplaced[0].flow_index, 0u);
  EXPECT_EQ(result->unplaced[0].reason, "no surviving path");
  EXPECT_FALSE(result->unplaced_error.ok());
  ASSERT_EQ(result->moves.size(), 1u);
  EXPECT_EQ(result->moves[0].flow_index, 1u);
  EXPECT_EQ(result->moves[0].old_path, *via_shared);
  EXPECT_EQ(placement_.FindJob("a")->flows[1].path, result->moves[0].new_path);
  for (DirectedLinkId d : result->moves[0].new_path.hops) EXPECT_NE(Fabric::LinkOf(d), shared);
  ExpectLoadsConsistent(placement_);
}

}  // namespace
}  // namespace pulse::controller

namespace pulse::controller {
namespace {

// ---- PFC deadlock gate ----

// Every installed lossless path of `p`, checked from scratch by qos's deadlock.h.
void ExpectLosslessAcyclic(const Placement& p) {
  std::map<int, std::vector<Path>> by_class;
  for (const auto& [id, job] : p.jobs()) {
    if (!p.IsLossless(job.spec.traffic_class)) continue;
    for (const PlacedFlow& f : job.flows) by_class[job.spec.traffic_class].push_back(f.path);
  }
  for (const auto& [prio, paths] : by_class) {
    auto report = CheckPaths(p.fabric(), paths, {prio});
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_TRUE(report->deadlock_free) << report->description;
  }
}

topology::NodeId NodeNamed(const Fabric& f, const std::string& name) {
  auto n = f.FindNode(name);
  EXPECT_TRUE(n.ok()) << name;
  return *n;
}

Path Through(const Fabric& f, const std::vector<std::string>& names) {
  Path path;
  for (size_t i = 0; i + 1 < names.size(); ++i) {
    NodeId a = NodeNamed(f, names[i]), b = NodeNamed(f, names[i + 1]);
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

JobSpec OneFlow(const std::string& id, const std::string& src, const std::string& dst,
                double rate_bps, int traffic_class = 3) {
  JobSpec spec;
  spec.id = id;
  spec.pattern = CollectivePattern::kExplicit;
  spec.explicit_flows = {{src, dst, rate_bps}};
  spec.traffic_class = traffic_class;
  return spec;
}

// Jobs of every pattern on every builder fabric, with failures in between: the installed
// lossless paths stay acyclic, and removing every job empties the graph.
TEST(PlacementDeadlockTest, AllPlacementsOnEveryBuilderStayAcyclic) {
  topology::LeafSpineParams ls;
  ls.leaves = 6;
  ls.spines = 3;
  ls.servers_per_leaf = 6;
  ls.uplinks_per_spine = 2;
  topology::FatTreeParams ft;
  ft.k = 4;
  topology::RailOptimizedParams rail;
  rail.groups = 2;
  rail.servers_per_group = 4;
  rail.rails = 4;
  rail.spines = 4;
  topology::LeafSpineParams planes = ls;
  planes.planes = 2;
  std::mt19937 rng(17);
  for (const auto& fabric :
       {MustBuild(topology::LeafSpine(ls)), MustBuild(topology::FatTree(ft)),
        MustBuild(topology::RailOptimized(rail)), MustBuild(topology::LeafSpine(planes))}) {
    Placement p(fabric);
    int job_count = 0;
    for (CollectivePattern pattern :
         {CollectivePattern::kRing, CollectivePattern::kDoubleBinaryTree,
          CollectivePattern::kAllToAll, CollectivePattern::kHalvingDoubling}) {
      JobSpec spec;
      spec.id = absl::StrCat("job-", job_count++);
      spec.pattern = pattern;
      spec.traffic_class = 3 + job_count % 2;
      spec.max_subflows = 1 + job_count % 2;
      for (const auto& gpu : fabric->gpus()) {
        if (rng() % 2 == 0) spec.endpoints.push_back(gpu.name);
      }
      if (pattern == CollectivePattern::kHalvingDoubling) {
        size_t pow2 = 1;
        while (pow2 * 2 <= spec.endpoints.size()) pow2 *= 2;
        spec.endpoints.resize(pow2);
      }
      if (spec.endpoints.size() < 2) continue;
      auto job = p.PlaceJob(spec);
      ASSERT_TRUE(job.ok()) << job.status();
    }
    auto perm =
        p.PlaceJob(PermutationJob(*fabric, RandomPermutation(fabric->nics().size(), rng), "perm"));
    ASSERT_TRUE(perm.ok()) << perm.status();
    ExpectLosslessAcyclic(p);
    EXPECT_GT(p.lossless_graph().num_edges(), 0u);
    // Three random switch-to-switch failures, each rerouting through the gate.
    for (int k = 0; k < 3; ++k) {
      topology::LinkId l;
      do {
        l = static_cast<topology::LinkId>(rng() % fabric->links().size());
      } while (!fabric->node(fabric->link(l).a.node).is_switch() ||
               !fabric->node(fabric->link(l).b.node).is_switch());
      auto result = p.SetLinkUp(l, false);
      ASSERT_TRUE(result.ok()) << result.status();
      ExpectLosslessAcyclic(p);
      ExpectLoadsConsistent(p);
    }
    std::vector<std::string> ids;
    for (const auto& [id, job] : p.jobs()) ids.push_back(id);
    for (const auto& id : ids) ASSERT_TRUE(p.RemoveJob(id).ok());
    EXPECT_EQ(p.lossless_graph().num_edges(), 0u);
  }
}

// Four leaves, two spines, two servers per leaf; bounces allowed so MoveFlow can install them.
class BounceGateTest : public ::testing::Test {
 protected:
  BounceGateTest() : fabric_(MustBuild(placement_testing::LeafSpineFabric(4, 2, 2))) {}

  Placement Make(PlacementOptions options) { return Placement(fabric_, std::move(options)); }
  static PlacementOptions Bounces() {
    PlacementOptions o;
    o.allow_bounce_paths = true;
    return o;
  }
  // server-2 (leaf-1) -> server-6 (leaf-3), bouncing at leaf-2 from spine-1 up to spine-0.
  Path First() const {
    return Through(*fabric_, {"server-2/nic-0", "leaf-1", "spine-1", "leaf-2", "spine-0", "leaf-3",
                              "server-6/nic-0"});
  }
  // server-0 (leaf-0) -> server-4 (leaf-2), bouncing at leaf-3 from spine-0 up to spine-1: the
  // reverse counterpart of First().
  Path Reverse() const {
    return Through(*fabric_, {"server-0/nic-0", "leaf-0", "spine-0", "leaf-3", "spine-1", "leaf-2",
                              "server-4/nic-0"});
  }
  std::string Channel(const std::string& a, const std::string& b) const {
    return fabric_->DescribeDirected(Through(*fabric_, {a, b}).hops[0]);
  }

  std::shared_ptr<const Fabric> fabric_;
};

TEST_F(BounceGateTest, MoveOntoBounceWithReverseInstalledIsRefusedNamingTheCycle) {
  Placement p = Make(Bounces());
  ASSERT_TRUE(p.PlaceJob(OneFlow("rev", "server-0/nic-0", "server-4/nic-0", 1e9)).ok());
  ASSERT_TRUE(p.PlaceJob(OneFlow("fwd", "server-2/nic-0", "server-6/nic-0", 1e9)).ok());
  ASSERT_TRUE(p.MoveFlow("rev", 0, Reverse()).ok());
  ExpectLosslessAcyclic(p);
  const JobPlacement before = *p.FindJob("fwd");
  const double load_before = p.MaxUtilisation();
  absl::Status refused = p.MoveFlow("fwd", 0, First());
  ASSERT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_NE(refused.message().find("PFC deadlock"), absl::string_view::npos) << refused;
  for (const auto& [a, b] :
       std::vector<std::pair<std::string, std::string>>{{"spine-1", "leaf-2"},
                                                        {"leaf-2", "spine-0"},
                                                        {"spine-0", "leaf-3"},
                                                        {"leaf-3", "spine-1"}}) {
    EXPECT_NE(refused.message().find(Channel(a, b)), absl::string_view::npos)
        << Channel(a, b) << " not named in: " << refused.message();
  }
  // Nothing changed: path, loads and the graph (the old path can still be moved back and forth).
  EXPECT_EQ(p.FindJob("fwd")->flows[0].path, before.flows[0].path);
  EXPECT_EQ(p.MaxUtilisation(), load_before);
  ExpectLoadsConsistent(p);
  ExpectLosslessAcyclic(p);
  // Once the reverse bounce is gone the same move is accepted.
  ASSERT_TRUE(p.RemoveJob("rev").ok());
  EXPECT_TRUE(p.MoveFlow("fwd", 0, First()).ok());
  ExpectLosslessAcyclic(p);
}

TEST_F(BounceGateTest, OnlyLosslessClassesAreGated) {
  Placement p = Make(Bounces());
  ASSERT_TRUE(p.PlaceJob(OneFlow("rev", "server-0/nic-0", "server-4/nic-0", 1e9)).ok());
  ASSERT_TRUE(p.MoveFlow("rev", 0, Reverse()).ok());
  // Class 0 is lossy: no PFC, no dependency.
  ASSERT_TRUE(p.PlaceJob(OneFlow("lossy", "server-2/nic-0", "server-6/nic-0", 1e9, 0)).ok());
  EXPECT_TRUE(p.MoveFlow("lossy", 0, First()).ok());
  // The lossless set is an option: with only class 5 lossless, class 3 is not gated either.
  PlacementOptions only5 = Bounces();
  only5.lossless_priorities = {5};
  Placement q = Make(only5);
  ASSERT_TRUE(q.PlaceJob(OneFlow("rev", "server-0/nic-0", "server-4/nic-0", 1e9)).ok());
  ASSERT_TRUE(q.PlaceJob(OneFlow("fwd", "server-2/nic-0", "server-6/nic-0", 1e9)).ok());
  ASSERT_TRUE(q.MoveFlow("rev", 0, Reverse()).ok());
  EXPECT_TRUE(q.MoveFlow("fwd", 0, First()).ok());
  EXPECT_EQ(q.lossless_graph().num_edges(), 0u);
}

// The QoS policy may make a class lossless after its flows were placed: the graph is rebuilt from
// them, and a set whose placed paths would close a cycle is refused with nothing changed.
TEST_F(BounceGateTest, SetLosslessPrioritiesRebuildsTheGraphOrRefusesACycle) {
  Placement p = Make(Bounces());
  // Class 5 is lossy under the defaults: the opposite bounces are accepted.
  ASSERT_TRUE(p.PlaceJob(OneFlow("rev", "server-0/nic-0", "server-4/nic-0", 1e9, 5)).ok());
  ASSERT_TRUE(p.PlaceJob(OneFlow("fwd", "server-2/nic-0", "server-6/nic-0", 1e9, 5)).ok());
  ASSERT_TRUE(p.MoveFlow("rev", 0, Reverse()).ok());
  ASSERT_TRUE(p.MoveFlow("fwd", 0, First()).ok());
  EXPECT_EQ(p.lossless_graph().num_edges(), 0u);
  absl::Status refused = p.SetLosslessPriorities({5});
  ASSERT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_NE(refused.message().find("PFC deadlock"), absl::string_view::npos) << refused;
  EXPECT_FALSE(p.IsLossless(5));
  EXPECT_TRUE(p.IsLossless(3));
  EXPECT_EQ(p.lossless_graph().num_edges(), 0u);
  // Without the reverse bounce the set is accepted and the graph holds the remaining flow.
  ASSERT_TRUE(p.RemoveJob("rev").ok());
  ASSERT_TRUE(p.SetLosslessPriorities({5}).ok());
  EXPECT_TRUE(p.IsLossless(5));
  EXPECT_FALSE(p.IsLossless(3));
  EXPECT_GT(p.lossless_graph().num_edges(), 0u);
  ExpectLosslessAcyclic(p);
  ASSERT_TRUE(p.RemoveJob("fwd").ok());
  EXPECT_EQ(p.lossless_graph().num_edges(), 0u);
}

TEST_F(BounceGateTest, DefaultOptionsKeepRefusingBouncesAsNotUpDown) {
  Placement p = Make({});
  ASSERT_TRUE(p.PlaceJob(OneFlow("rev", "server-0/nic-0", "server-4/nic-0", 1e9)).ok());
  absl::Status refused = p.MoveFlow("rev", 0, Reverse());
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("up-down"), absl::string_view::npos) << refused;
  EXPECT_EQ(p.lossless_graph().num_bounce_edges(), 0u);  // the refused path left no trace
  ExpectLoadsConsistent(p);
}

// With two opposite bounces installed, the up-down path leaf-2 -> spine-0 -> leaf-3 closes a
// cycle: PlaceJob routes a lossless flow over spine-1 even though spine-0 is less loaded, and
// refuses (changing nothing) when spine-1 is down.
TEST_F(BounceGateTest, PlaceJobRoutesAroundACycleOrRefuses) {
  Placement p = Make(Bounces());
  // b1: leaf-0 -> spine-1 -> leaf-2 -> spine-0 -> leaf-1 (bounce at leaf-2).
  ASSERT_TRUE(p.PlaceJob(OneFlow("b1", "server-0/nic-0", "server-2/nic-0", 1e9)).ok());
  ASSERT_TRUE(p.MoveFlow("b1", 0,
                         Through(*fabric_, {"server-0/nic-0", "leaf-0", "spine-1", "leaf-2",
                                            "spine-0", "leaf-1", "server-2/nic-0"}))
                  .ok());
  // b2: leaf-0 -> spine-0 -> leaf-3 -> spine-1 -> leaf-2 (bounce at leaf-3).
  ASSERT_TRUE(p.PlaceJob(OneFlow("b2", "server-1/nic-0", "server-5/nic-0", 1e9)).ok());
  ASSERT_TRUE(p.MoveFlow("b2", 0,
                         Through(*fabric_, {"server-1/nic-0", "leaf-0", "spine-0", "leaf-3",
                                            "spine-1", "leaf-2", "server-5/nic-0"}))
                  .ok());
  ExpectLosslessAcyclic(p);
  // Lossy background load on leaf-2 -> spine-1 -> leaf-3 makes spine-1 the worse choice.
  ASSERT_TRUE(p.PlaceJob(OneFlow("bg", "server-4/nic-0", "server-6/nic-0", 90e9, 0)).ok());
  ASSERT_TRUE(p.MoveFlow("bg", 0,
                         Through(*fabric_, {"server-4/nic-0", "leaf-2", "spine-1", "leaf-3",
                                            "server-6/nic-0"}))
                  .ok());
  const NodeId spine1 = NodeNamed(*fabric_, "spine-1");

  auto placed = p.PlaceJob(OneFlow("x", "server-5/nic-0", "server-7/nic-0", 5e9));
  ASSERT_TRUE(placed.ok()) << placed.status();
  EXPECT_EQ(fabric_->Head((*placed)->flows[0].path.hops[1]), spine1);
  ExpectLosslessAcyclic(p);
  ExpectLoadsConsistent(p);
  ASSERT_TRUE(p.RemoveJob("x").ok());

  // Two more opposite bounces make the spine-1 path cyclic too:
  // b3: leaf-1 -> spine-1 -> leaf-3 -> spine-0 -> leaf-2, b4: leaf-0 -> spine-0 -> leaf-2 ->
  // spine-1 -> leaf-1. Then both paths of x are refused, naming the cycle, and nothing changes.
  ASSERT_TRUE(p.PlaceJob(OneFlow("b3", "server-3/nic-0", "server-4/nic-0", 1e9)).ok());
  ASSERT_TRUE(p.MoveFlow("b3", 0,
                         Through(*fabric_, {"server-3/nic-0", "leaf-1", "spine-1", "leaf-3",
                                            "spine-0", "leaf-2", "server-4/nic-0"}))
                  .ok());
  ASSERT_TRUE(p.PlaceJob(OneFlow("b4", "server-1/nic-0", "server-3/nic-0", 1e9)).ok());
  ASSERT_TRUE(p.MoveFlow("b4", 0,
                         Through(*fabric_, {"server-1/nic-0", "leaf-0", "spine-0", "leaf-2",
                                            "spine-1", "leaf-1", "server-3/nic-0"}))
                  .ok());
  ExpectLosslessAcyclic(p);
  const size_t edges = p.lossless_graph().num_edges();
  const double load = p.MaxUtilisation();
  auto refused = p.PlaceJob(OneFlow("x", "server-5/nic-0", "server-7/nic-0", 5e9));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("PFC deadlock"), absl::string_view::npos)
      << refused.status();
  EXPECT_NE(refused.status().message().find("job 'x'"), absl::string_view::npos);
  EXPECT_NE(refused.status().message().find(Channel("leaf-2", "spine-0")), absl::string_view::npos)
      << refused.status();
  EXPECT_EQ(p.FindJob("x"), nullptr);
  EXPECT_EQ(p.lossless_graph().num_edges(), edges);
  EXPECT_EQ(p.MaxUtilisation(), load);
  ExpectLoadsConsistent(p);
  // The same flow as lossy traffic is placed: no PFC, no cycle.
  EXPECT_TRUE(p.PlaceJob(OneFlow("x", "server-5/nic-0", "server-7/nic-0", 5e9, 0)).ok());
}

// Link-failure reroutes go through the gate too: with two opposite bounces installed, a lossless
// flow knocked off spine-2 skips the cyclic spine-0 path for spine-1, and when spine-1 closes a
// cycle as well it is left unplaced on its old path, with the cycle as the reason.
TEST(PlacementDeadlockTest, SetLinkUpReroutesAroundACycleOrLeavesTheFlowUnplaced) {
  auto fabric = MustBuild(placement_testing::LeafSpineFabric(4, 3, 2));
  PlacementOptions options;
  options.allow_bounce_paths = true;
  Placement p(fabric, options);
  auto install = [&](const std::string& id, const std::vector<std::string>& nodes, double rate,
                     int traffic_class) {
    ASSERT_TRUE(p.PlaceJob(OneFlow(id, nodes.front(), nodes.back(), rate, traffic_class)).ok());
    absl::Status moved = p.MoveFlow(id, 0, Through(*fabric, nodes));
    ASSERT_TRUE(moved.ok()) << id << ": " << moved;
  };
  install("b1",
          {"server-0/nic-0", "leaf-0", "spine-1", "leaf-2", "spine-0", "leaf-1", "server-2/nic-0"},
          1e9, 3);
  install("b2",
          {"server-1/nic-0", "leaf-0", "spine-0", "leaf-3", "spine-1", "leaf-2", "server-5/nic-0"},
          1e9, 3);
  install("bg", {"server-4/nic-0", "leaf-2", "spine-1", "leaf-3", "server-6/nic-0"}, 90e9, 0);
  const std::vector<std::string> via_spine2 = {"server-5/nic-0", "leaf-2", "spine-2", "leaf-3",
                                               "server-7/nic-0"};
  install("y", via_spine2, 5e9, 3);
  const topology::LinkId leaf2_spine2 =
      Fabric::LinkOf(Through(*fabric, {"leaf-2", "spine-2"}).hops[0]);

  auto first = p.SetLinkUp(leaf2_spine2, false);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->unplaced.empty());
  ASSERT_EQ(first->moves.size(), 1u);
  EXPECT_EQ(first->moves[0].job_id, "y");
  EXPECT_EQ(fabric->Head(first->moves[0].new_path.hops[1]), NodeNamed(*fabric, "spine-1"));
  ExpectLosslessAcyclic(p);
  ExpectLoadsConsistent(p);

  // Back to spine-2, two more bounces that make spine-1 cyclic as well, and the link fails again.
  ASSERT_TRUE(p.SetLinkUp(leaf2_spine2, true).ok());
  ASSERT_TRUE(p.MoveFlow("y", 0, Through(*fabric, via_spine2)).ok());
  install("b3",
          {"server-3/nic-0", "leaf-1", "spine-1", "leaf-3", "spine-0", "leaf-2", "server-4/nic-0"},
          1e9, 3);
  install("b4",
          {"server-1/nic-0", "leaf-0", "spine-0", "leaf-2", "spine-1", "leaf-1", "server-3/nic-0"},
          1e9, 3);
  auto second = p.SetLinkUp(leaf2_spine2, false);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->moves.empty());
  ASSERT_EQ(second->unplaced.size(), 1u);
  EXPECT_EQ(second->unplaced[0].job_id, "y");
  EXPECT_NE(second->unplaced[0].reason.find("PFC deadlock"), std::string::npos)
      << second->unplaced[0].reason;
  EXPECT_EQ(second->unplaced_error.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(p.FindJob("y")->flows[0].path, Through(*fabric, via_spine2));
  ExpectLosslessAcyclic(p);
  ExpectLoadsConsistent(p);
}

// Snapshots are copies that share unchanged jobs and never see later changes; every job's
// max_link_load, kept incrementally, equals a recomputation from the loads.
TEST(PlacementTest, CopiesShareUnchangedJobsAndNeverSeeLaterChanges) {
  auto fabric = MustBuild(placement_testing::FatTreeFabric(4));
  Placement p(fabric);
  std::mt19937 rng(7);
  ASSERT_TRUE(p.PlaceJob(PermutationJob(*fabric, RandomPermutation(16, rng), "a")).ok());
  ASSERT_TRUE(p.PlaceJob(PermutationJob(*fabric, RandomPermutation(16, rng), "b")).ok());
  const Placement snapshot = p;
  const size_t edges = snapshot.lossless_graph().num_edges();
  ASSERT_GT(edges, 0u);
  EXPECT_EQ(snapshot.FindJob("a"), p.FindJob("a"));  // shared, not copied
  const std::vector<PlacedFlow> a_flows = snapshot.FindJob("a")->flows;
  const double a_load = snapshot.FindJob("a")->max_link_load;

  ASSERT_TRUE(p.PlaceJob(PermutationJob(*fabric, RandomPermutation(16, rng), "c")).ok());
  ASSERT_TRUE(p.MoveFlow("a", 0, p.FindJob("a")->flows[0].path).ok());
  ASSERT_TRUE(p.RemoveJob("b").ok());
  ASSERT_TRUE(p.SetLinkUp(fabric->LinksOf(fabric->switches().back())[0], false).ok());

  EXPECT_EQ(snapshot.jobs().size(), 2u);
  EXPECT_EQ(snapshot.FindJob("c"), nullptr);
  ASSERT_NE(snapshot.FindJob("b"), nullptr);
  EXPECT_EQ(snapshot.FindJob("a")->max_link_load, a_load);
  for (size_t i = 0; i < a_flows.size(); ++i) {
    EXPECT_EQ(snapshot.FindJob("a")->flows[i].path, a_flows[i].path);
  }
  EXPECT_EQ(snapshot.lossless_graph().num_edges(), edges);
  EXPECT_EQ(ChangedJobs(snapshot.jobs(), snapshot.jobs()).size(), 0u);
  EXPECT_FALSE(ChangedJobs(snapshot.jobs(), p.jobs()).empty());

  for (const Placement* q : {&snapshot, static_cast<const Placement*>(&p)}) {
    for (const auto& [id, job] : q->jobs()) {
      double max = 0;
      for (const PlacedFlow& f : job.flows) {
        for (DirectedLinkId d : f.path.hops) max = std::max(max, q->Utilisation(d));
      }
      EXPECT_DOUBLE_EQ(job.max_link_load, max) << id;
    }
  }
}

// The job map keeps ids in order across many chunks (placed in random order, some removed), a
// snapshot shares the chunks no change touched, and ChangedJobs finds exactly the jobs that
// differ: added, removed, and replaced by a change of their max_link_load or paths.
TEST(PlacementTest, JobMapStaysSortedAndChangedJobsFindsEveryDifference) {
  auto fabric = MustBuild(placement_testing::LeafSpineFabric(8, 4, 4));
  Placement p(fabric);
  std::mt19937 rng(11);
  const auto& nics = fabric->nics();
  std::uniform_int_distribution<size_t> pick(0, nics.size() - 1);
  auto pair_job = [&](const std::string& id) {
    JobSpec spec;
    spec.id = id;
    size_t a = pick(rng), b = pick(rng);
    while (b == a) b = pick(rng);
    spec.endpoints = {fabric->node(nics[a]).name, fabric->node(nics[b]).name};
    spec.rate_bps = 1e3;
    return spec;
  };
  std::vector<int> order(600);
  for (int i = 0; i < 600; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  std::set<std::string> ids;
  for (int i : order) {
    const std::string id = absl::StrCat("job-", i);
    ASSERT_TRUE(p.PlaceJob(pair_job(id)).ok()) << id;
    ids.insert(id);
  }
  for (int i = 0; i < 600; i += 3) {
    ASSERT_TRUE(p.RemoveJob(absl::StrCat("job-", i)).ok());
    ids.erase(absl::StrCat("job-", i));
  }
  auto expect_in_order = [&](const Placement& q, const std::set<std::string>& want) {
    std::vector<std::string> got;
    for (const auto& [id, job] : q.jobs()) {
      EXPECT_EQ(id, job.spec.id);
      got.push_back(id);
    }
    EXPECT_EQ(got, std::vector<std::string>(want.begin(), want.end()));
    EXPECT_EQ(q.jobs().size(), want.size());
    for (const std::string& id : want) EXPECT_EQ(q.jobs().count(id), 1u) << id;
    // Walking back from the end meets every id in reverse.
    std::vector<std::string> back;
    for (auto it = q.jobs().end(); it != q.jobs().begin();) back.push_back((*--it).first);
    EXPECT_EQ(back, std::vector<std::string>(want.rbegin(), want.rend()));
  };
  expect_in_order(p, ids);
  EXPECT_EQ(p.jobs().count("job-0"), 0u);
  EXPECT_EQ(p.FindJob("job-3"), nullptr);
  ASSERT_NE(p.jobs().lower_bound("job-3"), p.jobs().end());
  EXPECT_EQ((*p.jobs().lower_bound("job-3")).first, "job-301");  // the next id in string order
  EXPECT_EQ(p.jobs().lower_bound("zzz"), p.jobs().end());

  const Placement snapshot = p;
  const std::set<std::string> snapshot_ids = ids;
  std::map<std::string, const JobPlacement*> before;
  for (auto it = snapshot.jobs().begin(); it != snapshot.jobs().end(); ++it) {
    before[(*it).first] = it.ptr().get();
  }
  EXPECT_TRUE(ChangedJobs(snapshot.jobs(), p.jobs()).empty());
  // Add some (splitting chunks), remove some, move one flow.
  for (int i = 600; i < 700; ++i) {
    ASSERT_TRUE(p.PlaceJob(pair_job(absl::StrCat("job-", i))).ok());
    ids.insert(absl::StrCat("job-", i));
  }
  for (const char* id : {"job-1", "job-599", "job-50"}) {
    ASSERT_TRUE(p.RemoveJob(id).ok());
    ids.erase(id);
  }
  expect_in_order(p, ids);
  expect_in_order(snapshot, snapshot_ids);
  std::vector<std::string> want;
  std::set<std::string> all = ids;
  all.insert(snapshot_ids.begin(), snapshot_ids.end());
  for (const std::string& id : all) {
    auto it = before.find(id);
    if (it == before.end() || p.FindJob(id) != it->second) want.push_back(id);
  }
  EXPECT_EQ(ChangedJobs(snapshot.jobs(), p.jobs()), want);
  EXPECT_GE(want.size(), 103u);

  // A change of two jobs alone (a bandwidth record moves no load): only they differ, every
  // other chunk is shared.
  const Placement second = p;
  JobPlacement::Bandwidth bandwidth;
  bandwidth.computed = true;
  ASSERT_TRUE(p.SetBandwidth("job-2", bandwidth).ok());
  ASSERT_TRUE(p.SetBandwidth("job-698", bandwidth).ok());
  EXPECT_EQ(ChangedJobs(second.jobs(), p.jobs()), (std::vector<std::string>{"job-2", "job-698"}));
  EXPECT_EQ(ChangedJobs(p.jobs(), second.jobs()), (std::vector<std::string>{"job-2", "job-698"}));
  EXPECT_FALSE(second.FindJob("job-2")->bandwidth.computed);
  expect_in_order(second, ids);
}

}  // namespace
}  // namespace pulse::controller
