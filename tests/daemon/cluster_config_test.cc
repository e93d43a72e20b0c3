// The daemon config's cluster section (daemon/config.h): parsed, validated, errors name keys.
#include "gtest/gtest.h"
#include "daemon/config.h"

namespace pulse::northbound {
namespace {

constexpr char kBase[] = "fabric: f.yaml\ninsecure: true\n";

absl::StatusOr<DaemonConfig> ParseAndValidate(const std::string& cluster_yaml) {
  absl::StatusOr<DaemonConfig> config =
      ParseDaemonConfig(std::string(kBase) + cluster_yaml, "test.yaml", "");
  if (!config.ok()) return config.status();
  if (absl::Status status = ValidateDaemonConfig(*config); !status.ok()) return status;
  return config;
}

TEST(ClusterConfigTest, ParsesEverySetting) {
  auto config = ParseAndValidate(
      "cluster:\n  etcd_endpoints: [127.0.0.1:2379, 'http://127.0.0.1:22379']\n"
      "  name: prod-1\n  replica_id: ctl-a\n  advertise: 10.0.0.1:50051\n  lease_ttl_s: 3\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->cluster.enabled);
  EXPECT_EQ(config->cluster.etcd_endpoints,
            (std::vector<std::string>{"127.0.0.1:2379", "http://127.0.0.1:22379"}));
  EXPECT_EQ(config->cluster.name, "prod-1");
  EXPECT_EQ(config->cluster.replica_id, "ctl-a");
  EXPECT_EQ(config->cluster.advertise, "10.0.0.1:50051");
  EXPECT_EQ(config->cluster.lease_ttl_s, 3);
}

TEST(ClusterConfigTest, AbsentMeansSingleController) {
  auto config = ParseAndValidate("");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->cluster.enabled);
}

TEST(ClusterConfigTest, ErrorsNameTheKey) {
  const std::string good_tail = "  name: c\n  replica_id: r\n  advertise: 127.0.0.1:1\n";
  struct Case {
    std::string yaml;
    std::string key;
  };
  const std::vector<Case> cases = {
      {"cluster:\n  etcd_endpoints: 127.0.0.1:2379\n" + good_tail, "cluster.etcd_endpoints"},
      {"cluster:\n  etcd_endpoints: [[1]]\n" + good_tail, "cluster.etcd_endpoints[0]"},
      {"cluster:\n  etcd_endpoints: []\n" + good_tail, "cluster.etcd_endpoints"},
      {"cluster:\n  etcd_endpoints: [nohost]\n" + good_tail, "cluster.etcd_endpoints[0]"},
      {"cluster:\n  etcd_endpoints: [a:1]\n  name: 'bad/name'\n  replica_id: r\n"
       "  advertise: 127.0.0.1:1\n",
       "cluster.name"},
      {"cluster:\n  etcd_endpoints: [a:1]\n  name: c\n  advertise: 127.0.0.1:1\n",
       "cluster.replica_id"},
      {"cluster:\n  etcd_endpoints: [a:1]\n  name: c\n  replica_id: r\n", "cluster.advertise"},
      {"cluster:\n  etcd_endpoints: [a:1]\n  name: c\n  replica_id: r\n  advertise: h:0\n",
       "cluster.advertise"},
      {"cluster:\n  etcd_endpoints: [a:1]\n" + good_tail + "  lease_ttl_s: 1\n",
       "cluster.lease_ttl_s"},
      {"cluster:\n  etcd_endpoints: [a:1]\n" + good_tail + "  leader: x\n", "cluster.leader"},
      {"state_dir: /tmp/x\ncluster:\n  etcd_endpoints: [a:1]\n" + good_tail, "state_dir"},
  };
  for (const Case& c : cases) {
    auto config = ParseAndValidate(c.yaml);
    ASSERT_FALSE(config.ok()) << c.yaml;
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << c.yaml;
    EXPECT_NE(config.status().message().find(c.key + ":"), std::string::npos)
        << c.yaml << " -> " << config.status();
  }
}

}  // namespace
}  // namespace pulse::northbound
