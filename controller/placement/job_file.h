// Job files: a JobSpec as YAML, for pulse-plan and the daemon's CLI.
//
//   id: ring-1                      # required
//   pattern: ring                   # explicit | ring | double-binary-tree | all-to-all |
//                                   # halving-doubling | rail-aligned (default ring)
//   endpoints:                      # GPU or NIC names in rank order; an item may be a range:
//     - server-[0-3]/gpu-[0-7]      # [a-b] expands to a..b; ranges nest, leftmost slowest:
//                                   # server-0/gpu-0 .. server-0/gpu-7, server-1/gpu-0 ..
//                                   # (quote a range inside a [...] flow list)
//   rate: 100G                      # per rank, see collectives.h; bits per second as a number or
//                                   # with a K/M/G/T suffix (optionally "bps"); omit for line rate
//   strict: false                   # refuse rather than overload a link
//   max_subflows: 1                 # split each flow over up to N paths (QPs)
//   traffic_class: 3
//   flows:                          # pattern explicit only
//     - {src: server-0/gpu-0, dst: server-1/gpu-0, rate: 50G}   # rate optional: job's rate
//
// The file is checked whole before use: unknown keys, wrong types, a zero or negative rate, a
// bad range are errors naming "file:line: field: problem". Endpoint names are resolved later,
// against a fabric, by Placement.
#ifndef PULSE_CONTROLLER_PLACEMENT_JOB_FILE_H_
#define PULSE_CONTROLLER_PLACEMENT_JOB_FILE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/placement/placement.h"

namespace pulse::controller {

// Parses a job from YAML text; `source` names it in errors (a file path, "<stdin>").
absl::StatusOr<JobSpec> ParseJobYaml(absl::string_view yaml_text, absl::string_view source);

// Reads and parses a job file. NotFound if it cannot be read.
absl::StatusOr<JobSpec> LoadJobFile(const std::string& path);

// Expands "server-[0-3]/gpu-[0-1]" into its names (a name without brackets is itself).
// InvalidArgument for an unbalanced bracket, a non-numeric bound, or lo > hi. At most
// kMaxJobEndpoints (job_validation.h) names.
absl::StatusOr<std::vector<std::string>> ExpandEndpointRange(absl::string_view pattern);

// "400G", "400Gbps", "1.5T", "100000000000" -> bits per second. InvalidArgument otherwise
// (including non-positive rates).
absl::StatusOr<double> ParseRateBps(absl::string_view text);

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_PLACEMENT_JOB_FILE_H_
