// EtcdClient: a thin, Status-returning wrapper over etcd's v3 gRPC API (the subset in
// proto/etcd/), shared by EtcdStore and LeaderElection.
//
// One gRPC channel spans every endpoint of the etcd cluster with round-robin balancing, so when a
// member dies its connection drops out and calls go to the members that are left. Unary calls
// are tried in attempts of a third of rpc_timeout; an attempt that fails with UNAVAILABLE or runs
// out of time (a member died under it, or the raft leader died and etcd dropped the proposal) is
// retried until rpc_timeout is spent, so every call is bounded by rpc_timeout.
// Thread-safe: any thread may call any method.
#ifndef PULSE_CONTROLLER_STORE_ETCD_CLIENT_H_
#define PULSE_CONTROLLER_STORE_ETCD_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proto/etcd/etcdserverpb/rpc.grpc.pb.h"

namespace grpc {
class Channel;
class ClientContext;
}  // namespace grpc

namespace pulse::controller {

struct EtcdClientOptions {
  // "127.0.0.1:2379" or "http://127.0.0.1:2379". Several endpoints must be IPv4 literals (they
  // become one "ipv4:" target); a single endpoint may be a host name.
  std::vector<std::string> endpoints;
  absl::Duration rpc_timeout = absl::Seconds(2);
};

class EtcdClient {
 public:
  // Builds the channel; does not wait for a connection (the first call does, up to its deadline).
  static absl::StatusOr<std::shared_ptr<EtcdClient>> Connect(const EtcdClientOptions& options);

  absl::StatusOr<etcdserverpb::RangeResponse> Range(const etcdserverpb::RangeRequest& request);
  absl::StatusOr<etcdserverpb::TxnResponse> Txn(const etcdserverpb::TxnRequest& request);
  absl::StatusOr<etcdserverpb::PutResponse> Put(const etcdserverpb::PutRequest& request);

  // A new lease of `ttl_s` seconds; returns its id.
  absl::StatusOr<int64_t> LeaseGrant(int64_t ttl_s);
  // Revokes the lease, deleting every key attached to it. A lease that no longer exists is OK.
  absl::Status LeaseRevoke(int64_t lease_id);
  // One keepalive round trip; returns the lease's renewed TTL in seconds, or NotFound if etcd
  // says the lease no longer exists (it expired or was revoked). `timeout` (if > 0) bounds the
  // call more tightly than rpc_timeout, so a renewal never outlives the lease it renews.
  absl::StatusOr<int64_t> LeaseKeepAliveOnce(int64_t lease_id,
                                             absl::Duration timeout = absl::ZeroDuration());

  // For streaming watches (see EtcdStore); contexts should carry NewStreamContext's metadata.
  etcdserverpb::Watch::Stub* watch_stub() { return watch_.get(); }
  // A context for long-lived streams: no deadline, and etcd's "hasleader" requirement so a
  // member cut off from the raft leader ends the stream instead of going silent.
  static std::unique_ptr<grpc::ClientContext> NewStreamContext();

  absl::Duration rpc_timeout() const { return options_.rpc_timeout; }
  const EtcdClientOptions& options() const { return options_; }

  // The end of the key range holding every key that starts with `prefix` (etcd's range_end).
  static std::string PrefixEnd(absl::string_view prefix);

 private:
  EtcdClient(EtcdClientOptions options, std::shared_ptr<grpc::Channel> channel);

  const EtcdClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<etcdserverpb::KV::Stub> kv_;
  std::unique_ptr<etcdserverpb::Lease::Stub> lease_;
  std::unique_ptr<etcdserverpb::Watch::Stub> watch_;
};

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_STORE_ETCD_CLIENT_H_
