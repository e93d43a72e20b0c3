#include "controller/paths/addressing.h"

#include <set>

#include "gtest/gtest.h"
#include "tests/controller/path_test_fabrics.h"

namespace pulse::controller {
namespace {

using topology::NodeId;

TEST(AddressingTest, MatchesMininetDefaultsAndRoundTrips) {
  auto f = testing::BuildLeafSpine(2, 1, 150, 1, 2).value();  // 600 NICs
  const NodeId first = f.nics()[0];
  EXPECT_EQ(FormatIpv4(NicAddress(f, first).value()), "10.0.0.1");
  EXPECT_EQ(FormatMac(NicMac(f, first).value()), "00:00:00:00:00:01");
  EXPECT_EQ(FormatIpv4(NicAddress(f, f.nics()[255]).value()), "10.0.1.0");  // Mininet's h256
  EXPECT_EQ(FormatIpv4(NicAddress(f, f.nics()[256]).value()), "10.0.1.1");
  EXPECT_EQ(FormatMac(NicMac(f, f.nics()[599]).value()), "00:00:00:00:02:58");
  std::set<uint32_t> seen;
  for (NodeId nic : f.nics()) {
    const uint32_t ip = NicAddress(f, nic).value();
    EXPECT_TRUE(seen.insert(ip).second);
    EXPECT_EQ(ip >> 24, 10u);
    EXPECT_EQ(NicByAddress(f, ip).value(), nic);
  }
}

TEST(AddressingTest, BadInputsAreErrors) {
  auto f = testing::BuildLeafSpine(1, 1, 2).value();
  EXPECT_EQ(NicAddress(f, f.switches()[0]).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NicMac(f, -1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NicByAddress(f, 0x0A000000).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(NicByAddress(f, 0x0A000003).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(NicByAddress(f, 0xC0A80001).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace pulse::controller
