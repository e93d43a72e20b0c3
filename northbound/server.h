// The pulse.v1 gRPC server: every service on the callback API, over TLS (optionally mutual) or,
// only when asked, plaintext; bearer-token auth (northbound/auth.h); gRPC health and reflection.
//
// Handlers never block: reads answer from the controller's latest snapshot; writes post to the
// controller thread and finish the call from its reply. WatchEvents is a server-streaming reactor
// fed by the controller's event log.
#ifndef PULSE_NORTHBOUND_SERVER_H_
#define PULSE_NORTHBOUND_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "controller/controller.h"
#include "controller/fabric_sync/fabric_sync.h"
#include "controller/health/lossless_counters.h"
#include "northbound/auth.h"
#include "northbound/auth_gate.h"
#include "northbound/convert.h"

namespace grpc {
class Server;
class Service;
}  // namespace grpc

namespace pulse::northbound {

struct TlsFiles {
  std::string cert_file;       // PEM server certificate (chain)
  std::string key_file;        // PEM private key
  std::string client_ca_file;  // PEM CA; when set, clients must present a certificate it signed
};

struct ApiServerOptions {
  std::string listen_address = "127.0.0.1:50051";  // port 0 picks a free port (see port())
  bool insecure = false;  // plaintext; must be set explicitly when no TLS is given
  TlsFiles tls;
  std::vector<Token> tokens;  // empty: authentication off
  ApiLimits limits;
  // Where GetDiscovery reads (FabricSync::Discovery); unset in planning mode, where GetDiscovery
  // answers FAILED_PRECONDITION. Called on gRPC threads, so it must be thread-safe and quick.
  std::function<absl::StatusOr<controller::DiscoveryReport>()> discovery;
  // Measured load per directed link (TelemetryLoop::MeasuredLinkLoadBps: indexed by
  // DirectedLinkId, NaN = not measured), shown by ListLinks/TopLinks next to the planned load.
  // Unset: the measured fields stay empty. Called on gRPC threads: thread-safe and quick.
  std::function<std::vector<double>()> measured_link_load_bps;
  // PFC/ECN totals per directed link (SonicRuntime::LinkCounters: indexed by DirectedLinkId),
  // shown by ListLinks/TopLinks. Unset or not reported: those fields stay empty. gRPC threads.
  std::function<std::vector<controller::LinkLosslessCounters>()> lossless_link_counters;
  // Measured bandwidth per job (TelemetryLoop::MeasuredJobBandwidth), returned by GetJob and
  // ListJobs next to the prediction. Unset: those fields stay empty. Thread-safe and quick.
  std::function<controller::JobBandwidthPtr()> measured_job_bandwidth;
  // Called with (method, seconds) for every finished RPC (northbound/rpc_latency.h). Unset: off.
  std::function<void(const std::string& method, double seconds)> rpc_latency_observer;
  // Cluster mode (controller/cluster/replica.h): the leader's API address while another replica
  // leads, else "". PlaceJob and DeleteJob at a follower are then forwarded there (one hop,
  // plaintext, the caller's bearer token passed on) and the leader's answer returned. Unset: never
  // forward.
  std::function<std::string()> forward_writes_to;
  // Services owned elsewhere served on the same port with the same TLS and auth (e.g. the
  // QosService of northbound/qos_service.h), each wrapped by GateService (auth_gate.h) so the
  // role table applies to it. Not owned; must outlive the server.
  std::vector<GatedService*> extra_services;
};

class ApiServer {
 public:
  // Binds and starts serving. Errors name the option: "tls.cert: ...", "listen: cannot bind ...".
  static absl::StatusOr<std::unique_ptr<ApiServer>> Start(controller::Controller* controller,
                                                          ApiServerOptions options);
  ~ApiServer();  // Shutdown(0)

  int port() const { return port_; }
  // Stops accepting calls, gives running calls (event streams included) `grace` to end, then
  // cancels them. Safe to call more than once. The controller must outlive this call.
  void Shutdown(absl::Duration grace);
  // Sets one named service's grpc.health.v1 status, e.g. "pulse.cluster.leader": SERVING on the
  // cluster leader, NOT_SERVING on followers. The whole server's status ("") is not affected.
  void SetServingStatus(const std::string& service, bool serving);

  struct Services;

 private:
  ApiServer() = default;
  std::unique_ptr<Services> services_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace pulse::northbound

#endif  // PULSE_NORTHBOUND_SERVER_H_
