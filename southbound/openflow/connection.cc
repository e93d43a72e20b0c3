#include "southbound/openflow/connection.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "southbound/openflow/channel.h"
#include "southbound/openflow/codec.h"

namespace pulse::openflow {
namespace {

// Protocol errors and closed sessions, through the tree's one logger (common/log.h).
void Log(const std::string& peer, const std::string& text) {
  pulse::Log(pulse::LogLevel::kWarning, "openflow ", peer, ": ", text);
}

}  // namespace

absl::Status MergeMultipart(MultipartReply* into, MultipartReply part) {
  if (into->body.index() != part.body.index())
    return absl::InvalidArgumentError("MULTIPART_REPLY: parts of one xid have different types");
  auto append = [](auto& dst, auto& src) {
    dst.insert(dst.end(), std::make_move_iterator(src.begin()), std::make_move_iterator(src.end()));
  };
  if (auto* f = std::get_if<FlowStatsReply>(&into->body)) {
    append(f->flows, std::get<FlowStatsReply>(part.body).flows);
  } else if (auto* t = std::get_if<TableStatsReply>(&into->body)) {
    append(t->tables, std::get<TableStatsReply>(part.body).tables);
  } else if (auto* p = std::get_if<PortStatsReply>(&into->body)) {
    append(p->ports, std::get<PortStatsReply>(part.body).ports);
  } else if (auto* g = std::get_if<GroupStatsReply>(&into->body)) {
    append(g->groups, std::get<GroupStatsReply>(part.body).groups);
  } else if (auto* d = std::get_if<GroupDescReply>(&into->body)) {
    append(d->groups, std::get<GroupDescReply>(part.body).groups);
  } else if (auto* pd = std::get_if<PortDescReply>(&into->body)) {
    append(pd->ports, std::get<PortDescReply>(part.body).ports);
  } else {
    return absl::InvalidArgumentError("MULTIPART_REPLY: this multipart type cannot span parts");
  }
  into->flags = part.flags;
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<boost::asio::ssl::context>> MakeServerTlsContext(
    const std::string& cert_file, const std::string& key_file, const std::string& client_ca_file) {
  namespace ssl = boost::asio::ssl;
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                           ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                       ec);
  if (context->use_certificate_chain_file(cert_file, ec); ec) {
    return absl::InvalidArgumentError(absl::StrCat("tls.cert: '", cert_file, "': ", ec.message()));
  }
  if (context->use_private_key_file(key_file, ssl::context::pem, ec); ec) {
    return absl::InvalidArgumentError(absl::StrCat("tls.key: '", key_file, "': ", ec.message()));
  }
  if (context->load_verify_file(client_ca_file, ec); ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls.client_ca: '", client_ca_file, "': ", ec.message()));
  }
  context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
  return context;
}

Connection::Connection(boost::asio::ip::tcp::socket socket, Channel* channel,
                       const ChannelOptions& options)
    : socket_(std::move(socket)),
      channel_(channel),
      options_(options),
      handshake_timer_(socket_.get_executor()),
      keepalive_timer_(socket_.get_executor()) {
  boost::system::error_code ec;
  auto endpoint = socket_.remote_endpoint(ec);
  peer_address_ = ec ? "unknown" : endpoint.address().to_string();
  peer_ = ec ? "unknown" : absl::StrCat(peer_address_, ":", endpoint.port());
  socket_.set_option(boost::asio::ip::tcp::no_delay(true), ec);
  last_rx_ = std::chrono::steady_clock::now();
  if (options_.tls) {
    tls_ = std::make_unique<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>>(socket_,
                                                                                     *options_.tls);
  }
}

Connection::~Connection() = default;

void Connection::Start() {
  auto self = shared_from_this();
  handshake_timer_.expires_after(options_.handshake_timeout);
  handshake_timer_.async_wait([self](const boost::system::error_code& ec) {
    if (ec || self->ready() || self->closed()) return;
    if (self->state_ == State::kRefusing) return self->Close(self->close_reason_);
    self->Refuse(kRefusedHandshakeTimeout,
                 absl::StrCat("handshake not complete within ",
                              self->options_.handshake_timeout.count(), " ms"));
  });
  ArmKeepalive();
  if (!tls_) return SendHello();
  // The handshake timer bounds the TLS handshake too.
  tls_->async_handshake(
      boost::asio::ssl::stream_base::server, [self](const boost::system::error_code& ec) {
        if (self->closed()) return;
        if (ec) {
          return self->Refuse(kRefusedTlsHandshake, absl::StrCat("TLS handshake: ", ec.message()));
        }
        self->SendHello();
      });
}

void Connection::SendHello() {
  absl::Status s = Send(MakeHello(NextXid()));
  if (!s.ok()) return Close(std::string(s.message()));
  ReadMore();
}

uint32_t Connection::NextXid() {
  uint32_t xid = next_xid_++;
  if (next_xid_ == 0) next_xid_ = 1;
  return xid;
}

void Connection::ReadMore() {
  auto self = shared_from_this();
  auto on_read = [self](const boost::system::error_code& ec, size_t n) {
    if (self->closed()) return;
    if (ec) {
      self->Close(ec == boost::asio::error::eof ? "closed by switch"
                                                : absl::StrCat("read: ", ec.message()));
      return;
    }
    self->OnBytes(n);
  };
  if (tls_) {
    tls_->async_read_some(boost::asio::buffer(read_chunk_), std::move(on_read));
  } else {
    socket_.async_read_some(boost::asio::buffer(read_chunk_), std::move(on_read));
  }
}

void Connection::OnBytes(size_t n) {
  if (state_ == State::kRefusing) return;  // closing once the ERROR is out
  last_rx_ = std::chrono::steady_clock::now();
  if (state_ != State::kReady) {
    handshake_rx_bytes_ += n;
    if (handshake_rx_bytes_ > options_.max_handshake_bytes) {
      return Refuse(kRefusedHandshakeBytes,
                    absl::StrCat("sent ", handshake_rx_bytes_, " bytes before its handshake ",
                                 "completed (cap ", options_.max_handshake_bytes, ")"));
    }
  }
  read_buffer_.insert(read_buffer_.end(), read_chunk_.begin(), read_chunk_.begin() + n);
  size_t consumed = 0;
  while (!closed()) {
    absl::Span<const uint8_t> rest(read_buffer_.data() + consumed, read_buffer_.size() - consumed);
    if (rest.size() >= 4) {  // the header's length field, checked before waiting for the body
      size_t announced = static_cast<size_t>(rest[2]) << 8 | rest[3];
      if (announced > options_.max_message_bytes) {
        return Refuse(kRefusedMessageTooLarge,
                      absl::StrCat("message of ", announced, " bytes (cap ",
                                   options_.max_message_bytes, ")"));
      }
    }
    absl::StatusOr<size_t> len = NextMessageLength(rest);
    if (!len.ok()) return Close(absl::StrCat("framing: ", len.status().message()));
    if (*len == 0) break;
    absl::StatusOr<Message> message = Decode(rest.subspan(0, *len));
    consumed += *len;
    if (!message.ok()) {
      if (absl::IsUnimplemented(message.status())) continue;  // a kind we do not model
      return Close(absl::StrCat("decode: ", message.status().message()));
    }
    OnMessage(std::move(*message), *len);
  }
  if (closed()) return;
  read_buffer_.erase(read_buffer_.begin(), read_buffer_.begin() + consumed);
  if (read_buffer_.size() > options_.max_buffered_bytes) {
    return Refuse(kRefusedBufferedBytes,
                  absl::StrCat(read_buffer_.size(), " bytes buffered undecoded (cap ",
                               options_.max_buffered_bytes, ")"));
  }
  if (read_buffer_.capacity() > 4 * kReadChunkBytes && read_buffer_.size() < kReadChunkBytes) {
    read_buffer_.shrink_to_fit();  // a burst's buffer is not kept for the session's life
  }
  ReadMore();
}

void Connection::OnMessage(Message message, size_t wire_bytes) {
  if (state_ == State::kHello) {
    if (auto* hello = std::get_if<Hello>(&message.body)) return OnHello(*hello);
    return Close(absl::StrCat("expected HELLO, got ",
                              MsgTypeName(static_cast<uint8_t>(TypeOf(message.body)))));
  }
  if (auto* echo = std::get_if<EchoRequest>(&message.body)) {
    (void)Send(Message{message.xid, EchoReply{std::move(echo->data)}});
    return;
  }
  auto it = pending_.find(message.xid);
  if (it != pending_.end()) {
    if (auto* error = std::get_if<Error>(&message.body)) {
      return Complete(message.xid, absl::FailedPreconditionError(absl::StrCat(
                                       "switch ", peer_, " returned ERROR type ", error->type,
                                       " code ", error->code, " for xid ", message.xid)));
    }
    if (auto* part = std::get_if<MultipartReply>(&message.body)) {
      Pending& p = it->second;
      p.partial_bytes += wire_bytes;
      if (p.partial_bytes > options_.max_multipart_reply_bytes) {
        uint32_t xid = message.xid;
        Complete(xid, absl::ResourceExhaustedError(
                          absl::StrCat("switch ", peer_, ": multipart reply to xid ", xid, " over ",
                                       options_.max_multipart_reply_bytes, " bytes")));
        return Refuse(kRefusedMultipartTooLarge,
                      absl::StrCat("multipart reply to xid ", xid, " over ",
                                   options_.max_multipart_reply_bytes, " bytes"));
      }
      if (p.partial.has_value()) {
        absl::Status merged = MergeMultipart(&*p.partial, std::move(*part));
        if (!merged.ok()) return Complete(message.xid, merged);
      } else {
        p.partial = std::move(*part);
      }
      if (p.partial->flags & kMultipartMore) return;  // wait for the rest
      Message whole{message.xid, std::move(*p.partial)};
      return Complete(message.xid, std::move(whole));
    }
    return Complete(message.xid, std::move(message));
  }
  if (std::holds_alternative<EchoReply>(message.body)) return;  // keepalive answer
  if (auto* error = std::get_if<Error>(&message.body)) {
    Log(peer_, absl::StrCat("ERROR type ", error->type, " code ", error->code, " xid ", message.xid,
                            " (", error->data.size(), " bytes of request)"));
  }
  if (state_ == State::kReady && channel_ != nullptr)
    channel_->OnUnsolicited(shared_from_this(), message);
}

void Connection::OnHello(const Hello& hello) {
  bool ok = hello.versions.empty() ? hello.header_version >= kOfp13Version
                                   : std::find(hello.versions.begin(), hello.versions.end(),
                                               kOfp13Version) != hello.versions.end();
  if (!ok) {
    std::string why = absl::StrCat("only OpenFlow 1.3 (0x04) is supported; peer offered 0x",
                                   absl::Hex(hello.header_version));
    Log(peer_, why);
    (void)Send(MakeHelloFailed(0, why));
    close_after_flush_ = true;
    close_reason_ = "HELLO_FAILED: " + why;
    if (!writing_) Close(close_reason_);
    return;
  }
  state_ = State::kFeatures;
  auto self = shared_from_this();
  Request(
      Message{0, FeaturesRequest{}},
      [self](absl::StatusOr<Message> reply) { self->OnFeatures(std::move(reply)); },
      options_.handshake_timeout);
}

void Connection::OnFeatures(absl::StatusOr<Message> reply) {
  if (closed()) return;
  if (!reply.ok()) return Close(absl::StrCat("FEATURES: ", reply.status().message()));
  auto* features = std::get_if<FeaturesReply>(&reply->body);
  if (features == nullptr) return Close("FEATURES: reply is not a FEATURES_REPLY");
  features_ = *features;
  if (channel_ != nullptr) {
    if (absl::Status admitted = channel_->Admit(shared_from_this()); !admitted.ok()) return;
  }
  state_ = State::kPortDesc;
  auto self = shared_from_this();
  Request(
      Message{0, MultipartRequest{0, PortDescRequest{}}},
      [self](absl::StatusOr<Message> reply) { self->OnPortDesc(std::move(reply)); },
      options_.handshake_timeout);
}

void Connection::OnPortDesc(absl::StatusOr<Message> reply) {
  if (closed()) return;
  if (!reply.ok()) return Close(absl::StrCat("PORT_DESC: ", reply.status().message()));
  auto* mp = std::get_if<MultipartReply>(&reply->body);
  auto* desc = mp ? std::get_if<PortDescReply>(&mp->body) : nullptr;
  if (desc == nullptr) return Close("PORT_DESC: reply is not a PORT_DESC multipart reply");
  ports_ = std::move(desc->ports);
  state_ = State::kReady;
  handshake_timer_.cancel();
  if (channel_ != nullptr) channel_->OnReady(shared_from_this());
}

absl::Status Connection::Send(Message message) {
  if (closed()) return absl::UnavailableError(absl::StrCat("switch ", peer_, ": session closed"));
  if (message.xid == 0) message.xid = NextXid();
  absl::StatusOr<std::vector<uint8_t>> bytes = Encode(message);
  if (!bytes.ok()) return bytes.status();
  return Enqueue(std::move(*bytes));
}

void Connection::Request(Message message, ReplyCallback done, std::chrono::milliseconds timeout) {
  if (closed()) {
    done(absl::UnavailableError(absl::StrCat("switch ", peer_, ": session closed")));
    return;
  }
  if (message.xid == 0 || pending_.count(message.xid)) message.xid = NextXid();
  uint32_t xid = message.xid;
  Pending& p = pending_[xid];
  p.done = std::move(done);
  p.timer = std::make_unique<boost::asio::steady_timer>(socket_.get_executor());
  p.timer->expires_after(timeout.count() > 0 ? timeout : options_.request_timeout);
  auto weak = weak_from_this();
  p.timer->async_wait([weak, xid](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    self->Complete(xid, absl::DeadlineExceededError(
                            absl::StrCat("switch ", self->peer_, ": no reply to xid ", xid)));
  });
  absl::Status s = Send(std::move(message));
  if (!s.ok()) Complete(xid, s);
}

void Connection::Barrier(StatusCallback done, std::chrono::milliseconds timeout) {
  Request(
      Message{0, BarrierRequest{}},
      [done = std::move(done)](absl::StatusOr<Message> reply) {
        if (!reply.ok()) return done(reply.status());
        if (!std::holds_alternative<BarrierReply>(reply->body))
          return done(absl::InternalError("reply to BARRIER_REQUEST is not a BARRIER_REPLY"));
        done(absl::OkStatus());
      },
      timeout);
}

void Connection::Complete(uint32_t xid, absl::StatusOr<Message> result) {
  auto it = pending_.find(xid);
  if (it == pending_.end()) return;
  ReplyCallback done = std::move(it->second.done);
  if (it->second.timer) it->second.timer->cancel();
  pending_.erase(it);
  done(std::move(result));
}

absl::Status Connection::Enqueue(std::vector<uint8_t> bytes) {
  if (queued_bytes_ + bytes.size() > options_.write_queue_cap_bytes) {
    std::string why = absl::StrCat("write queue over cap (", queued_bytes_, " + ", bytes.size(),
                                   " > ", options_.write_queue_cap_bytes, " bytes)");
    Close(why);
    return absl::ResourceExhaustedError(absl::StrCat("switch ", peer_, ": ", why));
  }
  queued_bytes_ += bytes.size();
  write_queue_.push_back(std::move(bytes));
  WriteMore();
  return absl::OkStatus();
}

void Connection::WriteMore() {
  if (writing_ || closed()) return;
  if (write_queue_.empty()) {
    if (close_after_flush_) Close(close_reason_);
    return;
  }
  writing_ = true;
  auto self = shared_from_this();
  auto on_written = [self](const boost::system::error_code& ec, size_t) {
    self->writing_ = false;
    if (self->closed()) return;
    if (ec) return self->Close(absl::StrCat("write: ", ec.message()));
    self->queued_bytes_ -= self->write_queue_.front().size();
    self->write_queue_.pop_front();
    self->WriteMore();
  };
  if (tls_) {
    boost::asio::async_write(*tls_, boost::asio::buffer(write_queue_.front()),
                             std::move(on_written));
  } else {
    boost::asio::async_write(socket_, boost::asio::buffer(write_queue_.front()),
                             std::move(on_written));
  }
}

void Connection::ArmKeepalive() {
  auto interval = std::min(options_.echo_interval, options_.echo_timeout);
  keepalive_timer_.expires_after(interval);
  auto weak = weak_from_this();
  keepalive_timer_.async_wait([weak](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self || self->closed()) return;
    auto silent = std::chrono::steady_clock::now() - self->last_rx_;
    if (silent >= self->options_.echo_timeout) {
      return self->Close(absl::StrCat(
          "echo timeout: nothing received for ",
          std::chrono::duration_cast<std::chrono::milliseconds>(silent).count(), " ms"));
    }
    if (silent >= self->options_.echo_interval && self->state_ == State::kReady)
      (void)self->Send(Message{0, EchoRequest{}});
    self->ArmKeepalive();
  });
}

void Connection::Refuse(const char* kind, const std::string& why, bool tell_peer) {
  if (closed()) return;
  if (channel_ != nullptr) {
    channel_->CountRefusal(kind, peer_, why);  // logs it
  } else {
    Log(peer_, absl::StrCat("refused (", kind, "): ", why));
  }
  if (!tell_peer) return Close(absl::StrCat("refused: ", why));
  Error error;
  error.type = kErrorTypeBadRequest;
  error.code = kBadRequestEperm;
  error.data.assign(why.begin(), why.end());
  close_reason_ = absl::StrCat("refused: ", why);
  if (!Send(Message{0, std::move(error)}).ok()) return;  // Send closed it (queue over cap)
  close_after_flush_ = true;
  state_ = State::kRefusing;  // the handshake timer still bounds the flush
  if (!writing_) Close(close_reason_);
}

void Connection::Close(const std::string& reason) {
  if (closed()) return;
  state_ = State::kClosed;
  close_reason_ = reason;
  boost::system::error_code ec;
  handshake_timer_.cancel();
  keepalive_timer_.cancel();
  socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  write_queue_.clear();
  queued_bytes_ = 0;
  // Fail pending requests; callbacks may issue new calls, which fail fast as we are closed.
  std::map<uint32_t, Pending> pending = std::move(pending_);
  pending_.clear();
  for (auto& [xid, p] : pending) {
    if (p.timer) p.timer->cancel();
    p.done(absl::UnavailableError(absl::StrCat("switch ", peer_, ": session closed: ", reason)));
  }
  Channel* channel = channel_;
  channel_ = nullptr;
  if (channel != nullptr) channel->OnClosed(shared_from_this(), reason);
}

}  // namespace pulse::openflow
