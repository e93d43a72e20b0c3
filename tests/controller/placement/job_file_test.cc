#include "controller/placement/job_file.h"

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

namespace pulse::controller {
namespace {

void ExpectError(absl::string_view yaml, absl::string_view text) {
  auto spec = ParseJobYaml(yaml, "job.yaml");
  ASSERT_FALSE(spec.ok()) << yaml;
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(spec.status().message().find(text), absl::string_view::npos) << spec.status();
}

TEST(JobFileTest, ParsesEveryField) {
  auto spec = ParseJobYaml(R"(
id: moe
pattern: all-to-all
endpoints:
  - server-[0-1]/gpu-[0-2]
  - server-9/nic-0
rate: 200Gbps
strict: true
max_subflows: 4
traffic_class: 5
)",
                           "job.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->id, "moe");
  EXPECT_EQ(spec->pattern, CollectivePattern::kAllToAll);
  std::vector<std::string> want = {"server-0/gpu-0", "server-0/gpu-1", "server-0/gpu-2",
                                   "server-1/gpu-0", "server-1/gpu-1", "server-1/gpu-2",
                                   "server-9/nic-0"};
  EXPECT_EQ(spec->endpoints, want);
  EXPECT_DOUBLE_EQ(spec->rate_bps, 200e9);
  EXPECT_TRUE(spec->strict);
  EXPECT_EQ(spec->max_subflows, 4);
  EXPECT_EQ(spec->traffic_class, 5);
}

TEST(JobFileTest, ExplicitFlowsAndDefaults) {
  auto spec = ParseJobYaml(R"(
id: x
pattern: explicit
flows:
  - {src: server-0/gpu-0, dst: server-1/gpu-0}
  - {src: server-1/gpu-0, dst: server-0/gpu-0, rate: 25G}
)",
                           "job.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_EQ(spec->explicit_flows.size(), 2u);
  EXPECT_EQ(spec->explicit_flows[0].src, "server-0/gpu-0");
  EXPECT_EQ(spec->explicit_flows[0].rate_bps, 0);  // the job's rate
  EXPECT_DOUBLE_EQ(spec->explicit_flows[1].rate_bps, 25e9);
  EXPECT_EQ(spec->rate_bps, 0);  // line rate
  EXPECT_FALSE(spec->strict);
  EXPECT_EQ(spec->max_subflows, 1);
}

TEST(JobFileTest, ErrorsNameFileLineAndField) {
  ExpectError("id: a\npattern: ring\nendpoints: [server-0/gpu-0]\nrate: fast\n",
              "job.yaml:4: rate:");
  ExpectError("id: a\npattern: ring\nendpoints: [server-0/gpu-0]\nrate: 0\n", "must be > 0");
  ExpectError("id: a\npattern: ring\nendpoints: [server-0/gpu-0]\nrate: -5G\n", "job.yaml:4: rate");
  ExpectError("id: a\npattern: ring\nendpoints: [server-0/gpu-0]\ncolour: red\n",
              "job.yaml:4: colour: unknown key");
  ExpectError("id: a\npattern: spiral\nendpoints: [x]\n", "job.yaml:2: pattern");
  ExpectError("id: a\npattern: ring\n", "endpoints: empty job");
  ExpectError("pattern: ring\nendpoints: [x]\n", "id: missing");
  ExpectError("id: a\npattern: ring\nendpoints: [\"server-[3-1]/gpu-0\"]\n",
              "job.yaml:3: endpoints[0]: range");
  ExpectError("id: a\npattern: ring\nendpoints: [\"server-[0-1/gpu-0\"]\n", "unbalanced");
  ExpectError("id: a\npattern: explicit\n", "flows: pattern explicit needs");
  ExpectError("id: a\npattern: ring\nendpoints: [x]\nflows: []\n", "only allowed with pattern");
  ExpectError("id: a\npattern: explicit\nflows:\n  - {src: x}\n",
              "job.yaml:4: flows[0].dst: missing");
  ExpectError("id: a\npattern: explicit\nflows:\n  - {src: x, dst: y, qp: 3}\n",
              "flows[0].qp: unknown key");
  ExpectError("id: a\npattern: ring\nendpoints: [x]\nmax_subflows: 0\n", "max_subflows");
  ExpectError("id: a\npattern: ring\nendpoints: [x]\nstrict: maybe\n", "job.yaml:4: strict");
  ExpectError("id: [a\n", "job.yaml:");  // malformed YAML
  ExpectError("- just a list\n", "expected a mapping");
}

TEST(JobFileTest, RatesAndRanges) {
  EXPECT_DOUBLE_EQ(*ParseRateBps("400G"), 400e9);
  EXPECT_DOUBLE_EQ(*ParseRateBps("1.6T"), 1.6e12);
  EXPECT_DOUBLE_EQ(*ParseRateBps("800Mbps"), 800e6);
  EXPECT_DOUBLE_EQ(*ParseRateBps("12345"), 12345);
  EXPECT_FALSE(ParseRateBps("").ok());
  EXPECT_FALSE(ParseRateBps("G").ok());
  EXPECT_FALSE(ParseRateBps("nan").ok());
  EXPECT_EQ(ExpandEndpointRange("server-4/nic-0")->size(), 1u);
  EXPECT_EQ(ExpandEndpointRange("s[0-9]g[0-7]")->size(), 80u);
  EXPECT_FALSE(ExpandEndpointRange("s[a-b]").ok());
  EXPECT_FALSE(ExpandEndpointRange("s]").ok());
  EXPECT_FALSE(ExpandEndpointRange("s[0-2000000]").ok());  // too many
  EXPECT_FALSE(ExpandEndpointRange("").ok());
}

TEST(JobFileTest, ExampleJobsParse) {
  const char* root = std::getenv("PULSE_SOURCE_DIR");
  ASSERT_NE(root, nullptr);
  for (const char* name : {"examples/ring.yaml", "examples/alltoall.yaml"}) {
    auto spec = LoadJobFile(std::string(root) + "/" + name);
    ASSERT_TRUE(spec.ok()) << name << ": " << spec.status();
    EXPECT_EQ(spec->endpoints.size(), 8u);
  }
  EXPECT_EQ(LoadJobFile("/nonexistent/job.yaml").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace pulse::controller
