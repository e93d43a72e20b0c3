#include "northbound/rpc_latency.h"

#include <chrono>
#include <utility>

namespace pulse::northbound {
namespace {

using grpc::experimental::InterceptionHookPoints;

class RpcLatencyInterceptor final : public grpc::experimental::Interceptor {
 public:
  RpcLatencyInterceptor(const RpcLatencyObserver* observer, std::string method)
      : observer_(observer), method_(std::move(method)), start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    // PRE_SEND_STATUS comes once per RPC, when the handler has finished (or failed) the call.
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start_;
      (*observer_)(method_, elapsed.count());
    }
    methods->Proceed();
  }

 private:
  const RpcLatencyObserver* observer_;
  const std::string method_;
  const std::chrono::steady_clock::time_point start_;
};

class RpcLatencyInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcLatencyInterceptorFactory(RpcLatencyObserver observer)
      : observer_(std::move(observer)) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    if (!observer_) return nullptr;
    return new RpcLatencyInterceptor(&observer_, info->method() ? info->method() : "unknown");
  }

 private:
  const RpcLatencyObserver observer_;  // the factory outlives the server and so every RPC
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeRpcLatencyInterceptor(
    RpcLatencyObserver observer) {
  return std::make_unique<RpcLatencyInterceptorFactory>(std::move(observer));
}

}  // namespace pulse::northbound
