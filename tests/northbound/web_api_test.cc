// The web view's routes and auth, called directly (no sockets).
#include "northbound/web_api.h"

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/northbound/test_fabric.h"

namespace pulse::northbound {
namespace {

using nlohmann::json;

constexpr char kViewer[] = "viewer-token-0123456789";

class WebApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto created = controller::Controller::Create(testing::SmallLeafSpine());
    ASSERT_TRUE(created.ok()) << created.status();
    controller_ = *std::move(created);
    WebApiOptions options;
    options.tokens = {{"ops", kViewer, Role::kViewer}};
    api_ = std::make_unique<WebApi>(controller_.get(), options);
  }

  WebReply Get(const std::string& target, const std::string& authorization = "",
               const std::string& cookie = "") {
    return api_->Handle({"GET", target, authorization, cookie});
  }

  std::unique_ptr<controller::Controller> controller_;
  std::unique_ptr<WebApi> api_;
};

TEST_F(WebApiTest, ApiNeedsAViewerTokenAsHeaderOrCookie) {
  EXPECT_EQ(Get("/api/v1/topology").status, 401);
  EXPECT_EQ(Get("/api/v1/topology", "Bearer wrong-token-0123456789").status, 401);
  EXPECT_EQ(Get("/api/v1/topology", "Basic abc").status, 401);
  EXPECT_EQ(Get("/api/v1/links", "", "pulse_token=nope").status, 401);
  WebReply unauthorised = Get("/api/v1/jobs");
  EXPECT_NE(json::parse(unauthorised.body)["error"].get<std::string>().find("token"),
            std::string::npos);
  bool challenge = false;
  for (const auto& [name, value] : unauthorised.headers) challenge |= name == "WWW-Authenticate";
  EXPECT_TRUE(challenge);

  EXPECT_EQ(Get("/api/v1/topology", std::string("Bearer ") + kViewer).status, 200);
  EXPECT_EQ(Get("/api/v1/links", "", std::string("a=b; pulse_token=") + kViewer).status, 200);
}

TEST_F(WebApiTest, NoTokensMeansAuthOff) {
  WebApi open(controller_.get(), {});
  EXPECT_EQ(open.Handle({"GET", "/api/v1/switches", "", ""}).status, 200);
}

TEST_F(WebApiTest, ServesTheEmbeddedPageWithoutAToken) {
  WebReply page = Get("/");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("<svg id=\"fabric\""), std::string::npos);
  WebReply js = Get("/app.js?v=1");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
  EXPECT_NE(js.body.find("data-ready"), std::string::npos);
  EXPECT_EQ(Get("/style.css").status, 200);
  EXPECT_EQ(Get("/nothing.html").status, 404);
  // Read-only: anything but GET and HEAD is refused.
  EXPECT_EQ(api_->Handle({"POST", "/api/v1/jobs", std::string("Bearer ") + kViewer, ""}).status,
            405);
}

TEST_F(WebApiTest, RoutesAndParameters) {
  const std::string auth = std::string("Bearer ") + kViewer;
  controller::JobSpec spec;
  spec.id = "job one";
  spec.endpoints = {"server-0/gpu-0", "server-2/gpu-0"};
  spec.pattern = controller::CollectivePattern::kRing;
  ASSERT_TRUE(controller_->PlaceJob(spec).get().ok());

  json jobs = json::parse(Get("/api/v1/jobs", auth).body);
  ASSERT_EQ(jobs["jobs"].size(), 1u);
  WebReply job = Get("/api/v1/jobs/job%20one?max_flows=1", auth);
  ASSERT_EQ(job.status, 200) << job.body;
  EXPECT_EQ(json::parse(job.body)["id"], "job one");
  EXPECT_EQ(json::parse(job.body)["flows_listed"].size(), 1u);
  EXPECT_EQ(Get("/api/v1/jobs/missing", auth).status, 404);
  EXPECT_EQ(Get("/api/v1/jobs/job%20one?max_flows=-1", auth).status, 400);

  json events = json::parse(Get("/api/v1/events?after=0", auth).body);
  ASSERT_EQ(events["events"].size(), 1u);
  EXPECT_EQ(events["events"][0]["type"], "job-placed");
  EXPECT_EQ(json::parse(Get("/api/v1/events?after=1", auth).body)["events"].size(), 0u);
  EXPECT_EQ(json::parse(Get("/api/v1/events?last=1", auth).body)["events"].size(), 1u);
  EXPECT_EQ(Get("/api/v1/events?after=x", auth).status, 400);
  EXPECT_EQ(Get("/api/v1/events?max=0", auth).status, 400);
  EXPECT_EQ(Get("/api/v1/nothing", auth).status, 404);
  EXPECT_EQ(json::parse(Get("/api/v1/links?nics=1", auth).body)["links"].size(), 8u);
}

TEST(WebApiParsingTest, QueryCookieAndPercentDecoding) {
  EXPECT_EQ(QueryParam("a=1&b=x%2Fy&c", "b"), "x/y");
  EXPECT_EQ(QueryParam("a=1", "b"), "");
  EXPECT_EQ(QueryParam("c&a=", "a"), "");
  EXPECT_EQ(CookieValue("x=1;  pulse_token=abc%3D ; y=2", "pulse_token"), "abc=");
  EXPECT_EQ(PercentDecode("a+b%zz%4"), "a b%zz%4");
}

}  // namespace
}  // namespace pulse::northbound
