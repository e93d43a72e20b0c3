// Path-oracle probes on the wire (controller/oracle/path_oracle.h): a RoCEv2-shaped frame
// (Ethernet II, IPv4 carrying the probe's DSCP, UDP to 4791, a 12-byte InfiniBand BTH and a
// 4-byte ICRC placeholder) built for PACKET_OUT, and the parse of one that came back as a
// PACKET_IN. Pure functions, no I/O. Addresses in host order.
#ifndef PULSE_SOUTHBOUND_OPENFLOW_PROBE_H_
#define PULSE_SOUTHBOUND_OPENFLOW_PROBE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "controller/switches/switch_driver.h"

namespace pulse::southbound::openflow {

// The frame for `probe` (IPv4 header checksum set, UDP checksum 0 as RoCEv2 allows).
std::vector<uint8_t> BuildProbeFrame(const switches::ProbePacket& probe);

// The probe in `frame`: any IPv4 (optional VLAN tag) UDP datagram to port 4791 whose IPv4 header
// and UDP header are complete. NotFound for other traffic, InvalidArgument for a truncated one.
absl::StatusOr<switches::ProbePacket> ParseProbeFrame(absl::Span<const uint8_t> frame);

}  // namespace pulse::southbound::openflow

#endif  // PULSE_SOUTHBOUND_OPENFLOW_PROBE_H_
