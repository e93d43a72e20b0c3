// The daemon config (daemon/config.h) beyond the cluster section (cluster_config_test.cc):
// every other section parses into its fields, and every bad value is refused naming its key.
#include "daemon/config.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace pulse::northbound {
namespace {

constexpr char kBase[] = "fabric: f.yaml\ninsecure: true\n";

absl::StatusOr<DaemonConfig> ParseAndValidate(const std::string& yaml,
                                              const std::string& base_dir = "") {
  absl::StatusOr<DaemonConfig> config =
      ParseDaemonConfig(std::string(kBase) + yaml, "test.yaml", base_dir);
  if (!config.ok()) return config.status();
  if (absl::Status status = ValidateDaemonConfig(*config); !status.ok()) return status;
  return config;
}

TEST(DaemonConfigTest, ParsesQosTelemetryOpenFlowAndListeners) {
  absl::StatusOr<DaemonConfig> config = ParseAndValidate(
      "qos: {policy_file: policy.yaml, ovsdb: 'unix:/run/openvswitch/db.sock'}\n"
      "openflow: {listen: 0.0.0.0:6653, probe_interval_ms: 500, stats_interval_ms: 0}\n"
      "metrics_listen: 127.0.0.1:9464\n"
      "sflow_listen: 0.0.0.0:6343\n"
      "web_listen: 127.0.0.1:8080\n"
      "telemetry: {period_ms: 500, hot_percent: 85, clear_percent: 60, hold_ms: 1500,\n"
      "            max_moves_per_interval: 4, move_interval_ms: 5000, flow_cooldown_ms: 20000,\n"
      "            enabled: false}\n",
      "/etc/pulse");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->qos.configured);
  EXPECT_TRUE(config->qos.enabled);
  EXPECT_EQ(config->qos.policy_file, "/etc/pulse/policy.yaml");  // relative to the config
  EXPECT_EQ(config->qos.ovsdb, "unix:/run/openvswitch/db.sock");
  EXPECT_TRUE(config->openflow.enabled);
  EXPECT_EQ(config->openflow.listen, "0.0.0.0:6653");
  EXPECT_EQ(config->openflow.probe_interval_ms, 500);
  EXPECT_EQ(config->openflow.stats_interval_ms, 0);
  EXPECT_EQ(config->metrics_listen, "127.0.0.1:9464");
  EXPECT_EQ(config->sflow_listen, "0.0.0.0:6343");
  EXPECT_EQ(config->web_listen, "127.0.0.1:8080");
  EXPECT_EQ(config->telemetry.period_ms, 500);
  EXPECT_EQ(config->telemetry.hot_percent, 85);
  EXPECT_EQ(config->telemetry.clear_percent, 60);
  EXPECT_EQ(config->telemetry.hold_ms, 1500);
  EXPECT_EQ(config->telemetry.max_moves_per_interval, 4);
  EXPECT_EQ(config->telemetry.move_interval_ms, 5000);
  EXPECT_EQ(config->telemetry.flow_cooldown_ms, 20000);
  EXPECT_FALSE(config->telemetry.moves_enabled);
}

TEST(DaemonConfigTest, OpenFlowListenerLimitsAndAllowList) {
  absl::StatusOr<DaemonConfig> config = ParseAndValidate("openflow: {listen: 127.0.0.1:6653}\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->openflow.allow_unknown_dpids);  // unknown dpids refused by default
  EXPECT_EQ(config->openflow.handshake_timeout_ms, 10000);
  config = ParseAndValidate(
      "openflow: {allow_unknown_dpids: true, handshake_timeout_ms: 2000,\n"
      "           max_connections_per_peer: 8, max_multipart_reply_bytes: 1048576}\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->openflow.allow_unknown_dpids);
  EXPECT_EQ(config->openflow.handshake_timeout_ms, 2000);
  EXPECT_EQ(config->openflow.max_connections_per_peer, 8);
  EXPECT_EQ(config->openflow.max_multipart_reply_bytes, 1048576);
  config = ParseAndValidate("openflow: {tls: {cert: of.pem, key: of.key, client_ca: ca.pem}}\n",
                            "/etc/pulse");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->openflow.tls.client_ca_file, "/etc/pulse/ca.pem");
  for (const char* bad :
       {"openflow: {tls: {cert: of.pem, key: of.key}}\n",
        "openflow: {max_connections_per_peer: 0}\n", "openflow: {handshake_timeout_ms: -5}\n",
        "openflow: {allow_unknown_dpids: maybe}\n"}) {
    absl::StatusOr<DaemonConfig> refused = ParseAndValidate(bad);
    EXPECT_FALSE(refused.ok()) << bad;
    EXPECT_NE(refused.status().message().find("openflow."), std::string::npos) << refused.status();
  }
}

TEST(DaemonConfigTest, AbsentSectionsKeepTheDefaults) {
  absl::StatusOr<DaemonConfig> config = ParseAndValidate("");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->qos.configured);  // built-in policy; a misfit only disables QoS
  EXPECT_TRUE(config->qos.enabled);
  EXPECT_TRUE(config->qos.policy_file.empty());
  EXPECT_TRUE(config->qos.ovsdb.empty());
  EXPECT_FALSE(config->openflow.enabled);  // planning mode
  EXPECT_TRUE(config->metrics_listen.empty());
  EXPECT_TRUE(config->sflow_listen.empty());
  EXPECT_EQ(config->telemetry.period_ms, 1000);
  EXPECT_TRUE(config->telemetry.moves_enabled);
}

TEST(DaemonConfigTest, QosCanBeSwitchedOff) {
  absl::StatusOr<DaemonConfig> config = ParseAndValidate("qos: {enabled: false}\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->qos.enabled);
}

TEST(DaemonConfigTest, StateRecoverAndMirror) {
  absl::StatusOr<DaemonConfig> defaults = ParseAndValidate("state_dir: /var/lib/pulse\n");
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_FALSE(defaults->state_recover);
  EXPECT_TRUE(defaults->state_mirror);
  absl::StatusOr<DaemonConfig> config =
      ParseAndValidate("state_dir: /var/lib/pulse\nstate_recover: true\nstate_mirror: false\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->state_recover);
  EXPECT_FALSE(config->state_mirror);
  EXPECT_FALSE(ParseAndValidate("state_recover: maybe\n").ok());
}

TEST(DaemonConfigTest, OracleDefaultsAndValues) {
  absl::StatusOr<DaemonConfig> defaults = ParseAndValidate("");
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_FALSE(defaults->oracle.enabled);
  EXPECT_EQ(defaults->oracle.marker_dscp, 63);
  EXPECT_TRUE(defaults->oracle.learn);
  EXPECT_TRUE(defaults->oracle.verify);
  EXPECT_EQ(defaults->oracle.probes_per_uplink, 64);
  absl::StatusOr<DaemonConfig> config = ParseAndValidate(
      "openflow: {listen: 127.0.0.1:0}\n"
      "oracle: {enabled: true, marker_dscp: 46, probe: [verify], probes_per_uplink: 32,\n"
      "         probe_timeout_ms: 500}\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->oracle.enabled);
  EXPECT_EQ(config->oracle.marker_dscp, 46);
  EXPECT_FALSE(config->oracle.learn);
  EXPECT_TRUE(config->oracle.verify);
  EXPECT_EQ(config->oracle.probes_per_uplink, 32);
  EXPECT_EQ(config->oracle.probe_timeout_ms, 500);
}

TEST(DaemonConfigTest, BadValuesAreRefusedNamingTheKey) {
  struct Case {
    std::string yaml;
    std::string key;  // must appear in the message
  };
  const std::vector<Case> cases = {
      {"qos: {colour: red}\n", "qos.colour"},
      {"qos: {enabled: maybe}\n", "qos.enabled"},
      {"qos: {ovsdb: /var/run/db.sock}\n", "qos.ovsdb"},
      {"qos: {ovsdb: [a, b]}\n", "qos.ovsdb"},
      {"qos: {enabled: false, policy_file: p.yaml}\n", "qos.enabled"},
      {"qos: 7\n", "qos"},
      {"metrics_listen: nowhere\n", "metrics_listen"},
      {"metrics_listen: 127.0.0.1:70000\n", "metrics_listen"},
      {"sflow_listen: ':x'\n", "sflow_listen"},
      {"web_listen: 8080\n", "web_listen"},
      {"openflow: {listen: 6653}\n", "openflow.listen"},
      {"listen: 127.0.0.1:70000\n", "listen: bad port"},
      {"create_admin_token: true\n", "create_admin_token: needs tokens_file"},
      {"oracle: {enabled: true}\n", "oracle.enabled: needs the openflow section"},
      {"oracle: {marker_dscp: 64}\n", "oracle.marker_dscp"},
      {"oracle: {probes_per_uplink: 0}\n", "oracle.probes_per_uplink"},
      {"oracle: {probe: [learn, guess]}\n", "oracle.probe[1]: expected learn or verify"},
      {"oracle: {probe: learn}\n", "oracle.probe"},
      {"oracle: {colour: red}\n", "oracle.colour"},
      {"openflow: {stats_interval_ms: -1}\n", "openflow.stats_interval_ms"},
      {"openflow: {probe_interval_ms: 99999999999}\n", "openflow.probe_interval_ms"},
      {"openflow: {port: 6653}\n", "openflow.port"},
      {"telemetry: {period_ms: 0}\n", "telemetry.period_ms"},
      {"telemetry: {hot_percent: 0}\n", "telemetry.hot_percent"},
      {"telemetry: {hot_percent: 70, clear_percent: 80}\n", "telemetry.clear_percent"},
      {"telemetry: {hold_ms: -5}\n", "telemetry.hold_ms"},
      {"telemetry: {max_moves_per_interval: lots}\n", "telemetry.max_moves_per_interval"},
      {"telemetry: {enabled: 3}\n", "telemetry.enabled"},
      {"telemetry: {threshold: 90}\n", "telemetry.threshold"},
      {"events: {ring_size: 0}\n", "events.ring_size"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<DaemonConfig> config = ParseAndValidate(c.yaml);
    ASSERT_FALSE(config.ok()) << c.yaml;
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << c.yaml;
    EXPECT_NE(config.status().message().find(c.key), absl::string_view::npos)
        << c.yaml << " -> " << config.status().message();
  }
}

TEST(DaemonConfigTest, ErrorsGiveFileAndLine) {
  // kBase is two lines, so telemetry's hold_ms sits on line 4.
  absl::StatusOr<DaemonConfig> config = ParseAndValidate("telemetry:\n  hold_ms: soon\n");
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("test.yaml:4: telemetry.hold_ms:"),
            absl::string_view::npos)
      << config.status().message();
  config = ParseAndValidate("listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\n");
  ASSERT_FALSE(config.ok());  // a repeated key is refused, not silently overridden
  EXPECT_NE(config.status().message().find("listen"), absl::string_view::npos)
      << config.status().message();
}

}  // namespace
}  // namespace pulse::northbound
