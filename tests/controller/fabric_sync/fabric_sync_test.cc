#include "controller/fabric_sync/fabric_sync.h"

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "topology/builders.h"
#include "topology/diff.h"

namespace pulse::controller {
namespace {

using switches::SwitchId;

// A driver that records what it is asked and confirms at once (unit test of FabricSync alone;
// the OpenFlow driver and real switches are proven by the integration suite).
class RecordingDriver : public southbound::SwitchDriver {
 public:
  explicit RecordingDriver(bool programs_forwarding = true)
      : programs_forwarding_(programs_forwarding) {}
  bool ProgramsForwarding() const override { return programs_forwarding_; }
  absl::Status Start(southbound::FabricEventSink* sink) override {
    sink_ = sink;
    return absl::OkStatus();
  }
  void Stop() override {}
  void ApplyForwarding(const southbound::SwitchForwarding& desired,
                       southbound::DoneCallback done) override {
    {
      std::lock_guard<std::mutex> lock(mu);
      applied[desired.node].push_back(desired);
    }
    done(absl::OkStatus());  // synchronously: FabricSync must not hold its lock here
  }
  void RequestPortStats(SwitchId sw) override {
    std::lock_guard<std::mutex> lock(mu);
    ++stats_requests[sw];
  }
  void ProbeLinks() override {
    std::lock_guard<std::mutex> lock(mu);
    ++probes;
  }
  size_t Applies(SwitchId sw) {
    std::lock_guard<std::mutex> lock(mu);
    return applied[sw].size();
  }
  southbound::SwitchForwarding Last(SwitchId sw) {
    std::lock_guard<std::mutex> lock(mu);
    return applied[sw].back();
  }
  int StatsRequests(SwitchId sw) {
    std::lock_guard<std::mutex> lock(mu);
    return stats_requests[sw];
  }

  std::mutex mu;
  std::map<SwitchId, std::vector<southbound::SwitchForwarding>> applied;
  std::map<SwitchId, int> stats_requests;
  int probes = 0;
  southbound::FabricEventSink* sink_ = nullptr;

 private:
  const bool programs_forwarding_;
};

class FabricSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    topology::LeafSpineParams p;
    p.leaves = 4;
    p.spines = 2;
    p.servers_per_leaf = 2;
    fabric_ = std::make_shared<const Fabric>(*topology::LeafSpine(p));
    controller_ = *Controller::Create(fabric_);
    FabricSyncOptions options;
    options.probe_interval = std::chrono::milliseconds(50);
    options.stats_interval = std::chrono::milliseconds(50);
    sync_ = std::make_unique<FabricSync>(controller_.get(), &driver_, options);
    ASSERT_TRUE(sync_->Start().ok());
    controller_->Sync().wait();
  }
  void TearDown() override {
    sync_->Stop();
    sync_.reset();
    controller_.reset();
  }

  SwitchId NodeOf(const std::string& name) { return *fabric_->FindNode(name); }
  SwitchId NodeOfDpid(uint64_t dpid) { return *fabric_->FindByDatapathId(dpid); }
  std::vector<southbound::SwitchPort> PortsOf(const std::string& name) {
    std::vector<southbound::SwitchPort> ports;
    for (const auto& p : fabric_->node(*fabric_->FindNode(name)).ports) {
      ports.push_back({static_cast<southbound::PortNo>(p.number), "", 0, true, 100000000});
    }
    return ports;
  }
  void ConnectAll() {
    for (NodeId sw : fabric_->switches()) {
      sync_->OnSwitchConnected(sw, PortsOf(fabric_->node(sw).name));
    }
    controller_->Sync().wait();
  }
  // Settles: everything the controller posted, and the pushes it triggered, have run.
  void Settle() {
    for (int i = 0; i < 3; ++i) {
      controller_->Sync().wait();
      sync_->Sync().wait();
    }
  }

  std::shared_ptr<const Fabric> fabric_;
  std::unique_ptr<Controller> controller_;
  RecordingDriver driver_;
  std::unique_ptr<FabricSync> sync_;
};

TEST_F(FabricSyncTest, ConnectedSwitchGetsItsFullTables) {
  ConnectAll();
  Settle();
  for (NodeId sw : fabric_->switches()) {
    ASSERT_GE(driver_.Applies(sw), 1u) << fabric_->node(sw).name;
    // One destination rule per NIC on every switch of this non-blocking fabric.
    EXPECT_EQ(driver_.Last(sw).rules.size(), fabric_->nics().size());
  }
  // Reconnect of one switch without a loss in between still gets its tables again.
  size_t before = driver_.Applies(NodeOf("leaf-1"));
  sync_->OnSwitchConnected(NodeOf("leaf-1"), PortsOf("leaf-1"));
  Settle();
  EXPECT_EQ(driver_.Applies(NodeOf("leaf-1")), before + 1);
}

TEST_F(FabricSyncTest, ProbeSightingsGoToTheProbeHandler) {
  std::vector<std::pair<SwitchId, southbound::PortNo>> seen;
  sync_->SetProbeHandler(
      [&](SwitchId sw, southbound::PortNo port, const southbound::ProbePacket& p) {
        EXPECT_EQ(p.udp_src, 50000);
        seen.push_back({sw, port});
      });
  southbound::ProbePacket probe;
  probe.udp_src = 50000;
  sync_->OnProbeSeen(NodeOf("spine-1"), 2, probe);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], std::make_pair(NodeOf("spine-1"), southbound::PortNo{2}));
}

TEST_F(FabricSyncTest, PortDownReprogramsOnlyAffectedSwitchesAndTimesTheRepair) {
  ConnectAll();
  Settle();
  std::map<SwitchId, size_t> before;
  for (NodeId sw : fabric_->switches()) before[sw] = driver_.Applies(sw);
  // leaf-0's port towards spine-0.
  NodeId leaf0 = *fabric_->FindNode("leaf-0");
  NodeId spine0 = *fabric_->FindNode("spine-0");
  int32_t port = 0;
  for (auto l : fabric_->LinksOf(leaf0)) {
    if (fabric_->Peer(l, leaf0) == spine0)
      port = fabric_->TailPort(fabric_->DirectedFrom(l, leaf0));
  }
  ASSERT_GT(port, 0);
  sync_->OnPortStatus(NodeOf("leaf-0"), port, false);
  Settle();
  EXPECT_FALSE(controller_->snapshot()->LinkUsable(*fabric_->LinkAtPort(leaf0, port)));
  // leaf-0 (loses an uplink) and spine-0 (cannot reach leaf-0's NICs) and the other leaves
  // (must not send leaf-0's traffic via spine-0) change; spine-1 does not.
  EXPECT_GT(driver_.Applies(NodeOf("leaf-0")), before[NodeOf("leaf-0")]);
  EXPECT_GT(driver_.Applies(NodeOf("leaf-1")), before[NodeOf("leaf-1")]);
  EXPECT_EQ(driver_.Applies(NodeOf("spine-1")), before[NodeOf("spine-1")]);
  EXPECT_GE(sync_->last_repair_ms(), 0.0);
  for (const auto& g : driver_.Last(NodeOf("leaf-0")).groups) {
    for (const auto& b : g.buckets) EXPECT_NE(b.output_port, static_cast<uint32_t>(port));
  }
}

TEST_F(FabricSyncTest, DiscoveryReportsMiswiring) {
  ConnectAll();
  // Report every intent link except that leaf-0's first uplink arrives on the wrong spine port.
  auto expected = topology::ExpectedSwitchLinks(*fabric_);
  ASSERT_FALSE(expected.empty());
  auto wrong = expected[0];
  wrong.port_b += 100;  // the right spine, but a port the intent does not have there
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  DiscoveryReport report;
  while (std::chrono::steady_clock::now() < deadline) {
    for (size_t i = 1; i < expected.size(); ++i) {
      const auto& l = expected[i];
      sync_->OnLinkObserved(NodeOfDpid(l.dpid_a), l.port_a, NodeOfDpid(l.dpid_b), l.port_b);
    }
    sync_->OnLinkObserved(NodeOfDpid(wrong.dpid_a), wrong.port_a, NodeOfDpid(wrong.dpid_b),
                          wrong.port_b);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    report = sync_->Discovery();
    if (report.probe_rounds >= 3) break;
  }
  ASSERT_GE(report.probe_rounds, 3);
  EXPECT_FALSE(report.diff.empty());
  EXPECT_EQ(report.diff.miswired.size(), 1u) << report.description;
  EXPECT_TRUE(report.diff.missing.empty()) << report.description;
  EXPECT_GT(driver_.probes, 0);
}

TEST_F(FabricSyncTest, UnknownSwitchAndPortsAreIgnored) {
  // A node id out of range, and a NIC: neither is a switch a driver may report.
  const SwitchId nic = fabric_->nics()[0];
  for (SwitchId bad : {SwitchId{100000}, SwitchId{-1}, nic}) {
    sync_->OnSwitchConnected(bad, {});
    sync_->OnPortStatus(bad, 1, false);
  }
  sync_->OnPortStatus(NodeOf("leaf-0"), 999, false);
  Settle();
  EXPECT_EQ(driver_.Applies(100000), 0u);
  EXPECT_EQ(driver_.Applies(nic), 0u);
  for (topology::LinkId l = 0; l < static_cast<topology::LinkId>(fabric_->links().size()); ++l) {
    EXPECT_TRUE(controller_->snapshot()->LinkUsable(l));
  }
}

// A mixed fabric through one FabricSync: each switch goes to the driver its intent names. spine-1
// is SONiC (routes by its own control plane: never handed tables, but its connection and stats
// polls go to its driver); the others are OpenFlow.
TEST(FabricSyncMixedTest, RoutesEachSwitchToItsIntentsDriver) {
  topology::FabricBuilder b;
  const NodeId leaf0 = b.AddSwitch("leaf-0", topology::SwitchRole::kLeaf);
  const NodeId leaf1 = b.AddSwitch("leaf-1", topology::SwitchRole::kLeaf);
  const NodeId spine0 = b.AddSwitch("spine-0", topology::SwitchRole::kSpine);
  const NodeId spine1 = b.AddSwitch("spine-1", topology::SwitchRole::kSpine);
  b.SetSwitchDriver(spine1, "sonic");
  for (int s = 0; s < 2; ++s) {
    topology::ServerId server = b.AddServer("server-" + std::to_string(s));
    b.AddLink(b.AddNic(server, 0), s == 0 ? leaf0 : leaf1, 100 * topology::kGbps);
  }
  for (NodeId leaf : {leaf0, leaf1}) {
    for (NodeId spine : {spine0, spine1}) b.AddLink(leaf, spine, 100 * topology::kGbps);
  }
  absl::StatusOr<Fabric> built = std::move(b).Build();
  ASSERT_TRUE(built.ok()) << built.status();
  auto fabric = std::make_shared<const Fabric>(*std::move(built));

  RecordingDriver openflow;
  RecordingDriver sonic(/*programs_forwarding=*/false);
  switches::SwitchDriverTable drivers;
  drivers.Add("openflow", &openflow);
  // A driver the intent names but the daemon does not run is an error unless allowed.
  EXPECT_FALSE(drivers.Route(*fabric, /*allow_missing=*/false).ok());
  drivers.Add("sonic", &sonic);
  ASSERT_TRUE(drivers.Route(*fabric, /*allow_missing=*/false).ok());
  EXPECT_EQ(drivers.For(spine1), &sonic);
  EXPECT_EQ(drivers.For(leaf0), &openflow);

  auto controller = *Controller::Create(fabric);
  FabricSyncOptions options;
  options.probe_interval = std::chrono::milliseconds(0);
  options.stats_interval = std::chrono::milliseconds(20);
  FabricSync sync(controller.get(), std::move(drivers), options);
  ASSERT_TRUE(sync.Start().ok());
  ASSERT_NE(openflow.sink_, nullptr);  // both drivers started with FabricSync as their sink
  ASSERT_NE(sonic.sink_, nullptr);
  for (NodeId sw : fabric->switches()) {
    std::vector<southbound::SwitchPort> ports;
    for (const auto& p : fabric->node(sw).ports) {
      ports.push_back({static_cast<southbound::PortNo>(p.number), "", 0, true, 100000000});
    }
    (sw == spine1 ? sonic.sink_ : openflow.sink_)->OnSwitchConnected(sw, ports);
  }
  for (int i = 0; i < 3; ++i) {
    controller->Sync().wait();
    sync.Sync().wait();
  }
  for (NodeId sw : {leaf0, leaf1, spine0}) EXPECT_GE(openflow.Applies(sw), 1u);
  EXPECT_EQ(openflow.Applies(spine1), 0u);
  EXPECT_EQ(sonic.Applies(spine1), 0u);  // SONiC routes by itself: no tables handed over
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while ((sonic.StatsRequests(spine1) == 0 || openflow.StatsRequests(leaf0) == 0) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GT(sonic.StatsRequests(spine1), 0);
  EXPECT_GT(openflow.StatsRequests(leaf0), 0);
  EXPECT_EQ(openflow.StatsRequests(spine1), 0);
  EXPECT_EQ(sonic.StatsRequests(leaf0), 0);
  sync.Stop();
}

}  // namespace
}  // namespace pulse::controller
