// Integration test of OpenFlowDriver against real Open vSwitch (userspace datapath): two
// bridges A (dpid 0xa1) and B (dpid 0xb2) joined by two veth links (port 10 and 11 on each), a
// host namespace behind each (port 1). The driver, with a recording FabricEventSink, must
// complete the handshake, install the forwarding (checked with ovs-ofctl), change nothing when
// applied twice, carry ping through proxy ARP, discover both links with LLDP, report a port
// going down, and spread 64 UDP flows over both links of a select group.
// Needs root and Open vSwitch (started with ovs-ctl if not running, else skipped).

#include <sys/wait.h>

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "southbound/openflow/openflow_driver.h"
#include "tests/southbound/openflow/ovs_shell.h"

namespace pulse::southbound::openflow {
namespace {

using ::pulse::testing::EnsureOvs;
using ::pulse::testing::RunShell;

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr uint64_t kDpidA = 0xa1, kDpidB = 0xb2;
constexpr uint32_t kIpH1 = 0x0a000001, kIpH2 = 0x0a000002;  // 10.0.0.1, 10.0.0.2
constexpr uint64_t kMacH1 = 0x020000000001, kMacH2 = 0x020000000002;

// Records every event with its arrival time.
class RecordingSink : public FabricEventSink {
 public:
  struct PortEvent {
    Dpid dpid;
    PortNo port;
    bool up;
    Clock::time_point at;
  };
  void OnSwitchConnected(SwitchId dpid, const std::vector<SwitchPort>& ports) override {
    std::lock_guard<std::mutex> lock(mu_);
    connected_.emplace_back(dpid, ports);
    cv_.notify_all();
  }
  void OnSwitchLost(SwitchId dpid) override {
    std::lock_guard<std::mutex> lock(mu_);
    lost_.push_back(dpid);
    cv_.notify_all();
  }
  void OnPortStatus(SwitchId dpid, PortNo port, bool up) override {
    std::lock_guard<std::mutex> lock(mu_);
    port_events_.push_back({static_cast<Dpid>(dpid), port, up, Clock::now()});
    cv_.notify_all();
  }
  void OnLinkObserved(SwitchId a, PortNo pa, SwitchId b, PortNo pb) override {
    std::lock_guard<std::mutex> lock(mu_);
    links_.insert({a, pa, b, pb});
    cv_.notify_all();
  }
  void OnPortCounters(SwitchId dpid, const std::vector<PortCounters>& counters) override {
    std::lock_guard<std::mutex> lock(mu_);
    counters_.emplace_back(dpid, counters);
    cv_.notify_all();
  }

  template <class Pred>
  bool WaitFor(Pred pred, milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return pred(*this); });
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<Dpid, std::vector<SwitchPort>>> connected_;
  std::vector<Dpid> lost_;
  std::vector<PortEvent> port_events_;
  std::set<std::tuple<Dpid, PortNo, Dpid, PortNo>> links_;
  std::vector<std::pair<Dpid, std::vector<PortCounters>>> counters_;
};

absl::Status Apply(OpenFlowDriver& driver, const SwitchForwarding& desired) {
  std::promise<absl::Status> promise;
  auto future = promise.get_future();
  driver.ApplyForwarding(desired, [&promise](absl::Status s) { promise.set_value(s); });
  if (future.wait_for(std::chrono::seconds(20)) != std::future_status::ready)
    return absl::DeadlineExceededError("ApplyForwarding never completed");
  return future.get();
}

ForwardingRule ToHost(uint32_t ip, PortNo port) {
  ForwardingRule rule;
  rule.priority = 200;
  rule.match.eth_type = 0x0800;
  rule.match.ipv4_dst = ip;
  rule.action.output_port = port;
  return rule;
}

ForwardingRule ToGroup(uint32_t ip, uint32_t group) {
  ForwardingRule rule;
  rule.priority = 200;
  rule.match.eth_type = 0x0800;
  rule.match.ipv4_dst = ip;
  rule.action.group_id = group;
  return rule;
}

// Each bridge: its host on port 1, select group 7 over the two inter-bridge links.
SwitchForwarding Forwarding(Dpid dpid, uint32_t local_ip, uint32_t remote_ip) {
  SwitchForwarding f;
  f.node = static_cast<SwitchId>(dpid);
  f.groups.push_back(ForwardingGroup{7, GroupKind::kSelect, {{1, 10, 10}, {1, 11, 11}}});
  f.rules.push_back(ToHost(local_ip, 1));
  f.rules.push_back(ToGroup(remote_ip, 7));
  return f;
}

uint64_t TxPackets(const std::string& bridge, int port) {
  auto [rc, out] = RunShell(absl::StrCat("ovs-ofctl -O OpenFlow13 dump-ports ", bridge, " ", port));
  // "  port 10: rx pkts=..., bytes=..., drop=..." then "           tx pkts=N, ..."
  size_t at = out.find("tx pkts=");
  if (rc != 0 || at == std::string::npos) return 0;
  uint64_t n = 0;
  std::string digits;
  for (size_t i = at + 8; i < out.size() && isdigit(static_cast<unsigned char>(out[i])); ++i)
    digits += out[i];
  return absl::SimpleAtoi(digits, &n) ? n : 0;
}

// TxPackets once the counter stopped moving (the userspace datapath updates them lazily).
uint64_t SettledTxPackets(const std::string& bridge, int port) {
  uint64_t last = TxPackets(bridge, port);
  for (int i = 0; i < 20; ++i) {
    std::this_thread::sleep_for(milliseconds(150));
    uint64_t now = TxPackets(bridge, port);
    if (now == last) break;
    last = now;
  }
  return last;
}

class OpenFlowDriverOvsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, veth)";
    if (!EnsureOvs(&why)) GTEST_SKIP() << why;
    Cleanup();
  }
  void TearDown() override { Cleanup(); }
  static void Cleanup() {
    RunShell(
        "ovs-vsctl --if-exists del-br pofa -- --if-exists del-br pofb; "
        "ip netns del pofh1; ip netns del pofh2; ip link del pofa10; ip link del pofa11; "
        "ip link del pofh1; ip link del pofh2");
  }
};

TEST_F(OpenFlowDriverOvsTest, EndToEnd) {
  OpenFlowDriverOptions options;
  options.listen_address = "127.0.0.1";
  options.listen_port = 0;
  options.address_book = {{kIpH1, kMacH1}, {kIpH2, kMacH2}};
  // Fabric nodes named like their datapath ids, so events read the same either way.
  options.datapaths = {{static_cast<SwitchId>(kDpidA), kDpidA},
                       {static_cast<SwitchId>(kDpidB), kDpidB}};
  options.echo_interval = milliseconds(1000);
  OpenFlowDriver driver(options);
  RecordingSink sink;
  ASSERT_TRUE(driver.Start(&sink).ok());
  ASSERT_NE(driver.port(), 0);

  std::string controller = absl::StrCat("tcp:127.0.0.1:", driver.port());
  std::string script = absl::StrCat(
      "set -e\n", "ip link add pofa10 type veth peer name pofb10\n",
      "ip link add pofa11 type veth peer name pofb11\n",
      "for i in pofa10 pofb10 pofa11 pofb11; do ip link set $i up; done\n",
      "ip netns add pofh1; ip netns add pofh2\n",
      "ip link add pofh1 type veth peer name eth0 netns pofh1\n",
      "ip link add pofh2 type veth peer name eth0 netns pofh2\n",
      "ip link set pofh1 up; ip link set pofh2 up\n",
      "ip -n pofh1 link set eth0 address 02:00:00:00:00:01\n",
      "ip -n pofh2 link set eth0 address 02:00:00:00:00:02\n",
      "ip -n pofh1 addr add 10.0.0.1/24 dev eth0; ip -n pofh1 link set eth0 up\n",
      "ip -n pofh2 addr add 10.0.0.2/24 dev eth0; ip -n pofh2 link set eth0 up\n",
      "ip netns exec pofh1 ethtool -K eth0 tx off >/dev/null\n",
      "ip netns exec pofh2 ethtool -K eth0 tx off >/dev/null\n", "for b in a b; do\n",
      "  ovs-vsctl add-br pof$b -- set bridge pof$b datapath_type=netdev protocols=OpenFlow13",
      " fail_mode=secure other-config:datapath-id=00000000000000$([ $b = a ] && echo a1 || echo "
      "b2)",
      " -- add-port pof$b pofh$([ $b = a ] && echo 1 || echo 2) -- set interface",
      " pofh$([ $b = a ] && echo 1 || echo 2) ofport_request=1",
      " -- add-port pof$b pof${b}10 -- set interface pof${b}10 ofport_request=10",
      " -- add-port pof$b pof${b}11 -- set interface pof${b}11 ofport_request=11",
      " -- set-controller pof$b ", controller, "\n", "done\n");
  auto [rc, out] = RunShell("bash -c '" + script + "'");
  ASSERT_EQ(rc, 0) << out;

  // 1. Handshake: both switches, ports 1, 10, 11 up.
  ASSERT_TRUE(
      sink.WaitFor([](RecordingSink& s) { return s.connected_.size() >= 2; }, milliseconds(20000)))
      << "switches never connected";
  {
    std::lock_guard<std::mutex> lock(sink.mu_);
    for (const auto& [dpid, ports] : sink.connected_) {
      std::set<PortNo> numbers;
      for (const auto& p : ports) numbers.insert(p.port);
      EXPECT_TRUE(numbers.count(1) && numbers.count(10) && numbers.count(11))
          << "switch " << dpid << " reported " << numbers.size() << " ports";
    }
  }
  auto [brc, base] = RunShell("ovs-ofctl -O OpenFlow13 dump-flows pofa");
  EXPECT_NE(base.find("dl_type=0x88cc actions=CONTROLLER:65535"), std::string::npos) << base;
  EXPECT_NE(base.find("arp actions=CONTROLLER:65535"), std::string::npos) << base;

  // 2. Forwarding installed, applied twice changes nothing.
  SwitchForwarding fa = Forwarding(kDpidA, kIpH1, kIpH2);
  SwitchForwarding fb = Forwarding(kDpidB, kIpH2, kIpH1);
  OpenFlowDriverStats before_a = driver.stats();
  auto t0 = Clock::now();
  absl::Status sa = Apply(driver, fa);
  auto t1 = Clock::now();
  ASSERT_TRUE(sa.ok()) << sa;
  OpenFlowDriverStats after_a = driver.stats();
  ASSERT_TRUE(Apply(driver, fb).ok());
  OpenFlowDriverStats first = driver.stats();
  EXPECT_EQ(first.switch_errors, 0u);
  auto [frc, flows] = RunShell("ovs-ofctl -O OpenFlow13 dump-flows pofa");
  EXPECT_NE(flows.find("nw_dst=10.0.0.1 actions=output:1"), std::string::npos) << flows;
  EXPECT_NE(flows.find("multipath(symmetric_l3l4+udp,0,hrw,2,0,NXM_NX_REG0[0..15])"),
            std::string::npos)
      << flows;
  EXPECT_NE(flows.find("resubmit(,1)"), std::string::npos) << flows;
  auto [grc, groups] = RunShell("ovs-ofctl -O OpenFlow13 dump-groups pofa");
  EXPECT_NE(groups.find("type=ff"), std::string::npos) << groups;
  EXPECT_NE(groups.find("watch_port:10"), std::string::npos) << groups;
  EXPECT_NE(groups.find("watch_port:11"), std::string::npos) << groups;
  ASSERT_TRUE(Apply(driver, fa).ok());
  ASSERT_TRUE(Apply(driver, fb).ok());
  OpenFlowDriverStats second = driver.stats();
  EXPECT_EQ(second.flow_mods_sent, first.flow_mods_sent) << "re-apply sent flow mods";
  EXPECT_EQ(second.group_mods_sent, first.group_mods_sent) << "re-apply sent group mods";
  EXPECT_EQ(second.barriers_confirmed, first.barriers_confirmed + 2);
  std::printf(
      "first apply to switch A: %llu flow mods + %llu group mods in %.2f ms (read-back + "
      "barrier incl.)\n",
      static_cast<unsigned long long>(after_a.flow_mods_sent - before_a.flow_mods_sent),
      static_cast<unsigned long long>(after_a.group_mods_sent - before_a.group_mods_sent),
      std::chrono::duration<double, std::milli>(t1 - t0).count());

  // 3. Ping through proxy ARP and the rules.
  auto [prc, ping] = RunShell("ip netns exec pofh1 ping -c 3 -i 0.2 -W 2 10.0.0.2");
  EXPECT_EQ(prc, 0) << ping;
  EXPECT_GE(driver.stats().arp_replies, 1u);

  // 4. LLDP discovers both links in both directions.
  driver.ProbeLinks();
  EXPECT_TRUE(sink.WaitFor(
      [](RecordingSink& s) {
        return s.links_.count({kDpidA, 10, kDpidB, 10}) &&
               s.links_.count({kDpidA, 11, kDpidB, 11}) &&
               s.links_.count({kDpidB, 10, kDpidA, 10}) && s.links_.count({kDpidB, 11, kDpidA, 11});
      },
      milliseconds(5000)))
      << "links observed: " << sink.links_.size();

  // 5. Port stats.
  driver.RequestPortStats(static_cast<SwitchId>(kDpidA));
  EXPECT_TRUE(sink.WaitFor(
      [](RecordingSink& s) {
        for (const auto& [dpid, c] : s.counters_)
          if (dpid == kDpidA && c.size() >= 3) return true;
        return false;
      },
      milliseconds(5000)));

  // 6. Multipath spreads 64 UDP flows over both links.
  uint64_t tx10 = TxPackets("pofa", 10), tx11 = TxPackets("pofa", 11);
  auto send_udp = [] {
    return RunShell(
        "ip netns exec pofh1 /usr/bin/python3 -c \"\n"
        "import socket, time\n"
        "for p in range(40000, 40064):\n"
        "    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "    s.bind(('10.0.0.1', p))\n"
        "    for _ in range(5):\n"
        "        s.sendto(b'x' * 100, ('10.0.0.2', 4791))\n"
        "        time.sleep(0.001)\n"
        "    s.close()\n"
        "\"");
  };
  auto [urc, udp] = send_udp();
  ASSERT_EQ(urc, 0) << udp;
  uint64_t d10 = SettledTxPackets("pofa", 10) - tx10, d11 = SettledTxPackets("pofa", 11) - tx11;
  std::printf("64 UDP flows x 5 packets: link 10 +%llu packets, link 11 +%llu packets\n",
              static_cast<unsigned long long>(d10), static_cast<unsigned long long>(d11));
  EXPECT_GT(d10, 0u);
  EXPECT_GT(d11, 0u);

  // 7. Port down reaches OnPortStatus.
  auto down_at = Clock::now();
  ASSERT_EQ(RunShell("ip link set pofa11 down").first, 0);
  Clock::time_point seen;
  EXPECT_TRUE(sink.WaitFor(
      [&](RecordingSink& s) {
        for (const auto& e : s.port_events_)
          if (e.dpid == kDpidA && e.port == 11 && !e.up && e.at >= down_at) {
            seen = e.at;
            return true;
          }
        return false;
      },
      milliseconds(10000)));
  if (seen > down_at)
    std::printf("ip link set down -> OnPortStatus(down): %.1f ms\n",
                std::chrono::duration<double, std::milli>(seen - down_at).count());
  // Fast failover: traffic still reaches h2 with link 11 down.
  auto [p2rc, ping2] = RunShell("ip netns exec pofh1 ping -c 3 -i 0.2 -W 2 10.0.0.2");
  EXPECT_EQ(p2rc, 0) << ping2;

  // The fast-failover buckets move link 11's hash slots to link 10: all 64 flows still arrive.
  tx10 = TxPackets("pofa", 10);
  tx11 = TxPackets("pofa", 11);
  uint64_t to_h2 = TxPackets("pofb", 1);
  auto [u2rc, udp2] = send_udp();
  ASSERT_EQ(u2rc, 0) << udp2;
  uint64_t d10_down = SettledTxPackets("pofa", 10) - tx10,
           d11_down = SettledTxPackets("pofa", 11) - tx11;
  uint64_t delivered = SettledTxPackets("pofb", 1) - to_h2;
  std::printf("link 11 down, 64 UDP flows x 5 packets: link 10 +%llu, link 11 +%llu, h2 got %llu\n",
              static_cast<unsigned long long>(d10_down), static_cast<unsigned long long>(d11_down),
              static_cast<unsigned long long>(delivered));
  // Paced at 1 ms; the host-side veth and the userspace datapath may still drop a few of the
  // 320 packets on a loaded machine: none may take the dead link and nearly all must arrive.
  EXPECT_GE(d10_down, 288u);
  EXPECT_EQ(d11_down, 0u);
  EXPECT_GE(delivered, 288u);

  // 8. Reconciliation removes what is no longer desired.
  SwitchForwarding only_local = fa;
  only_local.rules.pop_back();
  only_local.groups.clear();
  ASSERT_TRUE(Apply(driver, only_local).ok());
  auto [f2rc, flows2] = RunShell("ovs-ofctl -O OpenFlow13 dump-flows pofa");
  EXPECT_EQ(flows2.find("multipath"), std::string::npos) << flows2;
  EXPECT_EQ(flows2.find("reg0"), std::string::npos) << flows2;
  auto [g2rc, groups2] = RunShell("ovs-ofctl -O OpenFlow13 dump-groups pofa");
  EXPECT_EQ(groups2.find("group_id"), std::string::npos) << groups2;

  // 9. A restarted controller adopts the rules: only the base pipeline is re-sent.
  OpenFlowDriver driver2(options);
  RecordingSink sink2;
  ASSERT_TRUE(driver2.Start(&sink2).ok());
  ASSERT_EQ(
      RunShell(absl::StrCat("ovs-vsctl set-controller pofa tcp:127.0.0.1:", driver2.port())).first,
      0);
  ASSERT_TRUE(
      sink2.WaitFor([](RecordingSink& s) { return !s.connected_.empty(); }, milliseconds(20000)));
  OpenFlowDriverStats before = driver2.stats();
  ASSERT_TRUE(Apply(driver2, only_local).ok());
  OpenFlowDriverStats after = driver2.stats();
  EXPECT_EQ(after.flow_mods_sent - before.flow_mods_sent, 0u) << "restart re-sent flows";
  EXPECT_EQ(after.group_mods_sent, 0u);
  auto [f3rc, flows3] = RunShell("ovs-ofctl -O OpenFlow13 dump-flows pofa");
  size_t count = 0;
  for (size_t at = flows3.find("nw_dst=10.0.0.1"); at != std::string::npos;
       at = flows3.find("nw_dst=10.0.0.1", at + 1))
    ++count;
  EXPECT_EQ(count, 1u) << flows3;

  // 10. Batch rate: 2,000 /32 rules in one apply, confirmed by the barrier, then removed.
  SwitchForwarding many = only_local;
  for (uint32_t i = 0; i < 2000; ++i) many.rules.push_back(ToHost(0x0b000000 + i, 1));
  uint64_t sent0 = driver2.stats().flow_mods_sent;
  auto m0 = Clock::now();
  ASSERT_TRUE(Apply(driver2, many).ok());
  auto m1 = Clock::now();
  ASSERT_TRUE(Apply(driver2, only_local).ok());
  auto m2 = Clock::now();
  uint64_t sent = driver2.stats().flow_mods_sent - sent0;
  EXPECT_EQ(sent, 4000u);
  double add_s = std::chrono::duration<double>(m1 - m0).count();
  double del_s = std::chrono::duration<double>(m2 - m1).count();
  std::printf(
      "2000 flow adds incl. read-back + barrier: %.1f ms (%.0f flow-mods/s); "
      "2000 deletes: %.1f ms (%.0f flow-mods/s)\n",
      add_s * 1e3, 2000 / add_s, del_s * 1e3, 2000 / del_s);

  // 11. Roles: MASTER then SLAVE with growing generation ids, as OVS records them.
  auto role_of_a = [] {
    return RunShell(
               "ovs-vsctl --bare --columns=role list controller "
               "$(ovs-vsctl get bridge pofa controller | tr -d '[]')")
        .second;
  };
  auto wait_role = [&](const std::string& want) {
    for (int i = 0; i < 50; ++i) {
      if (role_of_a().find(want) != std::string::npos) return true;
      std::this_thread::sleep_for(milliseconds(100));
    }
    return false;
  };
  driver2.SetRole(true, 7);
  EXPECT_TRUE(wait_role("master")) << role_of_a();
  driver2.SetRole(false, 8);
  EXPECT_TRUE(wait_role("slave")) << role_of_a();
  driver2.Stop();

  // 12. A deleted bridge is reported lost.
  RunShell("ovs-vsctl del-br pofb");
  EXPECT_TRUE(sink.WaitFor(
      [](RecordingSink& s) {
        for (Dpid d : s.lost_)
          if (d == kDpidB) return true;
        return false;
      },
      milliseconds(10000)));
  driver.Stop();
}

}  // namespace
}  // namespace pulse::southbound::openflow
