// sFlow v5 collector: one UDP socket on an Asio io_context, decoding every datagram and handing
// the result to a callback on the io_context's thread.
//
// Malformed datagrams are counted and dropped; the socket keeps receiving. Counters are atomics so
// a metrics exporter on another thread can read them.
#ifndef PULSE_SOUTHBOUND_SFLOW_COLLECTOR_H_
#define PULSE_SOUTHBOUND_SFLOW_COLLECTOR_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include "absl/status/statusor.h"
#include "southbound/sflow/decoder.h"

namespace pulse::southbound::sflow {

inline constexpr uint16_t kDefaultSflowPort = 6343;

struct CollectorOptions {
  std::string bind_address = "0.0.0.0";
  uint16_t port = kDefaultSflowPort;    // 0: an ephemeral port (tests), read it back with port()
  size_t receive_buffer_bytes = 65536;  // the largest UDP payload accepted
};

// A snapshot of the collector's counters.
struct CollectorStats {
  uint64_t datagrams = 0;        // received
  uint64_t decode_errors = 0;    // received but malformed (dropped)
  uint64_t flow_samples = 0;     // decoded
  uint64_t counter_samples = 0;  // decoded
};

class Collector {
 public:
  // Called for every well-formed datagram with the sender's address (the agent's UDP source).
  using DatagramHandler =
      std::function<void(const Datagram& datagram, const boost::asio::ip::udp::endpoint& from)>;

  // Binds the socket and starts receiving on `io`. Errors: InvalidArgument for a bad address,
  // Unavailable when the bind fails (both name the address and port).
  static absl::StatusOr<std::unique_ptr<Collector>> Start(boost::asio::io_context& io,
                                                          const CollectorOptions& options,
                                                          DatagramHandler handler);
  ~Collector();

  // The bound UDP port (useful when options.port was 0).
  uint16_t port() const { return port_; }
  CollectorStats stats() const;
  // Closes the socket; pending receives complete with an error and are not re-armed.
  // Call on the io_context's thread (or with the io_context stopped).
  void Stop();

 private:
  Collector(boost::asio::io_context& io, DatagramHandler handler, size_t buffer_bytes);
  void Receive();

  boost::asio::ip::udp::socket socket_;
  DatagramHandler handler_;
  std::vector<uint8_t> buffer_;
  boost::asio::ip::udp::endpoint sender_;
  uint16_t port_ = 0;
  // Shared with in-flight handlers so a completion after destruction sees `false` and returns.
  std::shared_ptr<std::atomic<bool>> alive_;
  std::atomic<uint64_t> datagrams_{0};
  std::atomic<uint64_t> decode_errors_{0};
  std::atomic<uint64_t> flow_samples_{0};
  std::atomic<uint64_t> counter_samples_{0};
};

}  // namespace pulse::southbound::sflow

#endif  // PULSE_SOUTHBOUND_SFLOW_COLLECTOR_H_
