// Integration: needs /usr/bin/etcd (Debian etcd-server). Three in-process candidates, each with
// its own etcd connection, as three controller replicas would have.
#include "controller/cluster/leader_election.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "tests/controller/etcd_test_cluster.h"

namespace pulse::controller {
namespace {

using testing::EtcdAvailable;
using testing::EtcdTestCluster;
using testing::WaitFor;

struct Candidate {
  std::string id;
  std::unique_ptr<LeaderElection> election;
  absl::Mutex mu;
  std::vector<int64_t> elected;  // generations from on_elected
  std::vector<int64_t> lost;     // generations from on_lost
  LeaderInfo last_seen;          // from on_leader_changed

  std::vector<int64_t> Elected() {
    absl::MutexLock lock(&mu);
    return elected;
  }
  std::vector<int64_t> Lost() {
    absl::MutexLock lock(&mu);
    return lost;
  }
  LeaderInfo LastSeen() {
    absl::MutexLock lock(&mu);
    return last_seen;
  }
};

std::unique_ptr<Candidate> StartCandidate(EtcdTestCluster& cluster, const std::string& cluster_name,
                                          const std::string& id,
                                          absl::Duration rpc_timeout = absl::Seconds(1)) {
  auto c = std::make_unique<Candidate>();
  c->id = id;
  LeaderElectionOptions options;
  options.cluster = cluster_name;
  options.candidate_id = id;
  options.lease_ttl_s = 2;
  LeaderElectionCallbacks callbacks;
  Candidate* raw = c.get();
  callbacks.on_elected = [raw](int64_t g) {
    absl::MutexLock lock(&raw->mu);
    raw->elected.push_back(g);
  };
  callbacks.on_lost = [raw](int64_t g, const absl::Status&) {
    absl::MutexLock lock(&raw->mu);
    raw->lost.push_back(g);
  };
  callbacks.on_leader_changed = [raw](const LeaderInfo& info) {
    absl::MutexLock lock(&raw->mu);
    raw->last_seen = info;
  };
  auto election = LeaderElection::Start(cluster.NewClient(rpc_timeout), options, callbacks);
  EXPECT_TRUE(election.ok()) << election.status();
  if (election.ok()) c->election = *std::move(election);
  return c;
}

// The only candidate (among those still running) that leads, or nullptr if not exactly one.
Candidate* SoleLeader(const std::vector<Candidate*>& candidates) {
  Candidate* leader = nullptr;
  for (Candidate* c : candidates) {
    if (!c->election->is_leader()) continue;
    if (leader != nullptr) return nullptr;
    leader = c;
  }
  return leader;
}

TEST(LeaderElectionTest, RejectsBadOptions) {
  EtcdClientOptions client_options;
  client_options.endpoints = {"127.0.0.1:1"};
  auto client = EtcdClient::Connect(client_options);
  ASSERT_TRUE(client.ok());
  LeaderElectionOptions options;
  options.cluster = "c";
  EXPECT_EQ(LeaderElection::Start(*client, options, {}).status().code(),
            absl::StatusCode::kInvalidArgument);  // no candidate id
  options.candidate_id = "a";
  options.lease_ttl_s = 0;
  EXPECT_EQ(LeaderElection::Start(*client, options, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LeaderElection::Start(nullptr, LeaderElectionOptions{}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(LeaderElectionTest, OneOfThreeLeadsAndFailoverIsFastWithGrowingGenerations) {
  if (!EtcdAvailable()) GTEST_SKIP() << "no /usr/bin/etcd";
  auto cluster = EtcdTestCluster::Start(1);
  ASSERT_NE(cluster, nullptr);
  std::vector<std::unique_ptr<Candidate>> owned;
  for (const char* id : {"replica-a", "replica-b", "replica-c"}) {
    owned.push_back(StartCandidate(*cluster, "e1", id));
    ASSERT_NE(owned.back()->election, nullptr);
  }
  std::vector<Candidate*> running = {owned[0].get(), owned[1].get(), owned[2].get()};

  // Exactly one wins, and everyone sees who.
  ASSERT_TRUE(WaitFor([&] { return SoleLeader(running) != nullptr; }, absl::Seconds(10)));
  Candidate* first = SoleLeader(running);
  int64_t g1 = first->election->generation();
  ASSERT_TRUE(WaitFor(
      [&] {
        for (Candidate* c : running) {
          if (c->LastSeen().id != first->id || c->LastSeen().generation != g1) return false;
        }
        return true;
      },
      absl::Seconds(3)));
  EXPECT_EQ(first->Elected(), std::vector<int64_t>{g1});
  absl::SleepFor(absl::Milliseconds(500));  // several more campaign rounds: still one leader
  EXPECT_EQ(SoleLeader(running), first);

  // 1. The leader resigns (clean shutdown): another takes over at once.
  absl::Time t0 = absl::Now();
  first->election->Stop();
  running.erase(std::find(running.begin(), running.end(), first));
  ASSERT_TRUE(WaitFor([&] { return SoleLeader(running) != nullptr; }, absl::Seconds(3)));
  absl::Duration resign_failover = absl::Now() - t0;
  Candidate* second = SoleLeader(running);
  int64_t g2 = second->election->generation();
  EXPECT_GT(g2, g1);

  // 2. The new leader dies without resigning (kill -9): its lease must expire first.
  t0 = absl::Now();
  second->election->Abandon();
  running.erase(std::find(running.begin(), running.end(), second));
  ASSERT_TRUE(WaitFor([&] { return SoleLeader(running) != nullptr; }, absl::Seconds(3)))
      << "no new leader within 3 s of the leader's death";
  absl::Duration crash_failover = absl::Now() - t0;
  Candidate* third = SoleLeader(running);
  int64_t g3 = third->election->generation();
  EXPECT_GT(g3, g2);

  // 3. The last leader's lease is revoked behind its back: it steps down (on_lost), then wins
  //    again with a new lease and a higher generation, being the only candidate left.
  int64_t lease = third->election->lease_id();
  ASSERT_NE(lease, 0);
  ASSERT_TRUE(cluster->NewClient()->LeaseRevoke(lease).ok());
  ASSERT_TRUE(WaitFor([&] { return !third->Lost().empty(); }, absl::Seconds(3)));
  EXPECT_EQ(third->Lost().front(), g3);
  ASSERT_TRUE(WaitFor([&] { return third->election->generation() > g3; }, absl::Seconds(3)));
  EXPECT_NE(third->election->lease_id(), lease);

  std::printf(
      "generations %lld -> %lld -> %lld -> %lld; failover after resign %s, after crash %s\n",
      static_cast<long long>(g1), static_cast<long long>(g2), static_cast<long long>(g3),
      static_cast<long long>(third->election->generation()),
      absl::FormatDuration(resign_failover).c_str(), absl::FormatDuration(crash_failover).c_str());
}

TEST(LeaderElectionTest, LeaderKeepsLeadingWhenAnEtcdMemberDies) {
  if (!EtcdAvailable()) GTEST_SKIP() << "no /usr/bin/etcd";
  auto cluster = EtcdTestCluster::Start(3);
  ASSERT_NE(cluster, nullptr);
  std::vector<std::unique_ptr<Candidate>> owned;
  for (const char* id : {"replica-a", "replica-b", "replica-c"}) {
    owned.push_back(StartCandidate(*cluster, "e2", id));
    ASSERT_NE(owned.back()->election, nullptr);
  }
  std::vector<Candidate*> running = {owned[0].get(), owned[1].get(), owned[2].get()};
  ASSERT_TRUE(WaitFor([&] { return SoleLeader(running) != nullptr; }, absl::Seconds(10)));
  Candidate* leader = SoleLeader(running);
  int64_t generation = leader->election->generation();

  int raft_leader = cluster->RaftLeader();
  ASSERT_GT(raft_leader, 0);
  ASSERT_TRUE(cluster->KillMember(raft_leader));
  // Over several lease TTLs the leadership must not flap: same leader, same generation.
  absl::Time until = absl::Now() + absl::Seconds(5);
  while (absl::Now() < until) {
    EXPECT_EQ(SoleLeader(running), leader);
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(leader->election->generation(), generation);
  EXPECT_TRUE(leader->Lost().empty());

  // And failover still works on the two members left.
  leader->election->Stop();
  running.erase(std::find(running.begin(), running.end(), leader));
  ASSERT_TRUE(WaitFor([&] { return SoleLeader(running) != nullptr; }, absl::Seconds(3)));
  EXPECT_GT(SoleLeader(running)->election->generation(), generation);
}

// Leadership ends when the lease may have expired, even while the election thread is stuck in
// a slow etcd call (here 6 s per call, three lease TTLs) and has not stepped down yet.
TEST(LeaderElectionTest, LeaseValidityEndsWithTheLeaseWhileEtcdHangs) {
  if (!EtcdAvailable()) GTEST_SKIP() << "no /usr/bin/etcd";
  auto cluster = EtcdTestCluster::Start(1);
  ASSERT_NE(cluster, nullptr);
  auto leader = StartCandidate(*cluster, "e3", "replica-a", absl::Seconds(6));
  ASSERT_NE(leader->election, nullptr);
  ASSERT_TRUE(WaitFor([&] { return leader->election->HoldsValidLease(); }, absl::Seconds(10)));
  ASSERT_TRUE(cluster->PauseMember(1));
  const absl::Time paused = absl::Now();
  const bool ended =
      WaitFor([&] { return !leader->election->HoldsValidLease(); }, absl::Seconds(4));
  const absl::Duration after = absl::Now() - paused;
  ASSERT_TRUE(cluster->ResumeMember(1));
  ASSERT_TRUE(ended) << "still holding a lease 4 s into an etcd hang";
  std::printf("etcd hung: lease validity ended %s after the pause (TTL 2 s)\n",
              absl::FormatDuration(after).c_str());
  leader->election->Stop();
}

}  // namespace
}  // namespace pulse::controller
