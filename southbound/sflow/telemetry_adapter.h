// Translates decoded sFlow into the controller's telemetry vocabulary (ports, counters, flows).
//
// sFlow names ports by the agent's ifIndex, which for Open vSwitch is the interface's kernel or
// netdev ifindex, not the OpenFlow port number; only the daemon knows the mapping (OVSDB's
// Interface table has both `ifindex` and `ofport`, and the agent address identifies the switch).
// So the mapping is a caller-supplied resolver, and samples it cannot resolve are skipped.
#ifndef PULSE_SOUTHBOUND_SFLOW_TELEMETRY_ADAPTER_H_
#define PULSE_SOUTHBOUND_SFLOW_TELEMETRY_ADAPTER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "controller/telemetry.h"
#include "southbound/sflow/decoder.h"

namespace pulse::southbound::sflow {

// Maps (datagram's agent, ifIndex) to a switch port; nullopt for ports Pulse does not track.
using PortResolver =
    std::function<std::optional<controller::PortKey>(const Datagram& datagram, uint32_t if_index)>;

// One PortCounterSample per generic-interface counter record that resolves, stamped `now_ms`
// (sFlow carries only the agent's uptime, so the receive time is the sample time). Octets are
// 64-bit counters; packet, discard and error counters 32-bit (the unicast + multicast +
// broadcast packet sum is kept modulo 2^32, which keeps deltas exact across wraps).
std::vector<controller::PortCounterSample> ToPortCounterSamples(const Datagram& datagram,
                                                                const PortResolver& resolve,
                                                                int64_t now_ms);

// The flow a sampled packet belongs to, when its header reached TCP/UDP/ICMP.
std::optional<controller::FlowKey> ToFlowKey(const FlowSample& sample);

// Feeds every flow sample with a 5-tuple into `estimator`; returns how many were used.
int FeedFlowSamples(const Datagram& datagram, controller::FlowRateEstimator& estimator,
                    int64_t now_ms);

}  // namespace pulse::southbound::sflow

#endif  // PULSE_SOUTHBOUND_SFLOW_TELEMETRY_ADAPTER_H_
