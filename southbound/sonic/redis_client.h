// A small synchronous Redis client over Debian's hiredis 0.14 (old API: no TLS, no RESP3).
//
// One RedisClient owns one connection and is used from one thread (the SONiC driver's own
// thread). Every call returns a Status; after a connection or protocol error the client is
// broken (ok() false) and the caller reconnects, because hiredis leaves a failed context unusable.
// Replies are copied into RedisReply values so no hiredis type escapes this file pair.
#ifndef PULSE_SOUTHBOUND_SONIC_REDIS_CLIENT_H_
#define PULSE_SOUTHBOUND_SONIC_REDIS_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct redisContext;

namespace pulse::southbound::sonic {

// Where a switch's Redis listens: "host:port", or "unix:/path/to/redis.sock".
struct RedisAddress {
  std::string host;  // empty for a unix socket
  int port = 0;
  std::string unix_path;
  std::string ToString() const;
};
// Parses "127.0.0.1:6379", "[::1]:6379" or "unix:/var/run/redis/redis.sock".
absl::StatusOr<RedisAddress> ParseRedisAddress(absl::string_view text);

// A reply, with hiredis's kinds. Errors from the server (e.g. WRONGTYPE) are kError values, not
// failed Statuses: the connection is still fine.
struct RedisReply {
  enum class Kind { kNil, kString, kStatus, kError, kInteger, kArray };
  Kind kind = Kind::kNil;
  std::string str;  // kString, kStatus, kError
  int64_t integer = 0;
  std::vector<RedisReply> elements;  // kArray
  // An HGETALL reply as a map (an empty map for nil or a non-array).
  std::map<std::string, std::string> AsMap() const;
};

class RedisClient {
 public:
  // Connects (and AUTHs when `password` is non-empty) within `timeout`; the same timeout then
  // bounds every read and write. Unavailable when the server cannot be reached, PermissionDenied
  // when AUTH is refused.
  static absl::StatusOr<std::unique_ptr<RedisClient>> Connect(const RedisAddress& address,
                                                              const std::string& password,
                                                              std::chrono::milliseconds timeout);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // One command, argv style (binary-safe). Unavailable when the connection failed.
  absl::StatusOr<RedisReply> Command(const std::vector<std::string>& argv);
  // Several commands in one round trip (pipelined); one reply per command, in order.
  absl::StatusOr<std::vector<RedisReply>> Pipeline(
      const std::vector<std::vector<std::string>>& commands);

  // Pub/sub: after PSUBSCRIBE (via Command), waits up to the read timeout given here for the next
  // pushed message. Returns nullopt-like kNil reply on timeout (the connection stays usable).
  absl::Status SetReadTimeout(std::chrono::milliseconds timeout);
  absl::StatusOr<RedisReply> NextPush();

  bool ok() const { return ok_; }

 private:
  explicit RedisClient(redisContext* context) : context_(context) {}
  absl::Status ContextError(absl::string_view what);
  redisContext* context_;
  bool ok_ = true;
};

}  // namespace pulse::southbound::sonic

#endif  // PULSE_SOUTHBOUND_SONIC_REDIS_CLIENT_H_
