// Translates decoded sFlow into the controller's telemetry vocabulary (ports, counters, flows).
//
// sFlow names ports by the agent's ifIndex, which for Open vSwitch is the interface's kernel or
// netdev ifindex, not the fabric's port number; only the daemon knows the mapping (OVSDB's
// Interface table has both `ifindex` and `ofport`, the bridge's datapath id names the fabric
// switch: ovs_port_map.h; a hardware agent's address would identify the switch). So the mapping is
// a caller-supplied resolver to the fabric port (fabric node, port), and samples it cannot resolve
// (a switch the fabric does not list, an unknown ifIndex) are skipped.
#ifndef PULSE_SOUTHBOUND_SFLOW_TELEMETRY_ADAPTER_H_
#define PULSE_SOUTHBOUND_SFLOW_TELEMETRY_ADAPTER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "controller/switches/counters.h"
#include "southbound/sflow/decoder.h"

namespace pulse::southbound::sflow {

// Maps (datagram's agent, ifIndex) to a fabric port; nullopt for ports Pulse does not track.
using PortResolver =
    std::function<std::optional<switches::PortKey>(const Datagram& datagram, uint32_t if_index)>;

// One PortCounterSample per generic-interface counter record that resolves, stamped `now_ms`
// (sFlow carries only the agent's uptime, so the receive time is the sample time). Octets are
// 64-bit counters; packet, discard and error counters 32-bit (the unicast + multicast +
// broadcast packet sum is kept modulo 2^32, which keeps deltas exact across wraps).
std::vector<switches::PortCounterSample> ToPortCounterSamples(const Datagram& datagram,
                                                              const PortResolver& resolve,
                                                              int64_t now_ms);

// The flow a sampled packet belongs to, when its header reached TCP/UDP/ICMP.
std::optional<switches::FlowKey> ToFlowKey(const FlowSample& sample);

// Feeds every flow sample with a 5-tuple into `estimator` (anything with AddSample(FlowKey,
// frame_bytes, sampling_rate, now_ms), e.g. controller::FlowRateEstimator); returns how many were
// used.
template <class Estimator>
int FeedFlowSamples(const Datagram& datagram, Estimator& estimator, int64_t now_ms) {
  int used = 0;
  for (const FlowSample& sample : datagram.flow_samples) {
    std::optional<switches::FlowKey> key = ToFlowKey(sample);
    if (!key.has_value()) continue;
    estimator.AddSample(*key, sample.header->frame_length_bytes, sample.sampling_rate, now_ms);
    ++used;
  }
  return used;
}

}  // namespace pulse::southbound::sflow

#endif  // PULSE_SOUTHBOUND_SFLOW_TELEMETRY_ADAPTER_H_
