#include "controller/qos/headroom.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace pulse::controller {
namespace {

constexpr double kSignalSpeedMps = 1.98e8;
constexpr int64_t kRoundBytes = 1024;

int64_t RoundUpToKiB(double bytes) {
  return static_cast<int64_t>(std::ceil(bytes / kRoundBytes)) * kRoundBytes;
}

}  // namespace

absl::StatusOr<int64_t> PauseQuanta(int64_t speed_bps) {
  switch (speed_bps) {
    case 10000000000LL:
      return 67;
    case 25000000000LL:
      return 80;
    case 40000000000LL:
      return 118;
    case 50000000000LL:
      return 147;
    case 100000000000LL:
      return 394;
    case 200000000000LL:
      return 453;
    case 400000000000LL:
    case 800000000000LL:
      return 905;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("headroom: no pause quanta known for port speed ", speed_bps, " bps"));
  }
}

double CableBytes(int64_t speed_bps, double cable_length_m) {
  return 2.0 * cable_length_m * static_cast<double>(speed_bps) / kSignalSpeedMps / 8.0;
}

double CellOccupancyFactor(int64_t cell_bytes) {
  return cell_bytes > 64 ? static_cast<double>(cell_bytes) / 64.0 : 1.0;
}

absl::StatusOr<Headroom> HeadroomBytes(int64_t speed_bps, double cable_length_m,
                                       int64_t port_mtu_bytes, const AsicProfile& asic) {
  absl::StatusOr<int64_t> quanta = PauseQuanta(speed_bps);
  if (!quanta.ok()) return quanta.status();
  if (!(cable_length_m > 0) || cable_length_m > kMaxCableLengthM) {
    return absl::InvalidArgumentError(absl::StrCat("headroom: cable length ", cable_length_m,
                                                   " m is not in (0, ", kMaxCableLengthM, "] m"));
  }
  if (port_mtu_bytes < 64 || port_mtu_bytes > 16384) {
    return absl::InvalidArgumentError(
        absl::StrCat("headroom: port MTU ", port_mtu_bytes, " bytes is not in 64..16384"));
  }
  if (asic.cell_bytes <= 0 || asic.pipeline_latency_bytes <= 0 || asic.lossless_mtu_bytes <= 0 ||
      asic.mac_phy_delay_bytes < 0 || asic.extra_latency_ns < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("headroom: asic profile '", asic.name, "' is incomplete"));
  }
  const double peer_response_bytes = static_cast<double>(*quanta) * 512.0 / 8.0;
  const double extra_bytes = asic.extra_latency_ns * 1e-9 * static_cast<double>(speed_bps) / 8.0;
  const double propagation_bytes =
      static_cast<double>(port_mtu_bytes) + CableBytes(speed_bps, cable_length_m) +
      static_cast<double>(asic.mac_phy_delay_bytes) + peer_response_bytes + extra_bytes;
  Headroom h;
  h.xoff_bytes = RoundUpToKiB(static_cast<double>(asic.lossless_mtu_bytes) +
                              propagation_bytes * CellOccupancyFactor(asic.cell_bytes));
  h.xon_bytes = RoundUpToKiB(static_cast<double>(asic.pipeline_latency_bytes));
  h.size_bytes = h.xon_bytes + h.xoff_bytes;
  return h;
}

}  // namespace pulse::controller
