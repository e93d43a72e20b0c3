// LeaderElection: which controller replica leads, decided in etcd with a lease.
//
// Each replica holds a lease (TTL lease_ttl_s, renewed every TTL/3) and campaigns with one Txn:
//   if create_revision("/pulse/<cluster>/leader") == 0 then put(key, candidate_id, lease)
// The winner's generation is the revision of that Txn, i.e. the key's create_revision. It grows
// with every new leader, so it is the OpenFlow ROLE_REQUEST generation_id, and EtcdStore uses it
// to fence writes (see etcd_store.h). When the leader dies its lease expires, etcd deletes the
// key, and the next campaign (replicas poll every poll_interval) wins; with the defaults a new
// leader is elected at most about TTL + 0.6 s after the old one stopped renewing.
//
// The leader steps down (on_lost) when etcd says its lease is gone, when the key is no longer
// the one it created, or when it could not renew for a whole TTL (it cannot tell whether etcd
// has expired the lease, so it assumes so). Callbacks run on the election's own thread, one at a
// time, and must not call Stop().
#ifndef PULSE_CONTROLLER_CLUSTER_LEADER_ELECTION_H_
#define PULSE_CONTROLLER_CLUSTER_LEADER_ELECTION_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controller/store/etcd_client.h"

namespace pulse::controller {

struct LeaderElectionOptions {
  std::string cluster;       // same name as EtcdStoreOptions::cluster
  std::string candidate_id;  // stored as the key's value, e.g. the replica's northbound address
  int64_t lease_ttl_s = 2;   // etcd's minimum with default raft timing is 2
  absl::Duration poll_interval = absl::Milliseconds(100);
};

// Who leads, as last observed. generation 0: nobody (or not known yet).
struct LeaderInfo {
  std::string id;
  int64_t generation = 0;
  bool operator==(const LeaderInfo& o) const { return id == o.id && generation == o.generation; }
};

struct LeaderElectionCallbacks {
  std::function<void(int64_t generation)> on_elected;  // this replica now leads
  std::function<void(int64_t generation, const absl::Status& why)> on_lost;  // step down now
  std::function<void(const LeaderInfo& leader)> on_leader_changed;  // anyone's view changed
};

class LeaderElection {
 public:
  // Starts campaigning on a background thread and returns at once.
  static absl::StatusOr<std::unique_ptr<LeaderElection>> Start(std::shared_ptr<EtcdClient> client,
                                                               const LeaderElectionOptions& options,
                                                               LeaderElectionCallbacks callbacks);
  ~LeaderElection();  // Stop()

  // Resigns: stops campaigning and revokes the lease, which deletes the leader key if we hold
  // it so another replica takes over at once. No callback fires. Idempotent.
  void Stop();
  // For tests: stops the thread WITHOUT revoking, as if the process had been killed; the lease
  // then expires on its own after its TTL.
  void Abandon();

  bool is_leader() const;
  // is_leader() and the lease is not past its deadline as this replica computes it (the time a
  // renewal was sent plus the TTL etcd granted). Turns false the moment the lease may have
  // expired, even while a slow etcd call keeps the election thread from stepping down.
  bool HoldsValidLease() const;
  int64_t generation() const;  // this replica's generation while leader, else 0
  LeaderInfo leader() const;   // the leader as last observed (possibly this replica)
  int64_t lease_id() const;    // current lease, 0 if none

 private:
  LeaderElection(std::shared_ptr<EtcdClient> client, LeaderElectionOptions options,
                 LeaderElectionCallbacks callbacks);
  void Run();
  void Tick();
  void StepDown(const absl::Status& why);
  void Observe(const LeaderInfo& info);
  void Join(bool revoke);

  std::shared_ptr<EtcdClient> client_;
  const LeaderElectionOptions options_;
  const LeaderElectionCallbacks callbacks_;
  const std::string key_;

  // Owned by the election thread.
  absl::Time next_keepalive_ = absl::InfinitePast();

  mutable absl::Mutex mu_;
  absl::Time lease_valid_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool joined_ ABSL_GUARDED_BY(mu_) = false;
  int64_t lease_id_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  LeaderInfo leader_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_CLUSTER_LEADER_ELECTION_H_
