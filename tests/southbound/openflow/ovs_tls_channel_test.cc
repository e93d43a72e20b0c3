// Open vSwitch connecting over TLS (ssl: controller, ovs-vsctl set-ssl) to a TLS listener that
// requires client certificates: the switch with a certificate of the CA completes the handshake
// and answers a barrier; with a certificate from another CA it is refused. Restores OVS's SSL
// settings afterwards. Starts OVS if it is not running; skips with a message if that is
// impossible. Run under the machine's network lock (label integration).

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/southbound/openflow/channel_harness.h"
#include "tests/southbound/openflow/ovs_shell.h"
#include "tests/southbound/openflow/tls_test_files.h"

namespace pulse::openflow {
namespace {

using ::pulse::testing::EnsureOvs;
using ::pulse::testing::RunShell;

using std::chrono::milliseconds;
using testing::ChannelHarness;
using testing::TlsFiles;

constexpr char kBridge[] = "pulsetls0";
constexpr uint64_t kDpid = 0xa7;

class OvsTlsChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why; !EnsureOvs(&why)) GTEST_SKIP() << why;
    previous_ssl_ = RunShell("ovs-vsctl get-ssl").second;
    if (!previous_ssl_.empty()) GTEST_SKIP() << "OVS already has an SSL configuration in use";
  }
  void TearDown() override {
    RunShell(absl::StrCat("ovs-vsctl --if-exists del-br ", kBridge));
    if (previous_ssl_.empty()) RunShell("ovs-vsctl del-ssl");
  }

  // A bridge connecting to 127.0.0.1:port over ssl: with `client`'s key and certificate.
  void ConnectBridge(const TlsFiles& files, const std::string& client, uint16_t port) {
    auto [rc, out] = RunShell(absl::StrCat(
        "ovs-vsctl set-ssl ", files.Path(client + ".key"), " ", files.Path(client + ".pem"), " ",
        files.Path("ca.pem"), " -- --if-exists del-br ", kBridge, " -- add-br ", kBridge,
        " -- set bridge ", kBridge,
        " datapath_type=netdev protocols=OpenFlow13 fail_mode=secure"
        " other-config:datapath-id=00000000000000a7 -- set-controller ",
        kBridge, " ssl:127.0.0.1:", port));
    ASSERT_EQ(rc, 0) << out;
  }

  std::string previous_ssl_;
};

TEST_F(OvsTlsChannelTest, SwitchWithACertificateOfTheCaConnectsOverTls) {
  TlsFiles files("openflow_ovs_tls");
  ASSERT_TRUE(files.ok()) << "openssl could not make the test certificates";
  auto context = MakeServerTlsContext(files.Path("controller.pem"), files.Path("controller.key"),
                                      files.Path("ca.pem"));
  ASSERT_TRUE(context.ok()) << context.status();
  ChannelOptions options;
  options.tls = *context;
  options.echo_interval = milliseconds(1000);
  options.echo_timeout = milliseconds(5000);
  ChannelHarness h(options);

  // Another CA's certificate: refused at the TLS handshake, never ready.
  ConnectBridge(files, "rogue-switch", h.port());
  ASSERT_TRUE(h.WaitFor([&] { return h.refused(kRefusedTlsHandshake) >= 1; }, milliseconds(15000)))
      << "OVS with a rogue certificate was not refused";
  EXPECT_EQ(h.ready_count(), 0u);

  // The CA's certificate: handshake, PORT_DESC and a barrier over TLS.
  ConnectBridge(files, "switch", h.port());
  ASSERT_TRUE(h.WaitFor([&] { return h.ready_count() >= 1; }, milliseconds(20000)))
      << "OVS never completed the handshake over TLS";
  EXPECT_EQ(h.ready()[0].first, kDpid);
  EXPECT_TRUE(h.BarrierTo(kDpid).ok());            // a round trip through OVS over the TLS session
  EXPECT_GE(h.refused(kRefusedTlsHandshake), 1u);  // the rogue bridge, perhaps retried
}

}  // namespace
}  // namespace pulse::openflow
