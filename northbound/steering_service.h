// pulse.v1.SteeringService: what the hosts of a steered job need (each flow's UDP source port,
// with the NICs' addresses) and the NCCL settings that go with it. Read-only, from the
// controller's snapshot (NCCL_IB_TC from the QoS policy in force); the role table of
// northbound/auth.h makes it a viewer call, enforced by the auth gate (auth_gate.h).
#ifndef PULSE_NORTHBOUND_STEERING_SERVICE_H_
#define PULSE_NORTHBOUND_STEERING_SERVICE_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/controller.h"
#include "pulse/v1/steering.grpc.pb.h"

namespace pulse::northbound {

struct SteeringServiceOptions {
  int gid_index = 3;  // NCCL_IB_GID_INDEX (daemon config placement.gid_index)
};

// The steering view of one job in `snapshot`. NotFound for an unknown job.
absl::StatusOr<pulse::v1::GetJobSteeringResponse> JobSteering(
    const controller::ControllerSnapshot& snapshot, const std::string& job_id,
    const SteeringServiceOptions& options);

class SteeringServiceImpl final : public pulse::v1::SteeringService::CallbackService {
 public:
  SteeringServiceImpl(controller::Controller* controller, SteeringServiceOptions options)
      : controller_(controller), options_(std::move(options)) {}

  grpc::ServerUnaryReactor* GetJobSteering(grpc::CallbackServerContext* context,
                                           const pulse::v1::GetJobSteeringRequest* request,
                                           pulse::v1::GetJobSteeringResponse* response) override;

 private:
  controller::Controller* controller_;
  SteeringServiceOptions options_;
};

}  // namespace pulse::northbound

#endif  // PULSE_NORTHBOUND_STEERING_SERVICE_H_
