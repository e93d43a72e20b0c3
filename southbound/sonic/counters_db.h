// SONiC COUNTERS_DB (database 2) in Pulse's vocabulary. Pure functions: no I/O.
//
// COUNTERS_PORT_NAME_MAP maps port names to SAI object ids ("Ethernet0" -> "oid:0x1000..."),
// COUNTERS_QUEUE_NAME_MAP queue names ("Ethernet0:3") likewise; the counters themselves are hashes
// "COUNTERS:<oid>" of SAI statistic names to decimal strings, and queue watermarks live in
// "USER_WATERMARKS:<oid>". A value that is not a decimal unsigned integer is counted as malformed
// and ignored (the counter keeps "absent"), never trusted and never a crash.
#ifndef PULSE_SOUTHBOUND_SONIC_COUNTERS_DB_H_
#define PULSE_SOUTHBOUND_SONIC_COUNTERS_DB_H_

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace pulse::southbound::sonic {

inline constexpr int kSonicPriorities = 8;

// One egress queue's cumulative counters (absent ones stay 0 with the has_ flag false).
struct SonicQueueCounters {
  int queue = 0;
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t dropped_packets = 0;
  uint64_t wred_dropped_packets = 0;
  uint64_t ecn_marked_packets = 0;
  uint64_t watermark_bytes = 0;  // USER_WATERMARKS shared watermark
  bool has_ecn_marked = false;
  bool has_wred_dropped = false;
};

// One port's cumulative counters, SAI_PORT_STAT_* names.
struct SonicPortCounters {
  std::string name;  // the switch's port name
  int32_t port = 0;  // the fabric's port number (0: not in the switch's naming)
  uint64_t in_octets = 0, out_octets = 0;
  uint64_t in_packets = 0, out_packets = 0;  // unicast + non-unicast
  uint64_t in_discards = 0, out_discards = 0;
  uint64_t in_errors = 0, out_errors = 0;
  std::array<uint64_t, kSonicPriorities> pfc_rx_frames{};  // SAI_PORT_STAT_PFC_<p>_RX_PKTS
  std::array<uint64_t, kSonicPriorities> pfc_tx_frames{};  // SAI_PORT_STAT_PFC_<p>_TX_PKTS
  std::vector<SonicQueueCounters> queues;                  // in queue order
};

// All ports of one switch read in one poll.
struct SonicCounterSnapshot {
  std::string switch_name;
  int64_t time_ms = 0;  // controller clock when the poll finished
  std::vector<SonicPortCounters> ports;
  uint64_t malformed_values = 0;  // values ignored in this poll
};

// Fills `out`'s port counters from a COUNTERS:<oid> hash; returns malformed values seen.
uint64_t ParsePortCounters(const std::map<std::string, std::string>& hash, SonicPortCounters& out);
// Fills a queue's counters from its COUNTERS:<oid> hash and USER_WATERMARKS:<oid> hash.
uint64_t ParseQueueCounters(const std::map<std::string, std::string>& counters,
                            const std::map<std::string, std::string>& watermarks,
                            SonicQueueCounters& out);

// "Ethernet0:3" -> ("Ethernet0", 3); false for anything else (queue outside 0..7).
bool SplitQueueName(absl::string_view name, std::string* port, int* queue);

}  // namespace pulse::southbound::sonic

#endif  // PULSE_SOUTHBOUND_SONIC_COUNTERS_DB_H_
