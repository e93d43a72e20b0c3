#ifndef PULSE_SOUTHBOUND_OPENFLOW_LLDP_H_
#define PULSE_SOUTHBOUND_OPENFLOW_LLDP_H_

// LLDP discovery frames as Pulse sends them: chassis id "dpid:<16 hex digits>" and port id
// "<port number>" (both subtype 7, locally assigned), TTL 120. Pure functions, no I/O.

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace pulse::southbound::openflow {

inline constexpr uint16_t kEthTypeLldp = 0x88cc;

// Where a probe was sent from.
struct LldpProbe {
  uint64_t dpid = 0;
  uint32_t port = 0;
};

// A complete Ethernet frame (to the nearest-bridge multicast address) from `src_mac` (48 bits).
std::vector<uint8_t> BuildLldpFrame(uint64_t dpid, uint32_t port, uint64_t src_mac);

// Parses an Ethernet frame. InvalidArgument if it is not LLDP or is malformed; NotFound if it is
// LLDP but not one of Pulse's probes (another agent's chassis id).
absl::StatusOr<LldpProbe> ParseLldpFrame(absl::Span<const uint8_t> frame);

}  // namespace pulse::southbound::openflow

#endif  // PULSE_SOUTHBOUND_OPENFLOW_LLDP_H_
