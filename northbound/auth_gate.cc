#include "northbound/auth_gate.h"

#include <mutex>
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "grpc/grpc.h"
#include "grpcpp/server_context.h"

namespace pulse::northbound {
namespace {

// Calls the interceptor admitted whose handler has not run yet (gRPC threads).
struct AdmittedCalls {
  std::mutex mu;
  absl::flat_hash_set<const grpc::ServerContextBase*> calls;
};
AdmittedCalls& Admitted() {
  static AdmittedCalls* admitted = new AdmittedCalls();  // never destroyed: used by gRPC threads
  return *admitted;
}

class AuthInterceptor final : public grpc::experimental::Interceptor {
 public:
  AuthInterceptor(const Authorizer* authorizer, grpc::experimental::ServerRpcInfo* info)
      : authorizer_(authorizer), info_(info) {}
  ~AuthInterceptor() override {
    std::lock_guard<std::mutex> lock(Admitted().mu);
    Admitted().calls.erase(info_->server_context());  // a call whose handler never ran
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      const std::string method = info_->method() == nullptr ? "" : info_->method();
      grpc::Status verdict = grpc::Status::OK;
      if (absl::StartsWith(method, "/pulse.")) {
        verdict = authorizer_->Check(*methods->GetRecvInitialMetadata(), method);
      }
      if (verdict.ok()) {
        std::lock_guard<std::mutex> lock(Admitted().mu);
        Admitted().calls.insert(info_->server_context());
      } else {
        // What the client sees; the gated handler then fails the call without the service.
        grpc_call_cancel_with_status(info_->server_context()->c_call(),
                                     static_cast<grpc_status_code>(verdict.error_code()),
                                     verdict.error_message().c_str(), nullptr);
      }
    }
    methods->Proceed();
  }

 private:
  const Authorizer* authorizer_;
  grpc::experimental::ServerRpcInfo* info_;
};

class AuthInterceptorFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit AuthInterceptorFactory(std::vector<Token> tokens) : authorizer_(std::move(tokens)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new AuthInterceptor(&authorizer_, info);
  }

 private:
  const Authorizer authorizer_;
};

class GatedHandler final : public grpc::internal::MethodHandler {
 public:
  explicit GatedHandler(grpc::internal::MethodHandler* inner) : inner_(inner) {}

  void RunHandler(const HandlerParameter& param) override {
    if (internal::TakeAdmitted(param.server_context)) {
      inner_->RunHandler(param);
      return;
    }
    // The handler's own failure path (as for a request that did not parse): the service never
    // sees the call. The client already has the interceptor's status.
    inner_->RunHandler(
        HandlerParameter(param.call, param.server_context, param.request,
                         grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "refused by auth"),
                         param.internal_data, param.call_requester));
  }
  void* Deserialize(grpc_call* call, grpc_byte_buffer* request, grpc::Status* status,
                    void** handler_data) override {
    return inner_->Deserialize(call, request, status, handler_data);
  }

 private:
  grpc::internal::MethodHandler* const inner_;  // owned by the inner service
};

}  // namespace

namespace internal {

bool TakeAdmitted(const grpc::ServerContextBase* context) {
  std::lock_guard<std::mutex> lock(Admitted().mu);
  return Admitted().calls.erase(context) > 0;
}

grpc::internal::MethodHandler* NewGatedHandler(grpc::internal::MethodHandler* inner) {
  return new GatedHandler(inner);
}

}  // namespace internal

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeAuthInterceptor(
    std::vector<Token> tokens) {
  return std::make_unique<AuthInterceptorFactory>(std::move(tokens));
}

}  // namespace pulse::northbound
