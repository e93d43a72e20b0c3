#include "southbound/sflow/telemetry_adapter.h"

namespace pulse::southbound::sflow {

std::vector<switches::PortCounterSample> ToPortCounterSamples(const Datagram& datagram,
                                                              const PortResolver& resolve,
                                                              int64_t now_ms) {
  std::vector<switches::PortCounterSample> out;
  for (const CounterSample& sample : datagram.counter_samples) {
    if (!sample.interface.has_value() || !resolve) continue;
    const InterfaceCounters& c = *sample.interface;
    std::optional<switches::PortKey> key = resolve(datagram, c.if_index);
    if (!key.has_value()) continue;
    switches::PortCounterSample s;
    s.key = *key;
    s.time_ms = now_ms;
    s.rx_bytes = c.in_octets;
    s.tx_bytes = c.out_octets;
    s.rx_packets =
        (uint64_t{c.in_unicast_packets} + c.in_multicast_packets + c.in_broadcast_packets) &
        0xffffffffu;
    s.tx_packets =
        (uint64_t{c.out_unicast_packets} + c.out_multicast_packets + c.out_broadcast_packets) &
        0xffffffffu;
    s.rx_drops = c.in_discards;
    s.tx_drops = c.out_discards;
    s.rx_errors = c.in_errors;
    s.tx_errors = c.out_errors;
    s.byte_counter_bits = 64;
    s.packet_counter_bits = 32;
    s.speed_bps = c.if_speed_bps > static_cast<uint64_t>(INT64_MAX)
                      ? 0
                      : static_cast<int64_t>(c.if_speed_bps);
    out.push_back(s);
  }
  return out;
}

std::optional<switches::FlowKey> ToFlowKey(const FlowSample& sample) {
  if (!sample.header.has_value() || !sample.header->info.tuple.has_value()) return std::nullopt;
  const FiveTuple& t = *sample.header->info.tuple;
  return switches::FlowKey{t.src_ipv4, t.dst_ipv4, t.ip_protocol, t.src_port, t.dst_port};
}

}  // namespace pulse::southbound::sflow
