#include "southbound/openflow/channel.h"

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "gtest/gtest.h"
#include "tests/southbound/openflow/channel_harness.h"
#include "tests/southbound/openflow/fake_switch.h"

namespace pulse::openflow {
namespace {

using std::chrono::milliseconds;
using testing::ChannelHarness;
using testing::FakeSwitch;

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

TEST(ChannelTest, ReconnectReplacesOldSession) {
  ChannelHarness h;
  FakeSwitch first;
  ASSERT_TRUE(first.Connect(h.port()).ok());
  ASSERT_TRUE(first.Handshake(42, 2).ok());
  ASSERT_TRUE(h.WaitFor([&] { return h.ready_count() == 1; }));
  FakeSwitch second;
  ASSERT_TRUE(second.Connect(h.port()).ok());
  ASSERT_TRUE(second.Handshake(42, 3).ok());
  ASSERT_TRUE(h.WaitFor([&] { return h.ready_count() == 2; }));
  EXPECT_TRUE(absl::IsUnavailable(first.ReceiveType<BarrierRequest>(milliseconds(2000)).status()));
  EXPECT_TRUE(h.lost().empty());  // replaced, not lost
  EXPECT_EQ(h.RunOnIo([&] { return h.channel().Find(42)->ports().size(); }), 3u);
  EXPECT_EQ(h.RunOnIo([&] { return h.channel().ready_count(); }), 1u);
  // The new session is lost when it disconnects.
  second.Disconnect();
  ASSERT_TRUE(h.WaitFor([&] { return !h.lost().empty(); }));
  ASSERT_EQ(h.lost().size(), 1u);
  EXPECT_EQ(h.lost()[0].first, 42u);
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

}  // namespace
}  // namespace pulse::openflow
