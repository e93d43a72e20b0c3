// Listen addresses checked before gRPC sees them: gRPC wraps a port over 65535 silently (70000
// became 4464) and, when it cannot start, does not say why. These helpers split and range-check
// "host:port" and find out whether the address can be bound at all.
#ifndef PULSE_NORTHBOUND_LISTEN_CHECK_H_
#define PULSE_NORTHBOUND_LISTEN_CHECK_H_

#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pulse::northbound {

// "host:port", "[v6]:port" -> {host, port}; InvalidArgument naming the address when the port is
// missing, not a number or outside 0..65535.
absl::StatusOr<std::pair<std::string, uint16_t>> SplitListenAddress(absl::string_view address);

// Binds (and releases) a TCP socket on host:port without SO_REUSEPORT: "" when that works, else
// why not (e.g. "Address already in use"). Port 0 always binds.
std::string TryBind(const std::string& host, uint16_t port);

}  // namespace pulse::northbound

#endif  // PULSE_NORTHBOUND_LISTEN_CHECK_H_
