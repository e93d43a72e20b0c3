// The API's input and reply bounds over a real gRPC socket on 127.0.0.1: rates bounded by the
// NIC line rate, replies that always fit (flows and job lists paged), echoed input capped, resume
// tokens from the future refused, an exclusive bind, and start-up errors that say what is wrong.
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>

#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "northbound/reply_pages.h"
#include "northbound/server.h"
#include "pulse/v1/pulse.grpc.pb.h"
#include "tests/northbound/test_fabric.h"

namespace pulse::northbound {
namespace {

using controller::Controller;

class BoundsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto controller = Controller::Create(testing::SmallLeafSpine());
    ASSERT_TRUE(controller.ok()) << controller.status();
    controller_ = *std::move(controller);
    ApiServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.insecure = true;
    auto server = ApiServer::Start(controller_.get(), options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                       grpc::InsecureChannelCredentials());
    jobs_ = pulse::v1::JobService::NewStub(channel);
    links_ = pulse::v1::LinkService::NewStub(channel);
    events_ = pulse::v1::EventService::NewStub(channel);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(absl::Seconds(1));
    server_.reset();
    controller_.reset();
  }

  // An explicit job of `n` flows between the four GPUs, 1 Mbit/s each (65,536 is the limit).
  static pulse::v1::PlaceJobRequest Explicit(const std::string& id, int n) {
    pulse::v1::PlaceJobRequest request;
    request.mutable_job()->set_id(id);
    request.mutable_job()->set_pattern(pulse::v1::COLLECTIVE_PATTERN_EXPLICIT);
    for (int i = 0; i < n; ++i) {
      auto* flow = request.mutable_job()->add_flows();
      flow->set_src(absl::StrCat("server-", i % 4, "/gpu-0"));
      flow->set_dst(absl::StrCat("server-", (i + 1 + i / 4 % 3) % 4, "/gpu-0"));
      flow->set_rate_bps(1e6);
    }
    return request;
  }

  grpc::Status Place(const pulse::v1::PlaceJobRequest& request,
                     pulse::v1::PlaceJobResponse* response) {
    grpc::ClientContext context;
    return jobs_->PlaceJob(&context, request, response);
  }

  std::unique_ptr<Controller> controller_;
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<pulse::v1::JobService::Stub> jobs_;
  std::unique_ptr<pulse::v1::LinkService::Stub> links_;
  std::unique_ptr<pulse::v1::EventService::Stub> events_;
};

TEST_F(BoundsTest, RatesAboveTheNicLineRateAreRefusedAndLoadsStayExact) {
  for (double rate : {1e300, 1.7e308, 100e9 + 1}) {
    pulse::v1::PlaceJobRequest request = Explicit("huge", 1);
    request.mutable_job()->mutable_flows(0)->set_rate_bps(rate);
    pulse::v1::PlaceJobResponse response;
    grpc::Status status = Place(request, &response);
    EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT) << rate;
    EXPECT_NE(status.error_message().find("job.flows[0].rate_bps"), std::string::npos);
    EXPECT_NE(status.error_message().find("line rate"), std::string::npos)
        << status.error_message();
    request = Explicit("huge-collective", 1);
    request.mutable_job()->set_rate_bps(rate);
    status = Place(request, &response);
    EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT) << rate;
    EXPECT_NE(status.error_message().find("job.rate_bps"), std::string::npos);
  }
  // Exactly the line rate is fine; every link load stays finite and returns to 0.
  pulse::v1::PlaceJobRequest full = Explicit("full", 1);
  full.mutable_job()->mutable_flows(0)->set_rate_bps(100e9);
  pulse::v1::PlaceJobResponse placed;
  ASSERT_TRUE(Place(full, &placed).ok());
  grpc::ClientContext del_context;
  pulse::v1::DeleteJobRequest del;
  del.set_id("full");
  pulse::v1::DeleteJobResponse deleted;
  ASSERT_TRUE(jobs_->DeleteJob(&del_context, del, &deleted).ok());
  grpc::ClientContext context;
  pulse::v1::ListLinksResponse links;
  ASSERT_TRUE(links_->ListLinks(&context, {}, &links).ok());
  for (const auto& link : links.links()) EXPECT_EQ(link.planned_load_bps(), 0.0) << link.name();
}

// 65,536 flows: the reply used to be RESOURCE_EXHAUSTED although the job was placed.
TEST_F(BoundsTest, MaximumSizeJobsAreAnsweredAndTheirFlowsPaged) {
  pulse::v1::PlaceJobResponse placed;
  grpc::Status status = Place(Explicit("big-a", 65536), &placed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(placed.job().flows_omitted());
  EXPECT_EQ(placed.job().flow_count(), 65536u);
  ASSERT_TRUE(Place(Explicit("big-b", 65536), &placed).ok());

  // GetJob pages the flows; every page fits the 4 MiB default client limit.
  uint64_t offset = 0, flows = 0;
  int pages = 0;
  do {
    grpc::ClientContext context;
    pulse::v1::GetJobRequest request;
    request.set_id("big-a");
    request.set_flow_offset(offset);
    pulse::v1::GetJobResponse response;
    ASSERT_TRUE(jobs_->GetJob(&context, request, &response).ok());
    EXPECT_LT(response.ByteSizeLong(), 4u << 20);
    flows += static_cast<uint64_t>(response.job().flows_size());
    offset = response.next_flow_offset();
    ++pages;
  } while (offset != 0 && pages < 100);
  EXPECT_EQ(flows, 65536u);
  EXPECT_GT(pages, 1);

  // Listing with flows works with two maximum-size jobs: paged.
  std::vector<std::string> ids;
  std::string token;
  do {
    grpc::ClientContext context;
    pulse::v1::ListJobsRequest request;
    request.set_include_flows(true);
    request.set_page_token(token);
    pulse::v1::ListJobsResponse response;
    grpc::Status listed = jobs_->ListJobs(&context, request, &response);
    ASSERT_TRUE(listed.ok()) << listed.error_message();
    for (const auto& job : response.jobs()) ids.push_back(job.spec().id());
    token = response.next_page_token();
  } while (!token.empty() && ids.size() < 10);
  EXPECT_EQ(ids, (std::vector<std::string>{"big-a", "big-b"}));
}

TEST_F(BoundsTest, EchoedInputIsCapped) {
  grpc::ClientContext context;
  pulse::v1::GetJobRequest request;
  request.set_id(std::string(1 << 20, 'n'));
  pulse::v1::GetJobResponse response;
  grpc::Status status = jobs_->GetJob(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::NOT_FOUND);
  EXPECT_LT(status.error_message().size(), 2048u);
  EXPECT_NE(status.error_message().find("more bytes"), std::string::npos);
  pulse::v1::PlaceJobRequest bad = Explicit("x", 1);
  bad.mutable_job()->mutable_flows(0)->set_src(std::string(1 << 20, 's'));
  pulse::v1::PlaceJobResponse placed;
  status = Place(bad, &placed);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_LT(status.error_message().size(), 2048u) << status.error_message().substr(0, 200);
}

// GetJobRequest{id: "\xff\xfe"}: field 1, length 2, bytes that are not UTF-8. gRPC alone
// answered UNIMPLEMENTED with no message.
TEST_F(BoundsTest, UndecodableRequestIsInvalidArgument) {
  grpc::GenericStub generic(grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                                grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  const std::string bad("\x0a\x02\xff\xfe", 4);
  grpc::Slice slice(bad);
  grpc::ByteBuffer request(&slice, 1), response;
  std::mutex mu;
  std::condition_variable cv;
  std::optional<grpc::Status> result;
  generic.UnaryCall(&context, "/pulse.v1.JobService/GetJob", grpc::StubOptions(), &request,
                    &response, [&](grpc::Status s) {
                      std::lock_guard<std::mutex> lock(mu);
                      result = s;
                      cv.notify_all();
                    });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return result.has_value(); });
  EXPECT_EQ(result->error_code(), grpc::INVALID_ARGUMENT) << result->error_message();
  EXPECT_NE(result->error_message().find("/pulse.v1.JobService/GetJob"), std::string::npos)
      << result->error_message();
  EXPECT_NE(result->error_message().find("UTF-8"), std::string::npos);
}

TEST_F(BoundsTest, ResumeTokenFromTheFutureIsRefused) {
  grpc::ClientContext context;
  pulse::v1::WatchEventsRequest request;
  request.set_from_sequence(1'000'000);
  auto reader = events_->WatchEvents(&context, request);
  pulse::v1::Event event;
  EXPECT_FALSE(reader->Read(&event));
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::OUT_OF_RANGE);
  EXPECT_NE(status.error_message().find("ahead of the last event"), std::string::npos)
      << status.error_message();
}

TEST_F(BoundsTest, ASecondServerOnTheSamePortFailsToStartSayingWhy) {
  auto controller = Controller::Create(testing::SmallLeafSpine());
  ASSERT_TRUE(controller.ok());
  ApiServerOptions options;
  options.listen_address = absl::StrCat("127.0.0.1:", server_->port());
  options.insecure = true;
  auto second = ApiServer::Start(controller->get(), options);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("listen: cannot bind"), std::string::npos)
      << second.status();
  EXPECT_NE(second.status().message().find("in use"), std::string::npos) << second.status();
}

TEST(ApiServerStartBoundsTest, PortOutOfRangeAndBadCertificateSayWhatIsWrong) {
  auto controller = Controller::Create(testing::SmallLeafSpine());
  ASSERT_TRUE(controller.ok());
  ApiServerOptions options;
  options.insecure = true;
  options.listen_address = "127.0.0.1:70000";
  auto server = ApiServer::Start(controller->get(), options);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(server.status().message().find("0..65535"), std::string::npos) << server.status();

  std::string dir = ::testing::TempDir();
  std::ofstream(dir + "/bad-cert.pem") << "-----BEGIN CERTIFICATE-----\nnot base64\n";
  std::ofstream(dir + "/bad-key.pem") << "not a key\n";
  options = ApiServerOptions();
  options.listen_address = "127.0.0.1:0";
  options.tls.cert_file = dir + "/bad-cert.pem";
  options.tls.key_file = dir + "/bad-key.pem";
  server = ApiServer::Start(controller->get(), options);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().message().find("cannot bind"), std::string::npos) << server.status();
  EXPECT_NE(server.status().message().find("tls"), std::string::npos) << server.status();
}

}  // namespace
}  // namespace pulse::northbound
