// pulse-controller: serves the pulse.v1 API for one fabric.
//
//   pulse-controller --config examples/pulse.yaml
//   pulse-controller --fabric examples/leaf-spine.yaml --insecure --listen 127.0.0.1:50051
//
// Given only a fabric it runs in planning mode: the API works, no switches are attached.
// Flags override the config file. SIGTERM / SIGINT shut it down cleanly.
#include <atomic>
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
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/signal_set.hpp"
#include "common/log.h"
#include "controller/cluster/replica.h"
#include "controller/controller.h"
#include "controller/fabric_sync/fabric_sync.h"
#include "controller/paths/ecmp_hash.h"
#include "controller/store/embedded_store.h"
#include "controller/telemetry/telemetry_loop.h"
#include "daemon/config.h"
#include "daemon/health_monitor.h"
#include "daemon/metrics_http.h"
#include "daemon/openflow_runtime.h"
#include "daemon/qos_runtime.h"
#include "daemon/scheduler_runtime.h"
#include "daemon/security.h"
#include "daemon/sonic_runtime.h"
#include "daemon/web_runtime.h"
#include "northbound/auth.h"
#include "northbound/auth_gate.h"
#include "northbound/host_service.h"
#include "northbound/server.h"
#include "northbound/steering_service.h"
#include "southbound/openflow/openflow_driver.h"
#include "southbound/sflow/collector.h"
#include "southbound/sflow/ovs_port_map.h"
#include "southbound/sflow/telemetry_adapter.h"
#include "topology/intent.h"

ABSL_FLAG(std::string, config, "", "YAML config file (see daemon/config.h)");
ABSL_FLAG(std::string, listen, "", "API listen address host:port (overrides listen)");
ABSL_FLAG(std::string, fabric, "", "fabric intent file (overrides fabric)");
ABSL_FLAG(std::string, state_dir, "", "state directory (overrides state_dir)");
ABSL_FLAG(bool, store_recover, false,
          "start on a state_dir whose damage lost acknowledged records: keep every intact record, "
          "report the loss, set the damaged files aside (sets state_recover)");
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
  for (auto [name, flag] : {std::make_pair("--max_jobs", &FLAGS_max_jobs),
                            std::make_pair("--max_endpoints_per_job", &FLAGS_max_endpoints_per_job),
                            std::make_pair("--max_message_bytes", &FLAGS_max_message_bytes)}) {
    if (int64_t v = absl::GetFlag(*flag); v < 0 || v > (int64_t{1} << 30)) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat(name, ": must be 1..1073741824 (0 keeps the config's value), got ", v)));
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
  // Switch drivers this build serves (controller/switches/); a switch naming another is refused
  // rather than driven by the wrong protocol.
  for (pulse::topology::NodeId sw : fabric->switches()) {
    const std::string& driver = fabric->node(sw).driver;
    if (driver != pulse::topology::kDefaultSwitchDriver && driver != "sonic") {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat("fabric: switch '", fabric->node(sw).name, "': driver '", driver,
                       "' is not in this build (known: openflow, sonic)")));
    }
  }
  Log(LogLevel::kInfo, "fabric '", intent->name, "' from ", config.fabric_file, ": ",
      fabric->switches().size(), " switches, ", fabric->nics().size(), " NICs, ",
      fabric->gpus().size(), " GPUs, ", fabric->links().size(), " links");

  // Cluster mode: the state lives in etcd, one replica leads (controller/cluster/replica.h).
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
    store_options.recover = config.state_recover || absl::GetFlag(FLAGS_store_recover);
    store_options.mirror_log = config.state_mirror;
    absl::StatusOr<std::unique_ptr<pulse::controller::EmbeddedStore>> opened =
        pulse::controller::EmbeddedStore::Open(store_options);
    if (!opened.ok()) {
      return Fail(absl::Status(opened.status().code(),
                               absl::StrCat("state_dir: ", opened.status().message())));
    }
    store = *std::move(opened);
    Log(LogLevel::kInfo, "state: ", store->Describe());
  } else {
    Log(LogLevel::kWarning, "no state_dir: jobs are not persisted across restarts");
  }

  std::vector<pulse::northbound::Token> tokens;
  if (config.create_admin_token) {
    absl::StatusOr<bool> created = pulse::northbound::EnsureAdminToken(config.tokens_file);
    if (!created.ok()) return Fail(created.status());
    if (*created) {
      Log(LogLevel::kWarning, "created an admin token in ", config.tokens_file,
          " (owner-only); read it there and pass it to pulsectl with --token or PULSE_TOKEN");
    }
  }
  for (const std::string& warning : pulse::northbound::SecurityWarnings(config)) {
    Log(LogLevel::kWarning, warning);
  }
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
  // Host steering: the switches' hash models from the intent, the default enforcement and the
  // port range from the config.
  absl::StatusOr<pulse::controller::HashModels> hash_models =
      pulse::controller::HashModelsFromIntent(*fabric, intent->ecmp_hash);
  if (!hash_models.ok()) return Fail(hash_models.status());
  controller_options.hash_models = *std::move(hash_models);
  controller_options.placement.enforcement = config.placement.enforcement == "steer"
                                                 ? pulse::controller::Enforcement::kSteer
                                                 : pulse::controller::Enforcement::kPin;
  controller_options.steering.port_min = static_cast<uint16_t>(config.placement.steering_port_min);
  controller_options.steering.port_max = static_cast<uint16_t>(config.placement.steering_port_max);
  // The QoS policy is controller state (placement's lossless classes come from it).
  if (config.qos.enabled && !config.qos.policy_file.empty()) {
    absl::StatusOr<std::string> policy =
        pulse::northbound::ReadQosPolicyFile(config.qos.policy_file);
    if (!policy.ok()) return Fail(policy.status());
    controller_options.qos_policy_yaml = *std::move(policy);
    controller_options.qos_policy_source = absl::StrCat("qos policy from ", config.qos.policy_file);
  }
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
  std::atomic<pulse::daemon::HealthMonitor*> health_monitor{nullptr};  // set once the API runs
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
    metrics_options.health = [&health_monitor] {
      pulse::daemon::HealthMonitor* monitor = health_monitor.load();
      return monitor != nullptr ? monitor->overall() : absl::OkStatus();
    };
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
    pulse::northbound::ConfigureOpenFlowListener(config.openflow, *fabric, &driver_options);
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
    scrape_hooks.push_back(
        pulse::northbound::OpenFlowRefusalsScrapeHook(openflow_driver.get(), &metrics_registry));
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
    qos_options.ovsdb_endpoint = config.qos.ovsdb;
    if (replica && config.insecure) {
      qos_options.forward_writes_to = [&replica] { return replica->ForwardTarget(); };
    }
    qos = pulse::northbound::StartQos(controller->get(), std::move(qos_options));
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

  // SONiC switches (intent `driver: sonic`) and the lossless health supervisor.
  std::unique_ptr<pulse::northbound::SonicRuntime> sonic;
  if (!intent->switch_drivers.empty()) {
    auto started = pulse::northbound::StartSonicFromConfig(
        fabric, intent->switch_drivers, config.lossless_health, qos.ok() ? qos->get() : nullptr,
        telemetry_loop.get(), &metrics_registry);
    if (!started.ok()) return Fail(started.status());
    sonic = *std::move(started);
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
  if (qos.ok()) server_options.extra_services.push_back((*qos)->gated.get());
  // Host steering: each steered flow's UDP source port and the NCCL settings for its job.
  pulse::northbound::SteeringServiceOptions steering_options;
  steering_options.gid_index = static_cast<int>(config.placement.gid_index);
  pulse::northbound::SteeringServiceImpl steering_service(controller->get(), steering_options);
  std::unique_ptr<pulse::northbound::GatedService> steering_gated =
      pulse::northbound::GateService<pulse::v1::SteeringService>(&steering_service);
  server_options.extra_services.push_back(steering_gated.get());
  std::unique_ptr<pulse::northbound::GatedService> health_gated;
  if (sonic) {
    health_gated =
        pulse::northbound::GateService<pulse::v1::LosslessHealthService>(sonic->service());
    server_options.extra_services.push_back(health_gated.get());
  }
  std::unique_ptr<pulse::northbound::SchedulerServiceImpl> scheduler =
      pulse::northbound::StartScheduler(controller->get(), *intent, fabric_sync.get());
  std::unique_ptr<pulse::northbound::GatedService> scheduler_gated =
      pulse::northbound::GateService<pulse::v1::SchedulerService>(scheduler.get());
  server_options.extra_services.push_back(scheduler_gated.get());
  pulse::northbound::HostServiceImpl host_service(controller->get(), server_options.tokens);
  std::unique_ptr<pulse::northbound::GatedService> host_gated =
      pulse::northbound::GateService<pulse::v1::HostService>(&host_service);
  server_options.extra_services.push_back(host_gated.get());
  if (replica && config.insecure) {  // replicas reach each other in plaintext only (for now)
    server_options.forward_writes_to = [&replica] { return replica->ForwardTarget(); };
  }
  {
    pulse::controller::TelemetryLoop* loop = telemetry_loop.get();
    server_options.measured_link_load_bps = [loop] { return loop->MeasuredLinkLoadBps(); };
    server_options.measured_job_bandwidth = [loop] { return loop->MeasuredJobBandwidth(); };
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

  // The web view: the page and its read-only JSON API, with the API's tokens (viewer role).
  std::unique_ptr<pulse::northbound::WebRuntime> web;
  if (!config.web_listen.empty()) {
    pulse::northbound::WebApiOptions web_options{
        server_options.tokens, server_options.measured_link_load_bps, server_options.discovery};
    auto started = pulse::northbound::WebRuntime::Start(
        controller->get(), config.web_listen,
        config.insecure ? pulse::northbound::TlsFiles{} : config.tls, std::move(web_options));
    if (!started.ok()) return Fail(started.status());
    web = *std::move(started);
    Log(LogLevel::kInfo, "web view on ", web->tls() ? "https" : "http", "://",
        ListenAddress("web_listen", config.web_listen)->first, ":", web->port(), "/");
  }

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
      };
  if (replica) {
    if (absl::Status status = replica->Start(controller->get(), on_role_change); !status.ok()) {
      return Fail(absl::Status(status.code(), absl::StrCat("cluster: ", status.message())));
    }
  }
  // Health (gRPC health services and /healthz): the store's writes work (a full disk is
  // NOT_SERVING until space is back), the replica's state is a complete read, and
  // "pulse.cluster.leader" while this replica holds an unexpired lease.
  std::vector<pulse::daemon::HealthCheck> health_checks;
  if (store) {
    // While writes fail, a probe (a scratch write + fsync) at most every 500 ms says when
    // space is back; otherwise the check only reads the store's last write result.
    health_checks.push_back({"pulse.store",
                             [&store, last_probe = absl::InfinitePast()]() mutable {
                               absl::Status now = store->write_health();
                               if (now.ok() || absl::Now() - last_probe < absl::Milliseconds(500)) {
                                 return now;
                               }
                               last_probe = absl::Now();
                               return store->ProbeWrites();
                             },
                             true});
  }
  if (replica) {
    health_checks.push_back(
        {"pulse.cluster.ready", [&replica] { return replica->ReadyStatus(); }, true});
    health_checks.push_back({"pulse.cluster.leader",
                             [&replica] {
                               return replica->is_leader()
                                          ? absl::OkStatus()
                                          : absl::UnavailableError("not the leader");
                             },
                             false});
  }
  pulse::daemon::HealthMonitor monitor(
      std::move(health_checks),
      [&server](const std::string& service, bool serving) {
        (*server)->SetServingStatus(service, serving);
      },
      absl::Milliseconds(100));
  monitor.Start();
  health_monitor.store(&monitor);

  boost::asio::io_context io;
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& error, int signal) {
    if (error) return;
    Log(LogLevel::kInfo, "signal ", signal, ": shutting down");
    (*server)->Shutdown(absl::Seconds(2));
  });
  io.run();
  health_monitor.store(nullptr);
  monitor.Stop();
  // Tear down in dependency order: everything that posts into the controller goes before it.
  web.reset();                           // reads the telemetry loop, discovery and the controller
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
  absl::SetProgramUsageMessage(
      "the Pulse SDN controller (pulse.v1 gRPC API).\n"
      "Usage: pulse-controller --config pulse.yaml [flags]; flags override the config file's keys "
      "(daemon/config.h).");
  // --help lists the daemon's own flags (absl's default matches only a file named after the
  // binary, so it printed "No flags matched"); --helpfull still lists every linked flag.
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "daemon/");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  absl::ParseCommandLine(argc, argv);
  // A file-size limit makes write() fail with EFBIG, which the state store handles like a full
  // disk; the default action of SIGXFSZ would kill the daemon instead.
  std::signal(SIGXFSZ, SIG_IGN);
  return Run();
}
