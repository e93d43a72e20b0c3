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
  acceptor_.async_accept(
      [this](const boost::system::error_code& ec, boost::asio::ip::tcp::socket socket) {
        if (stopped_) return;
        if (!ec) {
          auto connection = std::make_shared<Connection>(std::move(socket), this, options_);
          all_.insert(connection);
          connection->Start();
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
  ready_.clear();
}

ConnectionPtr Channel::Find(uint64_t dpid) const {
  auto it = ready_.find(dpid);
  return it == ready_.end() ? nullptr : it->second;
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
  all_.erase(connection);
  auto it = ready_.find(connection->dpid());
  if (it == ready_.end() || it->second != connection) return;  // never ready, or replaced
  ready_.erase(it);
  if (!stopped_ && handlers_.on_lost) handlers_.on_lost(connection->dpid(), reason);
}

void Channel::OnUnsolicited(const ConnectionPtr& connection, const Message& message) {
  if (handlers_.on_message) handlers_.on_message(connection, message);
}

}  // namespace pulse::openflow
