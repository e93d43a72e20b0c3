// Bit rates as operators write them: "100G", "400Gbps", "1.6T", "800M", "25g", or a plain number
// of bits per second. One parser for intent files (link speeds), job files (flow rates) and
// anything else that reads a rate, so every file accepts the same spellings.
#ifndef PULSE_TOPOLOGY_UNITS_H_
#define PULSE_TOPOLOGY_UNITS_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pulse::topology {

// Decimal K/M/G/T suffixes (case-insensitive), optionally followed by "bps" or "b/s". Returns
// the value in bits per second (finite, possibly zero or negative: callers apply their own range
// rules). InvalidArgument when the text is not such a number; the caller words the message.
absl::StatusOr<double> ParseBitsPerSecond(absl::string_view text);

}  // namespace pulse::topology

#endif  // PULSE_TOPOLOGY_UNITS_H_
