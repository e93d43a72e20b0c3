#include "controller/replica.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "controller/log.h"

namespace pulse::controller {

absl::StatusOr<std::unique_ptr<ClusterReplica>> ClusterReplica::Open(
    const ClusterOptions& options) {
  if (options.etcd_endpoints.empty()) {
    return absl::InvalidArgumentError("cluster.etcd_endpoints: at least one endpoint is needed");
  }
  if (options.advertise.empty()) {
    return absl::InvalidArgumentError("cluster.advertise: the replica's API host:port is needed");
  }
  std::unique_ptr<ClusterReplica> replica(new ClusterReplica(options));
  EtcdClientOptions client_options;
  client_options.endpoints = options.etcd_endpoints;
  absl::StatusOr<std::shared_ptr<EtcdClient>> client = EtcdClient::Connect(client_options);
  if (!client.ok()) return client.status();
  replica->client_ = *std::move(client);
  EtcdStoreOptions store_options;
  store_options.cluster = options.name;
  absl::StatusOr<std::unique_ptr<EtcdStore>> store =
      EtcdStore::Open(replica->client_, store_options);
  if (!store.ok()) return store.status();
  replica->store_ = *std::move(store);
  return replica;
}

ClusterReplica::~ClusterReplica() { Stop(); }

std::function<absl::Status()> ClusterReplica::WriteGate() {
  return [this]() -> absl::Status {
    if (leading_.load()) return absl::OkStatus();
    LeaderInfo leader = this->leader();
    if (leader.generation == 0 || leader.id.empty()) {
      return absl::UnavailableError(absl::StrCat("replica ", options_.replica_id,
                                                 " is a follower and no leader is elected yet"));
    }
    return absl::UnavailableError(absl::StrCat("replica ", options_.replica_id,
                                               " is a follower; the leader is ", leader.id,
                                               " (generation ", leader.generation, ")"));
  };
}

LeaderInfo ClusterReplica::leader() const {
  std::lock_guard<std::mutex> lock(mu_);
  return leader_;
}

std::string ClusterReplica::ForwardTarget() const {
  if (leading_.load()) return "";
  LeaderInfo leader = this->leader();
  if (leader.generation == 0 || leader.id == options_.advertise) return "";
  return leader.id;
}

std::string ClusterReplica::Describe() const {
  LeaderInfo leader = this->leader();
  std::string role = leading_.load()
                         ? absl::StrCat("leader, generation ", leader.generation)
                         : absl::StrCat("follower of ", leader.id.empty() ? "nobody" : leader.id,
                                        " (generation ", leader.generation, ")");
  return absl::StrCat("replica ", options_.replica_id, " (", options_.advertise, ") of cluster ",
                      options_.name, ": ", role);
}

absl::Status ClusterReplica::Start(Controller* controller, RoleCallback on_role_change) {
  controller_ = controller;
  on_role_change_ = std::move(on_role_change);
  // The hot copy: every batch written after the state the controller restored.
  absl::StatusOr<std::unique_ptr<StoreWatch>> watch = store_->Watch(
      "", controller->restored_store_revision(), [this](const StoreWatchUpdate& update) {
        if (!update.status.ok()) {
          // Compacted past us: catch up from a full read (later updates are newer than it).
          Log(LogLevel::kError, "cluster: store watch ended (", update.status.message(),
              "); reloading the whole state");
          controller_->Reload();
          return;
        }
        controller_->ApplyStoreUpdate(update);
      });
  if (!watch.ok()) return watch.status();
  watch_ = *std::move(watch);

  LeaderElectionOptions election_options;
  election_options.cluster = options_.name;
  election_options.candidate_id = options_.advertise;
  election_options.lease_ttl_s = options_.lease_ttl_s;
  LeaderElectionCallbacks callbacks;
  callbacks.on_elected = [this](int64_t generation) {
    Log(LogLevel::kInfo, "cluster: replica ", options_.replica_id, " elected leader, generation ",
        generation, "; reloading state before serving writes");
    // On the controller thread: reload, fence, open the gate, tell the switches; requests
    // posted after this see the reloaded state.
    controller_->Reload([this, generation] {
      store_->SetLeaderFence(generation);
      leading_.store(true);
      Log(LogLevel::kInfo, "cluster: ", Describe());
      if (on_role_change_) on_role_change_(true, static_cast<uint64_t>(generation));
    });
  };
  callbacks.on_lost = [this](int64_t generation, const absl::Status& why) {
    leading_.store(false);  // at once: no more writes from here
    store_->SetLeaderFence(0);
    Log(LogLevel::kWarning, "cluster: replica ", options_.replica_id,
        " lost leadership (generation ", generation, "): ", why.message());
    controller_->Reload([this, generation] {
      if (on_role_change_) on_role_change_(false, static_cast<uint64_t>(generation));
    });
  };
  callbacks.on_leader_changed = [this](const LeaderInfo& leader) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      leader_ = leader;
    }
    Log(LogLevel::kInfo, "cluster: leader is ", leader.id.empty() ? "nobody" : leader.id,
        " (generation ", leader.generation, ")");
  };
  absl::StatusOr<std::unique_ptr<LeaderElection>> election =
      LeaderElection::Start(client_, election_options, std::move(callbacks));
  if (!election.ok()) return election.status();
  election_ = *std::move(election);
  return absl::OkStatus();
}

void ClusterReplica::Stop() {
  leading_.store(false);
  if (election_) election_->Stop();
  watch_.reset();
}

}  // namespace pulse::controller
