#include "southbound/sflow/telemetry_adapter.h"

#include "controller/telemetry/telemetry.h"

#include "gtest/gtest.h"

namespace pulse::southbound::sflow {
namespace {

Datagram CountersAt(uint64_t out_octets, uint32_t out_unicast, uint32_t out_broadcast) {
  Datagram d;
  d.agent_address = {10, 0, 0, 7};
  for (uint32_t if_index : {5u, 6u}) {
    CounterSample c;
    InterfaceCounters ic;
    ic.if_index = if_index;
    ic.if_speed_bps = 1'000'000'000;
    ic.out_octets = out_octets;
    ic.in_octets = out_octets / 2;
    ic.out_unicast_packets = out_unicast;
    ic.out_broadcast_packets = out_broadcast;
    ic.out_discards = 3;
    c.interface = ic;
    d.counter_samples.push_back(c);
  }
  return d;
}

// Agent 10.0.0.7 is fabric node 42; its ifIndex 5 is port 1; ifIndex 6 is not tracked.
std::optional<controller::PortKey> Resolve(const Datagram& d, uint32_t if_index) {
  if (d.AgentAddressString() != "10.0.0.7" || if_index != 5) return std::nullopt;
  return controller::PortKey{42, 1};
}

TEST(SflowTelemetryAdapterTest, CounterSamplesBecomeRatesAcrossAPacketCounterWrap) {
  const std::vector<controller::PortCounterSample> first =
      ToPortCounterSamples(CountersAt(1000, 0xfffffff0u, 0x20), Resolve, 1000);
  ASSERT_EQ(first.size(), 1u);  // ifIndex 6 is skipped
  EXPECT_EQ(first[0].key, (controller::PortKey{42, 1}));
  EXPECT_EQ(first[0].packet_counter_bits, 32);
  EXPECT_EQ(first[0].tx_packets, 0x10u);  // (0xfffffff0 + 0x20) mod 2^32
  EXPECT_EQ(first[0].speed_bps, 1'000'000'000);

  controller::Telemetry telemetry;
  ASSERT_TRUE(telemetry.Ingest(first[0]).ok());
  // One second later: 12.5 MB more and 1000 more packets, the unicast counter having wrapped.
  const std::vector<controller::PortCounterSample> second =
      ToPortCounterSamples(CountersAt(1000 + 12'500'000, 0xfffffff0u + 980u, 0x20), Resolve, 2000);
  ASSERT_EQ(second.size(), 1u);
  absl::StatusOr<controller::IngestOutcome> outcome = telemetry.Ingest(second[0]);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(*outcome, controller::IngestOutcome::kRate);
  const controller::PortRates* r = telemetry.LatestRates({42, 1});
  ASSERT_NE(r, nullptr);
  EXPECT_DOUBLE_EQ(r->tx_bps, 1e8);
  EXPECT_DOUBLE_EQ(r->tx_utilisation, 0.1);
  EXPECT_DOUBLE_EQ(r->tx_pps, 980);
  EXPECT_DOUBLE_EQ(r->tx_drops_per_s, 0);
}

TEST(SflowTelemetryAdapterTest, FlowSamplesFeedTheRateEstimator) {
  Datagram d;
  FlowSample with_tuple;
  with_tuple.sampling_rate = 64;
  SampledHeader h;
  h.frame_length_bytes = 1000;
  h.info.tuple = FiveTuple{0x0a000001, 0x0a000002, 17, 49152, 4791};
  with_tuple.header = h;
  FlowSample without_header;
  d.flow_samples = {with_tuple, without_header, with_tuple};
  ASSERT_TRUE(ToFlowKey(with_tuple).has_value());
  EXPECT_EQ(ToFlowKey(with_tuple)->dst_port, 4791);
  EXPECT_FALSE(ToFlowKey(without_header).has_value());

  controller::FlowRateEstimator estimator(/*window_ms=*/1000, /*bucket_ms=*/100);
  EXPECT_EQ(FeedFlowSamples(d, estimator, 500), 2);
  absl::flat_hash_map<controller::FlowKey, double> rates = estimator.RatesBps(900);
  ASSERT_EQ(rates.size(), 1u);
  // Two samples of 1000 B at 1-in-64 within a 1 s window.
  EXPECT_DOUBLE_EQ(rates.begin()->second, 2 * 1000.0 * 64 * 8);
}

}  // namespace
}  // namespace pulse::southbound::sflow
