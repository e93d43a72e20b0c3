// ClusterReplica: one controller replica of a cluster sharing state in etcd (issue 7 HA).
//
// Owns the etcd client, the EtcdStore and the LeaderElection, and keeps the Controller in step:
//   - every replica watches the store and folds other replicas' writes into its Controller
//     (Controller::ApplyStoreUpdate): followers hold a hot copy and serve reads;
//   - on election it re-reads the whole state from etcd, fences the store with its generation
//     and only then opens the write gate (ControllerOptions::write_gate), all on the controller
//     thread, so no write runs on stale state or unfenced;
//   - on losing the lease it closes the gate at once (writes fail Unavailable naming the leader,
//     or saying none is known) and re-reads the store's truth.
// A re-read that fails (etcd unreachable) leaves the last good state in place (never an empty
// or partial one) and is retried with backoff on the replica's own thread until it succeeds;
// until then ready() is false (health "pulse.cluster.ready" NOT_SERVING) and a newly elected
// replica keeps its write gate closed. is_leader() also ends the moment the lease may have
// expired, not when the election thread gets round to stepping down.
// on_role_change(leader, generation) is called on every change of this replica's role, from the
// controller thread: the daemon hands it to the OpenFlow driver (ROLE_REQUEST MASTER/SLAVE with
// generation_id = generation) and logs it.
#ifndef PULSE_CONTROLLER_CLUSTER_REPLICA_H_
#define PULSE_CONTROLLER_CLUSTER_REPLICA_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "controller/cluster/leader_election.h"
#include "controller/controller.h"
#include "controller/store/etcd_client.h"
#include "controller/store/etcd_store.h"

namespace pulse::controller {

struct ClusterOptions {
  std::vector<std::string> etcd_endpoints;  // "127.0.0.1:2379", ...
  std::string name;                         // cluster name: the etcd key prefix
  std::string replica_id;                   // this replica's name, for logs
  std::string advertise;                    // host:port where this replica's API is reached
  int64_t lease_ttl_s = 2;                  // leader lease: the failover time bound
};

class ClusterReplica {
 public:
  using RoleCallback = std::function<void(bool leader, uint64_t generation)>;

  // Connects to etcd and opens the store (one read to check etcd answers). Campaigning starts
  // with Start(), once the Controller exists.
  static absl::StatusOr<std::unique_ptr<ClusterReplica>> Open(const ClusterOptions& options);
  ~ClusterReplica();  // Stop()

  // The store for ControllerOptions::store, and the gate for ControllerOptions::write_gate.
  StateStore* store() { return store_.get(); }
  std::function<absl::Status()> WriteGate();

  // Follows the store from the revision `controller` restored, and campaigns. `controller` must
  // outlive Stop().
  absl::Status Start(Controller* controller, RoleCallback on_role_change);
  // Resigns (the lease is revoked, so another replica takes over at once) and stops watching.
  void Stop();

  // Leads: elected, state re-read, fenced, and the lease not past its deadline.
  bool is_leader() const;
  // OK while the state is a complete read of the store; Unavailable (naming why and the last
  // read error) while a re-read is pending or failing.
  absl::Status ReadyStatus() const;
  LeaderInfo leader() const;
  // The leader's advertised API address while another replica leads, else "" (this replica
  // leads, or no leader is known): where the API forwards writes.
  std::string ForwardTarget() const;
  // "replica r1 (10.0.0.1:7443) of cluster c: leader, generation 42" or "follower of ...".
  std::string Describe() const;

 private:
  explicit ClusterReplica(ClusterOptions options) : options_(std::move(options)) {}

  // What to do once a re-read succeeds (on the controller thread, before later requests).
  struct ReloadRequest {
    std::string why;
    int64_t elected_generation = 0;  // > 0: open the gate at this generation
    int64_t lost_generation = 0;     // > 0: tell the switches we are a follower
  };
  void RequestReload(ReloadRequest request);
  void ReloadLoop();
  void OnReloaded(const ReloadRequest& request, uint64_t epoch);

  const ClusterOptions options_;
  std::shared_ptr<EtcdClient> client_;
  std::unique_ptr<EtcdStore> store_;
  std::unique_ptr<StoreWatch> watch_;
  std::unique_ptr<LeaderElection> election_;
  std::atomic<LeaderElection*> election_raw_{nullptr};  // election_ once Start has set it
  Controller* controller_ = nullptr;
  RoleCallback on_role_change_;

  std::atomic<bool> leading_{false};  // the write gate: elected, reloaded and fenced
  mutable std::mutex mu_;
  LeaderInfo leader_;  // guarded by mu_

  // The re-read loop (guarded by reload_mu_).
  mutable std::mutex reload_mu_;
  std::condition_variable reload_wake_;
  bool reload_pending_ = false;
  bool stopping_ = false;
  uint64_t reload_epoch_ = 0;  // bumped by every request: a superseded success does nothing
  ReloadRequest reload_request_;
  absl::Status ready_;  // OK: the state is a complete read
  std::thread reload_thread_;
};

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_CLUSTER_REPLICA_H_
