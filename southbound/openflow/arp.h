#ifndef PULSE_SOUTHBOUND_OPENFLOW_ARP_H_
#define PULSE_SOUTHBOUND_OPENFLOW_ARP_H_

// ARP over Ethernet for proxy ARP: parse a request, build the reply the controller sends back
// on the requester's port. Pure functions, no I/O. Addresses: IPv4 host order, MAC low 48 bits.

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace pulse::southbound::openflow {

inline constexpr uint16_t kEthTypeArp = 0x0806;

struct ArpPacket {
  uint16_t op = 0;  // 1 request, 2 reply
  uint64_t sender_mac = 0;
  uint32_t sender_ip = 0;
  uint64_t target_mac = 0;
  uint32_t target_ip = 0;
};

// Parses an Ethernet II frame carrying IPv4-over-Ethernet ARP (an optional VLAN tag is skipped).
absl::StatusOr<ArpPacket> ParseArpFrame(absl::Span<const uint8_t> frame);

// The sender of an Ethernet II frame carrying IPv4 (optional VLAN tag skipped): its source IPv4
// address and source MAC. InvalidArgument for anything else or a truncated header.
absl::StatusOr<std::pair<uint32_t, uint64_t>> ParseIpv4Sender(absl::Span<const uint8_t> frame);

// The reply to `request` saying that `answer_ip` is at `answer_mac`, addressed to the requester.
std::vector<uint8_t> BuildArpReply(const ArpPacket& request, uint64_t answer_mac);

}  // namespace pulse::southbound::openflow

#endif  // PULSE_SOUTHBOUND_OPENFLOW_ARP_H_
