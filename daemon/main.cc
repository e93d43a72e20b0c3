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
#include "common/thread_name.h"
#include "controller/cluster/replica.h"
#include "controller/controller.h"
#include "controller/fabric_sync/fabric_sync.h"
#include "controller/paths/ecmp_hash.h"
#include "controller/store/embedded_store.h"
#include "controller/switches/switch_driver_table.h"
#include "controller/telemetry/telemetry_loop.h"
#include "daemon/config.h"
#include "daemon/health_monitor.h"
#include "daemon/metrics_http.h"
#include "daemon/openflow_runtime.h"
#include "daemon/oracle_runtime.h"
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
#include "southbound/openflow/datapath_map.h"
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

// Closes an io_context's thread; joined on every path.
struct IoThread {
  boost::asio::io_context* io;
  std::thread thread;
  void Stop() {
    io->stop();
    if (thread.joinable()) thread.join();
  }
  ~IoThread() { Stop(); }
};

// The running daemon: one builder per subsystem, called in order by Run(); each returns the error
// that stops start-up (naming the config key). Whatever was built is torn down by the destructor,
// on every path, in dependency order: everything that posts into the controller goes before it.
class Daemon {
 public:
  ~Daemon();

  absl::Status LoadConfig();       // config file, then flags over it; validated whole
  absl::Status LoadFabric();       // the intent; every switch's driver is one this build has
  absl::Status OpenStore();        // etcd (cluster mode) or the embedded store, or none
  absl::Status LoadTokens();       // bearer tokens (and the admin token created on first start)
  absl::Status BuildController();  // the state owner, with steering and the QoS policy
  absl::Status StartTelemetry();   // link load -> congestion moves, metrics
  absl::Status StartMetricsEndpoint();  // Prometheus /metrics (served once every hook is in)
  absl::Status StartQos();              // QosService and the OVS push
  absl::Status StartSonic();            // SONiC switches (intent `driver: sonic`), lossless health
  absl::Status StartSwitches();         // OpenFlow listener and one FabricSync for every driver
  absl::Status StartOracle();           // the path oracle on OpenFlow switches (oracle section)
  absl::Status StartSflow();            // sFlow collector
  absl::Status StartApi();              // gRPC services and server (and the port file)
  absl::Status StartWeb();              // the web view
  absl::Status StartCluster();          // leader election; mastership follows it
  absl::Status StartHealth();           // gRPC health and /healthz
  // Serves until SIGINT or SIGTERM.
  void Serve();

 private:
  pulse::northbound::DaemonConfig config_;
  absl::StatusOr<pulse::topology::Intent> intent_ = absl::UnknownError("no intent");
  std::shared_ptr<const pulse::topology::Fabric> fabric_;
  std::unique_ptr<pulse::controller::ClusterReplica> replica_;
  std::unique_ptr<pulse::controller::EmbeddedStore> store_;
  std::vector<pulse::northbound::Token> tokens_;
  std::unique_ptr<pulse::controller::Controller> controller_;
  pulse::controller::MetricsRegistry metrics_registry_;
  std::unique_ptr<pulse::controller::TelemetryLoop> telemetry_loop_;
  // Counters kept by other parts (driver flow-mods, sFlow collector) are copied into the registry
  // when /metrics is scraped (on the metrics thread), by these hooks.
  std::vector<std::function<void()>> scrape_hooks_;
  boost::asio::io_context metrics_io_;
  std::unique_ptr<pulse::northbound::MetricsHttpServer> metrics_server_;
  std::atomic<pulse::daemon::HealthMonitor*> health_monitor_{nullptr};  // set once the API runs
  IoThread metrics_thread_{&metrics_io_, {}};
  std::unique_ptr<pulse::northbound::QosRuntime> qos_;  // null: QoS off
  std::unique_ptr<pulse::northbound::SonicRuntime> sonic_;
  std::unique_ptr<pulse::southbound::openflow::OpenFlowDriver> openflow_driver_;
  std::unique_ptr<pulse::controller::FabricSync> fabric_sync_;
  std::unique_ptr<pulse::daemon::OracleRuntime> oracle_;  // null: oracle off
  boost::asio::io_context sflow_io_;
  IoThread sflow_thread_{&sflow_io_, {}};
  std::unique_ptr<pulse::southbound::sflow::Collector> sflow_collector_;
  std::unique_ptr<pulse::southbound::sflow::OvsSflowPortMap> sflow_ports_;
  pulse::northbound::ApiServerOptions server_options_;
  std::unique_ptr<pulse::northbound::SteeringServiceImpl> steering_service_;
  std::unique_ptr<pulse::northbound::SchedulerServiceImpl> scheduler_;
  std::unique_ptr<pulse::northbound::HostServiceImpl> host_service_;
  std::vector<std::unique_ptr<pulse::northbound::GatedService>> gated_;
  std::unique_ptr<pulse::northbound::ApiServer> server_;
  std::unique_ptr<pulse::northbound::WebRuntime> web_;
  std::unique_ptr<pulse::daemon::HealthMonitor> monitor_;
};

absl::Status Daemon::LoadConfig() {
  pulse::northbound::DaemonConfig& config = config_;
  if (std::string path = absl::GetFlag(FLAGS_config); !path.empty()) {
    absl::StatusOr<pulse::northbound::DaemonConfig> loaded =
        pulse::northbound::LoadDaemonConfigFile(path);
    if (!loaded.ok()) return loaded.status();
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
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--log_level: ", parsed.status().message()));
    }
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
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": must be 1..1073741824 (0 keeps the config's value), got ", v));
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
    return status;
  }
  pulse::SetLogLevel(config.log_level);
  return absl::OkStatus();
}

absl::Status Daemon::LoadFabric() {
  intent_ = pulse::topology::LoadIntentFile(config_.fabric_file);
  if (!intent_.ok()) return intent_.status();
  fabric_ = std::make_shared<const pulse::topology::Fabric>(std::move(intent_->fabric));
  // Switch drivers this build serves (controller/switches/); a switch naming another is refused
  // rather than driven by the wrong protocol.
  for (pulse::topology::NodeId sw : fabric_->switches()) {
    const std::string& driver = fabric_->node(sw).driver;
    if (driver != pulse::topology::kDefaultSwitchDriver && driver != "sonic") {
      return absl::InvalidArgumentError(
          absl::StrCat("fabric: switch '", fabric_->node(sw).name, "': driver '", driver,
                       "' is not in this build (known: openflow, sonic)"));
    }
  }
  Log(LogLevel::kInfo, "fabric '", intent_->name, "' from ", config_.fabric_file, ": ",
      fabric_->switches().size(), " switches, ", fabric_->nics().size(), " NICs, ",
      fabric_->gpus().size(), " GPUs, ", fabric_->links().size(), " links");
  return absl::OkStatus();
}

absl::Status Daemon::OpenStore() {
  // Cluster mode: the state lives in etcd, one replica leads (controller/cluster/replica.h).
  if (config_.cluster.enabled) {
    pulse::controller::ClusterOptions cluster_options{
        config_.cluster.etcd_endpoints, config_.cluster.name, config_.cluster.replica_id,
        config_.cluster.advertise, config_.cluster.lease_ttl_s};
    auto opened = pulse::controller::ClusterReplica::Open(cluster_options);
    if (!opened.ok()) {
      return absl::Status(opened.status().code(),
                          absl::StrCat("cluster: ", opened.status().message()));
    }
    replica_ = *std::move(opened);
    Log(LogLevel::kInfo, "cluster mode: state in etcd, ", replica_->store()->Describe());
  } else if (!config_.state_dir.empty()) {
    pulse::controller::EmbeddedStoreOptions store_options;
    store_options.state_dir = config_.state_dir;
    store_options.recover = config_.state_recover || absl::GetFlag(FLAGS_store_recover);
    store_options.mirror_log = config_.state_mirror;
    absl::StatusOr<std::unique_ptr<pulse::controller::EmbeddedStore>> opened =
        pulse::controller::EmbeddedStore::Open(store_options);
    if (!opened.ok()) {
      return absl::Status(opened.status().code(),
                          absl::StrCat("state_dir: ", opened.status().message()));
    }
    store_ = *std::move(opened);
    Log(LogLevel::kInfo, "state: ", store_->Describe());
  } else {
    Log(LogLevel::kWarning, "no state_dir: jobs are not persisted across restarts");
  }
  return absl::OkStatus();
}

absl::Status Daemon::LoadTokens() {
  if (config_.create_admin_token) {
    absl::StatusOr<bool> created = pulse::northbound::EnsureAdminToken(config_.tokens_file);
    if (!created.ok()) return created.status();
    if (*created) {
      Log(LogLevel::kWarning, "created an admin token in ", config_.tokens_file,
          " (owner-only); read it there and pass it to pulsectl with --token or PULSE_TOKEN");
    }
  }
  for (const std::string& warning : pulse::northbound::SecurityWarnings(config_)) {
    Log(LogLevel::kWarning, warning);
  }
  if (!config_.tokens_file.empty()) {
    absl::StatusOr<std::vector<pulse::northbound::Token>> loaded =
        pulse::northbound::LoadTokensFile(config_.tokens_file);
    if (!loaded.ok()) {
      return absl::Status(loaded.status().code(),
                          absl::StrCat("tokens_file: ", loaded.status().message()));
    }
    tokens_ = *std::move(loaded);
  }
  return absl::OkStatus();
}

absl::Status Daemon::BuildController() {
  pulse::controller::ControllerOptions controller_options;
  controller_options.max_jobs = config_.max_jobs;
  controller_options.event_ring_size = config_.event_ring_size;
  controller_options.store = replica_ ? replica_->store() : store_.get();
  if (replica_) controller_options.write_gate = replica_->WriteGate();
  // Host steering: the switches' hash models from the intent, the default enforcement and the
  // port range from the config.
  absl::StatusOr<pulse::controller::HashModels> hash_models =
      pulse::controller::HashModelsFromIntent(*fabric_, intent_->ecmp_hash);
  if (!hash_models.ok()) return hash_models.status();
  controller_options.hash_models = *std::move(hash_models);
  controller_options.placement.enforcement = config_.placement.enforcement == "steer"
                                                 ? pulse::controller::Enforcement::kSteer
                                                 : pulse::controller::Enforcement::kPin;
  controller_options.steering.port_min = static_cast<uint16_t>(config_.placement.steering_port_min);
  controller_options.steering.port_max = static_cast<uint16_t>(config_.placement.steering_port_max);
  // The QoS policy is controller state (placement's lossless classes come from it).
  if (config_.qos.enabled && !config_.qos.policy_file.empty()) {
    absl::StatusOr<std::string> policy =
        pulse::northbound::ReadQosPolicyFile(config_.qos.policy_file);
    if (!policy.ok()) return policy.status();
    controller_options.qos_policy_yaml = *std::move(policy);
    controller_options.qos_policy_source =
        absl::StrCat("qos policy from ", config_.qos.policy_file);
  }
  auto controller = pulse::controller::Controller::Create(fabric_, controller_options);
  if (!controller.ok()) return controller.status();
  controller_ = *std::move(controller);
  return absl::OkStatus();
}

absl::Status Daemon::StartTelemetry() {
  // Telemetry: measured link load -> congestion-driven moves, metrics.
  const auto& t = config_.telemetry;
  pulse::controller::TelemetryLoopOptions options;
  options.period_ms = t.period_ms;
  options.congestion.hot_utilisation = static_cast<double>(t.hot_percent) / 100;
  options.congestion.clear_utilisation = static_cast<double>(t.clear_percent) / 100;
  options.congestion.hold_ms = t.hold_ms;
  options.congestion.max_moves_per_interval =
      t.moves_enabled ? static_cast<int>(t.max_moves_per_interval) : 0;
  options.congestion.move_interval_ms = t.move_interval_ms;
  options.congestion.flow_cooldown_ms = t.flow_cooldown_ms;
  auto loop =
      pulse::controller::TelemetryLoop::Create(controller_.get(), options, &metrics_registry_);
  if (!loop.ok()) return loop.status();
  telemetry_loop_ = *std::move(loop);
  return telemetry_loop_->Start();
}

absl::Status Daemon::StartMetricsEndpoint() {
  if (config_.metrics_listen.empty()) return absl::OkStatus();
  absl::StatusOr<std::pair<std::string, uint16_t>> address =
      ListenAddress("metrics_listen", config_.metrics_listen);
  if (!address.ok()) return address.status();
  pulse::northbound::MetricsHttpOptions metrics_options;
  metrics_options.bind_address = address->first;
  metrics_options.port = address->second;
  metrics_options.health = [this] {
    pulse::daemon::HealthMonitor* monitor = health_monitor_.load();
    return monitor != nullptr ? monitor->overall() : absl::OkStatus();
  };
  auto started = pulse::northbound::MetricsHttpServer::Start(metrics_io_, metrics_options, [this] {
    for (const std::function<void()>& hook : scrape_hooks_) hook();
    return metrics_registry_.RenderText();
  });
  if (!started.ok()) {
    return absl::Status(started.status().code(),
                        absl::StrCat("metrics_listen: ", started.status().message()));
  }
  metrics_server_ = *std::move(started);
  Log(LogLevel::kInfo, "Prometheus metrics on http://", address->first, ":",
      metrics_server_->port(), "/metrics");
  return absl::OkStatus();
}

absl::Status Daemon::StartQos() {
  // QoS policy, QosService and (optionally) the OVS push; outlives the API server.
  if (!config_.qos.enabled) {
    Log(LogLevel::kInfo, "QoS disabled by configuration (qos.enabled: false)");
    return absl::OkStatus();
  }
  pulse::northbound::QosRuntimeOptions qos_options;
  qos_options.ovsdb_endpoint = config_.qos.ovsdb;
  if (replica_ && config_.insecure) {
    qos_options.forward_writes_to = [this] { return replica_->ForwardTarget(); };
  }
  auto qos = pulse::northbound::StartQos(controller_.get(), std::move(qos_options));
  if (!qos.ok()) {
    // An operator's own qos section that does not work stops start-up. The built-in default
    // policy not fitting this fabric (e.g. a lab whose link speeds have no published PFC
    // numbers) must not keep the controller from forwarding: run without the QoS service.
    if (config_.qos.configured) return qos.status();
    Log(LogLevel::kError,
        "QoS disabled: the default policy cannot plan this fabric: ", qos.status().message());
    return absl::OkStatus();
  }
  qos_ = *std::move(qos);
  return absl::OkStatus();
}

absl::Status Daemon::StartSonic() {
  // SONiC switches (intent `driver: sonic`) and the lossless health supervisor; FabricSync sees
  // the switches through the runtime's SwitchDriver (StartSwitches).
  if (intent_->switch_drivers.empty()) return absl::OkStatus();
  auto started = pulse::northbound::StartSonicFromConfig(
      fabric_, intent_->switch_drivers, config_.lossless_health, controller_.get(), qos_.get(),
      telemetry_loop_.get(), &metrics_registry_);
  if (!started.ok()) return started.status();
  sonic_ = *std::move(started);
  return absl::OkStatus();
}

absl::Status Daemon::StartOracle() {
  absl::StatusOr<pulse::controller::HashModels> intent_models =
      pulse::controller::HashModelsFromIntent(*fabric_, intent_->ecmp_hash);
  if (!intent_models.ok()) return intent_models.status();
  pulse::daemon::OracleRuntimeOptions options;
  options.config = config_.oracle;
  options.port_min = static_cast<uint16_t>(config_.placement.steering_port_min);
  options.port_max = static_cast<uint16_t>(config_.placement.steering_port_max);
  options.forwarding_barrier = [sync = fabric_sync_.get()] { sync->Sync().wait(); };
  auto oracle = pulse::daemon::OracleRuntime::Start(
      controller_.get(), fabric_, openflow_driver_.get(), intent_->ecmp_hash, *intent_models,
      std::move(options), &metrics_registry_);
  if (!oracle.ok()) return oracle.status();
  oracle_ = *std::move(oracle);
  fabric_sync_->SetProbeHandler([oracle = oracle_.get()](pulse::switches::SwitchId sw,
                                                         pulse::southbound::PortNo port,
                                                         const pulse::southbound::ProbePacket& p) {
    oracle->OnProbeSeen(sw, port, p);
  });
  Log(LogLevel::kInfo, "path oracle: on (marker DSCP ", config_.oracle.marker_dscp, ")");
  return absl::OkStatus();
}

absl::Status Daemon::StartSwitches() {
  // Each switch is served by the driver its intent names: OpenFlow switches connect to the
  // listener, SONiC switches are reached over their Redis; one FabricSync keeps all of them in
  // line with the state. Without an openflow section the OpenFlow switches are not attached.
  pulse::switches::SwitchDriverTable drivers;
  absl::StatusOr<std::pair<std::string, uint16_t>> address =
      ListenAddress("openflow.listen", config_.openflow.listen);
  if (config_.openflow.enabled) {
    if (!address.ok()) return address.status();
    pulse::southbound::openflow::OpenFlowDriverOptions driver_options;
    driver_options.listen_address = address->first;
    driver_options.listen_port = address->second;
    for (pulse::topology::NodeId nic : fabric_->nics()) {  // the intent's; learned ones follow
      const pulse::topology::Node& n = fabric_->node(nic);
      if (n.ipv4 != 0 && n.mac != 0) driver_options.address_book.emplace_back(n.ipv4, n.mac);
    }
    pulse::northbound::ConfigureOpenFlowListener(config_.openflow, *fabric_, &driver_options);
    openflow_driver_ =
        std::make_unique<pulse::southbound::openflow::OpenFlowDriver>(std::move(driver_options));
    drivers.Add(pulse::topology::kDefaultSwitchDriver, openflow_driver_.get());
  } else {
    Log(LogLevel::kInfo, "planning mode: no OpenFlow switches attached (no openflow section)");
  }
  if (sonic_) drivers.Add("sonic", sonic_->switch_driver());
  if (drivers.drivers().empty()) return absl::OkStatus();
  // A switch whose driver is not running (OpenFlow in planning mode) is left unserved.
  if (absl::Status status = drivers.Route(*fabric_, /*allow_missing=*/true); !status.ok()) {
    return status;
  }
  pulse::controller::FabricSyncOptions sync_options;
  // Discovery probes go out through OpenFlow (LLDP); with no OpenFlow driver there is nothing
  // to judge the cabling by.
  sync_options.probe_interval =
      std::chrono::milliseconds(openflow_driver_ ? config_.openflow.probe_interval_ms : 0);
  sync_options.stats_interval = std::chrono::milliseconds(config_.openflow.stats_interval_ms);
  const bool oracle_on = config_.oracle.enabled && openflow_driver_ != nullptr;
  if (oracle_on)  // the probe-catching rules come with every switch's tables
    sync_options.forwarding.probe_marker_dscp = static_cast<uint8_t>(config_.oracle.marker_dscp);
  fabric_sync_ = std::make_unique<pulse::controller::FabricSync>(controller_.get(),
                                                                 std::move(drivers), sync_options);
  pulse::controller::TelemetryLoop* loop = telemetry_loop_.get();
  // Counters arrive keyed by fabric node: each driver translated its switch's id at its boundary.
  fabric_sync_->SetCountersHandler(
      [loop](pulse::switches::SwitchId sw,
             const std::vector<pulse::southbound::PortCounters>& counters) {
        loop->OnPortCounters(sw, counters);
      });
  if (oracle_on) {
    if (absl::Status status = StartOracle(); !status.ok()) return status;
  }
  if (absl::Status status = fabric_sync_->Start(); !status.ok()) {
    return absl::Status(status.code(), absl::StrCat("openflow.listen: ", status.message()));
  }
  if (!openflow_driver_) return absl::OkStatus();
  Log(LogLevel::kInfo, "OpenFlow: switches connect to ", address->first, ":",
      openflow_driver_->port());
  scrape_hooks_.push_back([driver = openflow_driver_.get(), registry = &metrics_registry_,
                           reported = uint64_t{0}]() mutable {
    const uint64_t sent = driver->stats().flow_mods_sent;
    (void)pulse::controller::PulseMetrics(registry).AddFlowMods(
        "all", static_cast<double>(sent - reported));
    reported = sent;
  });
  scrape_hooks_.push_back(
      pulse::northbound::OpenFlowRefusalsScrapeHook(openflow_driver_.get(), &metrics_registry_));
  return absl::OkStatus();
}

absl::Status Daemon::StartSflow() {
  // sFlow: counters (and flow samples) from switches' agents. Ports are resolved through OVSDB
  // (Open vSwitch's agent names them by ifindex). The samples drive link load only when OpenFlow
  // port stats are not polled (openflow.stats_interval_ms: 0): one source per port, since two
  // sources' counters interleaved make no rates.
  if (config_.sflow_listen.empty()) return absl::OkStatus();
  absl::StatusOr<std::pair<std::string, uint16_t>> address =
      ListenAddress("sflow_listen", config_.sflow_listen);
  if (!address.ok()) return address.status();
  const bool feeds_link_load = !openflow_driver_ || config_.openflow.stats_interval_ms == 0;
  if (feeds_link_load) {
    // Bridges are named by the same node <-> datapath id map the OpenFlow driver uses.
    auto ports = pulse::southbound::sflow::OvsSflowPortMap::Connect(
        pulse::southbound::ovsdb::kDefaultOvsdbEndpoint,
        pulse::southbound::openflow::DatapathMap(
            pulse::southbound::openflow::OpenFlowDatapaths(*fabric_)));
    if (ports.ok()) {
      sflow_ports_ = *std::move(ports);
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
  pulse::controller::TelemetryLoop* loop = telemetry_loop_.get();
  pulse::southbound::sflow::OvsSflowPortMap* ports = sflow_ports_.get();
  auto collector = pulse::southbound::sflow::Collector::Start(
      sflow_io_, collector_options,
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
    return absl::Status(collector.status().code(),
                        absl::StrCat("sflow_listen: ", collector.status().message()));
  }
  sflow_collector_ = *std::move(collector);
  Log(LogLevel::kInfo, "sFlow collector on udp ", address->first, ":", sflow_collector_->port());
  scrape_hooks_.push_back([collector = sflow_collector_.get(), registry = &metrics_registry_,
                           reported = pulse::southbound::sflow::CollectorStats{}]() mutable {
    const pulse::southbound::sflow::CollectorStats now = collector->stats();
    pulse::controller::PulseMetrics metrics(registry);
    (void)metrics.AddSflowDatagrams(
        "ok", static_cast<double>((now.datagrams - now.decode_errors) -
                                  (reported.datagrams - reported.decode_errors)));
    (void)metrics.AddSflowDatagrams(
        "malformed", static_cast<double>(now.decode_errors - reported.decode_errors));
    reported = now;
  });
  sflow_thread_.thread = std::thread([this] {
    pulse::NameThisThread("pulse-sflow");
    sflow_io_.run();
  });
  return absl::OkStatus();
}

absl::Status Daemon::StartApi() {
  // Every scrape hook is in place: serve /metrics (the destructor stops it before the parts the
  // hooks read).
  if (metrics_server_)
    metrics_thread_.thread = std::thread([this] {
      pulse::NameThisThread("pulse-metrics");
      metrics_io_.run();
    });
  pulse::northbound::ApiServerOptions& options = server_options_;
  options.listen_address = config_.listen;
  options.insecure = config_.insecure;
  options.tls = config_.tls;
  options.tokens = std::move(tokens_);
  options.limits = config_.limits;
  auto gate = [this](std::unique_ptr<pulse::northbound::GatedService> gated) {
    server_options_.extra_services.push_back(gated.get());
    gated_.push_back(std::move(gated));
  };
  if (qos_) server_options_.extra_services.push_back(qos_->gated.get());
  // Host steering: each steered flow's UDP source port and the NCCL settings for its job.
  pulse::northbound::SteeringServiceOptions steering_options;
  steering_options.gid_index = static_cast<int>(config_.placement.gid_index);
  steering_service_ =
      std::make_unique<pulse::northbound::SteeringServiceImpl>(controller_.get(), steering_options);
  gate(pulse::northbound::GateService<pulse::v1::SteeringService>(steering_service_.get()));
  if (sonic_) {
    gate(pulse::northbound::GateService<pulse::v1::LosslessHealthService>(sonic_->service()));
    options.lossless_link_counters = [rt = sonic_.get()] { return rt->LinkCounters(); };
  }
  // Discovery is LLDP through OpenFlow: without it there is none to report.
  pulse::controller::FabricSync* discovery = openflow_driver_ ? fabric_sync_.get() : nullptr;
  scheduler_ = pulse::northbound::StartScheduler(controller_.get(), *intent_, discovery);
  gate(pulse::northbound::GateService<pulse::v1::SchedulerService>(scheduler_.get()));
  host_service_ =
      std::make_unique<pulse::northbound::HostServiceImpl>(controller_.get(), options.tokens);
  gate(pulse::northbound::GateService<pulse::v1::HostService>(host_service_.get()));
  if (replica_ && config_.insecure) {  // replicas reach each other in plaintext only (for now)
    options.forward_writes_to = [this] { return replica_->ForwardTarget(); };
  }
  pulse::controller::TelemetryLoop* loop = telemetry_loop_.get();
  options.measured_link_load_bps = [loop] { return loop->MeasuredLinkLoadBps(); };
  options.measured_job_bandwidth = [loop] { return loop->MeasuredJobBandwidth(); };
  options.rpc_latency_observer = [registry = &metrics_registry_](const std::string& method,
                                                                 double seconds) {
    (void)pulse::controller::PulseMetrics(registry).ObserveRpcLatency(method, seconds);
  };
  if (discovery != nullptr) {
    options.discovery = [discovery]() -> absl::StatusOr<pulse::controller::DiscoveryReport> {
      return discovery->Discovery();
    };
  }
  auto server = pulse::northbound::ApiServer::Start(controller_.get(), options);
  if (!server.ok()) return server.status();
  server_ = *std::move(server);
  if (std::string port_file = absl::GetFlag(FLAGS_port_file); !port_file.empty()) {
    std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << server_->port() << "\n";
    std::rename(tmp.c_str(), port_file.c_str());  // appear whole, never half-written
  }
  return absl::OkStatus();
}

absl::Status Daemon::StartWeb() {
  // The web view: the page and its read-only JSON API, with the API's tokens (viewer role).
  if (config_.web_listen.empty()) return absl::OkStatus();
  pulse::northbound::WebApiOptions web_options{
      server_options_.tokens, server_options_.measured_link_load_bps, server_options_.discovery};
  auto started = pulse::northbound::WebRuntime::Start(
      controller_.get(), config_.web_listen,
      config_.insecure ? pulse::northbound::TlsFiles{} : config_.tls, std::move(web_options));
  if (!started.ok()) return started.status();
  web_ = *std::move(started);
  Log(LogLevel::kInfo, "web view on ", web_->tls() ? "https" : "http", "://",
      ListenAddress("web_listen", config_.web_listen)->first, ":", web_->port(), "/");
  return absl::OkStatus();
}

absl::Status Daemon::StartCluster() {
  if (!replica_) return absl::OkStatus();
  // Cluster role changes (controller thread): logged, shown as the health of service
  // "pulse.cluster.leader" (SERVING on the leader). The OpenFlow driver must follow them too:
  // ROLE_REQUEST MASTER (leader) or SLAVE with generation_id = generation to every switch.
  auto on_role_change = [this](bool leader, uint64_t generation) {
    Log(LogLevel::kInfo, "cluster role: ", leader ? "LEADER" : "FOLLOWER", ", generation ",
        generation, "; ", replica_->Describe());
    // Switches fence a deposed leader themselves: its generation id is lower.
    if (openflow_driver_) openflow_driver_->SetRole(leader, generation);
  };
  if (absl::Status status = replica_->Start(controller_.get(), on_role_change); !status.ok()) {
    return absl::Status(status.code(), absl::StrCat("cluster: ", status.message()));
  }
  return absl::OkStatus();
}

absl::Status Daemon::StartHealth() {
  // Health (gRPC health services and /healthz): the store's writes work (a full disk is
  // NOT_SERVING until space is back), the replica's state is a complete read, and
  // "pulse.cluster.leader" while this replica holds an unexpired lease.
  std::vector<pulse::daemon::HealthCheck> health_checks;
  if (store_) {
    // While writes fail, a probe (a scratch write + fsync) at most every 500 ms says when
    // space is back; otherwise the check only reads the store's last write result.
    health_checks.push_back({"pulse.store",
                             [store = store_.get(), last_probe = absl::InfinitePast()]() mutable {
                               absl::Status now = store->write_health();
                               if (now.ok() || absl::Now() - last_probe < absl::Milliseconds(500)) {
                                 return now;
                               }
                               last_probe = absl::Now();
                               return store->ProbeWrites();
                             },
                             true});
  }
  if (replica_) {
    pulse::controller::ClusterReplica* replica = replica_.get();
    health_checks.push_back(
        {"pulse.cluster.ready", [replica] { return replica->ReadyStatus(); }, true});
    health_checks.push_back({"pulse.cluster.leader",
                             [replica] {
                               return replica->is_leader()
                                          ? absl::OkStatus()
                                          : absl::UnavailableError("not the leader");
                             },
                             false});
  }
  monitor_ = std::make_unique<pulse::daemon::HealthMonitor>(
      std::move(health_checks),
      [server = server_.get()](const std::string& service, bool serving) {
        server->SetServingStatus(service, serving);
      },
      absl::Milliseconds(100));
  monitor_->Start();
  health_monitor_.store(monitor_.get());
  return absl::OkStatus();
}

void Daemon::Serve() {
  boost::asio::io_context io;
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([this](const boost::system::error_code& error, int signal) {
    if (error) return;
    Log(LogLevel::kInfo, "signal ", signal, ": shutting down");
    server_->Shutdown(absl::Seconds(2));
  });
  io.run();
}

Daemon::~Daemon() {
  health_monitor_.store(nullptr);
  if (monitor_) monitor_->Stop();
  metrics_thread_.Stop();                  // the scrape hooks read the parts below
  web_.reset();                            // reads the telemetry loop, discovery and the controller
  sflow_thread_.Stop();                    // no more sFlow samples into the telemetry loop
  if (oracle_) oracle_->Stop();            // probes through the driver, waits on FabricSync
  if (fabric_sync_) fabric_sync_->Stop();  // no more switch events into the controller
  sonic_.reset();           // its switch threads feed the telemetry loop and the metrics
  telemetry_loop_.reset();  // waits on the controller: must run while it exists
  // Resign now, so another replica takes over without waiting for the lease to expire.
  if (replica_) {
    replica_->Stop();
    if (controller_) controller_->Sync().wait();  // queued role changes ran: the server may go
  }
  server_.reset();      // before the controller: in-flight calls finish against it
  qos_.reset();         // observes the controller
  controller_.reset();  // before the store it writes to
  store_.reset();
}

// Builds the daemon subsystem by subsystem (the first error stops start-up), serves until a
// signal, and tears it down.
int Run() {
  {
    Daemon daemon;
    for (absl::Status (Daemon::*build)() :
         {&Daemon::LoadConfig, &Daemon::LoadFabric, &Daemon::OpenStore, &Daemon::LoadTokens,
          &Daemon::BuildController, &Daemon::StartTelemetry, &Daemon::StartMetricsEndpoint,
          &Daemon::StartQos, &Daemon::StartSonic, &Daemon::StartSwitches, &Daemon::StartSflow,
          &Daemon::StartApi, &Daemon::StartWeb, &Daemon::StartCluster, &Daemon::StartHealth}) {
      if (absl::Status status = (daemon.*build)(); !status.ok()) return Fail(status);
    }
    daemon.Serve();
  }
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
