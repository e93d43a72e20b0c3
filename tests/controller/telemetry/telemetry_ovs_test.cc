// Port counters of real Open vSwitch switches reach the right fabric links whatever the switches'
// datapath ids are.
//
// A 2-leaf x 2-spine fabric whose switches carry datapath ids that are neither 1..N nor in node
// order (0x0a1b2c3d, 0x00c0ffee, and two that swap positional ids: spine-1 has 1, leaf-1 has 4) is
// built as userspace-datapath bridges joined by veth pairs (an internal port per NIC). The real
// OpenFlowDriver, given the fabric's node <-> datapath id map, polls PORT_STATS; the counters,
// keyed by the node the driver translated, go into the TelemetryLoop the daemon feeds. Between two
// polls every directed channel leaving a switch carries its own number of 1000-byte frames (sent
// by PACKET_OUT from the bridge's management socket): each must show exactly its own load, and
// each receiving port exactly what its peer sent. Needs root and Open vSwitch (else skipped); run
// it under the machine's network lock (label integration).

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "controller/controller.h"
#include "controller/telemetry/telemetry_loop.h"
#include "gtest/gtest.h"
#include "southbound/openflow/openflow_driver.h"
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
using switches::SwitchId;
using topology::DirectedLinkId;
using topology::NodeId;
using topology::SwitchRole;

constexpr int64_t k10G = 10'000'000'000;
constexpr int kFrameBytes = 1000;
// Traffic Pulse did not send (the host's IPv6 neighbour discovery on the new interfaces) may add
// a few small frames to a port; each channel's own load differs from any other's by 10 frames.
constexpr double kNoiseBytes = 3000;

class TelemetryOvsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    if (!EnsureOvs(&why)) GTEST_SKIP() << why;
    topology::FabricBuilder b;
    // Node order leaf-0, leaf-1, spine-0, spine-1; datapath ids in no relation to it.
    leaves_ = {b.AddSwitch("leaf-0", SwitchRole::kLeaf, -1, -1, 0, 0x0a1b2c3d),
               b.AddSwitch("leaf-1", SwitchRole::kLeaf, -1, -1, 0, 0x4)};
    spines_ = {b.AddSwitch("spine-0", SwitchRole::kSpine, -1, -1, 0, 0x00c0ffee),
               b.AddSwitch("spine-1", SwitchRole::kSpine, -1, -1, 0, 0x1)};
    for (int s = 0; s < 2; ++s) {
      const topology::ServerId server = b.AddServer("server-" + std::to_string(s));
      b.AddLink(b.AddNic(server, 0), leaves_[s], k10G);
    }
    for (NodeId leaf : leaves_) {
      for (NodeId spine : spines_) b.AddLink(leaf, spine, k10G);
    }
    absl::StatusOr<topology::Fabric> built = std::move(b).Build();
    ASSERT_TRUE(built.ok()) << built.status();
    fabric_ = std::make_shared<const topology::Fabric>(*std::move(built));
    ovs_ = std::make_unique<OvsFabric>(*fabric_, "tm");
    ovs_->Remove();
  }
  void TearDown() override {
    if (ovs_) ovs_->Remove();
  }

  std::unique_ptr<OvsFabric> ovs_;
  std::shared_ptr<const topology::Fabric> fabric_;
  std::vector<NodeId> leaves_, spines_;
};

// `frames` copies of one 1000-byte frame (an experimental ethertype nobody forwards) sent out of
// `port` of `sw`'s bridge, in one PACKET_OUT through the bridge's management socket.
std::string SendFrames(const OvsFabric& ovs, NodeId sw, int32_t port, int frames) {
  std::string packet =
      "ffffffffffff"
      "020000000001"
      "88b5";
  while (packet.size() < 2 * kFrameBytes) packet += "00";
  std::string actions;
  for (int i = 0; i < frames; ++i) absl::StrAppend(&actions, i ? "," : "", "output:", port);
  return absl::StrCat("ovs-ofctl -O OpenFlow13 packet-out ", ovs.BridgeName(sw),
                      " 'in_port=controller packet=", packet, " actions=", actions,
                      "' || exit 1; ");
}

TEST_F(TelemetryOvsTest, ArbitraryDatapathIdsStillReachTheirLinks) {
  const topology::Fabric& f = *fabric_;
  OpenFlowDriverOptions options;
  options.listen_address = "127.0.0.1";
  options.listen_port = 0;
  options.datapaths = southbound::openflow::OpenFlowDatapaths(f);  // what the daemon gives it
  OpenFlowDriver driver(options);
  CountersSink sink;
  ASSERT_TRUE(driver.Start(&sink).ok());
  auto [rc, out] = RunShell(ovs_->BuildCommand(driver.port()));
  ASSERT_EQ(rc, 0) << out;
  for (int i = 0; i < 300 && sink.connected() < f.switches().size(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(sink.connected(), f.switches().size()) << "not every bridge connected";

  absl::StatusOr<std::unique_ptr<Controller>> controller = Controller::Create(fabric_);
  ASSERT_TRUE(controller.ok()) << controller.status();
  absl::StatusOr<std::unique_ptr<TelemetryLoop>> loop =
      TelemetryLoop::Create(controller->get(), {});
  ASSERT_TRUE(loop.ok()) << loop.status();

  // Every directed channel leaving a switch gets its own frame count: 10, 20, 30, ...
  std::map<DirectedLinkId, int> frames;
  std::string send;
  int next = 10;
  for (topology::LinkId link = 0; link < static_cast<topology::LinkId>(f.links().size()); ++link) {
    for (NodeId from : {f.link(link).a.node, f.link(link).b.node}) {
      if (!f.node(from).is_switch()) continue;
      const DirectedLinkId d = f.DirectedFrom(link, from);
      frames[d] = next;
      absl::StrAppend(&send, SendFrames(*ovs_, from, f.TailPort(d), next));
      next += 10;
    }
  }

  // Counters at t = 1 s, the frames, counters at t = 2 s: a channel's load is its bytes * 8.
  const std::map<SwitchId, std::vector<PortCounters>> before = sink.Poll(driver, f.switches());
  for (const auto& [sw, counters] : before) (*loop)->Ingest(sw, counters, 1000);
  auto [send_rc, send_out] = RunShell(send);
  ASSERT_EQ(send_rc, 0) << send_out;
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the veths deliver
  const std::map<SwitchId, std::vector<PortCounters>> after = sink.Poll(driver, f.switches());
  for (const auto& [sw, counters] : after) (*loop)->Ingest(sw, counters, 2000);
  (*loop)->Tick(2000);
  const std::vector<double> load_bps = (*loop)->MeasuredLinkLoadBps();
  ASSERT_EQ(load_bps.size(), static_cast<size_t>(f.num_directed_links()));
  EXPECT_EQ((*loop)->stats().samples_rejected, 0u);

  for (const auto& [d, count] : frames) {
    const double expected = count * kFrameBytes;
    EXPECT_NEAR(load_bps[d] / 8, expected, kNoiseBytes)
        << f.DescribeDirected(d) << " (tail datapath id 0x" << std::hex
        << f.node(f.Tail(d)).datapath_id << std::dec << ")";
  }
  // The receiving end of every switch-to-switch channel, as the driver named it (node, port),
  // counted what its peer sent.
  auto rx_bytes = [](const std::map<SwitchId, std::vector<PortCounters>>& poll, NodeId sw,
                     int32_t port) -> double {
    auto it = poll.find(sw);
    if (it == poll.end()) return -1;
    for (const PortCounters& c : it->second) {
      if (c.port == static_cast<PortNo>(port)) return static_cast<double>(c.rx_bytes);
    }
    return -1;
  };
  int switch_channels = 0;
  for (const auto& [d, count] : frames) {
    const NodeId head = f.Head(d);
    if (!f.node(head).is_switch()) continue;
    ++switch_channels;
    const double received =
        rx_bytes(after, head, f.HeadPort(d)) - rx_bytes(before, head, f.HeadPort(d));
    EXPECT_NEAR(received, count * kFrameBytes, kNoiseBytes) << "rx of " << f.DescribeDirected(d);
  }
  EXPECT_EQ(switch_channels, 8);  // 4 leaf-spine links, both ways
  EXPECT_EQ(frames.size(), 10u);  // and each leaf towards its NIC
  driver.Stop();
}

}  // namespace
}  // namespace pulse::controller
