#include "controller/oracle/path_oracle.h"

#include <cstdio>
#include <functional>
#include <memory>
#include <random>

#include "controller/paths/steering.h"
#include "controller/placement/placement.h"
#include "gtest/gtest.h"
#include "tests/controller/oracle/fake_switches.h"
#include "tests/controller/path_test_fabrics.h"

namespace pulse::controller {
namespace {

using testing::BuildLeafSpine;
using testing::FakeSwitches;

std::shared_ptr<const Fabric> Fabric4x4x4() {
  return std::make_shared<const Fabric>(BuildLeafSpine(4, 4, 4).value());
}

std::vector<NodeId> Leaves(const Fabric& f) {
  std::vector<NodeId> leaves;
  for (NodeId sw : f.switches())
    if (f.node(sw).level == 1) leaves.push_back(sw);
  return leaves;
}

// A permutation: NIC i sends to NIC (i + 4) mod n (always another leaf).
std::vector<std::pair<NodeId, NodeId>> Permutation(const Fabric& f) {
  std::vector<std::pair<NodeId, NodeId>> pairs;
  const auto& nics = f.nics();
  for (size_t i = 0; i < nics.size(); ++i) pairs.push_back({nics[i], nics[(i + 4) % nics.size()]});
  return pairs;
}

TEST(PathOracleTest, VerifiesAKnownHashAndRefusesAWrongModel) {
  auto fabric = Fabric4x4x4();
  EcmpGroups groups(fabric);
  const EcmpHashModel truth(HashAlgorithm::kOvsMultipath, 1);
  FakeSwitches switches(groups, [&](NodeId, const FiveTuple& t, const auto& members) {
    return EcmpSelector(truth, members).Select(t);
  });
  PathOracle oracle(groups, &switches);
  const NodeId leaf = Leaves(*fabric).front();

  OracleSwitchReport ok = oracle.Verify(leaf, truth);
  EXPECT_TRUE(ok.status.ok()) << ok.status;
  EXPECT_EQ(ok.probes, 16u * 4);  // 16 per uplink, 4 uplinks
  EXPECT_LE(ok.max_probes_on_uplink, 64u);
  std::printf("verify %s: %zu probes, at most %zu on one uplink\n", ok.name.c_str(), ok.probes,
              ok.max_probes_on_uplink);

  OracleSwitchReport wrong = oracle.Verify(leaf, EcmpHashModel(HashAlgorithm::kCrc32, 7));
  EXPECT_EQ(wrong.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(wrong.status.message().find("switch 'leaf-0'"), std::string::npos) << wrong.status;
  EXPECT_NE(wrong.status.message().find("crc32"), std::string::npos) << wrong.status;
}

// A switch with an unknown hash (a secret permutation table over a hash nobody modelled): the
// oracle learns the table for a permutation job's pairs, and steering through the learned tables
// finds for every planned uplink a port that the switch really sends that way.
TEST(PathOracleTest, LearnsAnUnknownPermutationTableAndSteersByIt) {
  auto fabric = Fabric4x4x4();
  const Fabric& f = *fabric;
  EcmpGroups groups(fabric);
  std::mt19937 rng(11);
  std::vector<uint8_t> secret(256);
  for (auto& b : secret) b = static_cast<uint8_t>(rng());
  auto unknown = [&](NodeId sw, const FiveTuple& t, const std::vector<EcmpMember>& members) {
    const uint32_t h = (t.src_ip * 2654435761u) ^ (t.dst_ip * 40503u) ^ (t.src_port * 69069u) ^
                       static_cast<uint32_t>(sw);
    return static_cast<size_t>(secret[(h >> 11) & 255]) % members.size();
  };
  FakeSwitches switches(groups, unknown);
  PathOracle oracle(groups, &switches);
  HashModels models;
  const auto pairs = Permutation(f);
  std::vector<OracleSwitchReport> reports = oracle.Run(Leaves(f), {}, pairs, &models);
  ASSERT_EQ(reports.size(), 4u);
  for (const OracleSwitchReport& r : reports) {
    EXPECT_TRUE(r.status.ok()) << r.status;
    EXPECT_EQ(r.pairs, 4u);
    EXPECT_EQ(r.pairs_complete, 4u) << r.name;
    EXPECT_LE(r.max_probes_on_uplink, 64u);
    std::printf("learn %s: %zu probes for %zu pairs, at most %zu on one uplink\n", r.name.c_str(),
                r.probes, r.pairs, r.max_probes_on_uplink);
  }
  EXPECT_EQ(switches.sent(),
            reports[0].probes + reports[1].probes + reports[2].probes + reports[3].probes);
  // Every path of every pair gets a port, and the switch itself sends that port the planned way.
  for (const auto& [src, dst] : pairs) {
    auto paths = UpDownPaths(f, groups.status(), src, dst).value();
    ASSERT_EQ(paths.size(), 4u);
    for (const Path& path : paths) {
      auto port = FindSteeringPort(groups, models, path);
      ASSERT_TRUE(port.ok()) << port.status();
      const NodeId leaf = f.Head(path.hops[0]);
      auto members = groups.NextHops(leaf, dst).value();
      auto tuple = RoceTuple(f, src, dst, *port).value();
      EXPECT_EQ(members[unknown(leaf, tuple, members)].link, path.hops[1]);
    }
  }
  // A pair nobody probed is not guessed: Unavailable (pinned), naming the switch.
  const NodeId src = f.nics()[0], dst = f.nics()[15];
  auto path = UpDownPaths(f, groups.status(), src, dst).value().front();
  auto port = FindSteeringPort(groups, models, path);
  EXPECT_EQ(port.status().code(), absl::StatusCode::kUnavailable) << port.status();
  EXPECT_NE(port.status().message().find("leaf-0"), std::string::npos) << port.status();
  // After a group change the learned entries no longer hold for the changed group.
  groups.SetLinkUp(f.LinkOf(path.hops[1]), false);
  auto after = UpDownPaths(f, groups.status(), pairs[0].first, pairs[0].second).value();
  EXPECT_EQ(FindSteeringPort(groups, models, after.front()).status().code(),
            absl::StatusCode::kUnavailable);
}

// A switch whose answers are not a function of the 5-tuple (random) fails: its table carries the
// failure, steering refuses it by name, and a steered job placed through it is pinned instead.
TEST(PathOracleTest, InconsistentSwitchFailsAndItsFlowsArePinned) {
  auto fabric = Fabric4x4x4();
  const Fabric& f = *fabric;
  EcmpGroups groups(fabric);
  std::mt19937 rng(5);
  FakeSwitches switches(groups, [&](NodeId, const FiveTuple&, const auto&) { return rng(); });
  PathOracle oracle(groups, &switches);
  HashModels models;
  const auto pairs = Permutation(f);
  std::vector<OracleSwitchReport> reports = oracle.Run(Leaves(f), {}, pairs, &models);
  for (const OracleSwitchReport& r : reports) {
    EXPECT_EQ(r.status.code(), absl::StatusCode::kFailedPrecondition) << r.name;
    EXPECT_NE(r.status.message().find("'" + r.name + "' is inconsistent"), std::string::npos)
        << r.status;
    EXPECT_LE(r.max_probes_on_uplink, 64u);
  }
  auto path = UpDownPaths(f, groups.status(), pairs[0].first, pairs[0].second).value().front();
  auto port = FindSteeringPort(groups, models, path);
  EXPECT_EQ(port.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(port.status().message().find("'leaf-0' is not steered"), std::string::npos)
      << port.status();

  // Placement: the steered job is accepted, its flows carry no port (a pin enforces them).
  PlacementOptions options;
  options.enforcement = Enforcement::kSteer;
  Placement placement(fabric, options);
  placement.EnableSteering(models);
  JobSpec spec;
  spec.id = "j";
  spec.pattern = CollectivePattern::kExplicit;
  spec.endpoints = {f.node(pairs[0].first).name, f.node(pairs[0].second).name};
  spec.explicit_flows.push_back({spec.endpoints[0], spec.endpoints[1]});
  auto job = placement.PlaceJob(spec);
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_EQ((*job)->flows.size(), 1u);
  EXPECT_EQ((*job)->enforcement, Enforcement::kSteer);
  EXPECT_EQ((*job)->flows[0].udp_src_port, 0);
}

// A declared model that is right is kept; a wrong one is replaced by a failure (pins). (A crc32
// with another seed would not do as the wrong model: CRC is linear, so two seeds' hashes differ by
// a constant and may pick the same bucket of a 4-way group for every packet.)
TEST(PathOracleTest, RunKeepsVerifiedModelsAndFailsWrongOnes) {
  auto fabric = Fabric4x4x4();
  const Fabric& f = *fabric;
  EcmpGroups groups(fabric);
  const EcmpHashModel truth(HashAlgorithm::kCrc32, 3);
  FakeSwitches switches(groups, [&](NodeId, const FiveTuple& t, const auto& members) {
    return EcmpSelector(truth, members).Select(t);
  });
  PathOracle oracle(groups, &switches);
  const auto leaves = Leaves(f);
  std::map<NodeId, EcmpHashModel> declared{
      {leaves[0], truth}, {leaves[1], EcmpHashModel(HashAlgorithm::kCrc16Ccitt, 3)}};
  HashModels models;
  auto reports = oracle.Run({leaves[0], leaves[1]}, declared, {}, &models);
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_TRUE(reports[0].status.ok()) << reports[0].status;
  EXPECT_EQ(models.For(leaves[0]).algorithm, HashAlgorithm::kCrc32);
  EXPECT_FALSE(reports[1].status.ok());
  EXPECT_EQ(models.For(leaves[1]).algorithm, HashAlgorithm::kLearned);
  ASSERT_NE(models.For(leaves[1]).learned, nullptr);
  EXPECT_NE(models.For(leaves[1]).learned->failure.find("'leaf-1' disagrees"), std::string::npos);
}

TEST(PathOracleTest, CatchRulesCoverSwitchFacingPortsOnly) {
  auto fabric = Fabric4x4x4();
  const Fabric& f = *fabric;
  const NodeId leaf = Leaves(f).front();
  auto rules = ProbeCatchRules(f, leaf, 63);
  ASSERT_EQ(rules.size(), 4u);  // 4 spines, not the 4 NICs
  for (const auto& r : rules) {
    ASSERT_TRUE(r.match.in_port.has_value());
    auto link = f.LinkAtPort(leaf, static_cast<int32_t>(*r.match.in_port));
    ASSERT_TRUE(link.has_value());
    EXPECT_TRUE(f.node(f.Peer(*link, leaf)).is_switch());
    EXPECT_EQ(r.match.dscp, 63);
    EXPECT_EQ(r.match.udp_dst, kRoceV2Port);
    EXPECT_EQ(r.action.output_port, switches::kPortToController);
  }
}

}  // namespace
}  // namespace pulse::controller
