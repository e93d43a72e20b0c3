#include "controller/placement/channel_flows.h"

#include <algorithm>
#include <utility>

namespace pulse::controller {

namespace {

bool Before(const ChannelFlows::Entry& a, const ChannelFlows::Entry& b) {
  return a.rate_bps < b.rate_bps || (a.rate_bps == b.rate_bps && a.flow < b.flow);
}

}  // namespace

ChannelFlows::ChannelFlows(std::vector<double> capacity_bps)
    : capacity_bps_(std::move(capacity_bps)), channels_(capacity_bps_.size()) {}

void ChannelFlows::AddJob(const std::string& job_id,
                          const std::vector<const std::vector<DirectedLinkId>*>& hops,
                          const std::vector<double>& rates_bps) {
  if (by_job_.contains(job_id)) RemoveJob(job_id);
  std::vector<FlowHandle>& handles = by_job_[job_id];
  handles.reserve(hops.size());
  for (size_t i = 0; i < hops.size() && i < rates_bps.size(); ++i) {
    FlowHandle h;
    if (!free_.empty()) {
      h = free_.back();
      free_.pop_back();
    } else {
      h = static_cast<FlowHandle>(flows_.size());
      flows_.emplace_back();
    }
    flows_[h].rate_bps = rates_bps[i];
    SetHops(h, *hops[i]);
    Place(h);
    handles.push_back(h);
  }
}

void ChannelFlows::RemoveJob(const std::string& job_id) {
  auto it = by_job_.find(job_id);
  if (it == by_job_.end()) return;
  for (FlowHandle h : it->second) {
    Unplace(h);
    flows_[h].hops.clear();
    free_.push_back(h);
  }
  by_job_.erase(it);
}

void ChannelFlows::SetFlowPath(const std::string& job_id, size_t index,
                               const std::vector<DirectedLinkId>& hops) {
  auto it = by_job_.find(job_id);
  if (it == by_job_.end() || index >= it->second.size()) return;
  const FlowHandle h = it->second[index];
  Unplace(h);
  SetHops(h, hops);
  Place(h);
}

void ChannelFlows::SetHops(FlowHandle flow, const std::vector<DirectedLinkId>& hops) {
  std::vector<DirectedLinkId>& kept = flows_[flow].hops;
  kept.clear();
  for (DirectedLinkId d : hops) {
    if (d >= 0 && static_cast<size_t>(d) < channels_.size()) kept.push_back(d);
  }
}

const std::vector<ChannelFlows::FlowHandle>* ChannelFlows::FlowsOf(
    const std::string& job_id) const {
  auto it = by_job_.find(job_id);
  return it == by_job_.end() ? nullptr : &it->second;
}

void ChannelFlows::Place(FlowHandle flow) {
  const Flow& f = flows_[flow];
  if (!(f.rate_bps > 0)) return;
  const Entry entry{f.rate_bps, flow};
  for (DirectedLinkId d : f.hops) {
    auto& entries = channels_[d].entries;
    auto at = std::upper_bound(entries.begin(), entries.end(), entry, Before);
    const size_t pos = static_cast<size_t>(at - entries.begin());
    entries.insert(at, entry);
    Recount(d, pos);
  }
}

void ChannelFlows::Unplace(FlowHandle flow) {
  const Flow& f = flows_[flow];
  if (!(f.rate_bps > 0)) return;
  const Entry entry{f.rate_bps, flow};
  for (DirectedLinkId d : f.hops) {
    auto& entries = channels_[d].entries;
    auto at = std::lower_bound(entries.begin(), entries.end(), entry, Before);
    if (at == entries.end() || at->flow != flow) continue;  // cannot happen: placed before
    const size_t pos = static_cast<size_t>(at - entries.begin());
    entries.erase(at);
    Recount(d, pos);
  }
}

void ChannelFlows::Recount(DirectedLinkId d, size_t from) {
  Channel& c = channels_[d];
  c.prefix_bps.resize(c.entries.size() + 1);
  for (size_t k = from; k < c.entries.size(); ++k) {
    c.prefix_bps[k + 1] = c.prefix_bps[k] + c.entries[k].rate_bps;
  }
  // Rounding of the sums must not report a channel exactly at capacity as overloaded.
  if (c.prefix_bps.back() > capacity_bps_[d] * (1 + 1e-12)) {
    overloaded_.insert(d);
  } else {
    overloaded_.erase(d);
  }
}

}  // namespace pulse::controller
