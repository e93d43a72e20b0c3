// pulse.v1 LosslessHealthService: serves the health supervisor's incidents and the SONiC switches'
// state from a snapshot function the daemon provides (daemon/sonic_runtime.h), so the service
// holds no state of its own.
#ifndef PULSE_NORTHBOUND_LOSSLESS_HEALTH_SERVICE_H_
#define PULSE_NORTHBOUND_LOSSLESS_HEALTH_SERVICE_H_

#include <functional>
#include <utility>

#include "pulse/v1/lossless_health.grpc.pb.h"

namespace pulse::northbound {

class LosslessHealthServiceImpl final : public pulse::v1::LosslessHealthService::CallbackService {
 public:
  using Snapshot = std::function<pulse::v1::ListIncidentsResponse()>;
  explicit LosslessHealthServiceImpl(Snapshot snapshot) : snapshot_(std::move(snapshot)) {}

  grpc::ServerUnaryReactor* ListIncidents(grpc::CallbackServerContext* context,
                                          const pulse::v1::ListIncidentsRequest* request,
                                          pulse::v1::ListIncidentsResponse* response) override;

 private:
  Snapshot snapshot_;
};

}  // namespace pulse::northbound

#endif  // PULSE_NORTHBOUND_LOSSLESS_HEALTH_SERVICE_H_
