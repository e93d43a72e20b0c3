// Integration: a real Open vSwitch bridge (userspace datapath) exports sFlow to the collector
// while two network namespaces ping each other through it. Asserts on what the switch itself
// reported: interface counter samples for the bridge ports (turned into non-zero port rates by
// the telemetry module) and flow samples whose sampled headers carry the ICMP packets between the
// two namespaces.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "southbound/openflow/datapath_map.h"
#include "southbound/ovsdb/ovsdb_client.h"
#include "southbound/sflow/collector.h"
#include "southbound/sflow/ovs_port_map.h"
#include "southbound/sflow/telemetry_adapter.h"

#include "controller/telemetry/telemetry.h"

namespace pulse::southbound::sflow {
namespace {

namespace asio = boost::asio;

int Shell(const std::string& command) {
  const int rc = std::system((command + " >/dev/null 2>&1").c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

constexpr char kBridge[] = "ptel0";
constexpr uint32_t kHostA = 0x0a4d0001;  // 10.77.0.1
constexpr uint32_t kHostB = 0x0a4d0002;  // 10.77.0.2

// Kernel ifindex of a network device (what Open vSwitch reports as the sFlow ifIndex), 0 if absent.
uint32_t IfIndex(const std::string& device) {
  FILE* f = std::fopen(("/sys/class/net/" + device + "/ifindex").c_str(), "r");
  if (f == nullptr) return 0;
  unsigned value = 0;
  if (std::fscanf(f, "%u", &value) != 1) value = 0;
  std::fclose(f);
  return value;
}

void CleanUp() {
  Shell(absl::StrCat("ovs-vsctl --timeout=10 --if-exists del-br ", kBridge));
  for (const char* ns : {"ptel-a", "ptel-b"}) Shell(absl::StrCat("ip netns del ", ns));
  for (const char* dev : {"ptel-a0", "ptel-b0"}) Shell(absl::StrCat("ip link del ", dev));
}

class SflowOvsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root for namespaces and Open vSwitch";
    if (Shell("which ovs-vsctl") != 0) GTEST_SKIP() << "openvswitch-switch not installed";
    if (Shell("ovs-vsctl --timeout=5 show") != 0) {
      Shell("/usr/share/openvswitch/scripts/ovs-ctl start --system-id=random");
    }
    ASSERT_EQ(Shell("ovs-vsctl --timeout=5 show"), 0) << "Open vSwitch is not running";
    CleanUp();
    ASSERT_EQ(Shell(absl::StrCat("ovs-vsctl --timeout=10 add-br ", kBridge, " -- set bridge ",
                                 kBridge, " datapath_type=netdev fail-mode=standalone")),
              0);
    int host = 1;
    for (const char* name : {"a", "b"}) {
      const std::string ns = absl::StrCat("ptel-", name);
      const std::string outside = absl::StrCat("ptel-", name, "0");
      const std::string inside = absl::StrCat("ptel-", name, "1");
      for (const std::string& cmd : {
               absl::StrCat("ip netns add ", ns),
               absl::StrCat("ip link add ", outside, " type veth peer name ", inside),
               absl::StrCat("ip link set ", inside, " netns ", ns),
               absl::StrCat("ip -n ", ns, " addr add 10.77.0.", host, "/24 dev ", inside),
               absl::StrCat("ip -n ", ns, " link set ", inside, " up"),
               absl::StrCat("ip -n ", ns, " link set lo up"),
               absl::StrCat("ip link set ", outside, " up"),
               absl::StrCat("ovs-vsctl --timeout=10 add-port ", kBridge, " ", outside),
           }) {
        ASSERT_EQ(Shell(cmd), 0) << cmd;
      }
      ++host;
    }
  }
  void TearDown() override {
    if (geteuid() == 0) CleanUp();
  }
};

TEST_F(SflowOvsTest, CollectsCounterAndFlowSamplesFromOvs) {
  asio::io_context io;
  std::mutex mu;
  std::vector<Datagram> received;
  // The bridge is "switch 1"; its ports ptel-a0 and ptel-b0 are ports 1 and 2.
  const uint32_t if_a = IfIndex("ptel-a0");
  const uint32_t if_b = IfIndex("ptel-b0");
  ASSERT_NE(if_a, 0u);
  ASSERT_NE(if_b, 0u);
  PortResolver resolve = [&](const Datagram&,
                             uint32_t if_index) -> std::optional<controller::PortKey> {
    if (if_index == if_a) return controller::PortKey{1, 1};
    if (if_index == if_b) return controller::PortKey{1, 2};
    return std::nullopt;
  };
  controller::Telemetry telemetry;
  const auto epoch = std::chrono::steady_clock::now();
  CollectorOptions options;
  options.bind_address = "127.0.0.1";
  options.port = 0;
  absl::StatusOr<std::unique_ptr<Collector>> collector =
      Collector::Start(io, options, [&](const Datagram& d, const asio::ip::udp::endpoint&) {
        std::lock_guard<std::mutex> lock(mu);
        received.push_back(d);
        const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now() - epoch)
                                   .count();
        for (const controller::PortCounterSample& s : ToPortCounterSamples(d, resolve, now_ms)) {
          (void)telemetry.Ingest(s);  // a repeated timestamp is refused, not fatal
        }
      });
  ASSERT_TRUE(collector.ok()) << collector.status();
  auto work = asio::make_work_guard(io);
  std::thread loop([&] { io.run(); });

  const std::string sflow =
      absl::StrCat("ovs-vsctl --timeout=10 -- --id=@s create sFlow agent=lo target=\\\"127.0.0.1:",
                   (*collector)->port(), "\\\" header=128 sampling=1 polling=1 -- set bridge ",
                   kBridge, " sflow=@s");
  EXPECT_EQ(Shell(sflow), 0) << sflow;
  // Bounded traffic: 20 pings, 0.2 s apart.
  const int ping_rc = Shell("ip netns exec ptel-a ping -c 20 -i 0.2 -W 1 10.77.0.2");

  // Give the agent's 1 s counter polling time to report (bounded).
  bool have_counters = false, have_flows = false;
  bool have_rates = false;
  for (int i = 0; i < 50 && !(have_counters && have_flows && have_rates); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::lock_guard<std::mutex> lock(mu);
    have_rates =
        telemetry.LatestRates({1, 1}) != nullptr && telemetry.LatestRates({1, 2}) != nullptr;
    for (const Datagram& d : received) {
      for (const CounterSample& c : d.counter_samples) {
        if (c.interface.has_value() && c.interface->out_octets > 0) have_counters = true;
      }
      for (const FlowSample& f : d.flow_samples) {
        if (f.header && f.header->info.tuple && f.header->info.tuple->ip_protocol == 1 &&
            ((f.header->info.tuple->src_ipv4 == kHostA &&
              f.header->info.tuple->dst_ipv4 == kHostB) ||
             (f.header->info.tuple->src_ipv4 == kHostB &&
              f.header->info.tuple->dst_ipv4 == kHostA))) {
          have_flows = true;
        }
      }
    }
  }
  (*collector)->Stop();
  work.reset();
  io.stop();
  loop.join();

  EXPECT_EQ(ping_rc, 0) << "ping through the OVS bridge failed";
  const CollectorStats stats = (*collector)->stats();
  std::printf("sflow_ovs: datagrams=%llu counter_samples=%llu flow_samples=%llu errors=%llu\n",
              static_cast<unsigned long long>(stats.datagrams),
              static_cast<unsigned long long>(stats.counter_samples),
              static_cast<unsigned long long>(stats.flow_samples),
              static_cast<unsigned long long>(stats.decode_errors));
  EXPECT_GT(stats.datagrams, 0u);
  EXPECT_EQ(stats.decode_errors, 0u);
  EXPECT_TRUE(have_counters) << "no interface counter sample with traffic";
  EXPECT_TRUE(have_flows) << "no flow sample carrying the ICMP packets between the namespaces";
  // Rates from the switch's own counters: each bridge port sent ICMP (requests or replies).
  for (uint32_t port : {1u, 2u}) {
    const controller::PortRates* rates = telemetry.LatestRates({1, port});
    ASSERT_NE(rates, nullptr) << "no rate for bridge port " << port;
    const controller::RingBuffer<controller::PortRates>* history = telemetry.History({1, port});
    double max_tx_bps = 0;
    for (size_t i = 0; i < history->size(); ++i) {
      max_tx_bps = std::max(max_tx_bps, history->at(i).tx_bps);
    }
    std::printf("sflow_ovs: port %u rate samples=%zu max_tx_bps=%.0f\n", port, history->size(),
                max_tx_bps);
    EXPECT_GT(max_tx_bps, 0) << "port " << port;
    EXPECT_LT(max_tx_bps, 1e9) << "port " << port;  // 5 pings/s cannot be a gigabit
  }
}

// Runs `command` and returns its first output line ("" on failure).
std::string ShellLine(const std::string& command) {
  FILE* pipe = ::popen((command + " 2>/dev/null").c_str(), "r");
  if (pipe == nullptr) return "";
  char buf[256] = {0};
  std::string line = std::fgets(buf, sizeof buf, pipe) != nullptr ? buf : "";
  ::pclose(pipe);
  while (!line.empty() && (line.back() == '\n' || line.back() == '"')) line.pop_back();
  if (!line.empty() && line.front() == '"') line.erase(0, 1);
  return line;
}

// The daemon's path for sFlow counters: the agent's ifIndex -> OVSDB (bridge datapath id, ofport)
// -> the fabric node the OpenFlow datapath map gives that datapath id. The bridge carries an
// arbitrary datapath id; its samples must come out keyed by the node the map names (7), and a
// map that does not list the bridge must count and drop them.
TEST_F(SflowOvsTest, CountersAreKeyedByTheFabricNodeOfTheBridge) {
  constexpr uint64_t kDpid = 0x0000a1b2c3d4e5f6;
  constexpr switches::SwitchId kNode = 7;
  ASSERT_EQ(Shell(absl::StrCat("ovs-vsctl --timeout=10 set bridge ", kBridge,
                               " other-config:datapath-id=0000a1b2c3d4e5f6")),
            0);
  bool dpid_set = false;
  for (int i = 0; i < 50 && !dpid_set; ++i) {
    dpid_set = ShellLine(absl::StrCat("ovs-vsctl get bridge ", kBridge, " datapath_id")) ==
               "0000a1b2c3d4e5f6";
    if (!dpid_set) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(dpid_set) << "Open vSwitch did not take the datapath id";
  const uint32_t ofport_a =
      static_cast<uint32_t>(std::atoi(ShellLine("ovs-vsctl get interface ptel-a0 ofport").c_str()));
  ASSERT_GT(ofport_a, 0u);

  auto ports = OvsSflowPortMap::Connect(ovsdb::kDefaultOvsdbEndpoint,
                                        openflow::DatapathMap({{3, 0x1}, {kNode, kDpid}}));
  ASSERT_TRUE(ports.ok()) << ports.status();
  EXPECT_EQ((*ports)->Resolve(IfIndex("ptel-a0")), (switches::PortKey{kNode, ofport_a}));
  auto strangers =
      OvsSflowPortMap::Connect(ovsdb::kDefaultOvsdbEndpoint, openflow::DatapathMap({{3, 0x1}}));
  ASSERT_TRUE(strangers.ok()) << strangers.status();

  asio::io_context io;
  std::mutex mu;
  controller::Telemetry telemetry;
  size_t resolved_by_strangers = 0;
  CollectorOptions options;
  options.bind_address = "127.0.0.1";
  options.port = 0;
  int64_t now_ms = 0;
  absl::StatusOr<std::unique_ptr<Collector>> collector =
      Collector::Start(io, options, [&](const Datagram& d, const asio::ip::udp::endpoint&) {
        std::lock_guard<std::mutex> lock(mu);
        now_ms += 1000;
        for (const controller::PortCounterSample& s : ToPortCounterSamples(
                 d, [&](const Datagram&, uint32_t i) { return (*ports)->Resolve(i); }, now_ms)) {
          (void)telemetry.Ingest(s);
        }
        resolved_by_strangers +=
            ToPortCounterSamples(
                d, [&](const Datagram&, uint32_t i) { return (*strangers)->Resolve(i); }, now_ms)
                .size();
      });
  ASSERT_TRUE(collector.ok()) << collector.status();
  auto work = asio::make_work_guard(io);
  std::thread loop([&] { io.run(); });
  const std::string sflow =
      absl::StrCat("ovs-vsctl --timeout=10 -- --id=@s create sFlow agent=lo target=\\\"127.0.0.1:",
                   (*collector)->port(), "\\\" header=128 sampling=64 polling=1 -- set bridge ",
                   kBridge, " sflow=@s");
  EXPECT_EQ(Shell(sflow), 0) << sflow;
  const int ping_rc = Shell("ip netns exec ptel-a ping -c 10 -i 0.2 -W 1 10.77.0.2");
  bool have_rates = false;
  for (int i = 0; i < 50 && !have_rates; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::lock_guard<std::mutex> lock(mu);
    have_rates = telemetry.LatestRates({kNode, ofport_a}) != nullptr;
  }
  (*collector)->Stop();
  work.reset();
  io.stop();
  loop.join();
  EXPECT_EQ(ping_rc, 0);
  EXPECT_TRUE(have_rates) << "no rates for fabric port (node 7, port " << ofport_a << ")";
  EXPECT_EQ(telemetry.LatestRates({1, ofport_a}), nullptr);  // nothing under a positional id
  EXPECT_EQ(resolved_by_strangers, 0u);
  EXPECT_GT((*strangers)->stats().unknown_switch, 0u);
  EXPECT_EQ((*strangers)->stats().resolved, 0u);
}

}  // namespace
}  // namespace pulse::southbound::sflow
