// pulse-controller: serves the pulse.v1 API for one fabric.
//
//   pulse-controller --config examples/pulse.yaml
//   pulse-controller --fabric examples/leaf-spine.yaml --insecure --listen 127.0.0.1:50051
//
// Given only a fabric it runs in planning mode: the API works, no switches are attached.
// Flags override the config file. SIGTERM / SIGINT shut it down cleanly.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/signal_set.hpp"
#include "controller/controller.h"
#include "controller/embedded_store.h"
#include "controller/fabric_sync.h"
#include "controller/log.h"
#include "controller/replica.h"
#include "controller/telemetry_loop.h"
#include "daemon/config.h"
#include "daemon/metrics_http.h"
#include "daemon/qos_runtime.h"
#include "northbound/auth.h"
#include "northbound/host_service.h"
#include "northbound/server.h"
#include "southbound/openflow/openflow_driver.h"
#include "southbound/sflow/collector.h"
#include "southbound/sflow/ovs_port_map.h"
#include "southbound/sflow/telemetry_adapter.h"
#include "topology/intent.h"

ABSL_FLAG(std::string, config, "", "YAML config file (see daemon/config.h)");
ABSL_FLAG(std::string, listen, "", "API listen address host:port (overrides listen)");
ABSL_FLAG(std::string, fabric, "", "fabric intent file (overrides fabric)");
ABSL_FLAG(std::string, state_dir, "", "state directory (overrides state_dir)");
ABSL_FLAG(std::string, tls_cert, "", "PEM server certificate (overrides tls.cert)");
ABSL_FLAG(std::string, tls_key, "", "PEM server key (overrides tls.key)");
ABSL_FLAG(std::string, tls_client_ca, "", "PEM CA for mutual TLS (overrides tls.client_ca)");
ABSL_FLAG(std::string, tokens_file, "", "bearer tokens file (overrides tokens_file)");
ABSL_FLAG(std::string, log_level, "", "debug|info|warning|error (overrides log_level)");
ABSL_FLAG(bool, insecure, false, "serve plaintext (sets insecure: true)");
ABSL_FLAG(int64_t, max_jobs, 0, "job limit (overrides limits.max_jobs; 0: keep)");
ABSL_FLAG(int64_t, max_endpoints_per_job, 0,
          "endpoint limit (overrides limits.max_endpoints_per_job; 0: keep)");
ABSL_FLAG(int64_t, max_message_bytes, 0,
          "gRPC message limit (overrides limits.max_message_bytes; 0: keep)");
ABSL_FLAG(std::string, qos_policy_file, "", "QoS policy YAML (overrides qos.policy_file)");
ABSL_FLAG(std::string, qos_ovsdb, "",
          "push QoS to OVS bridges via this OVSDB endpoint, e.g. "
          "unix:/var/run/openvswitch/db.sock (overrides qos.ovsdb)");
ABSL_FLAG(std::string, port_file, "",
          "write the bound API port to this file once serving (for tests and scripts)");

namespace {

using pulse::Log;
using pulse::LogLevel;

int Fail(const absl::Status& status) {
  Log(LogLevel::kError, "pulse-controller: ", status.message());
  return 2;
}

// A listen address of the config, split; errors name the key (ValidateDaemonConfig checked the
// syntax already, so this only fails on a config that skipped validation).
absl::StatusOr<std::pair<std::string, uint16_t>> ListenAddress(absl::string_view key,
                                                               absl::string_view address) {
  absl::StatusOr<std::pair<std::string, uint16_t>> split =
      pulse::northbound::SplitHostPort(address);
  if (!split.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(key, ": ", split.status().message()));
  }
  return split;
}

int Run() {
  pulse::northbound::DaemonConfig config;
  if (std::string path = absl::GetFlag(FLAGS_config); !path.empty()) {
    absl::StatusOr<pulse::northbound::DaemonConfig> loaded =
        pulse::northbound::LoadDaemonConfigFile(path);
    if (!loaded.ok()) return Fail(loaded.status());
    config = *std::move(loaded);
  }
  auto override_string = [](const absl::Flag<std::string>& flag, std::string* out) {
    if (std::string v = absl::GetFlag(flag); !v.empty()) *out = v;
  };
  override_string(FLAGS_listen, &config.listen);
  override_string(FLAGS_fabric, &config.fabric_file);
  override_string(FLAGS_state_dir, &config.state_dir);
  override_string(FLAGS_tls_cert, &config.tls.cert_file);
  override_string(FLAGS_tls_key, &config.tls.key_file);
  override_string(FLAGS_tls_client_ca, &config.tls.client_ca_file);
  override_string(FLAGS_tokens_file, &config.tokens_file);
  if (absl::GetFlag(FLAGS_insecure)) config.insecure = true;
  if (std::string level = absl::GetFlag(FLAGS_log_level); !level.empty()) {
    absl::StatusOr<LogLevel> parsed = pulse::ParseLogLevel(level);
    if (!parsed.ok())
      return Fail(
          absl::InvalidArgumentError(absl::StrCat("--log_level: ", parsed.status().message())));
    config.log_level = *parsed;
  }
  for (auto [flag, field] : {std::make_pair(&FLAGS_qos_policy_file, &config.qos.policy_file),
                             std::make_pair(&FLAGS_qos_ovsdb, &config.qos.ovsdb)}) {
    if (std::string v = absl::GetFlag(*flag); !v.empty()) {
      *field = v;
      config.qos.configured = true;
    }
  }
  if (int64_t v = absl::GetFlag(FLAGS_max_jobs); v > 0) config.max_jobs = v;
  if (int64_t v = absl::GetFlag(FLAGS_max_endpoints_per_job); v > 0) {
    config.limits.max_endpoints_per_job = static_cast<int>(v);
  }
  if (int64_t v = absl::GetFlag(FLAGS_max_message_bytes); v > 0) {
    config.limits.max_message_bytes = static_cast<int>(v);
  }
  if (absl::Status status = pulse::northbound::ValidateDaemonConfig(config); !status.ok()) {
    return Fail(status);
  }
  pulse::SetLogLevel(config.log_level);

  absl::StatusOr<pulse::topology::Intent> intent =
      pulse::topology::LoadIntentFile(config.fabric_file);
  if (!intent.ok()) return Fail(intent.status());
  auto fabric = std::make_shared<const pulse::topology::Fabric>(std::move(intent->fabric));
  Log(LogLevel::kInfo, "fabric '", intent->name, "' from ", config.fabric_file, ": ",
      fabric->switches().size(), " switches, ", fabric->nics().size(), " NICs, ",
      fabric->gpus().size(), " GPUs, ", fabric->links().size(), " links");

  // Cluster mode: the state lives in etcd, one replica leads (controller/replica.h).
  std::unique_ptr<pulse::controller::ClusterReplica> replica;
  if (config.cluster.enabled) {
    pulse::controller::ClusterOptions cluster_options{
        config.cluster.etcd_endpoints, config.cluster.name, config.cluster.replica_id,
        config.cluster.advertise, config.cluster.lease_ttl_s};
    auto opened = pulse::controller::ClusterReplica::Open(cluster_options);
    if (!opened.ok()) {
      return Fail(absl::Status(opened.status().code(),
                               absl::StrCat("cluster: ", opened.status().message())));
    }
    replica = *std::move(opened);
  }
  std::unique_ptr<pulse::controller::EmbeddedStore> store;
  if (replica) {
    Log(LogLevel::kInfo, "cluster mode: state in etcd, ", replica->store()->Describe());
  } else if (!config.state_dir.empty()) {
    pulse::controller::EmbeddedStoreOptions store_options;
    store_options.state_dir = config.state_dir;
    absl::StatusOr<std::unique_ptr<pulse::controller::EmbeddedStore>> opened =
        pulse::controller::EmbeddedStore::Open(store_options);
    if (!opened.ok()) {
      return Fail(absl::Status(opened.status().code(),
                               absl::StrCat("state_dir: ", opened.status().message())));
    }
    store = *std::move(opened);
  } else {
    Log(LogLevel::kWarning, "no state_dir: jobs are not persisted across restarts");
  }

  std::vector<pulse::northbound::Token> tokens;
  if (!config.tokens_file.empty()) {
    absl::StatusOr<std::vector<pulse::northbound::Token>> loaded =
        pulse::northbound::LoadTokensFile(config.tokens_file);
    if (!loaded.ok()) {
      return Fail(absl::Status(loaded.status().code(),
                               absl::StrCat("tokens_file: ", loaded.status().message())));
    }
    tokens = *std::move(loaded);
  }

  pulse::controller::ControllerOptions controller_options;
  controller_options.max_jobs = config.max_jobs;
  controller_options.event_ring_size = config.event_ring_size;
  controller_options.store = replica ? replica->store() : store.get();
  if (replica) controller_options.write_gate = replica->WriteGate();
  auto controller = pulse::controller::Controller::Create(fabric, controller_options);
  if (!controller.ok()) return Fail(controller.status());

  // Telemetry: measured link load -> congestion-driven moves, metrics; the Prometheus endpoint.
  pulse::controller::MetricsRegistry metrics_registry;
  std::unique_ptr<pulse::controller::TelemetryLoop> telemetry_loop;
  {
    pulse::controller::TelemetryLoopOptions options;
    options.period_ms = config.telemetry.period_ms;
    options.congestion.hot_utilisation = static_cast<double>(config.telemetry.hot_percent) / 100;
    options.congestion.clear_utilisation =
        static_cast<double>(config.telemetry.clear_percent) / 100;
    options.congestion.hold_ms = config.telemetry.hold_ms;
    options.congestion.max_moves_per_interval =
        config.telemetry.moves_enabled ? static_cast<int>(config.telemetry.max_moves_per_interval)
                                       : 0;
    options.congestion.move_interval_ms = config.telemetry.move_interval_ms;
    options.congestion.flow_cooldown_ms = config.telemetry.flow_cooldown_ms;
    auto loop =
        pulse::controller::TelemetryLoop::Create(controller->get(), options, &metrics_registry);
    if (!loop.ok()) return Fail(loop.status());
    telemetry_loop = *std::move(loop);
    if (absl::Status status = telemetry_loop->Start(); !status.ok()) return Fail(status);
  }
  // Counters kept by other parts (driver flow-mods, sFlow collector) are copied into the registry
  // when /metrics is scraped (on the metrics thread), by these hooks added below.
  std::vector<std::function<void()>> scrape_hooks;
  boost::asio::io_context metrics_io;
  std::unique_ptr<pulse::northbound::MetricsHttpServer> metrics_server;
  struct IoThread {  // joined on every return path
    boost::asio::io_context* io;
    std::thread thread;
    void Stop() {
      io->stop();
      if (thread.joinable()) thread.join();
    }
    ~IoThread() { Stop(); }
  } metrics_thread{&metrics_io, {}};
  if (!config.metrics_listen.empty()) {
    absl::StatusOr<std::pair<std::string, uint16_t>> address =
        ListenAddress("metrics_listen", config.metrics_listen);
    if (!address.ok()) return Fail(address.status());
    pulse::northbound::MetricsHttpOptions metrics_options;
    metrics_options.bind_address = address->first;
    metrics_options.port = address->second;
    auto started = pulse::northbound::MetricsHttpServer::Start(
        metrics_io, metrics_options, [&metrics_registry, &scrape_hooks] {
          for (const std::function<void()>& hook : scrape_hooks) hook();
          return metrics_registry.RenderText();
        });
    if (!started.ok()) {
      return Fail(absl::Status(started.status().code(),
                               absl::StrCat("metrics_listen: ", started.status().message())));
    }
    metrics_server = *std::move(started);
    Log(LogLevel::kInfo, "Prometheus metrics on http://", address->first, ":",
        metrics_server->port(), "/metrics");
  }

  // The southbound: switches connect over OpenFlow; FabricSync keeps them in line with the state.
  std::unique_ptr<pulse::southbound::openflow::OpenFlowDriver> openflow_driver;
  std::unique_ptr<pulse::controller::FabricSync> fabric_sync;
  if (config.openflow.enabled) {
    absl::StatusOr<std::pair<std::string, uint16_t>> address =
        ListenAddress("openflow.listen", config.openflow.listen);
    if (!address.ok()) return Fail(address.status());
    pulse::southbound::openflow::OpenFlowDriverOptions driver_options;
    driver_options.listen_address = address->first;
    driver_options.listen_port = address->second;
    for (pulse::topology::NodeId nic : fabric->nics()) {  // the intent's; learned ones follow
      const pulse::topology::Node& n = fabric->node(nic);
      if (n.ipv4 != 0 && n.mac != 0) driver_options.address_book.emplace_back(n.ipv4, n.mac);
    }
    openflow_driver =
        std::make_unique<pulse::southbound::openflow::OpenFlowDriver>(std::move(driver_options));
    pulse::controller::FabricSyncOptions sync_options;
    sync_options.probe_interval = std::chrono::milliseconds(config.openflow.probe_interval_ms);
    sync_options.stats_interval = std::chrono::milliseconds(config.openflow.stats_interval_ms);
    fabric_sync = std::make_unique<pulse::controller::FabricSync>(
        controller->get(), openflow_driver.get(), sync_options);
    pulse::controller::TelemetryLoop* loop = telemetry_loop.get();
    fabric_sync->SetCountersHandler(
        [loop](pulse::southbound::Dpid dpid,
               const std::vector<pulse::southbound::PortCounters>& counters) {
          loop->OnPortCounters(dpid, counters);
        });
    if (absl::Status status = fabric_sync->Start(); !status.ok()) {
      return Fail(absl::Status(status.code(), absl::StrCat("openflow.listen: ", status.message())));
    }
    Log(LogLevel::kInfo, "OpenFlow: switches connect to ", address->first, ":",
        openflow_driver->port());
    scrape_hooks.push_back(
        [driver = openflow_driver.get(), &metrics_registry, reported = uint64_t{0}]() mutable {
          const uint64_t sent = driver->stats().flow_mods_sent;
          (void)pulse::controller::PulseMetrics(&metrics_registry)
              .AddFlowMods("all", static_cast<double>(sent - reported));
          reported = sent;
        });
  } else {
    Log(LogLevel::kInfo, "planning mode: no switches attached (no openflow section)");
  }

  // sFlow: counters (and flow samples) from switches' agents. Ports are resolved through OVSDB
  // (Open vSwitch's agent names them by ifindex). The samples drive link load only when OpenFlow
  // port stats are not polled (openflow.stats_interval_ms: 0): one source per port, since two
  // sources' counters interleaved make no rates.
  boost::asio::io_context sflow_io;
  IoThread sflow_thread{&sflow_io, {}};
  std::unique_ptr<pulse::southbound::sflow::Collector> sflow_collector;
  std::unique_ptr<pulse::southbound::sflow::OvsSflowPortMap> sflow_ports;
  if (!config.sflow_listen.empty()) {
    absl::StatusOr<std::pair<std::string, uint16_t>> address =
        ListenAddress("sflow_listen", config.sflow_listen);
    if (!address.ok()) return Fail(address.status());
    const bool feeds_link_load = !fabric_sync || config.openflow.stats_interval_ms == 0;
    if (feeds_link_load) {
      auto ports = pulse::southbound::sflow::OvsSflowPortMap::Connect(
          pulse::southbound::ovsdb::kDefaultOvsdbEndpoint);
      if (ports.ok()) {
        sflow_ports = *std::move(ports);
      } else {
        Log(LogLevel::kWarning, "sFlow: cannot map ifindex to switch ports (",
            ports.status().message(), "): samples are counted, not attributed to links");
      }
    } else {
      Log(LogLevel::kInfo,
          "sFlow: link load comes from OpenFlow port stats (openflow.stats_interval_ms > 0); "
          "sFlow datagrams are counted only");
    }
    pulse::southbound::sflow::CollectorOptions collector_options;
    collector_options.bind_address = address->first;
    collector_options.port = address->second;
    pulse::controller::TelemetryLoop* loop = telemetry_loop.get();
    pulse::southbound::sflow::OvsSflowPortMap* ports = sflow_ports.get();
    auto collector = pulse::southbound::sflow::Collector::Start(
        sflow_io, collector_options,
        [loop, ports](const pulse::southbound::sflow::Datagram& datagram,
                      const boost::asio::ip::udp::endpoint&) {
          if (ports == nullptr) return;
          std::vector<pulse::controller::PortCounterSample> samples =
              pulse::southbound::sflow::ToPortCounterSamples(
                  datagram,
                  [ports](const pulse::southbound::sflow::Datagram&, uint32_t if_index) {
                    return ports->Resolve(if_index);
                  },
                  /*now_ms=*/0);  // re-stamped by the loop on arrival
          if (!samples.empty()) loop->OnPortCounterSamples(std::move(samples));
        });
    if (!collector.ok()) {
      return Fail(absl::Status(collector.status().code(),
                               absl::StrCat("sflow_listen: ", collector.status().message())));
    }
    sflow_collector = *std::move(collector);
    Log(LogLevel::kInfo, "sFlow collector on udp ", address->first, ":", sflow_collector->port());
    scrape_hooks.push_back([collector = sflow_collector.get(), &metrics_registry,
                            reported = pulse::southbound::sflow::CollectorStats{}]() mutable {
      const pulse::southbound::sflow::CollectorStats now = collector->stats();
      pulse::controller::PulseMetrics metrics(&metrics_registry);
      (void)metrics.AddSflowDatagrams(
          "ok", static_cast<double>((now.datagrams - now.decode_errors) -
                                    (reported.datagrams - reported.decode_errors)));
      (void)metrics.AddSflowDatagrams(
          "malformed", static_cast<double>(now.decode_errors - reported.decode_errors));
      reported = now;
    });
    sflow_thread.thread = std::thread([&sflow_io] { sflow_io.run(); });
  }

  // QoS policy, QosService and (optionally) the OVS push; outlives the API server.
  absl::StatusOr<std::unique_ptr<pulse::northbound::QosRuntime>> qos =
      absl::FailedPreconditionError("qos.enabled: false");
  if (config.qos.enabled) {
    pulse::northbound::QosRuntimeOptions qos_options;
    qos_options.policy_file = config.qos.policy_file;
    qos_options.ovsdb_endpoint = config.qos.ovsdb;
    qos_options.tokens = tokens;
    qos_options.store = replica ? replica->store() : store.get();
    qos = pulse::northbound::StartQos(fabric.get(), std::move(qos_options));
    if (!qos.ok()) {
      // An operator's own qos section that does not work stops start-up. The built-in default
      // policy not fitting this fabric (e.g. a lab whose link speeds have no published PFC
      // numbers) must not keep the controller from forwarding: run without the QoS service.
      if (config.qos.configured) return Fail(qos.status());
      Log(LogLevel::kError,
          "QoS disabled: the default policy cannot plan this fabric: ", qos.status().message());
    }
  } else {
    Log(LogLevel::kInfo, "QoS disabled by configuration (qos.enabled: false)");
  }

  // Every scrape hook is in place: serve /metrics. The hooks read parts declared above, so the
  // thread is stopped before any of them goes, on every return path (this guard goes first).
  if (metrics_server) metrics_thread.thread = std::thread([&metrics_io] { metrics_io.run(); });
  struct StopFirst {
    IoThread* thread;
    ~StopFirst() { thread->Stop(); }
  } stop_metrics_first{&metrics_thread};

  pulse::northbound::ApiServerOptions server_options;
  server_options.listen_address = config.listen;
  server_options.insecure = config.insecure;
  server_options.tls = config.tls;
  server_options.tokens = std::move(tokens);
  server_options.limits = config.limits;
  if (qos.ok()) server_options.extra_services.push_back((*qos)->service.get());
  pulse::northbound::HostServiceImpl host_service(controller->get(), server_options.tokens);
  server_options.extra_services.push_back(&host_service);
  if (replica && config.insecure) {  // replicas reach each other in plaintext only (for now)
    server_options.forward_writes_to = [&replica] { return replica->ForwardTarget(); };
  }
  {
    pulse::controller::TelemetryLoop* loop = telemetry_loop.get();
    server_options.measured_link_load_bps = [loop] { return loop->MeasuredLinkLoadBps(); };
    server_options.rpc_latency_observer = [&metrics_registry](const std::string& method,
                                                              double seconds) {
      (void)pulse::controller::PulseMetrics(&metrics_registry).ObserveRpcLatency(method, seconds);
    };
  }
  if (fabric_sync) {
    pulse::controller::FabricSync* sync = fabric_sync.get();
    server_options.discovery = [sync]() -> absl::StatusOr<pulse::controller::DiscoveryReport> {
      return sync->Discovery();
    };
  }
  auto server = pulse::northbound::ApiServer::Start(controller->get(), server_options);
  if (!server.ok()) return Fail(server.status());

  if (std::string port_file = absl::GetFlag(FLAGS_port_file); !port_file.empty()) {
    std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << (*server)->port() << "\n";
    std::rename(tmp.c_str(), port_file.c_str());  // appear whole, never half-written
  }
  // Cluster role changes (controller thread): logged, shown as the health of service
  // "pulse.cluster.leader" (SERVING on the leader). The OpenFlow driver must follow them too:
  // ROLE_REQUEST MASTER (leader) or SLAVE with generation_id = generation to every switch.
  std::function<void(bool leader, uint64_t generation)> on_role_change =
      [&replica, &server, &openflow_driver](bool leader, uint64_t generation) {
        Log(LogLevel::kInfo, "cluster role: ", leader ? "LEADER" : "FOLLOWER", ", generation ",
            generation, "; ", replica->Describe());
        // Switches fence a deposed leader themselves: its generation id is lower.
        if (openflow_driver) openflow_driver->SetRole(leader, generation);
        (*server)->SetServingStatus("pulse.cluster.leader", leader);
      };
  if (replica) {
    (*server)->SetServingStatus("pulse.cluster.leader", false);
    if (absl::Status status = replica->Start(controller->get(), on_role_change); !status.ok()) {
      return Fail(absl::Status(status.code(), absl::StrCat("cluster: ", status.message())));
    }
  }

  boost::asio::io_context io;
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& error, int signal) {
    if (error) return;
    Log(LogLevel::kInfo, "signal ", signal, ": shutting down");
    (*server)->Shutdown(absl::Seconds(2));
  });
  io.run();
  // Tear down in dependency order: everything that posts into the controller goes before it.
  sflow_thread.Stop();                   // no more sFlow samples into the telemetry loop
  if (fabric_sync) fabric_sync->Stop();  // no more switch events into the controller
  telemetry_loop.reset();                // waits on the controller: must run while it exists
  // Resign now, so another replica takes over without waiting for the lease to expire.
  if (replica) {
    replica->Stop();
    (*controller)->Sync().wait();  // role changes already queued have run: the server may go
  }
  server->reset();      // before the controller: in-flight calls finish against it
  controller->reset();  // before the store it writes to
  store.reset();
  Log(LogLevel::kInfo, "pulse-controller stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("pulse-controller: the Pulse SDN controller (pulse.v1 gRPC API)");
  absl::ParseCommandLine(argc, argv);
  return Run();
}
