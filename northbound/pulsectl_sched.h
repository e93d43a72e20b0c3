// pulsectl's scheduler commands (pulse.v1 SchedulerService):
//   topology export --format slurm|k8s-labels|volcano|json [-o FILE] [--watch]
//       the live topology in a scheduler's format, to stdout or FILE (replaced whole, by rename).
//       --watch keeps FILE current: it follows WatchEvents and rewrites FILE after every link,
//       switch, drain or discovery event (only when the text changed), until killed.
//   suggest --gpus N | --servers N [--pattern P] [--free a,b] [--exclude a,b] [--max-leaves N]
//           [--require-non-blocking]
//       servers and rank order for a job (names or scheduler node names).
//   what-if [--link NODE:PORT]... [--switch NAME]...
//       what losing those links or switches would do to the placed jobs.
//
// Kept out of pulsectl.cc so the CLI gains the commands with a small dispatch edit.
#ifndef PULSE_NORTHBOUND_PULSECTL_SCHED_H_
#define PULSE_NORTHBOUND_PULSECTL_SCHED_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"
#include "pulse/v1/scheduler.pb.h"

namespace pulse::northbound {

// Whether `name` (without "--") is a flag of these commands, and whether it takes a value.
bool IsSchedFlag(absl::string_view name, bool* takes_value);

// Prepares a call's context: token, and a deadline unless `streaming`.
using PrepareCall = std::function<void(grpc::ClientContext*, bool streaming)>;

// Marks a status as a bad command line (its error_details), not a refused call.
inline constexpr absl::string_view kSchedUsageError = "pulsectl-usage";

// Runs `args` (starting with "topology", "suggest" or "what-if"; flags as "--name", "value").
// INVALID_ARGUMENT with error_details kSchedUsageError for bad arguments (the message says
// which); a failed call returns its status.
grpc::Status RunSchedCommand(const std::shared_ptr<grpc::Channel>& channel,
                             const PrepareCall& prepare, const std::vector<std::string>& args,
                             bool json, std::ostream& out);

// The text of a suggestion for people: servers in rank order, verdict, load, reason.
std::string FormatSuggestion(const pulse::v1::SuggestServersResponse& response);
std::string FormatWhatIf(const pulse::v1::WhatIfFailureResponse& response);

}  // namespace pulse::northbound

#endif  // PULSE_NORTHBOUND_PULSECTL_SCHED_H_
