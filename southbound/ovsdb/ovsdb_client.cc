#include "southbound/ovsdb/ovsdb_client.h"

#include <deque>
#include <future>
#include <map>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "boost/asio.hpp"
#include "common/thread_name.h"
#include "southbound/ovsdb/json_stream.h"

namespace pulse::southbound::ovsdb {

namespace asio = boost::asio;
using nlohmann::json;

struct OvsdbClient::Impl : std::enable_shared_from_this<OvsdbClient::Impl> {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  asio::generic::stream_protocol::socket socket{io};
  std::thread thread;
  // Touched only on the io thread.
  JsonStreamSplitter splitter;
  std::map<int64_t, Callback> pending;
  std::map<std::string, UpdateCallback> monitors;  // by monitor id dump
  std::deque<std::string> write_queue;
  int64_t next_id = 1;
  std::array<char, 65536> read_buffer;
  std::atomic<bool> open{false};

  void FailAll(const absl::Status& status) {
    open = false;
    boost::system::error_code ignored;
    socket.close(ignored);
    std::map<int64_t, Callback> failed;
    failed.swap(pending);
    for (auto& [id, cb] : failed) cb(status);
  }

  void Send(std::string text) {
    write_queue.push_back(std::move(text));
    if (write_queue.size() == 1) WriteNext();
  }

  void WriteNext() {
    if (write_queue.empty() || !open) return;
    auto self = shared_from_this();
    asio::async_write(
        socket, asio::buffer(write_queue.front()), [self](boost::system::error_code ec, size_t) {
          if (ec) {
            self->FailAll(
                absl::UnavailableError(absl::StrCat("ovsdb: write failed: ", ec.message())));
            return;
          }
          self->write_queue.pop_front();
          self->WriteNext();
        });
  }

  void ReadMore() {
    auto self = shared_from_this();
    socket.async_read_some(
        asio::buffer(read_buffer), [self](boost::system::error_code ec, size_t n) {
          if (ec) {
            if (self->open) {
              self->FailAll(
                  absl::UnavailableError(absl::StrCat("ovsdb: connection closed: ", ec.message())));
            }
            return;
          }
          self->splitter.Append(absl::string_view(self->read_buffer.data(), n));
          if (absl::Status s = self->DrainMessages(); !s.ok()) {
            self->FailAll(absl::UnavailableError(s.message()));
            return;
          }
          self->ReadMore();
        });
  }

  absl::Status DrainMessages() {
    while (true) {
      absl::StatusOr<std::optional<json>> next = splitter.Next();
      if (!next.ok()) return next.status();
      if (!next->has_value()) return absl::OkStatus();
      if (absl::Status s = Dispatch(**next); !s.ok()) return s;
    }
  }

  absl::Status Dispatch(const json& msg) {
    if (!msg.is_object()) {
      return absl::DataLossError(
          absl::StrCat("ovsdb: message is not a JSON object: ", msg.dump().substr(0, 80)));
    }
    auto method = msg.find("method");
    if (method != msg.end()) {
      if (!method->is_string()) return absl::DataLossError("ovsdb: 'method' is not a string");
      auto params = msg.find("params");
      auto id = msg.find("id");
      if (*method == "echo" && id != msg.end() && !id->is_null()) {
        json reply = {{"id", *id},
                      {"result", params != msg.end() ? *params : json::array()},
                      {"error", nullptr}};
        Send(reply.dump());
        return absl::OkStatus();
      }
      if (*method == "update") {
        if (params == msg.end() || !params->is_array() || params->size() != 2) {
          return absl::DataLossError("ovsdb: 'update' without [monitor-id, updates] params");
        }
        auto it = monitors.find((*params)[0].dump());
        if (it != monitors.end()) it->second((*params)[0], (*params)[1]);
        return absl::OkStatus();
      }
      if (id != msg.end() && !id->is_null()) {
        json reply = {{"id", *id}, {"result", nullptr}, {"error", "unknown method"}};
        Send(reply.dump());
      }
      return absl::OkStatus();  // other notifications (e.g. "locked") are not used
    }
    auto id = msg.find("id");
    if (id == msg.end() || !id->is_number_integer()) {
      return absl::DataLossError(
          absl::StrCat("ovsdb: reply without an integer id: ", msg.dump().substr(0, 80)));
    }
    auto it = pending.find(id->get<int64_t>());
    if (it == pending.end()) return absl::OkStatus();  // reply to a call we gave up on
    Callback cb = std::move(it->second);
    pending.erase(it);
    auto error = msg.find("error");
    if (error != msg.end() && !error->is_null()) {
      cb(absl::InternalError(absl::StrCat("ovsdb: server error: ", error->dump())));
      return absl::OkStatus();
    }
    auto result = msg.find("result");
    if (result == msg.end()) {
      cb(absl::DataLossError("ovsdb: reply has neither result nor error"));
      return absl::OkStatus();
    }
    cb(*result);
    return absl::OkStatus();
  }
};

OvsdbClient::OvsdbClient() : impl_(std::make_shared<Impl>()) {
  impl_->thread = std::thread([impl = impl_.get()] {
    pulse::NameThisThread("pulse-ovsdb");
    impl->io.run();
  });
}

OvsdbClient::~OvsdbClient() {
  Close();
  // Let run() drain instead of stop(): the aborted read/write handlers hold a shared_ptr to
  // Impl, and leaving them queued inside Impl's own io_context would keep it alive forever.
  impl_->work.reset();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->monitors.clear();
}

bool OvsdbClient::connected() const { return impl_->open; }

absl::Status OvsdbClient::Connect(absl::string_view endpoint) {
  asio::generic::stream_protocol::endpoint ep;
  if (absl::StartsWith(endpoint, "unix:")) {
    const std::string path(endpoint.substr(5));
    if (path.empty() || path.size() >= 108) {
      return absl::InvalidArgumentError(
          absl::StrCat("ovsdb: bad unix socket path in '", endpoint, "'"));
    }
    ep = asio::local::stream_protocol::endpoint(path);
  } else if (absl::StartsWith(endpoint, "tcp:")) {
    absl::string_view rest = endpoint.substr(4);
    const size_t colon = rest.rfind(':');
    int port = 0;
    boost::system::error_code ec;
    asio::ip::address addr;
    if (colon != absl::string_view::npos) {
      addr = asio::ip::make_address(std::string(rest.substr(0, colon)), ec);
    }
    if (colon == absl::string_view::npos || ec ||
        !absl::SimpleAtoi(rest.substr(colon + 1), &port) || port <= 0 || port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("ovsdb: endpoint '", endpoint, "' is not tcp:IP:PORT"));
    }
    ep = asio::ip::tcp::endpoint(addr, static_cast<uint16_t>(port));
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("ovsdb: endpoint '", endpoint, "' is neither unix:PATH nor tcp:IP:PORT"));
  }
  std::promise<absl::Status> done;
  auto impl = impl_;
  asio::post(impl->io, [impl, ep, &done, endpoint = std::string(endpoint)] {
    boost::system::error_code ec;
    impl->socket.close(ec);
    impl->socket = asio::generic::stream_protocol::socket(impl->io);
    impl->socket.connect(ep, ec);  // local endpoints: returns at once
    if (ec) {
      done.set_value(absl::UnavailableError(
          absl::StrCat("ovsdb: cannot connect to ", endpoint, ": ", ec.message())));
      return;
    }
    impl->splitter = JsonStreamSplitter();
    impl->open = true;
    impl->ReadMore();
    done.set_value(absl::OkStatus());
  });
  return done.get_future().get();
}

void OvsdbClient::Close() {
  auto impl = impl_;
  std::promise<void> done;
  asio::post(impl->io, [impl, &done] {
    if (impl->open) impl->FailAll(absl::CancelledError("ovsdb: connection closed by client"));
    done.set_value();
  });
  if (impl->thread.joinable() && !impl->io.stopped()) done.get_future().wait();
}

void OvsdbClient::AsyncCall(std::string method, json params, Callback done) {
  auto impl = impl_;
  asio::post(impl->io, [impl, method = std::move(method), params = std::move(params),
                        done = std::move(done)]() mutable {
    if (!impl->open) {
      done(absl::UnavailableError(absl::StrCat("ovsdb: not connected (", method, ")")));
      return;
    }
    const int64_t id = impl->next_id++;
    impl->pending.emplace(id, std::move(done));
    json request = {{"method", method}, {"params", std::move(params)}, {"id", id}};
    impl->Send(request.dump());
  });
}

absl::StatusOr<json> OvsdbClient::Call(std::string method, json params, absl::Duration timeout) {
  auto promise = std::make_shared<std::promise<absl::StatusOr<json>>>();
  std::future<absl::StatusOr<json>> future = promise->get_future();
  const std::string name = method;
  AsyncCall(std::move(method), std::move(params),
            [promise](absl::StatusOr<json> result) { promise->set_value(std::move(result)); });
  if (future.wait_for(absl::ToChronoMilliseconds(timeout)) != std::future_status::ready) {
    return absl::DeadlineExceededError(
        absl::StrCat("ovsdb: no reply to '", name, "' within ", absl::FormatDuration(timeout)));
  }
  return future.get();
}

absl::StatusOr<json> OvsdbClient::Echo() { return Call("echo", json::array({"pulse"})); }

absl::StatusOr<json> OvsdbClient::Transact(absl::string_view db, const json& operations) {
  if (!operations.is_array()) {
    return absl::InvalidArgumentError("ovsdb: transact operations must be a JSON array");
  }
  json params = json::array({std::string(db)});
  for (const json& op : operations) params.push_back(op);
  absl::StatusOr<json> result = Call("transact", std::move(params));
  if (!result.ok()) return result.status();
  if (!result->is_array()) {
    return absl::DataLossError(
        absl::StrCat("ovsdb: transact result is not an array: ", result->dump().substr(0, 80)));
  }
  for (size_t i = 0; i < result->size(); ++i) {
    const json& r = (*result)[i];
    if (r.is_object() && r.contains("error")) {
      const std::string op = i < operations.size() && operations[i].contains("op")
                                 ? operations[i]["op"].dump()
                                 : std::string("commit");
      return absl::AbortedError(absl::StrCat(
          "ovsdb: transaction on ", db, " rolled back: operation ", i, " (", op,
          ") failed: ", r["error"].dump(), r.contains("details") ? " " + r["details"].dump() : ""));
    }
  }
  return result;
}

absl::StatusOr<json> OvsdbClient::Monitor(absl::string_view db, const json& monitor_id,
                                          const json& requests, UpdateCallback on_update) {
  auto impl = impl_;
  std::promise<void> registered;
  asio::post(impl->io, [impl, key = monitor_id.dump(), cb = std::move(on_update), &registered] {
    impl->monitors[key] = cb;
    registered.set_value();
  });
  registered.get_future().wait();
  return Call("monitor", json::array({std::string(db), monitor_id, requests}));
}

}  // namespace pulse::southbound::ovsdb
