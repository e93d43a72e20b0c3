#include "controller/cluster/leader_election.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/thread_name.h"
#include "controller/store/etcd_store.h"

namespace pulse::controller {

absl::StatusOr<std::unique_ptr<LeaderElection>> LeaderElection::Start(
    std::shared_ptr<EtcdClient> client, const LeaderElectionOptions& options,
    LeaderElectionCallbacks callbacks) {
  if (client == nullptr) return absl::InvalidArgumentError("leader election: no etcd client");
  if (options.cluster.empty()) return absl::InvalidArgumentError("leader election: empty cluster");
  if (options.candidate_id.empty()) {
    return absl::InvalidArgumentError("leader election: empty candidate_id");
  }
  if (options.lease_ttl_s < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("leader election: lease_ttl_s ", options.lease_ttl_s, " < 1"));
  }
  if (options.poll_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("leader election: poll_interval must be > 0");
  }
  std::unique_ptr<LeaderElection> election(
      new LeaderElection(std::move(client), options, std::move(callbacks)));
  election->thread_ = std::thread([e = election.get()] {
    pulse::NameThisThread("pulse-election");
    e->Run();
  });
  return election;
}

LeaderElection::LeaderElection(std::shared_ptr<EtcdClient> client, LeaderElectionOptions options,
                               LeaderElectionCallbacks callbacks)
    : client_(std::move(client)),
      options_(std::move(options)),
      callbacks_(std::move(callbacks)),
      key_(EtcdLeaderKey(options_.cluster)) {}

LeaderElection::~LeaderElection() { Stop(); }

void LeaderElection::Stop() { Join(/*revoke=*/true); }
void LeaderElection::Abandon() { Join(/*revoke=*/false); }

void LeaderElection::Join(bool revoke) {
  {
    absl::MutexLock lock(&mu_);
    if (joined_) return;
    joined_ = true;
    stopping_ = true;
  }
  thread_.join();
  int64_t lease = 0;
  {
    absl::MutexLock lock(&mu_);
    lease = lease_id_;
    lease_id_ = 0;
    generation_ = 0;
  }
  if (revoke && lease != 0) {
    if (absl::Status s = client_->LeaseRevoke(lease); !s.ok()) {
      Log(LogLevel::kWarning, "leader election: resigning, lease ", lease,
          " not revoked (it expires by itself): ", s.message());
    }
  }
}

bool LeaderElection::is_leader() const {
  absl::MutexLock lock(&mu_);
  return generation_ > 0;
}
bool LeaderElection::HoldsValidLease() const {
  absl::MutexLock lock(&mu_);
  return generation_ > 0 && absl::Now() < lease_valid_until_;
}
int64_t LeaderElection::generation() const {
  absl::MutexLock lock(&mu_);
  return generation_;
}
LeaderInfo LeaderElection::leader() const {
  absl::MutexLock lock(&mu_);
  return leader_;
}
int64_t LeaderElection::lease_id() const {
  absl::MutexLock lock(&mu_);
  return lease_id_;
}

void LeaderElection::Run() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    Tick();
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.poll_interval);
  }
}

void LeaderElection::StepDown(const absl::Status& why) {
  int64_t generation = 0;
  {
    absl::MutexLock lock(&mu_);
    generation = generation_;
    generation_ = 0;
  }
  if (generation == 0) return;
  Log(LogLevel::kWarning, "leader election: ", options_.candidate_id,
      " steps down from generation ", generation, ": ", why.message());
  if (callbacks_.on_lost) callbacks_.on_lost(generation, why);
}

void LeaderElection::Observe(const LeaderInfo& info) {
  {
    absl::MutexLock lock(&mu_);
    if (leader_ == info) return;
    leader_ = info;
  }
  if (callbacks_.on_leader_changed) callbacks_.on_leader_changed(info);
}

void LeaderElection::Tick() {
  const absl::Duration ttl = absl::Seconds(options_.lease_ttl_s);
  int64_t lease = 0;
  int64_t generation = 0;
  {
    absl::MutexLock lock(&mu_);
    lease = lease_id_;
    generation = generation_;
  }
  auto drop_lease = [&] {
    absl::MutexLock lock(&mu_);
    lease_id_ = 0;
  };

  if (lease == 0) {
    absl::Time asked = absl::Now();
    absl::StatusOr<int64_t> granted = client_->LeaseGrant(options_.lease_ttl_s);
    if (!granted.ok()) {
      Log(LogLevel::kDebug, "leader election: no lease yet: ", granted.status().message());
      return;
    }
    lease = *granted;
    {
      absl::MutexLock lock(&mu_);
      lease_id_ = lease;
      lease_valid_until_ = asked + ttl;
    }
    next_keepalive_ = asked + ttl / 3;
  }

  if (absl::Now() >= next_keepalive_) {
    absl::Time asked = absl::Now();
    absl::StatusOr<int64_t> renewed = client_->LeaseKeepAliveOnce(lease, ttl / 3);
    if (renewed.ok()) {
      {
        absl::MutexLock lock(&mu_);
        lease_valid_until_ = asked + absl::Seconds(*renewed);
      }
      next_keepalive_ = asked + ttl / 3;
    } else if (renewed.status().code() == absl::StatusCode::kNotFound) {
      StepDown(renewed.status());
      drop_lease();
      return;
    } else {
      next_keepalive_ = absl::Now() + options_.poll_interval;  // try again soon
    }
  }
  absl::Time valid_until;
  {
    absl::MutexLock lock(&mu_);
    valid_until = lease_valid_until_;
  }
  if (absl::Now() >= valid_until) {
    // Not renewed for a whole TTL: etcd may have expired the lease, so behave as if it had.
    StepDown(absl::UnavailableError(
        absl::StrCat("lease ", lease, " not renewed for ", options_.lease_ttl_s, " s")));
    client_->LeaseRevoke(lease).IgnoreError();
    drop_lease();
    return;
  }

  if (generation == 0) {
    etcdserverpb::TxnRequest txn;
    auto* compare = txn.add_compare();
    compare->set_key(key_);
    compare->set_target(etcdserverpb::Compare::CREATE);
    compare->set_result(etcdserverpb::Compare::EQUAL);
    compare->set_create_revision(0);
    auto* put = txn.add_success()->mutable_request_put();
    put->set_key(key_);
    put->set_value(options_.candidate_id);
    put->set_lease(lease);
    txn.add_failure()->mutable_request_range()->set_key(key_);
    absl::StatusOr<etcdserverpb::TxnResponse> response = client_->Txn(txn);
    if (!response.ok()) {
      if (response.status().code() == absl::StatusCode::kNotFound) drop_lease();  // lease gone
      return;
    }
    int64_t won_at = 0;
    LeaderInfo seen;
    if (response->succeeded()) {
      won_at = response->header().revision();
    } else if (response->responses_size() > 0 &&
               response->responses(0).response_range().kvs_size() > 0) {
      const mvccpb::KeyValue& kv = response->responses(0).response_range().kvs(0);
      // Our own key: an earlier campaign won but its reply was lost.
      if (kv.lease() == lease) won_at = kv.create_revision();
      seen = LeaderInfo{kv.value(), kv.create_revision()};
    }
    if (won_at > 0) {
      {
        absl::MutexLock lock(&mu_);
        generation_ = won_at;
      }
      Log(LogLevel::kInfo, "leader election: ", options_.candidate_id, " leads ", options_.cluster,
          " at generation ", won_at);
      Observe(LeaderInfo{options_.candidate_id, won_at});
      if (callbacks_.on_elected) callbacks_.on_elected(won_at);
    } else {
      Observe(seen);
    }
    return;
  }

  // Leader: make sure the key is still the one we created.
  etcdserverpb::RangeRequest range;
  range.set_key(key_);
  absl::StatusOr<etcdserverpb::RangeResponse> current = client_->Range(range);
  if (!current.ok()) return;  // the lease deadline above decides if this goes on too long
  if (current->kvs_size() == 0 || current->kvs(0).create_revision() != generation) {
    StepDown(absl::FailedPreconditionError(
        absl::StrCat(key_, " was deleted or replaced since generation ", generation)));
    if (current->kvs_size() > 0) {
      Observe(LeaderInfo{current->kvs(0).value(), current->kvs(0).create_revision()});
    } else {
      Observe(LeaderInfo{});
    }
  }
}

}  // namespace pulse::controller
