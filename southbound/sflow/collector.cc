#include "southbound/sflow/collector.h"

#include <boost/asio/ip/address.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace pulse::southbound::sflow {

namespace asio = boost::asio;
using asio::ip::udp;

Collector::Collector(asio::io_context& io, DatagramHandler handler, size_t buffer_bytes)
    : socket_(io),
      handler_(std::move(handler)),
      buffer_(buffer_bytes),
      alive_(std::make_shared<std::atomic<bool>>(true)) {}

Collector::~Collector() {
  alive_->store(false);
  boost::system::error_code ignored;
  socket_.close(ignored);
}

absl::StatusOr<std::unique_ptr<Collector>> Collector::Start(asio::io_context& io,
                                                            const CollectorOptions& options,
                                                            DatagramHandler handler) {
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(options.bind_address, ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat("sflow collector: bad bind address '",
                                                   options.bind_address, "': ", ec.message()));
  }
  if (options.receive_buffer_bytes < 64) {
    return absl::InvalidArgumentError("sflow collector: receive_buffer_bytes below 64");
  }
  std::unique_ptr<Collector> collector(
      new Collector(io, std::move(handler), options.receive_buffer_bytes));
  const udp::endpoint endpoint(address, options.port);
  collector->socket_.open(endpoint.protocol(), ec);
  if (!ec) collector->socket_.bind(endpoint, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("sflow collector: cannot bind ",
                                               options.bind_address, ":", options.port, ": ",
                                               ec.message()));
  }
  collector->port_ = collector->socket_.local_endpoint(ec).port();
  collector->Receive();
  return collector;
}

void Collector::Receive() {
  std::shared_ptr<std::atomic<bool>> alive = alive_;
  socket_.async_receive_from(
      asio::buffer(buffer_), sender_,
      [this, alive](const boost::system::error_code& ec, size_t bytes) {
        if (!alive->load()) return;
        if (ec == asio::error::operation_aborted || !socket_.is_open()) return;
        if (!ec) {
          datagrams_.fetch_add(1, std::memory_order_relaxed);
          absl::StatusOr<Datagram> datagram = DecodeDatagram(buffer_.data(), bytes);
          if (datagram.ok()) {
            flow_samples_.fetch_add(datagram->flow_samples.size(), std::memory_order_relaxed);
            counter_samples_.fetch_add(datagram->counter_samples.size(), std::memory_order_relaxed);
            if (handler_) handler_(*datagram, sender_);
          } else {
            decode_errors_.fetch_add(1, std::memory_order_relaxed);
          }
        }
        // Transient receive errors (e.g. ICMP-induced ECONNREFUSED) do not stop the collector.
        if (alive->load() && socket_.is_open()) Receive();
      });
}

CollectorStats Collector::stats() const {
  CollectorStats s;
  s.datagrams = datagrams_.load(std::memory_order_relaxed);
  s.decode_errors = decode_errors_.load(std::memory_order_relaxed);
  s.flow_samples = flow_samples_.load(std::memory_order_relaxed);
  s.counter_samples = counter_samples_.load(std::memory_order_relaxed);
  return s;
}

void Collector::Stop() {
  boost::system::error_code ignored;
  socket_.close(ignored);
}

}  // namespace pulse::southbound::sflow
