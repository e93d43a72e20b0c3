// A fluid, flow-level model of the fabric: what bandwidth a job's collective actually gets.
//
// Max link load says whether a plan fits; users judge a fabric by the bus bandwidth their
// collectives reach. This module turns a job's paths into a completion time:
// - every flow is a fluid that shares each link it crosses max-min fairly with the others
//   (progressive filling: raise every unfrozen flow's rate together, freeze the flows of a link
//   when it fills or of a flow when it reaches its own cap);
// - when flows finish the rates are solved again (the survivors speed up), until the stage ends;
// - a collective runs stage by stage with a barrier between stages (halving-doubling: one stage
//   per distance; every other pattern runs all its flows at once, as NCCL pipelines them).
//
// Bus-bandwidth efficiency (`busbw_fraction`) is the time the same schedule needs on an ideal
// fabric (only the NIC links limit, the job alone) over the time it needs on the real paths with
// the other jobs' traffic present. The collective patterns give every NIC its line rate in the
// ideal schedule (collectives.h's rate convention), so for them the fraction is nccl-tests' busbw
// over the NIC line rate (allreduce busbw = algbw * 2(n-1)/n, all-to-all algbw * (n-1)/n): 1.0
// means the collective runs at line rate.
//
// The same model gives the plain-ECMP counterfactual: every connection split over q QPs, each QP
// hashed independently (uniformly at random, seeded) onto one of the equal-cost up-down paths;
// averaged over a few seeds.
#ifndef PULSE_CONTROLLER_PLACEMENT_FLOW_SIM_H_
#define PULSE_CONTROLLER_PLACEMENT_FLOW_SIM_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/paths/paths.h"
#include "controller/placement/collectives.h"
#include "topology/fabric.h"

namespace pulse::controller {

class Placement;

// One fluid flow. `bits` is what it must deliver; infinity makes it persistent background
// traffic that never finishes. `max_rate_bps` caps its rate (a background job's planned rate).
struct SimFlow {
  std::vector<DirectedLinkId> hops;
  double bits = 0;
  double max_rate_bps = std::numeric_limits<double>::infinity();
  int stage = 0;  // stages run in increasing order, each after the previous one has finished
  // Flows of one stage with the same group >= 0 are the QPs of one connection sharing one
  // message: the group delivers the sum of its members' bits at the sum of their rates and all
  // its members finish together (a QP that runs ahead takes more of the message). -1: alone.
  int group = -1;
};

// Max-min fair rates of `flows` over links of the given capacities (indexed by DirectedLinkId).
// A flow with no hops gets its cap (infinity if uncapped).
std::vector<double> MaxMinFairRates(const std::vector<double>& capacity_bps,
                                    const std::vector<const SimFlow*>& flows);

struct SimResult {
  double completion_seconds = 0;      // all stages
  std::vector<double> stage_seconds;  // per stage present (in stage order)
  size_t rate_solves = 0;             // how many times the rates were solved (the cost)
};

// Runs `flows` (finite bits) stage by stage next to the persistent `background` flows. Flows (or
// groups) that would finish within 0.1% of the stage's time so far after the first one finish
// with it (one solve instead of one each; the error is that small fraction of their bits). Errors:
// InvalidArgument for a job flow with non-positive or non-finite bits, a hop out of range, or a
// background flow with finite bits; FailedPrecondition when some flow can never finish (a path
// over a link with no capacity left).
absl::StatusOr<SimResult> SimulateCompletion(const std::vector<double>& capacity_bps,
                                             const std::vector<SimFlow>& flows,
                                             const std::vector<SimFlow>& background = {});

// The capacity of every directed channel of `fabric` (0 for links down in `status`).
std::vector<double> ChannelCapacities(const Fabric& fabric, const LinkStatus& status);

// A connection of a job: a NIC-to-NIC demand on a path (Placement's PlacedFlow shape).
struct SimConnection {
  NodeId src = topology::kNoNode;
  NodeId dst = topology::kNoNode;
  double rate_bps = 0;
  int phase = 0;
  Path path;  // empty for the ECMP model (paths are hashed)
};

// The stage a demand of `pattern` runs in: its phase for halving-doubling, 0 otherwise.
int StageOf(CollectivePattern pattern, int phase);

struct BandwidthOptions {
  int ecmp_qps = 4;    // QPs per connection under the ECMP model
  int ecmp_seeds = 3;  // ECMP results are averaged over this many hash draws
  // The QPs of a connection share its message (each takes chunks as it drains, so the connection
  // ends when the sum of their rates has delivered it); false: each QP carries a fixed 1/q and
  // the slowest QP ends the connection.
  bool ecmp_qps_share_message = true;
  uint64_t seed = 1;
  // Bound on the work: jobs with more connections than this are not simulated (the prediction
  // reports computed = false). The ECMP model simulates connections * ecmp_qps flows.
  size_t max_connections = 20000;
  // PredictJobBandwidth on the state owner's Placement answers from its per-channel summaries
  // of the placed flows (channel_flows.h): the same max-min rates, at a cost that follows the
  // job's size instead of the flows on its channels. It gathers the listed flows instead when
  // the summaries cannot answer exactly (a standing flow held below its rate at two different
  // levels, a channel outside the job's carrying more than its capacity, a link down under a
  // placed flow), and always when this is false.
  bool use_channel_summaries = true;
};

struct BandwidthPrediction {
  bool computed = false;
  std::string skipped_reason;  // why not, when computed is false
  // Seconds to deliver one second's worth of each stage's planned demand.
  double ideal_seconds = 0;             // NIC links only, the job alone
  double predicted_seconds = 0;         // the placed paths, other jobs present
  double ecmp_seconds = 0;              // ECMP hashing with ecmp_qps QPs, mean over the seeds
  double predicted_busbw_fraction = 0;  // ideal / predicted
  double ecmp_busbw_fraction = 0;       // mean over seeds of ideal / ecmp
  int ecmp_qps = 0;
  size_t rate_solves = 0;  // total over all runs (the cost)
  // Answered from the channel summaries (BandwidthOptions::use_channel_summaries).
  bool from_channel_summaries = false;
};

// Bandwidth of `connections` (one job of `pattern`) on `fabric` with links in `status`, next to
// `background` (persistent flows, usually the other jobs at their planned rates; only those
// sharing a channel with the job matter and only they are simulated). Connections with an empty
// path are left out of the placed-path model (NVLink pairs have none). Errors as
// SimulateCompletion; InvalidArgument for options out of range (qps 1..64, seeds 1..64).
absl::StatusOr<BandwidthPrediction> PredictBandwidth(const Fabric& fabric, const LinkStatus& status,
                                                     CollectivePattern pattern,
                                                     const std::vector<SimConnection>& connections,
                                                     const std::vector<SimFlow>& background,
                                                     const BandwidthOptions& options = {});

// The same for job `job_id` of `placement`: its placed flows against every other job's flows at
// their planned rates. NotFound for an unknown job.
absl::StatusOr<BandwidthPrediction> PredictJobBandwidth(const Placement& placement,
                                                        const std::string& job_id,
                                                        const BandwidthOptions& options = {});

// Jobs whose prediction a change may have altered: those with a flow crossing one of `channels`
// (the channels of a placed or removed job, or of moved flows' old and new paths), sorted, each
// once. Only they share a link with the change, so only their fluid model sees different
// background traffic. Costs the jobs on those channels in the state owner's Placement (its
// jobs-by-channel index), one pass over the placed flows' hops in a copy.
std::vector<std::string> JobsCrossing(const Placement& placement,
                                      const std::vector<DirectedLinkId>& channels);

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_PLACEMENT_FLOW_SIM_H_
