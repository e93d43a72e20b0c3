#include "controller/telemetry/job_bandwidth.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace pulse::controller {
namespace {

bool Measured(const std::vector<double>& load, topology::DirectedLinkId link) {
  return link >= 0 && static_cast<size_t>(link) < load.size() && std::isfinite(load[link]);
}

double LoadOf(const std::vector<double>& load, topology::DirectedLinkId link) {
  return std::max(0.0, load[link]);
}

}  // namespace

JobBandwidthMap MeasureJobBandwidth(const Placement& placement,
                                    const std::vector<double>& link_load_bps, int64_t time_ms) {
  // Planned rate per directed link over every placed flow: each flow's share of a link's load.
  std::vector<double> planned_on(link_load_bps.size(), 0);
  for (const auto& [id, job] : placement.jobs()) {
    for (const PlacedFlow& flow : job.flows) {
      for (topology::DirectedLinkId hop : flow.path.hops) {
        if (hop >= 0 && static_cast<size_t>(hop) < planned_on.size()) {
          planned_on[hop] += flow.rate_bps;
        }
      }
    }
  }
  auto share = [&](const PlacedFlow& flow, topology::DirectedLinkId hop) {
    const double fraction = planned_on[hop] > 0 ? flow.rate_bps / planned_on[hop] : 1.0;
    return LoadOf(link_load_bps, hop) * fraction;
  };

  JobBandwidthMap out;
  for (const auto& [id, job] : placement.jobs()) {
    MeasuredJobBandwidth m;
    m.time_ms = time_ms;
    double slowest = std::numeric_limits<double>::infinity();
    for (const PlacedFlow& flow : job.flows) {
      if (flow.path.hops.empty()) continue;
      ++m.flows;
      double delivered = -1;
      const topology::DirectedLinkId last = flow.path.hops.back();
      if (Measured(link_load_bps, last)) {
        delivered = share(flow, last);
      } else {
        for (topology::DirectedLinkId hop : flow.path.hops) {
          if (!Measured(link_load_bps, hop)) continue;
          const double on_hop = share(flow, hop);
          delivered = delivered < 0 ? on_hop : std::min(delivered, on_hop);
        }
      }
      if (delivered < 0) continue;
      ++m.flows_measured;
      m.planned_bps += flow.rate_bps;
      m.delivered_bps += delivered;
      if (flow.rate_bps > 0) slowest = std::min(slowest, delivered / flow.rate_bps);
    }
    if (m.flows == 0) continue;
    m.measured = m.flows_measured > 0;
    if (m.measured && m.planned_bps > 0) {
      m.delivered_fraction = m.delivered_bps / m.planned_bps;
      m.measured_busbw_fraction = std::isfinite(slowest) ? slowest : 0;
    }
    out.emplace(id, m);
  }
  return out;
}

}  // namespace pulse::controller
