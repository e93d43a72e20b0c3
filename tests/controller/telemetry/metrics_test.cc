#include "controller/telemetry/metrics.h"

#include <cmath>
#include <limits>
#include <string>

#include "gtest/gtest.h"

namespace pulse::controller {
namespace {

bool Contains(const std::string& text, const std::string& line) {
  return text.find(line) != std::string::npos;
}

TEST(MetricsRegistryTest, RendersCountersAndGaugesWithHelpTypeAndEscapedLabels) {
  MetricsRegistry r;
  ASSERT_TRUE(
      r.RegisterCounter("pulse_things_total", "Things.\nSecond line \\ here", {"link"}).ok());
  ASSERT_TRUE(r.RegisterGauge("pulse_level", "A level.").ok());
  ASSERT_TRUE(r.IncrementCounter("pulse_things_total", {"leaf-1:3 -> spine-2:1"}, 2).ok());
  ASSERT_TRUE(r.IncrementCounter("pulse_things_total", {"leaf-1:3 -> spine-2:1"}).ok());
  ASSERT_TRUE(r.IncrementCounter("pulse_things_total", {"a\"b\\c\nd"}, 1.5).ok());
  ASSERT_TRUE(r.SetGauge("pulse_level", {}, 0.25).ok());
  ASSERT_TRUE(r.SetGauge("pulse_level", {}, -3).ok());
  const std::string text = r.RenderText();
  EXPECT_TRUE(Contains(text, "# HELP pulse_things_total Things.\\nSecond line \\\\ here\n"))
      << text;
  EXPECT_TRUE(Contains(text, "# TYPE pulse_things_total counter\n"));
  EXPECT_TRUE(Contains(text, "pulse_things_total{link=\"leaf-1:3 -> spine-2:1\"} 3\n")) << text;
  EXPECT_TRUE(Contains(text, "pulse_things_total{link=\"a\\\"b\\\\c\\nd\"} 1.5\n")) << text;
  EXPECT_TRUE(Contains(text, "# TYPE pulse_level gauge\npulse_level -3\n")) << text;
  // Families are sorted by name: pulse_level before pulse_things_total.
  EXPECT_LT(text.find("pulse_level"), text.find("pulse_things_total"));
  double v = 0;
  ASSERT_TRUE(r.GetValue("pulse_things_total", {"leaf-1:3 -> spine-2:1"}, &v).ok());
  EXPECT_EQ(v, 3);
}

TEST(MetricsRegistryTest, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  MetricsRegistry r;
  ASSERT_TRUE(r.RegisterHistogram("rpc_seconds", "Latency.", {0.1, 1, 10}, {"method"}).ok());
  for (double v : {0.05, 0.1, 0.5, 5.0, 50.0}) {
    ASSERT_TRUE(r.ObserveHistogram("rpc_seconds", {"PlaceJob"}, v).ok());
  }
  const std::string text = r.RenderText();
  EXPECT_TRUE(Contains(text, "# TYPE rpc_seconds histogram\n"));
  EXPECT_TRUE(Contains(text, "rpc_seconds_bucket{method=\"PlaceJob\",le=\"0.1\"} 2\n")) << text;
  EXPECT_TRUE(Contains(text, "rpc_seconds_bucket{method=\"PlaceJob\",le=\"1\"} 3\n")) << text;
  EXPECT_TRUE(Contains(text, "rpc_seconds_bucket{method=\"PlaceJob\",le=\"10\"} 4\n")) << text;
  EXPECT_TRUE(Contains(text, "rpc_seconds_bucket{method=\"PlaceJob\",le=\"+Inf\"} 5\n")) << text;
  EXPECT_TRUE(Contains(text, "rpc_seconds_sum{method=\"PlaceJob\"} 55.65\n")) << text;
  EXPECT_TRUE(Contains(text, "rpc_seconds_count{method=\"PlaceJob\"} 5\n")) << text;
}

TEST(MetricsRegistryTest, RejectsBadNamesLabelsTypesAndValues) {
  MetricsRegistry r;
  EXPECT_EQ(r.RegisterCounter("9starts_with_digit", "x").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.RegisterCounter("has-dash", "x").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.RegisterCounter("ok_total", "x", {"__reserved"}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.RegisterHistogram("h", "x", {1, 2}, {"le"}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.RegisterHistogram("h", "x", {2, 1}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.RegisterHistogram("h", "x", {}).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(r.RegisterCounter("c_total", "x", {"a"}).ok());
  EXPECT_TRUE(r.RegisterCounter("c_total", "x", {"a"}).ok());  // same definition
  EXPECT_EQ(r.RegisterGauge("c_total", "x", {"a"}).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(r.IncrementCounter("c_total", {"x"}, -1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.IncrementCounter("c_total", {"x"}, std::nan("")).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.IncrementCounter("c_total", {}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.SetGauge("c_total", {"x"}, 1).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.SetGauge("missing", {}, 1).code(), absl::StatusCode::kNotFound);
  // Nothing of the failed calls reached the exposition.
  EXPECT_EQ(r.RenderText(), "# HELP c_total x\n# TYPE c_total counter\n");
  ASSERT_TRUE(r.IncrementCounter("c_total", {"x"}).ok());
  r.RemoveSeries("c_total", {"x"});
  EXPECT_EQ(r.RenderText(), "# HELP c_total x\n# TYPE c_total counter\n");
}

TEST(MetricsFormatTest, ValuesAndEscaping) {
  EXPECT_EQ(FormatMetricValue(3), "3");
  EXPECT_EQ(FormatMetricValue(0.9), "0.9");
  EXPECT_EQ(FormatMetricValue(123456789012345.0), "123456789012345");
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatMetricValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatMetricValue(std::nan("")), "NaN");
  EXPECT_EQ(EscapeLabelValue("plain"), "plain");
  EXPECT_EQ(EscapeLabelValue("q\"b\\n\n"), "q\\\"b\\\\n\\n");
}

TEST(PulseMetricsTest, HooksWriteTheDocumentedFamilies) {
  MetricsRegistry r;
  ASSERT_TRUE(RegisterPulseMetrics(r).ok());
  ASSERT_TRUE(RegisterPulseMetrics(r).ok());  // idempotent
  PulseMetrics m(&r);
  ASSERT_TRUE(m.SetLinkUtilisation("leaf-0:5 -> spine-0:1", 0.93).ok());
  ASSERT_TRUE(m.AddLinkDrops("leaf-0:5 -> spine-0:1", 12).ok());
  ASSERT_TRUE(m.AddPfcPauseFrames("leaf-0:5 -> spine-0:1", 3, 7).ok());
  ASSERT_TRUE(m.AddEcnMarkedPackets("leaf-0:5 -> spine-0:1", 40).ok());
  ASSERT_TRUE(m.ObserveRpcLatency("PlaceJob", 0.003).ok());
  ASSERT_TRUE(m.AddFlowMods("leaf-0", 4).ok());
  ASSERT_TRUE(m.SetEventLoopLag(0.0125).ok());
  ASSERT_TRUE(m.SetConnectedSwitches(6).ok());
  ASSERT_TRUE(m.AddFlowMoves("congestion").ok());
  const std::string text = r.RenderText();
  for (const char* line : {
           "pulse_link_utilisation{link=\"leaf-0:5 -> spine-0:1\"} 0.93\n",
           "pulse_link_drops_total{link=\"leaf-0:5 -> spine-0:1\"} 12\n",
           "pulse_pfc_pause_frames_total{link=\"leaf-0:5 -> spine-0:1\",priority=\"3\"} 7\n",
           "pulse_ecn_marked_packets_total{link=\"leaf-0:5 -> spine-0:1\"} 40\n",
           "pulse_rpc_latency_seconds_bucket{method=\"PlaceJob\",le=\"0.0025\"} 0\n",
           "pulse_rpc_latency_seconds_bucket{method=\"PlaceJob\",le=\"0.005\"} 1\n",
           "pulse_flow_mods_total{switch=\"leaf-0\"} 4\n",
           "pulse_event_loop_lag_seconds 0.0125\n",
           "pulse_connected_switches 6\n",
           "pulse_flow_moves_total{reason=\"congestion\"} 1\n",
       }) {
    EXPECT_TRUE(Contains(text, line)) << "missing: " << line << "\n" << text;
  }
}

}  // namespace
}  // namespace pulse::controller
