// Measured bandwidth per job: what the fabric delivers to each placed job, from port counters.
//
// Placement predicts a job's bus bandwidth (controller/placement/flow_sim.h); this module says
// what the job actually gets, next to that prediction. Input: the measured load of every directed
// link (TelemetryLoop's per-channel rates, NaN where no switch reports) and the placed jobs.
//
// A flow's delivered rate is read where it arrives: the channel into its destination NIC (the
// last hop of its path, measured by the leaf's port counters). That channel is the same whatever
// spine the traffic really crossed, so the estimate stays right when the switches' hashing puts a
// flow somewhere other than its planned path. Several placed flows ending on one NIC share that
// channel's load in proportion to their planned rates. When the last hop is not measured, the
// flow's bottleneck share along its measured hops stands in (TelemetryLoop::EstimateFlowDemand's
// rule). Flows without a fabric path (NVLink pairs) are left out.
//
// Per job:
//   delivered_fraction      = sum of delivered rates / sum of planned rates;
//   measured_busbw_fraction = the smallest delivered / planned over its flows: a collective's
//                             stage ends with its slowest flow, so with every flow running this
//                             is the bus-bandwidth fraction the fluid model predicts (for a
//                             single-stage pattern of equal rates both equal 1 / the most flows
//                             sharing one bottleneck). For halving-doubling, flows of stages not
//                             running at the moment count as idle, so it reads low between stages.
// Neither is capped at 1: a job sending above its planned rate shows it.
//
// Pure functions of (placement, loads): the telemetry loop calls them on its own thread with a
// controller snapshot, never on live state.
#ifndef PULSE_CONTROLLER_TELEMETRY_JOB_BANDWIDTH_H_
#define PULSE_CONTROLLER_TELEMETRY_JOB_BANDWIDTH_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "controller/placement/placement.h"

namespace pulse::controller {

struct MeasuredJobBandwidth {
  bool measured = false;      // at least one flow had a measured link
  size_t flows = 0;           // flows with a fabric path
  size_t flows_measured = 0;  // ... of which had measured links
  double planned_bps = 0;     // sum of planned rates of the measured flows
  double delivered_bps = 0;   // sum of their delivered rates
  double delivered_fraction = 0;
  double measured_busbw_fraction = 0;
  int64_t time_ms = 0;  // when the loads were taken (the caller's clock)
};

// Measured bandwidth of every job of `placement` that has at least one flow on the fabric,
// keyed by job id. `link_load_bps` is indexed by DirectedLinkId (NaN or a missing entry: not
// measured); negative loads count as 0.
using JobBandwidthMap = std::map<std::string, MeasuredJobBandwidth>;
JobBandwidthMap MeasureJobBandwidth(const Placement& placement,
                                    const std::vector<double>& link_load_bps, int64_t time_ms = 0);

// Thread-safe holder of the latest measurement (written by the telemetry loop, read by API
// handlers and pages): readers take an immutable map, never a lock on the loop's state.
using JobBandwidthPtr = std::shared_ptr<const JobBandwidthMap>;

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_TELEMETRY_JOB_BANDWIDTH_H_
