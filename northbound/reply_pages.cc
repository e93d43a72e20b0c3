#include "northbound/reply_pages.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace pulse::northbound {
namespace {

constexpr size_t kClientDefaultReceiveBytes = 4u << 20;  // gRPC's default client limit
constexpr size_t kRoomForOtherFields = 64u << 10;

// Bytes a repeated message element adds to its parent: tag, length prefix, body.
size_t ElementBytes(const google::protobuf::Message& m) {
  size_t body = m.ByteSizeLong();
  return 1 + google::protobuf::io::CodedOutputStream::VarintSize64(body) + body;
}

}  // namespace

size_t ReplyBudgetBytes(const ApiLimits& limits) {
  size_t cap = std::min(static_cast<size_t>(std::max(limits.max_message_bytes, 1024)),
                        kClientDefaultReceiveBytes);
  return cap > 2 * kRoomForOtherFields ? cap - kRoomForOtherFields : cap / 2;
}

void FitJobWithFlows(pulse::v1::Job* job, size_t budget_bytes) {
  job->set_flow_count(static_cast<uint64_t>(job->flows_size()));
  if (job->ByteSizeLong() <= budget_bytes) return;
  job->clear_flows();
  job->set_flows_omitted(true);
}

absl::StatusOr<uint64_t> PageJobFlows(pulse::v1::Job* job, uint64_t offset, uint64_t limit,
                                      size_t budget_bytes) {
  const uint64_t total = static_cast<uint64_t>(job->flows_size());
  job->set_flow_count(total);
  if (offset > 0 && offset >= total) {
    return absl::OutOfRangeError(
        absl::StrCat("flow_offset: ", offset, " is past the job's ", total, " flows"));
  }
  google::protobuf::RepeatedPtrField<pulse::v1::Flow> all;
  all.Swap(job->mutable_flows());
  size_t used = job->ByteSizeLong();
  uint64_t next = offset;
  for (; next < total; ++next) {
    if (limit > 0 && next - offset >= limit) break;
    size_t bytes = ElementBytes(all.Get(static_cast<int>(next)));
    if (used + bytes > budget_bytes && next > offset) break;  // at least one flow per page
    used += bytes;
    job->add_flows()->Swap(all.Mutable(static_cast<int>(next)));
  }
  return next < total ? next : 0;
}

void FillJobsPage(const controller::ControllerSnapshot& snapshot,
                  const pulse::v1::ListJobsRequest& request, size_t budget_bytes,
                  pulse::v1::ListJobsResponse* response) {
  const auto& jobs = snapshot.placement.jobs();
  size_t used = 0;
  for (auto it = jobs.lower_bound(request.page_token()); it != jobs.end(); ++it) {
    if (request.page_size() > 0 && response->jobs_size() >= static_cast<int>(request.page_size())) {
      response->set_next_page_token(it->first);
      return;
    }
    pulse::v1::Job job;
    FillJob(*snapshot.fabric, it->second, request.include_flows(), &job);
    if (request.include_flows()) FitJobWithFlows(&job, budget_bytes);
    size_t bytes = ElementBytes(job);
    if (used + bytes > budget_bytes && response->jobs_size() > 0) {
      response->set_next_page_token(it->first);
      return;
    }
    used += bytes;
    response->add_jobs()->Swap(&job);
  }
}

}  // namespace pulse::northbound
