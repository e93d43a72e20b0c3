// OpenFlowDriver against a scripted fake switch on loopback (no OVS needed): base pipeline on
// connect, PORT_STATUS, proxy ARP, LLDP, roles, the apply sequence (read-back, mods, barrier)
// with success and with a switch ERROR, and the lost/stopped cases.

#include "southbound/openflow/openflow_driver.h"

#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include "gtest/gtest.h"
#include "southbound/openflow/arp.h"
#include "southbound/openflow/flow_reconcile.h"
#include "southbound/openflow/lldp.h"
#include "tests/southbound/openflow/fake_switch.h"

namespace pulse::southbound::openflow {
namespace {

namespace of = ::pulse::openflow;
using std::chrono::milliseconds;

class Sink : public FabricEventSink {
 public:
  void OnSwitchConnected(SwitchId dpid, const std::vector<SwitchPort>& ports) override {
    Record([&] { connected.emplace_back(dpid, ports.size()); });
  }
  void OnSwitchLost(SwitchId dpid) override {
    Record([&] { lost.push_back(dpid); });
  }
  void OnPortStatus(SwitchId dpid, PortNo port, bool up) override {
    Record([&] { port_events.emplace_back(dpid, port, up); });
  }
  void OnLinkObserved(SwitchId a, PortNo pa, SwitchId b, PortNo pb) override {
    Record([&] { links.emplace_back(a, pa, b, pb); });
  }
  void OnPortCounters(SwitchId dpid, const std::vector<PortCounters>& c) override {
    Record([&] { counters.emplace_back(dpid, c.size()); });
  }
  template <class Pred>
  bool WaitFor(Pred pred, milliseconds timeout = milliseconds(5000)) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, timeout, pred);
  }
  template <class Fn>
  void Record(Fn fn) {
    std::lock_guard<std::mutex> lock(mu);
    fn();
    cv.notify_all();
  }

  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<Dpid, size_t>> connected;
  std::vector<Dpid> lost;
  std::vector<std::tuple<Dpid, PortNo, bool>> port_events;
  std::vector<std::tuple<Dpid, PortNo, Dpid, PortNo>> links;
  std::vector<std::pair<Dpid, size_t>> counters;
};

constexpr uint32_t kBookIp = 0x0a000002;
constexpr uint64_t kBookMac = 0x020000000002;

class OpenFlowDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OpenFlowDriverOptions options;
    options.listen_address = "127.0.0.1";
    options.listen_port = 0;
    options.address_book = {{kBookIp, kBookMac}};
    // Fabric nodes named like their datapath ids, so events read the same either way.
    options.datapaths = {{7, 7}, {9, 9}, {99, 99}};
    options.request_timeout = milliseconds(2000);
    driver_ = std::make_unique<OpenFlowDriver>(options);
    ASSERT_TRUE(driver_->Start(&sink_).ok());
    ASSERT_TRUE(switch_.Connect(driver_->port()).ok());
    ASSERT_TRUE(switch_.Handshake(7, 3).ok());
    ASSERT_TRUE(sink_.WaitFor([&] { return !sink_.connected.empty(); }));
  }
  void TearDown() override { driver_->Stop(); }

  // Next message of type T, skipping echo requests.
  template <class T>
  T Next(uint32_t* xid = nullptr) {
    auto m = switch_.ReceiveType<T>();
    EXPECT_TRUE(m.ok()) << m.status();
    if (!m.ok()) return T{};
    if (xid) *xid = m->xid;
    return std::get<T>(m->body);
  }

  of::PacketIn PacketIn(uint32_t in_port, std::vector<uint8_t> frame) {
    of::PacketIn in;
    in.match.Add(of::OxmField::kInPort, in_port);
    in.total_len = static_cast<uint16_t>(frame.size());
    in.data = std::move(frame);
    return in;
  }

  Sink sink_;
  std::unique_ptr<OpenFlowDriver> driver_;
  of::testing::FakeSwitch switch_;
};

std::vector<uint8_t> ArpRequestFor(uint32_t target_ip) {
  // A reply built for a "request" from the target reverses into a request-shaped frame; simpler
  // to write the request by hand.
  std::vector<uint8_t> f = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0,    0,  0,
                            0,    0x01, 0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6,  4,
                            0x00, 0x01, 0x02, 0,    0,    0,    0,    0x01, 10, 0,
                            0,    1,    0,    0,    0,    0,    0,    0};
  for (int i = 3; i >= 0; --i) f.push_back(static_cast<uint8_t>(target_ip >> (8 * i)));
  return f;
}

TEST_F(OpenFlowDriverTest, InstallsBasePipelineAndReportsPorts) {
  {
    std::lock_guard<std::mutex> lock(sink_.mu);
    EXPECT_EQ(sink_.connected[0], (std::pair<Dpid, size_t>{7, 3}));
  }
  std::set<std::tuple<int, int, uint64_t>> seen;  // table, priority, eth_type (0: none)
  for (int i = 0; i < 4; ++i) {
    of::FlowMod mod = Next<of::FlowMod>();
    EXPECT_EQ(mod.cookie, kBasePipelineCookie);
    const of::MatchField* type = mod.match.Find(of::OxmField::kEthType);
    seen.insert({mod.table_id, mod.priority, type ? type->value : 0});
    if (type) {  // to the controller, whole frame
      const auto& actions = std::get<of::ApplyActionsInstruction>(mod.instructions.at(0)).actions;
      EXPECT_EQ(std::get<of::OutputAction>(actions.at(0)).port, of::kPortController);
    } else {
      EXPECT_TRUE(mod.instructions.empty()) << "table-miss must drop";
    }
  }
  EXPECT_TRUE(seen.count({0, 65000, 0x88cc}));
  EXPECT_TRUE(seen.count({0, 65000, 0x0806}));
  EXPECT_TRUE(seen.count({0, 0, 0}));
  EXPECT_TRUE(seen.count({1, 0, 0}));
}

TEST_F(OpenFlowDriverTest, PortStatusDownAndUp) {
  of::PortStatus status;
  status.reason = static_cast<uint8_t>(of::PortReason::kModify);
  status.port.port_no = 2;
  status.port.state = of::kPortStateLinkDown;
  ASSERT_TRUE(switch_.Send(of::Message{0, status}).ok());
  status.port.port_no = 3;
  status.port.state = 0;
  status.port.config = of::kPortConfigPortDown;
  ASSERT_TRUE(switch_.Send(of::Message{0, status}).ok());
  status.port.config = 0;
  ASSERT_TRUE(switch_.Send(of::Message{0, status}).ok());
  ASSERT_TRUE(sink_.WaitFor([&] { return sink_.port_events.size() >= 3; }));
  std::lock_guard<std::mutex> lock(sink_.mu);
  EXPECT_EQ(sink_.port_events[0], std::make_tuple(Dpid{7}, PortNo{2}, false));
  EXPECT_EQ(sink_.port_events[1], std::make_tuple(Dpid{7}, PortNo{3}, false));
  EXPECT_EQ(sink_.port_events[2], std::make_tuple(Dpid{7}, PortNo{3}, true));
}

TEST_F(OpenFlowDriverTest, ProxyArpAnswersKnownAddressesOnlyOnTheInPort) {
  ASSERT_TRUE(switch_.Send(of::Message{0, PacketIn(2, ArpRequestFor(0x0a0000ee))}).ok());
  ASSERT_TRUE(switch_.Send(of::Message{0, PacketIn(3, ArpRequestFor(kBookIp))}).ok());
  of::PacketOut out = Next<of::PacketOut>();  // the unknown address got nothing
  ASSERT_EQ(out.actions.size(), 1u);
  EXPECT_EQ(std::get<of::OutputAction>(out.actions[0]).port, 3u);
  auto reply = ParseArpFrame(out.data);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->op, 2);
  EXPECT_EQ(reply->sender_ip, kBookIp);
  EXPECT_EQ(reply->sender_mac, kBookMac);
  EXPECT_EQ(reply->target_mac, 0x020000000001u);
  // The counter moves just after the send returns on the driver's thread.
  for (int i = 0; i < 100 && driver_->stats().arp_replies == 0; ++i)
    std::this_thread::sleep_for(milliseconds(10));
  EXPECT_EQ(driver_->stats().arp_replies, 1u);
}

TEST_F(OpenFlowDriverTest, LldpProbeOutEveryPortAndBackAsLink) {
  driver_->ProbeLinks();
  std::set<uint32_t> ports;
  for (int i = 0; i < 3; ++i) {
    of::PacketOut out = Next<of::PacketOut>();
    auto probe = ParseLldpFrame(out.data);
    ASSERT_TRUE(probe.ok()) << probe.status();
    EXPECT_EQ(probe->dpid, 7u);
    EXPECT_EQ(std::get<of::OutputAction>(out.actions.at(0)).port, probe->port);
    ports.insert(probe->port);
  }
  EXPECT_EQ(ports, (std::set<uint32_t>{1, 2, 3}));
  // A probe of switch 9 port 4 arriving on our port 1.
  ASSERT_TRUE(switch_.Send(of::Message{0, PacketIn(1, BuildLldpFrame(9, 4, 1))}).ok());
  ASSERT_TRUE(sink_.WaitFor([&] { return !sink_.links.empty(); }));
  std::lock_guard<std::mutex> lock(sink_.mu);
  EXPECT_EQ(sink_.links[0], std::make_tuple(Dpid{9}, PortNo{4}, Dpid{7}, PortNo{1}));
}

TEST_F(OpenFlowDriverTest, RoleRequestCarriesGenerationId) {
  driver_->SetRole(true, 42);
  of::RoleRequest role = Next<of::RoleRequest>();
  EXPECT_EQ(role.role, static_cast<uint32_t>(of::ControllerRole::kMaster));
  EXPECT_EQ(role.generation_id, 42u);
  driver_->SetRole(false, 43);
  role = Next<of::RoleRequest>();
  EXPECT_EQ(role.role, static_cast<uint32_t>(of::ControllerRole::kSlave));
  EXPECT_EQ(role.generation_id, 43u);
  // A switch connecting later gets the current role right after its handshake.
  of::testing::FakeSwitch late;
  ASSERT_TRUE(late.Connect(driver_->port()).ok());
  ASSERT_TRUE(late.Handshake(8, 1).ok());
  auto m = late.ReceiveType<of::RoleRequest>();
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(std::get<of::RoleRequest>(m->body).generation_id, 43u);
}

TEST_F(OpenFlowDriverTest, PortStatsReachTheSink) {
  driver_->RequestPortStats(7);
  uint32_t xid = 0;
  of::MultipartRequest request = Next<of::MultipartRequest>(&xid);
  ASSERT_TRUE(std::holds_alternative<of::PortStatsRequest>(request.body));
  of::PortStatsReply stats;
  stats.ports.resize(2);
  stats.ports[0].port_no = 1;
  stats.ports[1].port_no = of::kPortLocal;  // not reported
  ASSERT_TRUE(switch_.Send(of::Message{xid, of::MultipartReply{0, stats}}).ok());
  ASSERT_TRUE(sink_.WaitFor([&] { return !sink_.counters.empty(); }));
  std::lock_guard<std::mutex> lock(sink_.mu);
  EXPECT_EQ(sink_.counters[0], (std::pair<Dpid, size_t>{7, 1}));
}

SwitchForwarding OneRule() {
  SwitchForwarding f;
  f.node = 7;
  ForwardingRule r;
  r.priority = 200;
  r.match.ipv4_dst = kBookIp;
  r.action.output_port = 2;
  f.rules = {r};
  return f;
}

// Plays the switch through one apply: empty read-back, then collects mods until the barrier.
// Sends `error` (if any) before the barrier reply.
int PlayApply(OpenFlowDriverTest* t, of::testing::FakeSwitch& sw, bool send_error) {
  (void)t;
  int mods = 0;
  while (true) {
    auto m = sw.Receive();
    if (!m.ok()) return -1;
    if (auto* mp = std::get_if<of::MultipartRequest>(&m->body)) {
      of::MultipartReply reply;
      if (std::holds_alternative<of::FlowStatsRequest>(mp->body)) {
        EXPECT_EQ(std::get<of::FlowStatsRequest>(mp->body).cookie, kForwardingCookie);
        reply.body = of::FlowStatsReply{};
      } else {
        reply.body = of::GroupDescReply{};
      }
      (void)sw.Send(of::Message{m->xid, reply});
    } else if (auto* mod = std::get_if<of::FlowMod>(&m->body)) {
      if (mod->cookie == kForwardingCookie) ++mods;
    } else if (std::holds_alternative<of::BarrierRequest>(m->body)) {
      if (send_error) (void)sw.Send(of::Message{m->xid - 1, of::Error{4, 1, 0, {}}});
      (void)sw.Send(of::Message{m->xid, of::BarrierReply{}});
      return mods;
    } else if (auto* echo = std::get_if<of::EchoRequest>(&m->body)) {
      (void)sw.Send(of::Message{m->xid, of::EchoReply{echo->data}});
    }
  }
}

TEST_F(OpenFlowDriverTest, ApplyReadsBackSendsModsAndWaitsForTheBarrier) {
  std::promise<absl::Status> done;
  driver_->ApplyForwarding(OneRule(), [&](absl::Status s) { done.set_value(s); });
  EXPECT_EQ(PlayApply(this, switch_, false), 1);
  auto future = done.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_TRUE(future.get().ok());
  EXPECT_EQ(driver_->stats().barriers_confirmed, 1u);

  std::promise<absl::Status> failed;
  driver_->ApplyForwarding(OneRule(), [&](absl::Status s) { failed.set_value(s); });
  EXPECT_EQ(PlayApply(this, switch_, true), 1);
  auto f2 = failed.get_future();
  ASSERT_EQ(f2.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  absl::Status status = f2.get();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_EQ(driver_->stats().switch_errors, 1u);
}

TEST_F(OpenFlowDriverTest, UnknownSwitchLostSwitchAndStoppedDriverFailFast) {
  std::promise<absl::Status> unknown;
  SwitchForwarding other = OneRule();
  other.node = 99;  // served by the driver, never connected
  driver_->ApplyForwarding(other, [&](absl::Status s) { unknown.set_value(s); });
  EXPECT_EQ(unknown.get_future().get().code(), absl::StatusCode::kUnavailable);
  std::promise<absl::Status> not_served;
  other.node = 1234;  // a node this driver has no datapath for
  driver_->ApplyForwarding(other, [&](absl::Status s) { not_served.set_value(s); });
  EXPECT_EQ(not_served.get_future().get().code(), absl::StatusCode::kNotFound);

  switch_.Disconnect();
  ASSERT_TRUE(sink_.WaitFor([&] { return !sink_.lost.empty(); }));
  {
    std::lock_guard<std::mutex> lock(sink_.mu);
    EXPECT_EQ(sink_.lost[0], 7u);
  }
  driver_->Stop();
  absl::Status after_stop;
  driver_->ApplyForwarding(OneRule(), [&](absl::Status s) { after_stop = s; });
  EXPECT_EQ(after_stop.code(), absl::StatusCode::kUnavailable);
}

// The driver names switches by the fabric node its datapath map gives, whatever the datapath id
// looks like; a switch the map does not list is never reported, and its counters never asked for.
TEST(OpenFlowDriverNodesTest, CountersOfAnArbitraryDatapathIdAreItsNodes) {
  OpenFlowDriverOptions options;
  options.listen_address = "127.0.0.1";
  options.listen_port = 0;
  options.datapaths = {{3, 0x00000000a1b2c3d4}, {0, 0x3}};
  OpenFlowDriver driver(options);
  Sink sink;
  ASSERT_TRUE(driver.Start(&sink).ok());
  of::testing::FakeSwitch listed, stranger;
  ASSERT_TRUE(listed.Connect(driver.port()).ok());
  ASSERT_TRUE(listed.Handshake(0x00000000a1b2c3d4, 2).ok());
  ASSERT_TRUE(stranger.Connect(driver.port()).ok());
  ASSERT_TRUE(stranger.Handshake(0x0000feedfacecafe, 2).ok());  // not in the intent
  ASSERT_TRUE(sink.WaitFor([&] { return !sink.connected.empty(); }));

  for (SwitchId node : {0, 3, 0xcafe}) driver.RequestPortStats(node);
  auto request = listed.ReceiveType<of::MultipartRequest>();
  ASSERT_TRUE(request.ok()) << request.status();
  of::PortStatsReply stats;
  stats.ports.resize(2);
  stats.ports[0].port_no = 1;
  stats.ports[1].port_no = 2;
  ASSERT_TRUE(listed.Send(of::Message{request->xid, of::MultipartReply{0, stats}}).ok());
  ASSERT_TRUE(sink.WaitFor([&] { return !sink.counters.empty(); }));
  // The stranger is asked nothing.
  EXPECT_FALSE(stranger.ReceiveType<of::MultipartRequest>(milliseconds(500)).ok());
  {
    std::lock_guard<std::mutex> lock(sink.mu);
    ASSERT_EQ(sink.connected.size(), 1u);
    EXPECT_EQ(sink.connected[0].first, 3u);
    ASSERT_EQ(sink.counters.size(), 1u);
    EXPECT_EQ(sink.counters[0], (std::pair<Dpid, size_t>{3, 2}));
  }
  driver.Stop();
}

}  // namespace
}  // namespace pulse::southbound::openflow
