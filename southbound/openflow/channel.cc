#include "southbound/openflow/channel.h"

#include <cstdio>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace pulse::openflow {

Channel::Channel(boost::asio::io_context& io, ChannelOptions options, ChannelHandlers handlers)
    : io_(io), options_(std::move(options)), handlers_(std::move(handlers)), acceptor_(io) {}

Channel::~Channel() { Stop(); }

absl::Status Channel::Start() {
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(options_.listen_address, ec);
  if (ec)
    return absl::InvalidArgumentError(
        absl::StrCat("openflow listen address '", options_.listen_address, "': ", ec.message()));
  boost::asio::ip::tcp::endpoint endpoint(address, options_.port);
  std::string where = absl::StrCat(options_.listen_address, ":", options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(boost::asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec)
    return absl::UnavailableError(absl::StrCat("openflow listen on ", where, ": ", ec.message()));
  bound_port_ = acceptor_.local_endpoint(ec).port();
  stopped_ = false;
  Accept();
  return absl::OkStatus();
}

void Channel::Accept() {
  acceptor_.async_accept([this](const boost::system::error_code& ec,
                                boost::asio::ip::tcp::socket socket) {
    if (stopped_) return;
    if (!ec) {
      auto connection = std::make_shared<Connection>(std::move(socket), this, options_);
      size_t& from_peer = per_peer_[connection->peer_address()];
      if (all_.size() >= options_.max_connections) {
        CountRefusal(
            kRefusedConnections, connection->peer(),
            absl::StrCat(all_.size(), " connections open (cap ", options_.max_connections, ")"));
        connection->Close("refused at accept");
      } else if (from_peer >= options_.max_connections_per_peer) {
        CountRefusal(kRefusedPeerConnections, connection->peer(),
                     absl::StrCat(from_peer, " connections open from ", connection->peer_address(),
                                  " (cap ", options_.max_connections_per_peer, ")"));
        connection->Close("refused at accept");
      } else {
        ++from_peer;
        all_.insert(connection);
        connection->Start();
      }
      if (from_peer == 0) per_peer_.erase(connection->peer_address());
    } else if (ec == boost::asio::error::operation_aborted) {
      return;
    } else {
      pulse::Log(pulse::LogLevel::kWarning, "openflow: accept: ", ec.message());
    }
    Accept();
  });
}

void Channel::Stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
  // Closing calls OnClosed, which edits all_: close a copy.
  std::vector<ConnectionPtr> open(all_.begin(), all_.end());
  for (auto& c : open) c->Close("controller stopping");
  all_.clear();
  per_peer_.clear();
  claimed_.clear();
  ready_.clear();
}

ConnectionPtr Channel::Find(uint64_t dpid) const {
  auto it = ready_.find(dpid);
  return it == ready_.end() ? nullptr : it->second;
}

void Channel::CountRefusal(const std::string& kind, const std::string& peer,
                           const std::string& why) {
  ++refusals_[kind];
  pulse::Log(pulse::LogLevel::kWarning, "openflow ", peer, ": refused (", kind, "): ", why);
  if (handlers_.on_refused) handlers_.on_refused(kind, peer, why);
}

absl::Status Channel::Admit(const ConnectionPtr& connection) {
  const uint64_t dpid = connection->dpid();
  if (options_.dpid_allowed && !options_.dpid_allowed(dpid)) {
    std::string why = absl::StrCat("datapath id ", dpid, " (0x", absl::Hex(dpid, absl::kZeroPad16),
                                   ") is not a switch of the fabric intent");
    connection->Refuse(kRefusedUnknownDpid, why, /*tell_peer=*/true);
    return absl::PermissionDeniedError(why);
  }
  auto it = claimed_.find(dpid);
  if (it != claimed_.end() && it->second != connection && !it->second->closed()) {
    ConnectionPtr first = it->second;
    auto silent = std::chrono::duration_cast<std::chrono::milliseconds>(first->silent_for());
    if (silent < options_.echo_timeout) {
      std::string why = absl::StrCat(
          "datapath id ", dpid, " is already connected from ", first->peer(), " (last heard ",
          silent.count(), " ms ago; echo timeout ", options_.echo_timeout.count(), " ms)");
      connection->Refuse(kRefusedDuplicateDpid, why, /*tell_peer=*/true);
      return absl::AlreadyExistsError(why);
    }
    pulse::Log(pulse::LogLevel::kWarning, "openflow ", first->peer(), ": datapath id ", dpid,
               ": session silent for ", silent.count(), " ms (echo timeout), replaced by ",
               connection->peer());
    claimed_[dpid] = connection;  // so closing the first one reports no on_lost
    first->Close(absl::StrCat("echo timeout: replaced by a new session from ", connection->peer()));
  }
  claimed_[dpid] = connection;
  return absl::OkStatus();
}

void Channel::OnReady(const ConnectionPtr& connection) {
  auto it = ready_.find(connection->dpid());
  ConnectionPtr old;
  if (it != ready_.end() && it->second != connection) old = it->second;
  ready_[connection->dpid()] = connection;
  if (old) old->Close("replaced by a new session of the same datapath");
  if (handlers_.on_ready) handlers_.on_ready(connection);
}

void Channel::OnClosed(const ConnectionPtr& connection, const std::string& reason) {
  if (all_.erase(connection) > 0) {
    auto peer = per_peer_.find(connection->peer_address());
    if (peer != per_peer_.end() && --peer->second == 0) per_peer_.erase(peer);
  }
  auto claim = claimed_.find(connection->dpid());
  if (claim != claimed_.end() && claim->second == connection) claimed_.erase(claim);
  auto it = ready_.find(connection->dpid());
  if (it == ready_.end() || it->second != connection) return;  // never ready, or replaced
  ready_.erase(it);
  if (!stopped_ && handlers_.on_lost) handlers_.on_lost(connection->dpid(), reason);
}

void Channel::OnUnsolicited(const ConnectionPtr& connection, const Message& message) {
  if (handlers_.on_message) handlers_.on_message(connection, message);
}

}  // namespace pulse::openflow
