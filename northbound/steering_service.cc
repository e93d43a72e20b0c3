#include "northbound/steering_service.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "controller/paths/addressing.h"
#include "controller/paths/ecmp_hash.h"

namespace pulse::northbound {

absl::StatusOr<pulse::v1::GetJobSteeringResponse> JobSteering(
    const controller::ControllerSnapshot& snapshot, const std::string& job_id,
    const SteeringServiceOptions& options) {
  const controller::JobPlacement* job = snapshot.placement.FindJob(job_id);
  if (job == nullptr) {
    return absl::NotFoundError(absl::StrCat("job_id: no job '", job_id.substr(0, 256), "'"));
  }
  const topology::Fabric& fabric = *snapshot.fabric;
  pulse::v1::GetJobSteeringResponse out;
  out.set_job_id(job_id);
  out.set_steered(job->enforcement == controller::Enforcement::kSteer);
  out.set_traffic_class(job->spec.traffic_class);
  int qps = 1;
  for (size_t i = 0; i < job->flows.size(); ++i) {
    const controller::PlacedFlow& f = job->flows[i];
    pulse::v1::SteeredFlow* flow = out.add_flows();
    flow->set_flow_index(static_cast<int32_t>(i));
    flow->set_src(fabric.node(f.src).name);
    flow->set_dst(fabric.node(f.dst).name);
    // The addresses the flow is steered with: the intent's, else the learned ones.
    if (uint32_t ip = controller::ServedIpv4(fabric, snapshot.hosts.get(), f.src); ip != 0)
      flow->set_src_ip(controller::FormatIpv4(ip));
    if (uint32_t ip = controller::ServedIpv4(fabric, snapshot.hosts.get(), f.dst); ip != 0)
      flow->set_dst_ip(controller::FormatIpv4(ip));
    flow->set_subflow(f.subflow);
    flow->set_udp_src_port(out.steered() ? f.udp_src_port : 0);
    flow->set_udp_dst_port(controller::kRoceV2Port);
    qps = std::max(qps, f.subflow + 1);
  }
  pulse::v1::NcclSettings* nccl = out.mutable_nccl();
  nccl->set_ib_qps_per_connection(qps);
  nccl->set_ib_gid_index(options.gid_index);
  // The highest DSCP the policy gives the job's class: RoCE's conventional 26 rather than the
  // codepoints kept equal to the 802.1p priority (3) or its class selector (24).
  std::optional<int> dscp;
  if (snapshot.qos != nullptr) {
    for (const auto& [code, tc] : snapshot.qos->policy.dscp_to_tc) {
      if (tc == job->spec.traffic_class) dscp = code;  // ascending: the last one wins
    }
  }
  nccl->set_dscp(dscp.value_or(-1));
  // NCCL_IB_TC is the IPv4 traffic-class byte: DSCP in its upper six bits.
  nccl->set_ib_tc(dscp ? *dscp * 4 : 0);
  return out;
}

grpc::ServerUnaryReactor* SteeringServiceImpl::GetJobSteering(
    grpc::CallbackServerContext* context, const pulse::v1::GetJobSteeringRequest* request,
    pulse::v1::GetJobSteeringResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (request->job_id().empty()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "job_id: must not be empty"));
    return reactor;
  }
  absl::StatusOr<pulse::v1::GetJobSteeringResponse> steering =
      JobSteering(*controller_->snapshot(), request->job_id(), options_);
  if (!steering.ok()) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::NOT_FOUND, std::string(steering.status().message())));
    return reactor;
  }
  *response = *std::move(steering);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace pulse::northbound
