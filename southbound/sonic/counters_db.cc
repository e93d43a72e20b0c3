#include "southbound/sonic/counters_db.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace pulse::southbound::sonic {
namespace {

// Reads `name` into `value` when present; a present but malformed value bumps `malformed`.
bool Read(const std::map<std::string, std::string>& hash, const std::string& name, uint64_t& value,
          uint64_t& malformed) {
  auto it = hash.find(name);
  if (it == hash.end()) return false;
  uint64_t v = 0;
  if (it->second.empty() || it->second[0] == '-' || !absl::SimpleAtoi(it->second, &v)) {
    ++malformed;
    return false;
  }
  value = v;
  return true;
}

}  // namespace

uint64_t ParsePortCounters(const std::map<std::string, std::string>& hash, SonicPortCounters& out) {
  uint64_t malformed = 0;
  Read(hash, "SAI_PORT_STAT_IF_IN_OCTETS", out.in_octets, malformed);
  Read(hash, "SAI_PORT_STAT_IF_OUT_OCTETS", out.out_octets, malformed);
  uint64_t ucast = 0, nucast = 0;
  Read(hash, "SAI_PORT_STAT_IF_IN_UCAST_PKTS", ucast, malformed);
  Read(hash, "SAI_PORT_STAT_IF_IN_NON_UCAST_PKTS", nucast, malformed);
  out.in_packets = ucast + nucast;
  ucast = nucast = 0;
  Read(hash, "SAI_PORT_STAT_IF_OUT_UCAST_PKTS", ucast, malformed);
  Read(hash, "SAI_PORT_STAT_IF_OUT_NON_UCAST_PKTS", nucast, malformed);
  out.out_packets = ucast + nucast;
  Read(hash, "SAI_PORT_STAT_IF_IN_DISCARDS", out.in_discards, malformed);
  Read(hash, "SAI_PORT_STAT_IF_OUT_DISCARDS", out.out_discards, malformed);
  Read(hash, "SAI_PORT_STAT_IF_IN_ERRORS", out.in_errors, malformed);
  Read(hash, "SAI_PORT_STAT_IF_OUT_ERRORS", out.out_errors, malformed);
  for (int p = 0; p < kSonicPriorities; ++p) {
    Read(hash, absl::StrCat("SAI_PORT_STAT_PFC_", p, "_RX_PKTS"), out.pfc_rx_frames[p], malformed);
    Read(hash, absl::StrCat("SAI_PORT_STAT_PFC_", p, "_TX_PKTS"), out.pfc_tx_frames[p], malformed);
  }
  return malformed;
}

uint64_t ParseQueueCounters(const std::map<std::string, std::string>& counters,
                            const std::map<std::string, std::string>& watermarks,
                            SonicQueueCounters& out) {
  uint64_t malformed = 0;
  Read(counters, "SAI_QUEUE_STAT_PACKETS", out.packets, malformed);
  Read(counters, "SAI_QUEUE_STAT_BYTES", out.bytes, malformed);
  Read(counters, "SAI_QUEUE_STAT_DROPPED_PACKETS", out.dropped_packets, malformed);
  out.has_wred_dropped =
      Read(counters, "SAI_QUEUE_STAT_WRED_DROPPED_PACKETS", out.wred_dropped_packets, malformed);
  out.has_ecn_marked =
      Read(counters, "SAI_QUEUE_STAT_WRED_ECN_MARKED_PACKETS", out.ecn_marked_packets, malformed);
  Read(watermarks, "SAI_QUEUE_STAT_SHARED_WATERMARK_BYTES", out.watermark_bytes, malformed);
  return malformed;
}

bool SplitQueueName(absl::string_view name, std::string* port, int* queue) {
  const size_t colon = name.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) return false;
  int q = 0;
  if (!absl::SimpleAtoi(name.substr(colon + 1), &q) || q < 0 || q >= kSonicPriorities) {
    return false;
  }
  *port = std::string(name.substr(0, colon));
  *queue = q;
  return true;
}

}  // namespace pulse::southbound::sonic
