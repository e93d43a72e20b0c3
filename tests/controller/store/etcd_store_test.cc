// Integration: needs /usr/bin/etcd (Debian etcd-server). Each test starts its own etcd on free
// loopback ports and stops it; every wait is bounded.
#include "controller/store/etcd_store.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "controller/cluster/leader_election.h"
#include "gtest/gtest.h"
#include "tests/controller/etcd_test_cluster.h"

namespace pulse::controller {
namespace {

using testing::EtcdAvailable;
using testing::EtcdTestCluster;
using testing::WaitFor;

// Collects watch updates from the watch thread.
class WatchLog {
 public:
  StoreWatchCallback Callback() {
    return [this](const StoreWatchUpdate& u) {
      absl::MutexLock lock(&mu_);
      updates_.push_back(u);
    };
  }
  std::vector<StoreWatchUpdate> updates() {
    absl::MutexLock lock(&mu_);
    return updates_;
  }
  int64_t last_revision() {
    absl::MutexLock lock(&mu_);
    return updates_.empty() ? 0 : updates_.back().revision;
  }

 private:
  absl::Mutex mu_;
  std::vector<StoreWatchUpdate> updates_;
};

// Runs an election for one candidate and waits until it leads; returns its generation.
int64_t BecomeLeader(std::shared_ptr<EtcdClient> client, const std::string& cluster,
                     std::unique_ptr<LeaderElection>* election) {
  LeaderElectionOptions options;
  options.cluster = cluster;
  options.candidate_id = "replica-a";
  auto started = LeaderElection::Start(std::move(client), options, {});
  EXPECT_TRUE(started.ok()) << started.status();
  if (!started.ok()) return 0;
  *election = *std::move(started);
  LeaderElection* e = election->get();
  EXPECT_TRUE(WaitFor([&] { return e->is_leader(); }, absl::Seconds(10)));
  return e->generation();
}

TEST(EtcdStoreTest, RejectsBadClusterNameAndUnreachableEtcd) {
  EtcdClientOptions options;
  options.endpoints = {"127.0.0.1:1"};  // nothing listens on port 1
  options.rpc_timeout = absl::Milliseconds(300);
  auto client = EtcdClient::Connect(options);
  ASSERT_TRUE(client.ok());
  EXPECT_EQ(EtcdStore::Open(*client, {"bad/name"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EtcdStore::Open(*client, {"c1"}).status().code(), absl::StatusCode::kUnavailable);
  options.endpoints = {"localhost:2379", "127.0.0.1:2380"};
  EXPECT_EQ(EtcdClient::Connect(options).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(EtcdStoreTest, LeaderWritesFollowerLoadsAndWatches) {
  if (!EtcdAvailable()) GTEST_SKIP() << "no /usr/bin/etcd";
  auto cluster = EtcdTestCluster::Start(1);
  ASSERT_NE(cluster, nullptr);
  auto leader_client = cluster->NewClient();
  auto leader = EtcdStore::Open(leader_client, {"c1"});
  ASSERT_TRUE(leader.ok()) << leader.status();
  // Not leader yet: writes are refused.
  EXPECT_EQ((*leader)->Apply(WriteBatch().Put("jobs/1", "x")).status().code(),
            absl::StatusCode::kFailedPrecondition);

  std::unique_ptr<LeaderElection> election;
  int64_t generation = BecomeLeader(leader_client, "c1", &election);
  ASSERT_GT(generation, 0);
  (*leader)->SetLeaderFence(generation);
  auto rev1 = (*leader)->Apply(
      WriteBatch().Put("jobs/1", "one").Put("jobs/2", "two").Put("qos/policy", "p1"));
  ASSERT_TRUE(rev1.ok()) << rev1.status();
  EXPECT_GT(*rev1, generation);

  auto follower = EtcdStore::Open(cluster->NewClient(), {"c1"});
  ASSERT_TRUE(follower.ok());
  auto snap = (*follower)->LoadAll();
  ASSERT_TRUE(snap.ok()) << snap.status();
  EXPECT_EQ(snap->revision, *rev1);
  std::map<std::string, std::string> expected{
      {"jobs/1", "one"}, {"jobs/2", "two"}, {"qos/policy", "p1"}};
  EXPECT_EQ(snap->entries, expected);  // the leader key is not state

  // Follower keeps a hot copy of jobs/ from the snapshot on.
  WatchLog log;
  auto watch = (*follower)->Watch("jobs/", snap->revision, log.Callback());
  ASSERT_TRUE(watch.ok());
  std::map<std::string, std::string> hot;
  for (const auto& [k, v] : snap->entries) {
    if (k.rfind("jobs/", 0) == 0) hot[k] = v;
  }
  auto rev2 = (*leader)->Apply(WriteBatch().Delete("jobs/1").Put("qos/policy", "p2"));
  auto rev3 = (*leader)->Apply(WriteBatch().Put("qos/policy", "p3"));  // not under jobs/
  // Two writes to one key in a batch: the last one wins.
  auto rev4 = (*leader)->Apply(WriteBatch().Put("jobs/3", "a").Put("jobs/3", "three"));
  ASSERT_TRUE(rev2.ok() && rev3.ok() && rev4.ok());
  ASSERT_TRUE(WaitFor([&] { return log.last_revision() >= *rev4; }, absl::Seconds(5)));
  std::vector<StoreWatchUpdate> updates = log.updates();
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_EQ(updates[0].revision, *rev2);
  EXPECT_EQ(updates[1].revision, *rev4);
  for (const StoreWatchUpdate& u : updates) {
    EXPECT_TRUE(u.status.ok());
    for (const auto& c : u.changes) {
      if (c.kind == StoreWrite::Kind::kPut) {
        hot[c.key] = c.value;
      } else {
        hot.erase(c.key);
      }
    }
  }
  std::map<std::string, std::string> expected_jobs{{"jobs/2", "two"}, {"jobs/3", "three"}};
  EXPECT_EQ(hot, expected_jobs);
  auto final_snap = (*follower)->LoadAll();
  EXPECT_EQ(final_snap->entries.at("qos/policy"), "p3");
  EXPECT_EQ(final_snap->entries.count("jobs/1"), 0u);
  watch->reset();
  election.reset();
}

TEST(EtcdStoreTest, DeposedLeaderWriteIsRefused) {
  if (!EtcdAvailable()) GTEST_SKIP() << "no /usr/bin/etcd";
  auto cluster = EtcdTestCluster::Start(1);
  ASSERT_NE(cluster, nullptr);
  auto client_a = cluster->NewClient();
  auto store_a = EtcdStore::Open(client_a, {"c2"});
  ASSERT_TRUE(store_a.ok());
  std::unique_ptr<LeaderElection> election_a;
  int64_t generation_a = BecomeLeader(client_a, "c2", &election_a);
  ASSERT_GT(generation_a, 0);
  (*store_a)->SetLeaderFence(generation_a);
  ASSERT_TRUE((*store_a)->Apply(WriteBatch().Put("jobs/1", "from-a")).ok());

  // A second replica campaigns; A's lease is then lost (revoked from outside, as etcd would
  // expire it if A hung). A is not told: its fence still says generation_a.
  auto client_b = cluster->NewClient();
  auto store_b = EtcdStore::Open(client_b, {"c2"});
  LeaderElectionOptions options_b;
  options_b.cluster = "c2";
  options_b.candidate_id = "replica-b";
  auto election_b = LeaderElection::Start(client_b, options_b, {});
  ASSERT_TRUE(election_b.ok());
  ASSERT_TRUE(WaitFor([&] { return (*election_b)->leader().id == "replica-a"; }, absl::Seconds(5)));
  const int64_t lease_a = election_a->lease_id();
  ASSERT_NE(lease_a, 0);
  election_a->Abandon();  // A freezes (no keepalives, no resign)
  ASSERT_TRUE(cluster->NewClient()->LeaseRevoke(lease_a).ok());
  ASSERT_TRUE(WaitFor([&] { return (*election_b)->is_leader(); }, absl::Seconds(5)));
  int64_t generation_b = (*election_b)->generation();
  EXPECT_GT(generation_b, generation_a);
  (*store_b)->SetLeaderFence(generation_b);

  auto refused = (*store_a)->Apply(WriteBatch().Put("jobs/1", "stale-from-a"));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  ASSERT_TRUE((*store_b)->Apply(WriteBatch().Put("jobs/2", "from-b")).ok());
  auto snap = (*store_b)->LoadAll();
  EXPECT_EQ(snap->entries.at("jobs/1"), "from-a");
  EXPECT_EQ(snap->entries.at("jobs/2"), "from-b");
}

TEST(EtcdStoreTest, ThreeMemberClusterCarriesOnWhenTheRaftLeaderIsKilled) {
  if (!EtcdAvailable()) GTEST_SKIP() << "no /usr/bin/etcd";
  auto cluster = EtcdTestCluster::Start(3);
  ASSERT_NE(cluster, nullptr);
  auto leader_client = cluster->NewClient(absl::Seconds(5));
  auto leader = EtcdStore::Open(leader_client, {"c3"});
  ASSERT_TRUE(leader.ok());
  std::unique_ptr<LeaderElection> election;
  int64_t generation = BecomeLeader(leader_client, "c3", &election);
  ASSERT_GT(generation, 0);
  (*leader)->SetLeaderFence(generation);

  auto follower = EtcdStore::Open(cluster->NewClient(absl::Seconds(5)), {"c3"});
  ASSERT_TRUE(follower.ok());
  auto snap = (*follower)->LoadAll();
  ASSERT_TRUE(snap.ok());
  // Six watches on one client: round-robin spreads their streams over the members, so some are
  // on the member that gets killed and have to resume elsewhere.
  WatchLog logs[6];
  std::vector<std::unique_ptr<StoreWatch>> watches;
  for (WatchLog& log : logs) {
    auto watch = (*follower)->Watch("jobs/", snap->revision, log.Callback());
    ASSERT_TRUE(watch.ok());
    watches.push_back(*std::move(watch));
  }

  std::vector<int64_t> revisions;
  absl::Duration slowest_after_kill;
  for (int i = 0; i < 40; ++i) {
    if (i == 20) {
      int raft_leader = cluster->RaftLeader();
      ASSERT_GT(raft_leader, 0);
      ASSERT_TRUE(cluster->KillMember(raft_leader));
      std::printf("killed etcd member %d (the raft leader) after 20 batches\n", raft_leader);
    }
    absl::Time start = absl::Now();
    auto rev = (*leader)->Apply(WriteBatch().Put(absl::StrCat("jobs/", i), absl::StrCat("v", i)));
    ASSERT_TRUE(rev.ok()) << "batch " << i << ": " << rev.status();
    if (i >= 20) slowest_after_kill = std::max(slowest_after_kill, absl::Now() - start);
    revisions.push_back(*rev);
  }
  std::printf("slowest Apply after the kill: %s\n",
              absl::FormatDuration(slowest_after_kill).c_str());

  // Every watch saw every batch exactly once, in order, across the member loss.
  for (WatchLog& log : logs) {
    ASSERT_TRUE(
        WaitFor([&] { return log.last_revision() >= revisions.back(); }, absl::Seconds(10)));
    std::vector<int64_t> seen;
    for (const StoreWatchUpdate& u : log.updates()) {
      EXPECT_TRUE(u.status.ok()) << u.status;
      seen.push_back(u.revision);
    }
    EXPECT_EQ(seen, revisions);
  }
  std::printf("watch streams reopened after the kill: %lld\n",
              static_cast<long long>((*follower)->watch_restarts()));
  EXPECT_GE((*follower)->watch_restarts(), 1);
  auto after = (*follower)->LoadAll();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->entries.size(), 40u);
  EXPECT_TRUE(election->is_leader());
  watches.clear();
  election.reset();
}

}  // namespace
}  // namespace pulse::controller
