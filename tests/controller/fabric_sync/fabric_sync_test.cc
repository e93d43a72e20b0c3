#include "controller/fabric_sync/fabric_sync.h"

#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "gtest/gtest.h"
#include "topology/builders.h"
#include "topology/diff.h"

namespace pulse::controller {
namespace {

using southbound::Dpid;

// A driver that records what it is asked and confirms at once (unit test of FabricSync alone;
// the OpenFlow driver and real switches are proven by the integration suite).
class RecordingDriver : public southbound::SwitchDriver {
 public:
  absl::Status Start(southbound::FabricEventSink* sink) override {
    sink_ = sink;
    return absl::OkStatus();
  }
  void Stop() override {}
  void ApplyForwarding(const southbound::SwitchForwarding& desired,
                       southbound::DoneCallback done) override {
    {
      std::lock_guard<std::mutex> lock(mu);
      applied[desired.dpid].push_back(desired);
    }
    done(absl::OkStatus());  // synchronously: FabricSync must not hold its lock here
  }
  void RequestPortStats(Dpid dpid) override {
    std::lock_guard<std::mutex> lock(mu);
    ++stats_requests[dpid];
  }
  void ProbeLinks() override {
    std::lock_guard<std::mutex> lock(mu);
    ++probes;
  }
  size_t Applies(Dpid dpid) {
    std::lock_guard<std::mutex> lock(mu);
    return applied[dpid].size();
  }
  southbound::SwitchForwarding Last(Dpid dpid) {
    std::lock_guard<std::mutex> lock(mu);
    return applied[dpid].back();
  }

  std::mutex mu;
  std::map<Dpid, std::vector<southbound::SwitchForwarding>> applied;
  std::map<Dpid, int> stats_requests;
  int probes = 0;
  southbound::FabricEventSink* sink_ = nullptr;
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

  Dpid DpidOf(const std::string& name) {
    return fabric_->node(*fabric_->FindNode(name)).datapath_id;
  }
  std::vector<southbound::SwitchPort> PortsOf(const std::string& name) {
    std::vector<southbound::SwitchPort> ports;
    for (const auto& p : fabric_->node(*fabric_->FindNode(name)).ports) {
      ports.push_back({static_cast<southbound::PortNo>(p.number), "", 0, true, 100000000});
    }
    return ports;
  }
  void ConnectAll() {
    for (NodeId sw : fabric_->switches()) {
      sync_->OnSwitchConnected(fabric_->node(sw).datapath_id, PortsOf(fabric_->node(sw).name));
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
    Dpid dpid = fabric_->node(sw).datapath_id;
    ASSERT_GE(driver_.Applies(dpid), 1u) << fabric_->node(sw).name;
    // One destination rule per NIC on every switch of this non-blocking fabric.
    EXPECT_EQ(driver_.Last(dpid).rules.size(), fabric_->nics().size());
  }
  // Reconnect of one switch without a loss in between still gets its tables again.
  size_t before = driver_.Applies(DpidOf("leaf-1"));
  sync_->OnSwitchConnected(DpidOf("leaf-1"), PortsOf("leaf-1"));
  Settle();
  EXPECT_EQ(driver_.Applies(DpidOf("leaf-1")), before + 1);
}

TEST_F(FabricSyncTest, ProbeSightingsGoToTheProbeHandler) {
  std::vector<std::pair<Dpid, southbound::PortNo>> seen;
  sync_->SetProbeHandler([&](Dpid dpid, southbound::PortNo port, const southbound::ProbePacket& p) {
    EXPECT_EQ(p.udp_src, 50000);
    seen.push_back({dpid, port});
  });
  southbound::ProbePacket probe;
  probe.udp_src = 50000;
  sync_->OnProbeSeen(DpidOf("spine-1"), 2, probe);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], std::make_pair(DpidOf("spine-1"), southbound::PortNo{2}));
}

TEST_F(FabricSyncTest, PortDownReprogramsOnlyAffectedSwitchesAndTimesTheRepair) {
  ConnectAll();
  Settle();
  std::map<Dpid, size_t> before;
  for (NodeId sw : fabric_->switches()) {
    before[fabric_->node(sw).datapath_id] = driver_.Applies(fabric_->node(sw).datapath_id);
  }
  // leaf-0's port towards spine-0.
  NodeId leaf0 = *fabric_->FindNode("leaf-0");
  NodeId spine0 = *fabric_->FindNode("spine-0");
  int32_t port = 0;
  for (auto l : fabric_->LinksOf(leaf0)) {
    if (fabric_->Peer(l, leaf0) == spine0)
      port = fabric_->TailPort(fabric_->DirectedFrom(l, leaf0));
  }
  ASSERT_GT(port, 0);
  sync_->OnPortStatus(DpidOf("leaf-0"), port, false);
  Settle();
  EXPECT_FALSE(controller_->snapshot()->LinkUsable(*fabric_->LinkAtPort(leaf0, port)));
  // leaf-0 (loses an uplink) and spine-0 (cannot reach leaf-0's NICs) and the other leaves
  // (must not send leaf-0's traffic via spine-0) change; spine-1 does not.
  EXPECT_GT(driver_.Applies(DpidOf("leaf-0")), before[DpidOf("leaf-0")]);
  EXPECT_GT(driver_.Applies(DpidOf("leaf-1")), before[DpidOf("leaf-1")]);
  EXPECT_EQ(driver_.Applies(DpidOf("spine-1")), before[DpidOf("spine-1")]);
  EXPECT_GE(sync_->last_repair_ms(), 0.0);
  for (const auto& g : driver_.Last(DpidOf("leaf-0")).groups) {
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
      sync_->OnLinkObserved(l.dpid_a, l.port_a, l.dpid_b, l.port_b);
    }
    sync_->OnLinkObserved(wrong.dpid_a, wrong.port_a, wrong.dpid_b, wrong.port_b);
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
  sync_->OnSwitchConnected(0xdeadbeef, {});
  sync_->OnPortStatus(0xdeadbeef, 1, false);
  sync_->OnPortStatus(DpidOf("leaf-0"), 999, false);
  Settle();
  EXPECT_EQ(driver_.Applies(0xdeadbeef), 0u);
  for (topology::LinkId l = 0; l < static_cast<topology::LinkId>(fabric_->links().size()); ++l) {
    EXPECT_TRUE(controller_->snapshot()->LinkUsable(l));
  }
}

}  // namespace
}  // namespace pulse::controller
