// Times every RPC the API server answers, from the moment gRPC hands it to Pulse to the moment
// its status is sent, and reports (method, seconds) to an observer (the daemon feeds
// pulse_rpc_latency_seconds). A gRPC server interceptor, so the core services and the extra
// services (QoS) are timed alike without code in each handler; streaming RPCs (WatchEvents) are
// timed over their whole life, so the daemon reports them apart from the unary ones by name.
#ifndef PULSE_NORTHBOUND_RPC_LATENCY_H_
#define PULSE_NORTHBOUND_RPC_LATENCY_H_

#include <functional>
#include <memory>
#include <string>

#include "grpcpp/support/server_interceptor.h"

namespace pulse::northbound {

// Called once per finished RPC with its full method name ("/pulse.v1.JobService/PlaceJob").
// Runs on a gRPC thread: must be thread-safe and quick.
using RpcLatencyObserver = std::function<void(const std::string& method, double seconds)>;

// Hand to grpc::ServerBuilder::experimental().SetInterceptorCreators.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeRpcLatencyInterceptor(
    RpcLatencyObserver observer);

}  // namespace pulse::northbound

#endif  // PULSE_NORTHBOUND_RPC_LATENCY_H_
