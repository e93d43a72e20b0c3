// The auth gate over a real socket: the interceptor's verdict is what the client sees, and a
// refused call never reaches the service's handler (counted here), also without an interceptor.
#include "northbound/auth_gate.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "pulse/v1/pulse.grpc.pb.h"

namespace pulse::northbound {
namespace {

constexpr char kViewer[] = "viewer-token-0123456789";
constexpr char kScheduler[] = "scheduler-token-0123456789";
constexpr char kAdmin[] = "admin-token-0123456789";

// Counts the calls that reach it: DrainSwitch (admin) and PlaceJob (scheduler).
class CountingMaintenance final : public pulse::v1::MaintenanceService::CallbackService {
 public:
  grpc::ServerUnaryReactor* DrainSwitch(grpc::CallbackServerContext* context,
                                        const pulse::v1::DrainSwitchRequest*,
                                        pulse::v1::DrainSwitchResponse*) override {
    ++calls;
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  std::atomic<int> calls{0};
};
class CountingJobs final : public pulse::v1::JobService::CallbackService {
 public:
  grpc::ServerUnaryReactor* PlaceJob(grpc::CallbackServerContext* context,
                                     const pulse::v1::PlaceJobRequest*,
                                     pulse::v1::PlaceJobResponse*) override {
    ++calls;
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  std::atomic<int> calls{0};
};

class AuthGateTest : public ::testing::Test {
 protected:
  void Start(bool with_interceptor) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    gated_.push_back(GateService<pulse::v1::MaintenanceService>(&maintenance_));
    gated_.push_back(GateService<pulse::v1::JobService>(&jobs_));
    for (const auto& g : gated_) builder.RegisterService(g->service());
    if (with_interceptor) {
      std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> c;
      c.push_back(MakeAuthInterceptor({{"ops", kViewer, Role::kViewer},
                                       {"slurm", kScheduler, Role::kScheduler},
                                       {"root", kAdmin, Role::kAdmin}}));
      builder.experimental().SetInterceptorCreators(std::move(c));
    }
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    channel_ =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials());
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }
  grpc::Status Drain(const std::string& token) {
    grpc::ClientContext context;
    if (!token.empty()) context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
    pulse::v1::DrainSwitchResponse response;
    return pulse::v1::MaintenanceService::NewStub(channel_)->DrainSwitch(&context, {}, &response);
  }
  grpc::Status Place(const std::string& token) {
    grpc::ClientContext context;
    if (!token.empty()) context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
    pulse::v1::PlaceJobResponse response;
    return pulse::v1::JobService::NewStub(channel_)->PlaceJob(&context, {}, &response);
  }

  CountingMaintenance maintenance_;
  CountingJobs jobs_;
  std::vector<std::unique_ptr<GatedService>> gated_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  int port_ = 0;
};

TEST_F(AuthGateTest, ViewerTokenIsRefusedOnSchedulerAndAdminMethodsAndNeverReachesThem) {
  Start(true);
  grpc::Status drain = Drain(kViewer);
  EXPECT_EQ(drain.error_code(), grpc::PERMISSION_DENIED);
  EXPECT_NE(drain.error_message().find("needs role admin"), std::string::npos)
      << drain.error_message();
  grpc::Status place = Place(kViewer);
  EXPECT_EQ(place.error_code(), grpc::PERMISSION_DENIED);
  EXPECT_NE(place.error_message().find("needs role scheduler"), std::string::npos)
      << place.error_message();
  EXPECT_EQ(Drain(kScheduler).error_code(), grpc::PERMISSION_DENIED);
  EXPECT_EQ(Drain("").error_code(), grpc::UNAUTHENTICATED);
  EXPECT_EQ(Drain("not-a-token-at-all").error_code(), grpc::UNAUTHENTICATED);
  EXPECT_EQ(maintenance_.calls.load(), 0);
  EXPECT_EQ(jobs_.calls.load(), 0);
  // Admitted calls reach the service, once each.
  EXPECT_TRUE(Drain(kAdmin).ok());
  EXPECT_TRUE(Place(kScheduler).ok());
  EXPECT_TRUE(Place(kAdmin).ok());
  EXPECT_EQ(maintenance_.calls.load(), 1);
  EXPECT_EQ(jobs_.calls.load(), 2);
}

TEST_F(AuthGateTest, WithoutTheInterceptorEveryCallIsRefused) {
  Start(false);
  EXPECT_FALSE(Drain(kAdmin).ok());
  EXPECT_FALSE(Place(kAdmin).ok());
  EXPECT_EQ(maintenance_.calls.load(), 0);
  EXPECT_EQ(jobs_.calls.load(), 0);
}

}  // namespace
}  // namespace pulse::northbound
