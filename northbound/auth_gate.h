// Auth enforced once, for every pulse.v1 call, by the method-role table (auth.h).
//
// Two halves, because a gRPC C++ server interceptor can refuse a call's status but cannot stop
// the call from reaching its handler (server interceptors cannot hijack):
//   - the auth interceptor (MakeAuthInterceptor) checks the bearer token against RequiredRole of
//     the call's method when its metadata arrives; a refused call is cancelled at once with
//     UNAUTHENTICATED or PERMISSION_DENIED and its message, which is what the client sees;
//   - every pulse.v1 service is registered through GateService(): each of its methods (walked
//     from the service's descriptor, so a new RPC is covered without a line of code) runs the
//     service's own handler only for a call the interceptor admitted. Any other call fails
//     without reaching the service: deny by default, also when no auth interceptor is installed.
// Handlers hold no auth code. gRPC health and reflection are not gated and stay open.
#ifndef PULSE_NORTHBOUND_AUTH_GATE_H_
#define PULSE_NORTHBOUND_AUTH_GATE_H_

#include <memory>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "grpcpp/impl/service_type.h"
#include "grpcpp/support/server_interceptor.h"
#include "northbound/auth.h"

namespace pulse::northbound {

// Hand to grpc::ServerBuilder::experimental().SetInterceptorCreators (first in the list). With
// no tokens every call to a method of the table is admitted (authentication off); a pulse.v1
// method missing from the table is refused either way.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeAuthInterceptor(
    std::vector<Token> tokens);

// A service as it is registered with the server (see GateService).
class GatedService {
 public:
  virtual ~GatedService() = default;
  virtual grpc::Service* service() = 0;
};

namespace internal {
// Whether the auth interceptor admitted the call of `context`; forgets it (asked once per call).
bool TakeAdmitted(const grpc::ServerContextBase* context);
// Runs `inner` for admitted calls; fails the others without running the service.
grpc::internal::MethodHandler* NewGatedHandler(grpc::internal::MethodHandler* inner);

template <class ServiceClass, class Generated = typename ServiceClass::CallbackService>
class Gated final : public Generated, public GatedService {
 public:
  explicit Gated(Generated* inner) {
    const google::protobuf::ServiceDescriptor* descriptor =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
            ServiceClass::service_full_name());
    // Generated services add their methods in the order of the .proto, as the descriptor has them.
    grpc::internal::MethodHandler* (grpc::Service::*handler_of)(int) = &Gated::GetHandler;
    grpc::Service* inner_service = inner;
    for (int i = 0; descriptor != nullptr && i < descriptor->method_count(); ++i) {
      this->MarkMethodCallback(i, NewGatedHandler((inner_service->*handler_of)(i)));
    }
  }
  grpc::Service* service() override { return this; }
};
}  // namespace internal

// Wraps a pulse.v1 callback service (`inner`, which must outlive the result, is not registered
// itself). `ServiceClass` is its generated service class, e.g. pulse::v1::JobService.
template <class ServiceClass>
std::unique_ptr<GatedService> GateService(typename ServiceClass::CallbackService* inner) {
  return std::make_unique<internal::Gated<ServiceClass>>(inner);
}

}  // namespace pulse::northbound

#endif  // PULSE_NORTHBOUND_AUTH_GATE_H_
