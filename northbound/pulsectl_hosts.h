// `pulsectl hosts [all]`: every NIC with its served address, MAC, leaf port, source (intent or
// learned) and first/last seen (pulse.v1 HostService). "all" also lists NICs not known yet.
#ifndef PULSE_NORTHBOUND_PULSECTL_HOSTS_H_
#define PULSE_NORTHBOUND_PULSECTL_HOSTS_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"
#include "pulse/v1/hosts.pb.h"

namespace pulse::northbound {

// A summary line, then one row per NIC: nic, ipv4, mac, switch:port, source, first/last seen,
// conflict.
std::string FormatHosts(const pulse::v1::ListHostsResponse& hosts);

// Runs `hosts <args...>` (args without "hosts"). INVALID_ARGUMENT for bad arguments.
grpc::Status RunHostsCommand(const std::shared_ptr<grpc::Channel>& channel,
                             const std::function<void(grpc::ClientContext*)>& prepare,
                             const std::vector<std::string>& args, bool json, std::ostream& out);

}  // namespace pulse::northbound

#endif  // PULSE_NORTHBOUND_PULSECTL_HOSTS_H_
