// The ovs-multipath hash model (controller/paths/ecmp_hash.h) against the switch it models: Pulse's
// real tables (OpenFlowDriver programming select groups as multipath + fast-failover legs) on an
// Open vSwitch bridge, and `ovs-appctl ofproto/trace` asked where each of a few thousand random
// RoCEv2 5-tuples leaves. Steering by UDP source port is only as good as this agreement, so the
// test demands 100%. PULSE_OVS_TRACE_SAMPLES sets the sample count (default 2,000).
// Needs root and Open vSwitch (started with ovs-ctl if not running, else skipped).

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "controller/paths/ecmp_hash.h"
#include "gtest/gtest.h"
#include "southbound/openflow/openflow_driver.h"
#include "tests/southbound/openflow/ovs_shell.h"

namespace pulse::southbound::openflow {
namespace {

using ::pulse::testing::EnsureOvs;
using ::pulse::testing::RunShell;

using controller::EcmpHashModel;
using controller::EcmpMember;
using controller::FiveTuple;
using controller::HashAlgorithm;

constexpr char kBridge[] = "pohm";
constexpr uint64_t kDpid = 0xc7;
constexpr PortNo kInPort = 9;

class NullSink : public FabricEventSink {
 public:
  void OnSwitchConnected(SwitchId, const std::vector<SwitchPort>&) override {
    connected_.set_value();
  }
  void OnSwitchLost(SwitchId) override {}
  void OnPortStatus(SwitchId, PortNo, bool) override {}
  void OnLinkObserved(SwitchId, PortNo, SwitchId, PortNo) override {}
  void OnPortCounters(SwitchId, const std::vector<PortCounters>&) override {}
  std::promise<void> connected_;
};

// One select group of the test bridge: its id, destination prefix, weighted uplinks and the
// hash basis (the model's seed).
struct TestGroup {
  uint32_t id;
  uint32_t prefix;  // /16
  std::vector<std::pair<PortNo, uint16_t>> ports_and_weights;
  uint16_t basis = 0;
};

const std::vector<TestGroup>& Groups() {
  static const auto* groups = new std::vector<TestGroup>{
      {1, 0x0a090000, {{1, 1}, {2, 1}, {3, 1}, {4, 1}}},  // 4 equal uplinks
      {2, 0x0a080000, {{1, 2}, {2, 1}, {3, 1}}},          // 400G + 2 x 200G
      {3, 0x0a070000, {{2, 1}, {4, 1}}},                  // 2 of 4 uplinks (one failed)
      {4, 0x0a060000, {{1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1}, {6, 1}, {7, 1}, {8, 1}}},
      {5, 0x0a050000, {{1, 1}, {2, 1}, {3, 1}, {4, 1}}, 2},  // a spine's basis
      {6, 0x0a040000, {{5, 1}, {6, 1}, {7, 1}}, 0xbeef},     // any 16-bit basis
  };
  return *groups;
}

SwitchForwarding Forwarding() {
  SwitchForwarding f;
  f.node = static_cast<SwitchId>(kDpid);
  for (const TestGroup& g : Groups()) {
    ForwardingGroup group{g.id, GroupKind::kSelect, {}, g.basis};
    for (auto [port, weight] : g.ports_and_weights) group.buckets.push_back({weight, port, port});
    f.groups.push_back(group);
    ForwardingRule rule;
    rule.priority = 100;
    rule.match.eth_type = 0x0800;
    rule.match.ipv4_dst = g.prefix;
    rule.match.ipv4_dst_mask = 0xffff0000;
    rule.action.group_id = g.id;
    f.rules.push_back(rule);
  }
  return f;
}

std::string Ip(uint32_t a) {
  return absl::StrCat(a >> 24, ".", (a >> 16) & 255, ".", (a >> 8) & 255, ".", a & 255);
}

// Datapath port number -> OpenFlow port number, from `ovs-appctl dpif/show`
// ("    pohm1 1/3: (tap)": OpenFlow port 1, datapath port 3).
std::map<int, PortNo> DatapathToOpenFlow() {
  std::map<int, PortNo> map;
  auto [rc, out] = RunShell("ovs-appctl dpif/show");
  bool in_bridge = false;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    absl::string_view stripped = absl::StripLeadingAsciiWhitespace(line);
    if (line.size() > stripped.size() + 2 && in_bridge) {
      std::vector<absl::string_view> words = absl::StrSplit(stripped, ' ', absl::SkipEmpty());
      if (words.size() < 2) continue;
      std::vector<absl::string_view> nums = absl::StrSplit(absl::StripSuffix(words[1], ":"), '/');
      int of = 0, dp = 0;
      if (nums.size() == 2 && absl::SimpleAtoi(nums[0], &of) && absl::SimpleAtoi(nums[1], &dp))
        map[dp] = static_cast<PortNo>(of);
    } else {
      in_bridge = absl::StartsWith(stripped, absl::StrCat(kBridge, ":"));
    }
  }
  return map;
}

class OvsHashModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    if (!EnsureOvs(&why)) GTEST_SKIP() << why;
    Cleanup();
  }
  void TearDown() override { Cleanup(); }
  static void Cleanup() { RunShell(absl::StrCat("ovs-vsctl --if-exists del-br ", kBridge)); }
};

TEST_F(OvsHashModelTest, ModelAgreesWithOfprotoTrace) {
  OpenFlowDriverOptions options;
  options.listen_address = "127.0.0.1";
  options.listen_port = 0;
  options.datapaths = {{static_cast<SwitchId>(kDpid), kDpid}};
  OpenFlowDriver driver(options);
  NullSink sink;
  auto connected = sink.connected_.get_future();
  ASSERT_TRUE(driver.Start(&sink).ok());

  std::string ports;
  for (PortNo p : {1, 2, 3, 4, 5, 6, 7, 8, 9})
    absl::StrAppend(&ports, " -- add-port ", kBridge, " ", kBridge, p, " -- set interface ",
                    kBridge, p, " type=internal ofport_request=", p);
  auto [rc, out] = RunShell(
      absl::StrCat("ovs-vsctl add-br ", kBridge, " -- set bridge ", kBridge,
                   " datapath_type=netdev protocols=OpenFlow13 fail_mode=secure",
                   " other-config:datapath-id=", absl::Hex(kDpid, absl::kZeroPad16), ports,
                   " -- set-controller ", kBridge, " tcp:127.0.0.1:", driver.port(),
                   " && for p in $(seq 1 9);", " do ip link set ", kBridge, "$p up; done"));
  ASSERT_EQ(rc, 0) << out;
  ASSERT_EQ(connected.wait_for(std::chrono::seconds(20)), std::future_status::ready)
      << "the bridge never connected";

  std::promise<absl::Status> applied;
  driver.ApplyForwarding(Forwarding(), [&](absl::Status s) { applied.set_value(s); });
  absl::Status status = applied.get_future().get();
  ASSERT_TRUE(status.ok()) << status;

  std::map<int, PortNo> to_openflow = DatapathToOpenFlow();
  ASSERT_GE(to_openflow.size(), 9u) << RunShell("ovs-appctl dpif/show").second;

  int samples = 2000;
  if (const char* env = std::getenv("PULSE_OVS_TRACE_SAMPLES")) {
    ASSERT_TRUE(absl::SimpleAtoi(env, &samples) && samples > 0) << env;
  }
  std::mt19937_64 rng(20261203);
  int agree = 0;
  std::map<PortNo, int> egress_seen;
  for (int i = 0; i < samples; ++i) {
    const TestGroup& group = Groups()[rng() % Groups().size()];
    FiveTuple tuple;
    tuple.src_ip = 0x0a000000u | static_cast<uint32_t>(rng() & 0x00ffffffu);
    tuple.dst_ip = group.prefix | static_cast<uint32_t>(rng() & 0xffffu);
    tuple.src_port = static_cast<uint16_t>(1024 + rng() % (65536 - 1024));
    std::vector<EcmpMember> members;
    for (auto [port, weight] : group.ports_and_weights) {
      EcmpMember m;
      m.port = static_cast<int32_t>(port);
      m.weight = weight;
      members.push_back(m);
    }
    EcmpHashModel model{HashAlgorithm::kOvsMultipath, group.basis, controller::kHashAllFields};
    PortNo expected =
        group.ports_and_weights[controller::SelectWeightedMember(model, tuple, members)].first;

    auto [trc, trace] = RunShell(absl::StrCat(
        "ovs-appctl ofproto/trace ", kBridge, " 'in_port=", kInPort,
        ",dl_type=0x0800,nw_proto=17,nw_src=", Ip(tuple.src_ip), ",nw_dst=", Ip(tuple.dst_ip),
        ",udp_src=", tuple.src_port, ",udp_dst=", tuple.dst_port, "'"));
    ASSERT_EQ(trc, 0) << trace;
    size_t at = trace.rfind("Datapath actions: ");
    ASSERT_NE(at, std::string::npos) << trace;
    int datapath_port = -1;
    ASSERT_TRUE(
        absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::string_view(trace).substr(at + 18).substr(
                             0, trace.find('\n', at) - at - 18)),
                         &datapath_port))
        << trace.substr(at);
    PortNo egress = to_openflow.count(datapath_port) ? to_openflow[datapath_port] : 0;
    ++egress_seen[egress];
    if (egress == expected) {
      ++agree;
    } else {
      ADD_FAILURE() << "group " << group.id << " " << Ip(tuple.src_ip) << " -> " << Ip(tuple.dst_ip)
                    << " udp " << tuple.src_port << ": switch sent it out of port " << egress
                    << ", the model says " << expected;
      if (i - agree > 10) break;  // the model is wrong; no need for thousands of messages
    }
  }
  std::printf("ovs-multipath model: %d of %d traces agree (%.2f%%); egress ports used:", agree,
              samples, 100.0 * agree / samples);
  for (auto [port, n] : egress_seen) std::printf(" %u:%d", port, n);
  std::printf("\n");
  EXPECT_EQ(agree, samples);
  // Every uplink of the 8-way group carried something: the hash really spreads.
  for (PortNo p = 1; p <= 8; ++p) EXPECT_GT(egress_seen[p], 0) << "port " << p;
  driver.Stop();
}

}  // namespace
}  // namespace pulse::southbound::openflow
