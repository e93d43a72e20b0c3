// OvsQosDriver: the plan -> OVS mapping (unit) and, against a real Open vSwitch (integration,
// needs root), a bridge named like the fabric switch whose port is found by ofport, programmed,
// audited, changed by hand with ovs-vsctl and tc, and repaired by the watch.
#include "southbound/ovsdb/ovs_qos_driver.h"

#include <chrono>
#include <cstdio>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "controller/qos/qos_plan.h"
#include "gtest/gtest.h"
#include "topology/fabric.h"

namespace pulse::southbound::ovsdb {
namespace {

constexpr int64_t k100G = 100'000'000'000;

// leaf-0 with server-0's NIC on port 1.
topology::Fabric OneLeafFabric() {
  topology::FabricBuilder b;
  topology::NodeId leaf = b.AddSwitch("pqleaf", topology::SwitchRole::kLeaf);
  topology::ServerId server = b.AddServer("server-0");
  topology::NodeId nic = b.AddNic(server, 0);
  b.AddGpu(server, nic);
  b.AddLink(nic, leaf, k100G);
  auto fabric = std::move(b).Build();
  EXPECT_TRUE(fabric.ok()) << fabric.status();
  return *std::move(fabric);
}

TEST(OvsQosMappingTest, QueuesPerClassWithSharesAndPfcNumbers) {
  controller::QosPolicy policy = controller::DefaultQosPolicy();
  auto plan = controller::PlanQos(OneLeafFabric(), policy);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const controller::PortQosPlan& port = plan->switches[0].ports[0];
  PortQosConfig config = PortQosConfigFromPlan(policy, port, "pqleaf-eth1");
  EXPECT_EQ(config.port, "pqleaf-eth1");
  EXPECT_EQ(config.max_rate_bps, k100G);
  std::set<int> queues;
  for (const auto& [tc, q] : policy.tc_to_queue) queues.insert(q);
  ASSERT_EQ(config.queues.size(), queues.size());
  int64_t guaranteed = 0;
  for (const auto& [q, queue] : config.queues) {
    EXPECT_EQ(queue.max_rate_bps, k100G);
    guaranteed += queue.min_rate_bps;
  }
  EXPECT_LE(guaranteed, k100G);
  EXPECT_GE(guaranteed, k100G - 10);  // rounding only
  // Lossless queues (priorities 3 and 4) get 40% each.
  EXPECT_EQ(config.queues[policy.tc_to_queue[3]].min_rate_bps, 40'000'000'000);
  EXPECT_EQ(config.external_ids.at("pulse-xoff-bytes"), std::to_string(port.headroom.xoff_bytes));
  EXPECT_EQ(config.external_ids.at("pulse-pfc-enable"), "3,4");

  std::vector<DscpFilter> filters = DscpFiltersFromPolicy(policy);
  ASSERT_EQ(filters.size(), 64u);  // every DSCP has its class, unmapped ones default_tc's
  for (const DscpFilter& f : filters) {
    if (f.dscp == 26) {
      EXPECT_EQ(f.class_minor, HtbClassMinorOfQueue(policy.tc_to_queue[3]));
    }
    if (f.dscp == 0) {
      ASSERT_EQ(policy.dscp_to_tc.count(0), 0u);
      EXPECT_EQ(f.class_minor, HtbClassMinorOfQueue(policy.tc_to_queue[policy.default_tc]));
    }
  }
}

TEST(OvsQosMappingTest, ShapedQueuesAreCappedAndTheirShareFitsUnderTheCap) {
  controller::QosPolicy policy = controller::DefaultQosPolicy();
  const int roce_queue = policy.tc_to_queue[3];
  const int best_effort_queue = policy.tc_to_queue[policy.default_tc];
  policy.queue_shaping_bps = {{roce_queue, 30'000'000'000},           // below its 40G share
                              {best_effort_queue, 200'000'000'000}};  // above the line
  auto plan = controller::PlanQos(OneLeafFabric(), policy);
  ASSERT_TRUE(plan.ok()) << plan.status();
  PortQosConfig config = PortQosConfigFromPlan(policy, plan->switches[0].ports[0], "p");
  EXPECT_EQ(config.queues[roce_queue].max_rate_bps, 30'000'000'000);
  EXPECT_EQ(config.queues[roce_queue].min_rate_bps, 30'000'000'000);    // not above its cap
  EXPECT_EQ(config.queues[best_effort_queue].max_rate_bps, k100G);      // never above the line
  EXPECT_EQ(config.queues[policy.tc_to_queue[4]].max_rate_bps, k100G);  // unshaped
  EXPECT_EQ(config.queues[policy.tc_to_queue[4]].min_rate_bps, 40'000'000'000);
}

absl::StatusOr<std::string> Sh(const std::vector<std::string>& argv) {
  return SystemCommandRunner()(argv);
}
std::string ShOk(const std::vector<std::string>& argv) {
  absl::StatusOr<std::string> out = Sh(argv);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? std::string(absl::StripAsciiWhitespace(*out)) : std::string();
}

class OvsQosDriverIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Sh({"ovs-vsctl", "--timeout=5", "show"}).ok()) {
      (void)Sh({"/usr/share/openvswitch/scripts/ovs-ctl", "start", "--system-id=random"});
      ASSERT_TRUE(Sh({"ovs-vsctl", "--timeout=5", "show"}).ok()) << "no Open vSwitch";
    }
    Cleanup();
    ShOk(
        {"ovs-vsctl", "add-br", "pqleaf", "--", "set", "bridge", "pqleaf", "datapath_type=netdev"});
    ShOk({"ip", "link", "add", "pqleaf-eth1", "type", "veth", "peer", "name", "pqpeer1"});
    ShOk({"ip", "link", "set", "pqleaf-eth1", "up"});
    ShOk({"ip", "link", "set", "pqpeer1", "up"});
    ShOk({"ovs-vsctl", "add-port", "pqleaf", "pqleaf-eth1", "--", "set", "interface", "pqleaf-eth1",
          "ofport_request=1"});
  }
  void TearDown() override { Cleanup(); }
  static void Cleanup() {
    {
      OvsdbClient client;
      if (client.Connect(kDefaultOvsdbEndpoint).ok()) (void)ClearPortQos(client, "pqleaf-eth1");
    }
    (void)Sh({"ovs-vsctl", "--if-exists", "del-br", "pqleaf"});
    (void)Sh({"ip", "link", "del", "pqleaf-eth1"});
  }
};

TEST_F(OvsQosDriverIntegrationTest, PushAuditDriftRepair) {
  topology::Fabric fabric = OneLeafFabric();
  auto plan = controller::PlanQos(fabric, controller::DefaultQosPolicy());
  ASSERT_TRUE(plan.ok()) << plan.status();
  OvsQosDriver driver;
  ASSERT_TRUE(driver.Connect(kDefaultOvsdbEndpoint).ok());
  absl::StatusOr<std::string> name = driver.ResolvePort("pqleaf", 1);
  ASSERT_TRUE(name.ok()) << name.status();
  EXPECT_EQ(*name, "pqleaf-eth1");
  EXPECT_FALSE(driver.ResolvePort("pqleaf", 7).ok());

  absl::StatusOr<int> pushed = driver.Apply(*plan);
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  EXPECT_EQ(*pushed, 1);
  const std::string qos = ShOk({"ovs-vsctl", "get", "port", "pqleaf-eth1", "qos"});
  EXPECT_EQ(ShOk({"ovs-vsctl", "get", "qos", qos, "type"}), "linux-htb");
  int audited = 0;
  auto clean = driver.Audit(&audited);
  ASSERT_TRUE(clean.ok()) << clean.status();
  EXPECT_EQ(audited, 1);
  EXPECT_TRUE(clean->empty()) << (*clean)[0].difference;

  // Hand changes: a queue's max-rate with ovs-vsctl and the DSCP filters with tc.
  const std::string queue3 = ShOk({"ovs-vsctl", "get", "qos", qos, "queues:3"});
  ShOk({"ovs-vsctl", "set", "queue", queue3, "other_config:max-rate=1000000"});
  ShOk({"tc", "filter", "del", "dev", "pqleaf-eth1", "parent", "1:", "prio", "1"});
  auto drift = driver.Audit();
  ASSERT_TRUE(drift.ok()) << drift.status();
  bool saw_queue = false, saw_tc = false;
  for (const OvsQosFinding& f : *drift) {
    EXPECT_EQ(f.switch_name, "pqleaf");
    EXPECT_EQ(f.port, 1);
    saw_queue |= absl::StrContains(f.difference, "max-rate");
    saw_tc |= absl::StrContains(f.difference, "dscp");
  }
  EXPECT_TRUE(saw_queue && saw_tc) << drift->size() << " differences";
  std::printf("drift found by audit: %zu differences\n", drift->size());

  // The watch repairs it without being asked.
  ASSERT_TRUE(driver.Watch(kDefaultOvsdbEndpoint, absl::Milliseconds(500)).ok());
  ShOk({"ovs-vsctl", "set", "queue", queue3, "other_config:max-rate=2000000"});
  bool repaired = false;
  for (int i = 0; i < 100 && !repaired; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto now = driver.Audit();
    repaired = driver.repairs() > 0 && now.ok() && now->empty();
  }
  EXPECT_TRUE(repaired) << "repairs " << driver.repairs();
  std::printf("repairs by watch: %lld\n", static_cast<long long>(driver.repairs()));
}

}  // namespace
}  // namespace pulse::southbound::ovsdb
