#include "controller/cluster/replica.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "common/thread_name.h"

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
    if (is_leader()) return absl::OkStatus();
    if (leading_.load()) {
      return absl::UnavailableError(absl::StrCat(
          "replica ", options_.replica_id,
          " was leader but its lease may have expired (not renewed in time); no leader is known "
          "until etcd answers"));
    }
    LeaderInfo leader = this->leader();
    if (leader.generation == 0 || leader.id.empty() || leader.id == options_.advertise) {
      return absl::UnavailableError(absl::StrCat("replica ", options_.replica_id,
                                                 " is not the leader and no leader is known"));
    }
    return absl::UnavailableError(absl::StrCat("replica ", options_.replica_id,
                                               " is a follower; the leader is ", leader.id,
                                               " (generation ", leader.generation, ")"));
  };
}

bool ClusterReplica::is_leader() const {
  LeaderElection* election = election_raw_.load();
  return leading_.load() && election != nullptr && election->HoldsValidLease();
}

absl::Status ClusterReplica::ReadyStatus() const {
  std::lock_guard<std::mutex> lock(reload_mu_);
  return ready_;
}

LeaderInfo ClusterReplica::leader() const {
  std::lock_guard<std::mutex> lock(mu_);
  return leader_;
}

std::string ClusterReplica::ForwardTarget() const {
  if (is_leader()) return "";
  LeaderInfo leader = this->leader();
  if (leader.generation == 0 || leader.id == options_.advertise) return "";
  return leader.id;
}

std::string ClusterReplica::Describe() const {
  LeaderInfo leader = this->leader();
  std::string role = is_leader()
                         ? absl::StrCat("leader, generation ", leader.generation)
                         : absl::StrCat("follower of ", leader.id.empty() ? "nobody" : leader.id,
                                        " (generation ", leader.generation, ")");
  absl::Status ready = ReadyStatus();
  return absl::StrCat("replica ", options_.replica_id, " (", options_.advertise, ") of cluster ",
                      options_.name, ": ", role,
                      ready.ok() ? std::string() : absl::StrCat("; NOT READY: ", ready.message()));
}

void ClusterReplica::RequestReload(ReloadRequest request) {
  {
    std::lock_guard<std::mutex> lock(reload_mu_);
    ++reload_epoch_;
    if (!reload_pending_) {
      reload_request_ = ReloadRequest{};
    }
    // Merge with a request not yet started: the newest role change wins, a plain re-read keeps it.
    if (request.elected_generation > 0) {
      reload_request_.elected_generation = request.elected_generation;
      reload_request_.lost_generation = 0;
    } else if (request.lost_generation > 0) {
      reload_request_.lost_generation = request.lost_generation;
      reload_request_.elected_generation = 0;
    }
    reload_request_.why = request.why;
    reload_pending_ = true;
    ready_ =
        absl::UnavailableError(absl::StrCat("re-reading the state from etcd (", request.why, ")"));
  }
  reload_wake_.notify_all();
}

void ClusterReplica::ReloadLoop() {
  absl::Duration backoff = absl::Milliseconds(100);
  std::unique_lock<std::mutex> lock(reload_mu_);
  while (true) {
    reload_wake_.wait(lock, [this] { return stopping_ || reload_pending_; });
    if (stopping_) return;
    ReloadRequest request = reload_request_;
    const uint64_t epoch = reload_epoch_;
    lock.unlock();
    absl::Status status =
        controller_->Reload([this, request, epoch] { OnReloaded(request, epoch); }).get();
    lock.lock();
    if (status.ok()) {
      // If a newer request came meanwhile, reload_pending_ is set again and it runs next.
      if (epoch == reload_epoch_) reload_pending_ = false;
      backoff = absl::Milliseconds(100);
      continue;
    }
    ready_ = absl::UnavailableError(absl::StrCat("state not re-read from etcd (", request.why,
                                                 "); keeping the last good state, retrying in ",
                                                 absl::FormatDuration(backoff),
                                                 "; last error: ", status.message()));
    Log(LogLevel::kWarning, "cluster: replica ", options_.replica_id, ": ", ready_.message());
    reload_wake_.wait_for(lock, absl::ToChronoMilliseconds(backoff), [this] { return stopping_; });
    backoff = std::min(backoff * 2, absl::Seconds(2));
  }
}

void ClusterReplica::OnReloaded(const ReloadRequest& request, uint64_t epoch) {
  {
    std::lock_guard<std::mutex> lock(reload_mu_);
    if (epoch != reload_epoch_) return;  // superseded: the newer request acts when it succeeds
    reload_pending_ = false;
    ready_ = absl::OkStatus();
  }
  if (request.elected_generation > 0) {
    const int64_t generation = request.elected_generation;
    // Lost again meanwhile? (The election announces itself as leader before on_elected.)
    LeaderInfo now = leader();
    if (now.id != options_.advertise || now.generation != generation) return;
    store_->SetLeaderFence(generation);
    leading_.store(true);
    Log(LogLevel::kInfo, "cluster: ", Describe());
    if (on_role_change_) on_role_change_(true, static_cast<uint64_t>(generation));
  } else if (request.lost_generation > 0) {
    if (on_role_change_) on_role_change_(false, static_cast<uint64_t>(request.lost_generation));
  }
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
          RequestReload({absl::StrCat("store watch ended: ", update.status.message()), 0, 0});
          return;
        }
        controller_->ApplyStoreUpdate(update);
      });
  if (!watch.ok()) return watch.status();
  watch_ = *std::move(watch);
  {
    std::lock_guard<std::mutex> lock(reload_mu_);
    stopping_ = false;
  }
  reload_thread_ = std::thread([this] {
    pulse::NameThisThread("pulse-reload");
    ReloadLoop();
  });

  LeaderElectionOptions election_options;
  election_options.cluster = options_.name;
  election_options.candidate_id = options_.advertise;
  election_options.lease_ttl_s = options_.lease_ttl_s;
  LeaderElectionCallbacks callbacks;
  callbacks.on_elected = [this](int64_t generation) {
    Log(LogLevel::kInfo, "cluster: replica ", options_.replica_id, " elected leader, generation ",
        generation, "; re-reading the state before serving writes");
    // On the controller thread once the read succeeds: fence, open the gate, tell the switches;
    // requests posted after that see the re-read state.
    RequestReload({absl::StrCat("elected at generation ", generation), generation, 0});
  };
  callbacks.on_lost = [this](int64_t generation, const absl::Status& why) {
    leading_.store(false);  // at once: no more writes from here
    store_->SetLeaderFence(0);
    {
      // Whoever leads next is not known yet; never name ourselves.
      std::lock_guard<std::mutex> lock(mu_);
      if (leader_.id == options_.advertise) leader_ = LeaderInfo{};
    }
    Log(LogLevel::kWarning, "cluster: replica ", options_.replica_id,
        " lost leadership (generation ", generation, "): ", why.message());
    RequestReload({absl::StrCat("lost leadership: ", why.message()), 0, generation});
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
  election_raw_.store(election_.get());
  return absl::OkStatus();
}

void ClusterReplica::Stop() {
  leading_.store(false);
  election_raw_.store(nullptr);
  if (election_) election_->Stop();
  watch_.reset();
  {
    std::lock_guard<std::mutex> lock(reload_mu_);
    stopping_ = true;
  }
  reload_wake_.notify_all();
  if (reload_thread_.joinable()) reload_thread_.join();
}

}  // namespace pulse::controller
