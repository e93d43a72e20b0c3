// SONiC counter snapshots -> the switch contract's counters (controller/switches/counters.h): the
// same PortCounterSample OpenFlow and sFlow feed (bytes, packets, drops, errors) plus the
// PFC/ECN/queue counters lossless health reads (LosslessCounterSample). Ports the switch's naming
// does not map (port 0) are skipped.
#ifndef PULSE_SOUTHBOUND_SONIC_TELEMETRY_ADAPTER_H_
#define PULSE_SOUTHBOUND_SONIC_TELEMETRY_ADAPTER_H_

#include <cstdint>
#include <vector>

#include "controller/switches/counters.h"
#include "southbound/sonic/counters_db.h"

namespace pulse::southbound::sonic {

struct SonicTelemetrySamples {
  std::vector<switches::PortCounterSample> ports;
  std::vector<switches::LosslessCounterSample> lossless;
};

// `node` is the fabric node of the intent switch the snapshot's driver serves (a SONiC switch has
// no other name the core knows); `time_ms` the controller clock of the poll.
SonicTelemetrySamples ToTelemetrySamples(const SonicCounterSnapshot& snapshot,
                                         switches::SwitchId node, int64_t time_ms);

}  // namespace pulse::southbound::sonic

#endif  // PULSE_SOUTHBOUND_SONIC_TELEMETRY_ADAPTER_H_
