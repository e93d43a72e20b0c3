// The rules a JobSpec must meet, written once, with named limits.
//
// Every entry that takes a job from outside checks it here: the gRPC API (northbound/convert.cc),
// job files (job_file.cc), the scheduler service's advice requests (the traffic class and rate
// rules), and a stored record when the controller decodes it (controller/store/). Placement
// (JobDemands) checks it again before it resolves names, with the looser kPlacementJobLimits.
// What needs a fabric (names resolve to NICs, a rate fits the NIC's line rate) is checked where
// the fabric is known, not here.
#ifndef PULSE_CONTROLLER_PLACEMENT_JOB_VALIDATION_H_
#define PULSE_CONTROLLER_PLACEMENT_JOB_VALIDATION_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "controller/placement/placement.h"

namespace pulse::controller {

// 802.1p priorities / traffic classes.
inline constexpr int kMinTrafficClass = 0;
inline constexpr int kMaxTrafficClass = 7;
inline constexpr int kDefaultTrafficClass = 3;  // the lossless RoCE class (JobSpec's default)
// Sub-flows (QPs) one flow may be split over.
inline constexpr int kMinSubflows = 1;
inline constexpr int kMaxSubflows = 64;
// Job ids become store keys ("jobs/<id>") and appear in logs and flow cookies' bookkeeping.
inline constexpr size_t kMaxJobIdBytes = 128;
// Rates in bit/s: 0 means the NIC's line rate (an explicit flow's 0: the job's rate). No NIC
// comes near 1 Pbit/s: a larger number is a unit mistake.
inline constexpr double kMaxRateBps = 1e15;
// Hard upper bounds on a job's size, whatever an entry's own (configurable) limits say.
inline constexpr size_t kMaxJobEndpoints = size_t{1} << 20;
inline constexpr size_t kMaxJobExplicitFlows = size_t{1} << 24;
// A collective of one rank moves nothing: a request for one is a mistake.
inline constexpr size_t kMinCollectiveEndpoints = 2;

// Per-entry limits (the API's are configured: daemon/config.h `limits`).
struct JobSpecLimits {
  size_t min_collective_endpoints = kMinCollectiveEndpoints;
  size_t max_endpoints = kMaxJobEndpoints;
  size_t max_explicit_flows = kMaxJobExplicitFlows;
  // Ids of at most kMaxJobIdBytes, only of [A-Za-z0-9._:-] (what an entry accepts).
  bool plain_ids = true;
};
// Placement's own check, also used for stored records: what was accepted once stays readable. A
// one-rank collective is allowed (the scheduler's node advice probes a single GPU that way; it has
// no fabric demand), and so is an id with other characters (older job files and callers inside
// the daemon gave such ids; refusing a stored one would lose the job).
inline constexpr JobSpecLimits kPlacementJobLimits{1, kMaxJobEndpoints, kMaxJobExplicitFlows,
                                                   false};

// OK, or InvalidArgument "<field_prefix><field>: <problem>" for the first rule `spec` breaks:
// id (non-empty, at most kMaxJobIdBytes, plain characters), endpoint count and duplicates,
// pattern vs explicit flows, flow endpoints, rates, traffic class, max_subflows.
absl::Status ValidateJobSpec(const JobSpec& spec, const JobSpecLimits& limits = {},
                             absl::string_view field_prefix = "job.");

// Single-field rules, for entries that carry these values outside a JobSpec (scheduler advice).
// InvalidArgument "<field>: <problem>".
absl::Status ValidateTrafficClass(int traffic_class, absl::string_view field);
// 0 or a finite rate up to kMaxRateBps.
absl::Status ValidateRateBps(double rate_bps, absl::string_view field);

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_PLACEMENT_JOB_VALIDATION_H_
