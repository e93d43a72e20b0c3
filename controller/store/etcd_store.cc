#include "controller/store/etcd_store.h"

#include <grpcpp/grpcpp.h>

#include <map>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "common/thread_name.h"

namespace pulse::controller {

std::string EtcdClusterPrefix(absl::string_view cluster) {
  return absl::StrCat("/pulse/", cluster, "/");
}
std::string EtcdStatePrefix(absl::string_view cluster) {
  return absl::StrCat(EtcdClusterPrefix(cluster), "state/");
}
std::string EtcdLeaderKey(absl::string_view cluster) {
  return absl::StrCat(EtcdClusterPrefix(cluster), "leader");
}

// One watch stream, reopened from the next revision whenever it breaks.
class EtcdStore::EtcdWatch : public StoreWatch {
 public:
  EtcdWatch(std::shared_ptr<EtcdClient> client, std::string key_prefix, size_t strip_bytes,
            int64_t after_revision, StoreWatchCallback callback,
            std::shared_ptr<std::atomic<int64_t>> restarts)
      : client_(std::move(client)),
        restarts_(std::move(restarts)),
        key_prefix_(std::move(key_prefix)),
        strip_bytes_(strip_bytes),
        next_revision_(after_revision + 1),
        callback_(std::move(callback)) {
    thread_ = std::thread([this] {
      pulse::NameThisThread("pulse-etcd-watch");
      Run();
    });
  }

  ~EtcdWatch() override {
    {
      absl::MutexLock lock(&mu_);
      stopped_ = true;
      if (context_ != nullptr) context_->TryCancel();
    }
    thread_.join();
  }

 private:
  bool Stopped() {
    absl::MutexLock lock(&mu_);
    return stopped_;
  }

  void Run() {
    while (!Stopped()) {
      absl::Status end = RunOneStream();
      if (!end.ok()) {
        StoreWatchUpdate last;
        last.revision = next_revision_ - 1;
        last.status = end;
        callback_(last);
        return;
      }
      // Stream broke (member died, no leader): back off briefly, then resume from next_revision_.
      absl::MutexLock lock(&mu_);
      if (stopped_) return;
      restarts_->fetch_add(1);
      mu_.AwaitWithTimeout(absl::Condition(&stopped_), absl::Milliseconds(100));
    }
  }

  // Returns OK when the stream ended and should be reopened, an error when the watch is over.
  absl::Status RunOneStream() {
    std::unique_ptr<grpc::ClientContext> context = EtcdClient::NewStreamContext();
    {
      absl::MutexLock lock(&mu_);
      if (stopped_) return absl::OkStatus();
      context_ = context.get();
    }
    auto stream = client_->watch_stub()->Watch(context.get());
    etcdserverpb::WatchRequest request;
    auto* create = request.mutable_create_request();
    create->set_key(key_prefix_);
    create->set_range_end(EtcdClient::PrefixEnd(key_prefix_));
    create->set_start_revision(next_revision_);
    absl::Status result = absl::OkStatus();
    bool server_canceled = false;
    if (stream->Write(request)) {
      etcdserverpb::WatchResponse response;
      while (stream->Read(&response)) {
        if (response.canceled()) {
          if (response.compact_revision() > 0) {
            result = absl::OutOfRangeError(absl::StrCat(
                "etcd watch on ", key_prefix_, ": revision ", next_revision_,
                " was compacted (oldest kept ", response.compact_revision(), "); reload"));
          }
          server_canceled = true;
          break;
        }
        Deliver(response);
      }
    }
    // After a server-side cancel the stream is still open; close it so Finish returns.
    if (server_canceled) context->TryCancel();
    grpc::Status status = stream->Finish();
    {
      absl::MutexLock lock(&mu_);
      context_ = nullptr;
    }
    if (result.ok() && !status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
      Log(LogLevel::kInfo, "etcd watch on ", key_prefix_, " broke (", status.error_message(),
          "); resuming from revision ", next_revision_);
    }
    return result;
  }

  // Events of one response may span revisions; the callback gets one revision at a time.
  void Deliver(const etcdserverpb::WatchResponse& response) {
    StoreWatchUpdate update;
    for (const mvccpb::Event& event : response.events()) {
      int64_t revision = event.kv().mod_revision();
      if (revision < next_revision_) continue;  // already delivered before a reconnect
      if (revision != update.revision && !update.changes.empty()) {
        callback_(update);
        next_revision_ = update.revision + 1;
        update.changes.clear();
      }
      update.revision = revision;
      StoreWatchUpdate::Change change;
      change.kind = event.type() == mvccpb::Event::DELETE ? StoreWrite::Kind::kDelete
                                                          : StoreWrite::Kind::kPut;
      change.key = event.kv().key().substr(strip_bytes_);
      change.value = event.kv().value();
      update.changes.push_back(std::move(change));
    }
    if (!update.changes.empty()) {
      callback_(update);
      next_revision_ = update.revision + 1;
    }
  }

  std::shared_ptr<EtcdClient> client_;
  std::shared_ptr<std::atomic<int64_t>> restarts_;
  const std::string key_prefix_;
  const size_t strip_bytes_;
  int64_t next_revision_;  // only touched by the watch thread
  StoreWatchCallback callback_;
  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;
};

absl::StatusOr<std::unique_ptr<EtcdStore>> EtcdStore::Open(std::shared_ptr<EtcdClient> client,
                                                           const EtcdStoreOptions& options) {
  if (client == nullptr) return absl::InvalidArgumentError("etcd store: no client");
  if (options.cluster.empty() ||
      options.cluster.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                        "0123456789._-") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("etcd store: cluster name '", options.cluster,
                                                   "' must match [A-Za-z0-9._-]+"));
  }
  std::unique_ptr<EtcdStore> store(new EtcdStore(std::move(client), options));
  etcdserverpb::RangeRequest probe;
  probe.set_key(store->leader_key_);
  probe.set_count_only(true);
  if (auto r = store->client_->Range(probe); !r.ok()) {
    return absl::UnavailableError(
        absl::StrCat("etcd store: etcd does not answer: ", r.status().message()));
  }
  return store;
}

EtcdStore::EtcdStore(std::shared_ptr<EtcdClient> client, EtcdStoreOptions options)
    : client_(std::move(client)),
      options_(std::move(options)),
      state_prefix_(EtcdStatePrefix(options_.cluster)),
      leader_key_(EtcdLeaderKey(options_.cluster)) {}

absl::StatusOr<int64_t> EtcdStore::Apply(const WriteBatch& batch) {
  if (batch.empty()) return absl::InvalidArgumentError("etcd store: empty batch");
  const int64_t generation = fence_generation_.load();
  if (generation <= 0) {
    return absl::FailedPreconditionError("etcd store: not the leader; writes go to the leader");
  }
  // etcd refuses a txn that touches one key twice; the last write to a key wins, as documented.
  std::map<std::string, const StoreWrite*> last_write;
  for (const StoreWrite& w : batch.writes()) {
    if (w.key.empty()) return absl::InvalidArgumentError("etcd store: empty key in batch");
    last_write[w.key] = &w;
  }
  if (last_write.size() > options_.max_txn_ops) {
    return absl::InvalidArgumentError(absl::StrCat("etcd store: batch touches ", last_write.size(),
                                                   " keys, more than max_txn_ops ",
                                                   options_.max_txn_ops));
  }
  etcdserverpb::TxnRequest txn;
  auto* compare = txn.add_compare();
  compare->set_key(leader_key_);
  compare->set_target(etcdserverpb::Compare::CREATE);
  compare->set_result(etcdserverpb::Compare::EQUAL);
  compare->set_create_revision(generation);
  for (const auto& [key, write] : last_write) {
    auto* op = txn.add_success();
    if (write->kind == StoreWrite::Kind::kPut) {
      op->mutable_request_put()->set_key(state_prefix_ + key);
      op->mutable_request_put()->set_value(write->value);
    } else {
      op->mutable_request_delete_range()->set_key(state_prefix_ + key);
    }
  }
  absl::StatusOr<etcdserverpb::TxnResponse> response = client_->Txn(txn);
  if (!response.ok()) return response.status();
  if (!response->succeeded()) {
    return absl::FailedPreconditionError(
        absl::StrCat("etcd store: write refused, this replica was deposed (", leader_key_,
                     " is no longer the one created at generation ", generation, ")"));
  }
  return response->header().revision();
}

absl::StatusOr<StoreSnapshot> EtcdStore::LoadAll() {
  etcdserverpb::RangeRequest request;
  request.set_key(state_prefix_);
  request.set_range_end(EtcdClient::PrefixEnd(state_prefix_));
  absl::StatusOr<etcdserverpb::RangeResponse> response = client_->Range(request);
  if (!response.ok()) return response.status();
  if (response->more()) {
    return absl::InternalError("etcd store: LoadAll got a partial range without asking for one");
  }
  StoreSnapshot snapshot;
  snapshot.revision = response->header().revision();
  for (const mvccpb::KeyValue& kv : response->kvs()) {
    snapshot.entries.emplace(kv.key().substr(state_prefix_.size()), kv.value());
  }
  return snapshot;
}

absl::StatusOr<std::unique_ptr<StoreWatch>> EtcdStore::Watch(absl::string_view prefix,
                                                             int64_t after_revision,
                                                             StoreWatchCallback callback) {
  if (!callback) return absl::InvalidArgumentError("etcd store: watch without a callback");
  if (after_revision < 0) return absl::InvalidArgumentError("etcd store: negative revision");
  return std::unique_ptr<StoreWatch>(new EtcdWatch(client_, absl::StrCat(state_prefix_, prefix),
                                                   state_prefix_.size(), after_revision,
                                                   std::move(callback), watch_restarts_));
}

std::string EtcdStore::Describe() const {
  int64_t generation = fence_generation_.load();
  return absl::StrCat("etcd store at ", absl::StrJoin(client_->options().endpoints, ","), " under ",
                      state_prefix_,
                      generation > 0 ? absl::StrCat(", leader at generation ", generation)
                                     : std::string(", follower"),
                      ", watch streams reopened ", watch_restarts_->load());
}

}  // namespace pulse::controller
