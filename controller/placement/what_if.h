// What-if for failures: the effect of losing links (or whole switches) on the placed jobs,
// computed by the real re-placement (Placement::SetLinkUp) on a copy of the state.
#ifndef PULSE_CONTROLLER_PLACEMENT_WHAT_IF_H_
#define PULSE_CONTROLLER_PLACEMENT_WHAT_IF_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/placement/placement.h"

namespace pulse::controller {

struct JobFailureImpact {
  std::string job_id;
  int flows_moved = 0;
  int flows_unplaced = 0;  // no surviving path
  double max_link_load_before = 0;
  double max_link_load_after = 0;
  bool loses_non_blocking = false;  // <= 100% before; above after, or flows left unplaced
};

struct FailureImpact {
  std::vector<JobFailureImpact> jobs;  // jobs moved, unplaced or whose max load changed; by id
  int flows_moved = 0;
  int flows_unplaced = 0;
  double max_link_load_before = 0;  // over every usable link
  double max_link_load_after = 0;
  std::vector<std::string> jobs_losing_non_blocking;
  std::vector<topology::LinkId> failed_links;  // those that were usable before
};

// Fails `links` (ids; duplicates and links already down are fine) on `placement`, which the call
// changes: pass a copy (Placement::DetachedCopy). InvalidArgument for a link id out of range.
absl::StatusOr<FailureImpact> WhatIfLinksFail(Placement* placement,
                                              const std::vector<topology::LinkId>& links);

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_PLACEMENT_WHAT_IF_H_
