// The pulse.v1 API over a real gRPC channel on 127.0.0.1 (port 0): every RPC, its error paths,
// event resume, limits, and 16 concurrent clients. Auth and TLS are in auth_test.cc.
#include "northbound/server.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "pulse/v1/pulse.grpc.pb.h"
#include "tests/northbound/test_fabric.h"

namespace pulse::northbound {
namespace {

using controller::Controller;
using controller::ControllerOptions;

class ApiTest : public ::testing::Test {
 protected:
  void StartServer(
      ControllerOptions controller_options = {}, ApiLimits limits = {},
      std::function<absl::StatusOr<controller::DiscoveryReport>()> discovery = nullptr) {
    fabric_ = testing::SmallLeafSpine();
    auto controller = Controller::Create(fabric_, controller_options);
    ASSERT_TRUE(controller.ok()) << controller.status();
    controller_ = *std::move(controller);
    ApiServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.insecure = true;
    options.limits = limits;
    options.discovery = std::move(discovery);
    options.measured_link_load_bps = measured_link_load_bps_;
    options.measured_job_bandwidth = measured_job_bandwidth_;
    options.rpc_latency_observer = rpc_latency_observer_;
    auto server = ApiServer::Start(controller_.get(), options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    topology_ = pulse::v1::TopologyService::NewStub(channel_);
    jobs_ = pulse::v1::JobService::NewStub(channel_);
    links_ = pulse::v1::LinkService::NewStub(channel_);
    events_ = pulse::v1::EventService::NewStub(channel_);
    maintenance_ = pulse::v1::MaintenanceService::NewStub(channel_);
  }

  void SetUp() override { StartServer(); }

  void TearDown() override {
    if (server_) server_->Shutdown(absl::Seconds(1));
    server_.reset();
    controller_.reset();
  }

  static pulse::v1::PlaceJobRequest Ring(const std::string& id, std::vector<std::string> gpus,
                                         double rate_bps = 10e9) {
    pulse::v1::PlaceJobRequest request;
    request.mutable_job()->set_id(id);
    for (auto& g : gpus) request.mutable_job()->add_endpoints(g);
    request.mutable_job()->set_pattern(pulse::v1::COLLECTIVE_PATTERN_RING);
    request.mutable_job()->set_rate_bps(rate_bps);
    return request;
  }

  grpc::Status Place(const pulse::v1::PlaceJobRequest& request,
                     pulse::v1::PlaceJobResponse* response = nullptr) {
    grpc::ClientContext context;
    pulse::v1::PlaceJobResponse local;
    return jobs_->PlaceJob(&context, request, response ? response : &local);
  }

  grpc::Status Delete(const std::string& id) {
    grpc::ClientContext context;
    pulse::v1::DeleteJobRequest request;
    request.set_id(id);
    pulse::v1::DeleteJobResponse response;
    return jobs_->DeleteJob(&context, request, &response);
  }

  pulse::v1::ListLinksResponse Links() {
    grpc::ClientContext context;
    pulse::v1::ListLinksResponse response;
    EXPECT_TRUE(links_->ListLinks(&context, {}, &response).ok());
    return response;
  }

  std::vector<pulse::v1::Job> ListJobs(bool include_flows) {
    grpc::ClientContext context;
    pulse::v1::ListJobsRequest request;
    request.set_include_flows(include_flows);
    pulse::v1::ListJobsResponse response;
    grpc::Status status = jobs_->ListJobs(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.jobs().begin(), response.jobs().end()};
  }

  // Every planned directed-link load must equal the sum of the rates of the flows crossing it.
  void ExpectLoadsMatchJobs() {
    std::map<std::string, double> expected;
    for (const auto& job : ListJobs(true)) {
      for (const auto& flow : job.flows()) {
        for (const auto& link : flow.links()) expected[link] += flow.rate_bps();
      }
    }
    for (const auto& link : (links_snapshot_ = Links()).links()) {
      double want = expected.count(link.name()) ? expected[link.name()] : 0.0;
      EXPECT_NEAR(link.planned_load_bps(), want, 1e-6 * std::max(1.0, want)) << link.name();
    }
  }

  std::function<std::vector<double>()> measured_link_load_bps_;           // set before StartServer
  std::function<controller::JobBandwidthPtr()> measured_job_bandwidth_;   // set before StartServer
  std::function<void(const std::string&, double)> rpc_latency_observer_;  // set before StartServer
  pulse::v1::ListLinksResponse links_snapshot_;  // keeps a ListLinks reply alive while iterated
  std::shared_ptr<const topology::Fabric> fabric_;
  std::unique_ptr<Controller> controller_;
  std::unique_ptr<ApiServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pulse::v1::TopologyService::Stub> topology_;
  std::unique_ptr<pulse::v1::JobService::Stub> jobs_;
  std::unique_ptr<pulse::v1::LinkService::Stub> links_;
  std::unique_ptr<pulse::v1::EventService::Stub> events_;
  std::unique_ptr<pulse::v1::MaintenanceService::Stub> maintenance_;
};

TEST_F(ApiTest, GetTopologyDescribesFabricAndSchedulerGroups) {
  grpc::ClientContext context;
  pulse::v1::GetTopologyResponse response;
  ASSERT_TRUE(topology_->GetTopology(&context, {}, &response).ok());
  const auto& t = response.topology();
  EXPECT_EQ(t.switches_size(), 4);
  EXPECT_EQ(t.links_size(), 8);
  EXPECT_EQ(t.servers_size(), 4);
  EXPECT_EQ(t.nics_size(), 4);
  EXPECT_EQ(t.gpus_size(), 4);
  for (const auto& link : t.links()) {
    EXPECT_TRUE(link.up());
    EXPECT_TRUE(link.usable());
  }
  for (const auto& s : t.switches()) {
    EXPECT_FALSE(s.connected());  // planning mode
    if (s.name() == "leaf-0") {
      EXPECT_EQ(s.role(), pulse::v1::SWITCH_ROLE_LEAF);
      EXPECT_EQ(s.ports_size(), 4);  // 2 servers + 2 spines
    }
  }
  // GPUs of servers 0 and 1 share leaf-0.
  bool found_leaf0 = false;
  for (const auto& g : t.groups()) {
    if (g.kind() == pulse::v1::GROUP_KIND_LEAF && g.key() == "leaf-0") {
      found_leaf0 = true;
      EXPECT_EQ(std::vector<std::string>(g.gpus().begin(), g.gpus().end()),
                (std::vector<std::string>{"server-0/gpu-0", "server-1/gpu-0"}));
    }
    if (g.kind() == pulse::v1::GROUP_KIND_RAIL) {
      EXPECT_EQ(g.gpus_size(), 4);
    }
  }
  EXPECT_TRUE(found_leaf0);
  EXPECT_EQ(std::vector<int>(t.rails().begin(), t.rails().end()), std::vector<int>{0});
  EXPECT_EQ(std::vector<int>(t.planes().begin(), t.planes().end()), std::vector<int>{0});
}

TEST_F(ApiTest, GetTopologyShowsSwitchConnectionAndLinkState) {
  const topology::NodeId leaf0 = *fabric_->FindNode("leaf-0");
  const topology::LinkId last_link = static_cast<topology::LinkId>(fabric_->links().size()) - 1;
  controller_->OnSwitchConnected(leaf0);
  controller_->OnLinkStatus(last_link, false);
  controller_->Sync().wait();
  grpc::ClientContext context;
  pulse::v1::GetTopologyResponse response;
  ASSERT_TRUE(topology_->GetTopology(&context, {}, &response).ok());
  int connected = 0;
  for (const auto& s : response.topology().switches()) {
    EXPECT_EQ(s.connected(), s.name() == "leaf-0") << s.name();
    connected += s.connected();
  }
  EXPECT_EQ(connected, 1);
  for (const auto& link : response.topology().links()) {
    EXPECT_EQ(link.up(), link.id() != last_link) << link.id();
    EXPECT_EQ(link.usable(), link.id() != last_link) << link.id();
  }

  // Lost again: the flag follows; a drained switch's links stay up but become unusable.
  controller_->OnSwitchLost(leaf0);
  ASSERT_TRUE(controller_->DrainSwitch("spine-0").get().ok());
  grpc::ClientContext context2;
  pulse::v1::GetTopologyResponse after;
  ASSERT_TRUE(topology_->GetTopology(&context2, {}, &after).ok());
  for (const auto& s : after.topology().switches()) EXPECT_FALSE(s.connected()) << s.name();
  const topology::NodeId spine0 = *fabric_->FindNode("spine-0");
  int drained_links = 0;
  for (const auto& link : after.topology().links()) {
    const topology::Link& l = fabric_->link(link.id());
    const bool on_spine0 = l.a.node == spine0 || l.b.node == spine0;
    EXPECT_EQ(link.up(), link.id() != last_link) << link.id();
    EXPECT_EQ(link.usable(), link.id() != last_link && !on_spine0) << link.id();
    drained_links += on_spine0 && link.up() && !link.usable();
  }
  EXPECT_EQ(drained_links, 2);  // spine-0 reaches both leaves
}

// Planning mode: no switches, no discovery.
TEST_F(ApiTest, GetDiscoveryWithoutSwitchesIsFailedPrecondition) {
  grpc::ClientContext context;
  pulse::v1::GetDiscoveryResponse response;
  grpc::Status status = topology_->GetDiscovery(&context, {}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(status.error_message(), "no switches attached (planning mode)");
}

TEST_F(ApiTest, GetDiscoveryReportsDiffBySwitchName) {
  // A hand-made report on the 2x2 leaf-spine: leaf-1 <-> spine-1 missing, the cable meant for
  // leaf-0 <-> spine-1 found in spine-0's port 9 instead, and a stranger switch on leaf-1 port 7.
  auto fabric = testing::SmallLeafSpine();
  auto switch_link = [&](const std::string& a, const std::string& b) {
    const topology::NodeId na = *fabric->FindNode(a), nb = *fabric->FindNode(b);
    for (topology::LinkId id = 0; id < static_cast<topology::LinkId>(fabric->links().size());
         ++id) {
      const topology::Link& l = fabric->link(id);
      if ((l.a.node == na && l.b.node == nb) || (l.a.node == nb && l.b.node == na)) return id;
    }
    ADD_FAILURE() << "no link " << a << " <-> " << b;
    return topology::LinkId{0};
  };
  auto observed = [&](topology::LinkId id) {
    const topology::Link& l = fabric->link(id);
    return topology::ObservedLink{
        fabric->node(l.a.node).datapath_id, static_cast<uint32_t>(l.a.port),
        fabric->node(l.b.node).datapath_id, static_cast<uint32_t>(l.b.port)};
  };
  const topology::LinkId l0s0 = switch_link("leaf-0", "spine-0");
  const topology::LinkId l0s1 = switch_link("leaf-0", "spine-1");
  const topology::LinkId l1s0 = switch_link("leaf-1", "spine-0");
  const topology::LinkId l1s1 = switch_link("leaf-1", "spine-1");
  const uint64_t spine0_dpid = fabric->node(*fabric->FindNode("spine-0")).datapath_id;
  const uint64_t leaf1_dpid = fabric->node(*fabric->FindNode("leaf-1")).datapath_id;
  const uint64_t stranger_dpid = 0xabcdef;
  ASSERT_FALSE(fabric->FindByDatapathId(stranger_dpid).has_value());

  controller::DiscoveryReport report;
  topology::ObservedLink miswire = observed(l0s1);
  miswire.dpid_b = spine0_dpid;
  miswire.port_b = 9;
  const topology::ObservedLink stranger{leaf1_dpid, 7, stranger_dpid, 1};
  report.observed = {observed(l0s0), observed(l1s0), miswire, stranger};
  report.diff.missing = {l1s1};
  report.diff.unexpected = {stranger};
  report.diff.miswired = {topology::MiswiredLink{miswire, {l0s1}}};
  report.description = "three lines";
  report.probe_rounds = 7;
  std::atomic<int> calls{0};
  std::mutex report_mu;  // the provider runs on a gRPC thread
  TearDown();
  StartServer({}, {}, [&]() -> absl::StatusOr<controller::DiscoveryReport> {
    std::lock_guard<std::mutex> lock(report_mu);
    ++calls;
    return report;
  });

  grpc::ClientContext context;
  pulse::v1::GetDiscoveryResponse response;
  grpc::Status status = topology_->GetDiscovery(&context, {}, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(response.probe_rounds(), 7);
  EXPECT_EQ(response.description(), "three lines");
  EXPECT_FALSE(response.matches_intent());

  ASSERT_EQ(response.observed_size(), 4);
  auto end_name = [](const pulse::v1::DiscoveredEnd& e) {
    return absl::StrCat(
        e.switch_name().empty() ? absl::StrCat("dpid ", e.datapath_id()) : e.switch_name(), ":",
        e.port());
  };
  auto link_name = [&](const pulse::v1::DiscoveredLink& l) {
    return absl::StrCat(end_name(l.a()), " <-> ", end_name(l.b()));
  };
  auto intent_name = [&](topology::LinkId id) {
    const topology::Link& l = fabric->link(id);
    return absl::StrCat(fabric->node(l.a.node).name, ":", l.a.port, " <-> ",
                        fabric->node(l.b.node).name, ":", l.b.port);
  };
  EXPECT_EQ(link_name(response.observed(0)), intent_name(l0s0));
  EXPECT_EQ(link_name(response.observed(1)), intent_name(l1s0));
  EXPECT_EQ(response.observed(0).a().datapath_id(),
            fabric->node(fabric->link(l0s0).a.node).datapath_id);

  ASSERT_EQ(response.missing_size(), 1);
  const pulse::v1::IntentLink& missing = response.missing(0);
  EXPECT_EQ(missing.link_id(), l1s1);
  EXPECT_EQ(absl::StrCat(missing.a_node(), ":", missing.a_port(), " <-> ", missing.b_node(), ":",
                         missing.b_port()),
            intent_name(l1s1));

  ASSERT_EQ(response.unexpected_size(), 1);
  EXPECT_EQ(response.unexpected(0).a().switch_name(), "leaf-1");
  EXPECT_EQ(response.unexpected(0).a().port(), 7u);
  EXPECT_EQ(response.unexpected(0).b().switch_name(), "");  // not in the intent
  EXPECT_EQ(response.unexpected(0).b().datapath_id(), stranger_dpid);

  ASSERT_EQ(response.miswired_size(), 1);
  const pulse::v1::MiswiredLink& m = response.miswired(0);
  EXPECT_EQ(m.actual().a().switch_name(), "leaf-0");
  EXPECT_EQ(m.actual().a().port(), static_cast<uint32_t>(fabric->link(l0s1).a.port));
  EXPECT_EQ(m.actual().b().switch_name(), "spine-0");
  EXPECT_EQ(m.actual().b().port(), 9u);
  ASSERT_EQ(m.expected_size(), 1);
  EXPECT_EQ(m.expected(0).link_id(), l0s1);
  EXPECT_EQ(m.expected(0).b_node(), "spine-1");

  // Every call asks the provider again (no stale copy); a fixed fabric matches the intent.
  {
    std::lock_guard<std::mutex> lock(report_mu);
    report.observed = {observed(l0s0), observed(l0s1), observed(l1s0), observed(l1s1)};
    report.diff = {};
    report.description = "no differences";
  }
  grpc::ClientContext context2;
  pulse::v1::GetDiscoveryResponse fixed;
  ASSERT_TRUE(topology_->GetDiscovery(&context2, {}, &fixed).ok());
  EXPECT_EQ(calls.load(), 2);
  EXPECT_TRUE(fixed.matches_intent());
  EXPECT_EQ(fixed.missing_size() + fixed.unexpected_size() + fixed.miswired_size(), 0);
  EXPECT_EQ(fixed.observed_size(), 4);

  // Not judged yet (empty description): no claim that it matches.
  {
    std::lock_guard<std::mutex> lock(report_mu);
    report.description.clear();
  }
  grpc::ClientContext context3;
  pulse::v1::GetDiscoveryResponse early;
  ASSERT_TRUE(topology_->GetDiscovery(&context3, {}, &early).ok());
  EXPECT_FALSE(early.matches_intent());
}

TEST_F(ApiTest, GetDiscoveryPassesProviderErrorsThrough) {
  TearDown();
  StartServer({}, {}, []() -> absl::StatusOr<controller::DiscoveryReport> {
    return absl::UnavailableError("discovery: driver stopped");
  });
  grpc::ClientContext context;
  pulse::v1::GetDiscoveryResponse response;
  grpc::Status status = topology_->GetDiscovery(&context, {}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(), "discovery: driver stopped");
}

TEST_F(ApiTest, PlaceGetListDeleteJob) {
  pulse::v1::PlaceJobResponse placed;
  grpc::Status status =
      Place(Ring("job-1", {"server-0/gpu-0", "server-1/gpu-0", "server-2/gpu-0", "server-3/gpu-0"}),
            &placed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(placed.job().spec().id(), "job-1");
  EXPECT_EQ(placed.job().spec().traffic_class(), 3);  // unset -> the lossless class
  ASSERT_GT(placed.job().flows_size(), 0);
  EXPECT_GT(placed.job().max_link_load(), 0);
  EXPECT_GE(placed.job().max_link_load() + 1e-9, placed.job().lower_bound());
  EXPECT_GT(placed.event_sequence(), 0u);
  // The bandwidth contract: the job alone on its planned paths runs at its ideal; ECMP no better.
  EXPECT_TRUE(placed.job().bandwidth_predicted());
  EXPECT_NEAR(placed.job().predicted_busbw_fraction(), 1.0, 1e-6);
  EXPECT_GT(placed.job().ecmp_busbw_fraction(), 0);
  EXPECT_LE(placed.job().ecmp_busbw_fraction(), 1.0 + 1e-9);
  EXPECT_EQ(placed.job().ecmp_qps(), 4);
  EXPECT_GT(placed.job().ideal_completion_seconds(), 0);
  EXPECT_NEAR(placed.job().predicted_completion_seconds(), placed.job().ideal_completion_seconds(),
              1e-9);
  for (const auto& flow : placed.job().flows()) {
    EXPECT_GT(flow.rate_bps(), 0);  // the pattern divides the job rate among its flows
    EXPECT_LE(flow.rate_bps(), 10e9);
    ASSERT_GE(flow.hops_size(), 1);
    EXPECT_EQ(flow.links_size(), flow.hops_size() + 1);
    // First hop is the source's leaf, entered on the port its NIC plugs into.
    auto src = fabric_->FindNode(flow.src());
    ASSERT_TRUE(src.ok());
    const auto& nic_link = fabric_->link(fabric_->LinksOf(*src)[0]);
    EXPECT_EQ(flow.hops(0).switch_name(), fabric_->node(nic_link.b.node).name);
    EXPECT_EQ(flow.hops(0).in_port(), nic_link.b.port);
    // Same-leaf pairs stay on the leaf; others climb to a spine.
    bool same_leaf = (flow.src() < "server-2") == (flow.dst() < "server-2");
    EXPECT_EQ(flow.hops_size(), same_leaf ? 1 : 3) << flow.src() << " -> " << flow.dst();
  }

  {
    grpc::ClientContext context;
    pulse::v1::GetJobRequest request;
    request.set_id("job-1");
    pulse::v1::GetJobResponse response;
    ASSERT_TRUE(jobs_->GetJob(&context, request, &response).ok());
    EXPECT_EQ(response.job().SerializeAsString(), placed.job().SerializeAsString());
  }
  ASSERT_TRUE(Place(Ring("job-2", {"server-0/gpu-0", "server-3/nic-0"})).ok());
  auto jobs = ListJobs(false);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].spec().id(), "job-1");
  EXPECT_EQ(jobs[0].flows_size(), 0);  // include_flows not set
  EXPECT_EQ(jobs[1].spec().id(), "job-2");
  ExpectLoadsMatchJobs();

  ASSERT_TRUE(Delete("job-1").ok());
  jobs = ListJobs(true);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].spec().id(), "job-2");
  ExpectLoadsMatchJobs();
  ASSERT_TRUE(Delete("job-2").ok());
  for (const auto& link : (links_snapshot_ = Links()).links())
    EXPECT_EQ(link.planned_load_bps(), 0) << link.name();
}

TEST_F(ApiTest, ListLinksAndTopLinks) {
  ASSERT_TRUE(Place(Ring("hot", {"server-0/gpu-0", "server-2/gpu-0"}, 40e9)).ok());
  auto all = Links();
  EXPECT_EQ(all.links_size(), 16);  // 8 links, both directions
  EXPECT_FALSE(all.links(0).has_measured_load_bps());
  grpc::ClientContext context;
  pulse::v1::TopLinksRequest request;
  request.set_n(3);
  pulse::v1::TopLinksResponse top;
  ASSERT_TRUE(links_->TopLinks(&context, request, &top).ok());
  ASSERT_EQ(top.links_size(), 3);
  EXPECT_NEAR(top.links(0).planned_utilisation(), 0.4, 1e-9);
  for (int i = 1; i < top.links_size(); ++i) {
    EXPECT_GE(top.links(i - 1).planned_utilisation(), top.links(i).planned_utilisation());
  }
  double max_util = 0;
  for (const auto& l : all.links()) max_util = std::max(max_util, l.planned_utilisation());
  EXPECT_EQ(top.links(0).planned_utilisation(), max_util);
}

TEST_F(ApiTest, LinksShowMeasuredLoadNextToPlanned) {
  TearDown();
  // Link 0's up direction measured at 2.5 Gb/s, its down direction idle (0), directed link 2 not
  // measured (NaN), the rest beyond the provider's vector (a telemetry view older than the fabric).
  measured_link_load_bps_ = [] {
    return std::vector<double>{2.5e9, 0.0, std::numeric_limits<double>::quiet_NaN()};
  };
  StartServer();
  ASSERT_TRUE(Place(Ring("hot", {"server-0/gpu-0", "server-2/gpu-0"}, 40e9)).ok());
  pulse::v1::ListLinksResponse all = Links();
  ASSERT_EQ(all.links_size(), 16);
  ASSERT_TRUE(all.links(0).has_measured_load_bps());
  EXPECT_EQ(all.links(0).measured_load_bps(), 2.5e9);
  EXPECT_NEAR(all.links(0).measured_utilisation(),
              2.5e9 / static_cast<double>(all.links(0).capacity_bps()), 1e-12);
  ASSERT_TRUE(all.links(1).has_measured_load_bps());  // idle is measured, unlike unknown
  EXPECT_EQ(all.links(1).measured_load_bps(), 0.0);
  EXPECT_FALSE(all.links(2).has_measured_load_bps());
  EXPECT_FALSE(all.links(2).has_measured_utilisation());
  for (int d = 3; d < all.links_size(); ++d) {
    EXPECT_FALSE(all.links(d).has_measured_load_bps()) << all.links(d).name();
  }
  // TopLinks carries the same measured fields for the links it returns.
  grpc::ClientContext context;
  pulse::v1::TopLinksRequest request;
  request.set_n(16);
  pulse::v1::TopLinksResponse top;
  ASSERT_TRUE(links_->TopLinks(&context, request, &top).ok());
  int measured = 0;
  for (const auto& link : top.links()) {
    if (link.has_measured_load_bps()) {
      ++measured;
      EXPECT_EQ(link.measured_load_bps(),
                all.links(link.name() == all.links(0).name() ? 0 : 1).measured_load_bps());
    }
  }
  EXPECT_EQ(measured, 2);
}

// GetJob and ListJobs carry the telemetry loop's measurement of each job (fields 260-267); a job
// the measurement does not cover (or not measured) has none.
TEST_F(ApiTest, JobsCarryTheirMeasuredBandwidth) {
  TearDown();
  measured_job_bandwidth_ = [] {
    controller::JobBandwidthMap map;
    controller::MeasuredJobBandwidth m;
    m.measured = true;
    m.flows = 2;
    m.flows_measured = 2;
    m.planned_bps = 80e9;
    m.delivered_bps = 60e9;
    m.delivered_fraction = 0.75;
    m.measured_busbw_fraction = 0.5;
    m.time_ms = absl::ToUnixMillis(absl::Now()) - 2000;
    map["seen"] = m;
    controller::MeasuredJobBandwidth unmeasured;
    unmeasured.flows = 2;
    map["dark"] = unmeasured;
    return std::make_shared<const controller::JobBandwidthMap>(std::move(map));
  };
  StartServer();
  for (const char* id : {"seen", "dark", "other"}) {
    ASSERT_TRUE(Place(Ring(id, {"server-0/gpu-0", "server-2/gpu-0"}, 10e9)).ok()) << id;
  }
  grpc::ClientContext context;
  pulse::v1::GetJobRequest request;
  request.set_id("seen");
  pulse::v1::GetJobResponse response;
  ASSERT_TRUE(jobs_->GetJob(&context, request, &response).ok());
  const pulse::v1::Job& seen = response.job();
  EXPECT_TRUE(seen.bandwidth_measured());
  EXPECT_EQ(seen.delivered_fraction(), 0.75);
  EXPECT_EQ(seen.measured_busbw_fraction(), 0.5);
  EXPECT_EQ(seen.planned_rate_bps(), 80e9);
  EXPECT_EQ(seen.delivered_rate_bps(), 60e9);
  EXPECT_EQ(seen.flows_measured(), 2u);
  EXPECT_EQ(seen.flows_on_fabric(), 2u);
  EXPECT_NEAR(seen.measured_age_seconds(), 2.0, 1.0);
  std::map<std::string, pulse::v1::Job> listed;
  for (const auto& job : ListJobs(false)) listed[job.spec().id()] = job;
  ASSERT_EQ(listed.size(), 3u);
  EXPECT_TRUE(listed["seen"].bandwidth_measured());
  EXPECT_EQ(listed["seen"].measured_busbw_fraction(), 0.5);
  EXPECT_FALSE(listed["dark"].bandwidth_measured());
  EXPECT_FALSE(listed["other"].bandwidth_measured());
  EXPECT_EQ(listed["other"].delivered_fraction(), 0.0);
}

TEST_F(ApiTest, EveryFinishedRpcIsTimedByMethod) {
  TearDown();
  std::mutex mu;
  std::map<std::string, std::vector<double>> seconds_by_method;
  rpc_latency_observer_ = [&](const std::string& method, double seconds) {
    std::lock_guard<std::mutex> lock(mu);
    seconds_by_method[method].push_back(seconds);
  };
  StartServer();
  ASSERT_TRUE(Place(Ring("timed", {"server-0/gpu-0", "server-2/gpu-0"}, 10e9)).ok());
  Links();
  Links();
  // A refused call is timed too (INVALID_ARGUMENT from TopLinks).
  grpc::ClientContext context;
  pulse::v1::TopLinksRequest request;
  request.set_n(0);
  pulse::v1::TopLinksResponse top;
  EXPECT_EQ(links_->TopLinks(&context, request, &top).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  TearDown();  // the server has sent every status: all observations are in
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(seconds_by_method["/pulse.v1.JobService/PlaceJob"].size(), 1u);
  EXPECT_EQ(seconds_by_method["/pulse.v1.LinkService/ListLinks"].size(), 2u);
  EXPECT_EQ(seconds_by_method["/pulse.v1.LinkService/TopLinks"].size(), 1u);
  for (const auto& [method, samples] : seconds_by_method) {
    for (double s : samples) {
      EXPECT_GE(s, 0.0) << method;
      EXPECT_LT(s, 60.0) << method;
    }
  }
}

struct BadRequest {
  std::string name;
  std::function<void(pulse::v1::JobSpec*)> mutate;
  grpc::StatusCode code;
  std::string message_part;
};

TEST_F(ApiTest, PlaceJobErrorsNameTheField) {
  std::vector<BadRequest> cases = {
      {"empty id", [](auto* j) { j->set_id(""); }, grpc::INVALID_ARGUMENT, "job.id"},
      {"bad id", [](auto* j) { j->set_id("a b"); }, grpc::INVALID_ARGUMENT, "job.id"},
      {"unknown endpoint", [](auto* j) { j->set_endpoints(1, "server-9/gpu-2"); },
       grpc::INVALID_ARGUMENT, "job.endpoints[1]: unknown endpoint 'server-9/gpu-2'"},
      {"switch endpoint", [](auto* j) { j->set_endpoints(0, "leaf-0"); }, grpc::INVALID_ARGUMENT,
       "job.endpoints[0]"},
      {"duplicate", [](auto* j) { j->set_endpoints(1, "server-0/gpu-0"); }, grpc::INVALID_ARGUMENT,
       "job.endpoints[1]: duplicate of job.endpoints[0]"},
      {"one endpoint", [](auto* j) { j->mutable_endpoints()->RemoveLast(); },
       grpc::INVALID_ARGUMENT, "job.endpoints"},
      {"too many",
       [](auto* j) {
         for (int i = 0; i < 10; ++i) j->add_endpoints("x");
       },
       grpc::INVALID_ARGUMENT, "exceed the limit of 8"},
      {"traffic class", [](auto* j) { j->set_traffic_class(9); }, grpc::INVALID_ARGUMENT,
       "job.traffic_class"},
      {"negative rate", [](auto* j) { j->set_rate_bps(-1); }, grpc::INVALID_ARGUMENT,
       "job.rate_bps"},
      {"subflows", [](auto* j) { j->set_max_subflows(1000); }, grpc::INVALID_ARGUMENT,
       "job.max_subflows"},
      {"bad pattern",
       [](auto* j) { j->set_pattern(static_cast<pulse::v1::CollectivePattern>(77)); },
       grpc::INVALID_ARGUMENT, "job.pattern"},
      {"flows without explicit",
       [](auto* j) {
         auto* f = j->add_flows();
         f->set_src("server-0/gpu-0");
         f->set_dst("server-1/gpu-0");
       },
       grpc::INVALID_ARGUMENT, "job.flows"},
      {"explicit without flows",
       [](auto* j) { j->set_pattern(pulse::v1::COLLECTIVE_PATTERN_EXPLICIT); },
       grpc::INVALID_ARGUMENT, "job.flows"},
      {"explicit unknown dst",
       [](auto* j) {
         j->set_pattern(pulse::v1::COLLECTIVE_PATTERN_EXPLICIT);
         auto* f = j->add_flows();
         f->set_src("server-0/gpu-0");
         f->set_dst("nope");
       },
       grpc::INVALID_ARGUMENT, "job.flows[0].dst"},
      {"rate over the NIC line rate", [](auto* j) { j->set_rate_bps(150e9); },
       grpc::INVALID_ARGUMENT, "job.rate_bps: 1.5e+11 bit/s exceeds the line rate"},

  };
  TearDown();
  ApiLimits limits;
  limits.max_endpoints_per_job = 8;
  StartServer({}, limits);
  for (const auto& c : cases) {
    auto request = Ring("bad", {"server-0/gpu-0", "server-2/gpu-0"});
    c.mutate(request.mutable_job());
    grpc::Status status = Place(request);
    EXPECT_EQ(status.error_code(), c.code) << c.name << ": " << status.error_message();
    EXPECT_NE(status.error_message().find(c.message_part), std::string::npos)
        << c.name << ": " << status.error_message();
  }
  grpc::Status missing = Place(pulse::v1::PlaceJobRequest());
  EXPECT_EQ(missing.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_EQ(missing.error_message(), "job: missing");
  // Nothing was placed by any failed call.
  EXPECT_TRUE(ListJobs(false).empty());
  for (const auto& link : (links_snapshot_ = Links()).links())
    EXPECT_EQ(link.planned_load_bps(), 0);

  ASSERT_TRUE(Place(Ring("dup", {"server-0/gpu-0", "server-2/gpu-0"})).ok());
  EXPECT_EQ(Place(Ring("dup", {"server-1/gpu-0", "server-3/gpu-0"})).error_code(),
            grpc::ALREADY_EXISTS);
  // Strict over capacity: line-rate flows onto NIC links "dup" already fills.
  auto strict = Ring("strict", {"server-0/gpu-0", "server-2/gpu-0"}, 100e9);
  strict.mutable_job()->set_strict(true);
  EXPECT_EQ(Place(strict).error_code(), grpc::RESOURCE_EXHAUSTED);
}

TEST_F(ApiTest, GetAndDeleteErrors) {
  grpc::ClientContext c1;
  pulse::v1::GetJobRequest get;
  get.set_id("nope");
  pulse::v1::GetJobResponse got;
  grpc::Status status = jobs_->GetJob(&c1, get, &got);
  EXPECT_EQ(status.error_code(), grpc::NOT_FOUND);
  EXPECT_NE(status.error_message().find("id: no job 'nope'"), std::string::npos);
  grpc::ClientContext c2;
  get.set_id("");
  EXPECT_EQ(jobs_->GetJob(&c2, get, &got).error_code(), grpc::INVALID_ARGUMENT);
  status = Delete("nope");
  EXPECT_EQ(status.error_code(), grpc::NOT_FOUND);
  EXPECT_NE(status.error_message().find("id:"), std::string::npos);
  EXPECT_EQ(Delete("").error_code(), grpc::INVALID_ARGUMENT);
  for (int n : {0, -1, 10001}) {
    grpc::ClientContext c;
    pulse::v1::TopLinksRequest request;
    request.set_n(n);
    pulse::v1::TopLinksResponse response;
    status = links_->TopLinks(&c, request, &response);
    EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("n: must be 1..10000"), std::string::npos);
  }
}

TEST_F(ApiTest, JobLimitAndMessageSizeLimit) {
  TearDown();
  ControllerOptions controller_options;
  controller_options.max_jobs = 2;
  ApiLimits limits;
  limits.max_message_bytes = 4096;
  StartServer(controller_options, limits);
  ASSERT_TRUE(Place(Ring("a", {"server-0/gpu-0", "server-1/gpu-0"})).ok());
  ASSERT_TRUE(Place(Ring("b", {"server-2/gpu-0", "server-3/gpu-0"})).ok());
  grpc::Status status = Place(Ring("c", {"server-0/gpu-0", "server-3/gpu-0"}));
  EXPECT_EQ(status.error_code(), grpc::RESOURCE_EXHAUSTED);
  EXPECT_NE(status.error_message().find("job limit"), std::string::npos);
  auto big = Ring("big", {"server-0/gpu-0", std::string(8000, 'x')});
  EXPECT_EQ(Place(big).error_code(), grpc::RESOURCE_EXHAUSTED);
}

TEST_F(ApiTest, DrainMovesFlowsOffSwitchAndUndrainRestores) {
  // Four cross-leaf flows at 10G: some must use each spine.
  ASSERT_TRUE(
      Place(Ring("j", {"server-0/gpu-0", "server-2/gpu-0", "server-1/gpu-0", "server-3/gpu-0"}))
          .ok());
  auto uses_spine0 = [&] {
    int n = 0;
    for (const auto& job : ListJobs(true)) {
      for (const auto& flow : job.flows()) {
        for (const auto& hop : flow.hops()) n += hop.switch_name() == "spine-0";
      }
    }
    return n;
  };
  int before = uses_spine0();
  ASSERT_GT(before, 0);

  grpc::ClientContext c1;
  pulse::v1::DrainSwitchRequest drain;
  drain.set_switch_name("spine-0");
  pulse::v1::DrainSwitchResponse drained;
  grpc::Status status = maintenance_->DrainSwitch(&c1, drain, &drained);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(drained.links_affected(), 2);
  EXPECT_EQ(drained.flows_moved(), before);
  EXPECT_EQ(uses_spine0(), 0);
  ExpectLoadsMatchJobs();
  {
    grpc::ClientContext c;
    pulse::v1::GetTopologyResponse t;
    ASSERT_TRUE(topology_->GetTopology(&c, {}, &t).ok());
    int unusable = 0;
    for (const auto& l : t.topology().links()) unusable += !l.usable();
    EXPECT_EQ(unusable, 2);
    for (const auto& s : t.topology().switches()) EXPECT_EQ(s.drained(), s.name() == "spine-0");
  }
  // New jobs avoid the drained switch too.
  ASSERT_TRUE(Place(Ring("k", {"server-1/gpu-0", "server-2/gpu-0"})).ok());
  EXPECT_EQ(uses_spine0(), 0);

  grpc::ClientContext c2;
  EXPECT_EQ(maintenance_->DrainSwitch(&c2, drain, &drained).error_code(),
            grpc::FAILED_PRECONDITION);
  grpc::ClientContext c3;
  pulse::v1::UndrainSwitchRequest undrain;
  undrain.set_switch_name("spine-0");
  pulse::v1::UndrainSwitchResponse undrained;
  ASSERT_TRUE(maintenance_->UndrainSwitch(&c3, undrain, &undrained).ok());
  EXPECT_EQ(undrained.links_affected(), 2);
  grpc::ClientContext c4;
  EXPECT_EQ(maintenance_->UndrainSwitch(&c4, undrain, &undrained).error_code(),
            grpc::FAILED_PRECONDITION);

  for (auto [name, code] : std::vector<std::pair<std::string, grpc::StatusCode>>{
           {"spine-9", grpc::NOT_FOUND},
           {"server-0/nic-0", grpc::INVALID_ARGUMENT},
           {"", grpc::INVALID_ARGUMENT}}) {
    grpc::ClientContext c;
    drain.set_switch_name(name);
    status = maintenance_->DrainSwitch(&c, drain, &drained);
    EXPECT_EQ(status.error_code(), code) << name;
    EXPECT_NE(status.error_message().find("switch_name"), std::string::npos) << name;
  }
}

std::vector<pulse::v1::Event> ReadEvents(pulse::v1::EventService::Stub* stub, uint64_t from,
                                         size_t count, grpc::Status* end_status = nullptr) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  pulse::v1::WatchEventsRequest request;
  request.set_from_sequence(from);
  auto reader = stub->WatchEvents(&context, request);
  std::vector<pulse::v1::Event> events;
  pulse::v1::Event event;
  while (events.size() < count && reader->Read(&event)) events.push_back(event);
  if (events.size() == count) context.TryCancel();
  grpc::Status status = reader->Finish();
  if (end_status) *end_status = status;
  return events;
}

TEST_F(ApiTest, DiscoveryMismatchIsAnEvent) {
  controller_->OnDiscoveryResult(true, "no differences");  // matching from the start: silent
  controller_->OnDiscoveryResult(false, "missing: leaf-1:4 <-> spine-1:2");
  controller_->OnDiscoveryResult(false, "missing: leaf-1:4 <-> spine-1:2");  // same: silent
  controller_->OnDiscoveryResult(true, "no differences");
  controller_->Sync().wait();
  auto events = ReadEvents(events_.get(), 1, 2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(controller_->events().last_sequence(), 2u);
  EXPECT_EQ(events[0].type(), pulse::v1::EVENT_TYPE_DISCOVERY_MISMATCH);
  EXPECT_EQ(events[0].subject(), "fabric");
  EXPECT_EQ(events[0].detail(), "missing: leaf-1:4 <-> spine-1:2");
  EXPECT_EQ(events[1].type(), pulse::v1::EVENT_TYPE_DISCOVERY_MISMATCH);
  EXPECT_EQ(events[1].detail(), "no differences");
}

TEST_F(ApiTest, WatchEventsResumesFromSequence) {
  ASSERT_TRUE(Place(Ring("e1", {"server-0/gpu-0", "server-2/gpu-0"})).ok());
  ASSERT_TRUE(Place(Ring("e2", {"server-1/gpu-0", "server-3/gpu-0"})).ok());
  ASSERT_TRUE(Delete("e1").ok());
  controller_->OnLinkStatus(fabric_->links().size() - 1, false);  // leaf-1 <-> spine-1
  controller_->Sync().wait();

  auto all = ReadEvents(events_.get(), 1, 4);
  ASSERT_GE(all.size(), 4u);
  EXPECT_EQ(all[0].type(), pulse::v1::EVENT_TYPE_JOB_PLACED);
  EXPECT_EQ(all[0].subject(), "e1");
  EXPECT_EQ(all[1].subject(), "e2");
  EXPECT_EQ(all[2].type(), pulse::v1::EVENT_TYPE_JOB_DELETED);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].sequence(), i + 1);
  uint64_t last = controller_->events().last_sequence();
  EXPECT_EQ(ReadEvents(events_.get(), last, 1).back().type(), pulse::v1::EVENT_TYPE_LINK_DOWN);

  // Resume from 3: exactly 3, 4, ... with nothing skipped.
  auto resumed = ReadEvents(events_.get(), 3, 2);
  ASSERT_EQ(resumed.size(), 2u);
  EXPECT_EQ(resumed[0].sequence(), 3u);
  EXPECT_EQ(resumed[0].SerializeAsString(), all[2].SerializeAsString());
  EXPECT_EQ(resumed[1].sequence(), 4u);

  // from_sequence 0: only what happens after the call; a live event arrives on an open stream.
  std::thread later([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ASSERT_TRUE(Place(Ring("e3", {"server-0/gpu-0", "server-3/gpu-0"})).ok());
  });
  auto live = ReadEvents(events_.get(), 0, 1);
  later.join();
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].subject(), "e3");
  EXPECT_EQ(live[0].sequence(), last + 1);
}

TEST_F(ApiTest, WatchEventsOlderThanRingIsOutOfRange) {
  TearDown();
  ControllerOptions options;
  options.event_ring_size = 4;
  StartServer(options);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(Place(Ring(absl::StrCat("r", i), {"server-0/gpu-0", "server-2/gpu-0"})).ok());
    ASSERT_TRUE(Delete(absl::StrCat("r", i)).ok());
  }
  grpc::Status status;
  auto events = ReadEvents(events_.get(), 2, 100, &status);
  EXPECT_TRUE(events.empty());
  EXPECT_EQ(status.error_code(), grpc::OUT_OF_RANGE);
  EXPECT_NE(status.error_message().find("oldest event still held (7)"), std::string::npos)
      << status.error_message();
  auto held = ReadEvents(events_.get(), 7, 4);
  ASSERT_EQ(held.size(), 4u);
  EXPECT_EQ(held.back().sequence(), 10u);
}

TEST_F(ApiTest, HealthServiceServes) {
  // grpc.health.v1.Health/Check with an empty request; the reply is {status: SERVING} = 08 01.
  grpc::GenericStub generic(channel_);
  grpc::ClientContext context;
  grpc::ByteBuffer request, response;
  grpc::Slice empty("");
  request = grpc::ByteBuffer(&empty, 1);
  // The callback runs on a gRPC thread; a mutex around the hand-off makes the ordering visible to
  // ThreadSanitizer (gRPC's own is not: Debian's gRPC is not instrumented).
  std::mutex mu;
  std::condition_variable cv;
  std::optional<grpc::Status> result;
  { std::lock_guard<std::mutex> lock(mu); }
  generic.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                    &response, [&](grpc::Status s) {
                      std::lock_guard<std::mutex> lock(mu);
                      result = s;
                      cv.notify_all();
                    });
  grpc::Status status;
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return result.has_value(); });
    status = *result;
  }
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));
}

// 16 clients place and delete at once; afterwards the server holds exactly the jobs acknowledged
// and not deleted, and every link's load is the sum over those jobs.
TEST_F(ApiTest, SixteenConcurrentClientsLeaveConsistentState) {
  constexpr int kThreads = 16, kJobsPerThread = 25;
  const std::vector<std::string> gpus = {"server-0/gpu-0", "server-1/gpu-0", "server-2/gpu-0",
                                         "server-3/gpu-0"};
  std::mutex mu;
  std::set<std::string> live;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                         grpc::InsecureChannelCredentials());
      auto stub = pulse::v1::JobService::NewStub(channel);
      std::mt19937 rng(t);
      std::vector<std::string> mine;
      for (int i = 0; i < kJobsPerThread; ++i) {
        int a = rng() % 4, b = (a + 1 + rng() % 3) % 4;
        auto request = Ring(absl::StrCat("t", t, "-", i), {gpus[a], gpus[b]}, 1e9 + rng() % 1000);
        grpc::ClientContext context;
        pulse::v1::PlaceJobResponse response;
        if (stub->PlaceJob(&context, request, &response).ok()) {
          std::lock_guard<std::mutex> lock(mu);
          live.insert(request.job().id());
          mine.push_back(request.job().id());
        } else {
          ++failures;
        }
        if (i % 2 == 1 && !mine.empty()) {  // delete every other job, racing with the others
          std::string victim = mine[rng() % mine.size()];
          mine.erase(std::find(mine.begin(), mine.end(), victim));
          grpc::ClientContext dc;
          pulse::v1::DeleteJobRequest dr;
          dr.set_id(victim);
          pulse::v1::DeleteJobResponse dresp;
          if (stub->DeleteJob(&dc, dr, &dresp).ok()) {
            std::lock_guard<std::mutex> lock(mu);
            live.erase(victim);
          } else {
            ++failures;
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  std::set<std::string> listed;
  for (const auto& job : ListJobs(false)) listed.insert(job.spec().id());
  EXPECT_EQ(listed, live);
  EXPECT_GT(live.size(), 0u);
  ExpectLoadsMatchJobs();
  std::printf("concurrency: %d clients, %zu jobs left of %d placed\n", kThreads, live.size(),
              kThreads * kJobsPerThread);
}

TEST(ApiServerStartTest, RefusesPlaintextUnlessInsecure) {
  auto controller = Controller::Create(testing::SmallLeafSpine());
  ASSERT_TRUE(controller.ok());
  ApiServerOptions options;
  options.listen_address = "127.0.0.1:0";
  auto server = ApiServer::Start(controller->get(), options);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(server.status().message().find("tls.cert"), std::string::npos);
  options.tls.cert_file = "/nonexistent/cert.pem";
  options.tls.key_file = "/nonexistent/key.pem";
  server = ApiServer::Start(controller->get(), options);
  EXPECT_NE(server.status().message().find("tls.cert: cannot read"), std::string::npos);
  options = ApiServerOptions();
  options.insecure = true;
  options.listen_address = "256.1.1.1:99999";
  server = ApiServer::Start(controller->get(), options);
  EXPECT_NE(server.status().message().find("listen: bad port"), std::string::npos);
  options.listen_address = "256.1.1.1:5000";
  server = ApiServer::Start(controller->get(), options);
  EXPECT_NE(server.status().message().find("listen: cannot bind"), std::string::npos);
}

}  // namespace
}  // namespace pulse::northbound
