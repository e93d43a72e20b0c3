// The lossless health supervisor fed from SONiC-shaped COUNTERS_DB: a counter generator writes
// every switch's counters into its own redis-server (one per emulated switch), the SONiC reader
// reads them back, the adapter and LosslessCounters turn them into deltas, and LosslessHealth
// decides. Scenarios: pause storms at one port spreading upstream over 2-3 hops, gray links with
// rising losses, and clean streams (incast congestion, pause bursts, error noise, malformed
// values, a switch restart), plus a clean day (24 h of polls in compressed time).
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "controller/health/lossless_counters.h"
#include "controller/health/lossless_health.h"
#include "controller/qos/qos_plan.h"
#include "gtest/gtest.h"
#include "southbound/sonic/qos_export.h"
#include "southbound/sonic/sonic_switch.h"
#include "southbound/sonic/telemetry_adapter.h"
#include "tests/southbound/sonic/redis_server.h"
#include "topology/fabric.h"

namespace pulse::southbound::sonic {
namespace {

using controller::Incident;
using controller::IncidentKind;
using topology::LinkId;
using topology::NodeId;

constexpr int64_t kG = 1000000000LL;
constexpr int64_t kPollMs = 10000;
constexpr int kLeaves = 4, kSpines = 2, kNicsPerLeaf = 2;

std::shared_ptr<const topology::Fabric> Fabric() {
  topology::FabricBuilder b;
  std::vector<NodeId> leaves, spines;
  for (int l = 0; l < kLeaves; ++l) {
    leaves.push_back(b.AddSwitch("leaf-" + std::to_string(l), topology::SwitchRole::kLeaf));
  }
  for (int s = 0; s < kSpines; ++s) {
    spines.push_back(b.AddSwitch("spine-" + std::to_string(s), topology::SwitchRole::kSpine));
  }
  for (int l = 0; l < kLeaves; ++l) {
    for (int n = 0; n < kNicsPerLeaf; ++n) {
      auto server = b.AddServer("server-" + std::to_string(l * kNicsPerLeaf + n));
      b.AddLink(b.AddNic(server, 0), leaves[l], 400 * kG);
    }
    for (NodeId s : spines) b.AddLink(leaves[l], s, 400 * kG);
  }
  return std::make_shared<const topology::Fabric>(*std::move(b).Build());
}

// What a port does during one poll, on top of the baseline traffic.
struct PortPlan {
  double pause_rx_per_s = 0;  // PAUSE frames received on priority 3
  double pause_tx_per_s = 0;  // PAUSE frames sent on priority 3
  bool stalled = false;       // lossless queue 3 sends nothing
  double loss_ratio = 0;      // errors / packets
};
using Key = std::pair<NodeId, int32_t>;

// Cumulative SONiC counters of every switch port, written as COUNTERS_DB hashes into the switch's
// own redis-server.
class CounterGenerator {
 public:
  CounterGenerator(std::shared_ptr<const topology::Fabric> fabric, uint32_t seed)
      : fabric_(std::move(fabric)), rng_(seed) {
    for (NodeId sw : fabric_->switches()) {
      servers_[sw] = std::make_unique<testing::RedisServer>();
      clients_[sw] = *servers_[sw]->Client(kCountersDb);
      readers_[sw] = *servers_[sw]->Client(kConfigDb);
      for (const topology::Port& p : fabric_->node(sw).ports) {
        if (p.link == topology::kNoLink) continue;
        counters_[{sw, p.number}] = {};
        names_[sw][SonicPortName(p.number)] = p.number;
      }
    }
  }

  // Fresh counters and fresh databases for a new scenario.
  void Reset() {
    for (auto& [k, c] : counters_) c = {};
    for (auto& [sw, client] : clients_) (void)client->Command({"FLUSHDB"});
    written_maps_.clear();
  }
  void Restart(NodeId sw) {
    for (auto& [k, c] : counters_) {
      if (k.first == sw) c = {};
    }
  }
  void set_malformed(bool on) { malformed_ = on; }

  // Advances every port by one poll of `plans` (absent ports: baseline only) and writes.
  void Advance(const std::map<Key, PortPlan>& plans, double seconds) {
    std::uniform_real_distribution<double> jitter(0.8, 1.2);
    for (auto& [k, c] : counters_) {
      auto it = plans.find(k);
      const PortPlan plan = it == plans.end() ? PortPlan{} : it->second;
      const double pps = 2e5 * jitter(rng_);
      const uint64_t packets = static_cast<uint64_t>(pps * seconds);
      c.in_pkts += packets;
      c.out_pkts += packets;
      c.in_octets += packets * 4096;
      c.out_octets += packets * 4096;
      c.q3 += plan.stalled ? 0 : packets / 2;
      c.q0 += packets / 2;
      c.ecn3 += static_cast<uint64_t>(packets * 1e-3 * jitter(rng_));
      c.pfc_rx3 += static_cast<uint64_t>(plan.pause_rx_per_s * seconds);
      c.pfc_tx3 += static_cast<uint64_t>(plan.pause_tx_per_s * seconds);
      c.errors += static_cast<uint64_t>(2 * packets * plan.loss_ratio);
    }
    WriteAll();
  }

  // The SONiC reader's view of every switch.
  std::vector<SonicCounterSnapshot> ReadAll() {
    std::vector<SonicCounterSnapshot> out;
    for (auto& [sw, client] : readers_) {
      absl::StatusOr<SonicCounterSnapshot> s =
          ReadCountersSnapshot(*client, fabric_->node(sw).name, names_[sw]);
      EXPECT_TRUE(s.ok()) << s.status();
      if (s.ok()) out.push_back(*std::move(s));
    }
    return out;
  }

 private:
  struct Counters {
    uint64_t in_octets = 0, out_octets = 0, in_pkts = 0, out_pkts = 0, errors = 0;
    uint64_t pfc_rx3 = 0, pfc_tx3 = 0, q0 = 0, q3 = 0, ecn3 = 0;
  };
  static std::string Oid(int kind, NodeId sw, int32_t port, int queue = 0) {
    return "oid:0x" + std::to_string(kind) + "0000" + std::to_string(sw) + "00" +
           std::to_string(port) + "0" + std::to_string(queue);
  }
  void WriteAll() {
    for (auto& [sw, client] : clients_) {
      std::vector<std::vector<std::string>> cmds;
      std::vector<std::string> port_map = {"HSET", "COUNTERS_PORT_NAME_MAP"};
      std::vector<std::string> queue_map = {"HSET", "COUNTERS_QUEUE_NAME_MAP"};
      for (const auto& [name, port] : names_[sw]) {
        const Counters& c = counters_.at({sw, port});
        port_map.insert(port_map.end(), {name, Oid(1, sw, port)});
        std::vector<std::string> hset = {"HSET",
                                         "COUNTERS:" + Oid(1, sw, port),
                                         "SAI_PORT_STAT_IF_IN_OCTETS",
                                         std::to_string(c.in_octets),
                                         "SAI_PORT_STAT_IF_OUT_OCTETS",
                                         std::to_string(c.out_octets),
                                         "SAI_PORT_STAT_IF_IN_UCAST_PKTS",
                                         std::to_string(c.in_pkts),
                                         "SAI_PORT_STAT_IF_OUT_UCAST_PKTS",
                                         std::to_string(c.out_pkts),
                                         "SAI_PORT_STAT_IF_IN_ERRORS",
                                         std::to_string(c.errors),
                                         "SAI_PORT_STAT_IF_IN_DISCARDS",
                                         malformed_ ? "0x12" : "0",
                                         "SAI_PORT_STAT_PFC_3_RX_PKTS",
                                         std::to_string(c.pfc_rx3),
                                         "SAI_PORT_STAT_PFC_3_TX_PKTS",
                                         std::to_string(c.pfc_tx3)};
        cmds.push_back(std::move(hset));
        for (int q : {0, 3}) {
          queue_map.insert(queue_map.end(), {name + ":" + std::to_string(q), Oid(2, sw, port, q)});
          cmds.push_back({"HSET", "COUNTERS:" + Oid(2, sw, port, q), "SAI_QUEUE_STAT_PACKETS",
                          std::to_string(q == 3 ? c.q3 : c.q0),
                          "SAI_QUEUE_STAT_WRED_ECN_MARKED_PACKETS",
                          std::to_string(q == 3 ? c.ecn3 : 0)});
        }
      }
      if (!written_maps_.count(sw)) {
        cmds.push_back(port_map);
        cmds.push_back(queue_map);
        written_maps_.insert(sw);
      }
      auto replies = client->Pipeline(cmds);
      ASSERT_TRUE(replies.ok()) << replies.status();
    }
  }

  std::shared_ptr<const topology::Fabric> fabric_;
  std::mt19937 rng_;
  std::map<NodeId, std::unique_ptr<testing::RedisServer>> servers_;
  std::map<NodeId, std::unique_ptr<RedisClient>> clients_;
  std::map<NodeId, std::unique_ptr<RedisClient>> readers_;
  std::map<NodeId, std::map<std::string, int32_t>> names_;
  std::map<Key, Counters> counters_;
  std::set<NodeId> written_maps_;
  bool malformed_ = false;
};

// One supervisor pipeline: snapshots -> deltas -> decisions.
struct Pipeline {
  explicit Pipeline(std::shared_ptr<const topology::Fabric> f) : fabric(f), health(f) {}
  std::vector<controller::HealthEvent> Poll(CounterGenerator& gen, int64_t now_ms) {
    std::vector<controller::LosslessPortDelta> deltas;
    for (const SonicCounterSnapshot& s : gen.ReadAll()) {
      malformed += s.malformed_values;
      const NodeId node = *fabric->FindNode(s.switch_name);
      for (const controller::LosslessCounterSample& l :
           ToTelemetrySamples(s, node, now_ms).lossless) {
        auto d = counters.Ingest(l);
        EXPECT_TRUE(d.ok()) << d.status();
        if (d.ok() && d->has_value()) deltas.push_back(**d);
      }
    }
    return health.Step(deltas, now_ms);
  }
  std::shared_ptr<const topology::Fabric> fabric;
  controller::LosslessCounters counters;
  controller::LosslessHealth health;
  uint64_t malformed = 0;
};

struct Topo {
  std::shared_ptr<const topology::Fabric> f = Fabric();
  NodeId Node(const std::string& name) const { return *f->FindNode(name); }
  // Port of `a` facing `b`.
  int32_t PortTo(NodeId a, NodeId b) const {
    for (LinkId l : f->LinksOf(a)) {
      if (f->Peer(l, a) == b) {
        const topology::Link& link = f->link(l);
        return link.a.node == a ? link.a.port : link.b.port;
      }
    }
    return 0;
  }
  LinkId LinkBetween(NodeId a, NodeId b) const { return *f->LinkAtPort(a, PortTo(a, b)); }
  NodeId Nic(int leaf, int n) const {
    return Node("server-" + std::to_string(leaf * kNicsPerLeaf + n) + "/nic-0");
  }
};

constexpr double kStorm = 50000;  // pause frames/s

// A storm whose root is `root` (switch, port) with the pauses coming from `origin`; it spreads one
// hop upstream per poll, over `hops` hops, starting at poll `start`, lasting `length` polls.
std::map<Key, PortPlan> StormPlan(const Topo& t, NodeId root_sw, NodeId origin, int age, int hops) {
  std::map<Key, PortPlan> plan;
  // Hop 0: the root port receives pauses and its lossless queue stalls.
  plan[{root_sw, t.PortTo(root_sw, origin)}] = {kStorm, 0, true, 0};
  // Frontier of switches now congested: each pauses all its other neighbours one hop later.
  std::vector<std::pair<NodeId, NodeId>> frontier = {{root_sw, origin}};  // (switch, came from)
  std::set<NodeId> congested = {root_sw};
  for (int h = 1; h <= std::min(age, hops); ++h) {
    std::vector<std::pair<NodeId, NodeId>> next;
    for (auto [sw, from] : frontier) {
      for (LinkId l : t.f->LinksOf(sw)) {
        const NodeId up = t.f->Peer(l, sw);
        if (up == from || congested.count(up)) continue;
        plan[{sw, t.PortTo(sw, up)}].pause_tx_per_s = kStorm;
        if (t.f->node(up).is_switch()) {
          PortPlan& p = plan[{up, t.PortTo(up, sw)}];
          p.pause_rx_per_s = kStorm;
          p.stalled = true;
          next.push_back({up, sw});
        }
      }
    }
    for (auto [sw, from] : next) congested.insert(sw);
    frontier = next;
  }
  return plan;
}

struct Outcome {
  std::vector<Incident> incidents;
  int first_event_poll = -1;
};

TEST(HealthScenariosTest, FiftyScriptedScenariosAndACleanDay) {
  Topo t;
  CounterGenerator gen(t.f, 7);
  std::mt19937 rng(11);
  int storms = 0, grays = 0, cleans = 0, scenario = 0;
  int storm_polls_to_root_max = 0;
  const double seconds = kPollMs / 1000.0;

  auto run = [&](int polls, const std::function<std::map<Key, PortPlan>(int)>& plan_at,
                 const std::function<void(int)>& before_poll = nullptr) {
    gen.Reset();
    Pipeline p(t.f);
    Outcome out;
    for (int i = 0; i < polls; ++i) {
      if (before_poll) before_poll(i);
      gen.Advance(plan_at(i), seconds);
      auto events = p.Poll(gen, (i + 1) * kPollMs);
      if (!events.empty() && out.first_event_poll < 0) out.first_event_poll = i;
    }
    out.incidents = p.health.incidents();
    ++scenario;
    return out;
  };

  // 24 storms: root at a leaf port facing a stuck NIC, or at a spine port facing a leaf that
  // sends pauses on its own; 2 or 3 hops; various starts.
  for (int k = 0; k < 24; ++k) {
    const int leaf = k % kLeaves;
    const bool nic_origin = k % 3 != 2;
    const int hops = 2 + k % 2;
    const int start = 2 + k % 4;
    const NodeId leaf_sw = t.Node("leaf-" + std::to_string(leaf));
    const NodeId spine_sw = t.Node("spine-" + std::to_string(k % kSpines));
    const NodeId root_sw = nic_origin ? leaf_sw : spine_sw;
    const NodeId origin = nic_origin ? t.Nic(leaf, k % kNicsPerLeaf) : leaf_sw;
    const LinkId root_link = t.LinkBetween(root_sw, origin);
    const int length = 8;
    Outcome o = run(start + length + 10, [&](int i) {
      const int age = i - start;
      if (age < 0 || age >= length) return std::map<Key, PortPlan>{};
      return StormPlan(t, root_sw, origin, age, hops);
    });
    ASSERT_EQ(o.incidents.size(), 1u) << "storm " << k;
    const Incident& inc = o.incidents[0];
    EXPECT_EQ(inc.kind, IncidentKind::kPfcStorm);
    EXPECT_EQ(inc.root_link, t.LinkBetween(root_sw, origin)) << "storm " << k;
    (void)root_link;
    const int polls_to_root = o.first_event_poll - start + 1;
    EXPECT_LE(polls_to_root, 2) << "storm " << k;
    storm_polls_to_root_max = std::max(storm_polls_to_root_max, polls_to_root);
    EXPECT_LE(inc.actions, 1);
    EXPECT_FALSE(inc.open()) << "storm " << k << " never returned to service";
    ++storms;
  }

  // 14 gray links: losses rising on a leaf-spine or leaf-NIC link.
  for (int k = 0; k < 14; ++k) {
    const NodeId leaf_sw = t.Node("leaf-" + std::to_string(k % kLeaves));
    const NodeId peer =
        k % 2 ? t.Node("spine-" + std::to_string(k % kSpines)) : t.Nic(k % kLeaves, 0);
    const LinkId link = t.LinkBetween(leaf_sw, peer);
    Outcome o = run(30, [&](int i) {
      std::map<Key, PortPlan> plan;
      const double ratio = i < 5 ? 0 : std::min(1e-3, 1e-5 * std::pow(2.0, i - 5));
      plan[{leaf_sw, t.PortTo(leaf_sw, peer)}].loss_ratio = ratio;
      if (t.f->node(peer).is_switch()) plan[{peer, t.PortTo(peer, leaf_sw)}].loss_ratio = ratio;
      return plan;
    });
    ASSERT_EQ(o.incidents.size(), 1u) << "gray " << k;
    EXPECT_EQ(o.incidents[0].kind, IncidentKind::kGrayLink);
    EXPECT_EQ(o.incidents[0].root_link, link);
    EXPECT_LE(o.incidents[0].actions, 1);
    ++grays;
  }

  // 14 clean streams: incast congestion (pauses while the queue drains), one-poll pause bursts,
  // error noise far below the gray ratio, malformed values, a switch restart.
  for (int k = 0; k < 14; ++k) {
    const NodeId leaf_sw = t.Node("leaf-" + std::to_string(k % kLeaves));
    const NodeId victim = t.Node("leaf-" + std::to_string((k + 1) % kLeaves));
    gen.set_malformed(k % 4 == 0);
    Outcome o = run(
        40,
        [&](int i) {
          std::map<Key, PortPlan> plan;
          for (int s = 0; s < kSpines; ++s) {
            const NodeId spine = t.Node("spine-" + std::to_string(s));
            // Incast into leaf_sw: it pauses the spines, whose queues keep draining.
            if (i % 7 < 4) {
              plan[{spine, t.PortTo(spine, leaf_sw)}].pause_rx_per_s = 20000;
              plan[{leaf_sw, t.PortTo(leaf_sw, spine)}].pause_tx_per_s = 20000;
            }
            plan[{spine, t.PortTo(spine, victim)}].loss_ratio = 1e-7;
          }
          if (i % 9 == 3)
            plan[{victim, t.PortTo(victim, t.Nic((k + 1) % kLeaves, 1))}] = {
                kStorm, 0, true, 0};  // a one-poll stall: not confirmed
          return plan;
        },
        [&](int i) {
          if (i == 20) gen.Restart(t.Node("spine-" + std::to_string(k % kSpines)));
        });
    EXPECT_TRUE(o.incidents.empty()) << "clean " << k << ": " << o.incidents.size()
                                     << " incidents, first " << o.incidents[0].detail;
    ++cleans;
  }
  gen.set_malformed(false);

  // A clean day: 24 h of polls at 10 s, compressed (the poll times advance, the clock does not).
  {
    gen.Reset();
    Pipeline p(t.f);
    const int polls = 24 * 3600 * 1000 / kPollMs;
    size_t events = 0;
    for (int i = 0; i < polls; ++i) {
      std::map<Key, PortPlan> plan;
      if (i % 11 == 0) {
        const NodeId spine = t.Node("spine-" + std::to_string(i % kSpines));
        const NodeId leaf = t.Node("leaf-" + std::to_string(i % kLeaves));
        plan[{spine, t.PortTo(spine, leaf)}].pause_rx_per_s = 30000;
      }
      gen.Advance(plan, seconds);
      events += p.Poll(gen, (i + 1) * kPollMs).size();
    }
    EXPECT_EQ(events, 0u);
    EXPECT_TRUE(p.health.incidents().empty());
    std::printf("clean day: %d polls of %d switches, %zu events\n", polls,
                static_cast<int>(t.f->switches().size()), events);
  }
  std::printf("scenarios: %d (%d storms, %d gray links, %d clean); root within %d polls at worst\n",
              scenario, storms, grays, cleans, storm_polls_to_root_max);
  EXPECT_GE(scenario, 50);
}

}  // namespace
}  // namespace pulse::southbound::sonic
