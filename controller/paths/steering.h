// Steering a flow onto a planned path with nothing but its UDP source port.
//
// Switches pick ECMP buckets by hashing the 5-tuple; RoCEv2 leaves the UDP source port free (the
// destination port is 4791). Given a planned up-down path and each switch's hash model, the
// port search below finds a source port for which every switch on the path hashes the flow onto
// the planned egress, so the path holds with plain ECMP group tables and no per-flow rules.
#ifndef PULSE_CONTROLLER_PATHS_STEERING_H_
#define PULSE_CONTROLLER_PATHS_STEERING_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "controller/paths/ecmp_groups.h"
#include "controller/paths/ecmp_hash.h"
#include "controller/paths/paths.h"

namespace pulse::controller {

struct SteeringOptions {
  uint16_t port_min = 49152;  // the IANA dynamic range by default
  uint16_t port_max = 65535;
  // Tried first when non-zero and in range: a flow keeps its port while it still steers the flow
  // (a group change that does not touch the flow's bucket must not make its host re-point a QP).
  uint16_t preferred_port = 0;
};

// The lowest UDP source port in [port_min, port_max] such that, at every switch of `path`, the
// switch's model (models.For(switch)) selects the planned egress among the members of
// groups.NextHops(switch, dst NIC), in group order. The first hop (out of the NIC) is the
// host's choice and is not hashed. Errors: InvalidArgument if `path` is not a valley-free walk
// between two NICs or the range is empty; FailedPrecondition naming the switch if a planned hop is
// not in that switch's ECMP group (the groups no longer contain the path), or if a switch that
// must choose among several members has a model that does not hash the UDP source port; NotFound
// if no port in the range works. Unavailable (the flow is to be pinned, not refused) naming the
// switch when a switch on the path failed probe verification, or when a switch is known from
// probes only (controller/oracle/path_oracle.h) and no probed port works.
absl::StatusOr<uint16_t> FindSteeringPort(EcmpGroups& groups, const HashModels& models,
                                          const Path& path, const SteeringOptions& options = {});

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_PATHS_STEERING_H_
