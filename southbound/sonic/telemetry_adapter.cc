#include "southbound/sonic/telemetry_adapter.h"

namespace pulse::southbound::sonic {

SonicTelemetrySamples ToTelemetrySamples(const SonicCounterSnapshot& snapshot,
                                         switches::SwitchId node, int64_t time_ms) {
  SonicTelemetrySamples out;
  for (const SonicPortCounters& p : snapshot.ports) {
    if (p.port <= 0) continue;
    switches::PortCounterSample s;
    s.key = {node, static_cast<uint32_t>(p.port)};
    s.time_ms = time_ms;
    s.rx_bytes = p.in_octets;
    s.tx_bytes = p.out_octets;
    s.rx_packets = p.in_packets;
    s.tx_packets = p.out_packets;
    s.rx_drops = p.in_discards;
    s.tx_drops = p.out_discards;
    s.rx_errors = p.in_errors;
    s.tx_errors = p.out_errors;
    out.ports.push_back(s);

    switches::LosslessCounterSample l;
    l.key = s.key;
    l.time_ms = time_ms;
    for (int i = 0; i < kSonicPriorities; ++i) {
      l.pfc_rx_frames[i] = p.pfc_rx_frames[i];
      l.pfc_tx_frames[i] = p.pfc_tx_frames[i];
    }
    for (const SonicQueueCounters& q : p.queues) {
      l.queue_tx_packets[q.queue] = q.packets;
      l.ecn_marked_packets[q.queue] = q.ecn_marked_packets;
      l.wred_dropped_packets[q.queue] = q.wred_dropped_packets;
      l.watermark_bytes[q.queue] = q.watermark_bytes;
    }
    l.rx_packets = p.in_packets;
    l.tx_packets = p.out_packets;
    l.rx_drops = p.in_discards;
    l.tx_drops = p.out_discards;
    l.rx_errors = p.in_errors;
    l.tx_errors = p.out_errors;
    out.lossless.push_back(l);
  }
  return out;
}

}  // namespace pulse::southbound::sonic
