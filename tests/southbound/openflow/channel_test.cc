#include "southbound/openflow/channel.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <future>
#include <mutex>
#include <thread>

#include "gtest/gtest.h"
#include "tests/southbound/openflow/channel_harness.h"
#include "tests/southbound/openflow/fake_switch.h"
#include "tests/southbound/openflow/tls_test_files.h"

namespace pulse::openflow {
namespace {

using std::chrono::milliseconds;
using testing::ChannelHarness;
using testing::FakeSwitch;
using testing::TlsFiles;

TEST(ChannelTest, HandshakeReassemblesMultipartPortDesc) {
  ChannelHarness h;
  FakeSwitch sw;
  ASSERT_TRUE(sw.Connect(h.port()).ok());
  ASSERT_TRUE(sw.Handshake(0xabc, 7, /*parts=*/3).ok());
  ASSERT_TRUE(h.WaitFor([&] { return h.ready_count() == 1; }));
  auto ready = h.ready();
  EXPECT_EQ(ready[0].first, 0xabcu);
  EXPECT_EQ(ready[0].second, 7u);  // all three parts merged
  auto ports = h.RunOnIo([&] { return h.channel().Find(0xabc)->ports(); });
  std::set<uint32_t> numbers;
  for (const auto& p : ports) numbers.insert(p.port_no);
  EXPECT_EQ(numbers, (std::set<uint32_t>{1, 2, 3, 4, 5, 6, 7}));

  std::thread serve([&] { sw.Serve(milliseconds(1000)); });
  EXPECT_TRUE(h.BarrierTo(0xabc).ok());
  serve.join();
}

TEST(ChannelTest, RefusesNon13HelloWithHelloFailed) {
  ChannelHarness h;
  FakeSwitch sw;
  ASSERT_TRUE(sw.Connect(h.port()).ok());
  ASSERT_TRUE(sw.ReceiveType<Hello>().ok());
  Message of10_hello;
  of10_hello.body = Hello{0x01, {}};
  ASSERT_TRUE(sw.Send(of10_hello).ok());
  auto error = sw.Receive();
  ASSERT_TRUE(error.ok()) << error.status();
  ASSERT_TRUE(std::holds_alternative<Error>(error->body));
  EXPECT_EQ(std::get<Error>(error->body).type, kErrorTypeHelloFailed);
  auto eof = sw.Receive(milliseconds(2000));
  EXPECT_TRUE(absl::IsUnavailable(eof.status())) << eof.status();
  EXPECT_EQ(h.ready_count(), 0u);
}

TEST(ChannelTest, EchoTimeoutDisconnectsSilentSwitch) {
  ChannelOptions options;
  options.echo_interval = milliseconds(50);
  options.echo_timeout = milliseconds(300);
  ChannelHarness h(options);
  FakeSwitch sw;
  ASSERT_TRUE(sw.Connect(h.port()).ok());
  ASSERT_TRUE(sw.Handshake(7, 2).ok());
  // The controller probes a quiet switch with ECHO_REQUEST...
  auto echo = sw.Receive(milliseconds(2000));
  ASSERT_TRUE(echo.ok()) << echo.status();
  EXPECT_TRUE(std::holds_alternative<EchoRequest>(echo->body));
  // ...and, as the switch never answers, drops it.
  ASSERT_TRUE(h.WaitFor([&] { return !h.lost().empty(); }, milliseconds(3000)));
  auto lost = h.lost();
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0].first, 7u);
  EXPECT_NE(lost[0].second.find("echo timeout"), std::string::npos) << lost[0].second;
  EXPECT_EQ(h.RunOnIo([&] { return h.channel().Find(7); }), nullptr);
}

TEST(ChannelTest, AnsweredEchoKeepsSessionAlive) {
  ChannelOptions options;
  options.echo_interval = milliseconds(50);
  options.echo_timeout = milliseconds(300);
  ChannelHarness h(options);
  FakeSwitch sw;
  ASSERT_TRUE(sw.Connect(h.port()).ok());
  ASSERT_TRUE(sw.Handshake(8, 1).ok());
  sw.Serve(milliseconds(1000));  // three times the timeout, answering echoes
  EXPECT_TRUE(h.lost().empty());
  EXPECT_NE(h.RunOnIo([&] { return h.channel().Find(8); }), nullptr);
}

TEST(ChannelTest, GarbageClientDoesNotDisturbGoodSwitch) {
  ChannelHarness h;
  FakeSwitch good;
  ASSERT_TRUE(good.Connect(h.port()).ok());
  ASSERT_TRUE(good.Handshake(1, 4).ok());
  ASSERT_TRUE(h.WaitFor([&] { return h.ready_count() == 1; }));

  FakeSwitch garbage;
  ASSERT_TRUE(garbage.Connect(h.port()).ok());
  std::string http = "GET / HTTP/1.1\r\nHost: pulse\r\n\r\n";
  ASSERT_TRUE(garbage.SendRaw(std::vector<uint8_t>(http.begin(), http.end())).ok());
  absl::Status closed;
  for (int i = 0; i < 10; ++i) {  // skip our HELLO, then expect EOF
    auto m = garbage.Receive(milliseconds(2000));
    if (!m.ok()) {
      closed = m.status();
      break;
    }
  }
  EXPECT_TRUE(absl::IsUnavailable(closed)) << closed;

  // A second garbage client: valid header, nonsense FEATURES_REPLY length inside a HELLO dance.
  FakeSwitch liar;
  ASSERT_TRUE(liar.Connect(h.port()).ok());
  ASSERT_TRUE(liar.ReceiveType<Hello>().ok());
  ASSERT_TRUE(liar.Send(MakeHello(1)).ok());
  ASSERT_TRUE(liar.ReceiveType<FeaturesRequest>().ok());
  ASSERT_TRUE(liar.SendRaw({4, 6, 0, 12, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef}).ok());
  EXPECT_TRUE(absl::IsUnavailable(liar.Receive(milliseconds(2000)).status()));

  std::thread serve([&] { good.Serve(milliseconds(1000)); });
  EXPECT_TRUE(h.BarrierTo(1).ok());
  serve.join();
  EXPECT_TRUE(h.lost().empty());
  EXPECT_EQ(h.ready_count(), 1u);
}

TEST(ChannelTest, FiftySwitchesAtOnce) {
  ChannelHarness h;
  constexpr int kSwitches = 50;
  std::vector<std::unique_ptr<FakeSwitch>> switches;
  std::vector<std::thread> threads;
  std::atomic<int> handshakes{0}, barriers{0};
  for (int i = 0; i < kSwitches; ++i) switches.push_back(std::make_unique<FakeSwitch>());
  for (int i = 0; i < kSwitches; ++i) {
    threads.emplace_back([&, i] {
      FakeSwitch& sw = *switches[i];
      if (!sw.Connect(h.port()).ok() || !sw.Handshake(1000 + i, 4, 2).ok()) return;
      ++handshakes;
      barriers += sw.Serve(milliseconds(3000));
    });
  }
  ASSERT_TRUE(h.WaitFor([&] { return h.ready_count() == kSwitches; }, milliseconds(10000)))
      << h.ready_count();
  EXPECT_EQ(handshakes.load(), kSwitches);
  for (int i = 0; i < kSwitches; ++i) {
    absl::Status s = h.BarrierTo(1000 + i);
    EXPECT_TRUE(s.ok()) << i << ": " << s;
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(barriers.load(), kSwitches);
  for (const auto& [dpid, ports] : h.ready()) EXPECT_EQ(ports, 4u) << dpid;
}

TEST(ChannelTest, UnansweredRequestTimesOut) {
  ChannelHarness h;
  FakeSwitch sw;
  ASSERT_TRUE(sw.Connect(h.port()).ok());
  ASSERT_TRUE(sw.Handshake(5, 1).ok());
  ASSERT_TRUE(h.WaitFor([&] { return h.ready_count() == 1; }));
  absl::Status s = h.BarrierTo(5, milliseconds(200));  // the fake never reads it
  EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
}

TEST(ChannelTest, SwitchErrorFailsTheRequest) {
  ChannelHarness h;
  FakeSwitch sw;
  ASSERT_TRUE(sw.Connect(h.port()).ok());
  ASSERT_TRUE(sw.Handshake(6, 1).ok());
  ASSERT_TRUE(h.WaitFor([&] { return h.ready_count() == 1; }));
  std::thread answer([&] {
    auto req = sw.ReceiveType<BarrierRequest>();
    if (req.ok()) (void)sw.Send(Message{req->xid, Error{1, 2, 0, {}}});
  });
  absl::Status s = h.BarrierTo(6);
  answer.join();
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_NE(s.message().find("type 1 code 2"), std::string::npos) << s;
}

TEST(ChannelTest, SecondSessionForAConnectedDpidIsRefused) {
  ChannelHarness h;
  FakeSwitch first;
  ASSERT_TRUE(first.Connect(h.port()).ok());
  ASSERT_TRUE(first.Handshake(42, 2).ok());
  ASSERT_TRUE(h.WaitFor([&] { return h.ready_count() == 1; }));
  std::thread serve([&] { first.Serve(milliseconds(1500)); });
  FakeSwitch second;
  ASSERT_TRUE(second.Connect(h.port()).ok());
  absl::StatusOr<Message> refused = second.HelloAndFeatures(42);
  EXPECT_TRUE(absl::IsPermissionDenied(refused.status())) << refused.status();
  EXPECT_NE(refused.status().message().find("code 5"), std::string::npos);  // EPERM
  EXPECT_NE(refused.status().message().find("already connected"), std::string::npos)
      << refused.status();
  EXPECT_TRUE(absl::IsUnavailable(second.Receive(milliseconds(2000)).status()));
  EXPECT_EQ(h.refused(kRefusedDuplicateDpid), 1u);
  // The first session is untouched and still answers.
  EXPECT_EQ(h.ready_count(), 1u);
  EXPECT_TRUE(h.lost().empty());
  EXPECT_TRUE(h.BarrierTo(42).ok());
  serve.join();
}

TEST(ChannelTest, SwitchReconnectingAfterItsOldSessionWentSilentIsAdmitted) {
  ChannelOptions options;
  options.echo_interval = milliseconds(100);
  options.echo_timeout = milliseconds(500);
  ChannelHarness h(options);
  FakeSwitch first;  // handshakes, then never answers again (a half-open session)
  ASSERT_TRUE(first.Connect(h.port()).ok());
  ASSERT_TRUE(first.Handshake(42, 2).ok());
  ASSERT_TRUE(h.WaitFor([&] { return h.ready_count() == 1; }));
  // The restarted switch retries as Open vSwitch does until it is admitted.
  auto deadline = std::chrono::steady_clock::now() + milliseconds(5000);
  bool admitted = false;
  int refusals = 0;
  while (!admitted && std::chrono::steady_clock::now() < deadline) {
    FakeSwitch second;
    ASSERT_TRUE(second.Connect(h.port()).ok());
    absl::Status s = second.Handshake(42, 3);
    if (s.ok() && h.WaitFor([&] { return h.ready_count() == 2; }, milliseconds(1000))) {
      admitted = true;
      EXPECT_EQ(h.RunOnIo([&] { return h.channel().Find(42)->ports().size(); }), 3u);
      break;
    }
    ++refusals;
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_TRUE(admitted);
  EXPECT_EQ(h.refused(kRefusedDuplicateDpid), static_cast<uint64_t>(refusals));
  ASSERT_GE(h.lost().size(), 1u);  // the silent session (then the admitted one, closed here)
  EXPECT_EQ(h.lost()[0].first, 42u);
  EXPECT_NE(h.lost()[0].second.find("echo timeout"), std::string::npos) << h.lost()[0].second;
}

TEST(ChannelTest, DpidOutsideTheAllowListIsRefused) {
  ChannelOptions options;
  options.dpid_allowed = [](uint64_t dpid) { return dpid == 7; };
  ChannelHarness h(options);
  FakeSwitch stranger;
  ASSERT_TRUE(stranger.Connect(h.port()).ok());
  absl::StatusOr<Message> refused = stranger.HelloAndFeatures(8);
  EXPECT_TRUE(absl::IsPermissionDenied(refused.status())) << refused.status();
  EXPECT_NE(refused.status().message().find("not a switch of the fabric"), std::string::npos)
      << refused.status();
  EXPECT_TRUE(absl::IsUnavailable(stranger.Receive(milliseconds(2000)).status()));
  FakeSwitch known;
  ASSERT_TRUE(known.Connect(h.port()).ok());
  ASSERT_TRUE(known.Handshake(7, 1).ok());
  ASSERT_TRUE(h.WaitFor([&] { return h.ready_count() == 1; }));
  EXPECT_EQ(h.ready()[0].first, 7u);
  EXPECT_EQ(h.refused(kRefusedUnknownDpid), 1u);
}

// The attack seen on the daemon: an unauthenticated peer answers PORT_DESC with parts flagged
// REPLY_MORE forever. It is cut once it passes the handshake byte cap.
TEST(ChannelTest, EndlessMultipartDuringHandshakeIsCut) {
  ChannelOptions options;
  options.max_handshake_bytes = 256 << 10;
  ChannelHarness h(options);
  FakeSwitch sw;
  ASSERT_TRUE(sw.Connect(h.port()).ok());
  absl::StatusOr<Message> desc = sw.HelloAndFeatures(5);
  ASSERT_TRUE(desc.ok()) << desc.status();
  PortDescReply ports;
  for (uint32_t p = 1; p <= 900; ++p) {
    PortInfo info;
    info.port_no = p;
    ports.ports.push_back(info);
  }
  MultipartReply part;
  part.flags = kMultipartMore;
  part.body = ports;
  absl::StatusOr<std::vector<uint8_t>> bytes = Encode(Message{desc->xid, part});
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  size_t sent = 0;
  while (sent < (64u << 20) && sw.SendRaw(*bytes).ok()) sent += bytes->size();
  EXPECT_LT(sent, 8u << 20) << "the controller kept reading";
  ASSERT_TRUE(h.WaitFor([&] { return h.refused(kRefusedHandshakeBytes) == 1; }));
  EXPECT_EQ(h.ready_count(), 0u);
  EXPECT_EQ(h.RunOnIo([&] { return h.channel().open_count(); }), 0u);
}

TEST(ChannelTest, MultipartReplyOverItsCapFailsTheRequestAndCutsTheSwitch) {
  ChannelOptions options;
  options.max_multipart_reply_bytes = 512 << 10;
  ChannelHarness h(options);
  FakeSwitch sw;
  ASSERT_TRUE(sw.Connect(h.port()).ok());
  ASSERT_TRUE(sw.Handshake(3, 1).ok());
  ASSERT_TRUE(h.WaitFor([&] { return h.ready_count() == 1; }));
  std::thread flood([&] {
    auto request = sw.ReceiveType<MultipartRequest>();
    if (!request.ok()) return;
    FlowStatsReply flows;
    for (int i = 0; i < 500; ++i) flows.flows.push_back(FlowStats{});
    MultipartReply part;
    part.flags = kMultipartMore;
    part.body = flows;
    auto bytes = Encode(Message{request->xid, part});
    if (!bytes.ok()) return;
    for (int i = 0; i < 2000 && sw.SendRaw(*bytes).ok(); ++i) {
    }
  });
  absl::StatusOr<Message> reply =
      h.RequestTo(3, Message{0, MultipartRequest{0, FlowStatsRequest{}}});
  flood.join();
  EXPECT_TRUE(absl::IsResourceExhausted(reply.status())) << reply.status();
  EXPECT_EQ(h.refused(kRefusedMultipartTooLarge), 1u);
  ASSERT_TRUE(h.WaitFor([&] { return h.lost().size() == 1; }));
}

TEST(ChannelTest, MessageOverTheSizeCapIsRefusedFromItsHeader) {
  ChannelOptions options;
  options.max_message_bytes = 1024;
  ChannelHarness h(options);
  FakeSwitch sw;
  ASSERT_TRUE(sw.Connect(h.port()).ok());
  ASSERT_TRUE(sw.ReceiveType<Hello>().ok());
  // A header announcing 60,000 bytes: refused before the body arrives.
  ASSERT_TRUE(sw.SendRaw({0x04, 0x00, 0xea, 0x60, 0, 0, 0, 1}).ok());
  EXPECT_TRUE(absl::IsUnavailable(sw.Receive(milliseconds(2000)).status()));
  EXPECT_EQ(h.refused(kRefusedMessageTooLarge), 1u);
}

TEST(ChannelTest, HandshakeTimeoutIsCountedAsARefusal) {
  ChannelOptions options;
  options.handshake_timeout = milliseconds(200);
  ChannelHarness h(options);
  FakeSwitch sw;
  ASSERT_TRUE(sw.Connect(h.port()).ok());
  EXPECT_TRUE(absl::IsUnavailable(sw.ReceiveType<FeaturesRequest>(milliseconds(3000)).status()));
  EXPECT_EQ(h.refused(kRefusedHandshakeTimeout), 1u);
}

TEST(ChannelTest, ConnectionsPerPeerAddressAreCapped) {
  ChannelOptions options;
  options.max_connections_per_peer = 3;
  ChannelHarness h(options);
  std::vector<std::unique_ptr<FakeSwitch>> peers;
  for (int i = 0; i < 5; ++i) {
    peers.push_back(std::make_unique<FakeSwitch>());
    ASSERT_TRUE(peers.back()->Connect(h.port()).ok());
  }
  ASSERT_TRUE(h.WaitFor([&] { return h.refused(kRefusedPeerConnections) == 2; }));
  int hello = 0, closed = 0;
  for (auto& p : peers) {
    auto m = p->Receive(milliseconds(2000));
    if (m.ok()) ++hello;
    if (absl::IsUnavailable(m.status())) ++closed;
  }
  EXPECT_EQ(hello, 3);
  EXPECT_EQ(closed, 2);
  // A freed slot is usable again.
  peers[0]->Disconnect();
  ASSERT_TRUE(h.WaitFor([&] { return h.RunOnIo([&] { return h.channel().open_count(); }) == 2; }));
  FakeSwitch late;
  ASSERT_TRUE(late.Connect(h.port()).ok());
  EXPECT_TRUE(late.Handshake(11, 1).ok());
}

TEST(ChannelTest, WriteQueueOverflowClosesSlowSwitch) {
  ChannelOptions options;
  options.write_queue_cap_bytes = 256 * 1024;
  ChannelHarness h(options);
  FakeSwitch sw;
  ASSERT_TRUE(sw.Connect(h.port()).ok());
  sw.SetSmallReceiveBuffer();
  ASSERT_TRUE(sw.Handshake(9, 1).ok());
  ASSERT_TRUE(h.WaitFor([&] { return h.ready_count() == 1; }));
  // The fake stops reading; the controller keeps sending 60 KB echo requests.
  absl::Status last = h.RunOnIo([&] {
    ConnectionPtr c = h.channel().Find(9);
    absl::Status s;
    for (int i = 0; i < 2000 && s.ok(); ++i) {
      EchoRequest e;
      e.data.assign(60000, static_cast<uint8_t>(i));
      s = c->Send(Message{0, e});
    }
    return s;
  });
  EXPECT_TRUE(absl::IsResourceExhausted(last)) << last;
  ASSERT_TRUE(h.WaitFor([&] { return !h.lost().empty(); }));
  ASSERT_EQ(h.lost().size(), 1u);
  EXPECT_NE(h.lost()[0].second.find("write queue"), std::string::npos) << h.lost()[0].second;
}

// ---- TLS (like Open vSwitch's ssl: controller connections) ----

// Connects over TLS (optionally with a client certificate) and reads the controller's first
// message: the HELLO when admitted.
absl::StatusOr<Message> TlsHello(uint16_t port, const TlsFiles& files, const std::string& client,
                                 bool tls = true) {
  namespace ssl = boost::asio::ssl;
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  boost::system::error_code ec;
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
  if (ec) return absl::UnavailableError(ec.message());
  timeval two_seconds{2, 0};
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &two_seconds, sizeof(two_seconds));
  std::vector<uint8_t> header(8);
  if (!tls) {  // a plaintext HELLO to a TLS listener
    auto hello = Encode(MakeHello(1));
    boost::asio::write(socket, boost::asio::buffer(*hello), ec);
    boost::asio::read(socket, boost::asio::buffer(header), ec);
    if (ec) return absl::UnavailableError(absl::StrCat("plaintext: ", ec.message()));
    return absl::InternalError("a plaintext peer got an answer");
  }
  ssl::context context(ssl::context::tls_client);
  context.load_verify_file(files.Path("ca.pem"));
  context.set_verify_mode(ssl::verify_peer);
  if (!client.empty()) {
    context.use_certificate_chain_file(files.Path(client + ".pem"));
    context.use_private_key_file(files.Path(client + ".key"), ssl::context::pem);
  }
  ssl::stream<boost::asio::ip::tcp::socket&> stream(socket, context);
  stream.handshake(ssl::stream_base::client, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("handshake: ", ec.message()));
  boost::asio::read(stream, boost::asio::buffer(header), ec);
  if (ec) return absl::UnavailableError(absl::StrCat("read: ", ec.message()));
  size_t length = static_cast<size_t>(header[2]) << 8 | header[3];
  std::vector<uint8_t> body(length - 8);
  boost::asio::read(stream, boost::asio::buffer(body), ec);
  if (ec) return absl::UnavailableError(absl::StrCat("read: ", ec.message()));
  header.insert(header.end(), body.begin(), body.end());
  return Decode(header);
}

TEST(ChannelTlsTest, OnlySwitchesWithACertificateOfTheCaAreServed) {
  TlsFiles files;
  ASSERT_TRUE(files.ok()) << "openssl could not make the test certificates";
  auto context = MakeServerTlsContext(files.Path("controller.pem"), files.Path("controller.key"),
                                      files.Path("ca.pem"));
  ASSERT_TRUE(context.ok()) << context.status();
  ChannelOptions options;
  options.tls = *context;
  ChannelHarness h(options);
  absl::StatusOr<Message> hello = TlsHello(h.port(), files, "switch");
  ASSERT_TRUE(hello.ok()) << hello.status();
  EXPECT_TRUE(std::holds_alternative<Hello>(hello->body));
  EXPECT_FALSE(TlsHello(h.port(), files, "").ok());                 // no client certificate
  EXPECT_FALSE(TlsHello(h.port(), files, "rogue-switch").ok());     // signed by another CA
  EXPECT_FALSE(TlsHello(h.port(), files, "", /*tls=*/false).ok());  // plaintext
  ASSERT_TRUE(h.WaitFor([&] { return h.refused(kRefusedTlsHandshake) == 3; }))
      << h.refused(kRefusedTlsHandshake);
}

TEST(ChannelTlsTest, BadTlsFilesAreNamed) {
  auto context = MakeServerTlsContext("/nonexistent/c.pem", "/nonexistent/k.pem", "ca.pem");
  EXPECT_FALSE(context.ok());
  EXPECT_NE(context.status().message().find("tls.cert: '/nonexistent/c.pem'"), std::string::npos)
      << context.status();
}

}  // namespace
}  // namespace pulse::openflow
