// An OVSDB client (RFC 7047): JSON-RPC over ovsdb-server's unix socket or TCP, asynchronous on
// Boost.Asio with one event-loop thread per client (work crosses threads by posting).
//
// The asynchronous calls (AsyncCall) complete on the client's thread; the blocking wrappers
// (Call, Echo, Transact, Monitor) wait on that thread and must not be called from a callback.
// The server's echo requests (inactivity probes) are answered. A malformed or unexpected message
// from the server is an error, never a crash: the connection is closed and every pending call
// fails with Unavailable naming the cause.
#ifndef PULSE_SOUTHBOUND_OVSDB_OVSDB_CLIENT_H_
#define PULSE_SOUTHBOUND_OVSDB_OVSDB_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace pulse::southbound::ovsdb {

inline constexpr absl::string_view kDefaultOvsdbEndpoint = "unix:/var/run/openvswitch/db.sock";

class OvsdbClient {
 public:
  using Callback = std::function<void(absl::StatusOr<nlohmann::json>)>;
  // Called on the client's thread with (monitor id, table updates) for every "update".
  using UpdateCallback =
      std::function<void(const nlohmann::json& monitor_id, const nlohmann::json& table_updates)>;

  OvsdbClient();
  ~OvsdbClient();  // closes the connection and joins the thread
  OvsdbClient(const OvsdbClient&) = delete;
  OvsdbClient& operator=(const OvsdbClient&) = delete;

  // Connects to "unix:/path" or "tcp:IP:PORT". Errors: bad endpoint syntax, connect failure.
  absl::Status Connect(absl::string_view endpoint);
  void Close();
  bool connected() const;

  // Sends a request; `done` gets the result, the server's error object as an error Status, or
  // Unavailable if the connection drops first.
  void AsyncCall(std::string method, nlohmann::json params, Callback done);

  absl::StatusOr<nlohmann::json> Call(std::string method, nlohmann::json params,
                                      absl::Duration timeout = absl::Seconds(10));
  absl::StatusOr<nlohmann::json> Echo();
  // One all-or-nothing transaction on `db` (operations: a JSON array). Returns the results
  // array; any operation error (the server then rolled back everything) is an error naming the
  // operation index, its op and the server's error and details.
  absl::StatusOr<nlohmann::json> Transact(absl::string_view db, const nlohmann::json& operations);
  // Starts a monitor; returns the initial contents and calls `on_update` for every later change.
  absl::StatusOr<nlohmann::json> Monitor(absl::string_view db, const nlohmann::json& monitor_id,
                                         const nlohmann::json& requests, UpdateCallback on_update);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace pulse::southbound::ovsdb

#endif  // PULSE_SOUTHBOUND_OVSDB_OVSDB_CLIENT_H_
