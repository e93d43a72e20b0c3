// The pulse-controller daemon's configuration: a YAML file, checked whole before anything starts
// (unknown keys and wrong types are errors naming the key), then overridden by command-line flags.
//
//   listen: 127.0.0.1:50051        # gRPC API address; port 0 picks a free port
//   fabric: examples/leaf-spine.yaml   # fabric intent file (required); relative to the config file
//   state_dir: /var/lib/pulse       # optional: persist jobs and drains there (embedded store)
//   state_recover: false            # start on a damaged state_dir, keeping every intact record
//   state_mirror: true              # write every log record twice (one bad sector loses nothing)
//   insecure: false                 # plaintext API; only when no TLS is given
//   tls: {cert: server.pem, key: server.key, client_ca: clients-ca.pem}  # client_ca: mutual TLS
//   tokens_file: tokens.yaml        # optional: bearer tokens with roles (auth off without it)
//   create_admin_token: false       # true: create tokens_file (0600, one admin token) if absent
//   log_level: info                 # debug | info | warning | error
//   limits: {max_endpoints_per_job: 4096, max_explicit_flows_per_job: 65536,
//            max_message_bytes: 16777216, max_jobs: 10000}
//   events: {ring_size: 4096}       # events kept for WatchEvents resume
//   openflow:                       # optional: drive switches (without it: planning mode)
//     listen: 0.0.0.0:6653          #   where switches connect
//     probe_interval_ms: 2000       #   LLDP discovery probes
//     stats_interval_ms: 1000       #   port counter polls
//     allow_unknown_dpids: false    #   true: admit switches whose dpid is not in the fabric
//     handshake_timeout_ms: 10000   #   HELLO..PORT_DESC must complete within this
//     max_connections_per_peer: 256 #   open connections from one IP address
//     max_multipart_reply_bytes: 33554432  # one multipart reply (e.g. FLOW_STATS), all parts
//     tls: {cert: of.pem, key: of.key, client_ca: switches-ca.pem}  # switches connect ssl:
//   qos:                            # lossless QoS (controller/qos/qos_policy.h); on by default
//     policy_file: roce-policy.yaml #   the policy (default: the built-in RoCE policy); an
//                                   #   admin's SetQosPolicy, stored, wins over it
//     ovsdb: unix:/var/run/openvswitch/db.sock  # push to Open vSwitch bridges, audit, repair
//     enabled: true                 #   false: no QoS service at all
//   metrics_listen: 127.0.0.1:9464  # optional: Prometheus GET /metrics (off when absent)
//   web_listen: 127.0.0.1:8080      # optional: the web view and its JSON API (off when absent);
//                                   #   HTTPS with the tls files unless insecure; viewer token
//                                   #   when tokens_file is set
//   sflow_listen: 0.0.0.0:6343      # optional: sFlow v5 collector, UDP (off when absent);
//                                   #   drives link load when openflow.stats_interval_ms is 0
//   telemetry:                      # congestion-driven re-placement (needs openflow)
//     period_ms: 1000               #   how often hot links are evaluated
//     hot_percent: 90               #   a link at or above this utilisation ...
//     hold_ms: 2000                 #   ... for this long is hot
//     clear_percent: 70             #   and stays hot until below this
//     max_moves_per_interval: 8     #   cap on flows moved ...
//     move_interval_ms: 10000       #   ... per this interval
//     flow_cooldown_ms: 10000       #   a moved flow is not moved again within this time
//     enabled: true                 #   false: measure and export only, never move flows
//   placement:                      # how placed paths are held in the fabric
//     enforcement: pin              #   pin: per-flow switch rules; steer: switches keep plain
//                                   #   ECMP, hosts send from assigned UDP source ports (the
//                                   #   intent's ecmp_hash section models the switches' hash)
//     steering_ports: 49152-65535   #   UDP source ports steering may assign
//     gid_index: 3                  #   NCCL_IB_GID_INDEX in exported NCCL settings (RoCEv2 GID)
//   oracle:                         # path oracle: probes switches steering relies on (openflow)
//     enabled: false                #   true: probe; learned/verified models replace the intent's
//     marker_dscp: 63               #   DSCP of probes (0-63), one no traffic class uses
//     probe: [learn, verify]        #   learn: switches with no declared model in the intent's
//                                   #   ecmp_hash (their table is learned); verify: declared ones
//     probes_per_uplink: 64         #   budget per (switch, uplink) for one probing
//     probe_timeout_ms: 1000        #   a probe batch waits this long for its sightings
//   lossless_health:                # SONiC switches (intent driver: sonic) and the supervisor
//     counters_interval_ms: 10000   #   COUNTERS_DB polls and supervisor steps
//     audit_interval_ms: 10000      #   CONFIG_DB read-back (edits are also caught at once)
//     dry_run: true                 #   decisions logged and shown, not applied
//     max_isolated_links: 2         #   cap on links isolated at once
//     clean_window_ms: 60000        #   an incident closes after this long without its condition
//   cluster:                        # optional: replicated controllers sharing state in etcd
//     etcd_endpoints: [127.0.0.1:2379, 127.0.0.1:22379]  # state store and leader election
//     name: pulse-prod              #   cluster name (etcd key prefix), [A-Za-z0-9._-]+
//     replica_id: ctl-1             #   this replica, for logs
//     advertise: 10.0.0.1:50051     #   where other replicas and clients reach this API
//     lease_ttl_s: 2                #   leader lease: bounds failover time
#ifndef PULSE_DAEMON_CONFIG_H_
#define PULSE_DAEMON_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/log.h"
#include "northbound/convert.h"
#include "northbound/server.h"

namespace pulse::northbound {

// The OpenFlow southbound. Absent from the file: planning mode (no switches).
struct OpenFlowConfig {
  bool enabled = false;
  std::string listen = "0.0.0.0:6653";
  int64_t probe_interval_ms = 2000;
  int64_t stats_interval_ms = 1000;
  // Switches whose datapath id is not in the fabric intent are refused unless this is true.
  bool allow_unknown_dpids = false;
  // Listener limits (southbound/openflow/connection.h ChannelOptions).
  int64_t handshake_timeout_ms = 10000;
  int64_t max_connections_per_peer = 256;
  int64_t max_multipart_reply_bytes = 32 << 20;
  // TLS with client certificates; all three files or none (plain TCP).
  TlsFiles tls;
};

// Telemetry loop (controller/telemetry/telemetry_loop.h) settings; the defaults suit 1 s stats
// polling.
struct TelemetryConfig {
  bool moves_enabled = true;
  int64_t period_ms = 1000;
  int64_t hot_percent = 90;
  int64_t clear_percent = 70;
  int64_t hold_ms = 2000;
  int64_t max_moves_per_interval = 8;
  int64_t move_interval_ms = 10000;
  int64_t flow_cooldown_ms = 10000;
};

// Cluster mode (controller/cluster/replica.h). Absent: one controller with the embedded store.
struct ClusterConfig {
  bool enabled = false;
  std::vector<std::string> etcd_endpoints;
  std::string name;
  std::string replica_id;
  std::string advertise;
  int64_t lease_ttl_s = 2;
};

// Lossless QoS. Without the section: the built-in policy, no switch push, and a policy that
// cannot plan the fabric disables QoS with an error in the log instead of stopping start-up.
struct QosConfig {
  bool configured = false;  // the section (or a --qos_* flag) was given: failures stop start-up
  bool enabled = true;
  std::string policy_file;  // "": the built-in policy
  std::string ovsdb;        // "": no push; "unix:/path" or "tcp:IP:PORT"
};

// Placement enforcement and host steering.
struct PlacementConfig {
  std::string enforcement = "pin";  // "pin" or "steer"
  int64_t steering_port_min = 49152;
  int64_t steering_port_max = 65535;
  int64_t gid_index = 3;
};

// The path oracle (daemon/oracle_runtime.h).
struct OracleConfig {
  bool enabled = false;
  int64_t marker_dscp = 63;
  bool learn = true;   // probe switches the intent declares no hash model for (learn tables)
  bool verify = true;  // probe switches with a declared model (verify it)
  int64_t probes_per_uplink = 64;
  int64_t probe_timeout_ms = 1000;
};

// SONiC southbound and the lossless health supervisor (daemon/sonic_runtime.h).
struct LosslessHealthConfig {
  int64_t counters_interval_ms = 10000;
  int64_t audit_interval_ms = 10000;
  bool dry_run = true;
  int64_t max_isolated_links = 2;
  int64_t clean_window_ms = 60000;
};

struct DaemonConfig {
  std::string listen = "127.0.0.1:50051";
  std::string fabric_file;
  std::string state_dir;  // empty: nothing persisted
  // Open a state_dir whose damage lost acknowledged records anyway: keep every intact record,
  // report what was lost, set the damaged files aside (controller/store/embedded_store.h). Without
  // it the daemon refuses to start on such a directory.
  bool state_recover = false;
  // Every log record written twice (log and log.mirror), so one bad sector loses nothing; false
  // halves the write latency and keeps one copy.
  bool state_mirror = true;
  bool insecure = false;
  TlsFiles tls;
  std::string tokens_file;  // empty: auth off
  // Creates tokens_file with one admin token when it does not exist (daemon/security.h).
  bool create_admin_token = false;
  LogLevel log_level = LogLevel::kInfo;
  ApiLimits limits;
  size_t max_jobs = 10000;
  size_t event_ring_size = 4096;
  OpenFlowConfig openflow;
  ClusterConfig cluster;
  std::string metrics_listen;  // host:port of the Prometheus endpoint; empty: off
  std::string sflow_listen;    // host:port of the sFlow collector; empty: off
  std::string web_listen;      // host:port of the web view (daemon/web_runtime.h); empty: off
  TelemetryConfig telemetry;
  QosConfig qos;
  PlacementConfig placement;
  LosslessHealthConfig lossless_health;
  OracleConfig oracle;
};

// Parses YAML config text. Relative paths (fabric, tls.*, tokens_file, state_dir) are resolved
// against `base_dir` (the config file's directory; "" keeps them as written). InvalidArgument
// "SOURCE: key: problem" on any error.
absl::StatusOr<DaemonConfig> ParseDaemonConfig(absl::string_view yaml_text,
                                               absl::string_view source_name,
                                               absl::string_view base_dir);
// Reads and parses a config file. NotFound when it cannot be read.
absl::StatusOr<DaemonConfig> LoadDaemonConfigFile(const std::string& path);

// Checks what must hold after flags are applied: a fabric file, TLS files or insecure, sane
// limits. The message names the key.
absl::Status ValidateDaemonConfig(const DaemonConfig& config);

// "host:port" -> {host, port}; "[::1]:6653" for IPv6. Port 0 is allowed (any free port).
absl::StatusOr<std::pair<std::string, uint16_t>> SplitHostPort(absl::string_view address);

}  // namespace pulse::northbound

#endif  // PULSE_DAEMON_CONFIG_H_
