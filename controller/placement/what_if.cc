#include "controller/placement/what_if.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"

namespace pulse::controller {
namespace {

constexpr double kNonBlocking = 1.0 + 1e-9;

// Highest utilisation over links placement may use (a dead link's stranded load is not a load
// any flow can still see, and unplaced flows are reported apart).
double MaxUsableUtilisation(const Placement& placement) {
  double max = 0;
  const topology::Fabric& fabric = placement.fabric();
  for (topology::DirectedLinkId d = 0; d < fabric.num_directed_links(); ++d) {
    if (placement.link_status().IsUp(topology::Fabric::LinkOf(d))) {
      max = std::max(max, placement.Utilisation(d));
    }
  }
  return max;
}

}  // namespace

absl::StatusOr<FailureImpact> WhatIfLinksFail(Placement* placement,
                                              const std::vector<topology::LinkId>& links) {
  const int num_links = static_cast<int>(placement->fabric().links().size());
  for (topology::LinkId l : links) {
    if (l < 0 || l >= num_links) return absl::InvalidArgumentError(absl::StrCat("no link ", l));
  }
  FailureImpact impact;
  impact.max_link_load_before = MaxUsableUtilisation(*placement);
  std::map<std::string, double> before;
  for (const auto& [id, job] : placement->jobs()) before[id] = job.max_link_load;

  std::map<std::string, std::set<size_t>> moved, unplaced;
  std::set<topology::LinkId> unique(links.begin(), links.end());
  for (topology::LinkId l : unique) {
    if (!placement->link_status().IsUp(l)) continue;
    impact.failed_links.push_back(l);
    absl::StatusOr<LinkChangeResult> change = placement->SetLinkUp(l, false);
    if (!change.ok()) return change.status();
    for (const FlowMove& m : change->moves) moved[m.job_id].insert(m.flow_index);
    for (const UnplacedFlow& u : change->unplaced) unplaced[u.job_id].insert(u.flow_index);
  }
  // A flow moved by one failure and stranded by a later one counts as unplaced only.
  for (auto& [id, flows] : unplaced) {
    for (size_t f : flows) moved[id].erase(f);
  }
  impact.max_link_load_after = MaxUsableUtilisation(*placement);
  for (const auto& [id, job] : placement->jobs()) {
    JobFailureImpact j;
    j.job_id = id;
    j.flows_moved = moved.count(id) ? static_cast<int>(moved[id].size()) : 0;
    j.flows_unplaced = unplaced.count(id) ? static_cast<int>(unplaced[id].size()) : 0;
    j.max_link_load_before = before[id];
    // The job's load over the links it can still use.
    double after = 0;
    for (const PlacedFlow& f : job.flows) {
      for (topology::DirectedLinkId d : f.path.hops) {
        if (placement->link_status().IsUp(topology::Fabric::LinkOf(d))) {
          after = std::max(after, placement->Utilisation(d));
        }
      }
    }
    j.max_link_load_after = after;
    j.loses_non_blocking =
        j.max_link_load_before <= kNonBlocking && (after > kNonBlocking || j.flows_unplaced > 0);
    const bool changed = std::abs(after - j.max_link_load_before) > 1e-9;
    if (j.flows_moved == 0 && j.flows_unplaced == 0 && !changed) continue;
    impact.flows_moved += j.flows_moved;
    impact.flows_unplaced += j.flows_unplaced;
    if (j.loses_non_blocking) impact.jobs_losing_non_blocking.push_back(id);
    impact.jobs.push_back(std::move(j));
  }
  return impact;
}

}  // namespace pulse::controller
