// The path oracle wired as in the daemon (Controller + FabricSync + OpenFlowDriver +
// OracleRuntime) on real Open vSwitch switches.
//
// A 4-leaf x 4-spine fabric (4 NICs per leaf) as eight userspace-datapath bridges joined by veth
// pairs. The intent declares no hash model except for one leaf, wrongly declared crc32 (Open
// vSwitch hashes with its multipath action). With the oracle on:
//  - every other switch's table is learned (probes injected by packet-out, caught by the rules
//    FabricSync installs with the forwarding), without any call from the test;
//  - a permutation job placed with enforcement `steer` ends up steered by the learned tables: the
//    flows from the learned leaves get UDP source ports, and those leaves hold no per-flow rule;
//  - the crc32 leaf fails verification: SWITCH_NOT_STEERABLE names it, pulse_oracle_switches
//    {state="failed"} is 1, and its flows are pinned (port 0, per-flow rules on it).
// Needs root and Open vSwitch (else skipped); run under the machine's network lock (integration).

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "controller/controller.h"
#include "controller/fabric_sync/fabric_sync.h"
#include "controller/paths/ecmp_hash.h"
#include "controller/telemetry/metrics.h"
#include "daemon/oracle_runtime.h"
#include "gtest/gtest.h"
#include "southbound/openflow/openflow_driver.h"
#include "tests/controller/path_test_fabrics.h"
#include "tests/southbound/openflow/ovs_fabric.h"
#include "tests/southbound/openflow/ovs_shell.h"

namespace pulse::daemon {
namespace {

using controller::Controller;
using controller::FabricSync;
using ::pulse::testing::EnsureOvs;
using ::pulse::testing::OvsFabric;
using ::pulse::testing::RunShell;
using topology::Fabric;
using topology::NodeId;

class OracleRuntimeOvsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    if (!EnsureOvs(&why)) GTEST_SKIP() << why;
    fabric_ = std::make_shared<const Fabric>(controller::testing::BuildLeafSpine(4, 4, 4).value());
    ovs_ = std::make_unique<OvsFabric>(*fabric_, "or");
    ovs_->Remove();
  }
  void TearDown() override {
    if (ovs_) ovs_->Remove();
  }
  std::string BridgeName(NodeId sw) const { return ovs_->BridgeName(sw); }
  std::unique_ptr<OvsFabric> ovs_;
  std::shared_ptr<const Fabric> fabric_;
};

TEST_F(OracleRuntimeOvsTest, LearnsUndeclaredSwitchesAndPinsAWronglyDeclaredOne) {
  const Fabric& f = *fabric_;
  std::vector<NodeId> leaves;
  for (NodeId sw : f.switches())
    if (f.node(sw).level == 1) leaves.push_back(sw);
  ASSERT_EQ(leaves.size(), 4u);
  const NodeId wrong_leaf = leaves[1];
  const std::string wrong_name = f.node(wrong_leaf).name;

  // The intent: one leaf declared crc32 (wrongly), nothing else declared.
  topology::EcmpHashIntent intent;
  intent.by_switch[wrong_name] = topology::EcmpHashSpec{"crc32", 0, {}, "test: ecmp_hash"};
  auto intent_models = controller::HashModelsFromIntent(f, intent);
  ASSERT_TRUE(intent_models.ok()) << intent_models.status();

  controller::ControllerOptions controller_options;
  controller_options.hash_models = *intent_models;
  controller_options.placement.enforcement = controller::Enforcement::kSteer;
  controller_options.predict_bandwidth = false;
  auto created = Controller::Create(fabric_, controller_options);
  ASSERT_TRUE(created.ok()) << created.status();
  std::unique_ptr<Controller> ctl = *std::move(created);

  southbound::openflow::OpenFlowDriverOptions driver_options;
  driver_options.listen_address = "127.0.0.1";
  driver_options.listen_port = 0;
  for (NodeId sw : f.switches()) driver_options.datapaths.emplace_back(sw, f.node(sw).datapath_id);
  southbound::openflow::OpenFlowDriver driver(driver_options);

  controller::FabricSyncOptions sync_options;
  sync_options.probe_interval = std::chrono::milliseconds(0);
  sync_options.stats_interval = std::chrono::milliseconds(0);
  sync_options.forwarding.probe_marker_dscp = 63;
  FabricSync sync(ctl.get(), &driver, sync_options);

  controller::MetricsRegistry metrics;
  OracleRuntimeOptions oracle_options;
  oracle_options.config.enabled = true;
  oracle_options.forwarding_barrier = [&sync] { sync.Sync().wait(); };
  auto started = OracleRuntime::Start(ctl.get(), fabric_, &driver, intent, *intent_models,
                                      oracle_options, &metrics);
  ASSERT_TRUE(started.ok()) << started.status();
  std::unique_ptr<OracleRuntime> oracle = *std::move(started);
  sync.SetProbeHandler(
      [&oracle](switches::SwitchId sw, southbound::PortNo port, const southbound::ProbePacket& p) {
        oracle->OnProbeSeen(sw, port, p);
      });
  ASSERT_TRUE(sync.Start().ok());

  auto [rc, out] = RunShell(ovs_->BuildCommand(driver.port()));
  ASSERT_EQ(rc, 0) << out;
  auto all_connected = [&] {
    auto snap = ctl->snapshot();
    for (NodeId sw : f.switches())
      if (!snap->switch_connected[sw]) return false;
    return true;
  };
  for (int i = 0; i < 300 && !all_connected(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(all_connected()) << "not every bridge connected";
  for (int i = 0; i < 300 && oracle->probings() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_GE(oracle->probings(), 1u) << "the oracle never probed";

  // A permutation job, steered: NIC i -> NIC i+4 (each leaf's NICs to the next leaf).
  const auto& nics = f.nics();
  controller::JobSpec spec;
  spec.id = "perm";
  spec.pattern = controller::CollectivePattern::kExplicit;
  spec.enforcement = controller::Enforcement::kSteer;
  for (NodeId nic : nics) spec.endpoints.push_back(f.node(nic).name);
  for (size_t i = 0; i < nics.size(); ++i)
    spec.explicit_flows.push_back({f.node(nics[i]).name, f.node(nics[(i + 4) % nics.size()]).name});
  const auto place_start = std::chrono::steady_clock::now();
  auto placed = ctl->PlaceJob(spec).get();
  ASSERT_TRUE(placed.ok()) << placed.status();

  // The oracle learns the new pairs and hands the tables over: the learned leaves' flows get
  // ports; the failed leaf's stay pinned.
  auto leaf_of = [&](NodeId nic) { return f.Peer(f.LinksOf(nic)[0], nic); };
  auto steered_as_expected = [&] {
    const controller::SnapshotPtr snapshot = ctl->snapshot();  // keeps `job` alive
    const controller::JobPlacement* job = snapshot->placement.FindJob("perm");
    if (job == nullptr) return false;
    for (const controller::PlacedFlow& flow : job->flows) {
      const bool from_wrong = leaf_of(flow.src) == wrong_leaf;
      if (from_wrong != (flow.udp_src_port == 0)) return false;
    }
    return true;
  };
  for (int i = 0; i < 600 && !steered_as_expected(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const double steer_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - place_start)
          .count();
  const controller::SnapshotPtr snapshot = ctl->snapshot();  // keeps `job` alive
  const controller::JobPlacement* job = snapshot->placement.FindJob("perm");
  ASSERT_NE(job, nullptr);
  int steered = 0, pinned = 0;
  for (const controller::PlacedFlow& flow : job->flows) {
    const bool from_wrong = leaf_of(flow.src) == wrong_leaf;
    if (from_wrong) {
      EXPECT_EQ(flow.udp_src_port, 0) << f.node(flow.src).name << " crosses the failed leaf";
    } else {
      EXPECT_NE(flow.udp_src_port, 0) << f.node(flow.src).name << " was not steered";
    }
    (flow.udp_src_port == 0 ? pinned : steered)++;
  }
  EXPECT_EQ(steered, 12);
  EXPECT_EQ(pinned, 4);
  std::printf(
      "oracle runtime: %d flows steered by learned tables, %d pinned, %.0f ms from "
      "PlaceJob to steered\n",
      steered, pinned, steer_ms);

  // Forwarding follows: the learned leaves that only source steered flows hold no per-flow rule
  // (leaves[0] sends to the failed leaf, leaves[3] receives from leaves[2]); the failed leaf pins.
  sync.Sync().wait();
  for (NodeId sw : {leaves[0], leaves[3]}) {
    auto [drc, dump] =
        RunShell(absl::StrCat("ovs-ofctl -O OpenFlow13 dump-flows ", BridgeName(sw)));
    ASSERT_EQ(drc, 0) << dump;
    EXPECT_EQ(dump.find("nw_src="), std::string::npos) << BridgeName(sw) << ":\n" << dump;
  }
  {
    auto [drc, dump] =
        RunShell(absl::StrCat("ovs-ofctl -O OpenFlow13 dump-flows ", BridgeName(wrong_leaf)));
    ASSERT_EQ(drc, 0) << dump;
    EXPECT_NE(dump.find("nw_src="), std::string::npos) << "the failed leaf's flows are pinned:\n"
                                                       << dump;
  }

  // The event and the metrics.
  auto events = ctl->events().ReadFrom(1, 100000);
  ASSERT_TRUE(events.ok()) << events.status();
  int not_steerable = 0;
  for (const controller::Event& e : *events) {
    if (e.type != controller::EventType::kSwitchNotSteerable) continue;
    ++not_steerable;
    EXPECT_EQ(e.subject, wrong_name) << e.detail;
    std::printf("event switch-not-steerable %s: %s\n", e.subject.c_str(), e.detail.c_str());
  }
  EXPECT_EQ(not_steerable, 1);
  double failed = -1, learned = -1, idle = -1, verified = -1, probes = -1;
  ASSERT_TRUE(metrics.GetValue(kOracleSwitches, {"failed"}, &failed).ok());
  ASSERT_TRUE(metrics.GetValue(kOracleSwitches, {"learned"}, &learned).ok());
  ASSERT_TRUE(metrics.GetValue(kOracleSwitches, {"idle"}, &idle).ok());
  ASSERT_TRUE(metrics.GetValue(kOracleSwitches, {"verified"}, &verified).ok());
  ASSERT_TRUE(metrics.GetValue(kOracleProbesTotal, {}, &probes).ok());
  EXPECT_EQ(failed, 1);
  EXPECT_EQ(learned, 3);  // the 3 other leaves
  EXPECT_EQ(idle, 4);     // the 4 spines: nothing to choose there, no probes
  EXPECT_EQ(verified, 0);
  EXPECT_GT(probes, 0);
  const controller::OracleCounters counters = oracle->counters();
  std::printf(
      "oracle runtime: %llu probings, %.0f probes (%llu lost), switches learned %.0f, "
      "verified %.0f, failed %.0f\n",
      static_cast<unsigned long long>(oracle->probings()), probes,
      static_cast<unsigned long long>(counters.probes_lost), learned, verified, failed);

  oracle->Stop();
  sync.Stop();
}

}  // namespace
}  // namespace pulse::daemon
