// `pulsectl discovery`: what LLDP discovery found and how it differs from the intent
// (TopologyService.GetDiscovery), for the operator who goes and fixes the cables.
//
// Kept out of pulsectl.cc so the CLI gains the command with a one-entry dispatch edit; the
// formatting is pure (message in, text out) and unit-tested on its own.
#ifndef PULSE_NORTHBOUND_PULSECTL_DISCOVERY_H_
#define PULSE_NORTHBOUND_PULSECTL_DISCOVERY_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"
#include "pulse/v1/pulse.pb.h"

namespace pulse::northbound {

// "leaf-0:3", or "dpid 0x00000000000000ff:1" for a switch the intent does not know.
std::string DiscoveredEndName(const pulse::v1::DiscoveredEnd& end);

// A verdict line (differences counted, all as the intent says, or not judged yet), then one row
// per difference (missing, miswired with the intent links it displaces, unexpected), then the
// observed links.
std::string FormatDiscovery(const pulse::v1::GetDiscoveryResponse& discovery);

// Runs the command: GetDiscovery over `channel` with a context `prepare` sets up (deadline,
// token), then writes the table (or proto JSON when `json`) to `out`. A failed call returns its
// status, for the caller to report, and writes nothing.
grpc::Status RunDiscoveryCommand(const std::shared_ptr<grpc::Channel>& channel,
                                 const std::function<void(grpc::ClientContext*)>& prepare,
                                 bool json, std::ostream& out);

}  // namespace pulse::northbound

#endif  // PULSE_NORTHBOUND_PULSECTL_DISCOVERY_H_
