#include "controller/qos/qos_policy.h"

#include <string>

#include "gtest/gtest.h"

namespace pulse::controller {
namespace {

bool Contains(const absl::Status& s, absl::string_view text) {
  return s.message().find(text) != absl::string_view::npos;
}

TEST(QosPolicyTest, DefaultsAreTheUsualRoceLayout) {
  QosPolicy p = DefaultQosPolicy();
  ASSERT_TRUE(ValidateQosPolicy(p).ok()) << ValidateQosPolicy(p);
  EXPECT_EQ(p.lossless_priorities, (std::vector<int>{3, 4}));
  EXPECT_EQ(TrafficClassOfDscp(p, 3), 3);
  EXPECT_EQ(TrafficClassOfDscp(p, 4), 4);
  EXPECT_EQ(TrafficClassOfDscp(p, 26), 3);
  EXPECT_EQ(TrafficClassOfDscp(p, 46), 5);
  EXPECT_EQ(TrafficClassOfDscp(p, 48), 6);
  EXPECT_EQ(TrafficClassOfDscp(p, 8), 0);
  EXPECT_EQ(TrafficClassOfDscp(p, 0), 1);
  EXPECT_EQ(TrafficClassOfDscp(p, 63), 1);
  EXPECT_EQ(p.cnp_dscp, 48);
  EXPECT_EQ(p.cnp_priority, 6);
  EXPECT_TRUE(IsLosslessPriority(p, 3));
  EXPECT_FALSE(IsLosslessPriority(p, 6));
  const EcnProfile* e = FindEcnProfile(p, "spectrum4", 400000000000LL);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->kmin_bytes, 1 << 20);
  EXPECT_EQ(e->kmax_bytes, 2 << 20);
  EXPECT_EQ(e->pmax_percent, 5);
  EXPECT_EQ(p.pfc_watchdog.detection_time_ms, 200);
}

TEST(QosPolicyTest, ParsesFullYaml) {
  absl::StatusOr<QosPolicy> p = ParseQosPolicyYaml(R"(
lossless_priorities: [3]
dscp_to_tc: {26: 3, 48: 6, 46: 5}
default_tc: 0
tc_to_pg: {3: 3}
tc_to_queue: {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7}
cnp: {dscp: 48, priority: 6}
asic: th5
asic_profiles:
  - {name: th5, cell_bytes: 254, pipeline_latency_bytes: 20480, mac_phy_delay_bytes: 1000,
     extra_latency_ns: 0, lossless_mtu_bytes: 1024, max_headroom_bytes: 2000000,
     pool_size_bytes: 100000000,
     platform_pools: {ingress_lossless_bytes: 52161690, egress_lossy_bytes: 30000000}}
ecn_profiles:
  - {asic: th5, speed_gbps: 400, kmin_bytes: 131072, kmax_bytes: 262144, pmax_percent: 5}
pfc_watchdog: {action: alert, detection_time_ms: 400, restoration_time_ms: 2000, poll_ms: 100}
port_mtu_bytes: 4200
default_cable_length_m: {nic_leaf: 3, leaf_spine: 30, spine_superspine: 500}
pg_dynamic_th: 1
)");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->lossless_priorities, std::vector<int>{3});
  EXPECT_EQ(TrafficClassOfDscp(*p, 26), 3);
  EXPECT_EQ(TrafficClassOfDscp(*p, 4), 0);
  EXPECT_EQ(p->asic, "th5");
  ASSERT_EQ(p->asic_profiles.size(), 1u);
  EXPECT_EQ(p->asic_profiles[0].cell_bytes, 254);
  EXPECT_EQ(p->asic_profiles[0].platform_pools.ingress_lossless_bytes, 52161690);
  EXPECT_EQ(p->asic_profiles[0].platform_pools.egress_lossy_bytes, 30000000);
  EXPECT_EQ(p->asic_profiles[0].platform_pools.ingress_lossy_bytes, 0);
  EXPECT_EQ(PlanningPoolBytes(p->asic_profiles[0]), 52161690);
  const EcnProfile* e = FindEcnProfile(*p, "th5", 400000000000LL);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->kmin_bytes, 131072);
  EXPECT_EQ(FindEcnProfile(*p, "th5", 100000000000LL), nullptr);
  EXPECT_EQ(p->pfc_watchdog.action, PfcWatchdogAction::kAlert);
  EXPECT_EQ(p->pfc_watchdog.restoration_time_ms, 2000);
  EXPECT_EQ(p->port_mtu_bytes, 4200);
  EXPECT_EQ(p->default_cable_lengths.spine_superspine_m, 500);
  EXPECT_EQ(p->pg_dynamic_th, 1);
}

TEST(QosPolicyTest, QueueShapingReadsRatesPerQueue) {
  absl::StatusOr<QosPolicy> policy = ParseQosPolicyYaml("queue_shaping: {3: 40G, 0: 250M}\n");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->queue_shaping_bps,
            (std::map<int, int64_t>{{0, 250'000'000}, {3, 40'000'000'000}}));
  EXPECT_TRUE(DefaultQosPolicy().queue_shaping_bps.empty());  // line rate unless asked
}

TEST(QosPolicyTest, EmptyYamlGivesDefaults) {
  absl::StatusOr<QosPolicy> p = ParseQosPolicyYaml("");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->lossless_priorities, (std::vector<int>{3, 4}));
}

struct BadCase {
  const char* yaml;
  const char* expect;  // text the error must contain
};

TEST(QosPolicyTest, RefusesBadInputWithClearMessages) {
  const BadCase cases[] = {
      {"lossless_prioritys: [3]", "'lossless_prioritys' (line 1): unknown key"},
      {"port_mtu_bytes: 9100\ndefault_tc: abc", "'default_tc' (line 2)"},
      {"lossless_priorities: 3", "expected a list"},
      {"lossless_priorities: [3, 9]", "lossless priority 9 is not a priority"},
      {"lossless_priorities: [3, 3]", "listed twice"},
      {"dscp_to_tc: {64: 3}", "dscp_to_tc key 64 is not a DSCP"},
      {"dscp_to_tc: {-1: 3}", "is not a DSCP"},
      {"dscp_to_tc: {26: 3, 26: 4}", "mapped twice"},
      {"dscp_to_tc: {26: 8}", "dscp_to_tc[26]"},
      {"tc_to_pg: {3: 3, 4: 3}", "shares priority group 3"},
      {"tc_to_pg: {3: 3, 4: 4, 1: 4}", "shares priority group 4"},
      {"tc_to_queue: {0: 3, 3: 3, 4: 4}", "shares queue 3"},
      {"tc_to_pg: {3: 3}", "lossless traffic class 4 has no tc_to_pg"},
      {"cnp: {dscp: 48, priority: 3}", "is a lossless priority"},
      {"cnp: {dscp: 40, priority: 6}", "contradicting maps"},
      {"cnp: {dscp: 70}", "not a DSCP"},
      {"default_tc: 3", "default_tc 3 is lossless"},
      {"ecn_profiles: [{asic: spectrum4, kmin_bytes: 2000, kmax_bytes: 1000, pmax_percent: 5}]",
       "thresholds out of order"},
      {"ecn_profiles: [{asic: spectrum4, kmin_bytes: 1000, kmax_bytes: 2000, pmax_percent: 0}]",
       "pmax_percent 0"},
      {"ecn_profiles: [{asic: other, kmin_bytes: 1000, kmax_bytes: 2000, pmax_percent: 5}]",
       "unknown asic"},
      {"ecn_profiles: [{asic: spectrum4, kmin: 1}]", "'ecn_profiles[0].kmin' (line 1): unknown"},
      {"pfc_watchdog: {detection_time_ms: 50}", "detection_time_ms 50 ms is outside"},
      {"pfc_watchdog: {restoration_time_ms: 70000}", "restoration_time_ms 70000"},
      {"pfc_watchdog: {poll_ms: 2000}", "poll_ms 2000"},
      {"pfc_watchdog: {poll_ms: 500, detection_time_ms: 300, restoration_time_ms: 600}",
       "detection_time_ms 300 ms is shorter than pfc_watchdog.poll_ms 500"},
      {"pfc_watchdog: {poll_ms: 500, detection_time_ms: 600, restoration_time_ms: 400}",
       "restoration_time_ms 400 ms is shorter than pfc_watchdog.poll_ms 500"},
      {"asic_profiles: [{name: spectrum4, cell_bytes: 192, pipeline_latency_bytes: 19456, "
       "lossless_mtu_bytes: 1024, max_headroom_bytes: 1048576, pool_size_bytes: 67108864, "
       "platform_pools: {ingress_lossy: 5}}]",
       "'asic_profiles[0].platform_pools.ingress_lossy' (line 1): unknown"},
      {"pfc_watchdog: {action: reboot}", "'reboot' is not one of drop, forward, alert"},
      {"default_cable_length_m: {leaf_spine: 0}", "leaf_spine 0 m is not in"},
      {"default_cable_length_m: {spine_superspine: 50000}", "spine_superspine 50000 m"},
      {"asic: nope", "asic 'nope' has no asic profile"},
      {"port_mtu_bytes: 100", "port_mtu_bytes 100"},
      {"queue_shaping: {3: fast}", "'queue_shaping.3' (line 1): 'fast' is not a rate"},
      {"queue_shaping: {3: 0}", "is not a rate"},
      {"queue_shaping: {9: 10G}", "queue_shaping key 9 is not a queue"},
      {"queue_shaping: {3: 10G, 3: 20G}", "queue 3 shaped twice"},
      {"queue_shaping: [10G]", "expected a mapping of queue: rate"},
      {"lossless_priorities: [3, 4\n", "YAML syntax error"},
      {"- a\n- b", "expected a mapping"},
  };
  for (const BadCase& c : cases) {
    absl::StatusOr<QosPolicy> p = ParseQosPolicyYaml(c.yaml);
    ASSERT_FALSE(p.ok()) << "accepted: " << c.yaml;
    EXPECT_TRUE(Contains(p.status(), c.expect))
        << "yaml: " << c.yaml << "\nerror: " << p.status() << "\nwanted: " << c.expect;
  }
}

}  // namespace
}  // namespace pulse::controller
