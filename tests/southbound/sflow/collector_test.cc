#include "southbound/sflow/collector.h"

#include <chrono>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include "gtest/gtest.h"

namespace pulse::southbound::sflow {
namespace {

namespace asio = boost::asio;
using asio::ip::udp;

Datagram CounterDatagram(uint32_t sequence, uint64_t out_octets) {
  Datagram d;
  d.agent_address = {127, 0, 0, 1};
  d.sequence_number = sequence;
  CounterSample c;
  c.source_id_index = 2;
  InterfaceCounters ic;
  ic.if_index = 2;
  ic.out_octets = out_octets;
  c.interface = ic;
  d.counter_samples.push_back(c);
  return d;
}

// Runs `io` until `done` or the bound (no timing asserts: the bound only stops a broken test).
template <typename Pred>
void RunUntil(asio::io_context& io, Pred done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.run_for(std::chrono::milliseconds(20));
    io.restart();
  }
}

TEST(SflowCollectorTest, DecodesDatagramsOverLoopbackAndCountsMalformedOnes) {
  asio::io_context io;
  std::vector<Datagram> received;
  CollectorOptions options;
  options.bind_address = "127.0.0.1";
  options.port = 0;
  absl::StatusOr<std::unique_ptr<Collector>> collector =
      Collector::Start(io, options, [&](const Datagram& d, const udp::endpoint& from) {
        EXPECT_TRUE(from.address().is_loopback());
        received.push_back(d);
      });
  ASSERT_TRUE(collector.ok()) << collector.status();
  ASSERT_NE((*collector)->port(), 0);

  udp::socket sender(io, udp::endpoint(udp::v4(), 0));
  const udp::endpoint target(asio::ip::make_address("127.0.0.1"), (*collector)->port());
  const std::vector<uint8_t> good1 = EncodeDatagram(CounterDatagram(1, 1000));
  const std::vector<uint8_t> garbage = {0, 0, 0, 5, 0, 0, 0, 1, 1, 2};
  const std::vector<uint8_t> wrong_version = {0, 0, 0, 4};
  const std::vector<uint8_t> good2 = EncodeDatagram(CounterDatagram(2, 2000), true);
  for (const auto* payload : {&good1, &garbage, &wrong_version, &good2}) {
    sender.send_to(asio::buffer(*payload), target);
  }
  RunUntil(io, [&] { return (*collector)->stats().datagrams >= 4; });

  const CollectorStats stats = (*collector)->stats();
  EXPECT_EQ(stats.datagrams, 4u);
  EXPECT_EQ(stats.decode_errors, 2u);
  EXPECT_EQ(stats.counter_samples, 2u);
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[0].counter_samples[0].interface->out_octets, 1000u);
  EXPECT_EQ(received[1].sequence_number, 2u);
  EXPECT_EQ(received[1].counter_samples[0].interface->out_octets, 2000u);

  (*collector)->Stop();
  sender.send_to(asio::buffer(good1), target);
  io.run_for(std::chrono::milliseconds(50));
  EXPECT_EQ((*collector)->stats().datagrams, 4u);
}

TEST(SflowCollectorTest, BindErrorsAreStatuses) {
  asio::io_context io;
  CollectorOptions bad_address;
  bad_address.bind_address = "not-an-address";
  EXPECT_EQ(Collector::Start(io, bad_address, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);

  CollectorOptions first;
  first.bind_address = "127.0.0.1";
  first.port = 0;
  absl::StatusOr<std::unique_ptr<Collector>> a = Collector::Start(io, first, nullptr);
  ASSERT_TRUE(a.ok());
  CollectorOptions same = first;
  same.port = (*a)->port();
  absl::StatusOr<std::unique_ptr<Collector>> b = Collector::Start(io, same, nullptr);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(b.status().message().find(std::to_string(same.port)), std::string::npos);
}

}  // namespace
}  // namespace pulse::southbound::sflow
