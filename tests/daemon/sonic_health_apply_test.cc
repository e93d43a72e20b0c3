// The lossless health supervisor acting through the Controller (issue 16): SONiC leaves (one real
// redis-server each) report a PFC storm in COUNTERS_DB; with dry-run off the root link is isolated
// once and the job's flows leave it (read back from the controller's snapshot), the cap on
// isolated links holds, and the link returns after the clean window; in dry-run the paths stay.
// Also: a QoS policy put in force reaches CONFIG_DB without waiting for a poll period (the runtime
// is a QoS observer of the controller).
#include <atomic>
#include <chrono>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "controller/controller.h"
#include "daemon/sonic_runtime.h"
#include "gtest/gtest.h"
#include "tests/southbound/sonic/redis_server.h"
#include "topology/intent.h"

namespace pulse::northbound {
namespace {

using southbound::sonic::RedisClient;
using std::chrono::milliseconds;

template <typename Pred>
bool WaitUntil(Pred pred, milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return pred();
}

// Two SONiC leaves, two spines (not SONiC: no counters), one NIC per leaf. SONiC port names are
// Ethernet0, 8, 16 for ports 1, 2, 3.
class SonicHealthApplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string yaml = absl::StrCat(R"(switches:
  - {name: leaf-0, role: leaf, driver: sonic, redis: "127.0.0.1:)",
                                          leaf0_.port(), R"("}
  - {name: leaf-1, role: leaf, driver: sonic, redis: "127.0.0.1:)",
                                          leaf1_.port(), R"("}
  - {name: spine-0, role: spine}
  - {name: spine-1, role: spine}
servers: [{name: s0}, {name: s1}]
links:
  - {a: "s0/nic-0", b: "leaf-0:1", speed: 400G}
  - {a: "s1/nic-0", b: "leaf-1:1", speed: 400G}
  - {a: "leaf-0:2", b: "spine-0:1", speed: 400G}
  - {a: "leaf-0:3", b: "spine-1:1", speed: 400G}
  - {a: "leaf-1:2", b: "spine-0:2", speed: 400G}
  - {a: "leaf-1:3", b: "spine-1:2", speed: 400G}
)");
    absl::StatusOr<topology::Intent> intent = topology::ParseIntent(yaml, "fabric.yaml");
    ASSERT_TRUE(intent.ok()) << intent.status();
    drivers_ = intent->switch_drivers;
    fabric_ = std::make_shared<const topology::Fabric>(intent->fabric);
    auto controller = controller::Controller::Create(fabric_);
    ASSERT_TRUE(controller.ok()) << controller.status();
    controller_ = *std::move(controller);
    controller::JobSpec job;
    job.id = "train";
    job.endpoints = {"s0/nic-0", "s1/nic-0"};
    job.rate_bps = 100e9;
    job.traffic_class = 3;
    auto placed = controller_->PlaceJob(job).get();
    ASSERT_TRUE(placed.ok()) << placed.status();
    ASSERT_TRUE(controller::RegisterPulseMetrics(registry_).ok());
  }
  void TearDown() override {
    stop_ = true;
    for (std::thread& t : storms_) t.join();
    runtime_.reset();  // before the controller it acts through
  }

  void StartRuntime(bool dry_run, int max_isolated_links, int64_t counters_interval_ms = 200) {
    SonicRuntimeOptions options;
    options.fabric = fabric_;
    options.drivers = drivers_;
    options.controller = controller_.get();
    options.plan_from_controller = true;
    options.metrics = &registry_;
    options.counters_interval_ms = counters_interval_ms;
    options.health.dry_run = dry_run;
    options.health.max_isolated_links = max_isolated_links;
    options.health.clean_window_ms = 1500;
    auto runtime = SonicRuntime::Start(options);
    ASSERT_TRUE(runtime.ok()) << runtime.status();
    runtime_ = *std::move(runtime);
  }

  topology::LinkId LinkAt(const std::string& sw, int32_t port) const {
    return *fabric_->LinkAtPort(*fabric_->FindNode(sw), port);
  }
  // The leaf-0 uplink (port 2 or 3) the job's flows cross.
  int32_t LoadedUplink() const {
    for (int32_t port : {2, 3}) {
      if (!FlowsOn(LinkAt("leaf-0", port)).empty()) return port;
    }
    return 0;
  }
  // "job#flow" of every flow whose path crosses `link`, from the controller's snapshot.
  std::vector<std::string> FlowsOn(topology::LinkId link) const {
    std::vector<std::string> out;
    const controller::SnapshotPtr snapshot = controller_->snapshot();  // alive while iterated
    for (const auto& [id, job] : snapshot->placement.jobs()) {
      for (size_t f = 0; f < job.flows.size(); ++f) {
        for (topology::DirectedLinkId d : job.flows[f].path.hops) {
          if (topology::Fabric::LinkOf(d) == link) {
            out.push_back(absl::StrCat(id, "#", f));
            break;
          }
        }
      }
    }
    return out;
  }
  std::vector<std::vector<topology::DirectedLinkId>> Paths() const {
    std::vector<std::vector<topology::DirectedLinkId>> out;
    const controller::SnapshotPtr snapshot = controller_->snapshot();  // alive while iterated
    for (const auto& [id, job] : snapshot->placement.jobs()) {
      for (const auto& f : job.flows) out.push_back(f.path.hops);
    }
    return out;
  }
  size_t CountEvents(controller::EventType type) {
    auto events = controller_->events().ReadFrom(1, 100000);
    size_t n = 0;
    if (!events.ok()) return 0;
    for (const controller::Event& e : *events) n += e.type == type;
    return n;
  }

  // A storm at `redis`'s switch port `sonic_port` (pauses received on priority 3 at about
  // 100,000 frames/s, its lossless queue sending nothing), until `stop` or the test ends.
  void Storm(testing::RedisServer& redis, const std::string& sonic_port, const std::string& oid,
             std::atomic<bool>* stop) {
    std::unique_ptr<RedisClient> counters = *redis.Client(southbound::sonic::kCountersDb);
    ASSERT_NE(counters->Command({"HSET", "COUNTERS_PORT_NAME_MAP", sonic_port, oid})->kind,
              southbound::sonic::RedisReply::Kind::kError);
    const std::string queue_oid = oid + "3";
    (void)counters->Command({"HSET", "COUNTERS_QUEUE_NAME_MAP", sonic_port + ":3", queue_oid});
    (void)counters->Command({"HSET", "COUNTERS:" + queue_oid, "SAI_QUEUE_STAT_PACKETS", "1000"});
    storms_.emplace_back(
        [this, counters = std::shared_ptr<RedisClient>(std::move(counters)), oid, stop] {
          uint64_t pauses = 0;
          while (!stop_ && !*stop) {
            pauses += 20000;
            (void)counters->Command(
                {"HSET", "COUNTERS:" + oid, "SAI_PORT_STAT_PFC_3_RX_PKTS", std::to_string(pauses)});
            std::this_thread::sleep_for(milliseconds(200));
          }
        });
  }

  testing::RedisServer leaf0_, leaf1_;
  std::map<std::string, topology::SwitchDriverIntent> drivers_;
  std::shared_ptr<const topology::Fabric> fabric_;
  std::unique_ptr<controller::Controller> controller_;
  controller::MetricsRegistry registry_;
  std::unique_ptr<SonicRuntime> runtime_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> storms_;
};

// The intent's default port-name stride is 8.
std::string SonicPort(int32_t port) { return absl::StrCat("Ethernet", 8 * (port - 1)); }

TEST_F(SonicHealthApplyTest, StormIsolatesTheRootLinkOnceThenReturnsIt) {
  StartRuntime(/*dry_run=*/false, /*max_isolated_links=*/2);
  const int32_t uplink = LoadedUplink();
  ASSERT_NE(uplink, 0);
  const topology::LinkId root = LinkAt("leaf-0", uplink);
  ASSERT_FALSE(FlowsOn(root).empty());

  std::atomic<bool> calm{false};
  Storm(leaf0_, SonicPort(uplink), "oid:0x10", &calm);
  ASSERT_TRUE(
      WaitUntil([&] { return controller_->snapshot()->link_isolated[root]; }, milliseconds(10000)));
  // The flows left the root link and the link is out of placement while physically up.
  EXPECT_TRUE(FlowsOn(root).empty());
  EXPECT_FALSE(controller_->snapshot()->LinkUsable(root));
  EXPECT_TRUE(controller_->snapshot()->link_up[root]);
  EXPECT_FALSE(FlowsOn(LinkAt("leaf-0", uplink == 2 ? 3 : 2)).empty());

  // The storm goes on for a while: still one incident, one action.
  std::this_thread::sleep_for(milliseconds(1000));
  pulse::v1::ListIncidentsResponse s = runtime_->Snapshot();
  ASSERT_EQ(s.incidents_size(), 1);
  EXPECT_EQ(s.incidents(0).kind(), "pfc_storm");
  EXPECT_EQ(s.incidents(0).root_switch(), "leaf-0");
  EXPECT_EQ(s.incidents(0).root_port(), uplink);
  EXPECT_EQ(s.incidents(0).action(), "isolate_link");
  EXPECT_TRUE(s.incidents(0).applied());
  EXPECT_EQ(s.incidents(0).outcome(), "applied");
  EXPECT_NE(s.incidents(0).outcome_detail().find("flows moved"), std::string::npos)
      << s.incidents(0).outcome_detail();
  EXPECT_FALSE(s.dry_run());
  EXPECT_EQ(CountEvents(controller::EventType::kLinkIsolated), 1u);
  EXPECT_GE(CountEvents(controller::EventType::kHealthIncident), 1u);
  double applied = 0;
  EXPECT_TRUE(
      registry_.GetValue(controller::kHealthActionsTotal, {"isolate_link", "applied"}, &applied)
          .ok())
      << registry_.RenderText();
  EXPECT_EQ(applied, 1);

  // Calm: after the clean window the link is back in service (flows stay where they are).
  const auto calm_at = std::chrono::steady_clock::now();
  calm = true;
  ASSERT_TRUE(WaitUntil([&] { return !controller_->snapshot()->link_isolated[root]; },
                        milliseconds(10000)));
  const auto returned_after =
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - calm_at);
  std::printf("link returned %lld ms after the storm stopped (clean window 1500 ms)\n",
              static_cast<long long>(returned_after.count()));
  EXPECT_GE(returned_after.count(), 1000);  // the window, less the last poll's lag
  EXPECT_TRUE(controller_->snapshot()->LinkUsable(root));
  EXPECT_EQ(CountEvents(controller::EventType::kLinkReturned), 1u);
  ASSERT_TRUE(WaitUntil([&] { return runtime_->Snapshot().incidents(0).outcome() == "returned"; },
                        milliseconds(2000)));
  EXPECT_NE(runtime_->Snapshot().incidents(0).closed_ms(), 0);
  EXPECT_EQ(CountEvents(controller::EventType::kLinkIsolated), 1u);  // never acted twice
}

TEST_F(SonicHealthApplyTest, TheCapOnIsolatedLinksHolds) {
  StartRuntime(/*dry_run=*/false, /*max_isolated_links=*/1);
  // Two storms at once, rooted on two different leaves' uplinks.
  std::atomic<bool> calm{false};
  Storm(leaf0_, SonicPort(2), "oid:0x10", &calm);
  Storm(leaf1_, SonicPort(3), "oid:0x20", &calm);
  ASSERT_TRUE(
      WaitUntil([&] { return runtime_->Snapshot().incidents_size() == 2; }, milliseconds(10000)));
  std::this_thread::sleep_for(milliseconds(600));
  const pulse::v1::ListIncidentsResponse s = runtime_->Snapshot();
  int applied = 0, capped = 0;
  for (const pulse::v1::HealthIncident& i : s.incidents()) {
    applied += i.outcome() == "applied";
    capped += i.cap_reached();
  }
  EXPECT_EQ(applied, 1);
  EXPECT_EQ(capped, 1);
  const controller::SnapshotPtr snap = controller_->snapshot();
  EXPECT_EQ(snap->link_isolated[LinkAt("leaf-0", 2)] + snap->link_isolated[LinkAt("leaf-1", 3)], 1);
  EXPECT_EQ(CountEvents(controller::EventType::kLinkIsolated), 1u);
  double capped_metric = 0;
  EXPECT_TRUE(
      registry_.GetValue(controller::kHealthActionsTotal, {"none", "cap_reached"}, &capped_metric)
          .ok())
      << registry_.RenderText();
  EXPECT_EQ(capped_metric, 1);
}

TEST_F(SonicHealthApplyTest, DryRunLeavesThePathsAlone) {
  StartRuntime(/*dry_run=*/true, /*max_isolated_links=*/2);
  const int32_t uplink = LoadedUplink();
  ASSERT_NE(uplink, 0);
  const auto before = Paths();
  std::atomic<bool> calm{false};
  Storm(leaf0_, SonicPort(uplink), "oid:0x10", &calm);
  ASSERT_TRUE(
      WaitUntil([&] { return runtime_->Snapshot().incidents_size() == 1; }, milliseconds(10000)));
  std::this_thread::sleep_for(milliseconds(600));
  const pulse::v1::ListIncidentsResponse s = runtime_->Snapshot();
  EXPECT_EQ(s.incidents(0).action(), "isolate_link");
  EXPECT_FALSE(s.incidents(0).applied());
  EXPECT_EQ(s.incidents(0).outcome(), "dry_run");
  EXPECT_EQ(Paths(), before);
  EXPECT_FALSE(controller_->snapshot()->link_isolated[LinkAt("leaf-0", uplink)]);
  EXPECT_EQ(CountEvents(controller::EventType::kLinkIsolated), 0u);
  EXPECT_GE(CountEvents(controller::EventType::kHealthIncident), 1u);  // shown all the same
}

// The runtime observes the controller's QoS state: a policy put in force reaches CONFIG_DB at
// once, with the counters/plan poll period set far beyond the test's wait.
TEST_F(SonicHealthApplyTest, QosPolicyReachesRedisWithoutWaitingForAPoll) {
  StartRuntime(/*dry_run=*/true, /*max_isolated_links=*/2, /*counters_interval_ms=*/60000);
  std::unique_ptr<RedisClient> config = *leaf0_.Client(southbound::sonic::kConfigDb);
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto r = config->Command({"HGET", "PORT_QOS_MAP|Ethernet0", "pfc_enable"});
        return r.ok() && r->str == "3,4";
      },
      milliseconds(5000)));
  const auto set_at = std::chrono::steady_clock::now();
  auto changed =
      controller_
          ->SetQosPolicy("lossless_priorities: [5]\ndscp_to_tc: {34: 5, 48: 6}\ntc_to_pg: {5: 5}\n",
                         false)
          .get();
  ASSERT_TRUE(changed.ok()) << changed.status();
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto r = config->Command({"HGET", "PORT_QOS_MAP|Ethernet0", "pfc_enable"});
        return r.ok() && r->str == "5";
      },
      milliseconds(5000)));
  const auto took =
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - set_at);
  std::printf("SetQosPolicy -> CONFIG_DB on leaf-0: %lld ms (poll period 60000 ms)\n",
              static_cast<long long>(took.count()));
  EXPECT_LT(took.count(), 5000);
}

}  // namespace
}  // namespace pulse::northbound
