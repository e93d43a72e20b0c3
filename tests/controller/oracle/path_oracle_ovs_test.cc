// The path oracle on real Open vSwitch switches whose hash model nobody declared.
//
// A 4-leaf x 4-spine fabric (4 NICs per leaf) is built as eight userspace-datapath bridges joined
// by veth pairs, with an internal port for every NIC. Pulse's real tables are installed through
// the OpenFlowDriver (ComputeForwarding with the oracle's probe-catching rules); then:
//  1. the oracle learns every leaf's source-port-to-uplink table for a permutation job's pairs,
//     with probes injected by PACKET_OUT into the leaf's tables and caught at the spines;
//  2. the job is placed with enforcement `steer` using the learned tables, the tables are
//     re-applied: no per-flow rule appears on any switch;
//  3. each flow's packets (RoCEv2, from its assigned UDP source port, injected at its source
//     NIC's port) are counted on the spines' port counters: every flow crosses its planned spine.
//  4. a declared model is verified on the same switches: Open vSwitch's own (ovs-multipath with
//     the basis these tables carry: 0, as no model was declared) passes, a wrong one (crc32)
//     fails naming the switch.
// Probes used per switch are printed. Needs root and Open vSwitch (else skipped); run it under the
// machine's network lock (label integration).

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "controller/fabric_sync/forwarding.h"
#include "controller/oracle/path_oracle.h"
#include "controller/oracle/probe_transport.h"
#include "controller/placement/placement.h"
#include "gtest/gtest.h"
#include "southbound/openflow/openflow_driver.h"
#include "tests/controller/path_test_fabrics.h"
#include "tests/southbound/openflow/counters_sink.h"
#include "tests/southbound/openflow/ovs_fabric.h"
#include "tests/southbound/openflow/ovs_shell.h"

namespace pulse::controller {
namespace {

using ::pulse::testing::CountersSink;
using ::pulse::testing::EnsureOvs;
using ::pulse::testing::OvsFabric;
using ::pulse::testing::RunShell;
using southbound::openflow::OpenFlowDriver;
using southbound::openflow::OpenFlowDriverOptions;
using switches::PortCounters;
using switches::PortNo;
using switches::ProbePacket;
using switches::SwitchId;

constexpr uint8_t kMarker = 63;
constexpr int kPacketsPerFlow = 20;

// Counters as the OpenFlow driver reports them, and probe sightings handed to the oracle's
// transport.
class Sink : public CountersSink {
 public:
  explicit Sink(DriverProbeTransport* transport) : transport_(transport) {}
  void OnProbeSeen(SwitchId sw, PortNo port, const ProbePacket& probe) override {
    transport_->OnProbeSeen(sw, port, probe);
  }
  // Fresh rx packet counters of every switch in `switches`.
  std::map<std::pair<SwitchId, PortNo>, uint64_t> Counters(OpenFlowDriver& driver,
                                                           const std::vector<SwitchId>& switches) {
    std::map<std::pair<SwitchId, PortNo>, uint64_t> rx_packets;
    for (const auto& [sw, counters] : Poll(driver, switches)) {
      for (const PortCounters& c : counters) rx_packets[{sw, c.port}] = c.rx_packets;
    }
    return rx_packets;
  }

 private:
  DriverProbeTransport* transport_;
};

class PathOracleOvsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    if (!EnsureOvs(&why)) GTEST_SKIP() << why;
    fabric_ = std::make_shared<const Fabric>(testing::BuildLeafSpine(4, 4, 4).value());
    ovs_ = std::make_unique<OvsFabric>(*fabric_, "po");
    ovs_->Remove();
  }
  void TearDown() override {
    if (ovs_) ovs_->Remove();
  }
  std::string BridgeName(NodeId sw) const { return ovs_->BridgeName(sw); }
  std::unique_ptr<OvsFabric> ovs_;
  std::shared_ptr<const Fabric> fabric_;
};

TEST_F(PathOracleOvsTest, LearnsUndeclaredLeavesThenSteersAPermutation) {
  const Fabric& f = *fabric_;
  OpenFlowDriverOptions options;
  options.listen_address = "127.0.0.1";
  options.listen_port = 0;
  for (NodeId sw : f.switches()) options.datapaths.emplace_back(sw, f.node(sw).datapath_id);
  OpenFlowDriver driver(options);
  DriverProbeTransportOptions transport_options;
  transport_options.marker_dscp = kMarker;
  DriverProbeTransport transport(f, &driver, transport_options);
  Sink sink(&transport);
  ASSERT_TRUE(driver.Start(&sink).ok());

  auto [rc, out] = RunShell(ovs_->BuildCommand(driver.port()));
  ASSERT_EQ(rc, 0) << out;
  for (int i = 0; i < 300 && sink.connected() < f.switches().size(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(sink.connected(), f.switches().size()) << "not every bridge connected";

  // Pulse's tables plus the probe-catching rules.
  PlacementOptions placement_options;
  placement_options.enforcement = Enforcement::kSteer;
  Placement placement(fabric_, placement_options);
  EcmpGroups groups(fabric_);
  ForwardingOptions forwarding_options;
  forwarding_options.probe_marker_dscp = kMarker;
  auto apply = [&](const Placement& p) {
    for (const auto& desired : ComputeForwarding(f, p, groups, forwarding_options)) {
      std::promise<absl::Status> done;
      driver.ApplyForwarding(desired, [&](absl::Status s) { done.set_value(s); });
      absl::Status s = done.get_future().get();
      ASSERT_TRUE(s.ok()) << s;
    }
  };
  apply(placement);

  // 1. Learn the leaves (no model declared) for a permutation job: NIC i -> NIC i+4.
  std::vector<NodeId> leaves;
  for (NodeId sw : f.switches())
    if (f.node(sw).level == 1) leaves.push_back(sw);
  std::vector<std::pair<NodeId, NodeId>> pairs;
  const auto& nics = f.nics();
  for (size_t i = 0; i < nics.size(); ++i) pairs.push_back({nics[i], nics[(i + 4) % nics.size()]});
  PathOracle oracle(groups, &transport);
  HashModels models;
  const auto learn_start = std::chrono::steady_clock::now();
  auto reports = oracle.Run(leaves, {}, pairs, &models);
  const double learn_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - learn_start)
          .count();
  size_t total_probes = 0;
  for (const auto& r : reports) {
    EXPECT_TRUE(r.status.ok()) << r.status;
    EXPECT_EQ(r.lost, 0u) << r.name;
    EXPECT_EQ(r.pairs_complete, r.pairs) << r.name;
    EXPECT_LE(r.max_probes_on_uplink, 64u) << r.name;
    total_probes += r.probes;
    std::printf(
        "oracle learn %s: %zu probes (%zu lost) for %zu pairs, %zu complete, at most %zu on "
        "one uplink\n",
        r.name.c_str(), r.probes, r.lost, r.pairs, r.pairs_complete, r.max_probes_on_uplink);
  }
  std::printf("oracle learn: %zu probes for %zu leaves in %.0f ms\n", total_probes, leaves.size(),
              learn_ms);

  // 2. Place the permutation steered by the learned tables; no per-flow rule results.
  placement.EnableSteering(models);
  JobSpec spec;
  spec.id = "perm";
  spec.pattern = CollectivePattern::kExplicit;
  spec.enforcement = Enforcement::kSteer;
  for (NodeId nic : nics) spec.endpoints.push_back(f.node(nic).name);
  for (const auto& [src, dst] : pairs)
    spec.explicit_flows.push_back({f.node(src).name, f.node(dst).name});
  auto job = placement.PlaceJob(spec);
  ASSERT_TRUE(job.ok()) << job.status();
  const std::vector<PlacedFlow> flows = (*job)->flows;
  ASSERT_EQ(flows.size(), pairs.size());
  std::map<NodeId, std::set<NodeId>> spines_per_leaf;
  for (const PlacedFlow& flow : flows) {
    EXPECT_NE(flow.udp_src_port, 0) << "flow " << f.node(flow.src).name << " was not steered";
    spines_per_leaf[f.Head(flow.path.hops[0])].insert(f.Head(flow.path.hops[1]));
  }
  for (const auto& [leaf, spines] : spines_per_leaf)
    EXPECT_EQ(spines.size(), 4u) << f.node(leaf).name << ": a permutation uses every uplink";
  apply(placement);
  for (NodeId sw : f.switches()) {
    auto [drc, dump] =
        RunShell(absl::StrCat("ovs-ofctl -O OpenFlow13 dump-flows ", BridgeName(sw)));
    ASSERT_EQ(drc, 0) << dump;
    EXPECT_EQ(dump.find("tp_src="), std::string::npos) << BridgeName(sw) << ":\n" << dump;
    EXPECT_EQ(dump.find("nw_src="), std::string::npos) << BridgeName(sw) << ":\n" << dump;
  }

  // 3. Each flow's traffic, counted at the spines, crosses its planned spine.
  std::vector<SwitchId> spines;
  for (NodeId sw : f.switches())
    if (f.node(sw).level == 2) spines.push_back(sw);
  int on_plan = 0;
  for (const PlacedFlow& flow : flows) {
    const NodeId leaf = f.Head(flow.path.hops[0]);
    auto before = sink.Counters(driver, spines);
    ProbePacket packet;
    packet.ipv4_src = f.node(flow.src).ipv4;
    packet.ipv4_dst = f.node(flow.dst).ipv4;
    packet.udp_src = flow.udp_src_port;
    packet.dscp = 26;  // an ordinary traffic class, not the probe marker
    for (int i = 0; i < kPacketsPerFlow; ++i)
      ASSERT_TRUE(
          driver.InjectProbe(leaf, static_cast<PortNo>(f.HeadPort(flow.path.hops[0])), packet)
              .ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    auto after = sink.Counters(driver, spines);
    NodeId crossed = -1;
    for (const auto& [key, rx] : after) {
      if (rx - before[key] < kPacketsPerFlow) continue;
      std::optional<NodeId> spine = key.first;
      auto link = spine ? f.LinkAtPort(*spine, static_cast<int32_t>(key.second)) : std::nullopt;
      if (link && f.Peer(*link, *spine) == leaf) crossed = *spine;
    }
    const NodeId planned = f.Head(flow.path.hops[1]);
    EXPECT_EQ(crossed, planned) << f.node(flow.src).name << " -> " << f.node(flow.dst).name
                                << " udp " << flow.udp_src_port;
    if (crossed == planned) ++on_plan;
  }
  std::printf("steered by learned tables: %d of %zu flows on their planned spine (port counters)\n",
              on_plan, flows.size());
  EXPECT_EQ(on_plan, static_cast<int>(flows.size()));

  // 4. Verification of declared models on the same switches.
  OracleSwitchReport right =
      oracle.Verify(leaves[0], EcmpHashModel(HashAlgorithm::kOvsMultipath, 0));
  EXPECT_TRUE(right.status.ok()) << right.status;
  std::printf("oracle verify %s (ovs-multipath, basis 0): %zu probes, %s\n", right.name.c_str(),
              right.probes,
              right.status.ok() ? "verified" : std::string(right.status.message()).c_str());
  OracleSwitchReport wrong = oracle.Verify(leaves[1], EcmpHashModel(HashAlgorithm::kCrc32, 0));
  EXPECT_EQ(wrong.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(wrong.status.message().find("'" + wrong.name + "'"), std::string::npos) << wrong.status;
  std::printf("oracle verify %s (crc32, declared wrongly): %zu probes: %s\n", wrong.name.c_str(),
              wrong.probes, std::string(wrong.status.message()).c_str());
  driver.Stop();
}

}  // namespace
}  // namespace pulse::controller
