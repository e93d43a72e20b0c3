// sFlow version 5 datagram codec (sflow.org/sflow_version_5.txt).
//
// An sFlow agent (Open vSwitch, a switch ASIC's agent) sends UDP datagrams carrying two kinds of
// samples: counter samples (interface octet/packet/drop counters polled periodically) and flow
// samples (one packet in `sampling_rate`, with its first bytes). Pulse needs the generic interface
// counters for link rates and the sampled header's 5-tuple to attribute load to flows; every other
// record is skipped by its declared length.
//
// The decoder is a pure function of the bytes: every length read from the wire is checked against
// what is left of the buffer before it is used, and a datagram that does not fit is an error value
// (never a crash, never a read past the end). The encoder exists so tests, benches and the fuzzer's
// seed corpus can build datagrams; it writes only what the decoder reads.
#ifndef PULSE_SOUTHBOUND_SFLOW_DECODER_H_
#define PULSE_SOUTHBOUND_SFLOW_DECODER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace pulse::southbound::sflow {

// Sample formats (enterprise 0) in the sample_data "data_format" field.
inline constexpr uint32_t kFlowSampleFormat = 1;
inline constexpr uint32_t kCountersSampleFormat = 2;
inline constexpr uint32_t kFlowSampleExpandedFormat = 3;
inline constexpr uint32_t kCountersSampleExpandedFormat = 4;
// Record formats (enterprise 0).
inline constexpr uint32_t kRawPacketHeaderFormat = 1;           // flow record
inline constexpr uint32_t kGenericInterfaceCountersFormat = 1;  // counter record
// header_protocol value for Ethernet frames in a raw packet header record.
inline constexpr uint32_t kHeaderProtocolEthernet = 1;

// Generic interface counters (counter record format 1). Octet counters are 64-bit on the wire,
// packet, discard and error counters 32-bit: consumers computing rates must wrap accordingly.
struct InterfaceCounters {
  uint32_t if_index = 0;
  uint32_t if_type = 0;
  uint64_t if_speed_bps = 0;
  uint32_t if_direction = 0;  // 0 unknown, 1 full duplex, 2 half, 3 in, 4 out
  uint32_t if_status = 0;     // bit 0 admin up, bit 1 oper up
  uint64_t in_octets = 0;
  uint32_t in_unicast_packets = 0;
  uint32_t in_multicast_packets = 0;
  uint32_t in_broadcast_packets = 0;
  uint32_t in_discards = 0;
  uint32_t in_errors = 0;
  uint32_t in_unknown_protos = 0;
  uint64_t out_octets = 0;
  uint32_t out_unicast_packets = 0;
  uint32_t out_multicast_packets = 0;
  uint32_t out_broadcast_packets = 0;
  uint32_t out_discards = 0;
  uint32_t out_errors = 0;
  uint32_t promiscuous_mode = 0;
};

// Transport 5-tuple of a sampled IPv4 packet, addresses and ports in host byte order.
struct FiveTuple {
  uint32_t src_ipv4 = 0;
  uint32_t dst_ipv4 = 0;
  uint8_t ip_protocol = 0;  // 1 ICMP, 6 TCP, 17 UDP
  uint16_t src_port = 0;    // 0 unless TCP or UDP
  uint16_t dst_port = 0;
  bool operator==(const FiveTuple& o) const {
    return src_ipv4 == o.src_ipv4 && dst_ipv4 == o.dst_ipv4 && ip_protocol == o.ip_protocol &&
           src_port == o.src_port && dst_port == o.dst_port;
  }
};

// What Pulse reads from a sampled Ethernet header: enough for the 5-tuple and the ECN/DSCP bits.
struct PacketHeaderInfo {
  uint16_t ether_type = 0;         // after at most two VLAN tags
  std::optional<FiveTuple> tuple;  // set for IPv4 (first fragment) headers that reach L4
  uint8_t dscp = 0;
  uint8_t ecn = 0;  // 3 = congestion experienced
};

// Raw packet header (flow record format 1).
struct SampledHeader {
  uint32_t header_protocol = 0;     // 1 Ethernet
  uint32_t frame_length_bytes = 0;  // original frame length before sampling truncated it
  uint32_t stripped_bytes = 0;
  std::vector<uint8_t> header;  // the first bytes of the frame as sampled
  PacketHeaderInfo info;        // parsed from `header` when header_protocol is Ethernet
};

// A flow sample (compact or expanded; compact source ids and interfaces are widened).
struct FlowSample {
  uint32_t sequence_number = 0;
  uint32_t source_id_type = 0;  // 0 ifIndex, 1 VLAN, 2 entity
  uint32_t source_id_index = 0;
  uint32_t sampling_rate = 0;  // one packet in `sampling_rate` was sampled
  uint32_t sample_pool = 0;
  uint32_t drops = 0;
  uint32_t input_format = 0;
  uint32_t input_if = 0;
  uint32_t output_format = 0;
  uint32_t output_if = 0;
  std::optional<SampledHeader> header;  // the raw packet header record, if present
};

// A counters sample (compact or expanded).
struct CounterSample {
  uint32_t sequence_number = 0;
  uint32_t source_id_type = 0;
  uint32_t source_id_index = 0;
  std::optional<InterfaceCounters> interface;  // the generic interface record, if present
};

// One decoded sample_datagram_v5.
struct Datagram {
  uint32_t agent_address_type = 1;     // 1 IPv4, 2 IPv6
  std::vector<uint8_t> agent_address;  // 4 or 16 bytes, network order
  uint32_t sub_agent_id = 0;
  uint32_t sequence_number = 0;
  uint32_t uptime_ms = 0;
  std::vector<FlowSample> flow_samples;
  std::vector<CounterSample> counter_samples;
  uint32_t skipped_samples = 0;  // samples of formats Pulse does not read
  uint32_t skipped_records = 0;  // records of formats Pulse does not read

  // "192.0.2.1" or the IPv6 text form, for logs and for mapping an agent to a switch.
  std::string AgentAddressString() const;
};

// Decodes one UDP payload. InvalidArgument naming the field and byte offset for anything that does
// not fit: wrong version, truncated field, a length running past its container, an unknown address
// type. Unknown sample and record formats are skipped (counted), not errors.
absl::StatusOr<Datagram> DecodeDatagram(const uint8_t* data, size_t size);

// Parses an Ethernet frame prefix (optionally VLAN-tagged) down to IPv4 and TCP/UDP ports.
// Truncated headers give as much as could be read (tuple unset when L3 is incomplete).
PacketHeaderInfo ParseEthernetHeader(const uint8_t* data, size_t size);

// Encodes `datagram` as sFlow v5. Flow samples are written in expanded form when
// `expanded` is true, compact otherwise (then source ids and interfaces must fit in 24/30 bits).
// Only the records the decoder reads are written.
std::vector<uint8_t> EncodeDatagram(const Datagram& datagram, bool expanded = false);

}  // namespace pulse::southbound::sflow

#endif  // PULSE_SOUTHBOUND_SFLOW_DECODER_H_
