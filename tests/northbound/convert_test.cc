// JobSpec <-> pulse.v1.JobSpec, the API's wire form (northbound/convert.h).
#include "northbound/convert.h"

#include <string>

#include "gtest/gtest.h"

namespace pulse::northbound {
namespace {

TEST(JobSpecProtoTest, RoundTripsAndChecksValues) {
  controller::JobSpec spec;
  spec.id = "x";
  spec.endpoints = {"a", "b"};
  spec.pattern = controller::CollectivePattern::kExplicit;
  spec.explicit_flows = {{"a", "b", 5}};
  spec.traffic_class = 0;
  spec.max_subflows = 4;
  pulse::v1::JobSpec proto;
  JobSpecToProto(spec, &proto);
  auto back = JobSpecFromProto(proto);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->pattern, controller::CollectivePattern::kExplicit);
  EXPECT_EQ(back->traffic_class, 0);  // explicitly 0, not the default 3
  EXPECT_EQ(back->explicit_flows[0].rate_bps, 5);
  EXPECT_EQ(back->max_subflows, 4);
  proto.set_traffic_class(8);
  EXPECT_NE(JobSpecFromProto(proto).status().message().find("job.traffic_class"),
            std::string::npos);
}

TEST(JobSpecProtoTest, ApiDefaultsAndUnknownEnumValues) {
  pulse::v1::JobSpec proto;
  proto.set_id("r");
  proto.add_endpoints("a");
  proto.add_endpoints("b");
  auto spec = JobSpecFromProto(proto);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->pattern, controller::CollectivePattern::kRing);  // unspecified: ring
  EXPECT_EQ(spec->traffic_class, controller::kDefaultTrafficClass);
  EXPECT_EQ(spec->max_subflows, 1);  // 0: 1
  proto.set_pattern(static_cast<pulse::v1::CollectivePattern>(77));
  EXPECT_NE(JobSpecFromProto(proto).status().message().find("job.pattern"), std::string::npos);
  proto.set_pattern(pulse::v1::COLLECTIVE_PATTERN_RING);
  proto.set_enforcement(static_cast<pulse::v1::Enforcement>(9));
  EXPECT_NE(JobSpecFromProto(proto).status().message().find("job.enforcement"), std::string::npos);
}

}  // namespace
}  // namespace pulse::northbound
