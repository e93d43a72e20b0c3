// The private storage records (controller/store/placement_record.h): round trips, the old
// pulse.v1 values still read, and damaged or foreign bytes refused with DataLoss naming the key.
#include "controller/store/placement_record.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "controller/placement/placement.h"
#include "gtest/gtest.h"
#include "pulse/v1/pulse.pb.h"
#include "tests/northbound/test_fabric.h"

namespace pulse::controller {
namespace {

JobSpec Ring(const std::string& id, std::vector<std::string> endpoints) {
  JobSpec spec;
  spec.id = id;
  spec.endpoints = std::move(endpoints);
  spec.rate_bps = 10e9;
  return spec;
}

// What controllers before the private format wrote under "placements/<id>": pulse.v1.Job with the
// spec as the API carries it and hops as "<tail node>:<tail port>" (frozen here on purpose).
std::string LegacyPlacementBytes(const topology::Fabric& fabric, const JobPlacement& job) {
  pulse::v1::Job proto;
  pulse::v1::JobSpec* spec = proto.mutable_spec();
  spec->set_id(job.spec.id);
  for (const std::string& e : job.spec.endpoints) spec->add_endpoints(e);
  spec->set_pattern(pulse::v1::COLLECTIVE_PATTERN_RING);
  spec->set_rate_bps(job.spec.rate_bps);
  spec->set_traffic_class(job.spec.traffic_class);
  spec->set_max_subflows(job.spec.max_subflows);
  proto.set_lower_bound(job.lower_bound);
  for (const PlacedFlow& f : job.flows) {
    pulse::v1::Flow* flow = proto.add_flows();
    flow->set_src(fabric.node(f.src).name);
    flow->set_dst(fabric.node(f.dst).name);
    flow->set_rate_bps(f.rate_bps);
    flow->set_subflow(f.subflow);
    flow->set_phase(f.phase);
    flow->set_udp_src_port(f.udp_src_port);
    for (topology::DirectedLinkId d : f.path.hops) {
      flow->add_links(absl::StrCat(fabric.node(fabric.Tail(d)).name, ":", fabric.TailPort(d)));
    }
  }
  return proto.SerializeAsString();
}

class PlacementRecordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto placed =
        placement_.PlaceJob(Ring("r", {"server-0/gpu-0", "server-4/gpu-0", "server-1/gpu-0"}));
    ASSERT_TRUE(placed.ok()) << placed.status();
    job_ = **placed;
  }
  std::shared_ptr<const topology::Fabric> fabric_ = testing::SmallLeafSpine(2, 4, 4);
  Placement placement_{fabric_};
  JobPlacement job_;
};

void ExpectSamePlacement(const JobPlacement& a, const JobPlacement& b) {
  EXPECT_EQ(a.spec.id, b.spec.id);
  EXPECT_EQ(a.spec.endpoints, b.spec.endpoints);
  EXPECT_EQ(a.spec.traffic_class, b.spec.traffic_class);
  EXPECT_DOUBLE_EQ(a.lower_bound, b.lower_bound);
  ASSERT_EQ(a.flows.size(), b.flows.size());
  for (size_t i = 0; i < a.flows.size(); ++i) {
    EXPECT_EQ(a.flows[i].src, b.flows[i].src) << i;
    EXPECT_EQ(a.flows[i].dst, b.flows[i].dst) << i;
    EXPECT_EQ(a.flows[i].path, b.flows[i].path) << i;
    EXPECT_EQ(a.flows[i].udp_src_port, b.flows[i].udp_src_port) << i;
    EXPECT_DOUBLE_EQ(a.flows[i].rate_bps, b.flows[i].rate_bps) << i;
  }
}

TEST_F(PlacementRecordTest, RoundTripsInTheMarkedFormat) {
  const std::string bytes = EncodePlacementRecord(*fabric_, job_);
  EXPECT_TRUE(IsCurrentRecordFormat(bytes));
  EXPECT_EQ(bytes.substr(0, kRecordMagic.size()), kRecordMagic);
  auto back = DecodePlacementRecord(*fabric_, bytes, "placements/r");
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSamePlacement(*back, job_);
}

TEST_F(PlacementRecordTest, JobRecordKeepsEveryFieldAsGiven) {
  JobSpec spec;
  spec.id = "x:1";
  spec.pattern = CollectivePattern::kExplicit;
  spec.endpoints = {"server-0/gpu-0"};
  spec.explicit_flows = {{"server-0/gpu-0", "server-1/gpu-0", 5e9}};
  spec.traffic_class = 0;  // 0 is class 0, not "unset"
  spec.max_subflows = 3;
  spec.strict = true;
  spec.enforcement = Enforcement::kSteer;
  const std::string bytes = EncodeJobRecord(spec);
  EXPECT_TRUE(IsCurrentRecordFormat(bytes));
  auto back = DecodeJobRecord(bytes, "jobs/x:1");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->id, spec.id);
  EXPECT_EQ(back->pattern, CollectivePattern::kExplicit);
  EXPECT_EQ(back->endpoints, spec.endpoints);
  ASSERT_EQ(back->explicit_flows.size(), 1u);
  EXPECT_EQ(back->explicit_flows[0].dst, "server-1/gpu-0");
  EXPECT_DOUBLE_EQ(back->explicit_flows[0].rate_bps, 5e9);
  EXPECT_EQ(back->traffic_class, 0);
  EXPECT_EQ(back->max_subflows, 3);
  EXPECT_TRUE(back->strict);
  EXPECT_EQ(back->enforcement, Enforcement::kSteer);
}

TEST_F(PlacementRecordTest, OldPulseV1ValuesStillDecode) {
  const std::string legacy = LegacyPlacementBytes(*fabric_, job_);
  EXPECT_FALSE(IsCurrentRecordFormat(legacy));
  auto back = DecodePlacementRecord(*fabric_, legacy, "placements/r");
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSamePlacement(*back, job_);

  // jobs/<id> held a pulse.v1.JobSpec; its unset traffic class and max_subflows 0 meant 3 and 1.
  pulse::v1::JobSpec spec;
  spec.set_id("old");
  spec.add_endpoints("server-0/gpu-0");
  spec.add_endpoints("server-1/gpu-0");
  const std::string old_job = spec.SerializeAsString();
  EXPECT_FALSE(IsCurrentRecordFormat(old_job));
  auto job = DecodeJobRecord(old_job, "jobs/old");
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->traffic_class, 3);
  EXPECT_EQ(job->max_subflows, 1);
  EXPECT_EQ(job->pattern, CollectivePattern::kRing);
  // ... and it re-encodes in the current format with the same meaning.
  auto again = DecodeJobRecord(EncodeJobRecord(*job), "jobs/old");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->traffic_class, 3);
  EXPECT_EQ(again->endpoints, job->endpoints);
}

TEST_F(PlacementRecordTest, DamagedRecordsAreDataLossNamingTheKey) {
  const std::string good = EncodePlacementRecord(*fabric_, job_);
  auto expect_data_loss = [&](const std::string& bytes, absl::string_view part) {
    auto decoded = DecodePlacementRecord(*fabric_, bytes, "placements/r");
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss) << decoded.status();
    EXPECT_NE(decoded.status().message().find("placements/r"), std::string::npos)
        << decoded.status();
    EXPECT_NE(decoded.status().message().find(part), std::string::npos) << decoded.status();
  };
  expect_data_loss("not a record", "placements/r");
  expect_data_loss(std::string(kRecordMagic), "cut short");
  std::string newer = good;
  newer[kRecordMagic.size()] = 2;
  expect_data_loss(newer, "format version 2");
  expect_data_loss(good.substr(0, good.size() / 2), "damaged record");
  // Every truncation and a flipped byte at each position: an error or a record, never a crash.
  for (size_t n = 0; n < good.size(); ++n) {
    (void)DecodePlacementRecord(*fabric_, good.substr(0, n), "placements/r");
    std::string flipped = good;
    flipped[n] = static_cast<char>(flipped[n] ^ 0x5a);
    (void)DecodePlacementRecord(*fabric_, flipped, "placements/r");
  }
  // A record whose spec breaks the job rules names the field.
  JobPlacement bad = job_;
  bad.spec.traffic_class = 9;
  auto decoded =
      DecodePlacementRecord(*fabric_, EncodePlacementRecord(*fabric_, bad), "placements/r");
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(decoded.status().message().find("placements/r: spec.traffic_class"), std::string::npos)
      << decoded.status();
  // A hop through a node the fabric does not have.
  auto other = testing::SmallLeafSpine(1, 1, 2);  // no server-4, no spine-3
  auto foreign = DecodePlacementRecord(*other, good, "placements/r");
  ASSERT_FALSE(foreign.ok());
  EXPECT_EQ(foreign.status().code(), absl::StatusCode::kDataLoss);

  auto job = DecodeJobRecord("\x0a\xff", "jobs/j");  // a length beyond the bytes
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(job.status().message().find("jobs/j"), std::string::npos) << job.status();
}

}  // namespace
}  // namespace pulse::controller
