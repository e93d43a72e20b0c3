#include "southbound/openflow/probe.h"

#include "absl/status/status.h"

namespace pulse::southbound::openflow {
namespace {

void Put(std::vector<uint8_t>* out, uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<uint8_t>(value >> (8 * i)));
}

uint64_t Get(absl::Span<const uint8_t> b, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | b[at + i];
  return v;
}

// Locally administered MACs: the probe never reaches a host, so they only need to be valid.
constexpr uint64_t kProbeSrcMac = 0x02000000fe01ull;
constexpr uint64_t kProbeDstMac = 0x02000000fe02ull;
constexpr size_t kBthBytes = 12, kIcrcBytes = 4;

}  // namespace

std::vector<uint8_t> BuildProbeFrame(const switches::ProbePacket& probe) {
  std::vector<uint8_t> f;
  Put(&f, kProbeDstMac, 6);
  Put(&f, kProbeSrcMac, 6);
  Put(&f, 0x0800, 2);
  const size_t ip = f.size();
  const uint16_t udp_length = 8 + kBthBytes + kIcrcBytes;
  Put(&f, 0x45, 1);                                   // version 4, IHL 5
  Put(&f, static_cast<uint8_t>(probe.dscp << 2), 1);  // DSCP, ECN not-ECT
  Put(&f, 20 + udp_length, 2);
  Put(&f, 0, 2);       // id
  Put(&f, 0x4000, 2);  // don't fragment
  Put(&f, 64, 1);      // TTL
  Put(&f, 17, 1);      // UDP
  Put(&f, 0, 2);       // checksum, below
  Put(&f, probe.ipv4_src, 4);
  Put(&f, probe.ipv4_dst, 4);
  uint32_t sum = 0;
  for (size_t i = ip; i < ip + 20; i += 2) sum += (f[i] << 8) | f[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  const uint16_t checksum = static_cast<uint16_t>(~sum);
  f[ip + 10] = static_cast<uint8_t>(checksum >> 8);
  f[ip + 11] = static_cast<uint8_t>(checksum);
  Put(&f, probe.udp_src, 2);
  Put(&f, probe.udp_dst, 2);
  Put(&f, udp_length, 2);
  Put(&f, 0, 2);  // UDP checksum: none
  // BTH: opcode UD SEND only (0x64), pad/version 0, P_Key 0xffff, dest QP 1, PSN 0.
  Put(&f, 0x64, 1);
  Put(&f, 0, 1);
  Put(&f, 0xffff, 2);
  Put(&f, 1, 4);
  Put(&f, 0, 4);
  Put(&f, 0, kIcrcBytes);
  return f;
}

absl::StatusOr<switches::ProbePacket> ParseProbeFrame(absl::Span<const uint8_t> frame) {
  if (frame.size() < 14) return absl::InvalidArgumentError("probe: frame shorter than Ethernet");
  size_t at = 12;
  uint64_t eth_type = Get(frame, at, 2);
  if (eth_type == 0x8100) {
    at += 4;
    if (frame.size() < at + 2) return absl::InvalidArgumentError("probe: truncated VLAN tag");
    eth_type = Get(frame, at, 2);
  }
  if (eth_type != 0x0800) return absl::NotFoundError("probe: not IPv4");
  at += 2;
  if (frame.size() < at + 20 || (frame[at] >> 4) != 4)
    return absl::InvalidArgumentError("probe: truncated or not IPv4");
  const size_t ihl = static_cast<size_t>(frame[at] & 0x0f) * 4;
  if (ihl < 20 || frame[at + 9] != 17) return absl::NotFoundError("probe: not UDP");
  if (frame.size() < at + ihl + 8) return absl::InvalidArgumentError("probe: truncated UDP header");
  switches::ProbePacket probe;
  probe.dscp = static_cast<uint8_t>(frame[at + 1] >> 2);
  probe.ipv4_src = static_cast<uint32_t>(Get(frame, at + 12, 4));
  probe.ipv4_dst = static_cast<uint32_t>(Get(frame, at + 16, 4));
  probe.udp_src = static_cast<uint16_t>(Get(frame, at + ihl, 2));
  probe.udp_dst = static_cast<uint16_t>(Get(frame, at + ihl + 2, 2));
  if (probe.udp_dst != 4791) return absl::NotFoundError("probe: not RoCEv2 (UDP 4791)");
  return probe;
}

}  // namespace pulse::southbound::openflow
