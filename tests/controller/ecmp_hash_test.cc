#include "controller/ecmp_hash.h"

#include <cstring>
#include <memory>
#include <set>

#include "gtest/gtest.h"
#include "tests/controller/path_test_fabrics.h"

namespace pulse::controller {
namespace {

using testing::BuildFatTree;
using testing::BuildLeafSpine;

std::shared_ptr<const Fabric> Share(absl::StatusOr<Fabric> f) {
  return std::make_shared<const Fabric>(std::move(f).value());
}

TEST(EcmpHashTest, ChecksumsMatchKnownAnswers) {
  const char* check = "123456789";
  const auto* bytes = reinterpret_cast<const uint8_t*>(check);
  EXPECT_EQ(Crc32(bytes, std::strlen(check)), 0xCBF43926u);     // CRC-32
  EXPECT_EQ(Crc16Ccitt(bytes, std::strlen(check)), 0x29B1u);    // CRC-16/CCITT-FALSE
  EXPECT_NE(Crc32(bytes, std::strlen(check), 7), 0xCBF43926u);  // the seed matters
  EXPECT_NE(Crc16Ccitt(bytes, std::strlen(check), 7), 0x29B1u);
}

TEST(EcmpHashTest, HashCoversExactlyTheSelectedFields) {
  FiveTuple a{0x0A000001, 0x0A000002, kUdpProto, 50000, kRoceV2Port};
  FiveTuple other_port = a;
  other_port.src_port = 50001;
  for (HashAlgorithm alg :
       {HashAlgorithm::kCrc32, HashAlgorithm::kCrc16Ccitt, HashAlgorithm::kXorFold}) {
    EcmpHashModel all{alg, 0, kHashAllFields};
    EXPECT_NE(HashFiveTuple(all, a), HashFiveTuple(all, other_port)) << HashAlgorithmName(alg);
    EcmpHashModel no_ports{alg, 0, kHashSrcIp | kHashDstIp | kHashProto};
    EXPECT_EQ(HashFiveTuple(no_ports, a), HashFiveTuple(no_ports, other_port));
    EcmpHashModel seeded{alg, 0x1234, kHashAllFields};
    EXPECT_NE(HashFiveTuple(all, a), HashFiveTuple(seeded, a));
  }
  // xor-fold by hand: 0x0A000001 ^ 0x0A000002 ^ 17 ^ (50000 << 16 | 4791), folded.
  uint32_t h = 0x0A000001u ^ 0x0A000002u ^ 17u ^ ((50000u << 16) | 4791u);
  EXPECT_EQ(HashFiveTuple(EcmpHashModel{HashAlgorithm::kXorFold, 0, kHashAllFields}, a),
            (h >> 16) ^ (h & 0xFFFFu));
}

TEST(EcmpHashTest, ParseNames) {
  EXPECT_EQ(ParseHashAlgorithm("crc32").value(), HashAlgorithm::kCrc32);
  EXPECT_EQ(ParseHashAlgorithm("crc16-ccitt").value(), HashAlgorithm::kCrc16Ccitt);
  EXPECT_EQ(ParseHashAlgorithm("xor-fold").value(), HashAlgorithm::kXorFold);
  EXPECT_FALSE(ParseHashAlgorithm("md5").ok());
}

TEST(EcmpHashTest, SelectionSpreadsAndHonoursWeights) {
  EcmpHashModel model;
  FiveTuple t{0x0A000001, 0x0A000002, kUdpProto, 0, kRoceV2Port};
  std::vector<int> counts(4, 0);
  std::vector<EcmpMember> weighted(2);
  weighted[0].weight = 1;
  weighted[1].weight = 3;
  std::vector<int> weighted_counts(2, 0);
  for (int port = 49152; port < 49152 + 8000; ++port) {
    t.src_port = static_cast<uint16_t>(port);
    ++counts[SelectMember(model, t, 4)];
    ++weighted_counts[SelectWeightedMember(model, t, weighted)];
  }
  for (int c : counts) EXPECT_NEAR(c, 2000, 300);
  EXPECT_NEAR(weighted_counts[0], 2000, 300);
  EXPECT_NEAR(weighted_counts[1], 6000, 300);
  EXPECT_EQ(SelectMember(model, t, 0), 0u);
}

TEST(EcmpHashTest, TraceFollowsGroupsToTheDestination) {
  auto fabric = Share(BuildFatTree(4));
  const Fabric& f = *fabric;
  EcmpGroups groups(fabric);
  HashModels models;
  for (NodeId src : f.nics()) {
    for (NodeId dst : f.nics()) {
      if (src == dst) continue;
      auto tuple = RoceTuple(f, src, dst, 50000).value();
      auto path = TraceEcmpPath(groups, models, src, dst, tuple);
      ASSERT_TRUE(path.ok()) << path.status();
      EXPECT_TRUE(IsValleyFree(f, *path, src, dst));
      auto shortest = UpDownPaths(f, groups.status(), src, dst).value();
      EXPECT_EQ(path->hops.size(), shortest[0].hops.size());
    }
  }
  EXPECT_EQ(TraceEcmpPath(groups, models, f.nics()[0], f.nics()[0], FiveTuple{}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(EcmpHashTest, BaselineCountsEveryFlowOnItsTracedPath) {
  auto fabric = Share(BuildLeafSpine(4, 4, 4));
  const Fabric& f = *fabric;
  EcmpGroups groups(fabric);
  HashModels models;
  // A shift permutation: every NIC sends 10G to the NIC 4 places on (another leaf).
  std::vector<FlowDemand> flows;
  const int n = static_cast<int>(f.nics().size());
  for (int i = 0; i < n; ++i) flows.push_back({f.nics()[i], f.nics()[(i + 4) % n], 10e9, 0});
  EcmpLoad load = EcmpBaseline(groups, models, flows, 42).value();
  EXPECT_EQ(load.unrouted_flows, 0u);
  double total = 0;
  for (double l : load.load_bps) total += l;
  EXPECT_DOUBLE_EQ(total, n * 10e9 * 4);  // every flow crosses 4 channels
  // Every NIC sends and receives 10G exactly.
  for (NodeId nic : f.nics()) {
    const LinkId l = f.LinksOf(nic)[0];
    EXPECT_DOUBLE_EQ(load.load_bps[f.DirectedFrom(l, nic)], 10e9);
    EXPECT_DOUBLE_EQ(load.load_bps[f.DirectedFrom(l, f.Peer(l, nic))], 10e9);
  }
  ASSERT_GE(load.busiest, 0);
  EXPECT_DOUBLE_EQ(load.max_utilisation, load.load_bps[load.busiest] / 100e9);
  EXPECT_GE(load.max_utilisation, 0.1);
  // Same seed, same answer; a seed changes the ports and so (almost surely) the spread.
  EXPECT_EQ(EcmpBaseline(groups, models, flows, 42)->load_bps, load.load_bps);
  EXPECT_NE(EcmpBaseline(groups, models, flows, 43)->load_bps, load.load_bps);
  // Errors and unroutable flows.
  EXPECT_EQ(EcmpBaseline(groups, models, {{f.switches()[0], f.nics()[0], 1, 0}}, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(EcmpBaseline(groups, models, flows, 1, 5000, 4000).ok());
  groups.SetLinkUp(f.LinksOf(f.nics()[4])[0], false);
  EXPECT_EQ(EcmpBaseline(groups, models, flows, 42)->unrouted_flows, 2u);  // to and from it
}

}  // namespace
}  // namespace pulse::controller
