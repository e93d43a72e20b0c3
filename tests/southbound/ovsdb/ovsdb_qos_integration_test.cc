// Integration (label integration): programs a real Open vSwitch port's QoS through ovsdb-server,
// reads it back with ovs-vsctl and through the client, changes it by hand, sees the drift and
// repairs it; installs and audits the tc DSCP filters on the port's HTB qdisc.
// Needs root, openvswitch-switch and iproute2. Creates bridge pulseq0 and veth pqv0/pqv1, and
// removes them afterwards.
#include <chrono>
#include <iostream>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "controller/qos/headroom.h"
#include "controller/qos/qos_policy.h"
#include "gtest/gtest.h"
#include "southbound/ovsdb/ovsdb_client.h"
#include "southbound/ovsdb/qos_programmer.h"
#include "southbound/ovsdb/tc_dscp_classifier.h"

namespace pulse::southbound::ovsdb {
namespace {

constexpr char kBridge[] = "pulseq0";
constexpr char kPort[] = "pqv0";
constexpr char kPeer[] = "pqv1";
constexpr char kNetns[] = "pulseqns";  // holds kPeer with 10.250.0.2; the bridge port has .1

absl::StatusOr<std::string> Sh(const std::vector<std::string>& argv) {
  return SystemCommandRunner()(argv);
}

std::string ShOk(const std::vector<std::string>& argv) {
  absl::StatusOr<std::string> out = Sh(argv);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? std::string(absl::StripAsciiWhitespace(*out)) : std::string();
}

// Occurrences of `needle` in the output of `argv`.
int RunCount(const std::vector<std::string>& argv, const std::string& needle) {
  std::string out = ShOk(argv);
  int n = 0;
  for (size_t pos = out.find(needle); pos != std::string::npos; pos = out.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

// Packets sent so far by HTB class 1:`minor` of `dev` (from `tc -s class show`), -1 if absent.
int64_t ClassPackets(const std::string& dev, int minor) {
  const std::string out = ShOk({"tc", "-s", "class", "show", "dev", dev});
  const std::string head = absl::StrCat("class htb 1:", minor, " ");
  size_t pos = out.find(head);
  if (pos == std::string::npos) return -1;
  pos = out.find(" Sent ", pos);
  if (pos == std::string::npos) return -1;
  const size_t bytes_end = out.find(" bytes ", pos);
  const size_t pkt_end = out.find(" pkt", bytes_end + 7);
  int64_t packets = -1;
  if (bytes_end == std::string::npos || pkt_end == std::string::npos ||
      !absl::SimpleAtoi(out.substr(bytes_end + 7, pkt_end - bytes_end - 7), &packets)) {
    return -1;
  }
  return packets;
}

// Polls `pred` every 100 ms for at most `tries` times.
template <typename Pred>
bool Eventually(Pred pred, int tries = 100) {
  for (int i = 0; i < tries; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

class OvsdbQosIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Sh({"ovs-vsctl", "--timeout=5", "show"}).ok()) {
      absl::StatusOr<std::string> started =
          Sh({"/usr/share/openvswitch/scripts/ovs-ctl", "start", "--system-id=random"});
      ASSERT_TRUE(Sh({"ovs-vsctl", "--timeout=5", "show"}).ok())
          << "cannot start Open vSwitch: " << started.status();
    }
    Cleanup();
    ShOk({"ovs-vsctl", "add-br", kBridge, "--", "set", "bridge", kBridge, "datapath_type=netdev"});
    ShOk({"ip", "netns", "add", kNetns});
    ShOk({"ip", "link", "add", kPort, "type", "veth", "peer", "name", kPeer});
    ShOk({"ip", "link", "set", kPeer, "netns", kNetns});
    ShOk({"ip", "netns", "exec", kNetns, "ip", "addr", "add", "10.250.0.2/24", "dev", kPeer});
    ShOk({"ip", "netns", "exec", kNetns, "ip", "link", "set", kPeer, "up"});
    ShOk({"ip", "link", "set", kPort, "up"});
    ShOk({"ovs-vsctl", "add-port", kBridge, kPort});
    // The bridge's local port (a tap on the netdev datapath) is the sending host.
    ShOk({"ip", "addr", "add", "10.250.0.1/24", "dev", kBridge});
    ShOk({"ip", "link", "set", kBridge, "up"});
  }
  void TearDown() override { Cleanup(); }
  static void Cleanup() {
    // QoS and Queue are root tables: delete the port's rows before the port goes.
    {
      OvsdbClient client;
      if (client.Connect(kDefaultOvsdbEndpoint).ok()) (void)ClearPortQos(client, kPort);
    }
    (void)Sh({"ovs-vsctl", "--if-exists", "del-br", kBridge});
    (void)Sh({"ip", "link", "del", kPort});
    (void)Sh({"ip", "netns", "del", kNetns});
  }

  // The plan for this port: 1 Gb/s line rate; queue 0 best effort (<= 200 Mb/s), queue 1 the
  // lossless RoCE class (DSCP 26, 500 Mb/s guaranteed and capped), queue 2 CNPs (DSCP 48).
  // PFC/ECN parameters from the real headroom model (100G / 40 m on Spectrum-4).
  static PortQosConfig Want() {
    controller::QosPolicy policy = controller::DefaultQosPolicy();
    absl::StatusOr<controller::Headroom> h =
        controller::HeadroomBytes(100000000000LL, 40, 9100, controller::Spectrum4Profile());
    EXPECT_TRUE(h.ok());
    const controller::EcnProfile* ecn =
        controller::FindEcnProfile(policy, "spectrum4", 100000000000LL);
    PortQosConfig c;
    c.port = kPort;
    c.max_rate_bps = 1000000000;
    c.queues[0] = {0, 200000000, {{"pulse-traffic-class", "1"}}};
    c.queues[1] = {500000000, 500000000, {{"pulse-traffic-class", "3"}}};
    c.queues[2] = {100000000, 100000000, {{"pulse-traffic-class", "6"}}};
    c.external_ids = LosslessExternalIds(h->xon_bytes, h->xoff_bytes, ecn->kmin_bytes,
                                         ecn->kmax_bytes, ecn->pmax_percent, "3,4");
    return c;
  }
};

TEST_F(OvsdbQosIntegrationTest, ProgramReadBackDriftRepair) {
  OvsdbClient client;
  ASSERT_TRUE(client.Connect(kDefaultOvsdbEndpoint).ok());
  ASSERT_TRUE(client.Echo().ok());
  const PortQosConfig want = Want();

  // All-or-nothing: a missing port changes nothing.
  const std::string qos_rows_before = ShOk({"ovs-vsctl", "--columns=_uuid", "list", "qos"});
  PortQosConfig missing = want;
  missing.port = "pulse-nope0";
  absl::Status s = ProgramPortQos(client, missing);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("pulse-nope0"), absl::string_view::npos) << s;
  EXPECT_EQ(ShOk({"ovs-vsctl", "--columns=_uuid", "list", "qos"}), qos_rows_before);

  ASSERT_TRUE(ProgramPortQos(client, want).ok());

  // Read back through the client.
  absl::StatusOr<PortQosConfig> have = ReadPortQos(client, kPort);
  ASSERT_TRUE(have.ok()) << have.status();
  EXPECT_EQ(have->type, "linux-htb");
  EXPECT_EQ(have->max_rate_bps, 1000000000);
  EXPECT_EQ(have->queues.size(), 3u);
  EXPECT_EQ(have->external_ids.at("pulse-xoff-bytes"), "126976");
  absl::StatusOr<std::vector<std::string>> audit = AuditPort(client, want);
  ASSERT_TRUE(audit.ok()) << audit.status();
  EXPECT_TRUE(audit->empty()) << audit->front();

  // Read back with ovs-vsctl, independent of our client.
  const std::string qos_uuid = ShOk({"ovs-vsctl", "get", "port", kPort, "qos"});
  ASSERT_FALSE(qos_uuid.empty());
  EXPECT_EQ(ShOk({"ovs-vsctl", "get", "qos", qos_uuid, "type"}), "linux-htb");
  EXPECT_EQ(ShOk({"ovs-vsctl", "get", "qos", qos_uuid, "external_ids:pulse-xoff-bytes"}),
            "\"126976\"");
  EXPECT_EQ(ShOk({"ovs-vsctl", "get", "qos", qos_uuid, "external_ids:pulse-pfc-enable"}),
            "\"3,4\"");
  const std::string queue1 = ShOk({"ovs-vsctl", "get", "qos", qos_uuid, "queues:1"});
  EXPECT_EQ(ShOk({"ovs-vsctl", "get", "queue", queue1, "other_config:max-rate"}), "\"500000000\"");
  EXPECT_TRUE(absl::StrContains(ShOk({"ovs-vsctl", "list", "queue"}), "min-rate=\"500000000\""));

  // ovs-vswitchd turns the row into real HTB classes: queue 1 is class 1:2.
  ASSERT_TRUE(Eventually([] {
    absl::StatusOr<std::string> c = Sh({"tc", "class", "show", "dev", kPort});
    return c.ok() && absl::StrContains(*c, "class htb 1:2 ") &&
           absl::StrContains(*c, "rate 500Mbit");
  })) << ShOk({"tc", "class", "show", "dev", kPort});

  // DSCP classification: 26 -> queue 1, 48 -> queue 2.
  TcDscpClassifier tc;
  const std::vector<DscpFilter> filters = {{26, HtbClassMinorOfQueue(1)},
                                           {48, HtbClassMinorOfQueue(2)}};
  ASSERT_TRUE(tc.Install(kPort, filters).ok());
  const std::string shown = ShOk({"tc", "filter", "show", "dev", kPort});
  EXPECT_TRUE(absl::StrContains(shown, "match 00680000/00fc0000 at 0")) << shown;
  EXPECT_TRUE(absl::StrContains(shown, "flowid 1:2")) << shown;
  EXPECT_TRUE(absl::StrContains(shown, "match 00c00000/00fc0000 at 0")) << shown;
  absl::StatusOr<std::vector<std::string>> tc_audit = tc.Audit(kPort, filters);
  ASSERT_TRUE(tc_audit.ok()) << tc_audit.status();
  EXPECT_TRUE(tc_audit->empty());

  // Someone changes queue 1 by hand: the monitor sees it, the audit names it, repair restores.
  QosChangeWatcher watcher;
  ASSERT_TRUE(watcher.Start(client).ok());
  const int64_t seen = watcher.updates();
  ShOk({"ovs-vsctl", "set", "queue", queue1, "other_config:max-rate=100000000"});
  ShOk({"ovs-vsctl", "remove", "qos", qos_uuid, "external_ids", "pulse-xoff-bytes"});
  ASSERT_TRUE(watcher.WaitForUpdateAfter(seen, absl::Seconds(5)));
  ASSERT_TRUE(Eventually([&] {
    absl::StatusOr<std::vector<std::string>> a = AuditPort(client, want);
    return a.ok() && a->size() == 2;
  }));
  audit = AuditPort(client, want);
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 2u);
  EXPECT_EQ((*audit)[0], "port pqv0 qos external_ids:pulse-xoff-bytes: want 126976, have absent");
  EXPECT_EQ((*audit)[1], "port pqv0 queue 1 max-rate: want 500000000, have 100000000");

  absl::StatusOr<std::vector<std::string>> repaired = RepairPortQos(client, want);
  ASSERT_TRUE(repaired.ok()) << repaired.status();
  EXPECT_EQ(repaired->size(), 2u);
  audit = AuditPort(client, want);
  ASSERT_TRUE(audit.ok());
  EXPECT_TRUE(audit->empty()) << audit->front();
  const std::string new_qos = ShOk({"ovs-vsctl", "get", "port", kPort, "qos"});
  const std::string new_queue1 = ShOk({"ovs-vsctl", "get", "qos", new_qos, "queues:1"});
  EXPECT_EQ(ShOk({"ovs-vsctl", "get", "queue", new_queue1, "other_config:max-rate"}),
            "\"500000000\"");
  EXPECT_EQ(ShOk({"ovs-vsctl", "get", "qos", new_qos, "external_ids:pulse-xoff-bytes"}),
            "\"126976\"");

  // Replacing the QoS deleted the old rows: exactly the new QoS and its 3 queues exist for us.
  EXPECT_EQ(RunCount({"ovs-vsctl", "--bare", "--columns=external_ids", "list", "qos"},
                     "pulse-xoff-bytes=126976"),
            1);
  EXPECT_FALSE(Sh({"ovs-vsctl", "get", "qos", qos_uuid, "type"}).ok())
      << "old QoS row " << qos_uuid << " was not deleted";
  EXPECT_FALSE(Sh({"ovs-vsctl", "get", "queue", queue1, "other_config"}).ok())
      << "old Queue row " << queue1 << " was not deleted";

  // Someone deletes the DSCP filters with tc: the audit names them, repair reinstalls.
  ASSERT_TRUE(Eventually([] {
    absl::StatusOr<std::string> c = Sh({"tc", "class", "show", "dev", kPort});
    return c.ok() && absl::StrContains(*c, "class htb 1:2 ");
  }));
  (void)Sh({"tc", "filter", "del", "dev", kPort, "parent", "1:", "protocol", "ip", "prio", "1"});
  tc_audit = tc.Audit(kPort, filters);
  ASSERT_TRUE(tc_audit.ok());
  ASSERT_EQ(tc_audit->size(), 2u);
  EXPECT_EQ((*tc_audit)[0], "dev pqv0 dscp 26: want class 1:2, have none");
  ASSERT_TRUE(tc.Repair(kPort, filters).ok());
  tc_audit = tc.Audit(kPort, filters);
  ASSERT_TRUE(tc_audit.ok());
  EXPECT_TRUE(tc_audit->empty());
  EXPECT_TRUE(absl::StrContains(ShOk({"tc", "filter", "show", "dev", kPort}),
                                "match 00680000/00fc0000 at 0"));
  // Clearing removes the rows.
  ASSERT_TRUE(ClearPortQos(client, kPort).ok());
  EXPECT_EQ(ShOk({"ovs-vsctl", "get", "port", kPort, "qos"}), "[]");
  EXPECT_FALSE(Sh({"ovs-vsctl", "get", "qos", new_qos, "type"}).ok());
  EXPECT_FALSE(Sh({"ovs-vsctl", "get", "queue", new_queue1, "other_config"}).ok());
  client.Close();
}

// Data plane: packets marked DSCP 26 leave the port in queue 1 (class 1:2), DSCP 48 in queue 2
// (class 1:3), unmarked ones in queue 0 (class 1:1), counted by the kernel's HTB classes.
TEST_F(OvsdbQosIntegrationTest, DscpFiltersPutEachClassInItsQueue) {
  OvsdbClient client;
  ASSERT_TRUE(client.Connect(kDefaultOvsdbEndpoint).ok());
  ASSERT_TRUE(ProgramPortQos(client, Want()).ok());
  ASSERT_TRUE(Eventually([] { return ClassPackets(kPort, 3) >= 0; }))
      << ShOk({"tc", "class", "show", "dev", kPort});
  TcDscpClassifier tc;
  ASSERT_TRUE(
      tc.Install(kPort, {{26, HtbClassMinorOfQueue(1)}, {48, HtbClassMinorOfQueue(2)}}).ok());
  // Warm up ARP/MAC learning with unmarked pings, then count from here.
  (void)Sh({"ping", "-c", "3", "-i", "0.2", "-W", "1", "10.250.0.2"});
  const int64_t q0 = ClassPackets(kPort, 1), q1 = ClassPackets(kPort, 2),
                q2 = ClassPackets(kPort, 3);
  ASSERT_GE(q0, 0);
  const std::string roce =
      ShOk({"ping", "-Q", "0x68", "-c", "50", "-i", "0.01", "-W", "1", "10.250.0.2"});
  EXPECT_TRUE(absl::StrContains(roce, "50 received")) << roce;
  const std::string cnp =
      ShOk({"ping", "-Q", "0xc0", "-c", "30", "-i", "0.01", "-W", "1", "10.250.0.2"});
  EXPECT_TRUE(absl::StrContains(cnp, "30 received")) << cnp;
  const std::string plain = ShOk({"ping", "-c", "20", "-i", "0.01", "-W", "1", "10.250.0.2"});
  EXPECT_TRUE(absl::StrContains(plain, "20 received")) << plain;
  const int64_t d0 = ClassPackets(kPort, 1) - q0, d1 = ClassPackets(kPort, 2) - q1,
                d2 = ClassPackets(kPort, 3) - q2;
  std::cout << "queue packets: q0 +" << d0 << ", q1 (DSCP 26) +" << d1 << ", q2 (DSCP 48) +" << d2
            << "\n";
  EXPECT_EQ(d1, 50);
  EXPECT_EQ(d2, 30);
  EXPECT_GE(d0, 20);  // unmarked pings plus any ARP/IPv6 chatter
  client.Close();
}

}  // namespace
}  // namespace pulse::southbound::ovsdb
