#include "controller/paths/steering.h"

#include <memory>
#include <random>

#include "gtest/gtest.h"
#include "tests/controller/path_test_fabrics.h"

namespace pulse::controller {
namespace {

using testing::BuildFatTree;
using testing::BuildLeafSpine;
using testing::LinksBetween;

std::shared_ptr<const Fabric> Share(absl::StatusOr<Fabric> f) {
  return std::make_shared<const Fabric>(std::move(f).value());
}

// Different algorithms and seeds per tier and switch, as a mixed fabric would have.
HashModels MixedModels(const Fabric& f) {
  HashModels models;
  for (NodeId sw : f.switches()) {
    EcmpHashModel m;
    switch (f.node(sw).level) {
      case 1:
        m = {HashAlgorithm::kCrc32, static_cast<uint32_t>(sw) * 2654435761u, kHashAllFields};
        break;
      case 2:
        m = {HashAlgorithm::kCrc16Ccitt, static_cast<uint32_t>(sw) * 40503u, kHashAllFields};
        break;
      default:
        m = {HashAlgorithm::kXorFold, static_cast<uint32_t>(sw), kHashAllFields};
    }
    models.per_switch[sw] = m;
  }
  return models;
}

// For random NIC pairs and random shortest paths between them, the port found makes the hash
// simulation walk exactly the planned path. Returns how many paths were steered; the others must
// be NotFound (and are counted in *not_found).
int SteerRandomPaths(EcmpGroups& groups, const HashModels& models, int trials, uint64_t seed,
                     int* not_found = nullptr) {
  const Fabric& f = groups.fabric();
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick_nic(0, f.nics().size() - 1);
  int steered = 0;
  for (int t = 0; t < trials; ++t) {
    const NodeId src = f.nics()[pick_nic(rng)], dst = f.nics()[pick_nic(rng)];
    if (src == dst) continue;
    auto paths = UpDownPaths(f, groups.status(), src, dst);
    EXPECT_TRUE(paths.ok()) << paths.status();
    if (!paths.ok()) continue;
    const Path& planned =
        (*paths)[std::uniform_int_distribution<size_t>(0, paths->size() - 1)(rng)];
    auto port = FindSteeringPort(groups, models, planned);
    if (not_found != nullptr && port.status().code() == absl::StatusCode::kNotFound) {
      ++*not_found;
      continue;
    }
    EXPECT_TRUE(port.ok()) << port.status();
    if (!port.ok()) continue;
    EXPECT_GE(*port, 49152);
    auto tuple = RoceTuple(f, src, dst, *port).value();
    auto traced = TraceEcmpPath(groups, models, src, dst, tuple, planned.hops.front());
    EXPECT_TRUE(traced.ok()) << traced.status();
    if (!traced.ok()) continue;
    EXPECT_EQ(traced->hops, planned.hops);
    if (traced->hops == planned.hops) ++steered;
  }
  return steered;
}

TEST(SteeringTest, FoundPortsFollowThePlannedPathOnLeafSpine) {
  auto fabric = Share(BuildLeafSpine(6, 4, 3, /*uplinks_per_spine=*/2));
  EcmpGroups groups(fabric);
  EXPECT_GE(SteerRandomPaths(groups, MixedModels(*fabric), 300, 1), 250);
}

TEST(SteeringTest, IdenticalHashesOnEveryTierPolarise) {
  // Every switch runs the same unseeded crc32: a leaf's pick among 8 uplinks (hash % 8) fixes the
  // spine's pick among 2 parallel downlinks (hash % 2), so some planned paths have no port.
  // Those must be reported NotFound; the others must still be followed exactly.
  auto fabric = Share(BuildLeafSpine(6, 4, 3, /*uplinks_per_spine=*/2));
  EcmpGroups groups(fabric);
  HashModels same;
  int not_found = 0;
  const int steered = SteerRandomPaths(groups, same, 200, 2, &not_found);
  EXPECT_GT(steered, 0);
  EXPECT_GT(not_found, 0);
}

// The Open vSwitch model as Pulse programs it (checked against ofproto/trace elsewhere; basis =
// tier) steers every path of a 3-tier fat-tree: its hash covers the source port and the tiers do
// not choose alike.
TEST(SteeringTest, OvsMultipathSteersEveryPath) {
  auto fabric = Share(BuildFatTree(4));
  EcmpGroups groups(fabric);
  HashModels ovs = HashModelsFromIntent(*fabric, {}).value();  // basis = tier
  int not_found = 0;
  EXPECT_GE(SteerRandomPaths(groups, ovs, 200, 5, &not_found), 150);
  EXPECT_EQ(not_found, 0) << "every path must get a port";
}

// A preferred port that still steers is kept (a host need not re-point its QP).
TEST(SteeringTest, PreferredPortIsKeptWhileItSteers) {
  auto fabric = Share(BuildLeafSpine(2, 4, 2));
  EcmpGroups groups(fabric);
  HashModels models;
  models.default_model = {HashAlgorithm::kOvsMultipath, 0, kHashAllFields};
  const Fabric& f = *fabric;
  auto paths = UpDownPaths(f, groups.status(), f.nics().front(), f.nics().back());
  ASSERT_TRUE(paths.ok());
  for (const Path& path : *paths) {
    SteeringOptions options;
    auto lowest = FindSteeringPort(groups, models, path, options);
    ASSERT_TRUE(lowest.ok()) << lowest.status();
    // Another port steering the same path: search above the lowest.
    options.port_min = static_cast<uint16_t>(*lowest + 1);
    auto higher = FindSteeringPort(groups, models, path, options);
    ASSERT_TRUE(higher.ok()) << higher.status();
    SteeringOptions prefer;
    prefer.preferred_port = *higher;
    EXPECT_EQ(FindSteeringPort(groups, models, path, prefer).value(), *higher);
  }
}

TEST(SteeringTest, FoundPortsFollowThePlannedPathOnFatTree) {
  auto fabric = Share(BuildFatTree(8));
  EcmpGroups groups(fabric);
  EXPECT_GE(SteerRandomPaths(groups, MixedModels(*fabric), 300, 3), 250);
}

TEST(SteeringTest, WorksWithWeightedGroupsAfterAFailure) {
  auto fabric = Share(BuildLeafSpine(4, 3, 2, 2));
  const Fabric& f = *fabric;
  EcmpGroups groups(fabric);
  groups.SetLinkUp(LinksBetween(f, f.FindNode("leaf-1").value(), f.FindNode("spine-0").value())[0],
                   false);
  EXPECT_GE(SteerRandomPaths(groups, MixedModels(f), 200, 4), 150);
}

// A hash without the source port leaves nothing for a port to choose: refused, naming the switch
// (even for the one path the fixed hash happens to pick, which no port could move off).
TEST(SteeringTest, RefusedWhenTheHashIgnoresTheSourcePort) {
  auto fabric = Share(BuildLeafSpine(2, 4, 1));
  const Fabric& f = *fabric;
  EcmpGroups groups(fabric);
  HashModels models;
  models.default_model.fields = kHashSrcIp | kHashDstIp | kHashProto | kHashDstPort;
  const NodeId src = f.nics()[0], dst = f.nics()[1];
  const std::vector<Path> paths = UpDownPaths(f, groups.status(), src, dst).value();
  ASSERT_EQ(paths.size(), 4u);
  for (const Path& p : paths) {
    auto port = FindSteeringPort(groups, models, p);
    EXPECT_EQ(port.status().code(), absl::StatusCode::kFailedPrecondition) << port.status();
    EXPECT_NE(port.status().message().find(f.node(f.Tail(p.hops[1])).name), std::string::npos)
        << port.status();
  }
}

// The definition, by brute force: the lowest port whose hash walk is the planned path.
absl::StatusOr<uint16_t> LowestSteeringPortByTrace(EcmpGroups& groups, const HashModels& models,
                                                   const Path& planned, uint32_t src_ip,
                                                   uint32_t dst_ip, uint32_t port_max) {
  const Fabric& f = groups.fabric();
  const NodeId src = f.Tail(planned.hops.front()), dst = f.Head(planned.hops.back());
  for (uint32_t port = 49152; port <= port_max; ++port) {
    FiveTuple t{src_ip, dst_ip, kUdpProto, static_cast<uint16_t>(port), kRoceV2Port};
    auto traced = TraceEcmpPath(groups, models, src, dst, t, planned.hops.front());
    if (traced.ok() && traced->hops == planned.hops) return static_cast<uint16_t>(port);
  }
  return absl::NotFoundError("none");
}

// One SteeringPortSearch kept across many flows, models and group changes (its selectors are
// reused) answers exactly what the hash walk defines, and what a fresh search answers.
TEST(SteeringTest, KeptSearchAgreesWithTheHashWalkAcrossGroupChanges) {
  auto fabric = Share(BuildFatTree(4));
  const Fabric& f = *fabric;
  EcmpGroups groups(fabric);
  const HashModels ovs = HashModelsFromIntent(f, {}).value();
  const HashModels mixed = MixedModels(f);
  SteeringPortSearch search;
  std::mt19937_64 rng(8);
  std::uniform_int_distribution<size_t> pick_nic(0, f.nics().size() - 1);
  int checked = 0;
  for (int round = 0; round < 3; ++round) {
    if (round == 1) {  // a leaf uplink fails: groups above lose a member, weights change
      const NodeId leaf = f.Peer(f.LinksOf(f.nics()[0])[0], f.nics()[0]);
      for (LinkId l : f.LinksOf(leaf)) {
        if (f.node(f.Peer(l, leaf)).level > f.node(leaf).level) {
          groups.SetLinkUp(l, false);
          break;
        }
      }
    }
    for (int t = 0; t < 60; ++t) {
      const NodeId src = f.nics()[pick_nic(rng)], dst = f.nics()[pick_nic(rng)];
      if (src == dst) continue;
      auto paths = UpDownPaths(f, groups.status(), src, dst);
      ASSERT_TRUE(paths.ok()) << paths.status();
      const Path& planned = (*paths)[rng() % paths->size()];
      const HashModels& models = t % 2 == 0 ? ovs : mixed;
      // Learned-style addresses, not the model's: the search hashes what it is given.
      const uint32_t src_ip = 0x0B000000u + static_cast<uint32_t>(rng() % 100000) + 1;
      const uint32_t dst_ip = 0x0C000000u + static_cast<uint32_t>(rng() % 100000) + 1;
      SteeringOptions options;
      options.port_max = 49152 + 4000;
      auto kept = search.Find(groups, models, planned, src_ip, dst_ip, options);
      SteeringPortSearch fresh;
      auto once = fresh.Find(groups, models, planned, src_ip, dst_ip, options);
      auto walk =
          LowestSteeringPortByTrace(groups, models, planned, src_ip, dst_ip, options.port_max);
      ASSERT_EQ(kept.ok(), walk.ok()) << kept.status();
      ASSERT_EQ(once.ok(), walk.ok()) << once.status();
      if (walk.ok()) {
        EXPECT_EQ(*kept, *walk);
        EXPECT_EQ(*once, *walk);
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 100);
  EXPECT_GT(search.cached_selectors(), 1u);
}

// A NIC with no address (none in the model, none learned) cannot be steered: the error names it.
TEST(SteeringTest, AnEndWithoutAnAddressIsNamed) {
  auto fabric = Share(BuildLeafSpine(2, 2, 1));
  const Fabric& f = *fabric;
  EcmpGroups groups(fabric);
  HashModels models;
  models.default_model = {HashAlgorithm::kOvsMultipath, 0, kHashAllFields};
  const NodeId src = f.nics()[0], dst = f.nics()[1];
  const Path path = UpDownPaths(f, groups.status(), src, dst).value()[0];
  SteeringPortSearch search;
  auto port = search.Find(groups, models, path, 0x0A000001, 0);
  EXPECT_EQ(port.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(port.status().message().find(f.node(dst).name), std::string::npos) << port.status();
  EXPECT_NE(port.status().message().find("no known IPv4 address"), std::string::npos);
  EXPECT_TRUE(search.Find(groups, models, path, 0x0A000001, 0x0A000002).ok());
}

TEST(SteeringTest, RejectsPathsOutsideTheGroupsAndBadInput) {
  auto fabric = Share(BuildLeafSpine(2, 2, 1));
  const Fabric& f = *fabric;
  EcmpGroups groups(fabric);
  HashModels models;
  const NodeId src = f.nics()[0], dst = f.nics()[1];
  auto paths = UpDownPaths(f, groups.status(), src, dst).value();
  // The spine-0 path's downlink fails: the planned hop left spine-0's group.
  const Path planned = paths[0];
  groups.SetLinkUp(Fabric::LinkOf(planned.hops[2]), false);
  auto port = FindSteeringPort(groups, models, planned);
  EXPECT_EQ(port.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(port.status().message().find("spine-0"), std::string::npos);
  EXPECT_EQ(FindSteeringPort(groups, models, Path{}).status().code(),
            absl::StatusCode::kInvalidArgument);
  Path reversed{{planned.hops[1], planned.hops[0]}};
  EXPECT_EQ(FindSteeringPort(groups, models, reversed).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FindSteeringPort(groups, models, paths[1], SteeringOptions{5000, 4000}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pulse::controller
