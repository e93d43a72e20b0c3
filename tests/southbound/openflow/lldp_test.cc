#include "southbound/openflow/lldp.h"

#include "gtest/gtest.h"

namespace pulse::southbound::openflow {
namespace {

TEST(LldpTest, RoundTripsDpidAndPort) {
  for (uint64_t dpid : {uint64_t{1}, uint64_t{0xa1}, ~uint64_t{0}}) {
    for (uint32_t port : {1u, 48u, 0xfffffeffu}) {
      std::vector<uint8_t> frame = BuildLldpFrame(dpid, port, 0x02aabbccddeeull);
      ASSERT_GE(frame.size(), 60u);
      EXPECT_EQ(frame[12], 0x88);
      EXPECT_EQ(frame[13], 0xcc);
      EXPECT_EQ(frame[0], 0x01);  // nearest-bridge multicast
      EXPECT_EQ(frame[5], 0x0e);
      EXPECT_EQ(frame[6], 0x02);  // source MAC
      EXPECT_EQ(frame[11], 0xee);
      auto probe = ParseLldpFrame(frame);
      ASSERT_TRUE(probe.ok()) << probe.status();
      EXPECT_EQ(probe->dpid, dpid);
      EXPECT_EQ(probe->port, port);
    }
  }
}

TEST(LldpTest, EveryTruncationIsAnErrorNotACrash) {
  std::vector<uint8_t> frame = BuildLldpFrame(0xb2, 7, 1);
  // The TLVs end well before the 60-byte padding; any cut inside them must fail.
  for (size_t n = 0; n < 14 + 2 + 22 + 2 + 2 + 2 + 2; ++n) {
    std::vector<uint8_t> cut(frame.begin(), frame.begin() + n);
    EXPECT_FALSE(ParseLldpFrame(cut).ok()) << "accepted " << n << " bytes";
  }
}

TEST(LldpTest, RejectsOtherEthertypesAndForeignChassis) {
  std::vector<uint8_t> frame = BuildLldpFrame(0xb2, 7, 1);
  frame[13] = 0x00;  // 0x8800
  EXPECT_EQ(ParseLldpFrame(frame).status().code(), absl::StatusCode::kInvalidArgument);
  frame = BuildLldpFrame(0xb2, 7, 1);
  frame[14 + 3] = 'x';  // "dpid:" -> "xpid:"
  EXPECT_EQ(ParseLldpFrame(frame).status().code(), absl::StatusCode::kNotFound);
}

TEST(LldpTest, SkipsOneVlanTag) {
  std::vector<uint8_t> frame = BuildLldpFrame(0xc3, 9, 1);
  frame.insert(frame.begin() + 12, {0x81, 0x00, 0x00, 0x05});
  auto probe = ParseLldpFrame(frame);
  ASSERT_TRUE(probe.ok()) << probe.status();
  EXPECT_EQ(probe->dpid, 0xc3u);
  EXPECT_EQ(probe->port, 9u);
}

}  // namespace
}  // namespace pulse::southbound::openflow
