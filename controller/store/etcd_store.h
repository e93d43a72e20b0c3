// EtcdStore: the StateStore of a replicated controller, kept in an etcd v3 cluster.
//
// Keys live under "/pulse/<cluster>/state/" (the election key is "/pulse/<cluster>/leader", see
// leader_election.h). Only the leader writes: every Apply is one etcd Txn guarded by
//   create_revision("/pulse/<cluster>/leader") == generation
// where generation is the revision at which this replica won the election. A deposed leader
// (its lease expired and someone else created the key since) therefore cannot write, even if it
// has not noticed yet. Followers LoadAll once and Watch from that revision to keep a hot copy.
//
// Wiring in the daemon (cluster mode), all callbacks posting to the state owner thread:
//   client   = EtcdClient::Connect({endpoints, rpc_timeout})
//   store    = EtcdStore::Open(client, {cluster})
//   election = LeaderElection::Start(client, {cluster, candidate_id = own address}, {
//     on_elected(g):      store->SetLeaderFence(g); state = LoadAll(); drop the follower watch;
//                         ROLE_REQUEST(MASTER, generation_id = g) to every switch; serve writes
//     on_lost(g, why):    store->SetLeaderFence(0); stop serving writes; LoadAll + Watch again
//     on_leader_changed:  remember leader.id, where followers forward writes })
#ifndef PULSE_CONTROLLER_STORE_ETCD_STORE_H_
#define PULSE_CONTROLLER_STORE_ETCD_STORE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/store/etcd_client.h"
#include "controller/store/store.h"

namespace pulse::controller {

struct EtcdStoreOptions {
  std::string cluster;  // names the key prefix; [A-Za-z0-9._-]+
  // etcd's default --max-txn-ops; a batch with more distinct keys is refused rather than split,
  // because splitting would break atomicity.
  size_t max_txn_ops = 128;
};

// "/pulse/<cluster>/" and the two key families below it.
std::string EtcdClusterPrefix(absl::string_view cluster);
std::string EtcdStatePrefix(absl::string_view cluster);  // "/pulse/<cluster>/state/"
std::string EtcdLeaderKey(absl::string_view cluster);    // "/pulse/<cluster>/leader"

class EtcdStore : public StateStore {
 public:
  // Checks the cluster name and that etcd answers (one Range). The client may be shared with
  // LeaderElection.
  static absl::StatusOr<std::unique_ptr<EtcdStore>> Open(std::shared_ptr<EtcdClient> client,
                                                         const EtcdStoreOptions& options);

  // Set by the daemon from LeaderElection's on_elected (generation > 0) and on_lost (0). With 0,
  // Apply fails with FailedPrecondition("not the leader").
  void SetLeaderFence(int64_t generation) { fence_generation_.store(generation); }
  int64_t leader_fence() const { return fence_generation_.load(); }

  // FailedPrecondition if not leader or deposed; Unavailable/DeadlineExceeded if etcd did not
  // answer in time (the batch may or may not have been applied; it is idempotent to retry).
  // The client already retries within rpc_timeout, so a batch can land twice: same content at
  // two revisions, which watchers see as two updates.
  absl::StatusOr<int64_t> Apply(const WriteBatch& batch) override;
  // A linearizable read of every state key; the revision is etcd's store revision.
  absl::StatusOr<StoreSnapshot> LoadAll() override;
  // Streams changes on a background thread (callbacks run there, one revision per call). A
  // broken stream (member died) is reopened, on another member, from the next revision, so no
  // change is skipped or repeated. Ends with an error update if etcd compacted the history the
  // watch needs. The callback must not destroy its own StoreWatch.
  absl::StatusOr<std::unique_ptr<StoreWatch>> Watch(absl::string_view prefix,
                                                    int64_t after_revision,
                                                    StoreWatchCallback callback) override;
  std::string Describe() const override;

  // How many times a watch stream broke and was reopened (e.g. its etcd member died).
  int64_t watch_restarts() const { return watch_restarts_->load(); }

 private:
  class EtcdWatch;
  EtcdStore(std::shared_ptr<EtcdClient> client, EtcdStoreOptions options);

  std::shared_ptr<EtcdClient> client_;
  const EtcdStoreOptions options_;
  const std::string state_prefix_;
  const std::string leader_key_;
  std::atomic<int64_t> fence_generation_{0};
  // Shared with the watches, which may outlive nothing but are simplest to count this way.
  std::shared_ptr<std::atomic<int64_t>> watch_restarts_ = std::make_shared<std::atomic<int64_t>>(0);
};

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_STORE_ETCD_STORE_H_
