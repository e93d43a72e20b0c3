// Port counters in the core's vocabulary: the one PortCounters struct, written by every switch
// driver (OpenFlow port stats, sFlow interface counters, SONiC COUNTERS_DB) and read by telemetry
// (controller/telemetry/telemetry.h), and the lossless (PFC/ECN) counters read by health.
#ifndef PULSE_CONTROLLER_SWITCHES_COUNTERS_H_
#define PULSE_CONTROLLER_SWITCHES_COUNTERS_H_

#include <array>
#include <cstdint>
#include <utility>

#include "topology/fabric.h"

namespace pulse::switches {

// A switch, as the core names it: its fabric node (topology::Fabric::node()). Each driver
// translates its own name for a switch (the OpenFlow handshake's id, an sFlow agent's bridge, the
// SONiC switch's Redis) to the node at its boundary, and drops what it cannot translate.
using SwitchId = topology::NodeId;
// A port, by the number the fabric gives it (topology::Port::number).
using PortNo = uint32_t;

// Cumulative counters of one port, as read from the switch.
struct PortCounters {
  PortNo port = 0;
  uint64_t rx_bytes = 0;
  uint64_t tx_bytes = 0;
  uint64_t rx_packets = 0;
  uint64_t tx_packets = 0;
  uint64_t rx_drops = 0;
  uint64_t tx_drops = 0;
  uint64_t rx_errors = 0;
  uint64_t tx_errors = 0;
};

// A switch port: the fabric node of the switch and the fabric's number of the port.
struct PortKey {
  SwitchId node = topology::kNoNode;
  PortNo port = 0;
  bool operator==(const PortKey& o) const { return node == o.node && port == o.port; }
  template <typename H>
  friend H AbslHashValue(H h, const PortKey& k) {
    return H::combine(std::move(h), k.node, k.port);
  }
};

// One port's counters at one instant, with what telemetry needs to turn them into rates.
struct PortCounterSample : PortCounters {
  PortKey key;
  int64_t time_ms = 0;  // when the switch read the counters (monotonic, controller clock)
  // Width of the byte counters and of the packet/drop/error counters on the wire: 32 or 64.
  // sFlow: bytes 64, the rest 32. OpenFlow port stats: all 64.
  int byte_counter_bits = 64;
  int packet_counter_bits = 64;
  // Port speed if the sample carries it (sFlow ifSpeed); 0 = unknown.
  int64_t speed_bps = 0;
};

// PFC, ECN and queue counters per priority or egress queue (SONiC's COUNTERS_DB today), read by
// lossless health (controller/health/lossless_counters.h).
inline constexpr int kLosslessPriorities = 8;
using PerPriority = std::array<uint64_t, kLosslessPriorities>;

// Cumulative counters of one switch port at one instant.
struct LosslessCounterSample {
  PortKey key;
  int64_t time_ms = 0;
  PerPriority pfc_rx_frames{};  // PAUSE frames received per priority (the peer stops us)
  PerPriority pfc_tx_frames{};  // PAUSE frames sent per priority (we stop the peer)
  // Per egress queue.
  PerPriority queue_tx_packets{};
  PerPriority ecn_marked_packets{};
  PerPriority wred_dropped_packets{};
  PerPriority watermark_bytes{};  // not cumulative: the latest high-water mark
  uint64_t rx_packets = 0, tx_packets = 0;
  uint64_t rx_drops = 0, tx_drops = 0;
  uint64_t rx_errors = 0, tx_errors = 0;
};

// A transport flow as sampled packets identify it (IPv4, host byte order).
struct FlowKey {
  uint32_t src_ipv4 = 0;
  uint32_t dst_ipv4 = 0;
  uint8_t ip_protocol = 0;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  bool operator==(const FlowKey& o) const {
    return src_ipv4 == o.src_ipv4 && dst_ipv4 == o.dst_ipv4 && ip_protocol == o.ip_protocol &&
           src_port == o.src_port && dst_port == o.dst_port;
  }
  template <typename H>
  friend H AbslHashValue(H h, const FlowKey& k) {
    return H::combine(std::move(h), k.src_ipv4, k.dst_ipv4, k.ip_protocol, k.src_port, k.dst_port);
  }
};

}  // namespace pulse::switches

#endif  // PULSE_CONTROLLER_SWITCHES_COUNTERS_H_
