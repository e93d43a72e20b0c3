#include "controller/health/lossless_counters.h"

#include "gtest/gtest.h"

namespace pulse::controller {
namespace {

LosslessCounterSample Sample(int64_t t, uint64_t pfc_rx3, uint64_t packets) {
  LosslessCounterSample s;
  s.key = {7, 3};
  s.time_ms = t;
  s.pfc_rx_frames[3] = pfc_rx3;
  s.queue_tx_packets[3] = packets;
  s.rx_packets = packets;
  s.rx_errors = packets / 1000;
  s.watermark_bytes[3] = 4096 + t;
  return s;
}

TEST(LosslessCountersTest, DeltasPerIntervalAndRestartsRebase) {
  LosslessCounters c;
  auto first = c.Ingest(Sample(1000, 10, 1000));
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->has_value());
  auto d = c.Ingest(Sample(2000, 110, 3000));
  ASSERT_TRUE(d.ok() && d->has_value());
  EXPECT_EQ((*d)->interval_ms, 1000);
  EXPECT_EQ((*d)->pfc_rx_frames[3], 100u);
  EXPECT_EQ((*d)->queue_tx_packets[3], 2000u);
  EXPECT_EQ((*d)->packets, 2000u);
  EXPECT_EQ((*d)->errors, 2u);
  EXPECT_EQ((*d)->watermark_bytes[3], 4096u + 2000u);  // latest, not a difference
  // The switch restarted: counters back near zero. No delta, no burst.
  auto reset = c.Ingest(Sample(3000, 5, 100));
  ASSERT_TRUE(reset.ok());
  EXPECT_FALSE(reset->has_value());
  EXPECT_EQ(c.resets(), 1u);
  auto after = c.Ingest(Sample(4000, 15, 200));
  ASSERT_TRUE(after.ok() && after->has_value());
  EXPECT_EQ((*after)->pfc_rx_frames[3], 10u);
  // Time must advance.
  EXPECT_FALSE(c.Ingest(Sample(4000, 20, 300)).ok());
}

}  // namespace
}  // namespace pulse::controller
