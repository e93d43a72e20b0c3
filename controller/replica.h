// ClusterReplica: one controller replica of a cluster sharing state in etcd (issue 7 HA).
//
// Owns the etcd client, the EtcdStore and the LeaderElection, and keeps the Controller in step:
//   - every replica watches the store and folds other replicas' writes into its Controller
//     (Controller::ApplyStoreUpdate): followers hold a hot copy and serve reads;
//   - on election it reloads the state from etcd, fences the store with its generation and only
//     then opens the write gate (ControllerOptions::write_gate), all on the controller thread, so
//     no write runs on stale state or unfenced;
//   - on losing the lease it closes the gate at once (writes fail Unavailable naming the leader)
//     and reloads to the store's truth.
// on_role_change(leader, generation) is called on every change of this replica's role, from the
// controller thread: the daemon hands it to the OpenFlow driver (ROLE_REQUEST MASTER/SLAVE with
// generation_id = generation) and logs it.
#ifndef PULSE_CONTROLLER_REPLICA_H_
#define PULSE_CONTROLLER_REPLICA_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "controller/controller.h"
#include "controller/etcd_client.h"
#include "controller/etcd_store.h"
#include "controller/leader_election.h"

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

  bool is_leader() const { return leading_.load(); }
  LeaderInfo leader() const;
  // The leader's advertised API address while another replica leads, else "" (this replica
  // leads, or no leader is known): where the API forwards writes.
  std::string ForwardTarget() const;
  // "replica r1 (10.0.0.1:7443) of cluster c: leader, generation 42" or "follower of ...".
  std::string Describe() const;

 private:
  explicit ClusterReplica(ClusterOptions options) : options_(std::move(options)) {}

  const ClusterOptions options_;
  std::shared_ptr<EtcdClient> client_;
  std::unique_ptr<EtcdStore> store_;
  std::unique_ptr<StoreWatch> watch_;
  std::unique_ptr<LeaderElection> election_;
  Controller* controller_ = nullptr;
  RoleCallback on_role_change_;

  std::atomic<bool> leading_{false};  // the write gate: elected, reloaded and fenced
  mutable std::mutex mu_;
  LeaderInfo leader_;  // guarded by mu_
};

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_REPLICA_H_
