#ifndef PULSE_TESTS_SOUTHBOUND_OPENFLOW_FAKE_SWITCH_H_
#define PULSE_TESTS_SOUTHBOUND_OPENFLOW_FAKE_SWITCH_H_

// A fake OpenFlow 1.3 switch for channel tests: blocking loopback socket plus the codec.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "southbound/openflow/codec.h"

namespace pulse::openflow::testing {

class FakeSwitch {
 public:
  FakeSwitch() = default;
  ~FakeSwitch() { Disconnect(); }
  FakeSwitch(const FakeSwitch&) = delete;
  FakeSwitch& operator=(const FakeSwitch&) = delete;

  absl::Status Connect(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) return absl::InternalError("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
      return absl::UnavailableError(absl::StrCat("connect 127.0.0.1:", port));
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return absl::OkStatus();
  }
  void Disconnect() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // Shrinks the kernel receive buffer so a switch that stops reading fills up quickly.
  void SetSmallReceiveBuffer() {
    int size = 4096;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  }

  absl::Status SendRaw(const std::vector<uint8_t>& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return absl::UnavailableError("send failed");
      sent += static_cast<size_t>(n);
    }
    return absl::OkStatus();
  }
  absl::Status Send(const Message& m) {
    auto bytes = Encode(m);
    if (!bytes.ok()) return bytes.status();
    return SendRaw(*bytes);
  }

  // Next message, DeadlineExceeded after `timeout`, Unavailable on EOF.
  absl::StatusOr<Message> Receive(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      auto len = NextMessageLength(buffer_);
      if (!len.ok()) return len.status();
      if (*len > 0) {
        std::vector<uint8_t> frame(buffer_.begin(), buffer_.begin() + *len);
        buffer_.erase(buffer_.begin(), buffer_.begin() + *len);
        return Decode(frame);
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return absl::DeadlineExceededError("no message");
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      uint8_t chunk[65536];
      ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n <= 0) return absl::UnavailableError("connection closed");
      buffer_.insert(buffer_.end(), chunk, chunk + n);
    }
  }

  // Receives until a message of type T arrives, answering echo requests on the way.
  template <class T>
  absl::StatusOr<Message> ReceiveType(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      auto m = Receive(left);
      if (!m.ok()) return m;
      if (std::holds_alternative<T>(m->body)) return m;
      if (auto* echo = std::get_if<EchoRequest>(&m->body)) {
        auto s = Send(Message{m->xid, EchoReply{echo->data}});
        if (!s.ok()) return s;
      }
    }
  }

  // Plays HELLO and FEATURES (claiming `dpid`); returns the controller's next message, which is
  // the PORT_DESC request when the controller admits the dpid (an ERROR when it refuses it).
  absl::StatusOr<Message> HelloAndFeatures(uint64_t dpid) {
    auto hello = ReceiveType<Hello>();
    if (!hello.ok()) return hello.status();
    auto s = Send(MakeHello(1));
    if (!s.ok()) return s;
    auto features = ReceiveType<FeaturesRequest>();
    if (!features.ok()) return features.status();
    FeaturesReply reply;
    reply.datapath_id = dpid;
    reply.n_tables = 254;
    s = Send(Message{features->xid, reply});
    if (!s.ok()) return s;
    auto next = Receive();
    if (next.ok() && std::holds_alternative<Error>(next->body)) {
      auto* error = std::get_if<Error>(&next->body);
      return absl::PermissionDeniedError(
          absl::StrCat("ERROR type ", error->type, " code ", error->code, ": ",
                       std::string(error->data.begin(), error->data.end())));
    }
    return next;
  }

  // Plays the switch side of the handshake; the port list is sent in `parts` multipart parts.
  absl::Status Handshake(uint64_t dpid, int n_ports, int parts = 1) {
    auto desc = HelloAndFeatures(dpid);
    if (!desc.ok()) return desc.status();
    if (!std::holds_alternative<MultipartRequest>(desc->body))
      return absl::InternalError("expected the PORT_DESC request");
    absl::Status s;
    for (int part = 0; part < parts; ++part) {
      PortDescReply ports;
      for (int p = part + 1; p <= n_ports; p += parts) {
        PortInfo info;
        info.port_no = static_cast<uint32_t>(p);
        info.name = absl::StrCat("s", dpid, "-eth", p);
        info.hw_addr = 0x020000000000ull | p;
        ports.ports.push_back(info);
      }
      MultipartReply mp;
      mp.flags = part + 1 < parts ? kMultipartMore : 0;
      mp.body = std::move(ports);
      s = Send(Message{desc->xid, std::move(mp)});
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

  // Answers echo and barrier requests until the connection closes or `timeout` passes.
  // Returns the number of barrier replies sent.
  int Serve(std::chrono::milliseconds timeout) {
    int barriers = 0;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto m = Receive(std::chrono::milliseconds(50));
      if (!m.ok()) {
        if (absl::IsDeadlineExceeded(m.status())) continue;
        break;
      }
      if (auto* echo = std::get_if<EchoRequest>(&m->body)) {
        (void)Send(Message{m->xid, EchoReply{echo->data}});
      } else if (std::holds_alternative<BarrierRequest>(m->body)) {
        (void)Send(Message{m->xid, BarrierReply{}});
        ++barriers;
      }
    }
    return barriers;
  }

 private:
  int fd_ = -1;
  std::vector<uint8_t> buffer_;
};

}  // namespace pulse::openflow::testing

#endif  // PULSE_TESTS_SOUTHBOUND_OPENFLOW_FAKE_SWITCH_H_
