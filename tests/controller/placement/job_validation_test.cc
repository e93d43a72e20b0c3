// One ValidateJobSpec with named limits (controller/placement/job_validation.h): each limit, at
// and beyond its bound, and the field named in the error.
#include "controller/placement/job_validation.h"

#include <cmath>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace pulse::controller {
namespace {

JobSpec Ring() {
  JobSpec spec;
  spec.id = "ring-1";
  spec.endpoints = {"server-0/gpu-0", "server-1/gpu-0"};
  return spec;
}

JobSpec Explicit() {
  JobSpec spec;
  spec.id = "x";
  spec.pattern = CollectivePattern::kExplicit;
  spec.explicit_flows = {{"server-0/gpu-0", "server-1/gpu-0", 0}};
  return spec;
}

void ExpectRefused(const JobSpec& spec, absl::string_view part, const JobSpecLimits& limits = {}) {
  absl::Status status = ValidateJobSpec(spec, limits);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << part;
  EXPECT_NE(status.message().find(part), absl::string_view::npos) << status;
}

TEST(JobValidationTest, GoodSpecsPass) {
  EXPECT_TRUE(ValidateJobSpec(Ring()).ok());
  EXPECT_TRUE(ValidateJobSpec(Explicit()).ok());
  JobSpec edge = Ring();
  edge.traffic_class = kMaxTrafficClass;
  edge.max_subflows = kMaxSubflows;
  edge.rate_bps = kMaxRateBps;
  edge.id = std::string(kMaxJobIdBytes, 'a');
  EXPECT_TRUE(ValidateJobSpec(edge).ok()) << ValidateJobSpec(edge);
  edge.traffic_class = kMinTrafficClass;
  edge.max_subflows = kMinSubflows;
  edge.rate_bps = 0;  // line rate
  EXPECT_TRUE(ValidateJobSpec(edge).ok());
}

TEST(JobValidationTest, TrafficClass) {
  EXPECT_EQ(kMaxTrafficClass, 7);
  JobSpec spec = Ring();
  spec.traffic_class = kMaxTrafficClass + 1;
  ExpectRefused(spec, "job.traffic_class: must be 0..7, got 8");
  spec.traffic_class = kMinTrafficClass - 1;
  ExpectRefused(spec, "job.traffic_class: must be 0..7, got -1");
  EXPECT_TRUE(ValidateTrafficClass(5, "tc").ok());
  EXPECT_NE(ValidateTrafficClass(8, "tc").message().find("tc: must be 0..7"), std::string::npos);
}

TEST(JobValidationTest, Subflows) {
  JobSpec spec = Ring();
  spec.max_subflows = kMaxSubflows + 1;
  ExpectRefused(spec, "job.max_subflows: must be 1..64, got 65");
  spec.max_subflows = kMinSubflows - 1;
  ExpectRefused(spec, "job.max_subflows: must be 1..64, got 0");
}

TEST(JobValidationTest, Id) {
  JobSpec spec = Ring();
  spec.id = "";
  ExpectRefused(spec, "job.id: must not be empty");
  spec.id = std::string(kMaxJobIdBytes + 1, 'a');
  ExpectRefused(spec, "job.id: longer than 128");
  EXPECT_TRUE(ValidateJobSpec(spec, kPlacementJobLimits).ok());
  for (const char* bad : {"a b", "a/b", "jobs\n", "ü"}) {
    spec.id = bad;
    ExpectRefused(spec, "job.id:");
    // Placement and stored records keep reading ids that were accepted before the rule.
    EXPECT_TRUE(ValidateJobSpec(spec, kPlacementJobLimits).ok()) << bad;
  }
}

TEST(JobValidationTest, RatesOfTheJobAndOfEachFlow) {
  for (double bad :
       {-1.0, std::nan(""), std::numeric_limits<double>::infinity(), kMaxRateBps * 2}) {
    JobSpec spec = Ring();
    spec.rate_bps = bad;
    ExpectRefused(spec, "job.rate_bps: must be a finite number >= 0");
    JobSpec flows = Explicit();
    flows.explicit_flows[0].rate_bps = bad;
    ExpectRefused(flows, "job.flows[0].rate_bps: must be a finite number >= 0");
  }
  EXPECT_TRUE(ValidateRateBps(100e9, "r").ok());
  EXPECT_FALSE(ValidateRateBps(-1, "r").ok());
}

TEST(JobValidationTest, EndpointsAndFlowCountsAgainstTheLimits) {
  JobSpecLimits limits;
  limits.max_endpoints = 3;
  limits.max_explicit_flows = 2;
  JobSpec spec = Ring();
  spec.endpoints = {"a", "b", "c"};
  EXPECT_TRUE(ValidateJobSpec(spec, limits).ok());
  spec.endpoints.push_back("d");
  ExpectRefused(spec, "job.endpoints: 4 endpoints exceed the limit of 3", limits);
  JobSpec flows = Explicit();
  flows.explicit_flows.push_back({"a", "b", 0});
  EXPECT_TRUE(ValidateJobSpec(flows, limits).ok());
  flows.explicit_flows.push_back({"b", "c", 0});
  ExpectRefused(flows, "job.flows: 3 flows exceed the limit of 2", limits);
  // The defaults are the hard limits.
  EXPECT_EQ(JobSpecLimits().max_endpoints, kMaxJobEndpoints);
  EXPECT_EQ(JobSpecLimits().max_explicit_flows, kMaxJobExplicitFlows);
}

TEST(JobValidationTest, CollectiveSizeAndDuplicates) {
  JobSpec spec = Ring();
  spec.endpoints = {};
  ExpectRefused(spec, "job.endpoints: empty job: no endpoints");
  spec.endpoints = {"server-0/gpu-0"};
  ExpectRefused(spec, "job.endpoints: a collective needs at least 2 endpoints, got 1");
  EXPECT_TRUE(ValidateJobSpec(spec, kPlacementJobLimits).ok());  // placement's probes
  spec.endpoints = {"a", "b", "a"};
  ExpectRefused(spec, "job.endpoints[2]: duplicate of job.endpoints[0] ('a' is listed twice)");
  spec.endpoints = {"a", ""};
  ExpectRefused(spec, "job.endpoints[1]: empty name");
}

TEST(JobValidationTest, PatternAndExplicitFlows) {
  JobSpec ring = Ring();
  ring.explicit_flows = {{"a", "b", 0}};
  ExpectRefused(ring, "job.flows: explicit flows need pattern explicit");
  JobSpec spec = Explicit();
  spec.explicit_flows.clear();
  ExpectRefused(spec, "job.flows: empty job");
  spec.explicit_flows = {{"a", "a", 0}};
  ExpectRefused(spec, "job.flows[0]: from 'a' to 'a' is a flow to itself");
  spec.explicit_flows = {{"a", "", 0}};
  ExpectRefused(spec, "job.flows[0].dst: empty name");
  JobSpec unknown = Ring();
  unknown.pattern = static_cast<CollectivePattern>(42);
  ExpectRefused(unknown, "job.pattern: unknown value 42");
  JobSpec enforcement = Ring();
  enforcement.enforcement = static_cast<Enforcement>(9);
  ExpectRefused(enforcement, "job.enforcement: unknown value 9");
}

TEST(JobValidationTest, FieldPrefixIsTheCallersNaming) {
  JobSpec spec = Ring();
  spec.traffic_class = 8;
  EXPECT_EQ(ValidateJobSpec(spec, {}, "").message(), "traffic_class: must be 0..7, got 8");
  EXPECT_EQ(ValidateJobSpec(spec, {}, "spec.").message(),
            "spec.traffic_class: must be 0..7, got 8");
}

}  // namespace
}  // namespace pulse::controller
