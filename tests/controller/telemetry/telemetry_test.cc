#include "controller/telemetry/telemetry.h"

#include <cstdint>
#include <limits>
#include <memory>

#include "gtest/gtest.h"
#include "topology/fabric.h"

namespace pulse::controller {
namespace {

using topology::Fabric;
using topology::FabricBuilder;
using topology::SwitchRole;

constexpr int64_t k10G = 10'000'000'000;

// Two leaves, two spines, one NIC per server, two servers per leaf; every link 10 Gb/s.
struct SmallFabric {
  std::shared_ptr<const Fabric> fabric;
  topology::NodeId leaf0, spine0;
  topology::LinkId leaf0_spine0;
};

SmallFabric BuildFabric() {
  FabricBuilder b;
  SmallFabric f;
  f.leaf0 = b.AddSwitch("leaf-0", SwitchRole::kLeaf);
  const topology::NodeId leaf1 = b.AddSwitch("leaf-1", SwitchRole::kLeaf);
  f.spine0 = b.AddSwitch("spine-0", SwitchRole::kSpine);
  const topology::NodeId spine1 = b.AddSwitch("spine-1", SwitchRole::kSpine);
  for (int s = 0; s < 4; ++s) {
    const topology::ServerId server = b.AddServer("server-" + std::to_string(s));
    const topology::NodeId nic = b.AddNic(server, 0);
    b.AddLink(nic, s < 2 ? f.leaf0 : leaf1, k10G);
  }
  f.leaf0_spine0 = b.AddLink(f.leaf0, f.spine0, k10G);
  b.AddLink(f.leaf0, spine1, k10G);
  b.AddLink(leaf1, f.spine0, k10G);
  b.AddLink(leaf1, spine1, k10G);
  absl::StatusOr<Fabric> built = std::move(b).Build();
  EXPECT_TRUE(built.ok()) << built.status();
  f.fabric = std::make_shared<const Fabric>(*std::move(built));
  return f;
}

PortCounterSample Sample(PortKey key, int64_t time_ms, uint64_t tx_bytes, uint64_t rx_bytes = 0) {
  PortCounterSample s;
  s.key = key;
  s.time_ms = time_ms;
  s.tx_bytes = tx_bytes;
  s.rx_bytes = rx_bytes;
  return s;
}

TEST(CounterDeltaTest, HandlesWrapAndRejectsBadWidths) {
  EXPECT_EQ(CounterDelta(10, 25, 64), 15u);
  EXPECT_EQ(CounterDelta(0xffffff00u, 0x10, 32), 0x110u);
  EXPECT_EQ(CounterDelta(std::numeric_limits<uint64_t>::max() - 1, 3, 64), 5u);
  EXPECT_FALSE(CounterDelta(1, 2, 16).has_value());
  EXPECT_FALSE(CounterDelta(1, uint64_t{1} << 33, 32).has_value());
}

TEST(TelemetryTest, RatesAndUtilisationFromTwoSamples) {
  SmallFabric f = BuildFabric();
  Telemetry t({}, f.fabric);
  const topology::DirectedLinkId up = f.fabric->DirectedFrom(f.leaf0_spine0, f.leaf0);
  const PortKey key{f.leaf0, static_cast<uint32_t>(f.fabric->TailPort(up))};

  PortCounterSample a = Sample(key, 1000, 1'000'000, 0);
  a.tx_packets = 100;
  a.tx_drops = 5;
  ASSERT_EQ(*t.Ingest(a), IngestOutcome::kFirst);
  EXPECT_EQ(t.LatestRates(key), nullptr);
  // 250 MB out and 125 MB in over 2 s: 1 Gb/s and 0.5 Gb/s.
  PortCounterSample b = Sample(key, 3000, 251'000'000, 125'000'000);
  b.tx_packets = 100 + 20'000;
  b.tx_drops = 5 + 10;
  ASSERT_EQ(*t.Ingest(b), IngestOutcome::kRate);
  const PortRates* r = t.LatestRates(key);
  ASSERT_NE(r, nullptr);
  EXPECT_DOUBLE_EQ(r->tx_bps, 1e9);
  EXPECT_DOUBLE_EQ(r->rx_bps, 5e8);
  EXPECT_DOUBLE_EQ(r->tx_pps, 10'000);
  EXPECT_DOUBLE_EQ(r->tx_drops_per_s, 5);
  EXPECT_DOUBLE_EQ(r->tx_utilisation, 0.1);
  EXPECT_DOUBLE_EQ(r->rx_utilisation, 0.05);
  EXPECT_EQ(t.CapacityBps(key), k10G);

  // The switch's tx is the leaf->spine channel, its rx the spine->leaf channel.
  const std::vector<double> util = t.DirectedLinkUtilisation();
  ASSERT_EQ(util.size(), static_cast<size_t>(f.fabric->num_directed_links()));
  EXPECT_DOUBLE_EQ(util[up], 0.1);
  EXPECT_DOUBLE_EQ(util[up ^ 1], 0.05);
  double others = 0;
  for (size_t d = 0; d < util.size(); ++d) {
    if (static_cast<int>(d) != up && static_cast<int>(d) != (up ^ 1)) others += util[d];
  }
  EXPECT_EQ(others, 0);
}

TEST(TelemetryTest, ThirtyTwoBitWrapGivesTheTrueRate) {
  Telemetry t;
  const PortKey key{7, 1};
  PortCounterSample a = Sample(key, 0, 0xffffffffull - 999);
  a.byte_counter_bits = 32;
  PortCounterSample b = Sample(key, 1000, 500);
  b.byte_counter_bits = 32;
  b.speed_bps = k10G;
  ASSERT_EQ(*t.Ingest(a), IngestOutcome::kFirst);
  ASSERT_EQ(*t.Ingest(b), IngestOutcome::kRate);
  EXPECT_DOUBLE_EQ(t.LatestRates(key)->tx_bps, 1500 * 8);
  EXPECT_EQ(t.resets(), 0u);

  // A near-full-range wrap at 8.8 Gb/s on a 10 Gb/s port is plausible.
  PortCounterSample c = Sample(key, 2000, (uint64_t{1} << 32) - 1'000'000'000);
  c.byte_counter_bits = 32;
  ASSERT_EQ(*t.Ingest(c), IngestOutcome::kRate);
  PortCounterSample d = Sample(key, 3000, 100'000'000);
  d.byte_counter_bits = 32;
  ASSERT_EQ(*t.Ingest(d), IngestOutcome::kRate);
  EXPECT_DOUBLE_EQ(t.LatestRates(key)->tx_bps, 1'100'000'000.0 * 8);
}

TEST(TelemetryTest, RestartRebasesWithoutNegativeOrHugeRates) {
  Telemetry t;
  const PortKey key{7, 2};
  ASSERT_EQ(*t.Ingest(Sample(key, 0, 5'000'000'000)), IngestOutcome::kFirst);
  ASSERT_EQ(*t.Ingest(Sample(key, 1000, 6'000'000'000)), IngestOutcome::kRate);
  EXPECT_DOUBLE_EQ(t.LatestRates(key)->tx_bps, 8e9);
  // Switch restarted: the 64-bit counter went back to a small value.
  ASSERT_EQ(*t.Ingest(Sample(key, 2000, 1000)), IngestOutcome::kReset);
  EXPECT_EQ(t.resets(), 1u);
  EXPECT_DOUBLE_EQ(t.LatestRates(key)->tx_bps, 8e9);  // no spike recorded
  EXPECT_EQ(t.History(key)->size(), 1u);
  // Next interval measures from the re-based counter.
  ASSERT_EQ(*t.Ingest(Sample(key, 3000, 1000 + 125'000)), IngestOutcome::kRate);
  EXPECT_DOUBLE_EQ(t.LatestRates(key)->tx_bps, 1e6);
  for (size_t i = 0; i < t.History(key)->size(); ++i) {
    EXPECT_GE(t.History(key)->at(i).tx_bps, 0);
    EXPECT_LE(t.History(key)->at(i).tx_bps, 1e10);
  }
}

TEST(TelemetryTest, ThirtyTwoBitDecreaseImplausibleForThePortIsAReset) {
  SmallFabric f = BuildFabric();
  Telemetry t({}, f.fabric);
  const topology::DirectedLinkId up = f.fabric->DirectedFrom(f.leaf0_spine0, f.leaf0);
  const PortKey key{f.leaf0, static_cast<uint32_t>(f.fabric->TailPort(up))};
  PortCounterSample a = Sample(key, 0, 0);
  a.tx_packets = 1'000'000;
  a.packet_counter_bits = 32;
  PortCounterSample b = Sample(key, 1000, 0);
  b.tx_packets = 10;  // as a wrap: 4.29e9 packets in 1 s on a 10 Gb/s link - impossible
  b.packet_counter_bits = 32;
  ASSERT_EQ(*t.Ingest(a), IngestOutcome::kFirst);
  EXPECT_EQ(*t.Ingest(b), IngestOutcome::kReset);
}

TEST(TelemetryTest, BadSamplesAreErrorsAndLeaveStateUnchanged) {
  Telemetry t;
  const PortKey key{1, 1};
  ASSERT_TRUE(t.Ingest(Sample(key, 1000, 100)).ok());
  absl::StatusOr<IngestOutcome> same_time = t.Ingest(Sample(key, 1000, 200));
  ASSERT_FALSE(same_time.ok());
  EXPECT_NE(same_time.status().message().find("switch node 1 port 1"), std::string::npos);
  EXPECT_FALSE(t.Ingest(Sample(key, 500, 200)).ok());
  PortCounterSample width = Sample(key, 2000, 200);
  width.byte_counter_bits = 16;
  EXPECT_FALSE(t.Ingest(width).ok());
  PortCounterSample too_big = Sample(key, 2000, uint64_t{1} << 40);
  too_big.byte_counter_bits = 32;
  EXPECT_FALSE(t.Ingest(too_big).ok());
  ASSERT_EQ(*t.Ingest(Sample(key, 2000, 225)), IngestOutcome::kRate);
  EXPECT_DOUBLE_EQ(t.LatestRates(key)->tx_bps, 1000);  // measured against the t=1000 sample
}

TEST(TelemetryTest, ErrorsNameTheFabricSwitch) {
  SmallFabric f = BuildFabric();
  Telemetry t({}, f.fabric);
  const PortKey key{f.leaf0, 1};
  ASSERT_TRUE(t.Ingest(Sample(key, 1000, 100)).ok());
  absl::StatusOr<IngestOutcome> same_time = t.Ingest(Sample(key, 1000, 200));
  ASSERT_FALSE(same_time.ok());
  EXPECT_NE(same_time.status().message().find(f.fabric->node(f.leaf0).name + " port 1"),
            std::string::npos)
      << same_time.status();
}

// Keys come from drivers: one that names no switch of the fabric (out of range, negative, a NIC)
// still gets rates but is attributed to no link, and nothing crashes.
TEST(TelemetryTest, KeyOfNoFabricSwitchMapsToNoLink) {
  SmallFabric f = BuildFabric();
  Telemetry t({}, f.fabric);
  const topology::NodeId nic = f.fabric->nics().empty() ? topology::kNoNode : f.fabric->nics()[0];
  for (const PortKey& key :
       {PortKey{9999, 1}, PortKey{-7, 1}, PortKey{topology::kNoNode, 1}, PortKey{nic, 1}}) {
    PortCounterSample a = Sample(key, 1000, 0);
    a.speed_bps = k10G;
    PortCounterSample b = Sample(key, 2000, 125'000'000);
    b.speed_bps = k10G;
    ASSERT_EQ(*t.Ingest(a), IngestOutcome::kFirst);
    ASSERT_EQ(*t.Ingest(b), IngestOutcome::kRate);
    EXPECT_DOUBLE_EQ(t.LatestRates(key)->tx_bps, 1e9);
    EXPECT_EQ(t.CapacityBps(key), k10G);  // from the sample: no fabric link
  }
  for (bool measured : t.DirectedLinkMeasured()) EXPECT_FALSE(measured);
  for (double load : t.DirectedLinkLoadBps()) EXPECT_EQ(load, 0);
}

TEST(TelemetryTest, HistoryIsBoundedAndOrdered) {
  TelemetryOptions options;
  options.history_samples = 3;
  Telemetry t(options);
  const PortKey key{1, 1};
  for (int i = 0; i <= 5; ++i) ASSERT_TRUE(t.Ingest(Sample(key, i * 1000, i * 1000ull * i)).ok());
  const RingBuffer<PortRates>* h = t.History(key);
  ASSERT_EQ(h->size(), 3u);
  EXPECT_EQ(h->at(0).time_ms, 3000);
  EXPECT_EQ(h->newest().time_ms, 5000);
  // Bytes i*i*1000: the rate over (i-1, i] is (2i-1)*1000 B/s.
  EXPECT_DOUBLE_EQ(h->newest().tx_bps, 9000.0 * 8);
  EXPECT_EQ(h->ToVector().size(), 3u);
}

TEST(AttributeLoadTest, SumsPerLinkAndPerJob) {
  SmallFabric f = BuildFabric();
  const topology::DirectedLinkId up = f.fabric->DirectedFrom(f.leaf0_spine0, f.leaf0);
  std::vector<MeasuredFlowRate> flows = {
      {"job-a", Path{{0, up}}, 3e9},
      {"job-a", Path{{2, up}}, 1e9},
      {"job-b", Path{{up}}, 2e9},
  };
  absl::StatusOr<LoadAttribution> a = AttributeLoad(*f.fabric, flows);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_DOUBLE_EQ(a->link_load_bps[up], 6e9);
  EXPECT_DOUBLE_EQ(a->link_load_bps[0], 3e9);
  EXPECT_DOUBLE_EQ(a->job_link_load_bps["job-a"][up], 4e9);
  EXPECT_DOUBLE_EQ(a->job_link_load_bps["job-b"][up], 2e9);
  EXPECT_DOUBLE_EQ(a->job_rate_bps["job-a"], 4e9);
  flows.push_back({"job-c", Path{{9999}}, 1});
  EXPECT_FALSE(AttributeLoad(*f.fabric, flows).ok());
  flows.back() = {"job-c", Path{{0}}, -1};
  EXPECT_FALSE(AttributeLoad(*f.fabric, flows).ok());
}

TEST(FlowRateEstimatorTest, ScalesSamplesBySamplingRateAndForgetsOldFlows) {
  FlowRateEstimator estimator(/*window_ms=*/5000, /*bucket_ms=*/500);
  const FlowKey a{0x0a000001, 0x0a000002, 17, 4791, 4791};
  const FlowKey b{0x0a000003, 0x0a000002, 17, 5000, 4791};
  for (int64_t t = 0; t < 10'000; t += 100) estimator.AddSample(a, 1000, 100, t);
  estimator.AddSample(b, 1500, 10, 9000);
  absl::flat_hash_map<FlowKey, double> rates = estimator.RatesBps(9900);
  ASSERT_EQ(rates.size(), 2u);
  // 1000 B * 100 every 100 ms = 1 MB/s.
  EXPECT_DOUBLE_EQ(rates[a], 8e6);
  EXPECT_DOUBLE_EQ(rates[b], 1500.0 * 10 * 8 / 5);
  EXPECT_TRUE(estimator.RatesBps(20'000).empty());
}

}  // namespace
}  // namespace pulse::controller
