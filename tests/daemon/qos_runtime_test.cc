// Cluster mode for QoS (daemon/qos_runtime.h): two replicas' controllers and QoS runtimes on one
// real etcd (tests/tools/etcd_cluster.sh). A policy the leader sets is put in force on the
// follower through its store watch (Controller::ApplyStoreUpdate, as ClusterReplica feeds it);
// the follower cannot set one itself; a replica started later takes the stored policy over its
// configured one. Label integration (starts etcd).
#include "daemon/qos_runtime.h"

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "controller/cluster/leader_election.h"
#include "controller/store/etcd_store.h"
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

// One replica: its controller on `store`, following the store like ClusterReplica does, and
// its QoS runtime.
struct Replica {
  std::unique_ptr<controller::Controller> controller;
  std::unique_ptr<controller::StoreWatch> watch;
  std::unique_ptr<QosRuntime> qos;
};
std::unique_ptr<Replica> StartReplica(std::shared_ptr<const topology::Fabric> fabric,
                                      controller::StateStore* store,
                                      std::string configured_policy = "") {
  controller::ControllerOptions options;
  options.store = store;
  options.qos_policy_yaml = std::move(configured_policy);
  auto controller = controller::Controller::Create(fabric, options);
  EXPECT_TRUE(controller.ok()) << controller.status();
  if (!controller.ok()) return nullptr;
  auto replica = std::make_unique<Replica>();
  replica->controller = *std::move(controller);
  controller::Controller* c = replica->controller.get();
  auto watch =
      store->Watch("", c->restored_store_revision(), [c](const controller::StoreWatchUpdate& u) {
        if (u.status.ok()) c->ApplyStoreUpdate(u);
      });
  EXPECT_TRUE(watch.ok()) << watch.status();
  if (!watch.ok()) return nullptr;
  replica->watch = *std::move(watch);
  auto qos = StartQos(c, {});
  EXPECT_TRUE(qos.ok()) << qos.status();
  if (!qos.ok()) return nullptr;
  replica->qos = *std::move(qos);
  return replica;
}

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

  auto leader_replica = StartReplica(fabric, leader_store->get());
  ASSERT_NE(leader_replica, nullptr);
  auto follower_replica = StartReplica(fabric, follower_store->get());
  ASSERT_NE(follower_replica, nullptr);
  std::unique_ptr<QosRuntime>* leader = &leader_replica->qos;
  std::unique_ptr<QosRuntime>* follower = &follower_replica->qos;
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
  // Its configured policy (cnp 40) loses to the stored one.
  auto late_replica = StartReplica(fabric, late_store->get(),
                                   "dscp_to_tc: {26: 3, 40: 6}\ncnp: {dscp: 40, priority: 6}\n");
  ASSERT_NE(late_replica, nullptr);
  std::unique_ptr<QosRuntime>* late = &late_replica->qos;
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
