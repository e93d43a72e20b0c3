#include "northbound/server.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "northbound/auth_gate.h"
#include "northbound/decode_errors.h"
#include "northbound/dry_run.h"
#include "northbound/listen_check.h"
#include "northbound/reply_pages.h"
#include "northbound/rpc_latency.h"
#include "pulse/v1/pulse.grpc.pb.h"

namespace pulse::northbound {
namespace {

using controller::Controller;
using grpc::CallbackServerContext;
using grpc::ServerUnaryReactor;

// Counts event streams whose reactor still exists, so Shutdown can wait for every OnDone (and its
// EventLog::Unsubscribe) before the controller may go away.
class LiveStreams {
 public:
  void Enter() {
    std::lock_guard<std::mutex> lock(mu_);
    ++count_;
  }
  void Leave() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--count_ == 0) cv_.notify_all();
  }
  void WaitForNone() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return count_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_ = 0;
};

// Everything a handler needs.
struct Env {
  Controller* controller = nullptr;
  bool auth_enabled = false;  // tokens given: the auth interceptor checks every call
  ApiLimits limits;
  LiveStreams* streams = nullptr;
  std::function<absl::StatusOr<controller::DiscoveryReport>()> discovery;  // empty: planning mode
  std::function<std::vector<double>()> measured_link_load_bps;             // empty: no telemetry
  std::function<std::vector<controller::LinkLosslessCounters>()> lossless_link_counters;
  std::function<controller::JobBandwidthPtr()> measured_job_bandwidth;  // empty: no telemetry
  std::function<std::string()> forward_writes_to;                       // see ApiServerOptions
  // Stubs to the leader by address, made on first use.
  mutable std::mutex forward_mu;
  mutable std::map<std::string, std::shared_ptr<pulse::v1::JobService::Stub>> forward_stubs;
};

// Marks a forwarded call, so a replica that also thinks someone else leads answers it itself
// (its write gate refuses it naming the leader) instead of forwarding again: one hop at most.
constexpr char kForwardedHeader[] = "pulse-forwarded";

// A write forwarded to the leader: the client side of the call, alive until it completes.
struct ForwardedCall {
  grpc::ClientContext client;
  std::shared_ptr<pulse::v1::JobService::Stub> stub;
};

// The call to make to the leader for this request, or null to handle it here.
std::shared_ptr<ForwardedCall> ForwardToLeader(const Env& env,
                                               const CallbackServerContext& context) {
  if (!env.forward_writes_to) return nullptr;
  if (context.client_metadata().count(kForwardedHeader) > 0) return nullptr;
  std::string leader = env.forward_writes_to();
  if (leader.empty()) return nullptr;
  auto call = std::make_shared<ForwardedCall>();
  {
    std::lock_guard<std::mutex> lock(env.forward_mu);
    auto& stub = env.forward_stubs[leader];
    if (stub == nullptr) {
      stub = pulse::v1::JobService::NewStub(
          grpc::CreateChannel(leader, grpc::InsecureChannelCredentials()));
    }
    call->stub = stub;
  }
  call->client.AddMetadata(kForwardedHeader, "1");
  auto auth = context.client_metadata().find("authorization");
  if (auth != context.client_metadata().end()) {
    call->client.AddMetadata("authorization",
                             std::string(auth->second.data(), auth->second.size()));
  }
  call->client.set_deadline(
      std::min(context.deadline(), std::chrono::system_clock::now() + std::chrono::seconds(30)));
  return call;
}

// Finishes `reactor` with `status` and returns it: the common early exit.
ServerUnaryReactor* FinishNow(CallbackServerContext* context, const grpc::Status& status) {
  ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

class TopologyServiceImpl final : public pulse::v1::TopologyService::CallbackService {
 public:
  explicit TopologyServiceImpl(const Env* env) : env_(env) {}

  ServerUnaryReactor* GetTopology(CallbackServerContext* context,
                                  const pulse::v1::GetTopologyRequest*,
                                  pulse::v1::GetTopologyResponse* response) override {
    FillTopology(*env_->controller->snapshot(), response->mutable_topology());
    return FinishNow(context, grpc::Status::OK);
  }

  ServerUnaryReactor* GetDiscovery(CallbackServerContext* context,
                                   const pulse::v1::GetDiscoveryRequest*,
                                   pulse::v1::GetDiscoveryResponse* response) override {
    if (!env_->discovery) {
      return FinishNow(context, grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                             "no switches attached (planning mode)"));
    }
    absl::StatusOr<controller::DiscoveryReport> report = env_->discovery();
    if (!report.ok()) return FinishNow(context, ToGrpcStatus(report.status()));
    FillDiscovery(env_->controller->fabric(), *report, response);
    return FinishNow(context, grpc::Status::OK);
  }

 private:
  const Env* env_;
};

class JobServiceImpl final : public pulse::v1::JobService::CallbackService {
 public:
  explicit JobServiceImpl(const Env* env) : env_(env) {}

  ServerUnaryReactor* PlaceJob(CallbackServerContext* context,
                               const pulse::v1::PlaceJobRequest* request,
                               pulse::v1::PlaceJobResponse* response) override {
    absl::StatusOr<controller::JobSpec> spec =
        JobSpecFromRequest(*request, env_->controller->fabric(), env_->limits);
    if (!spec.ok()) return FinishNow(context, ToGrpcStatus(spec.status()));
    ServerUnaryReactor* reactor = context->DefaultReactor();
    if (request->validate_only()) {  // a dry run: any replica answers from its own state
      ValidateOnlyPlaceJob(env_->controller, *std::move(spec), reactor, response);
      return reactor;
    }
    if (auto call = ForwardToLeader(*env_, *context); call != nullptr) {
      call->stub->async()->PlaceJob(&call->client, request, response,
                                    [reactor, call](grpc::Status s) { reactor->Finish(s); });
      return reactor;
    }
    const controller::Fabric* fabric = &env_->controller->fabric();
    const size_t budget = ReplyBudgetBytes(env_->limits);
    env_->controller->PlaceJob(*std::move(spec), [reactor, response, fabric, budget](
                                                     absl::StatusOr<controller::PlaceJobResult> r) {
      if (!r.ok()) {
        reactor->Finish(ToGrpcStatus(r.status()));
        return;
      }
      FillJob(*fabric, r->job, true, response->mutable_job());
      FitJobWithFlows(response->mutable_job(), budget);  // placed: the reply must fit
      response->set_event_sequence(r->event_sequence);
      reactor->Finish(grpc::Status::OK);
    });
    return reactor;
  }

  ServerUnaryReactor* GetJob(CallbackServerContext* context,
                             const pulse::v1::GetJobRequest* request,
                             pulse::v1::GetJobResponse* response) override {
    if (request->id().empty()) {
      return FinishNow(context,
                       grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "id: must not be empty"));
    }
    controller::SnapshotPtr snapshot = env_->controller->snapshot();
    const controller::JobPlacement* job = snapshot->placement.FindJob(request->id());
    if (job == nullptr) {
      return FinishNow(
          context, grpc::Status(grpc::StatusCode::NOT_FOUND,
                                absl::StrCat("id: no job '", CapEcho(request->id(), 256), "'")));
    }
    FillJob(*snapshot->fabric, *job, true, response->mutable_job());
    FillMeasured(response->mutable_job());
    absl::StatusOr<uint64_t> next =
        PageJobFlows(response->mutable_job(), request->flow_offset(), request->flow_limit(),
                     ReplyBudgetBytes(env_->limits));
    if (!next.ok()) return FinishNow(context, ToGrpcStatus(next.status()));
    response->set_next_flow_offset(*next);
    return FinishNow(context, grpc::Status::OK);
  }

  ServerUnaryReactor* ListJobs(CallbackServerContext* context,
                               const pulse::v1::ListJobsRequest* request,
                               pulse::v1::ListJobsResponse* response) override {
    controller::SnapshotPtr snapshot = env_->controller->snapshot();
    FillJobsPage(*snapshot, *request, ReplyBudgetBytes(env_->limits), response);
    for (pulse::v1::Job& job : *response->mutable_jobs()) FillMeasured(&job);
    return FinishNow(context, grpc::Status::OK);
  }

  // The measured-bandwidth fields (a few bytes a job, outside the reply budget's count).
  void FillMeasured(pulse::v1::Job* job) const {
    if (!env_->measured_job_bandwidth) return;
    const controller::JobBandwidthPtr measured = env_->measured_job_bandwidth();
    FillMeasuredBandwidth(measured.get(), absl::ToUnixMillis(absl::Now()), job);
  }

  ServerUnaryReactor* DeleteJob(CallbackServerContext* context,
                                const pulse::v1::DeleteJobRequest* request,
                                pulse::v1::DeleteJobResponse* response) override {
    if (request->id().empty()) {
      return FinishNow(context,
                       grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "id: must not be empty"));
    }
    ServerUnaryReactor* reactor = context->DefaultReactor();
    if (auto call = ForwardToLeader(*env_, *context); call != nullptr) {
      call->stub->async()->DeleteJob(&call->client, request, response,
                                     [reactor, call](grpc::Status s) { reactor->Finish(s); });
      return reactor;
    }
    env_->controller->DeleteJob(request->id(), [reactor, response](absl::StatusOr<uint64_t> r) {
      if (!r.ok()) {
        reactor->Finish(ToGrpcStatus(
            absl::Status(r.status().code(), absl::StrCat("id: ", r.status().message()))));
        return;
      }
      response->set_event_sequence(*r);
      reactor->Finish(grpc::Status::OK);
    });
    return reactor;
  }

 private:
  const Env* env_;
};

class LinkServiceImpl final : public pulse::v1::LinkService::CallbackService {
 public:
  explicit LinkServiceImpl(const Env* env) : env_(env) {}

  ServerUnaryReactor* ListLinks(CallbackServerContext* context, const pulse::v1::ListLinksRequest*,
                                pulse::v1::ListLinksResponse* response) override {
    controller::SnapshotPtr snapshot = env_->controller->snapshot();
    const std::vector<double> measured = MeasuredLoad();
    const std::vector<controller::LinkLosslessCounters> lossless = Lossless();
    for (int d = 0; d < snapshot->fabric->num_directed_links(); ++d) {
      FillLinkLoad(*snapshot, d, &measured, response->add_links());
      FillLosslessCounters(lossless, d, response->mutable_links(response->links_size() - 1));
    }
    return FinishNow(context, grpc::Status::OK);
  }

  ServerUnaryReactor* TopLinks(CallbackServerContext* context,
                               const pulse::v1::TopLinksRequest* request,
                               pulse::v1::TopLinksResponse* response) override {
    if (request->n() < 1 || request->n() > 10000) {
      return FinishNow(context,
                       grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                    absl::StrCat("n: must be 1..10000, got ", request->n())));
    }
    controller::SnapshotPtr snapshot = env_->controller->snapshot();
    std::vector<controller::DirectedLinkId> order(snapshot->fabric->num_directed_links());
    for (size_t d = 0; d < order.size(); ++d) order[d] = static_cast<int>(d);
    size_t n = std::min<size_t>(request->n(), order.size());
    std::partial_sort(order.begin(), order.begin() + n, order.end(), [&](int a, int b) {
      double ua = snapshot->placement.Utilisation(a), ub = snapshot->placement.Utilisation(b);
      return ua != ub ? ua > ub : a < b;
    });
    const std::vector<double> measured = MeasuredLoad();
    const std::vector<controller::LinkLosslessCounters> lossless = Lossless();
    for (size_t i = 0; i < n; ++i) {
      FillLinkLoad(*snapshot, order[i], &measured, response->add_links());
      FillLosslessCounters(lossless, order[i], response->mutable_links(response->links_size() - 1));
    }
    return FinishNow(context, grpc::Status::OK);
  }

 private:
  std::vector<double> MeasuredLoad() const {
    return env_->measured_link_load_bps ? env_->measured_link_load_bps() : std::vector<double>();
  }
  std::vector<controller::LinkLosslessCounters> Lossless() const {
    return env_->lossless_link_counters ? env_->lossless_link_counters()
                                        : std::vector<controller::LinkLosslessCounters>();
  }
  static void FillLosslessCounters(const std::vector<controller::LinkLosslessCounters>& all, int d,
                                   pulse::v1::LinkLoad* out) {
    if (d < 0 || static_cast<size_t>(d) >= all.size() || !all[d].reported) return;
    out->set_pfc_pause_rx_frames(all[d].pfc_pause_rx_frames);
    out->set_pfc_pause_tx_frames(all[d].pfc_pause_tx_frames);
    out->set_ecn_marked_packets(all[d].ecn_marked_packets);
  }

  const Env* env_;
};

// Streams events in order. One write in flight at a time; new events wake it through an event
// log listener. Finish is only ever called from a gRPC reactor callback (or the constructor) and
// only when no write is in flight, so no Write can follow it.
class WatchEventsReactor final : public grpc::ServerWriteReactor<pulse::v1::Event> {
 public:
  WatchEventsReactor(const Env* env, CallbackServerContext* /*context*/, uint64_t from_sequence)
      : env_(env), log_(env->controller->events()) {
    env_->streams->Enter();
    next_sequence_ = from_sequence == 0 ? log_.last_sequence() + 1 : from_sequence;
    if (from_sequence > log_.last_sequence() + 1) {  // a token this controller never issued
      FinishFromConstructor(grpc::Status(
          grpc::StatusCode::OUT_OF_RANGE,
          absl::StrCat("from_sequence: ", from_sequence, " is ahead of the last event (",
                       log_.last_sequence(), "); resume from at most ", log_.last_sequence() + 1,
                       ", or 0 for new events only")));
      return;
    }
    if (from_sequence != 0 && from_sequence < log_.oldest_sequence()) {
      absl::StatusOr<std::vector<controller::Event>> probe = log_.ReadFrom(from_sequence, 1);
      if (!probe.ok()) {
        FinishFromConstructor(
            grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                         absl::StrCat("from_sequence: ", probe.status().message())));
        return;
      }
    }
    int id = log_.Subscribe([this] { Pump(); });  // not under mu_: listeners take mu_
    {
      // Under mu_ so OnDone (another thread, ordered by gRPC in ways TSAN cannot see) reads
      // these after a visible happens-before edge.
      std::lock_guard<std::mutex> lock(mu_);
      listener_id_ = id;
      subscribed_ = true;
    }
    Pump();
  }

  void OnWriteDone(bool ok) override {
    grpc::Status finish_status;
    bool finish_now = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      if (!ok || cancelled_) {
        finished_ = finish_now = true;
        finish_status = grpc::Status(grpc::StatusCode::CANCELLED, "stream ended");
      } else if (!pending_finish_.ok()) {
        finished_ = finish_now = true;
        finish_status = pending_finish_;
      }
    }
    if (finish_now) {
      Finish(finish_status);
      return;
    }
    Pump();
  }

  void OnCancel() override {
    bool finish_now = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_ = true;
      if (!writing_ && !finished_) {
        finished_ = true;
        finish_now = true;
      }
    }
    if (finish_now) Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
  }

  void OnDone() override {
    bool subscribed;
    int listener_id;
    {
      std::lock_guard<std::mutex> lock(mu_);
      subscribed = subscribed_;
      listener_id = listener_id_;
    }
    if (subscribed) log_.Unsubscribe(listener_id);
    LiveStreams* streams = env_->streams;
    delete this;
    streams->Leave();
  }

 private:
  // Passing through mu_ before Finish gives OnDone (which starts by taking mu_ on another thread)
  // a happens-before edge TSAN can see; gRPC's own ordering is invisible to it.
  void FinishFromConstructor(const grpc::Status& status) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      finished_ = true;
    }
    Finish(status);
  }

  // Starts the next write if none is in flight and an event is waiting.
  void Pump() {
    std::unique_lock<std::mutex> lock(mu_);
    if (writing_ || finished_ || cancelled_ || !pending_finish_.ok()) return;
    absl::StatusOr<std::vector<controller::Event>> events = log_.ReadFrom(next_sequence_, 1);
    if (!events.ok()) {
      // Fell behind the ring: say so in-band, then end the stream with OUT_OF_RANGE.
      event_.Clear();
      event_.set_sequence(next_sequence_);
      event_.set_type(pulse::v1::EVENT_TYPE_RESYNC_NEEDED);
      event_.set_detail(std::string(events.status().message()));
      pending_finish_ =
          grpc::Status(grpc::StatusCode::OUT_OF_RANGE, std::string(events.status().message()));
    } else if (events->empty()) {
      return;
    } else {
      event_.Clear();
      FillEvent(events->front(), &event_);
      next_sequence_ = events->front().sequence + 1;
    }
    writing_ = true;
    lock.unlock();
    StartWrite(&event_);
  }

  const Env* env_;
  controller::EventLog& log_;
  int listener_id_ = 0;
  bool subscribed_ = false;

  std::mutex mu_;
  uint64_t next_sequence_ = 0;
  bool writing_ = false;
  bool finished_ = false;
  bool cancelled_ = false;
  grpc::Status pending_finish_ = grpc::Status::OK;  // sent after the write in flight completes
  pulse::v1::Event event_;                          // the write in flight
};

class EventServiceImpl final : public pulse::v1::EventService::CallbackService {
 public:
  explicit EventServiceImpl(const Env* env) : env_(env) {}

  grpc::ServerWriteReactor<pulse::v1::Event>* WatchEvents(
      CallbackServerContext* context, const pulse::v1::WatchEventsRequest* request) override {
    return new WatchEventsReactor(env_, context, request->from_sequence());
  }

 private:
  const Env* env_;
};

class MaintenanceServiceImpl final : public pulse::v1::MaintenanceService::CallbackService {
 public:
  explicit MaintenanceServiceImpl(const Env* env) : env_(env) {}

  ServerUnaryReactor* DrainSwitch(CallbackServerContext* context,
                                  const pulse::v1::DrainSwitchRequest* request,
                                  pulse::v1::DrainSwitchResponse* response) override {
    return Drain(context, request->switch_name(), true, response);
  }

  ServerUnaryReactor* UndrainSwitch(CallbackServerContext* context,
                                    const pulse::v1::UndrainSwitchRequest* request,
                                    pulse::v1::UndrainSwitchResponse* response) override {
    return Drain(context, request->switch_name(), false, response);
  }

 private:
  template <typename Response>
  ServerUnaryReactor* Drain(CallbackServerContext* context, const std::string& name, bool drain,
                            Response* response) {
    if (name.empty()) {
      return FinishNow(context, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                             "switch_name: must not be empty"));
    }
    ServerUnaryReactor* reactor = context->DefaultReactor();
    auto done = [reactor, response](absl::StatusOr<controller::DrainResult> r) {
      if (!r.ok()) {
        reactor->Finish(ToGrpcStatus(
            absl::Status(r.status().code(), absl::StrCat("switch_name: ", r.status().message()))));
        return;
      }
      response->set_flows_moved(r->flows_moved);
      response->set_links_affected(r->links_affected);
      response->set_event_sequence(r->event_sequence);
      reactor->Finish(grpc::Status::OK);
    };
    if (drain) {
      env_->controller->DrainSwitch(name, std::move(done));
    } else {
      env_->controller->UndrainSwitch(name, std::move(done));
    }
    return reactor;
  }

  const Env* env_;
};

absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view key) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(key, ": cannot read '", path, "'"));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// BuildAndStart says only that it failed: tell a taken port from bad TLS material by binding
// the address ourselves.
absl::Status DiagnoseStartFailure(const std::string& listen_address, bool has_tls) {
  absl::StatusOr<std::pair<std::string, uint16_t>> split = SplitListenAddress(listen_address);
  if (!split.ok()) return split.status();
  std::string bind_error = TryBind(split->first, split->second);
  if (!bind_error.empty()) {
    return absl::UnavailableError(
        absl::StrCat("listen: cannot bind ", listen_address, ": ", bind_error,
                     bind_error.find("in use") != std::string::npos
                         ? " (another pulse-controller, or another program, serves this port)"
                         : ""));
  }
  if (has_tls) {
    return absl::InvalidArgumentError(
        "tls: the server did not start with tls.cert / tls.key: they must be a PEM certificate "
        "(chain) and its matching PEM private key (tls.client_ca a PEM CA certificate)");
  }
  return absl::UnavailableError(
      absl::StrCat("listen: the server did not start on ", listen_address));
}

}  // namespace

struct ApiServer::Services {
  LiveStreams streams;
  Env env;
  TopologyServiceImpl topology{&env};
  JobServiceImpl jobs{&env};
  LinkServiceImpl links{&env};
  EventServiceImpl events{&env};
  MaintenanceServiceImpl maintenance{&env};
  std::vector<std::unique_ptr<GatedService>> gated;  // what the server registers
};

absl::StatusOr<std::unique_ptr<ApiServer>> ApiServer::Start(Controller* controller,
                                                            ApiServerOptions options) {
  std::shared_ptr<grpc::ServerCredentials> credentials;
  bool has_tls = !options.tls.cert_file.empty() || !options.tls.key_file.empty();
  if (has_tls) {
    if (options.tls.cert_file.empty()) return absl::InvalidArgumentError("tls.cert: missing");
    if (options.tls.key_file.empty()) return absl::InvalidArgumentError("tls.key: missing");
    absl::StatusOr<std::string> cert = ReadFile(options.tls.cert_file, "tls.cert");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadFile(options.tls.key_file, "tls.key");
    if (!key.ok()) return key.status();
    grpc::SslServerCredentialsOptions ssl(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    if (!options.tls.client_ca_file.empty()) {
      absl::StatusOr<std::string> ca = ReadFile(options.tls.client_ca_file, "tls.client_ca");
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *ca;
      ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
    }
    ssl.pem_key_cert_pairs.push_back({*key, *cert});
    credentials = grpc::SslServerCredentials(ssl);
  } else if (!options.tls.client_ca_file.empty()) {
    return absl::InvalidArgumentError("tls.client_ca: needs tls.cert and tls.key");
  } else if (options.insecure) {
    credentials = grpc::InsecureServerCredentials();
  } else {
    return absl::InvalidArgumentError(
        "tls.cert: missing; give tls.cert and tls.key, or set insecure: true for plaintext");
  }
  if (absl::StatusOr<std::pair<std::string, uint16_t>> split =
          SplitListenAddress(options.listen_address);
      !split.ok()) {
    return split.status();
  }
  if (options.limits.max_message_bytes < 1024) {
    return absl::InvalidArgumentError(absl::StrCat(
        "limits.max_message_bytes: must be at least 1024, got ", options.limits.max_message_bytes));
  }

  std::unique_ptr<ApiServer> server(new ApiServer());
  server->services_ = std::make_unique<Services>();
  server->services_->env.controller = controller;
  server->services_->env.auth_enabled = !options.tokens.empty();
  server->services_->env.limits = options.limits;
  server->services_->env.discovery = std::move(options.discovery);
  server->services_->env.measured_link_load_bps = std::move(options.measured_link_load_bps);
  server->services_->env.lossless_link_counters = std::move(options.lossless_link_counters);
  server->services_->env.measured_job_bandwidth = std::move(options.measured_job_bandwidth);
  server->services_->env.forward_writes_to = std::move(options.forward_writes_to);
  server->services_->env.streams = &server->services_->streams;

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen_address, credentials, &server->port_);
  // gRPC sets SO_REUSEPORT by default: a second daemon would then share the port and split the
  // clients between two states. The bind must be exclusive.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(options.limits.max_message_bytes);
  builder.SetMaxSendMessageSize(options.limits.max_message_bytes);
  // Auth once, for every call: the interceptor decides, the gated services enforce (auth_gate.h).
  Services& services = *server->services_;
  services.gated.push_back(GateService<pulse::v1::TopologyService>(&services.topology));
  services.gated.push_back(GateService<pulse::v1::JobService>(&services.jobs));
  services.gated.push_back(GateService<pulse::v1::LinkService>(&services.links));
  services.gated.push_back(GateService<pulse::v1::EventService>(&services.events));
  services.gated.push_back(GateService<pulse::v1::MaintenanceService>(&services.maintenance));
  for (const auto& gated : services.gated) builder.RegisterService(gated->service());
  for (GatedService* extra : options.extra_services) builder.RegisterService(extra->service());
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(MakeDecodeErrorInterceptor());
  creators.push_back(MakeAuthInterceptor(std::move(options.tokens)));
  if (options.rpc_latency_observer) {
    creators.push_back(MakeRpcLatencyInterceptor(std::move(options.rpc_latency_observer)));
  }
  builder.experimental().SetInterceptorCreators(std::move(creators));
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return DiagnoseStartFailure(options.listen_address, has_tls);
  }
  Log(LogLevel::kInfo, "API listening on ", options.listen_address, " (port ", server->port_, ", ",
      has_tls ? (options.tls.client_ca_file.empty() ? "TLS" : "mutual TLS") : "PLAINTEXT",
      ", auth ", server->services_->env.auth_enabled ? "on" : "off", ")");
  return server;
}

void ApiServer::SetServingStatus(const std::string& service, bool serving) {
  if (server_ != nullptr && server_->GetHealthCheckService() != nullptr) {
    server_->GetHealthCheckService()->SetServingStatus(service, serving);
  }
}

void ApiServer::Shutdown(absl::Duration grace) {
  if (server_ == nullptr) return;
  server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(grace));
  server_->Wait();
  services_->streams.WaitForNone();
  server_.reset();
}

ApiServer::~ApiServer() { Shutdown(absl::ZeroDuration()); }

}  // namespace pulse::northbound
