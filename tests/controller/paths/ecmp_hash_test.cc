#include "controller/paths/ecmp_hash.h"

#include <cstring>
#include <memory>
#include <random>
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

// Open vSwitch's multipath hash (symmetric_l3l4+udp): swapping source and destination (addresses
// and ports) changes nothing; the source port alone moves a flow; known values pinned down by the
// agreement test against ofproto/trace (tests/southbound/openflow/ovs_hash_model_test.cc).
TEST(EcmpHashTest, OvsMultipathIsSymmetricAndHashesTheSourcePort) {
  EcmpHashModel ovs{HashAlgorithm::kOvsMultipath, 0, kHashAllFields};
  FiveTuple a{0x0a000001, 0x0a000102, kUdpProto, 50000, kRoceV2Port};
  FiveTuple swapped{a.dst_ip, a.src_ip, kUdpProto, a.dst_port, a.src_port};
  EXPECT_EQ(HashFiveTuple(ovs, a), HashFiveTuple(ovs, swapped));
  std::set<uint32_t> hashes;
  for (uint16_t port = 50000; port < 50064; ++port) {
    FiveTuple t = a;
    t.src_port = port;
    hashes.insert(HashFiveTuple(ovs, t));
  }
  EXPECT_EQ(hashes.size(), 64u);
  EXPECT_TRUE(HashesSourcePort(ovs));
  EXPECT_FALSE(HashesSourcePort({HashAlgorithm::kCrc32, 0, kHashSrcIp | kHashDstIp}));
  // The basis (seed) changes the hash.
  EXPECT_NE(HashFiveTuple(ovs, a), HashFiveTuple({HashAlgorithm::kOvsMultipath, 1, 0}, a));
}

// Highest random weight: removing a link moves only the flows that were on it.
TEST(EcmpHashTest, OvsHrwMovesOnlyTheRemovedLinksFlows) {
  int moved_from_others = 0, on_removed = 0;
  for (uint32_t h = 0; h < 20000; ++h) {
    uint32_t hash = h * 2654435761u;
    uint32_t with8 = OvsHrwLink(hash, 8);
    uint32_t with7 = OvsHrwLink(hash, 7);  // link 7 removed
    if (with8 == 7) {
      ++on_removed;
    } else if (with8 != with7) {
      ++moved_from_others;
    }
    EXPECT_LT(with7, 7u);
  }
  EXPECT_EQ(moved_from_others, 0);
  EXPECT_GT(on_removed, 20000 / 8 / 2);  // about an eighth land on each link
}

// The intent's ecmp_hash section: switch beats role beats default; errors quote file:line.
// The steering search's shortcuts (Selects stopping at the first outbidding slot, SelectsPorts
// evaluating ports side by side) answer exactly what the full choice (Select) does, for every
// algorithm, equal and unequal weights, and members that own no slot.
TEST(EcmpHashTest, SelectsAndSelectsPortsAgreeWithSelect) {
  const std::vector<std::vector<uint32_t>> weight_sets = {
      {1}, {1, 1}, {1, 1, 1, 1, 1, 1, 1, 1}, {3, 1, 2}, {5, 0, 5, 2}, {7, 7, 14}};
  std::vector<uint32_t> wide(64, 1);
  std::vector<uint32_t> heavy = {100, 1, 1, 40, 3, 1, 1, 1, 9, 1};  // scaled to 64 slots
  const std::vector<EcmpHashModel> models = {{HashAlgorithm::kOvsMultipath, 0, kHashAllFields},
                                             {HashAlgorithm::kOvsMultipath, 2, kHashAllFields},
                                             {HashAlgorithm::kCrc32, 77, kHashAllFields},
                                             {HashAlgorithm::kCrc16Ccitt, 5, kHashAllFields},
                                             {HashAlgorithm::kXorFold, 9, kHashAllFields}};
  std::vector<std::vector<uint32_t>> all = weight_sets;
  all.push_back(wide);
  all.push_back(heavy);
  std::mt19937_64 rng(11);
  for (const EcmpHashModel& model : models) {
    for (const std::vector<uint32_t>& weights : all) {
      std::vector<EcmpMember> members(weights.size());
      for (size_t i = 0; i < weights.size(); ++i) members[i].weight = weights[i];
      const EcmpSelector selector(model, members);
      for (int trial = 0; trial < 40; ++trial) {
        FiveTuple t{static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng()), kUdpProto, 0,
                    kRoceV2Port};
        const uint32_t first = 49152 + static_cast<uint32_t>(rng() % 16000);
        for (size_t wanted = 0; wanted <= members.size(); ++wanted) {  // one past: never picked
          const uint32_t mask =
              selector.SelectsPorts(t, first, EcmpSelector::kMaxBatchPorts, wanted);
          for (uint32_t i = 0; i < EcmpSelector::kMaxBatchPorts; ++i) {
            t.src_port = static_cast<uint16_t>(first + i);
            const bool picked = selector.Select(t) == wanted;
            ASSERT_EQ(selector.Selects(t, wanted), picked) << "port " << t.src_port;
            ASSERT_EQ((mask >> i) & 1u, picked ? 1u : 0u) << "port " << t.src_port;
            ASSERT_EQ(SelectWeightedMember(model, t, members) == wanted, picked);
          }
        }
      }
    }
  }
}

// SelectsPorts' side-by-side Open vSwitch path for part batches, ports that wrap past 65535,
// and protocols whose ports are hashed (UDP, TCP) or not (ICMP: the scalar path).
TEST(EcmpHashTest, SelectsPortsPartBatchesAndProtocols) {
  std::mt19937_64 rng(5);
  for (uint32_t width : {2u, 5u, 64u}) {
    std::vector<EcmpMember> members(width);
    for (size_t i = 0; i < members.size(); ++i) members[i].weight = 1 + (i % 3 == 0 ? 1 : 0);
    const EcmpSelector selector({HashAlgorithm::kOvsMultipath, 3, kHashAllFields}, members);
    for (uint8_t proto : {kUdpProto, uint8_t{6}, uint8_t{1}}) {
      for (int trial = 0; trial < 200; ++trial) {
        FiveTuple t{static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng()), proto, 0,
                    static_cast<uint16_t>(trial % 2 == 0 ? kRoceV2Port : rng())};
        const uint32_t count = 1 + static_cast<uint32_t>(rng() % EcmpSelector::kMaxBatchPorts);
        const uint32_t first =
            trial % 4 == 0 ? 65535 - static_cast<uint32_t>(rng() % 20) : rng() % 65536;
        const size_t wanted = rng() % width;
        const uint32_t mask = selector.SelectsPorts(t, first, count, wanted);
        for (uint32_t i = 0; i < EcmpSelector::kMaxBatchPorts; ++i) {
          t.src_port = static_cast<uint16_t>(first + i);
          const bool picked = i < count && selector.Select(t) == wanted;
          ASSERT_EQ((mask >> i) & 1u, picked ? 1u : 0u)
              << "port " << first + i << " count " << count << " proto " << int{proto};
        }
      }
    }
  }
}

TEST(EcmpHashTest, ModelsFromIntentPrecedenceAndErrors) {
  auto fabric = Share(BuildLeafSpine(2, 2, 1));
  topology::EcmpHashIntent intent;
  auto built_in = HashModelsFromIntent(*fabric, intent);
  ASSERT_TRUE(built_in.ok());
  for (NodeId sw : fabric->switches()) {
    EXPECT_EQ(built_in->For(sw).algorithm, HashAlgorithm::kOvsMultipath);
    EXPECT_EQ(built_in->For(sw).seed, static_cast<uint32_t>(fabric->node(sw).level));
  }
  intent.fabric_default = topology::EcmpHashSpec{"crc32", 5, {}, "f.yaml:3: ecmp_hash.default"};
  intent.by_role["spine"] = {"crc16-ccitt", 9, {"src_ip", "dst_ip", "src_port"}, "f.yaml:5: x"};
  const std::string leaf0 = fabric->node(fabric->switches().front()).name;
  intent.by_switch[leaf0] = {"xor-fold", 1, {}, "f.yaml:7: y"};
  auto models = HashModelsFromIntent(*fabric, intent);
  ASSERT_TRUE(models.ok()) << models.status();
  EXPECT_EQ(models->default_model.algorithm, HashAlgorithm::kCrc32);
  EXPECT_EQ(models->default_model.seed, 5u);
  for (NodeId sw : fabric->switches()) {
    const EcmpHashModel& m = models->For(sw);
    if (fabric->node(sw).name == leaf0) {
      EXPECT_EQ(m.algorithm, HashAlgorithm::kXorFold);
    } else if (fabric->node(sw).role == topology::SwitchRole::kSpine) {
      EXPECT_EQ(m.algorithm, HashAlgorithm::kCrc16Ccitt);
      EXPECT_EQ(m.fields, kHashSrcIp | kHashDstIp | kHashSrcPort);
    } else {
      EXPECT_EQ(m.algorithm, HashAlgorithm::kCrc32);
    }
  }
  topology::EcmpHashIntent bad;
  bad.by_switch["no-such-switch"] = {"crc32", 0, {}, "f.yaml:9: ecmp_hash.switches.no-such"};
  auto unknown = HashModelsFromIntent(*fabric, bad);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("f.yaml:9:"), std::string::npos) << unknown.status();
  bad.by_switch.clear();
  bad.fabric_default = topology::EcmpHashSpec{"md5", 0, {}, "f.yaml:2: ecmp_hash.default"};
  EXPECT_FALSE(HashModelsFromIntent(*fabric, bad).ok());
  bad.fabric_default = topology::EcmpHashSpec{"crc32", 0, {"ttl"}, "f.yaml:2: ecmp_hash.default"};
  EXPECT_NE(HashModelsFromIntent(*fabric, bad).status().message().find("ttl"), std::string::npos);
  bad.fabric_default = topology::EcmpHashSpec{"ovs-multipath", 0, {"src_ip"}, "f.yaml:2: d"};
  EXPECT_FALSE(HashModelsFromIntent(*fabric, bad).ok());
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
