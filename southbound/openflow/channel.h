#ifndef PULSE_SOUTHBOUND_OPENFLOW_CHANNEL_H_
#define PULSE_SOUTHBOUND_OPENFLOW_CHANNEL_H_

// OpenFlow listener: accepts switches on one io_context and keeps one ready session per
// datapath id. Garbage from one client closes only that client's connection.
//
// Admission: connections beyond ChannelOptions::max_connections_per_peer (per IP address) or
// max_connections are closed at accept. Once FEATURES names the datapath id, a dpid that
// options.dpid_allowed rejects is refused, and so is a second connection for a dpid that already
// has a session, unless that session has been silent for the echo timeout (a switch that restarted
// while its old TCP session is half-open): then the old one is closed (reported by on_lost)
// and the new one takes over. Refused peers get an OFPT_ERROR (BAD_REQUEST, EPERM) saying why.
// Every refusal is logged and counted by kind (connection.h's kRefused* names).
// Not thread-safe: use it from the io_context's thread (post from elsewhere).

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include <boost/asio.hpp>

#include "absl/status/status.h"
#include "southbound/openflow/connection.h"

namespace pulse::openflow {

struct ChannelHandlers {
  // Handshake done: dpid, features and ports are known.
  std::function<void(const ConnectionPtr&)> on_ready;
  // A ready session ended (not called when a reconnect replaced it).
  std::function<void(uint64_t dpid, const std::string& reason)> on_lost;
  // Unsolicited messages of a ready session: PACKET_IN, PORT_STATUS, ERRORs without a pending
  // request, replies nobody waits for.
  std::function<void(const ConnectionPtr&, const Message&)> on_message;
  // A peer was refused or cut (kind: a kRefused* name; peer: "ip:port"; why: for logs).
  std::function<void(const std::string& kind, const std::string& peer, const std::string& why)>
      on_refused;
};

class Channel {
 public:
  Channel(boost::asio::io_context& io, ChannelOptions options, ChannelHandlers handlers);
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // Binds and starts accepting. Errors name the address and port.
  absl::Status Start();
  // The bound port (useful with options.port = 0).
  uint16_t port() const { return bound_port_; }
  // Stops accepting and closes every session.
  void Stop();

  // Ready session of a switch, or nullptr.
  ConnectionPtr Find(uint64_t dpid) const;
  size_t ready_count() const { return ready_.size(); }
  // Connections accepted and not yet closed (ready or handshaking).
  size_t open_count() const { return all_.size(); }
  // Refusals so far by kind (kRefused* names).
  const std::map<std::string, uint64_t>& refusals() const { return refusals_; }

  // Called by Connection.
  void OnReady(const ConnectionPtr& connection);
  void OnClosed(const ConnectionPtr& connection, const std::string& reason);
  void OnUnsolicited(const ConnectionPtr& connection, const Message& message);
  // FEATURES named the connection's dpid: OK to go on, or the connection was refused (closed).
  absl::Status Admit(const ConnectionPtr& connection);
  void CountRefusal(const std::string& kind, const std::string& peer, const std::string& why);

 private:
  void Accept();

  boost::asio::io_context& io_;
  ChannelOptions options_;
  ChannelHandlers handlers_;
  boost::asio::ip::tcp::acceptor acceptor_;
  uint16_t bound_port_ = 0;
  bool stopped_ = false;
  std::set<ConnectionPtr> all_;
  std::map<std::string, size_t> per_peer_;     // open connections by peer IP address
  std::map<uint64_t, ConnectionPtr> claimed_;  // admitted sessions (handshaking or ready)
  std::map<uint64_t, ConnectionPtr> ready_;
  std::map<std::string, uint64_t> refusals_;
};

}  // namespace pulse::openflow

#endif  // PULSE_SOUTHBOUND_OPENFLOW_CHANNEL_H_
