// Faithful restore: a restarted Controller reinstalls exactly the acknowledged paths (issue 7).
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "controller/controller.h"
#include "controller/store/embedded_store.h"
#include "controller/store/placement_record.h"
#include "gtest/gtest.h"
#include "pulse/v1/pulse.pb.h"
#include "tests/northbound/test_fabric.h"

namespace pulse::controller {
namespace {

JobSpec Ring(const std::string& id, std::vector<std::string> endpoints, double rate = 10e9) {
  JobSpec spec;
  spec.id = id;
  spec.endpoints = std::move(endpoints);
  spec.rate_bps = rate;
  return spec;
}

// Every flow's (path, udp port) by job id.
using FlowPaths = std::map<std::string, std::vector<std::pair<std::vector<int32_t>, uint16_t>>>;
FlowPaths PathsOf(const Placement& placement) {
  FlowPaths out;
  for (const auto& [id, job] : placement.jobs()) {
    for (const PlacedFlow& f : job.flows) out[id].push_back({f.path.hops, f.udp_src_port});
  }
  return out;
}

class RestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("pulse-restore-test-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    options_.state_dir = dir_;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_;
  EmbeddedStoreOptions options_;
  std::shared_ptr<const topology::Fabric> fabric_ = testing::SmallLeafSpine(2, 4, 4);
};

const std::vector<std::vector<std::string>> kJobs = {
    {"server-0/gpu-0", "server-4/gpu-0", "server-1/gpu-0", "server-5/gpu-0"},
    {"server-2/gpu-0", "server-6/gpu-0"},
    {"server-3/gpu-0", "server-7/gpu-0", "server-2/gpu-0"},
};

TEST_F(RestoreTest, RestartInstallsTheAcknowledgedPathsAndSequencesGoOn) {
  FlowPaths acknowledged;
  uint64_t last_sequence = 0;
  {
    auto store = EmbeddedStore::Open(options_);
    ASSERT_TRUE(store.ok()) << store.status();
    ControllerOptions options;
    options.store = store->get();
    auto controller = Controller::Create(fabric_, options);
    ASSERT_TRUE(controller.ok()) << controller.status();
    Controller& c = **controller;
    for (size_t i = 0; i < kJobs.size(); ++i) {
      auto placed = c.PlaceJob(Ring("job-" + std::to_string(i), kJobs[i], 30e9)).get();
      ASSERT_TRUE(placed.ok()) << placed.status();
    }
    // Fail and restore an uplink of job-0: its flows move away and stay away (placement keeps
    // flows stable when a link returns), so a fresh placement would not find these paths.
    topology::LinkId uplink =
        topology::Fabric::LinkOf(c.snapshot()->placement.FindJob("job-0")->flows[0].path.hops[1]);
    c.OnLinkStatus(uplink, false);
    c.OnLinkStatus(uplink, true);
    c.Sync().wait();
    acknowledged = PathsOf(c.snapshot()->placement);
    last_sequence = c.events().last_sequence();
  }
  // The test has teeth: placing the same specs afresh gives other paths.
  {
    Placement fresh(fabric_);
    for (size_t i = 0; i < kJobs.size(); ++i) {
      ASSERT_TRUE(fresh.PlaceJob(Ring("job-" + std::to_string(i), kJobs[i], 30e9)).ok());
    }
    EXPECT_NE(PathsOf(fresh), acknowledged);
  }
  auto store = EmbeddedStore::Open(options_);
  ASSERT_TRUE(store.ok()) << store.status();
  ControllerOptions options;
  options.store = store->get();
  auto controller = Controller::Create(fabric_, options);
  ASSERT_TRUE(controller.ok()) << controller.status();
  EXPECT_EQ(PathsOf((*controller)->snapshot()->placement), acknowledged);
  auto placed = (*controller)->PlaceJob(Ring("after", {"server-1/gpu-0", "server-6/gpu-0"})).get();
  ASSERT_TRUE(placed.ok()) << placed.status();
  EXPECT_GT(placed->event_sequence, last_sequence);
}

TEST_F(RestoreTest, InvalidStoredPathIsPlacedAfresh) {
  {
    auto store = EmbeddedStore::Open(options_);
    ASSERT_TRUE(store.ok());
    ControllerOptions options;
    options.store = store->get();
    auto controller = Controller::Create(fabric_, options);
    ASSERT_TRUE(controller.ok());
    ASSERT_TRUE((*controller)->PlaceJob(Ring("a", kJobs[1])).get().ok());
    ASSERT_TRUE((*controller)->PlaceJob(Ring("b", kJobs[0])).get().ok());
    // Make a's stored path go down and up again through the destination leaf: not up-down.
    JobPlacement bad = *(*controller)->snapshot()->placement.FindJob("a");
    auto& hops = bad.flows[0].path.hops;
    ASSERT_EQ(hops.size(), 4u);
    std::vector<int32_t> bounced = {hops[0], hops[1], hops[2]};
    bounced.push_back(hops[2] ^ 1);  // back up to the spine
    bounced.push_back(hops[2]);      // and down again: a loop
    hops = bounced;
    ASSERT_TRUE((*store)
                    ->Apply(WriteBatch().Put("placements/a", EncodePlacementRecord(*fabric_, bad)))
                    .ok());
    ASSERT_TRUE((*store)->Apply(WriteBatch().Put("placements/b", "not a record")).ok());
  }
  auto store = EmbeddedStore::Open(options_);
  ASSERT_TRUE(store.ok());
  ControllerOptions options;
  options.store = store->get();
  auto controller = Controller::Create(fabric_, options);
  ASSERT_TRUE(controller.ok()) << controller.status();
  SnapshotPtr s = (*controller)->snapshot();
  ASSERT_EQ(s->placement.jobs().size(), 2u);
  for (const auto& [id, job] : s->placement.jobs()) {
    for (const PlacedFlow& f : job.flows) {
      EXPECT_TRUE(IsValleyFree(*fabric_, f.path, f.src, f.dst)) << id;
    }
  }
  // The fresh placement was written back: it decodes and matches.
  auto stored = (*store)->LoadAll();
  ASSERT_TRUE(stored.ok());
  auto record = DecodePlacementRecord(*fabric_, stored->entries.at("placements/b"));
  ASSERT_TRUE(record.ok()) << record.status();
  ASSERT_EQ(record->flows.size(), s->placement.FindJob("b")->flows.size());
  for (size_t i = 0; i < record->flows.size(); ++i) {
    EXPECT_EQ(record->flows[i].path, s->placement.FindJob("b")->flows[i].path);
  }
}

// Cluster mode without etcd: two Controllers on one store, the follower gated shut and fed by a
// watch, as controller/cluster/replica.h wires them.
TEST_F(RestoreTest, FollowerKeepsAHotCopyAndTakesOverByReload) {
  auto store = EmbeddedStore::Open(options_);
  ASSERT_TRUE(store.ok()) << store.status();
  ControllerOptions leader_options;
  leader_options.store = store->get();
  auto leader = Controller::Create(fabric_, leader_options);
  ASSERT_TRUE(leader.ok());
  ASSERT_TRUE((*leader)->PlaceJob(Ring("before", kJobs[0], 20e9)).get().ok());

  std::atomic<bool> follower_leads{false};
  ControllerOptions follower_options;
  follower_options.store = store->get();
  follower_options.write_gate = [&follower_leads]() -> absl::Status {
    if (follower_leads) return absl::OkStatus();
    return absl::UnavailableError("follower; the leader is 127.0.0.1:1");
  };
  auto follower = Controller::Create(fabric_, follower_options);
  ASSERT_TRUE(follower.ok());
  Controller* f = follower->get();
  auto watch =
      (*store)->Watch("", f->restored_store_revision(),
                      [f](const StoreWatchUpdate& update) { f->ApplyStoreUpdate(update); });
  ASSERT_TRUE(watch.ok());
  EXPECT_EQ(PathsOf(f->snapshot()->placement), PathsOf((*leader)->snapshot()->placement));

  // Writes at the follower are refused with the gate's status and change nothing.
  auto refused = f->PlaceJob(Ring("at-follower", kJobs[1])).get();
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("the leader is 127.0.0.1:1"), std::string::npos);
  EXPECT_EQ(f->snapshot()->placement.FindJob("at-follower"), nullptr);

  // Places, deletes, drains and moves at the leader reach the follower's state.
  Controller& l = **leader;
  ASSERT_TRUE(l.PlaceJob(Ring("a", kJobs[1], 30e9)).get().ok());
  ASSERT_TRUE(l.PlaceJob(Ring("b", kJobs[2], 30e9)).get().ok());
  ASSERT_TRUE(l.DeleteJob("before").get().ok());
  ASSERT_TRUE(l.DrainSwitch("spine-0").get().ok());
  topology::LinkId uplink =
      topology::Fabric::LinkOf(l.snapshot()->placement.FindJob("a")->flows[0].path.hops[1]);
  l.OnLinkStatus(uplink, false);
  l.Sync().wait();
  f->Sync().wait();
  SnapshotPtr ls = l.snapshot(), fs = f->snapshot();
  EXPECT_EQ(PathsOf(fs->placement), PathsOf(ls->placement));
  EXPECT_EQ(fs->placement.FindJob("before"), nullptr);
  EXPECT_TRUE(fs->switch_drained[*fabric_->FindNode("spine-0")]);
  for (int d = 0; d < fabric_->num_directed_links(); ++d) {
    EXPECT_DOUBLE_EQ(fs->placement.LoadBps(d), ls->placement.LoadBps(d)) << d;
  }

  // Take-over: the old leader is gone; reload, then open the gate, before any later request.
  watch->reset();
  leader->reset();
  auto reloaded = f->Reload([&follower_leads] { follower_leads = true; });
  auto placed = f->PlaceJob(Ring("after", kJobs[1], 10e9)).get();
  ASSERT_TRUE(reloaded.get().ok());
  ASSERT_TRUE(placed.ok()) << placed.status();
  // Reload reinstalls the stored paths (the drain is stored; the link state is not, so the moved
  // flows keep their stored paths).
  FlowPaths expected = PathsOf(ls->placement);
  FlowPaths now = PathsOf(f->snapshot()->placement);
  now.erase("after");
  EXPECT_EQ(now, expected);
}

// A store whose reads can be made to fail, as etcd does while unreachable (issue 12).
class FlakyReadStore : public StateStore {
 public:
  explicit FlakyReadStore(StateStore* real) : real_(real) {}
  absl::StatusOr<int64_t> Apply(const WriteBatch& batch) override { return real_->Apply(batch); }
  absl::StatusOr<StoreSnapshot> LoadAll() override {
    if (fail_reads) return absl::UnavailableError("etcd: context deadline exceeded");
    return real_->LoadAll();
  }
  absl::StatusOr<std::unique_ptr<StoreWatch>> Watch(absl::string_view prefix,
                                                    int64_t after_revision,
                                                    StoreWatchCallback callback) override {
    return real_->Watch(prefix, after_revision, std::move(callback));
  }
  std::string Describe() const override { return "flaky " + real_->Describe(); }
  std::atomic<bool> fail_reads{false};

 private:
  StateStore* real_;
};

// A failed re-read keeps the last good state whole (never empty or partial) and does not run
// `then` (so a new leader never opens its write gate on a state it could not read).
TEST_F(RestoreTest, FailedReloadKeepsTheLastGoodStateAndDoesNotOpenTheGate) {
  auto store = EmbeddedStore::Open(options_);
  ASSERT_TRUE(store.ok()) << store.status();
  FlakyReadStore flaky(store->get());
  ControllerOptions options;
  options.store = &flaky;
  auto controller = Controller::Create(fabric_, options);
  ASSERT_TRUE(controller.ok());
  Controller& c = **controller;
  for (size_t i = 0; i < kJobs.size(); ++i) {
    ASSERT_TRUE(c.PlaceJob(Ring("job-" + std::to_string(i), kJobs[i], 10e9)).get().ok());
  }
  const FlowPaths before = PathsOf(c.snapshot()->placement);
  const uint64_t sequence_before = c.snapshot()->event_sequence;

  flaky.fail_reads = true;
  bool gate_opened = false;
  absl::Status failed = c.Reload([&gate_opened] { gate_opened = true; }).get();
  EXPECT_EQ(failed.code(), absl::StatusCode::kUnavailable) << failed;
  EXPECT_FALSE(gate_opened);
  EXPECT_EQ(PathsOf(c.snapshot()->placement), before);
  // Still serving from it: a delete of an existing job is found, not NOT_FOUND.
  EXPECT_TRUE(c.DeleteJob("job-0").get().ok());

  flaky.fail_reads = false;
  ASSERT_TRUE(c.Reload([&gate_opened] { gate_opened = true; }).get().ok());
  EXPECT_TRUE(gate_opened);
  FlowPaths expected = before;
  expected.erase("job-0");
  EXPECT_EQ(PathsOf(c.snapshot()->placement), expected);
  EXPECT_GT(c.snapshot()->event_sequence, sequence_before);
}

// What controllers before the private storage format wrote (frozen here, built with the public
// pulse.v1 messages as they did): "jobs/<id>" a pulse.v1.JobSpec, "placements/<id>" a pulse.v1.Job
// whose hops are "<tail node>:<tail port>".
void LegacySpec(const JobSpec& spec, pulse::v1::JobSpec* out) {
  out->set_id(spec.id);
  for (const std::string& e : spec.endpoints) out->add_endpoints(e);
  out->set_pattern(pulse::v1::COLLECTIVE_PATTERN_RING);
  out->set_rate_bps(spec.rate_bps);
  out->set_traffic_class(spec.traffic_class);
  out->set_strict(spec.strict);
  out->set_max_subflows(spec.max_subflows);
  out->set_enforcement(spec.enforcement == Enforcement::kSteer ? pulse::v1::ENFORCEMENT_STEER
                       : spec.enforcement == Enforcement::kPin
                           ? pulse::v1::ENFORCEMENT_PIN
                           : pulse::v1::ENFORCEMENT_UNSPECIFIED);
}
std::string LegacyJobBytes(const JobSpec& spec) {
  pulse::v1::JobSpec proto;
  LegacySpec(spec, &proto);
  return proto.SerializeAsString();
}
std::string LegacyPlacementBytes(const topology::Fabric& fabric, const JobPlacement& job) {
  pulse::v1::Job proto;
  LegacySpec(job.spec, proto.mutable_spec());
  proto.set_lower_bound(job.lower_bound);
  for (const PlacedFlow& f : job.flows) {
    pulse::v1::Flow* flow = proto.add_flows();
    flow->set_src(fabric.node(f.src).name);
    flow->set_dst(fabric.node(f.dst).name);
    flow->set_rate_bps(f.rate_bps);
    flow->set_subflow(f.subflow);
    flow->set_phase(f.phase);
    flow->set_udp_src_port(f.udp_src_port);
    for (topology::DirectedLinkId d : f.path.hops) {
      flow->add_links(absl::StrCat(fabric.node(fabric.Tail(d)).name, ":", fabric.TailPort(d)));
    }
  }
  return proto.SerializeAsString();
}

// Job and placement records by key.
std::map<std::string, std::string> JobRecords(StateStore& store) {
  std::map<std::string, std::string> out;
  auto stored = store.LoadAll();
  EXPECT_TRUE(stored.ok()) << stored.status();
  if (!stored.ok()) return out;
  for (const auto& [key, value] : stored->entries) {
    if (absl::StartsWith(key, "jobs/") || absl::StartsWith(key, "placements/")) out[key] = value;
  }
  return out;
}

// A store written by an older controller (pulse.v1 values) restores exactly, is rewritten in the
// private format on load, and restores exactly again from the rewritten records.
TEST_F(RestoreTest, OldFormatStoreRestoresIsRewrittenAndRestoresAgain) {
  ControllerOptions options;
  HashModels models;
  models.default_model.seed = 7;
  options.hash_models = models;  // steered jobs get UDP source ports: those must survive too
  FlowPaths acknowledged;
  {
    auto store = EmbeddedStore::Open(options_);
    ASSERT_TRUE(store.ok()) << store.status();
    options.store = store->get();
    auto controller = Controller::Create(fabric_, options);
    ASSERT_TRUE(controller.ok()) << controller.status();
    Controller& c = **controller;
    for (size_t i = 0; i < kJobs.size(); ++i) {
      JobSpec spec = Ring("job-" + std::to_string(i), kJobs[i], 30e9);
      if (i == 1) spec.enforcement = Enforcement::kSteer;
      if (i == 2) spec.traffic_class = 0;  // explicitly class 0: the old format's has-bit matters
      ASSERT_TRUE(c.PlaceJob(spec).get().ok());
    }
    topology::LinkId uplink =
        topology::Fabric::LinkOf(c.snapshot()->placement.FindJob("job-0")->flows[0].path.hops[1]);
    c.OnLinkStatus(uplink, false);
    c.OnLinkStatus(uplink, true);
    c.Sync().wait();
    SnapshotPtr s = c.snapshot();
    acknowledged = PathsOf(s->placement);
    bool some_port = false;
    for (const PlacedFlow& f : s->placement.FindJob("job-1")->flows) {
      some_port = some_port || f.udp_src_port != 0;
    }
    ASSERT_TRUE(some_port);
    // Overwrite every record with what an older controller wrote for the same state.
    WriteBatch legacy;
    for (const auto& [id, job] : s->placement.jobs()) {
      legacy.Put(absl::StrCat("jobs/", id), LegacyJobBytes(job.spec));
      legacy.Put(absl::StrCat("placements/", id), LegacyPlacementBytes(*fabric_, job));
    }
    ASSERT_TRUE((*store)->Apply(legacy).ok());
    for (const auto& [key, value] : JobRecords(**store)) {
      EXPECT_FALSE(IsCurrentRecordFormat(value)) << key;
    }
  }
  std::map<std::string, std::string> rewritten;
  {
    auto store = EmbeddedStore::Open(options_);
    ASSERT_TRUE(store.ok()) << store.status();
    options.store = store->get();
    auto controller = Controller::Create(fabric_, options);
    ASSERT_TRUE(controller.ok()) << controller.status();
    SnapshotPtr s = (*controller)->snapshot();
    EXPECT_EQ(PathsOf(s->placement), acknowledged);
    EXPECT_EQ(s->placement.FindJob("job-2")->spec.traffic_class, 0);
    EXPECT_EQ(s->placement.FindJob("job-1")->spec.enforcement, Enforcement::kSteer);
    rewritten = JobRecords(**store);
    EXPECT_EQ(rewritten.size(), 2 * kJobs.size());
    for (const auto& [key, value] : rewritten) EXPECT_TRUE(IsCurrentRecordFormat(value)) << key;
  }
  auto store = EmbeddedStore::Open(options_);
  ASSERT_TRUE(store.ok()) << store.status();
  options.store = store->get();
  auto controller = Controller::Create(fabric_, options);
  ASSERT_TRUE(controller.ok()) << controller.status();
  EXPECT_EQ(PathsOf((*controller)->snapshot()->placement), acknowledged);
  EXPECT_EQ((*controller)->snapshot()->placement.FindJob("job-2")->spec.traffic_class, 0);
  EXPECT_EQ(JobRecords(**store), rewritten);  // nothing left to migrate: no second rewrite
}

// A follower reads the old records as they are (its gate is shut, so it cannot rewrite them);
// the leader's rewrite then reaches it through the watch as no change: same paths, no events.
TEST_F(RestoreTest, FollowerSeesTheLeadersRewriteAsNoChange) {
  auto store = EmbeddedStore::Open(options_);
  ASSERT_TRUE(store.ok()) << store.status();
  {
    ControllerOptions options;
    options.store = store->get();
    auto first = Controller::Create(fabric_, options);
    ASSERT_TRUE(first.ok());
    for (size_t i = 0; i < kJobs.size(); ++i) {
      ASSERT_TRUE((*first)->PlaceJob(Ring("job-" + std::to_string(i), kJobs[i], 20e9)).get().ok());
    }
    WriteBatch legacy;
    const SnapshotPtr snapshot = (*first)->snapshot();  // alive while iterated
    for (const auto& [id, job] : snapshot->placement.jobs()) {
      legacy.Put(absl::StrCat("jobs/", id), LegacyJobBytes(job.spec));
      legacy.Put(absl::StrCat("placements/", id), LegacyPlacementBytes(*fabric_, job));
    }
    ASSERT_TRUE((*store)->Apply(legacy).ok());
  }
  ControllerOptions follower_options;
  follower_options.store = store->get();
  follower_options.write_gate = [] { return absl::UnavailableError("follower"); };
  auto follower = Controller::Create(fabric_, follower_options);
  ASSERT_TRUE(follower.ok()) << follower.status();
  Controller* f = follower->get();
  for (const auto& [key, value] : JobRecords(**store)) {
    EXPECT_FALSE(IsCurrentRecordFormat(value)) << key;  // not rewritten by a follower
  }
  std::atomic<int> updates{0};
  auto watch = (*store)->Watch("", f->restored_store_revision(),
                               [f, &updates](const StoreWatchUpdate& update) {
                                 f->ApplyStoreUpdate(update);
                                 ++updates;
                               });
  ASSERT_TRUE(watch.ok());
  const FlowPaths before = PathsOf(f->snapshot()->placement);
  const uint64_t events_before = f->events().last_sequence();

  ControllerOptions leader_options;
  leader_options.store = store->get();
  auto leader = Controller::Create(fabric_, leader_options);
  ASSERT_TRUE(leader.ok());
  for (const auto& [key, value] : JobRecords(**store)) {
    EXPECT_TRUE(IsCurrentRecordFormat(value)) << key;
  }
  // The watch's update comes on the store's thread; a loaded CI machine has delayed it past 2 s.
  for (int i = 0; i < 1000 && updates == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GT(updates, 0) << "no store watch update within 10 s";
  f->Sync().wait();
  EXPECT_EQ(PathsOf(f->snapshot()->placement), before);
  EXPECT_EQ(f->events().last_sequence(), events_before);
}

// A damaged job record stops the restore with DataLoss naming its key (never a crash or a
// silently lost job); a damaged placement record only costs the stored paths (placed afresh).
TEST_F(RestoreTest, CorruptJobRecordIsDataLossNamingTheKey) {
  {
    auto store = EmbeddedStore::Open(options_);
    ASSERT_TRUE(store.ok());
    ControllerOptions options;
    options.store = store->get();
    auto controller = Controller::Create(fabric_, options);
    ASSERT_TRUE(controller.ok());
    ASSERT_TRUE((*controller)->PlaceJob(Ring("a", kJobs[1])).get().ok());
    std::string damaged = EncodeJobRecord(Ring("a", kJobs[1]));
    damaged.resize(damaged.size() - 3);
    ASSERT_TRUE((*store)->Apply(WriteBatch().Put("jobs/a", damaged)).ok());
  }
  auto store = EmbeddedStore::Open(options_);
  ASSERT_TRUE(store.ok());
  ControllerOptions options;
  options.store = store->get();
  auto controller = Controller::Create(fabric_, options);
  ASSERT_FALSE(controller.ok());
  EXPECT_EQ(controller.status().code(), absl::StatusCode::kDataLoss) << controller.status();
  EXPECT_NE(controller.status().message().find("jobs/a"), std::string::npos) << controller.status();
}

TEST(PlacementRestoreJobTest, RefusesDownLinksAndCyclesAndChangesNothing) {
  auto fabric = testing::SmallLeafSpine(2, 2, 2);
  Placement source(fabric);
  auto placed = source.PlaceJob(Ring("a", {"server-0/gpu-0", "server-2/gpu-0"}));
  ASSERT_TRUE(placed.ok());
  JobPlacement job = **placed;

  Placement target(fabric);
  topology::LinkId uplink = topology::Fabric::LinkOf(job.flows[0].path.hops[1]);
  ASSERT_TRUE(target.SetLinkUp(uplink, false).ok());
  auto refused = target.RestoreJob(job);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_TRUE(target.jobs().empty());
  EXPECT_EQ(target.MaxUtilisation(), 0);
  ASSERT_TRUE(target.SetLinkUp(uplink, true).ok());

  auto restored = target.RestoreJob(job);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(PathsOf(target), PathsOf(source));
  for (int d = 0; d < fabric->num_directed_links(); ++d) {
    EXPECT_EQ(target.LoadBps(d), source.LoadBps(d));
  }
  EXPECT_EQ(target.RestoreJob(job).status().code(), absl::StatusCode::kAlreadyExists);
  // Wrong endpoints for the path.
  JobPlacement swapped = job;
  swapped.spec.id = "b";
  std::swap(swapped.flows[0].src, swapped.flows[0].dst);
  EXPECT_EQ(target.RestoreJob(swapped).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(target.jobs().size(), 1u);
}

}  // namespace
}  // namespace pulse::controller
