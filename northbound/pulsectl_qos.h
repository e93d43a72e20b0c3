// `pulsectl qos show|audit|export --format sonic [--switch S]`: the QoS plan per switch port,
// the differences the switches hold, and the SONiC CONFIG_DB export (pulse.v1 QosService).
//
// Kept out of pulsectl.cc so the CLI gains the command with a one-entry dispatch edit; the
// formatting is pure (message in, text out) and unit-tested on its own.
#ifndef PULSE_NORTHBOUND_PULSECTL_QOS_H_
#define PULSE_NORTHBOUND_PULSECTL_QOS_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"
#include "pulse/v1/qos.pb.h"

namespace pulse::northbound {

// One row per switch port: switch, port, peer, speed, cable, headroom/xon/xoff, ECN Kmin/Kmax.
std::string FormatQosPlan(const pulse::v1::GetQosPlanResponse& plan);
// A verdict line ("N ports audited, no differences" or "K differences"), then one row each.
std::string FormatQosAudit(const pulse::v1::AuditQosResponse& audit);

// Runs `qos <args...>` (args without "qos"): show [--switch S], audit,
// export --format sonic --switch S. INVALID_ARGUMENT for bad arguments (message says which);
// a failed call returns its status and writes nothing.
grpc::Status RunQosCommand(const std::shared_ptr<grpc::Channel>& channel,
                           const std::function<void(grpc::ClientContext*)>& prepare,
                           const std::vector<std::string>& args, bool json, std::ostream& out);

}  // namespace pulse::northbound

#endif  // PULSE_NORTHBOUND_PULSECTL_QOS_H_
