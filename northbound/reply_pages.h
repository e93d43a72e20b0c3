// Replies that always fit: the API keeps every job reply under a byte budget (gRPC clients refuse
// replies over 4 MiB by default, and the server over limits.max_message_bytes), so a job with
// 65,536 flows is answered, not placed and then reported as RESOURCE_EXHAUSTED. Flows that do
// not fit are left out (Job.flows_omitted) and read in pages with GetJob's flow_offset; ListJobs
// pages jobs with page_token.
#ifndef PULSE_NORTHBOUND_REPLY_PAGES_H_
#define PULSE_NORTHBOUND_REPLY_PAGES_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "controller/controller.h"
#include "northbound/convert.h"
#include "pulse/v1/pulse.pb.h"

namespace pulse::northbound {

// The largest reply the API sends: under both the server's send limit and 4 MiB, less room for
// the other fields.
size_t ReplyBudgetBytes(const ApiLimits& limits);

// A job reply with its flows (PlaceJob): flow_count set; the flows are dropped and flows_omitted
// set when the whole would exceed `budget_bytes`.
void FitJobWithFlows(pulse::v1::Job* job, size_t budget_bytes);

// GetJob: keeps the flows from `offset` on, at most `limit` (0: no limit) and what fits the
// budget. Returns the next offset to ask for, 0 when the last flow is in. OutOfRange when
// offset is past the last flow.
absl::StatusOr<uint64_t> PageJobFlows(pulse::v1::Job* job, uint64_t offset, uint64_t limit,
                                      size_t budget_bytes);

// ListJobs: one page of the snapshot's jobs (sorted by id) from request.page_token on.
void FillJobsPage(const controller::ControllerSnapshot& snapshot,
                  const pulse::v1::ListJobsRequest& request, size_t budget_bytes,
                  pulse::v1::ListJobsResponse* response);

}  // namespace pulse::northbound

#endif  // PULSE_NORTHBOUND_REPLY_PAGES_H_
