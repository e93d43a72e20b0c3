// SchedulerService and PlaceJob validate_only over a real gRPC channel to an ApiServer with a
// real Controller: exports with node names, advice that avoids placed jobs, what-if on a copy,
// dry-run placement that changes nothing, and roles from the auth table.
#include "northbound/scheduler_service.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "northbound/auth_gate.h"
#include "northbound/server.h"
#include "pulse/v1/pulse.grpc.pb.h"
#include "tests/northbound/test_fabric.h"

namespace pulse::northbound {
namespace {

using ::testing::HasSubstr;

constexpr char kViewer[] = "viewer-secret-0123456789";
constexpr char kScheduler[] = "scheduler-secret-0123456789";

class SchedulerServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fabric_ = pulse::testing::SmallLeafSpine(4, 2, 2);
    auto controller = controller::Controller::Create(fabric_);
    ASSERT_TRUE(controller.ok()) << controller.status();
    controller_ = *std::move(controller);
    std::vector<Token> tokens = {{"ops", kViewer, Role::kViewer},
                                 {"slurm", kScheduler, Role::kScheduler}};
    SchedulerServiceOptions options;
    options.fabric_name = "lab";
    for (int i = 0; i < 8; ++i)
      options.node_names[absl::StrCat("server-", i)] = absl::StrCat("n", i + 1);
    service_ = std::make_unique<SchedulerServiceImpl>(controller_.get(), options);
    ApiServerOptions server_options;
    server_options.listen_address = "127.0.0.1:0";
    server_options.insecure = true;
    server_options.tokens = tokens;
    gated_ = GateService<pulse::v1::SchedulerService>(service_.get());
    server_options.extra_services.push_back(gated_.get());
    auto server = ApiServer::Start(controller_.get(), server_options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                       grpc::InsecureChannelCredentials());
    sched_ = pulse::v1::SchedulerService::NewStub(channel);
    jobs_ = pulse::v1::JobService::NewStub(channel);
  }
  void TearDown() override {
    server_.reset();
    gated_.reset();
    service_.reset();
    controller_.reset();
  }

  std::unique_ptr<grpc::ClientContext> Context(const char* token = kScheduler) {
    auto context = std::make_unique<grpc::ClientContext>();
    if (token != nullptr) context->AddMetadata("authorization", absl::StrCat("Bearer ", token));
    return context;
  }

  grpc::Status Place(const std::string& id, std::vector<std::string> endpoints, bool validate_only,
                     pulse::v1::PlaceJobResponse* response) {
    pulse::v1::PlaceJobRequest request;
    request.mutable_job()->set_id(id);
    for (const std::string& e : endpoints) request.mutable_job()->add_endpoints(e);
    request.mutable_job()->set_pattern(pulse::v1::COLLECTIVE_PATTERN_RING);
    request.set_validate_only(validate_only);
    return jobs_->PlaceJob(Context().get(), request, response);
  }

  std::shared_ptr<const topology::Fabric> fabric_;
  std::unique_ptr<controller::Controller> controller_;
  std::unique_ptr<SchedulerServiceImpl> service_;
  std::unique_ptr<GatedService> gated_;
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<pulse::v1::SchedulerService::Stub> sched_;
  std::unique_ptr<pulse::v1::JobService::Stub> jobs_;
};

TEST_F(SchedulerServiceTest, ExportsTheLiveFabricWithNodeNames) {
  pulse::v1::ExportTopologyRequest request;
  request.set_format(pulse::v1::TOPOLOGY_FORMAT_SLURM);
  pulse::v1::ExportTopologyResponse response;
  grpc::Status status = sched_->ExportTopology(Context(kViewer).get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(response.text(), HasSubstr("SwitchName=leaf-2 Nodes=n[5-6]\n"));
  EXPECT_EQ(response.degraded_blocks(), 0);

  // A drained leaf shows at once (the export reads the latest snapshot).
  ASSERT_TRUE(controller_->DrainSwitch("leaf-2").get().ok());
  status = sched_->ExportTopology(Context(kViewer).get(), request, &response);
  ASSERT_TRUE(status.ok());
  EXPECT_THAT(response.text(), HasSubstr("# leaf-2 isolated"));
  EXPECT_EQ(response.degraded_blocks(), 1);
  EXPECT_GT(response.event_sequence(), 0u);
}

TEST_F(SchedulerServiceTest, SuggestsFreeServersByNodeName) {
  pulse::v1::PlaceJobResponse placed;
  ASSERT_TRUE(Place("a", {"server-0/gpu-0", "server-1/gpu-0"}, false, &placed).ok());
  pulse::v1::SuggestServersRequest request;
  request.set_server_count(2);
  request.add_exclude_servers("n3");  // by node name
  pulse::v1::SuggestServersResponse response;
  grpc::Status status = sched_->SuggestServers(Context(kViewer).get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(response.non_blocking());
  EXPECT_EQ(response.leaves(), 1);
  ASSERT_EQ(response.servers_size(), 2);
  EXPECT_EQ(response.node_names(0), "n5");  // leaf-0 is used, leaf-1 lost n3: leaf-2
  EXPECT_EQ(response.node_names(1), "n6");
  EXPECT_EQ(response.endpoints(0), "server-4/gpu-0");

  request.add_free_servers("nosuch");
  status = sched_->SuggestServers(Context(kViewer).get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("free_servers[0]: 'nosuch'"));
}

TEST_F(SchedulerServiceTest, WhatIfLeavesTheStateAlone) {
  pulse::v1::PlaceJobResponse placed;
  ASSERT_TRUE(
      Place("ring", {"server-0/gpu-0", "server-2/gpu-0", "server-4/gpu-0"}, false, &placed).ok());
  pulse::v1::WhatIfFailureRequest request;
  request.add_links("leaf-0:3");
  request.add_links("leaf-0:4 <-> spine-1:1");
  pulse::v1::WhatIfFailureResponse response;
  grpc::Status status = sched_->WhatIfFailure(Context(kViewer).get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.failed_links_size(), 2);
  EXPECT_GT(response.flows_unplaced(), 0);
  ASSERT_EQ(response.jobs_losing_non_blocking_size(), 1);
  EXPECT_EQ(response.jobs_losing_non_blocking(0), "ring");
  // Nothing happened for real.
  EXPECT_TRUE(
      controller_->snapshot()->LinkUsable(*fabric_->LinkAtPort(*fabric_->FindNode("leaf-0"), 3)));

  request.Clear();
  request.add_switches("spine-0");
  status = sched_->WhatIfFailure(Context(kViewer).get(), request, &response);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(response.flows_unplaced(), 0);
  request.Clear();
  request.add_links("leaf-0:99");
  status = sched_->WhatIfFailure(Context(kViewer).get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("links[0]: no link at leaf-0:99"));
}

TEST_F(SchedulerServiceTest, ValidateOnlyPlacesNothing) {
  const uint64_t events_before = controller_->events().last_sequence();
  pulse::v1::PlaceJobResponse response;
  grpc::Status status = Place("dry", {"server-0/gpu-0", "server-7/gpu-0"}, true, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.event_sequence(), 0u);
  EXPECT_EQ(response.job().spec().id(), "dry");
  EXPECT_GT(response.job().flows_size(), 0);
  EXPECT_TRUE(controller_->snapshot()->placement.jobs().empty());
  EXPECT_EQ(controller_->events().last_sequence(), events_before);
  // The same errors as a real call: a placed id is ALREADY_EXISTS.
  ASSERT_TRUE(Place("dry", {"server-0/gpu-0", "server-7/gpu-0"}, false, &response).ok());
  status = Place("dry", {"server-0/gpu-0", "server-7/gpu-0"}, true, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(controller_->snapshot()->placement.jobs().size(), 1u);
}

TEST_F(SchedulerServiceTest, RolesFromTheAuthTable) {
  pulse::v1::ExportTopologyRequest request;
  pulse::v1::ExportTopologyResponse response;
  EXPECT_EQ(sched_->ExportTopology(Context(nullptr).get(), request, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(RequiredRole("/pulse.v1.SchedulerService/SuggestServers"), Role::kViewer);
  EXPECT_EQ(RequiredRole("/pulse.v1.SchedulerService/WhatIfFailure"), Role::kViewer);
  EXPECT_EQ(RequiredRole("/pulse.v1.SchedulerService/ExportTopology"), Role::kViewer);
}

}  // namespace
}  // namespace pulse::northbound
