// PFC, ECN and loss counters of switch ports, cumulative as switches report them (SONiC's
// COUNTERS_DB today), turned into per-interval deltas. Pure: no I/O, no clock.
//
// A counter that goes backwards means the switch (or its counters) restarted: the sample only
// re-bases the port and no delta is produced for that interval, so a restart never shows up as a
// huge burst of pauses or drops. 64-bit counters are assumed (SAI counters are 64-bit), so a
// decrease is never taken for a wrap.
#ifndef PULSE_CONTROLLER_HEALTH_LOSSLESS_COUNTERS_H_
#define PULSE_CONTROLLER_HEALTH_LOSSLESS_COUNTERS_H_

#include <array>
#include <cstdint>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "controller/telemetry/telemetry.h"

namespace pulse::controller {

// The sample is the switch contract's vocabulary (controller/switches/counters.h).
using switches::kLosslessPriorities;
using switches::LosslessCounterSample;
using switches::PerPriority;

// What happened on a port during one interval.
struct LosslessPortDelta {
  PortKey key;
  int64_t time_ms = 0;  // end of the interval
  int64_t interval_ms = 0;
  PerPriority pfc_rx_frames{};
  PerPriority pfc_tx_frames{};
  PerPriority queue_tx_packets{};
  PerPriority ecn_marked_packets{};
  PerPriority wred_dropped_packets{};
  PerPriority watermark_bytes{};
  uint64_t packets = 0;  // rx + tx
  uint64_t drops = 0;    // rx + tx discards
  uint64_t errors = 0;   // rx + tx errors
};

// PFC and ECN totals on one directed link (tail -> head) since the controller started, as the
// switches at its ends report them (`pulsectl links`). reported: some switch counts for it.
struct LinkLosslessCounters {
  bool reported = false;
  uint64_t pfc_pause_rx_frames = 0;  // PAUSE received at the tail: the head stopped this direction
  uint64_t pfc_pause_tx_frames = 0;  // PAUSE sent by the tail: it stopped the reverse direction
  uint64_t ecn_marked_packets = 0;   // marked by the tail's egress queues
};

class LosslessCounters {
 public:
  // nullopt for a port's first sample and after a restart (re-based). InvalidArgument (naming the
  // port) when the time does not advance; the state is then unchanged.
  absl::StatusOr<std::optional<LosslessPortDelta>> Ingest(const LosslessCounterSample& sample);
  uint64_t resets() const { return resets_; }

 private:
  absl::flat_hash_map<PortKey, LosslessCounterSample> last_;
  uint64_t resets_ = 0;
};

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_HEALTH_LOSSLESS_COUNTERS_H_
