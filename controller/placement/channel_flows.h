// The placed flows by channel, as the fluid model needs them: each channel's flow rates sorted,
// with prefix sums.
//
// Predicting a new job's bandwidth (flow_sim.h) shares every channel its paths may take max-min
// fairly with the flows already there, each capped at its planned rate. With these summaries
// the share a channel leaves at fill level t, sum over its flows of min(rate, t), is a binary
// search and a prefix sum instead of a walk over hundreds of standing jobs' flows: the
// prediction's cost follows the new job's size, not the number of jobs placed.
//
// Kept in step by the Placement that owns it (every job placed, restored, removed, every path
// moved): a change costs the changed flows' hops times the flows on those channels (a sorted
// insert). Flows with no hops or a rate <= 0 are known by handle but on no channel.
#ifndef PULSE_CONTROLLER_PLACEMENT_CHANNEL_FLOWS_H_
#define PULSE_CONTROLLER_PLACEMENT_CHANNEL_FLOWS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "topology/fabric.h"

namespace pulse::controller {

using topology::DirectedLinkId;

class ChannelFlows {
 public:
  using FlowHandle = uint32_t;
  struct Entry {
    double rate_bps = 0;
    FlowHandle flow = 0;
  };
  struct Channel {
    std::vector<Entry> entries;         // by rate, then handle
    std::vector<double> prefix_bps{0};  // prefix_bps[k]: sum of the first k rates
  };

  // `capacity_bps` per channel (the links' nominal capacities, up or down): a channel whose
  // flows sum above it is reported by Overloaded().
  explicit ChannelFlows(std::vector<double> capacity_bps);

  // Adds the flows of a new job (index i of `hops`/`rates` is the job's flow i).
  void AddJob(const std::string& job_id,
              const std::vector<const std::vector<DirectedLinkId>*>& hops,
              const std::vector<double>& rates_bps);
  // Forgets a job's flows (nothing for an unknown id).
  void RemoveJob(const std::string& job_id);
  // Flow `index` of a job moved to `hops` (nothing for an unknown job or index).
  void SetFlowPath(const std::string& job_id, size_t index,
                   const std::vector<DirectedLinkId>& hops);

  size_t num_channels() const { return channels_.size(); }
  const Channel& channel(DirectedLinkId d) const { return channels_[d]; }
  // The handles of a job's flows by flow index, or null for an unknown job.
  const std::vector<FlowHandle>* FlowsOf(const std::string& job_id) const;
  const std::vector<DirectedLinkId>& Hops(FlowHandle flow) const { return flows_[flow].hops; }
  double Rate(FlowHandle flow) const { return flows_[flow].rate_bps; }
  // Channels whose flows sum above their capacity (by more than rounding).
  const absl::flat_hash_set<DirectedLinkId>& Overloaded() const { return overloaded_; }

 private:
  struct Flow {
    std::vector<DirectedLinkId> hops;  // the channels it is listed on (valid ids only)
    double rate_bps = 0;
  };
  // The flow's channels: `hops` without ids outside the fabric (a flow is listed only there).
  void SetHops(FlowHandle flow, const std::vector<DirectedLinkId>& hops);
  void Place(FlowHandle flow);
  void Unplace(FlowHandle flow);
  void Recount(DirectedLinkId d, size_t from);

  std::vector<double> capacity_bps_;
  std::vector<Channel> channels_;
  std::vector<Flow> flows_;
  std::vector<FlowHandle> free_;
  absl::flat_hash_map<std::string, std::vector<FlowHandle>> by_job_;
  absl::flat_hash_set<DirectedLinkId> overloaded_;
};

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_PLACEMENT_CHANNEL_FLOWS_H_
