// Cluster mode for QoS (daemon/qos_runtime.h): two replicas' QoS runtimes on one real etcd
// (tests/tools/etcd_cluster.sh). A policy the leader sets is put in force on the follower by its
// watch of "qos/policy"; the follower cannot set one itself; a replica started later reads the
// stored policy, not its file. Label integration (starts etcd).
#include "daemon/qos_runtime.h"

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "controller/etcd_store.h"
#include "controller/leader_election.h"
#include "gtest/gtest.h"
#include "tests/controller/etcd_test_cluster.h"
#include "tests/northbound/test_fabric.h"

namespace pulse::northbound {
namespace {

using controller::EtcdStore;
using controller::testing::EtcdAvailable;
using controller::testing::EtcdTestCluster;

template <typename Predicate>
bool WaitFor(Predicate predicate, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return predicate();
}

int CnpDscp(const QosRuntime& runtime) { return runtime.service->plan()->policy.cnp_dscp; }

TEST(QosRuntimeClusterTest, LeaderPolicyIsInForceOnFollowersAndLaterReplicas) {
  if (!EtcdAvailable()) GTEST_SKIP() << "no /usr/bin/etcd";
  auto cluster = EtcdTestCluster::Start(1);
  ASSERT_NE(cluster, nullptr);
  auto fabric = pulse::testing::SmallLeafSpine(2, 2, 2);

  auto leader_client = cluster->NewClient();
  auto leader_store = EtcdStore::Open(leader_client, {"qos-ha"});
  ASSERT_TRUE(leader_store.ok()) << leader_store.status();
  controller::LeaderElectionOptions election_options;
  election_options.cluster = "qos-ha";
  election_options.candidate_id = "replica-a";
  auto election = controller::LeaderElection::Start(leader_client, election_options, {});
  ASSERT_TRUE(election.ok()) << election.status();
  ASSERT_TRUE(WaitFor([&] { return (*election)->is_leader(); }, std::chrono::seconds(10)));
  (*leader_store)->SetLeaderFence((*election)->generation());
  auto follower_store = EtcdStore::Open(cluster->NewClient(), {"qos-ha"});
  ASSERT_TRUE(follower_store.ok()) << follower_store.status();

  QosRuntimeOptions leader_options;
  leader_options.store = leader_store->get();
  auto leader = StartQos(fabric.get(), leader_options);
  ASSERT_TRUE(leader.ok()) << leader.status();
  QosRuntimeOptions follower_options;
  follower_options.store = follower_store->get();
  auto follower = StartQos(fabric.get(), follower_options);
  ASSERT_TRUE(follower.ok()) << follower.status();
  const int default_cnp = CnpDscp(**follower);
  ASSERT_NE(default_cnp, 46);

  // The leader sets a policy: persisted, and in force on the follower through its watch.
  const std::string yaml = "dscp_to_tc: {26: 3, 46: 6}\ncnp: {dscp: 46, priority: 6}\n";
  // The follower cannot write a valid policy: the store refuses it, its old policy stays.
  auto refused = (*follower)->service->SetPolicyYaml(yaml, false);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_EQ(CnpDscp(**follower), default_cnp);

  auto set = (*leader)->service->SetPolicyYaml(yaml, false);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_TRUE(set->persisted());
  EXPECT_EQ(CnpDscp(**leader), 46);
  EXPECT_TRUE(WaitFor([&] { return CnpDscp(**follower) == 46; }, std::chrono::seconds(5)))
      << "follower still has cnp dscp " << CnpDscp(**follower);
  // Same plan on both replicas, port by port.
  EXPECT_EQ((*follower)->service->plan()->switches.size(),
            (*leader)->service->plan()->switches.size());

  // A replica that starts now (e.g. after a failover) takes the stored policy over its file.
  auto late_store = EtcdStore::Open(cluster->NewClient(), {"qos-ha"});
  ASSERT_TRUE(late_store.ok());
  QosRuntimeOptions late_options;
  late_options.store = late_store->get();
  late_options.policy_file = "/nonexistent/policy.yaml";  // not read: the store wins
  auto late = StartQos(fabric.get(), late_options);
  ASSERT_TRUE(late.ok()) << late.status();
  EXPECT_EQ(CnpDscp(**late), 46);

  // A bad policy written straight into the store (by a confused tool) is refused on the
  // follower, which keeps the good one.
  ASSERT_TRUE((*leader_store)
                  ->Apply(controller::WriteBatch().Put(std::string(kQosPolicyStoreKey),
                                                       "cnp: {dscp: 99}\n"))
                  .ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(CnpDscp(**follower), 46);
  (*election)->Stop();
}

}  // namespace
}  // namespace pulse::northbound
