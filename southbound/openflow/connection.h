#ifndef PULSE_SOUTHBOUND_OPENFLOW_CONNECTION_H_
#define PULSE_SOUTHBOUND_OPENFLOW_CONNECTION_H_

// One OpenFlow 1.3 session with a switch over TCP (Boost.Asio). A Connection runs the
// handshake (HELLO negotiation, FEATURES, PORT_DESC), answers and sends echo keepalives, keeps a
// bounded write queue, and matches replies to requests by xid (multipart parts are merged
// before the caller sees them). All methods must be called on the io_context's thread.
//
// A switch is not authenticated before it is admitted, so everything a peer can make the
// controller hold is capped (ChannelOptions): one message, bytes read but not yet decoded, one
// multipart reply across its parts, all bytes before the handshake completes, and the handshake's
// duration. A peer over a cap is refused: the refusal is logged with its reason, counted by the
// Channel by kind, and the connection closed.

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "southbound/openflow/messages.h"

namespace pulse::openflow {

class Channel;

struct ChannelOptions {
  std::string listen_address = "0.0.0.0";
  uint16_t port = 6653;  // 0: any free port (tests)
  // Keepalive: an echo request after this much silence from the switch...
  std::chrono::milliseconds echo_interval{5000};
  // ...and disconnect after this much silence.
  std::chrono::milliseconds echo_timeout{15000};
  // HELLO + FEATURES + PORT_DESC must complete within this.
  std::chrono::milliseconds handshake_timeout{10000};
  // Default deadline of Request()/Barrier().
  std::chrono::milliseconds request_timeout{10000};
  // Bytes queued but not yet written; beyond this the switch is not keeping up and the session
  // is closed (the desired state is re-applied on reconnect).
  size_t write_queue_cap_bytes = 8u << 20;

  // Caps on what one peer can make the controller hold (refusals counted by kind, see
  // RefusalKind). The OpenFlow header's length field allows 65,535 bytes per message.
  size_t max_message_bytes = 65535;
  // Bytes received and not yet decoded (at most one partial message in normal operation).
  size_t max_buffered_bytes = 256u << 10;
  // One multipart reply, all its parts (FLOW_STATS of a full table is a few MB).
  size_t max_multipart_reply_bytes = 32u << 20;
  // Everything a peer sends before its session is ready (HELLO, FEATURES, PORT_DESC).
  size_t max_handshake_bytes = 1u << 20;
  // Open connections from one IP address (a lab runs every switch from 127.0.0.1), and in all.
  size_t max_connections_per_peer = 256;
  size_t max_connections = 4096;
  // Admission by datapath id once FEATURES names it; unset: every dpid is admitted.
  std::function<bool(uint64_t dpid)> dpid_allowed;
  // TLS (like Open vSwitch's ssl: controller connections): set, every connection must complete
  // a TLS handshake, with the client certificate the context requires, before HELLO. Unset:
  // plain TCP. See MakeServerTlsContext.
  std::shared_ptr<boost::asio::ssl::context> tls;
};

// A TLS server context from PEM files: the controller's certificate (chain) and key, and the CA
// that must have signed every switch's client certificate (switches without one are refused).
// Errors name the file.
absl::StatusOr<std::shared_ptr<boost::asio::ssl::context>> MakeServerTlsContext(
    const std::string& cert_file, const std::string& key_file, const std::string& client_ca_file);

// Why the listener refused or cut a peer; the names are the label values exported on /metrics.
inline constexpr char kRefusedMessageTooLarge[] = "message_too_large";
inline constexpr char kRefusedBufferedBytes[] = "buffered_bytes";
inline constexpr char kRefusedMultipartTooLarge[] = "multipart_too_large";
inline constexpr char kRefusedHandshakeBytes[] = "handshake_bytes";
inline constexpr char kRefusedHandshakeTimeout[] = "handshake_timeout";
inline constexpr char kRefusedPeerConnections[] = "peer_connections";
inline constexpr char kRefusedConnections[] = "connections";
inline constexpr char kRefusedUnknownDpid[] = "unknown_dpid";
inline constexpr char kRefusedDuplicateDpid[] = "duplicate_dpid";
inline constexpr char kRefusedTlsHandshake[] = "tls_handshake";

// Reply (multipart parts merged) or error: DeadlineExceeded on timeout, Unavailable if the
// session closed, FailedPrecondition carrying type/code if the switch answered with ERROR.
using ReplyCallback = std::function<void(absl::StatusOr<Message>)>;
using StatusCallback = std::function<void(absl::Status)>;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(boost::asio::ip::tcp::socket socket, Channel* channel, const ChannelOptions& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Starts the handshake; called by the Channel after accept.
  void Start();

  // Datapath id (valid once the FEATURES reply arrived).
  uint64_t dpid() const { return features_.datapath_id; }
  const FeaturesReply& features() const { return features_; }
  // Ports from the PORT_DESC multipart reply (valid once ready).
  const std::vector<PortInfo>& ports() const { return ports_; }
  bool ready() const { return state_ == State::kReady; }
  bool closed() const { return state_ == State::kClosed; }
  // "ip:port" of the switch, for logs; and the IP alone (per-peer connection caps).
  const std::string& peer() const { return peer_; }
  const std::string& peer_address() const { return peer_address_; }
  // Time since the switch last sent anything (the echo keepalive's measure of liveness).
  std::chrono::steady_clock::duration silent_for() const {
    return std::chrono::steady_clock::now() - last_rx_;
  }

  // Queues a message that expects no reply; xid 0 is replaced by a fresh xid. Errors:
  // Unavailable (closed), ResourceExhausted (write queue over cap: the session is closed),
  // InvalidArgument (message cannot be encoded).
  absl::Status Send(Message message);
  // Sends a request and calls `done` exactly once. timeout 0 means options.request_timeout.
  void Request(Message message, ReplyCallback done,
               std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  // BARRIER_REQUEST; `done` gets OK when the switch replied (all earlier messages processed).
  void Barrier(StatusCallback done,
               std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  // Closes the session and fails pending requests with Unavailable(reason).
  void Close(const std::string& reason);
  // Refuses the peer: logs `why`, has the Channel count `kind` (a kRefused* name), sends an
  // OFPT_ERROR (BAD_REQUEST, EPERM) carrying `why` when `tell_peer`, and closes.
  void Refuse(const char* kind, const std::string& why, bool tell_peer = false);

  // Bytes currently queued for writing (for tests and metrics).
  size_t queued_bytes() const { return queued_bytes_; }

 private:
  // kRefusing: an ERROR telling the peer why is being flushed; input is ignored.
  enum class State { kHello, kFeatures, kPortDesc, kReady, kRefusing, kClosed };
  static constexpr size_t kReadChunkBytes = 65536;
  struct Pending {
    ReplyCallback done;
    std::unique_ptr<boost::asio::steady_timer> timer;
    absl::optional<MultipartReply> partial;  // multipart parts received so far
    size_t partial_bytes = 0;                // their size on the wire
  };

  uint32_t NextXid();
  void SendHello();
  void ReadMore();
  void OnBytes(size_t n);
  void OnMessage(Message message, size_t wire_bytes);
  void OnHello(const Hello& hello);
  void OnFeatures(absl::StatusOr<Message> reply);
  void OnPortDesc(absl::StatusOr<Message> reply);
  void Complete(uint32_t xid, absl::StatusOr<Message> result);
  absl::Status Enqueue(std::vector<uint8_t> bytes);
  void WriteMore();
  void ArmKeepalive();

  boost::asio::ip::tcp::socket socket_;
  std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>> tls_;  // TLS only
  Channel* channel_;
  ChannelOptions options_;
  State state_ = State::kHello;
  std::string peer_;
  std::string peer_address_;
  std::string close_reason_;
  size_t handshake_rx_bytes_ = 0;
  FeaturesReply features_;
  std::vector<PortInfo> ports_;

  std::array<uint8_t, kReadChunkBytes> read_chunk_;
  std::vector<uint8_t> read_buffer_;

  std::deque<std::vector<uint8_t>> write_queue_;
  size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool close_after_flush_ = false;

  uint32_t next_xid_ = 1;
  std::map<uint32_t, Pending> pending_;

  boost::asio::steady_timer handshake_timer_;
  boost::asio::steady_timer keepalive_timer_;
  std::chrono::steady_clock::time_point last_rx_;
};

using ConnectionPtr = std::shared_ptr<Connection>;

// Merges a later part of a multipart reply into the parts received before. Fails if the parts
// are of different multipart types.
absl::Status MergeMultipart(MultipartReply* into, MultipartReply part);

}  // namespace pulse::openflow

#endif  // PULSE_SOUTHBOUND_OPENFLOW_CONNECTION_H_
