// PFC headroom of one lossless priority group, by SONiC's dynamic buffer model
// (shared/notes/lossless.md). The headroom must absorb everything in flight between the moment
// the switch decides to send PAUSE and the moment the peer stops sending:
//
//   peer_response = pause_quanta(speed) x 512 bit                 (IEEE 802.3 31B.3.7)
//   cable         = 2 x length x speed / 1.98e8 m/s / 8           (round trip, bytes)
//   propagation   = port_mtu + cable + mac_phy_delay + peer_response + extra_latency x speed
//   xoff          = lossless_mtu + propagation x cell_occupancy, rounded up to 1 KiB
//   xon           = pipeline latency, rounded up to 1 KiB;  size = xon + xoff
//
// cell_occupancy is the worst case (all packets 64 B): a 64-byte packet fills one whole cell, so
// the buffer holds cell/64 times the bytes on the wire (Spectrum-4: 192 B cells -> 3). For
// cells smaller than 64 B the factor is 1.
//
// Deriving the Spectrum-4 constants from the published table (port MTU 9100, factor 3, 120 ns):
// for each row, xoff_published - 3 x (9100 + cable + peer_response + 120 ns x speed) bounds
// lossless_mtu + 3 x mac_phy_delay from the 1 KiB rounding:
//   100G/40m -> (3352, 4376]   200G/40m -> (3093, 4117]   400G/40m -> (2958, 3982]
//   400G/5m  -> (3764, 4788]   100G/300m -> (3172, 4196]
// whose intersection is (3764, 3982]. SONiC's lossless traffic pattern uses a 1024 B lossless
// MTU, leaving mac_phy_delay in (913, 986] B; we take 960 B. Every row then matches exactly
// except 400G/5m, where the formula gives 231,424 B and the table 232,448 B (the notes record
// the same 1 KiB difference; no constant choice fits both that row and 400G/40m).
// The 400G pause quanta is used as is (no doubling): doubling it cannot fit 400G/40m.
#ifndef PULSE_CONTROLLER_QOS_HEADROOM_H_
#define PULSE_CONTROLLER_QOS_HEADROOM_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "controller/qos/qos_policy.h"

namespace pulse::controller {

using switches::Headroom;  // controller/switches/qos.h

// Pause quanta (units of 512 bit times) a peer may take to react to PAUSE, by port speed:
// 10G 67, 25G 80, 40G 118, 50G 147, 100G 394, 200G 453, 400G 905, 800G 905. Other speeds are
// InvalidArgument (we do not guess a reaction time).
absl::StatusOr<int64_t> PauseQuanta(int64_t speed_bps);

// Round-trip bytes on a cable of `cable_length_m` at `speed_bps` (signal at 1.98e8 m/s).
double CableBytes(int64_t speed_bps, double cable_length_m);

// Worst-case buffer occupancy factor of `cell_bytes` cells (cell/64, at least 1).
double CellOccupancyFactor(int64_t cell_bytes);

// Headroom per the model above. Errors: unknown speed, cable length outside
// (0, kMaxCableLengthM], MTU outside 64..16384, or an incomplete ASIC profile.
absl::StatusOr<Headroom> HeadroomBytes(int64_t speed_bps, double cable_length_m,
                                       int64_t port_mtu_bytes, const AsicProfile& asic);

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_QOS_HEADROOM_H_
