#include "controller/qos/headroom.h"

#include <cstdlib>

#include "gtest/gtest.h"

namespace pulse::controller {
namespace {

constexpr int64_t kG = 1000000000LL;

struct Row {
  int64_t speed_bps;
  double cable_m;
  int64_t xoff_published;
};

// Published Spectrum-4 values (shared/notes/lossless.md), port MTU 9100, worst case.
TEST(HeadroomTest, ReproducesPublishedSpectrum4TableWithinOneKiB) {
  const AsicProfile asic = Spectrum4Profile();
  const Row rows[] = {{100 * kG, 40, 126976},
                      {200 * kG, 40, 157696},
                      {400 * kG, 40, 283648},
                      {400 * kG, 5, 232448},
                      {100 * kG, 300, 225280}};
  for (const Row& row : rows) {
    absl::StatusOr<Headroom> h = HeadroomBytes(row.speed_bps, row.cable_m, 9100, asic);
    ASSERT_TRUE(h.ok()) << h.status();
    EXPECT_EQ(h->xon_bytes, 19456);
    EXPECT_LE(std::llabs(h->xoff_bytes - row.xoff_published), 1024)
        << row.speed_bps / kG << "G " << row.cable_m << "m: xoff " << h->xoff_bytes;
    EXPECT_EQ(h->size_bytes, h->xon_bytes + h->xoff_bytes);
    EXPECT_EQ(h->xoff_bytes % 1024, 0);
  }
}

TEST(HeadroomTest, PublishedSizes) {
  const AsicProfile asic = Spectrum4Profile();
  EXPECT_EQ(HeadroomBytes(100 * kG, 40, 9100, asic)->size_bytes, 146432);
  EXPECT_EQ(HeadroomBytes(200 * kG, 40, 9100, asic)->size_bytes, 177152);
  EXPECT_EQ(HeadroomBytes(400 * kG, 40, 9100, asic)->size_bytes, 303104);
}

TEST(HeadroomTest, CableBytesAboutFiveHundredPerMetreAt400G) {
  EXPECT_NEAR(CableBytes(400 * kG, 1), 505.05, 0.01);
  EXPECT_NEAR(CableBytes(100 * kG, 40), 5050.5, 0.1);
}

TEST(HeadroomTest, LongerCableAndFasterPortNeedMore) {
  const AsicProfile asic = Spectrum4Profile();
  EXPECT_LT(HeadroomBytes(100 * kG, 5, 9100, asic)->xoff_bytes,
            HeadroomBytes(100 * kG, 100, 9100, asic)->xoff_bytes);
  EXPECT_LT(HeadroomBytes(100 * kG, 40, 9100, asic)->xoff_bytes,
            HeadroomBytes(400 * kG, 40, 9100, asic)->xoff_bytes);
}

TEST(HeadroomTest, CellFactor) {
  EXPECT_DOUBLE_EQ(CellOccupancyFactor(192), 3.0);
  EXPECT_DOUBLE_EQ(CellOccupancyFactor(128), 2.0);
  EXPECT_DOUBLE_EQ(CellOccupancyFactor(32), 1.0);
}

TEST(HeadroomTest, PauseQuantaTable) {
  EXPECT_EQ(*PauseQuanta(10 * kG), 67);
  EXPECT_EQ(*PauseQuanta(25 * kG), 80);
  EXPECT_EQ(*PauseQuanta(800 * kG), 905);
  EXPECT_FALSE(PauseQuanta(1 * kG).ok());
}

TEST(HeadroomTest, RefusesBadInput) {
  const AsicProfile asic = Spectrum4Profile();
  EXPECT_FALSE(HeadroomBytes(100 * kG, 0, 9100, asic).ok());
  EXPECT_FALSE(HeadroomBytes(100 * kG, -3, 9100, asic).ok());
  EXPECT_FALSE(HeadroomBytes(100 * kG, 20000, 9100, asic).ok());
  EXPECT_FALSE(HeadroomBytes(123, 40, 9100, asic).ok());
  EXPECT_FALSE(HeadroomBytes(100 * kG, 40, 0, asic).ok());
  AsicProfile broken = asic;
  broken.cell_bytes = 0;
  EXPECT_FALSE(HeadroomBytes(100 * kG, 40, 9100, broken).ok());
  absl::Status s = HeadroomBytes(100 * kG, 20000, 9100, asic).status();
  EXPECT_NE(s.message().find("20000"), absl::string_view::npos) << s;
}

}  // namespace
}  // namespace pulse::controller
