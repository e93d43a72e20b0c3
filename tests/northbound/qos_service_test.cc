// QosService over a real gRPC channel: roles from the auth table, a policy set and persisted, a
// refused policy that keeps the old one, the plan, the SONiC export and the audit hook.
#include "northbound/qos_service.h"
#include "northbound/auth_gate.h"

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/northbound/test_fabric.h"

namespace pulse::northbound {
namespace {

constexpr char kViewer[] = "viewer-secret";
constexpr char kAdmin[] = "admin-secret";

// Keeps every applied batch in memory.
class MemoryStore final : public controller::StateStore {
 public:
  absl::StatusOr<int64_t> Apply(const controller::WriteBatch& batch) override {
    std::lock_guard<std::mutex> lock(mu);  // the controller thread writes, the test reads
    for (const controller::StoreWrite& w : batch.writes()) entries[w.key] = w.value;
    return ++revision;
  }
  absl::StatusOr<controller::StoreSnapshot> LoadAll() override {
    std::lock_guard<std::mutex> lock(mu);
    return controller::StoreSnapshot{revision, entries};
  }
  absl::StatusOr<std::unique_ptr<controller::StoreWatch>> Watch(
      absl::string_view, int64_t, controller::StoreWatchCallback) override {
    return absl::UnimplementedError("memory store: no watch");
  }
  std::string Describe() const override { return "memory"; }
  std::mutex mu;
  std::map<std::string, std::string> entries;
  int64_t revision = 0;
};

class QosServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fabric_ = pulse::testing::SmallLeafSpine(2, 2, 2);
    QosServiceOptions options;
    options.audit = [](std::shared_ptr<const controller::QosPlan> plan,
                       QosServiceOptions::AuditDone done) {
      // A fake switch driver that finds leaf-0 port 1 different from the plan.
      QosAuditReport report;
      for (const auto& sw : plan->switches) report.ports_audited += sw.ports.size();
      report.differences.push_back({"leaf-0", 1, "queue 3 max-rate 1000 != 100000000000"});
      done(report);
    };
    // The controller owns the policy; the service is its API. Plans "pushed" are what a QoS
    // observer (the OVS driver in the daemon) is told after registration.
    controller::ControllerOptions controller_options;
    controller_options.store = &store_;
    auto controller = controller::Controller::Create(fabric_, controller_options);
    ASSERT_TRUE(controller.ok()) << controller.status();
    controller_ = *std::move(controller);
    controller_->AddQosObserver([this](const controller::QosStatePtr&) { ++plans_pushed_; });
    controller_->Sync().get();
    plans_pushed_ = 0;  // the plan in force at registration
    auto service = QosServiceImpl::Create(controller_.get(), options);
    ASSERT_TRUE(service.ok()) << service.status();
    service_ = *std::move(service);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    // Roles as the API server enforces them: the auth interceptor and the gated service.
    gated_ = GateService<pulse::v1::QosService>(service_.get());
    builder.RegisterService(gated_->service());
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(
        MakeAuthInterceptor({{"ops", kViewer, Role::kViewer}, {"root", kAdmin, Role::kAdmin}}));
    builder.experimental().SetInterceptorCreators(std::move(creators));
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
    stub_ = pulse::v1::QosService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }
  void Auth(grpc::ClientContext& context, const std::string& token) {
    if (!token.empty()) context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
  }
  grpc::Status Set(const std::string& token, const std::string& yaml,
                   pulse::v1::SetQosPolicyResponse* response) {
    grpc::ClientContext context;
    Auth(context, token);
    pulse::v1::SetQosPolicyRequest request;
    request.mutable_policy()->set_yaml(yaml);
    return stub_->SetQosPolicy(&context, request, response);
  }
  pulse::v1::GetQosPolicyResponse GetPolicy() {
    grpc::ClientContext context;
    Auth(context, kViewer);
    pulse::v1::GetQosPolicyResponse response;
    grpc::Status status = stub_->GetQosPolicy(&context, {}, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  std::shared_ptr<const topology::Fabric> fabric_;
  MemoryStore store_;
  std::atomic<int> plans_pushed_{0};
  std::unique_ptr<controller::Controller> controller_;
  std::unique_ptr<QosServiceImpl> service_;
  std::unique_ptr<GatedService> gated_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::unique_ptr<pulse::v1::QosService::Stub> stub_;
};

TEST_F(QosServiceTest, RolesViewerReadsAdminWritesNoTokenUnauthenticated) {
  pulse::v1::GetQosPolicyResponse policy = GetPolicy();
  EXPECT_TRUE(policy.from_defaults());
  ASSERT_EQ(policy.lossless_priorities_size(), 2);
  EXPECT_EQ(policy.lossless_priorities(0), 3u);
  EXPECT_EQ(policy.cnp_dscp(), 48u);

  pulse::v1::SetQosPolicyResponse set;
  EXPECT_EQ(Set(kViewer, "cnp: {dscp: 46, priority: 6}\n", &set).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Set("", "cnp: {dscp: 46, priority: 6}\n", &set).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Set("wrong", "cnp: {dscp: 46, priority: 6}\n", &set).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(store_.entries.count(std::string(kQosPolicyStoreKey)), 0u);
  EXPECT_EQ(GetPolicy().cnp_dscp(), 48u);

  grpc::ClientContext context;
  pulse::v1::GetQosPlanResponse plan;
  EXPECT_EQ(stub_->GetQosPlan(&context, {}, &plan).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(QosServiceTest, AdminSetsPolicyWhichIsPlannedPersistedAndPushed) {
  const std::string yaml = "dscp_to_tc: {26: 3, 46: 6}\ncnp: {dscp: 46, priority: 6}\n";
  pulse::v1::SetQosPolicyResponse set;
  grpc::Status status = Set(kAdmin, yaml, &set);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(set.switches_planned(), 4u);
  // 2 leaves x (2 NIC + 2 spine ports) + 2 spines x 2 leaf ports.
  EXPECT_EQ(set.ports_planned(), 12u);
  EXPECT_TRUE(set.persisted());
  EXPECT_EQ(store_.entries[std::string(kQosPolicyStoreKey)], yaml);
  EXPECT_EQ(plans_pushed_, 1);
  pulse::v1::GetQosPolicyResponse policy = GetPolicy();
  EXPECT_FALSE(policy.from_defaults());
  EXPECT_EQ(policy.cnp_dscp(), 46u);
  EXPECT_EQ(policy.policy().yaml(), yaml);
}

TEST_F(QosServiceTest, RefusedPolicyKeepsTheOldOneAndNamesPortRuleNumbers) {
  pulse::v1::SetQosPolicyResponse set;
  // Validation: watchdog detection below the documented 100 ms.
  grpc::Status bad = Set(kAdmin, "pfc_watchdog: {detection_time_ms: 50}\n", &set);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(bad.error_message().find("detection_time_ms"), std::string::npos)
      << bad.error_message();
  // Plan: ECN Kmax 60 MB is above the PFC xoff trigger (~31 MB) of every port.
  grpc::Status late_ecn =
      Set(kAdmin,
          "ecn_profiles: [{asic: spectrum4, speed_gbps: 0, kmin_bytes: 1048576, "
          "kmax_bytes: 60000000, pmax_percent: 5}]\n",
          &set);
  EXPECT_FALSE(late_ecn.ok());
  const std::string msg = late_ecn.error_message();
  EXPECT_NE(msg.find("qos policy refused"), std::string::npos) << msg;
  EXPECT_NE(msg.find("port"), std::string::npos) << msg;
  EXPECT_NE(msg.find("60000000"), std::string::npos) << msg;
  // The old (default) policy is still in force, nothing persisted or pushed.
  EXPECT_EQ(store_.entries.count(std::string(kQosPolicyStoreKey)), 0u);
  EXPECT_EQ(plans_pushed_, 0);
  pulse::v1::GetQosPolicyResponse policy = GetPolicy();
  EXPECT_TRUE(policy.from_defaults());
  grpc::ClientContext context;
  Auth(context, kViewer);
  pulse::v1::GetQosPlanRequest request;
  request.set_switch_name("leaf-0");
  pulse::v1::GetQosPlanResponse plan;
  ASSERT_TRUE(stub_->GetQosPlan(&context, request, &plan).ok());
  ASSERT_EQ(plan.switches_size(), 1);
  ASSERT_FALSE(plan.switches(0).ports().empty());
  EXPECT_LT(plan.switches(0).ports(0).ecn_kmax_bytes(), 60000000u);
}

TEST_F(QosServiceTest, PlanPerSwitchPortMatchesPlanQos) {
  auto expected = controller::PlanQos(*fabric_, controller::DefaultQosPolicy());
  ASSERT_TRUE(expected.ok());
  grpc::ClientContext context;
  Auth(context, kViewer);
  pulse::v1::GetQosPlanResponse plan;
  ASSERT_TRUE(stub_->GetQosPlan(&context, {}, &plan).ok());
  ASSERT_EQ(plan.switches_size(), static_cast<int>(expected->switches.size()));
  for (int s = 0; s < plan.switches_size(); ++s) {
    const auto& want = expected->switches[s];
    const auto& got = plan.switches(s);
    EXPECT_EQ(got.name(), want.name);
    EXPECT_EQ(got.headroom_bytes(), static_cast<uint64_t>(want.headroom_bytes));
    ASSERT_EQ(got.ports_size(), static_cast<int>(want.ports.size()));
    for (int p = 0; p < got.ports_size(); ++p) {
      EXPECT_EQ(got.ports(p).port(), want.ports[p].port);
      EXPECT_EQ(got.ports(p).peer(), want.ports[p].peer);
      EXPECT_EQ(got.ports(p).xoff_bytes(),
                static_cast<uint64_t>(want.ports[p].headroom.xoff_bytes));
      EXPECT_EQ(got.ports(p).ecn_kmin_bytes(), static_cast<uint64_t>(want.ports[p].ecn.kmin_bytes));
      EXPECT_GT(got.ports(p).xoff_trigger_bytes(), got.ports(p).ecn_kmax_bytes());
    }
  }
  grpc::ClientContext missing_context;
  Auth(missing_context, kViewer);
  pulse::v1::GetQosPlanRequest request;
  request.set_switch_name("no-such-switch");
  EXPECT_EQ(stub_->GetQosPlan(&missing_context, request, &plan).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(QosServiceTest, ExportSonicIsConfigDbJsonOfTheSwitch) {
  grpc::ClientContext context;
  Auth(context, kViewer);
  pulse::v1::ExportSonicRequest request;
  request.set_switch_name("leaf-1");
  pulse::v1::ExportSonicResponse response;
  grpc::Status status = stub_->ExportSonic(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  nlohmann::json db = nlohmann::json::parse(response.config_db_json(), nullptr, false);
  ASSERT_FALSE(db.is_discarded());
  ASSERT_TRUE(db.contains("DSCP_TO_TC_MAP"));
  ASSERT_TRUE(db.contains("PORT_QOS_MAP"));
  EXPECT_EQ(db["PORT_QOS_MAP"]["Ethernet0"]["pfc_enable"], "3,4");
  EXPECT_EQ(db["PORT_QOS_MAP"].size(), 5u);  // 2 NIC + 2 spine ports + "global"

  grpc::ClientContext missing_context;
  Auth(missing_context, kViewer);
  request.set_switch_name("leaf-9");
  EXPECT_EQ(stub_->ExportSonic(&missing_context, request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(QosServiceTest, AuditReportsDifferencesFromTheDriver) {
  grpc::ClientContext context;
  Auth(context, kViewer);
  pulse::v1::AuditQosResponse response;
  ASSERT_TRUE(stub_->AuditQos(&context, {}, &response).ok());
  EXPECT_EQ(response.ports_audited(), 12u);
  ASSERT_EQ(response.differences_size(), 1);
  EXPECT_EQ(response.differences(0).switch_name(), "leaf-0");
  EXPECT_EQ(response.differences(0).port(), 1);
}

}  // namespace
}  // namespace pulse::northbound
