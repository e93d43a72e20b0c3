#include "southbound/openflow/arp.h"

#include "gtest/gtest.h"

namespace pulse::southbound::openflow {
namespace {

// An ARP request from 10.0.0.1 (02:00:00:00:00:01) for 10.0.0.2, as a host sends it.
std::vector<uint8_t> Request() {
  return {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0,    0, 0, 0, 0x01, 0x08, 0x06,  // Ethernet
          0x00, 0x01, 0x08, 0x00, 6,    4,    0x00, 0x01,                             // request
          0x02, 0,    0,    0,    0,    0x01, 10,   0,    0, 1,                       // sender
          0,    0,    0,    0,    0,    0,    10,   0,    0, 2};                      // target
}

TEST(ArpTest, ParsesARequest) {
  auto arp = ParseArpFrame(Request());
  ASSERT_TRUE(arp.ok()) << arp.status();
  EXPECT_EQ(arp->op, 1);
  EXPECT_EQ(arp->sender_mac, 0x020000000001u);
  EXPECT_EQ(arp->sender_ip, 0x0a000001u);
  EXPECT_EQ(arp->target_ip, 0x0a000002u);
}

TEST(ArpTest, ReplyAnswersTheRequesterAndParsesBack) {
  auto request = ParseArpFrame(Request());
  ASSERT_TRUE(request.ok());
  std::vector<uint8_t> frame = BuildArpReply(*request, 0x020000000002u);
  EXPECT_GE(frame.size(), 60u);
  // Ethernet: to the requester, from the answered MAC.
  EXPECT_EQ(std::vector<uint8_t>(frame.begin(), frame.begin() + 12),
            (std::vector<uint8_t>{0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02}));
  auto reply = ParseArpFrame(frame);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->op, 2);
  EXPECT_EQ(reply->sender_mac, 0x020000000002u);
  EXPECT_EQ(reply->sender_ip, 0x0a000002u);
  EXPECT_EQ(reply->target_mac, 0x020000000001u);
  EXPECT_EQ(reply->target_ip, 0x0a000001u);
}

TEST(ArpTest, RejectsTruncatedAndNonIpv4) {
  std::vector<uint8_t> frame = Request();
  for (size_t n = 0; n < frame.size(); ++n) {
    std::vector<uint8_t> cut(frame.begin(), frame.begin() + n);
    EXPECT_FALSE(ParseArpFrame(cut).ok()) << "accepted " << n << " bytes";
  }
  frame[16] = 0x86;  // ptype 0x86dd
  EXPECT_FALSE(ParseArpFrame(frame).ok());
  frame = Request();
  frame[13] = 0x00;  // IPv4 ethertype
  EXPECT_FALSE(ParseArpFrame(frame).ok());
}

TEST(ArpTest, Ipv4SenderOfAFrame) {
  // Ethernet from 0c:42:a1:00:00:01, IPv4 10.1.2.3 -> 10.1.2.4 (header only).
  std::vector<uint8_t> frame = {0x02, 0,    0,    0, 0, 0x02, 0x0c, 0x42, 0xa1, 0, 0,  0x01,
                                0x08, 0x00, 0x45, 0, 0, 20,   0,    0,    0,    0, 64, 17,
                                0,    0,    10,   1, 2, 3,    10,   1,    2,    4};
  auto sender = ParseIpv4Sender(frame);
  ASSERT_TRUE(sender.ok()) << sender.status();
  EXPECT_EQ(sender->first, 0x0a010203u);
  EXPECT_EQ(sender->second, 0x0c42a1000001u);
  for (size_t n = 0; n < frame.size(); ++n) {
    EXPECT_FALSE(ParseIpv4Sender(std::vector<uint8_t>(frame.begin(), frame.begin() + n)).ok());
  }
  EXPECT_FALSE(ParseIpv4Sender(Request()).ok());  // ARP is not IPv4
  frame[14] = 0x65;                               // version 6
  EXPECT_FALSE(ParseIpv4Sender(frame).ok());
}

}  // namespace
}  // namespace pulse::southbound::openflow
