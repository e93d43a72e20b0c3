// Undecodable requests answered as such. gRPC's callback server turns a request it cannot parse
// (bad protobuf, or a string field that is not valid UTF-8) into UNIMPLEMENTED with an empty
// message, which reads as a missing method. This server interceptor sees the failed decode (no
// message after POST_RECV_MESSAGE) and rewrites that status to INVALID_ARGUMENT naming the method.
#ifndef PULSE_NORTHBOUND_DECODE_ERRORS_H_
#define PULSE_NORTHBOUND_DECODE_ERRORS_H_

#include <memory>

#include "grpcpp/support/server_interceptor.h"

namespace pulse::northbound {

// Hand to grpc::ServerBuilder::experimental().SetInterceptorCreators.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeDecodeErrorInterceptor();

}  // namespace pulse::northbound

#endif  // PULSE_NORTHBOUND_DECODE_ERRORS_H_
