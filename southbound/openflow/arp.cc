#include "southbound/openflow/arp.h"

#include "absl/strings/str_cat.h"

namespace pulse::southbound::openflow {
namespace {

uint64_t GetBe(absl::Span<const uint8_t> b, size_t offset, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = v << 8 | b[offset + i];
  return v;
}

void PutBe(std::vector<uint8_t>* out, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) out->push_back(static_cast<uint8_t>(v >> (8 * i)));
}

}  // namespace

absl::StatusOr<ArpPacket> ParseArpFrame(absl::Span<const uint8_t> frame) {
  if (frame.size() < 14)
    return absl::InvalidArgumentError("arp: frame shorter than Ethernet header");
  size_t offset = 12;
  uint64_t eth_type = GetBe(frame, offset, 2);
  if (eth_type == 0x8100) {
    offset += 4;
    if (frame.size() < offset + 2) return absl::InvalidArgumentError("arp: truncated VLAN tag");
    eth_type = GetBe(frame, offset, 2);
  }
  if (eth_type != kEthTypeArp)
    return absl::InvalidArgumentError(absl::StrCat("arp: ethertype 0x", absl::Hex(eth_type)));
  offset += 2;
  if (frame.size() < offset + 28)
    return absl::InvalidArgumentError(
        absl::StrCat("arp: body of ", frame.size() - offset, " bytes, need 28"));
  if (GetBe(frame, offset, 2) != 1 || GetBe(frame, offset + 2, 2) != 0x0800 ||
      frame[offset + 4] != 6 || frame[offset + 5] != 4)
    return absl::InvalidArgumentError("arp: not IPv4 over Ethernet");
  ArpPacket arp;
  arp.op = static_cast<uint16_t>(GetBe(frame, offset + 6, 2));
  arp.sender_mac = GetBe(frame, offset + 8, 6);
  arp.sender_ip = static_cast<uint32_t>(GetBe(frame, offset + 14, 4));
  arp.target_mac = GetBe(frame, offset + 18, 6);
  arp.target_ip = static_cast<uint32_t>(GetBe(frame, offset + 24, 4));
  return arp;
}

absl::StatusOr<std::pair<uint32_t, uint64_t>> ParseIpv4Sender(absl::Span<const uint8_t> frame) {
  if (frame.size() < 14) return absl::InvalidArgumentError("ipv4: frame shorter than Ethernet");
  size_t offset = 12;
  uint64_t eth_type = GetBe(frame, offset, 2);
  if (eth_type == 0x8100) {
    offset += 4;
    if (frame.size() < offset + 2) return absl::InvalidArgumentError("ipv4: truncated VLAN tag");
    eth_type = GetBe(frame, offset, 2);
  }
  if (eth_type != 0x0800) {
    return absl::InvalidArgumentError(absl::StrCat("ipv4: ethertype 0x", absl::Hex(eth_type)));
  }
  offset += 2;
  if (frame.size() < offset + 20 || (frame[offset] >> 4) != 4) {
    return absl::InvalidArgumentError("ipv4: truncated or not version 4");
  }
  return std::make_pair(static_cast<uint32_t>(GetBe(frame, offset + 12, 4)), GetBe(frame, 6, 6));
}

std::vector<uint8_t> BuildArpReply(const ArpPacket& request, uint64_t answer_mac) {
  std::vector<uint8_t> f;
  PutBe(&f, request.sender_mac, 6);
  PutBe(&f, answer_mac, 6);
  PutBe(&f, kEthTypeArp, 2);
  PutBe(&f, 1, 2);       // htype Ethernet
  PutBe(&f, 0x0800, 2);  // ptype IPv4
  f.push_back(6);
  f.push_back(4);
  PutBe(&f, 2, 2);  // reply
  PutBe(&f, answer_mac, 6);
  PutBe(&f, request.target_ip, 4);
  PutBe(&f, request.sender_mac, 6);
  PutBe(&f, request.sender_ip, 4);
  while (f.size() < 60) f.push_back(0);
  return f;
}

}  // namespace pulse::southbound::openflow
