#include "daemon/config.h"

#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/yaml_fields.h"
#include "controller/placement/job_validation.h"
#include "yaml-cpp/yaml.h"

namespace pulse::northbound {
namespace {

std::string Resolve(absl::string_view base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) return path;
  return absl::StrCat(base_dir, "/", path);
}

// The config's walk on the shared YAML readers (common/yaml_fields.h): errors read
// "FILE:LINE: key.path: problem". Sections are maps of key -> handler.
class Parser {
 public:
  using Handler = std::function<absl::Status(const YAML::Node&, const std::string&)>;

  explicit Parser(absl::string_view source) : fields_(source) {}

  absl::Status Error(const YAML::Node& at, const std::string& key,
                     absl::string_view problem) const {
    return fields_.Error(at, key, problem);
  }
  absl::Status String(const YAML::Node& node, const std::string& key, std::string* out) const {
    return fields_.ReadInto(node, key, out);
  }
  absl::Status Bool(const YAML::Node& node, const std::string& key, bool* out) const {
    return fields_.ReadInto(node, key, out);
  }
  absl::Status Int(const YAML::Node& node, const std::string& key, int64_t min, int64_t max,
                   int64_t* out) const {
    absl::StatusOr<int64_t> value = fields_.Int(node, key, min, max);
    if (!value.ok()) return value.status();
    *out = *value;
    return absl::OkStatus();
  }
  // Calls `handlers[key]` for each key of a map; unknown and repeated keys are errors.
  absl::Status Map(const YAML::Node& node, const std::string& prefix,
                   const std::map<std::string, Handler>& handlers) const {
    std::vector<std::string> keys;
    for (const auto& [key, handler] : handlers) keys.push_back(key);
    return fields_.ReadMap(
        node, prefix, keys,
        [&handlers](const std::string& key, const std::string& field, const YAML::Node& value) {
          return handlers.at(key)(value, field);
        });
  }
  absl::Status List(const YAML::Node& node, const std::string& key,
                    const yaml::YamlFields::ItemReader& read) const {
    return fields_.ReadList(node, key, read);
  }

 private:
  yaml::YamlFields fields_;
};

}  // namespace

absl::StatusOr<DaemonConfig> ParseDaemonConfig(absl::string_view yaml_text,
                                               absl::string_view source_name,
                                               absl::string_view base_dir) {
  DaemonConfig config;
  Parser p(source_name);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
    if (root.IsNull()) return config;  // an empty file: all defaults
    using Handler = Parser::Handler;
    auto str = [&](std::string* out, bool path) -> Handler {
      return [&p, out, path, base_dir](const YAML::Node& n, const std::string& key) {
        absl::Status status = p.String(n, key, out);
        if (status.ok() && path) *out = Resolve(base_dir, *out);
        return status;
      };
    };
    auto integer = [&](auto* out, int64_t min, int64_t max) -> Handler {
      return [&p, out, min, max](const YAML::Node& n, const std::string& key) {
        int64_t value = 0;
        absl::Status status = p.Int(n, key, min, max, &value);
        if (status.ok()) *out = static_cast<std::remove_pointer_t<decltype(out)>>(value);
        return status;
      };
    };
    absl::Status status = p.Map(
        root, "",
        {{"listen", str(&config.listen, false)},
         {"fabric", str(&config.fabric_file, true)},
         {"state_dir", str(&config.state_dir, true)},
         {"state_recover", [&](const YAML::Node& n,
                               const std::string& key) { return p.Bool(n, key, &config.state_recover); }},
         {"state_mirror", [&](const YAML::Node& n,
                              const std::string& key) { return p.Bool(n, key, &config.state_mirror); }},
         {"tokens_file", str(&config.tokens_file, true)},
         {"create_admin_token",
          [&](const YAML::Node& n, const std::string& key) {
            return p.Bool(n, key, &config.create_admin_token);
          }},
         {"insecure", [&](const YAML::Node& n,
                          const std::string& key) { return p.Bool(n, key, &config.insecure); }},
         {"log_level",
          [&](const YAML::Node& n, const std::string& key) -> absl::Status {
            std::string name;
            if (absl::Status s = p.String(n, key, &name); !s.ok()) return s;
            absl::StatusOr<LogLevel> level = ParseLogLevel(name);
            if (!level.ok()) return p.Error(n, key, level.status().message());
            config.log_level = *level;
            return absl::OkStatus();
          }},
         {"tls",
          [&](const YAML::Node& n, const std::string& key) {
            return p.Map(n, key,
                         {{"cert", str(&config.tls.cert_file, true)},
                          {"key", str(&config.tls.key_file, true)},
                          {"client_ca", str(&config.tls.client_ca_file, true)}});
          }},
         {"limits",
          [&](const YAML::Node& n, const std::string& key) {
            return p.Map(
                n, key,
                {{"max_endpoints_per_job",
                  integer(&config.limits.max_endpoints_per_job,
                          controller::kMinCollectiveEndpoints, controller::kMaxJobEndpoints)},
                 {"max_explicit_flows_per_job",
                  integer(&config.limits.max_explicit_flows_per_job, 1,
                          controller::kMaxJobExplicitFlows)},
                 {"max_message_bytes", integer(&config.limits.max_message_bytes, 1024, 1 << 30)},
                 {"max_jobs", integer(&config.max_jobs, 1, 1 << 24)}});
          }},
         {"openflow",
          [&](const YAML::Node& n, const std::string& key) {
            config.openflow.enabled = true;
            return p.Map(n, key,
                         {{"listen", str(&config.openflow.listen, false)},
                          {"probe_interval_ms",
                           integer(&config.openflow.probe_interval_ms, 0, 3600 * 1000)},
                          {"stats_interval_ms",
                           integer(&config.openflow.stats_interval_ms, 0, 3600 * 1000)},
                          {"allow_unknown_dpids",
                           [&](const YAML::Node& v, const std::string& k) {
                             return p.Bool(v, k, &config.openflow.allow_unknown_dpids);
                           }},
                          {"handshake_timeout_ms",
                           integer(&config.openflow.handshake_timeout_ms, 100, 600 * 1000)},
                          {"max_connections_per_peer",
                           integer(&config.openflow.max_connections_per_peer, 1, 65536)},
                          {"max_multipart_reply_bytes",
                           integer(&config.openflow.max_multipart_reply_bytes, 65536, 1 << 30)},
                          {"tls", [&](const YAML::Node& t, const std::string& k) {
                             return p.Map(t, k,
                                          {{"cert", str(&config.openflow.tls.cert_file, true)},
                                           {"key", str(&config.openflow.tls.key_file, true)},
                                           {"client_ca",
                                            str(&config.openflow.tls.client_ca_file, true)}});
                           }}});
          }},
         {"cluster",
          [&](const YAML::Node& n, const std::string& key) {
            config.cluster.enabled = true;
            return p.Map(
                n, key,
                {{"etcd_endpoints",
                  [&](const YAML::Node& list, const std::string& list_key) -> absl::Status {
                    return p.List(list, list_key,
                                  [&](size_t, const std::string& item_key, const YAML::Node& item) {
                                    std::string endpoint;
                                    if (absl::Status s = p.String(item, item_key, &endpoint);
                                        !s.ok()) {
                                      return s;
                                    }
                                    config.cluster.etcd_endpoints.push_back(endpoint);
                                    return absl::OkStatus();
                                  });
                  }},
                 {"name", str(&config.cluster.name, false)},
                 {"replica_id", str(&config.cluster.replica_id, false)},
                 {"advertise", str(&config.cluster.advertise, false)},
                 {"lease_ttl_s", integer(&config.cluster.lease_ttl_s, 2, 60)}});
          }},
         {"qos",
          [&](const YAML::Node& n, const std::string& key) {
            config.qos.configured = true;
            return p.Map(n, key,
                         {{"enabled",
                           [&](const YAML::Node& v, const std::string& k) {
                             return p.Bool(v, k, &config.qos.enabled);
                           }},
                          {"policy_file", str(&config.qos.policy_file, true)},
                          {"ovsdb", str(&config.qos.ovsdb, false)}});
          }},
         {"lossless_health",
          [&](const YAML::Node& n, const std::string& key) {
            LosslessHealthConfig& h = config.lossless_health;
            return p.Map(
                n, key,
                {{"counters_interval_ms", integer(&h.counters_interval_ms, 100, 3600 * 1000)},
                 {"audit_interval_ms", integer(&h.audit_interval_ms, 100, 3600 * 1000)},
                 {"dry_run",
                  [&](const YAML::Node& v, const std::string& k) {
                    return p.Bool(v, k, &h.dry_run);
                  }},
                 {"max_isolated_links", integer(&h.max_isolated_links, 0, 1 << 20)},
                 {"clean_window_ms", integer(&h.clean_window_ms, 0, 24 * 3600 * 1000)}});
          }},
         {"metrics_listen", str(&config.metrics_listen, false)},
         {"sflow_listen", str(&config.sflow_listen, false)},
         {"web_listen", str(&config.web_listen, false)},
         {"telemetry",
          [&](const YAML::Node& n, const std::string& key) {
            TelemetryConfig& t = config.telemetry;
            return p.Map(
                n, key,
                {{"enabled", [&](const YAML::Node& v,
                                 const std::string& k) { return p.Bool(v, k, &t.moves_enabled); }},
                 {"period_ms", integer(&t.period_ms, 10, 3600 * 1000)},
                 {"hot_percent", integer(&t.hot_percent, 1, 1000)},
                 {"clear_percent", integer(&t.clear_percent, 1, 1000)},
                 {"hold_ms", integer(&t.hold_ms, 0, 3600 * 1000)},
                 {"max_moves_per_interval", integer(&t.max_moves_per_interval, 0, 1 << 20)},
                 {"move_interval_ms", integer(&t.move_interval_ms, 0, 3600 * 1000)},
                 {"flow_cooldown_ms", integer(&t.flow_cooldown_ms, 0, 3600 * 1000)}});
          }},
         {"placement",
          [&](const YAML::Node& n, const std::string& key) {
            PlacementConfig& pc = config.placement;
            return p.Map(
                n, key,
                {{"enforcement",
                  [&](const YAML::Node& v, const std::string& k) -> absl::Status {
                    if (absl::Status s = p.String(v, k, &pc.enforcement); !s.ok()) return s;
                    if (pc.enforcement != "pin" && pc.enforcement != "steer")
                      return p.Error(v, k,
                                     absl::StrCat("expected pin or steer, got '",
                                                  pc.enforcement.substr(0, 64), "'"));
                    return absl::OkStatus();
                  }},
                 {"steering_ports",
                  [&](const YAML::Node& v, const std::string& k) -> absl::Status {
                    std::string range;
                    if (absl::Status s = p.String(v, k, &range); !s.ok()) return s;
                    std::vector<std::string> ends = absl::StrSplit(range, '-');
                    if (ends.size() != 2 || !absl::SimpleAtoi(ends[0], &pc.steering_port_min) ||
                        !absl::SimpleAtoi(ends[1], &pc.steering_port_max) ||
                        pc.steering_port_min < 1 || pc.steering_port_max > 65535 ||
                        pc.steering_port_min > pc.steering_port_max)
                      return p.Error(v, k,
                                     absl::StrCat("expected FIRST-LAST within 1-65535, got '",
                                                  range.substr(0, 64), "'"));
                    return absl::OkStatus();
                  }},
                 {"gid_index", integer(&pc.gid_index, 0, 255)}});
          }},
         {"oracle",
          [&](const YAML::Node& n, const std::string& key) {
            OracleConfig& oc = config.oracle;
            return p.Map(
                n, key,
                {{"enabled", [&](const YAML::Node& v,
                                 const std::string& k) { return p.Bool(v, k, &oc.enabled); }},
                 {"marker_dscp", integer(&oc.marker_dscp, 0, 63)},
                 {"probes_per_uplink", integer(&oc.probes_per_uplink, 2, 4096)},
                 {"probe_timeout_ms", integer(&oc.probe_timeout_ms, 10, 60 * 1000)},
                 {"probe", [&](const YAML::Node& v, const std::string& k) -> absl::Status {
                    oc.learn = oc.verify = false;
                    return p.List(v, k, [&](size_t, const std::string& ik,
                                            const YAML::Node& item) -> absl::Status {
                      std::string what;
                      if (absl::Status s = p.String(item, ik, &what); !s.ok()) return s;
                      if (what == "learn") {
                        oc.learn = true;
                      } else if (what == "verify") {
                        oc.verify = true;
                      } else {
                        return p.Error(item, ik,
                                       absl::StrCat("expected learn or verify, got '",
                                                    what.substr(0, 64), "'"));
                      }
                      return absl::OkStatus();
                    });
                  }}});
          }},
         {"events", [&](const YAML::Node& n, const std::string& key) {
            return p.Map(n, key, {{"ring_size", integer(&config.event_ring_size, 1, 1 << 24)}});
          }}});
    if (!status.ok()) return status;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": ", e.what()));
  }
  return config;
}

absl::StatusOr<DaemonConfig> LoadDaemonConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read config file '", path, "'"));
  std::stringstream text;
  text << in.rdbuf();
  std::string base_dir;
  if (size_t slash = path.rfind('/'); slash != std::string::npos) base_dir = path.substr(0, slash);
  return ParseDaemonConfig(text.str(), path, base_dir);
}

absl::Status ValidateDaemonConfig(const DaemonConfig& config) {
  if (config.fabric_file.empty()) {
    return absl::InvalidArgumentError("fabric: missing (the fabric intent file to serve)");
  }
  if (config.listen.empty()) return absl::InvalidArgumentError("listen: must not be empty");
  if (absl::StatusOr<std::pair<std::string, uint16_t>> address = SplitHostPort(config.listen);
      !address.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("listen: ", address.status().message()));
  }
  if (config.oracle.enabled && !config.openflow.enabled) {
    return absl::InvalidArgumentError(
        "oracle.enabled: needs the openflow section (probes are injected by OpenFlow packet-out)");
  }
  if (config.create_admin_token && config.tokens_file.empty()) {
    return absl::InvalidArgumentError(
        "create_admin_token: needs tokens_file (where the admin token is created)");
  }
  if (config.tls.cert_file.empty() != config.tls.key_file.empty()) {
    return absl::InvalidArgumentError(config.tls.cert_file.empty()
                                          ? "tls.cert: missing (tls.key is set)"
                                          : "tls.key: missing (tls.cert is set)");
  }
  if (config.tls.cert_file.empty() && !config.tls.client_ca_file.empty()) {
    return absl::InvalidArgumentError("tls.client_ca: needs tls.cert and tls.key");
  }
  if (config.tls.cert_file.empty() && !config.insecure) {
    return absl::InvalidArgumentError(
        "tls: missing; give tls.cert and tls.key, or set insecure: true (--insecure) for "
        "plaintext");
  }
  if (config.openflow.enabled) {
    if (absl::StatusOr<std::pair<std::string, uint16_t>> address =
            SplitHostPort(config.openflow.listen);
        !address.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("openflow.listen: ", address.status().message()));
    }
  }
  if (const TlsFiles& tls = config.openflow.tls;
      (!tls.cert_file.empty() || !tls.key_file.empty() || !tls.client_ca_file.empty()) &&
      (tls.cert_file.empty() || tls.key_file.empty() || tls.client_ca_file.empty())) {
    return absl::InvalidArgumentError(
        "openflow.tls: needs cert, key and client_ca (switches must present a certificate "
        "signed by client_ca)");
  }
  for (const auto& [key, value] :
       {std::pair<const char*, const std::string*>{"metrics_listen", &config.metrics_listen},
        {"sflow_listen", &config.sflow_listen},
        {"web_listen", &config.web_listen}}) {
    if (value->empty()) continue;
    if (absl::StatusOr<std::pair<std::string, uint16_t>> address = SplitHostPort(*value);
        !address.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(key, ": ", address.status().message()));
    }
  }
  if (!config.qos.ovsdb.empty() && !absl::StartsWith(config.qos.ovsdb, "unix:") &&
      !absl::StartsWith(config.qos.ovsdb, "tcp:")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "qos.ovsdb: expected unix:/path or tcp:IP:PORT, got '", config.qos.ovsdb, "'"));
  }
  if (!config.qos.enabled && (!config.qos.policy_file.empty() || !config.qos.ovsdb.empty())) {
    return absl::InvalidArgumentError(
        "qos.enabled: false contradicts qos.policy_file / qos.ovsdb; remove one of them");
  }
  if (config.telemetry.clear_percent > config.telemetry.hot_percent) {
    return absl::InvalidArgumentError(
        absl::StrCat("telemetry.clear_percent: ", config.telemetry.clear_percent,
                     " is above telemetry.hot_percent ", config.telemetry.hot_percent));
  }
  if (config.cluster.enabled) {
    if (config.cluster.etcd_endpoints.empty()) {
      return absl::InvalidArgumentError("cluster.etcd_endpoints: at least one etcd endpoint");
    }
    for (size_t i = 0; i < config.cluster.etcd_endpoints.size(); ++i) {
      std::string endpoint = config.cluster.etcd_endpoints[i];
      if (absl::StartsWith(endpoint, "http://")) endpoint = endpoint.substr(7);
      if (absl::StatusOr<std::pair<std::string, uint16_t>> address = SplitHostPort(endpoint);
          !address.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("cluster.etcd_endpoints[", i, "]: ", address.status().message()));
      }
    }
    if (config.cluster.name.empty() ||
        config.cluster.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789._-") != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("cluster.name: must be [A-Za-z0-9._-]+, got '", config.cluster.name, "'"));
    }
    if (config.cluster.replica_id.empty()) {
      return absl::InvalidArgumentError("cluster.replica_id: missing (names this replica)");
    }
    if (absl::StatusOr<std::pair<std::string, uint16_t>> address =
            SplitHostPort(config.cluster.advertise);
        !address.ok() || address->second == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cluster.advertise: expected the host:port (non-zero port) this replica's API is "
          "reached at, got '",
          config.cluster.advertise, "'"));
    }
    if (!config.state_dir.empty()) {
      return absl::InvalidArgumentError(
          "state_dir: not used in cluster mode (state lives in etcd); remove one of them");
    }
  }
  if (!config.tls.cert_file.empty() && config.insecure) {
    return absl::InvalidArgumentError("insecure: true contradicts tls.cert; choose one");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::pair<std::string, uint16_t>> SplitHostPort(absl::string_view address) {
  size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(absl::StrCat("expected host:port, got '", address, "'"));
  }
  std::string host(address.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  uint32_t port = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port) || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad port in '", address, "' (expected 0..65535)"));
  }
  return std::make_pair(host, static_cast<uint16_t>(port));
}

}  // namespace pulse::northbound
