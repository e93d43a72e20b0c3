// LosslessHealthService and `pulsectl health incidents` over a real channel.
#include "northbound/lossless_health_service.h"

#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "northbound/auth_gate.h"
#include "northbound/pulsectl_health.h"

namespace pulse::northbound {
namespace {

pulse::v1::ListIncidentsResponse Snapshot() {
  pulse::v1::ListIncidentsResponse r;
  r.set_dry_run(true);
  pulse::v1::HealthIncident* storm = r.add_incidents();
  storm->set_id(1);
  storm->set_kind("pfc_storm");
  storm->set_root_switch("leaf-0");
  storm->set_root_port(1);
  storm->set_origin("server-0/nic-0");
  storm->set_action("isolate_link");
  storm->set_detail("50000 pause frames/s received, 0 lossless packets/s sent");
  pulse::v1::HealthIncident* gray = r.add_incidents();
  gray->set_id(2);
  gray->set_kind("gray_link");
  gray->set_root_switch("leaf-1");
  gray->set_root_port(3);
  gray->set_origin("spine-0");
  gray->set_action("none");
  gray->set_cap_reached(true);
  gray->set_closed_ms(99);
  gray->set_outcome("cap_reached");
  pulse::v1::HealthIncident* applied = r.add_incidents();
  applied->set_id(3);
  applied->set_kind("pfc_storm");
  applied->set_root_switch("leaf-0");
  applied->set_root_port(2);
  applied->set_origin("spine-0");
  applied->set_action("isolate_link");
  applied->set_applied(true);
  applied->set_outcome("returned");
  applied->set_outcome_detail("returned leaf-0:2 <-> spine-0:1 to service");
  applied->set_closed_ms(120);
  pulse::v1::HealthIncident* refused = r.add_incidents();
  refused->set_id(4);
  refused->set_kind("gray_link");
  refused->set_root_switch("leaf-1");
  refused->set_root_port(2);
  refused->set_origin("spine-0");
  refused->set_action("replace_flows");
  refused->set_outcome("refused");
  refused->set_outcome_detail("flows not moved: follower");
  refused->set_closed_ms(130);
  pulse::v1::SonicSwitchHealth* sw = r.add_sonic_switches();
  sw->set_name("leaf-0");
  sw->set_redis("127.0.0.1:6380");
  sw->set_connected(false);
  sw->set_last_error("connection refused");
  return r;
}

class LosslessHealthServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Registered as the API server does: the gate and the auth interceptor decide (auth_gate.h).
    service_ = std::make_unique<LosslessHealthServiceImpl>(Snapshot);
    gated_ = GateService<pulse::v1::LosslessHealthService>(service_.get());
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(gated_->service());
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(
        MakeAuthInterceptor(std::vector<Token>{{"ops", "viewer-secret", Role::kViewer}}));
    builder.experimental().SetInterceptorCreators(std::move(creators));
    server_ = builder.BuildAndStart();
    channel_ =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials());
  }
  void TearDown() override { server_->Shutdown(); }
  grpc::Status Run(const std::vector<std::string>& args, const std::string& token,
                   std::string* out) {
    std::ostringstream stream;
    grpc::Status s = RunHealthIncidents(
        channel_,
        [&](grpc::ClientContext* c) {
          if (!token.empty()) c->AddMetadata("authorization", "Bearer " + token);
        },
        args, false, stream);
    *out = stream.str();
    return s;
  }
  std::unique_ptr<LosslessHealthServiceImpl> service_;
  std::unique_ptr<GatedService> gated_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  int port_ = 0;
};

TEST_F(LosslessHealthServiceTest, OneLinePerIncidentForViewers) {
  std::string out;
  ASSERT_TRUE(Run({"incidents"}, "viewer-secret", &out).ok());
  EXPECT_TRUE(absl::StrContains(out, "   1 pfc_storm  open   leaf-0:1")) << out;
  EXPECT_TRUE(absl::StrContains(out, "isolate_link(dry)")) << out;
  EXPECT_TRUE(absl::StrContains(out, "   2 gray_link  closed leaf-1:3")) << out;
  EXPECT_TRUE(absl::StrContains(out, "none(cap)")) << out;
  EXPECT_TRUE(absl::StrContains(out, "DISCONNECTED")) << out;
  // Whether each action was carried out: APPLIED column, and what the controller said.
  EXPECT_TRUE(absl::StrContains(out, "APPLIED")) << out;
  EXPECT_TRUE(absl::StrContains(out, "isolate_link   returned")) << out;
  EXPECT_TRUE(absl::StrContains(out, "returned leaf-0:2 <-> spine-0:1 to service")) << out;
  EXPECT_TRUE(absl::StrContains(out, "replace_flows  refused")) << out;
  EXPECT_FALSE(absl::StrContains(out, "replace_flows(dry)")) << out;
  ASSERT_TRUE(Run({"incidents", "--open"}, "viewer-secret", &out).ok());
  EXPECT_FALSE(absl::StrContains(out, "gray_link")) << out;
  EXPECT_EQ(Run({"incidents"}, "", &out).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Run({"incidents", "--bogus"}, "viewer-secret", &out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(RequiredRole("/pulse.v1.LosslessHealthService/ListIncidents"), Role::kViewer);
}

}  // namespace
}  // namespace pulse::northbound
