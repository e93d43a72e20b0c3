#include "northbound/pulsectl_format.h"

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace pulse::northbound {
namespace {

TEST(FormatTableTest, PadsColumnsToTheWidestCellWithoutTrailingSpaces) {
  const std::string table =
      FormatTable({"NAME", "X"}, {{"leaf-10", "1"}, {"a", "22"}, {"short-row"}});
  EXPECT_EQ(table,
            "NAME       X\n"
            "leaf-10    1\n"
            "a          22\n"
            "short-row\n");
}

TEST(FormatTableTest, HeaderOnlyWhenNoRows) { EXPECT_EQ(FormatTable({"A", "B"}, {}), "A  B\n"); }

TEST(FormatBpsTest, ScalesByPowersOfAThousand) {
  EXPECT_EQ(FormatBps(400e9), "400G");
  EXPECT_EQ(FormatBps(12.5e9), "12.5G");
  EXPECT_EQ(FormatBps(1.6e12), "1.6T");
  EXPECT_EQ(FormatBps(2.5e6), "2.5M");
  EXPECT_EQ(FormatBps(0), "0");
}

TEST(FormatPercentTest, OneDecimal) {
  EXPECT_EQ(FormatPercent(0.4567), "45.7%");
  EXPECT_EQ(FormatPercent(1.0), "100.0%");
}

TEST(FormatJobTest, OneRowPerFlowWithHopsAndPort) {
  pulse::v1::Job job;
  job.mutable_spec()->set_id("j");
  job.mutable_spec()->set_pattern(pulse::v1::COLLECTIVE_PATTERN_ALL_TO_ALL);
  job.mutable_spec()->add_endpoints("server-0/gpu-0");
  job.mutable_spec()->add_endpoints("server-1/gpu-0");
  job.set_max_link_load(0.5);
  job.set_lower_bound(0.25);
  pulse::v1::Flow* flow = job.add_flows();
  flow->set_src("server-0/nic-0");
  flow->set_dst("server-1/nic-0");
  flow->set_rate_bps(100e9);
  flow->set_udp_src_port(49153);
  flow->add_hops()->set_switch_name("leaf-0");
  flow->add_hops()->set_switch_name("spine-1");
  flow->add_hops()->set_switch_name("leaf-1");
  std::string text = FormatJob(job);
  EXPECT_NE(text.find("predicted bus bandwidth: not computed\n"), std::string::npos) << text;
  job.set_bandwidth_predicted(true);
  job.set_predicted_busbw_fraction(1.0);
  job.set_ecmp_busbw_fraction(0.593);
  job.set_ecmp_qps(4);
  job.set_ideal_completion_seconds(1);
  job.set_predicted_completion_seconds(1);
  job.set_ecmp_completion_seconds(1.686);
  text = FormatJob(job);
  EXPECT_NE(text.find("predicted bus bandwidth 100.0% of line rate (ECMP with 4 QPs: 59.3%); "
                      "completion 1.000 s vs ideal 1.000 s, ECMP 1.686 s\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("measured bus bandwidth: no counters yet\n"), std::string::npos) << text;
  job.set_bandwidth_measured(true);
  job.set_measured_busbw_fraction(0.5);
  job.set_delivered_fraction(0.75);
  job.set_delivered_rate_bps(75e9);
  job.set_planned_rate_bps(100e9);
  job.set_flows_measured(1);
  job.set_flows_on_fabric(1);
  job.set_measured_age_seconds(0.4);
  text = FormatJob(job);
  EXPECT_NE(text.find("measured bus bandwidth 50.0% of line rate (slowest flow); delivered 75G "
                      "of 100G planned (75.0%) over 1 of 1 flows, 0.4 s ago\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.rfind("job j: all-to-all, 2 endpoints, 1 flows, max link load 50.0% "
                       "(lower bound 25.0%)\n",
                       0),
            0u)
      << text;
  EXPECT_NE(text.find("server-0/nic-0  server-1/nic-0  100G  0      0        "
                      "leaf-0 > spine-1 > leaf-1  49153"),
            std::string::npos)
      << text;
}

TEST(FormatEventTest, TypeWithoutPrefixAndUtcTime) {
  pulse::v1::Event event;
  event.set_sequence(7);
  event.set_time_unix_ms(0);
  event.set_type(pulse::v1::EVENT_TYPE_SWITCH_DRAINED);
  event.set_subject("spine-0");
  event.set_detail("3 flows moved");
  EXPECT_EQ(FormatEvent(event),
            "7  1970-01-01T00:00:00.000Z  SWITCH_DRAINED  spine-0  3 flows moved\n");
}

TEST(FormatLinkLoadsTest, MeasuredNextToPlannedAndDashWhenUnmeasured) {
  google::protobuf::RepeatedPtrField<pulse::v1::LinkLoad> links;
  pulse::v1::LinkLoad* measured = links.Add();
  measured->set_name("leaf-0:3 -> spine-0:1");
  measured->set_capacity_bps(10000000000);
  measured->set_planned_load_bps(5e9);
  measured->set_planned_utilisation(0.5);
  measured->set_measured_load_bps(8e9);
  measured->set_measured_utilisation(0.8);
  measured->set_up(true);
  measured->set_usable(true);
  pulse::v1::LinkLoad* unmeasured = links.Add();
  unmeasured->set_name("spine-0:1 -> leaf-0:3");
  unmeasured->set_capacity_bps(10000000000);
  const std::string text = FormatLinkLoads(links);
  std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << text;
  EXPECT_NE(lines[0].find("MEASURED_UTIL"), std::string::npos) << text;
  std::vector<std::string> first = absl::StrSplit(lines[1], ' ', absl::SkipEmpty());
  std::vector<std::string> second = absl::StrSplit(lines[2], ' ', absl::SkipEmpty());
  // LINK is three words ("leaf-0:3 -> spine-0:1"): columns 3.. are the numbers.
  ASSERT_GE(first.size(), 10u) << text;
  ASSERT_GE(second.size(), 10u) << text;
  EXPECT_EQ(first[6], "8Gbps") << text;
  EXPECT_EQ(first[7], "80.0%") << text;
  EXPECT_EQ(second[6], "-") << text;
  EXPECT_EQ(second[7], "-") << text;
  // No switch counts PFC/ECN on these links: dashes.
  EXPECT_EQ(first[10], "-") << text;
  EXPECT_EQ(second[12], "-") << text;
}

// MEASURED carries its unit as PLANNED does, also for loads under 1 Kbit/s; PFC and ECN totals
// from the SONiC counters have their own columns.
TEST(FormatLinkLoadsTest, MeasuredHasUnitsAndPfcEcnColumns) {
  google::protobuf::RepeatedPtrField<pulse::v1::LinkLoad> links;
  pulse::v1::LinkLoad* link = links.Add();
  link->set_name("leaf-0:2 -> spine-0:1");
  link->set_capacity_bps(400000000000);
  link->set_planned_load_bps(100e9);
  link->set_planned_utilisation(0.25);
  link->set_measured_load_bps(480);
  link->set_measured_utilisation(1.2e-9);
  link->set_up(true);
  link->set_usable(false);
  link->set_pfc_pause_rx_frames(1234567);
  link->set_pfc_pause_tx_frames(0);
  link->set_ecn_marked_packets(42);
  const std::string text = FormatLinkLoads(links);
  std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << text;
  EXPECT_NE(lines[0].find("PFC_RX"), std::string::npos) << text;
  EXPECT_NE(lines[0].find("ECN_MARKED"), std::string::npos) << text;
  std::vector<std::string> row = absl::StrSplit(lines[1], ' ', absl::SkipEmpty());
  ASSERT_EQ(row.size(), 13u) << text;
  EXPECT_EQ(row[3], "400Gbps") << text;
  EXPECT_EQ(row[4], "100Gbps") << text;
  EXPECT_EQ(row[6], "480bps") << text;
  EXPECT_EQ(row[10], "1.235M") << text;
  EXPECT_EQ(row[11], "0") << text;
  EXPECT_EQ(row[12], "42") << text;
}

TEST(ToJsonTest, ParsesBackAndIncludesDefaults) {
  pulse::v1::LinkLoad link;
  link.set_name("leaf-0:3 -> spine-0:1");
  link.set_capacity_bps(100000000000);
  absl::StatusOr<std::string> pretty = ToJson(link, /*one_line=*/false);
  ASSERT_TRUE(pretty.ok()) << pretty.status();
  nlohmann::json parsed = nlohmann::json::parse(*pretty);
  EXPECT_EQ(parsed["name"], "leaf-0:3 -> spine-0:1");
  EXPECT_EQ(parsed["capacityBps"], "100000000000");  // int64 is a string in proto JSON
  EXPECT_EQ(parsed["up"], false);                    // defaults are printed
  EXPECT_FALSE(parsed.contains("measuredLoadBps"));  // unset optional stays absent
  absl::StatusOr<std::string> line = ToJson(link, /*one_line=*/true);
  ASSERT_TRUE(line.ok());
  EXPECT_EQ(line->find('\n'), line->size() - 1);
}

pulse::v1::GetJobSteeringResponse SteeringOf(bool steered) {
  pulse::v1::GetJobSteeringResponse r;
  r.set_job_id("j");
  r.set_steered(steered);
  auto add = [&](const char* src_ip, const char* dst_ip, uint32_t port, int subflow) {
    pulse::v1::SteeredFlow* f = r.add_flows();
    f->set_flow_index(r.flows_size() - 1);
    f->set_src(std::string("nic-") + src_ip);
    f->set_dst(std::string("nic-") + dst_ip);
    f->set_src_ip(src_ip);
    f->set_dst_ip(dst_ip);
    f->set_subflow(subflow);
    f->set_udp_src_port(port);
  };
  add("10.1.0.1", "10.1.1.1", 49152, 0);
  add("10.1.0.1", "10.1.1.1", 49160, 1);
  add("10.1.1.1", "10.1.0.1", 49153, 0);
  r.mutable_nccl()->set_ib_qps_per_connection(2);
  r.mutable_nccl()->set_ib_gid_index(3);
  r.mutable_nccl()->set_dscp(26);
  r.mutable_nccl()->set_ib_tc(104);
  return r;
}

TEST(FormatSteeringTest, HcclOneLinePerPairNcclEnvironment) {
  auto hccl = FormatSteering(SteeringOf(true), "hccl");
  ASSERT_TRUE(hccl.ok()) << hccl.status();
  EXPECT_EQ(*hccl, "10.1.0.1,10.1.1.1=49152,49160\n10.1.1.1,10.1.0.1=49153\n");
  auto nccl = FormatSteering(SteeringOf(true), "nccl");
  ASSERT_TRUE(nccl.ok());
  EXPECT_EQ(*nccl, "NCCL_IB_QPS_PER_CONNECTION=2\nNCCL_IB_GID_INDEX=3\nNCCL_IB_TC=104\n");
  auto json = FormatSteering(SteeringOf(true), "json");
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(nlohmann::json::parse(*json)["flows"][1]["udpSrcPort"], 49160);
}

TEST(FormatSteeringTest, RefusesWhatHcclCannotTake) {
  EXPECT_EQ(FormatSteering(SteeringOf(false), "hccl").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(FormatSteering(SteeringOf(true), "yaml").status().code(),
            absl::StatusCode::kInvalidArgument);
  pulse::v1::GetJobSteeringResponse many = SteeringOf(true);
  for (int i = 0; i < 40; ++i) {
    pulse::v1::SteeredFlow* f = many.add_flows();
    *f = many.flows(0);
    f->set_udp_src_port(50000 + i);
  }
  auto too_many = FormatSteering(many, "hccl");
  ASSERT_FALSE(too_many.ok());
  EXPECT_NE(too_many.status().message().find("10.1.0.1,10.1.1.1"), std::string::npos);
}

}  // namespace
}  // namespace pulse::northbound
