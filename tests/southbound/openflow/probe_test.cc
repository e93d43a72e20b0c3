#include "southbound/openflow/probe.h"

#include <vector>

#include "gtest/gtest.h"

namespace pulse::southbound::openflow {
namespace {

switches::ProbePacket Sample() {
  switches::ProbePacket p;
  p.ipv4_src = 0x0a000001;
  p.ipv4_dst = 0x0a00010d;
  p.udp_src = 49999;
  p.dscp = 63;
  return p;
}

TEST(ProbeTest, BuildsARoceV2FrameAndParsesItBack) {
  std::vector<uint8_t> frame = BuildProbeFrame(Sample());
  ASSERT_EQ(frame.size(), 14u + 20 + 8 + 12 + 4);
  EXPECT_EQ(frame[12], 0x08);
  EXPECT_EQ(frame[13], 0x00);
  EXPECT_EQ(frame[15], 63 << 2);  // DSCP in the TOS byte
  EXPECT_EQ(frame[23], 17);       // UDP
  // The IPv4 header checksums to zero.
  uint32_t sum = 0;
  for (size_t i = 14; i < 34; i += 2) sum += (frame[i] << 8) | frame[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  EXPECT_EQ(sum, 0xffffu);
  EXPECT_EQ((frame[36] << 8) | frame[37], 4791);  // UDP destination: RoCEv2
  EXPECT_EQ(frame[42], 0x64);                     // BTH opcode
  auto parsed = ParseProbeFrame(frame);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->ipv4_src, Sample().ipv4_src);
  EXPECT_EQ(parsed->ipv4_dst, Sample().ipv4_dst);
  EXPECT_EQ(parsed->udp_src, 49999);
  EXPECT_EQ(parsed->udp_dst, 4791);
  EXPECT_EQ(parsed->dscp, 63);
}

TEST(ProbeTest, OtherTrafficIsNotAProbeAndTruncatedFramesAreErrors) {
  std::vector<uint8_t> frame = BuildProbeFrame(Sample());
  std::vector<uint8_t> other = frame;
  other[37] = 0x35;  // UDP 53
  EXPECT_EQ(ParseProbeFrame(other).status().code(), absl::StatusCode::kNotFound);
  other = frame;
  other[23] = 6;  // TCP
  EXPECT_EQ(ParseProbeFrame(other).status().code(), absl::StatusCode::kNotFound);
  other = frame;
  other[12] = 0x86, other[13] = 0xdd;  // IPv6
  EXPECT_EQ(ParseProbeFrame(other).status().code(), absl::StatusCode::kNotFound);
  for (size_t size : {0u, 13u, 20u, 33u, 40u}) {
    std::vector<uint8_t> cut(frame.begin(), frame.begin() + size);
    EXPECT_EQ(ParseProbeFrame(cut).status().code(), absl::StatusCode::kInvalidArgument) << size;
  }
}

}  // namespace
}  // namespace pulse::southbound::openflow
