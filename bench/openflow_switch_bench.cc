// Flow-mods per second that OpenFlowDriver pushes to one real Open vSwitch bridge, each change
// confirmed by a barrier (and read back: ApplyForwarding reconciles against the switch's flow
// table), against OVS's own tool in the same run: `ovs-ofctl add-flows` / `del-flows` of the
// same rules from a file. Needs root and Open vSwitch (userspace datapath); creates bridge
// pbench0 and removes it on exit.
//
//   flock /work/locks/network.lock build/bench/pulse_openflow_switch_bench [N ...]
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bench/bench_args.h"
#include "southbound/openflow/openflow_driver.h"

namespace {

using pulse::southbound::FabricEventSink;
using pulse::southbound::ForwardingRule;
using pulse::southbound::PortCounters;
using pulse::southbound::PortNo;
using pulse::southbound::SwitchForwarding;
using pulse::southbound::SwitchId;
using pulse::southbound::SwitchPort;
using pulse::southbound::openflow::Dpid;
using pulse::southbound::openflow::OpenFlowDriver;
using pulse::southbound::openflow::OpenFlowDriverOptions;
using Clock = std::chrono::steady_clock;

constexpr char kBridge[] = "pbench0";
constexpr Dpid kDpid = 0xbe;

int Shell(const std::string& command) { return std::system(command.c_str()); }

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

class ConnectSink : public FabricEventSink {
 public:
  void OnSwitchConnected(SwitchId, const std::vector<SwitchPort>&) override {
    std::lock_guard<std::mutex> lock(mu_);
    connected_ = true;
    cv_.notify_all();
  }
  void OnSwitchLost(SwitchId) override {}
  void OnPortStatus(SwitchId, PortNo, bool) override {}
  void OnLinkObserved(SwitchId, PortNo, SwitchId, PortNo) override {}
  void OnPortCounters(SwitchId, const std::vector<PortCounters>&) override {}
  bool Wait(std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return connected_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool connected_ = false;
};

// Removes the bridge on every exit path.
struct BridgeGuard {
  ~BridgeGuard() { Shell(absl::StrCat("ovs-vsctl --if-exists del-br ", kBridge)); }
};

// n /32 rules to 11.0.0.0 + i, out of `port`.
SwitchForwarding Rules(int n, PortNo port) {
  SwitchForwarding f;
  f.node = static_cast<SwitchId>(kDpid);
  for (int i = 0; i < n; ++i) {
    ForwardingRule rule;
    rule.priority = 200;
    rule.match.eth_type = 0x0800;
    rule.match.ipv4_dst = 0x0b000000u + static_cast<uint32_t>(i);
    rule.action.output_port = port;
    f.rules.push_back(rule);
  }
  return f;
}

bool Apply(OpenFlowDriver& driver, const SwitchForwarding& desired) {
  std::promise<absl::Status> done;
  auto future = done.get_future();
  driver.ApplyForwarding(desired, [&done](absl::Status s) { done.set_value(s); });
  if (future.wait_for(std::chrono::seconds(120)) != std::future_status::ready) {
    std::fprintf(stderr, "ApplyForwarding did not complete\n");
    return false;
  }
  absl::Status status = future.get();
  if (!status.ok()) std::fprintf(stderr, "ApplyForwarding: %s\n", status.ToString().c_str());
  return status.ok();
}

// ovs-ofctl adding (then deleting) the same rules from a file; seconds for each.
std::pair<double, double> OvsOfctl(int n) {
  const std::string path = absl::StrCat("/tmp/pulse_bench_flows_", ::getpid(), ".txt");
  {
    std::ofstream out(path);
    for (int i = 0; i < n; ++i) {
      const uint32_t ip = 0x0b000000u + static_cast<uint32_t>(i);
      out << "cookie=0xbe,priority=200,ip,nw_dst=" << (ip >> 24) << "." << ((ip >> 16) & 255) << "."
          << ((ip >> 8) & 255) << "." << (ip & 255) << ",actions=output:1\n";
    }
  }
  Clock::time_point t0 = Clock::now();
  Shell(absl::StrCat("ovs-ofctl -O OpenFlow13 add-flows ", kBridge, " ", path));
  const double add_s = Seconds(t0);
  t0 = Clock::now();
  Shell(absl::StrCat("ovs-ofctl -O OpenFlow13 del-flows ", kBridge, " cookie=0xbe/-1"));
  const double del_s = Seconds(t0);
  std::remove(path.c_str());
  return {add_s, del_s};
}

}  // namespace

int main(int argc, char** argv) {
  if (auto exit_code = pulse::bench::CheckArgs(argc, argv, {}, -1,
                                               "[N ...]   (N rules per batch, 1..1000000)")) {
    return *exit_code;
  }
  std::vector<int> sizes = {100, 1000, 10000};
  if (argc > 1) {
    sizes.clear();
    for (int i = 1; i < argc; ++i) {
      int n = 0;
      if (!absl::SimpleAtoi(argv[i], &n) || n <= 0 || n > 1000000) {
        std::fprintf(stderr, "usage: %s [N ...]  (N rules per batch, 1..1000000)\n", argv[0]);
        return 2;
      }
      sizes.push_back(n);
    }
  }
  if (::geteuid() != 0 || Shell("ovs-vsctl --timeout=5 show >/dev/null 2>&1") != 0) {
    std::fprintf(stderr, "needs root and a running Open vSwitch (ovs-ctl start)\n");
    return 2;
  }
  OpenFlowDriverOptions options;
  options.listen_address = "127.0.0.1";
  options.listen_port = 0;
  options.datapaths = {{static_cast<SwitchId>(kDpid), kDpid}};
  OpenFlowDriver driver(options);
  ConnectSink sink;
  if (absl::Status started = driver.Start(&sink); !started.ok()) {
    std::fprintf(stderr, "driver: %s\n", started.ToString().c_str());
    return 1;
  }
  BridgeGuard guard;
  Shell(absl::StrCat("ovs-vsctl --if-exists del-br ", kBridge));
  const std::string create = absl::StrCat(
      "ovs-vsctl add-br ", kBridge, " -- set bridge ", kBridge,
      " datapath_type=netdev protocols=OpenFlow13 fail_mode=secure "
      "other-config:datapath-id=00000000000000be",
      " -- add-port ", kBridge, " pbench1 -- set interface pbench1 type=internal ofport_request=1",
      " -- add-port ", kBridge, " pbench2 -- set interface pbench2 type=internal ofport_request=2",
      " -- set-controller ", kBridge, " tcp:127.0.0.1:", driver.port());
  if (Shell(create) != 0 || !sink.Wait(std::chrono::seconds(20))) {
    std::fprintf(stderr, "bridge %s did not connect\n", kBridge);
    return 1;
  }

  std::printf(
      "OpenFlow 1.3 flow-mods to one OVS bridge (userspace datapath), one barrier per "
      "batch; baseline: ovs-ofctl from a file, same rules, same run\n\n");
  std::printf("%8s | %12s %12s %12s | %14s %14s | %12s\n", "rules", "pulse add/s", "modify/s",
              "delete/s", "ovs-ofctl add/s", "ovs-ofctl del/s", "pulse/ofctl");
  for (int n : sizes) {
    if (!Apply(driver, Rules(0, 1))) return 1;  // empty table: only the base pipeline
    Clock::time_point t0 = Clock::now();
    if (!Apply(driver, Rules(n, 1))) return 1;
    const double add_s = Seconds(t0);
    t0 = Clock::now();
    if (!Apply(driver, Rules(n, 2))) return 1;  // same matches, new output: n modifies
    const double modify_s = Seconds(t0);
    t0 = Clock::now();
    if (!Apply(driver, Rules(0, 1))) return 1;
    const double delete_s = Seconds(t0);
    auto [ofctl_add_s, ofctl_del_s] = OvsOfctl(n);
    std::printf("%8d | %12.0f %12.0f %12.0f | %14.0f %14.0f | %11.2fx\n", n, n / add_s,
                n / modify_s, n / delete_s, n / ofctl_add_s, n / ofctl_del_s, ofctl_add_s / add_s);
  }
  std::printf(
      "\n(ovs-ofctl del-flows removes the batch with one cookie-masked message; Pulse "
      "deletes rule by rule, strict, so that rules it does not own stay)\n");
  const auto stats = driver.stats();
  std::printf("\nflow-mods sent by the driver: %llu (incl. the base pipeline)\n",
              static_cast<unsigned long long>(stats.flow_mods_sent));
  driver.Stop();
  return 0;
}
