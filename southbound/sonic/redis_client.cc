#include "southbound/sonic/redis_client.h"

#include <hiredis.h>
#include <sys/time.h>

#include <cerrno>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace pulse::southbound::sonic {
namespace {

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

RedisReply Convert(const redisReply* r) {
  RedisReply out;
  if (r == nullptr) return out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.kind = RedisReply::Kind::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.kind = RedisReply::Kind::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.kind = RedisReply::Kind::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.kind = RedisReply::Kind::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.kind = RedisReply::Kind::kArray;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(Convert(r->element[i]));
      break;
    default:
      break;
  }
  return out;
}

}  // namespace

std::string RedisAddress::ToString() const {
  return unix_path.empty() ? absl::StrCat(host, ":", port) : absl::StrCat("unix:", unix_path);
}

absl::StatusOr<RedisAddress> ParseRedisAddress(absl::string_view text) {
  RedisAddress a;
  if (absl::ConsumePrefix(&text, "unix:")) {
    if (text.empty() || text[0] != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("redis address 'unix:", text, "': expected an absolute socket path"));
    }
    a.unix_path = std::string(text);
    return a;
  }
  const size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("redis address '", text, "': expected host:port or unix:/path/to/redis.sock"));
  }
  absl::string_view host = text.substr(0, colon);
  if (absl::ConsumePrefix(&host, "[")) {
    if (!absl::ConsumeSuffix(&host, "]")) {
      return absl::InvalidArgumentError(absl::StrCat("redis address '", text, "': unclosed '['"));
    }
  }
  int port = 0;
  if (!absl::SimpleAtoi(text.substr(colon + 1), &port) || port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("redis address '", text, "': port must be 1..65535"));
  }
  a.host = std::string(host);
  a.port = port;
  return a;
}

std::map<std::string, std::string> RedisReply::AsMap() const {
  std::map<std::string, std::string> out;
  if (kind != Kind::kArray) return out;
  for (size_t i = 0; i + 1 < elements.size(); i += 2) out[elements[i].str] = elements[i + 1].str;
  return out;
}

absl::StatusOr<std::unique_ptr<RedisClient>> RedisClient::Connect(
    const RedisAddress& address, const std::string& password, std::chrono::milliseconds timeout) {
  const timeval tv = ToTimeval(timeout);
  redisContext* c = address.unix_path.empty()
                        ? redisConnectWithTimeout(address.host.c_str(), address.port, tv)
                        : redisConnectUnixWithTimeout(address.unix_path.c_str(), tv);
  if (c == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("redis ", address.ToString(), ": cannot allocate a context"));
  }
  if (c->err != 0) {
    std::string why = c->errstr;
    redisFree(c);
    return absl::UnavailableError(absl::StrCat("redis ", address.ToString(), ": ", why));
  }
  std::unique_ptr<RedisClient> client(new RedisClient(c));
  if (absl::Status s = client->SetReadTimeout(timeout); !s.ok()) return s;
  if (!password.empty()) {
    absl::StatusOr<RedisReply> auth = client->Command({"AUTH", password});
    if (!auth.ok()) return auth.status();
    if (auth->kind == RedisReply::Kind::kError) {
      return absl::PermissionDeniedError(
          absl::StrCat("redis ", address.ToString(), ": AUTH refused: ", auth->str));
    }
  }
  return client;
}

RedisClient::~RedisClient() {
  if (context_ != nullptr) redisFree(context_);
}

absl::Status RedisClient::ContextError(absl::string_view what) {
  ok_ = false;
  return absl::UnavailableError(
      absl::StrCat("redis ", what, ": ", context_->err != 0 ? context_->errstr : "no reply"));
}

absl::Status RedisClient::SetReadTimeout(std::chrono::milliseconds timeout) {
  if (redisSetTimeout(context_, ToTimeval(timeout)) != REDIS_OK) return ContextError("timeout");
  return absl::OkStatus();
}

absl::StatusOr<RedisReply> RedisClient::Command(const std::vector<std::string>& argv) {
  absl::StatusOr<std::vector<RedisReply>> replies = Pipeline({argv});
  if (!replies.ok()) return replies.status();
  return std::move((*replies)[0]);
}

absl::StatusOr<std::vector<RedisReply>> RedisClient::Pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  if (!ok_) return absl::UnavailableError("redis: connection broken");
  for (const std::vector<std::string>& argv : commands) {
    std::vector<const char*> args;
    std::vector<size_t> lens;
    for (const std::string& a : argv) {
      args.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(context_, static_cast<int>(args.size()), args.data(), lens.data()) !=
        REDIS_OK) {
      return ContextError("append");
    }
  }
  std::vector<RedisReply> out;
  out.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) return ContextError("reply");
    out.push_back(Convert(static_cast<redisReply*>(raw)));
    freeReplyObject(raw);
  }
  return out;
}

absl::StatusOr<RedisReply> RedisClient::NextPush() {
  if (!ok_) return absl::UnavailableError("redis: connection broken");
  void* raw = nullptr;
  if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) {
    // A read timeout (EAGAIN) leaves the context usable in hiredis 0.14 once err is cleared.
    if (context_->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      context_->err = 0;
      context_->errstr[0] = '\0';
      return RedisReply{};
    }
    return ContextError("subscription");
  }
  RedisReply reply = Convert(static_cast<redisReply*>(raw));
  freeReplyObject(raw);
  return reply;
}

}  // namespace pulse::southbound::sonic
