#include "controller/store/etcd_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace pulse::controller {
namespace {

absl::Status FromGrpc(const grpc::Status& status, absl::string_view what) {
  if (status.ok()) return absl::OkStatus();
  // gRPC and Abseil share the canonical code numbering.
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat("etcd ", what, ": ", status.error_message()));
}

// Runs `call(context)` until it succeeds, fails for a reason other than an unreachable member,
// or `timeout` passes. Each attempt gets a third of the time: a write that reached a follower
// just as the raft leader died is silently dropped by etcd and would otherwise hang until the
// overall deadline, while a fresh attempt lands once a new raft leader is up (about a second).
// Retrying is safe for everything we send: puts and deletes of fixed values, reads, and
// transactions guarded by compares.
template <typename Call>
absl::Status CallWithRetry(absl::Duration timeout, absl::string_view what, Call call) {
  const absl::Time deadline = absl::Now() + timeout;
  const absl::Duration attempt_timeout = std::max(timeout / 3, absl::Milliseconds(250));
  while (true) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(std::min(deadline, absl::Now() + attempt_timeout)));
    context.set_wait_for_ready(true);
    grpc::Status status = call(&context);
    bool retryable = status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                     status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
    if (!retryable || absl::Now() + absl::Milliseconds(50) >= deadline) {
      return FromGrpc(status, what);
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
}

}  // namespace

std::string EtcdClient::PrefixEnd(absl::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    unsigned char last = static_cast<unsigned char>(end.back());
    if (last < 0xFF) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

absl::StatusOr<std::shared_ptr<EtcdClient>> EtcdClient::Connect(const EtcdClientOptions& options) {
  if (options.endpoints.empty()) return absl::InvalidArgumentError("etcd client: no endpoints");
  std::vector<std::string> hosts;
  for (const std::string& endpoint : options.endpoints) {
    absl::string_view host = endpoint;
    if (absl::StartsWith(host, "http://")) host.remove_prefix(7);
    if (absl::StartsWith(host, "https://")) {
      return absl::InvalidArgumentError(
          absl::StrCat("etcd client: TLS endpoints are not supported yet: ", endpoint));
    }
    if (host.empty() || host.find(':') == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("etcd client: endpoint '", endpoint, "' is not host:port"));
    }
    hosts.emplace_back(host);
  }
  std::string target;
  if (hosts.size() == 1) {
    target = hosts[0];
  } else {
    for (const std::string& host : hosts) {
      absl::string_view ip = absl::string_view(host).substr(0, host.rfind(':'));
      if (ip.empty() || ip.find_first_not_of("0123456789.") != absl::string_view::npos) {
        return absl::InvalidArgumentError(absl::StrCat(
            "etcd client: with several endpoints each must be an IPv4 address: ", host));
      }
    }
    target = absl::StrCat("ipv4:", absl::StrJoin(hosts, ","));
  }
  grpc::ChannelArguments args;
  args.SetLoadBalancingPolicyName("round_robin");
  args.SetMaxReceiveMessageSize(-1);
  // Reconnect to a restarted member quickly; the defaults back off up to two minutes.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // Each client keeps its own connections, as separate controller processes would.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  if (channel == nullptr) {
    return absl::InternalError(absl::StrCat("etcd client: cannot create channel to ", target));
  }
  return std::shared_ptr<EtcdClient>(new EtcdClient(options, std::move(channel)));
}

EtcdClient::EtcdClient(EtcdClientOptions options, std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)),
      channel_(std::move(channel)),
      kv_(etcdserverpb::KV::NewStub(channel_)),
      lease_(etcdserverpb::Lease::NewStub(channel_)),
      watch_(etcdserverpb::Watch::NewStub(channel_)) {}

std::unique_ptr<grpc::ClientContext> EtcdClient::NewStreamContext() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("hasleader", "true");
  context->set_wait_for_ready(true);
  return context;
}

absl::StatusOr<etcdserverpb::RangeResponse> EtcdClient::Range(
    const etcdserverpb::RangeRequest& request) {
  etcdserverpb::RangeResponse response;
  absl::Status s = CallWithRetry(options_.rpc_timeout, "Range", [&](grpc::ClientContext* c) {
    return kv_->Range(c, request, &response);
  });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<etcdserverpb::TxnResponse> EtcdClient::Txn(const etcdserverpb::TxnRequest& request) {
  etcdserverpb::TxnResponse response;
  absl::Status s = CallWithRetry(options_.rpc_timeout, "Txn", [&](grpc::ClientContext* c) {
    return kv_->Txn(c, request, &response);
  });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<etcdserverpb::PutResponse> EtcdClient::Put(const etcdserverpb::PutRequest& request) {
  etcdserverpb::PutResponse response;
  absl::Status s = CallWithRetry(options_.rpc_timeout, "Put", [&](grpc::ClientContext* c) {
    return kv_->Put(c, request, &response);
  });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<int64_t> EtcdClient::LeaseGrant(int64_t ttl_s) {
  etcdserverpb::LeaseGrantRequest request;
  request.set_ttl(ttl_s);
  etcdserverpb::LeaseGrantResponse response;
  absl::Status s = CallWithRetry(options_.rpc_timeout, "LeaseGrant", [&](grpc::ClientContext* c) {
    return lease_->LeaseGrant(c, request, &response);
  });
  if (!s.ok()) return s;
  if (!response.error().empty()) {
    return absl::UnavailableError(absl::StrCat("etcd LeaseGrant: ", response.error()));
  }
  return response.id();
}

absl::Status EtcdClient::LeaseRevoke(int64_t lease_id) {
  etcdserverpb::LeaseRevokeRequest request;
  request.set_id(lease_id);
  etcdserverpb::LeaseRevokeResponse response;
  absl::Status s = CallWithRetry(options_.rpc_timeout, "LeaseRevoke", [&](grpc::ClientContext* c) {
    return lease_->LeaseRevoke(c, request, &response);
  });
  if (s.code() == absl::StatusCode::kNotFound) return absl::OkStatus();  // already gone
  return s;
}

absl::StatusOr<int64_t> EtcdClient::LeaseKeepAliveOnce(int64_t lease_id, absl::Duration timeout) {
  if (timeout <= absl::ZeroDuration() || timeout > options_.rpc_timeout) {
    timeout = options_.rpc_timeout;
  }
  etcdserverpb::LeaseKeepAliveResponse response;
  bool got_response = false;
  // A short stream per renewal keeps every round trip bounded by the deadline; at one renewal
  // every TTL/3 the cost does not matter.
  absl::Status s = CallWithRetry(timeout, "LeaseKeepAlive", [&](grpc::ClientContext* c) {
    auto stream = lease_->LeaseKeepAlive(c);
    etcdserverpb::LeaseKeepAliveRequest request;
    request.set_id(lease_id);
    got_response = stream->Write(request) && stream->Read(&response);
    stream->WritesDone();
    if (got_response) {
      c->TryCancel();  // we have what we came for; do not wait for the server to close
      stream->Finish().IgnoreError();
      return grpc::Status::OK;
    }
    return stream->Finish();
  });
  if (!s.ok()) return s;
  if (!got_response)
    return absl::UnavailableError("etcd LeaseKeepAlive: stream closed without a reply");
  if (response.ttl() <= 0) {
    return absl::NotFoundError(
        absl::StrCat("etcd lease ", lease_id, " has expired or was revoked"));
  }
  return response.ttl();
}

}  // namespace pulse::controller
