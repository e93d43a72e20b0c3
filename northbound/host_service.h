// pulse.v1 HostService (proto/pulse/v1/hosts.proto): every NIC with the address Pulse serves for
// it, where that address comes from (intent or learned), its leaf port and when it was seen.
// Reads the controller's latest snapshot; role viewer (northbound/auth.cc).
#ifndef PULSE_NORTHBOUND_HOST_SERVICE_H_
#define PULSE_NORTHBOUND_HOST_SERVICE_H_

#include <vector>

#include "controller/controller.h"
#include "northbound/auth.h"
#include "pulse/v1/hosts.grpc.pb.h"

namespace pulse::northbound {

// The listing of `snapshot` (pure; unit-tested without gRPC).
pulse::v1::ListHostsResponse ListHosts(const controller::ControllerSnapshot& snapshot,
                                       bool include_unknown);

class HostServiceImpl final : public pulse::v1::HostService::CallbackService {
 public:
  // `controller` must outlive the service. Empty `tokens`: authentication off.
  HostServiceImpl(controller::Controller* controller, std::vector<Token> tokens)
      : controller_(controller), auth_(std::move(tokens)) {}

  grpc::ServerUnaryReactor* ListHosts(grpc::CallbackServerContext* context,
                                      const pulse::v1::ListHostsRequest* request,
                                      pulse::v1::ListHostsResponse* response) override;

 private:
  controller::Controller* controller_;
  Authorizer auth_;
};

}  // namespace pulse::northbound

#endif  // PULSE_NORTHBOUND_HOST_SERVICE_H_
