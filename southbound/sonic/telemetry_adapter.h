// SONiC counter snapshots -> the controller's telemetry vocabulary: the same PortCounterSample
// OpenFlow and sFlow feed (bytes, packets, drops, errors) plus the PFC/ECN/queue counters of
// controller/health/lossless_counters.h. Ports the switch's naming does not map (port 0) are
// skipped.
#ifndef PULSE_SOUTHBOUND_SONIC_TELEMETRY_ADAPTER_H_
#define PULSE_SOUTHBOUND_SONIC_TELEMETRY_ADAPTER_H_

#include <cstdint>
#include <vector>

#include "controller/health/lossless_counters.h"
#include "controller/telemetry/telemetry.h"
#include "southbound/sonic/counters_db.h"

namespace pulse::southbound::sonic {

struct SonicTelemetrySamples {
  std::vector<controller::PortCounterSample> ports;
  std::vector<controller::LosslessCounterSample> lossless;
};

// `dpid` is the fabric's id of the switch; `time_ms` the controller clock of the poll.
SonicTelemetrySamples ToTelemetrySamples(const SonicCounterSnapshot& snapshot, uint64_t dpid,
                                         int64_t time_ms);

}  // namespace pulse::southbound::sonic

#endif  // PULSE_SOUTHBOUND_SONIC_TELEMETRY_ADAPTER_H_
