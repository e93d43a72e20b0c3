// `pulsectl qos` against an in-process QosService over a real channel.
#include "northbound/pulsectl_qos.h"

#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "northbound/auth_gate.h"
#include "northbound/qos_service.h"
#include "pulse/v1/pulse.grpc.pb.h"
#include "tests/northbound/test_fabric.h"

namespace pulse::northbound {
namespace {

class PulsectlQosTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fabric_ = pulse::testing::SmallLeafSpine(2, 2, 2);
    QosServiceOptions options;
    options.audit = [](std::shared_ptr<const controller::QosPlan>,
                       QosServiceOptions::AuditDone done) {
      done(QosAuditReport{{{"leaf-1", 3, "queue 3 max-rate: want 1, have 2"}}, 12});
    };
    auto controller = controller::Controller::Create(fabric_);
    ASSERT_TRUE(controller.ok()) << controller.status();
    controller_ = *std::move(controller);
    auto service = QosServiceImpl::Create(controller_.get(), options);
    ASSERT_TRUE(service.ok());
    service_ = *std::move(service);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    gated_ = GateService<pulse::v1::QosService>(service_.get());
    builder.RegisterService(gated_->service());
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(MakeAuthInterceptor({}));  // auth off, as the daemon without tokens
    builder.experimental().SetInterceptorCreators(std::move(creators));
    server_ = builder.BuildAndStart();
    channel_ =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials());
  }
  void TearDown() override { server_->Shutdown(); }
  grpc::Status Run(const std::vector<std::string>& args, std::string* out, bool json = false) {
    std::ostringstream stream;
    grpc::Status status = RunQosCommand(
        channel_, [](grpc::ClientContext*) {}, args, json, stream);
    *out = stream.str();
    return status;
  }
  std::shared_ptr<const topology::Fabric> fabric_;
  std::unique_ptr<controller::Controller> controller_;
  std::unique_ptr<QosServiceImpl> service_;
  std::unique_ptr<GatedService> gated_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  int port_ = 0;
};

TEST_F(PulsectlQosTest, ShowListsEveryPlannedPort) {
  std::string out;
  ASSERT_TRUE(Run({"show"}, &out).ok());
  int rows = 0;
  for (size_t pos = out.find("\n"); pos != std::string::npos; pos = out.find("\n", pos + 1)) ++rows;
  EXPECT_EQ(rows, 1 + 12 + 1) << out;  // header, 12 ports, footnote
  EXPECT_TRUE(absl::StrContains(out, "server-0/nic-0")) << out;
  ASSERT_TRUE(Run({"show", "--switch", "spine-1"}, &out).ok());
  EXPECT_FALSE(absl::StrContains(out, "\nleaf-")) << out;  // only spine-1's rows
  EXPECT_TRUE(absl::StrContains(out, "\nspine-1         2 leaf-1")) << out;
  EXPECT_EQ(Run({"show", "--switch", "nope"}, &out).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(PulsectlQosTest, AuditAndExport) {
  std::string out;
  ASSERT_TRUE(Run({"audit"}, &out).ok());
  EXPECT_TRUE(absl::StrContains(out, "12 ports audited, 1 differences")) << out;
  EXPECT_TRUE(absl::StrContains(out, "leaf-1:3  queue 3 max-rate")) << out;
  ASSERT_TRUE(Run({"export", "--format", "sonic", "--switch", "leaf-0"}, &out).ok());
  nlohmann::json db = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(db.is_discarded()) << out;
  EXPECT_TRUE(db.contains("BUFFER_PG"));
  EXPECT_TRUE(db["PORT_QOS_MAP"].contains("Ethernet8"));  // default stride 8
  ASSERT_TRUE(
      Run({"export", "--format", "sonic", "--switch", "leaf-0", "--stride", "4"}, &out).ok());
  db = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(db.is_discarded()) << out;
  EXPECT_TRUE(db["PORT_QOS_MAP"].contains("Ethernet4")) << out;
  EXPECT_FALSE(db["PORT_QOS_MAP"].contains("Ethernet16")) << out;
  EXPECT_EQ(Run({"export", "--format", "sonic", "--switch", "leaf-0", "--stride", "0"}, &out)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Run({"export", "--switch", "leaf-0"}, &out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Run({"frobnicate"}, &out).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// A controller with QoS disabled serves no QosService: the CLI says so instead of printing
// "UNIMPLEMENTED (12):" with an empty message.
TEST(PulsectlQosDisabledTest, SaysQosIsDisabled) {
  int port = 0;
  pulse::v1::JobService::CallbackService jobs;  // some other service: gRPC needs one
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&jobs);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();  // no QosService
  ASSERT_NE(server, nullptr);
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  std::ostringstream out;
  grpc::Status status = RunQosCommand(
      channel, [](grpc::ClientContext*) {}, {"export", "--format", "sonic", "--switch", "leaf-0"},
      false, out);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_TRUE(absl::StrContains(status.error_message(), "QoS is disabled"))
      << status.error_message();
  server->Shutdown();
}

}  // namespace
}  // namespace pulse::northbound
