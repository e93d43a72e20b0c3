// `pulsectl health incidents [--open]`: one line per lossless health incident, then the SONiC
// switches' state.
#ifndef PULSE_NORTHBOUND_PULSECTL_HEALTH_H_
#define PULSE_NORTHBOUND_PULSECTL_HEALTH_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "pulse/v1/lossless_health.pb.h"

namespace pulse::northbound {

std::string FormatIncidents(const pulse::v1::ListIncidentsResponse& response);

// args: after "health" ("incidents", optionally "--open").
grpc::Status RunHealthIncidents(const std::shared_ptr<grpc::Channel>& channel,
                                const std::function<void(grpc::ClientContext*)>& prepare,
                                const std::vector<std::string>& args, bool json, std::ostream& out);

}  // namespace pulse::northbound

#endif  // PULSE_NORTHBOUND_PULSECTL_HEALTH_H_
