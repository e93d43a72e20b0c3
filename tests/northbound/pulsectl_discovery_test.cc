// `pulsectl discovery`: the table from hand-made replies, and the command against a real
// ApiServer on 127.0.0.1 (port 0) with and without a discovery provider.
#include "northbound/pulsectl_discovery.h"

#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "northbound/server.h"
#include "tests/northbound/test_fabric.h"

namespace pulse::northbound {
namespace {

pulse::v1::DiscoveredEnd End(const std::string& name, uint64_t dpid, uint32_t port) {
  pulse::v1::DiscoveredEnd end;
  end.set_switch_name(name);
  end.set_datapath_id(dpid);
  end.set_port(port);
  return end;
}

pulse::v1::IntentLink Intent(int id, const std::string& a, int a_port, const std::string& b,
                             int b_port) {
  pulse::v1::IntentLink link;
  link.set_link_id(id);
  link.set_a_node(a);
  link.set_a_port(a_port);
  link.set_b_node(b);
  link.set_b_port(b_port);
  return link;
}

// The line of `text` that starts with `prefix`, or "" when none does.
std::string LineStartingWith(const std::string& text, const std::string& prefix) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, prefix)) return std::string(line);
  }
  return "";
}

TEST(PulsectlDiscoveryTest, EndNamesFallBackToDatapathId) {
  EXPECT_EQ(DiscoveredEndName(End("leaf-0", 3, 4)), "leaf-0:4");
  EXPECT_EQ(DiscoveredEndName(End("", 0xff, 1)), "dpid 0x00000000000000ff:1");
}

TEST(PulsectlDiscoveryTest, TableListsEveryDifferenceAndTheObservedLinks) {
  pulse::v1::GetDiscoveryResponse d;
  d.set_probe_rounds(5);
  d.set_description("missing: ...");
  *d.add_missing() = Intent(6, "leaf-1", 4, "spine-1", 2);
  pulse::v1::MiswiredLink* m = d.add_miswired();
  *m->mutable_actual()->mutable_a() = End("leaf-0", 3, 3);
  *m->mutable_actual()->mutable_b() = End("spine-0", 1, 9);
  *m->add_expected() = Intent(5, "leaf-0", 3, "spine-1", 1);
  pulse::v1::DiscoveredLink* u = d.add_unexpected();
  *u->mutable_a() = End("leaf-1", 4, 7);
  *u->mutable_b() = End("", 0xabcdef, 1);
  *d.add_observed() = *u;
  *d.add_observed() = m->actual();

  const std::string text = FormatDiscovery(d);
  EXPECT_TRUE(absl::StartsWith(text,
                               "discovery: 2 links observed in 5 probe rounds; differs "
                               "from the intent: 1 missing, 1 miswired, 1 unexpected\n"))
      << text;
  EXPECT_TRUE(absl::StrContains(LineStartingWith(text, "missing"), "leaf-1:4 <-> spine-1:2"));
  EXPECT_TRUE(absl::StrContains(LineStartingWith(text, "miswired"), "leaf-0:3 <-> spine-0:9"));
  EXPECT_TRUE(absl::StrContains(LineStartingWith(text, "miswired"), "leaf-0:3 <-> spine-1:1"));
  EXPECT_TRUE(absl::StrContains(LineStartingWith(text, "unexpected"),
                                "leaf-1:7 <-> dpid 0x0000000000abcdef:1"));
  EXPECT_TRUE(absl::StrContains(LineStartingWith(text, "leaf-0:3"), "spine-0:9")) << text;
}

TEST(PulsectlDiscoveryTest, VerdictWhenMatchingOrNotJudged) {
  pulse::v1::GetDiscoveryResponse d;
  d.set_probe_rounds(1);
  EXPECT_EQ(FormatDiscovery(d),
            "discovery: 0 links observed in 1 probe rounds; not judged yet (waiting for every "
            "switch to answer a probe)\n");
  d.set_probe_rounds(3);
  d.set_description("no differences");
  d.set_matches_intent(true);
  *d.add_observed()->mutable_a() = End("leaf-0", 3, 3);
  const std::string text = FormatDiscovery(d);
  EXPECT_TRUE(absl::StartsWith(
      text, "discovery: 1 links observed in 3 probe rounds; all as the intent says\n"));
  EXPECT_EQ(LineStartingWith(text, "DIFFERENCE"), "");  // no difference table
  EXPECT_NE(LineStartingWith(text, "OBSERVED A"), "");
}

class PulsectlDiscoveryServerTest : public ::testing::Test {
 protected:
  void Start(std::function<absl::StatusOr<controller::DiscoveryReport>()> discovery) {
    fabric_ = testing::SmallLeafSpine();
    auto controller = controller::Controller::Create(fabric_);
    ASSERT_TRUE(controller.ok()) << controller.status();
    controller_ = *std::move(controller);
    ApiServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.insecure = true;
    options.tokens = {Token{"ops", "viewer-token", Role::kViewer}};
    options.discovery = std::move(discovery);
    auto server = ApiServer::Start(controller_.get(), options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
  }

  void TearDown() override {
    if (server_) server_->Shutdown(absl::Seconds(1));
    server_.reset();
    controller_.reset();
  }

  grpc::Status Run(bool json, std::string* out, const std::string& token = "viewer-token") {
    std::ostringstream stream;
    grpc::Status status = RunDiscoveryCommand(
        channel_,
        [&](grpc::ClientContext* context) {
          context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
          context->AddMetadata("authorization", absl::StrCat("Bearer ", token));
        },
        json, stream);
    *out = stream.str();
    return status;
  }

  std::shared_ptr<const topology::Fabric> fabric_;
  std::unique_ptr<controller::Controller> controller_;
  std::unique_ptr<ApiServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(PulsectlDiscoveryServerTest, PlanningModeFailsAndPrintsNothing) {
  Start(nullptr);
  std::string out;
  grpc::Status status = Run(false, &out);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(status.error_message(), "no switches attached (planning mode)");
  EXPECT_EQ(out, "");
  EXPECT_EQ(Run(false, &out, "wrong").error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(PulsectlDiscoveryServerTest, PrintsTheProvidersReportByName) {
  // One intent link missing: everything else seen as the intent says.
  Start([this]() -> absl::StatusOr<controller::DiscoveryReport> {
    controller::DiscoveryReport report;
    std::vector<topology::ObservedLink> expected = topology::ExpectedSwitchLinks(*fabric_);
    report.observed.assign(expected.begin(), expected.end() - 1);
    report.diff = topology::DiffLinks(*fabric_, report.observed);
    report.description = topology::DescribeDiff(*fabric_, report.diff);
    report.probe_rounds = 4;
    return report;
  });
  const topology::Link& last = fabric_->links().back();  // leaf-1 <-> spine-1
  const std::string missing_name =
      absl::StrCat(fabric_->node(last.a.node).name, ":", last.a.port, " <-> ",
                   fabric_->node(last.b.node).name, ":", last.b.port);

  std::string table;
  ASSERT_TRUE(Run(false, &table).ok());
  EXPECT_TRUE(absl::StartsWith(table,
                               "discovery: 3 links observed in 4 probe rounds; differs "
                               "from the intent: 1 missing, 0 miswired, 0 unexpected\n"))
      << table;
  EXPECT_TRUE(absl::StrContains(LineStartingWith(table, "missing"), missing_name)) << table;

  std::string json_text;
  ASSERT_TRUE(Run(true, &json_text).ok());
  nlohmann::json json = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(json.is_discarded()) << json_text;
  EXPECT_EQ(json["probeRounds"], 4);
  EXPECT_EQ(json["matchesIntent"], false);
  ASSERT_EQ(json["missing"].size(), 1u);
  EXPECT_EQ(json["missing"][0]["aNode"], fabric_->node(last.a.node).name);
  EXPECT_EQ(json["missing"][0]["bNode"], fabric_->node(last.b.node).name);
  EXPECT_EQ(json["observed"].size(), 3u);
  EXPECT_EQ(json["description"], absl::StrCat("missing: ", missing_name));
}

}  // namespace
}  // namespace pulse::northbound
