// The persisted form of a placed job ("placements/<id>" in the StateStore), so a restart installs
// exactly the paths (and UDP source ports) that were acknowledged instead of placing afresh.
//
// Encoding: a serialized pulse.v1.Job (spec and flows). Paths are stored by names, not by
// internal link ids: each hop in Flow.links is "<tail node>:<tail port>" (the port a channel
// leaves from names one directed link), so a topology file that was reordered still decodes, and
// one that changed fails to decode instead of silently meaning other links.
#ifndef PULSE_CONTROLLER_STORE_PLACEMENT_RECORD_H_
#define PULSE_CONTROLLER_STORE_PLACEMENT_RECORD_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/placement/placement.h"
#include "topology/fabric.h"

namespace pulse::controller {

// Bytes for "placements/<id>".
std::string EncodePlacementRecord(const topology::Fabric& fabric, const JobPlacement& job);

// The job back, paths resolved against `fabric`. DataLoss naming the bad field when the bytes
// are not a record or name nodes/ports the fabric does not have. max_link_load and exact_flows
// are not stored (Placement recomputes the load).
absl::StatusOr<JobPlacement> DecodePlacementRecord(const topology::Fabric& fabric,
                                                   absl::string_view bytes);

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_STORE_PLACEMENT_RECORD_H_
