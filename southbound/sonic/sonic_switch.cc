#include "southbound/sonic/sonic_switch.h"

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/log.h"
#include "common/thread_name.h"

namespace pulse::southbound::sonic {
namespace {

using Clock = std::chrono::steady_clock;
using Command = std::vector<std::string>;

constexpr char kCreated[] = "created";
constexpr char kAdoptedPrefix[] = "adopted:";
constexpr char kKeyspacePrefix[] = "__keyspace@4__:";
// How long the thread waits for a notification before looking at its timers again.
constexpr std::chrono::milliseconds kEventWait{100};

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

bool IsError(const RedisReply& r) { return r.kind == RedisReply::Kind::kError; }

// Checks a pipeline's replies for server errors; names the first failing command.
absl::Status CheckReplies(const std::vector<Command>& commands,
                          const std::vector<RedisReply>& replies) {
  for (size_t i = 0; i < replies.size(); ++i) {
    if (IsError(replies[i])) {
      return absl::InternalError(absl::StrCat("redis ", commands[i][0], " ",
                                              commands[i].size() > 1 ? commands[i][1] : "", ": ",
                                              replies[i].str));
    }
  }
  return absl::OkStatus();
}

}  // namespace

SonicSwitch::SonicSwitch(SonicSwitchOptions options) : options_(std::move(options)) {}

SonicSwitch::~SonicSwitch() { Stop(); }

void SonicSwitch::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] {
    pulse::NameThisThread("pulse-sonic-sw");
    Run();
  });
}

void SonicSwitch::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SonicSwitch::SetDesired(ConfigDbEntries entries) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    desired_ = std::move(entries);
    ++desired_generation_;
  }
  wake_.notify_all();
}

void SonicSwitch::SetExpectedEcmpHashSeed(std::optional<uint32_t> seed) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    expected_seed_ = seed;
    ++desired_generation_;
  }
  wake_.notify_all();
}

SonicSwitchStatus SonicSwitch::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  SonicSwitchStatus s = status_;
  s.connected = connected_.load();
  return s;
}

void SonicSwitch::WaitFor(std::chrono::milliseconds delay) {
  std::unique_lock<std::mutex> lock(mu_);
  wake_.wait_for(lock, delay, [this] { return stop_; });
}

bool SonicSwitch::ConnectOnce() {
  auto fail = [this](const absl::Status& s) {
    command_.reset();
    events_.reset();
    std::lock_guard<std::mutex> lock(mu_);
    status_.last_error = std::string(s.message());
    ++status_.failed_connects;
    return false;
  };
  absl::StatusOr<std::unique_ptr<RedisClient>> command =
      RedisClient::Connect(options_.address, options_.password, options_.io_timeout);
  if (!command.ok()) return fail(command.status());
  absl::StatusOr<std::unique_ptr<RedisClient>> events =
      RedisClient::Connect(options_.address, options_.password, options_.io_timeout);
  if (!events.ok()) return fail(events.status());
  command_ = *std::move(command);
  events_ = *std::move(events);
  absl::StatusOr<RedisReply> sub = events_->Command({"PSUBSCRIBE", "__keyspace@4__:*"});
  if (!sub.ok()) return fail(sub.status());
  if (IsError(*sub)) return fail(absl::InternalError("redis PSUBSCRIBE: " + sub->str));
  if (absl::Status s = events_->SetReadTimeout(kEventWait); !s.ok()) return fail(s);
  if (absl::Status s = LoadOwnership(); !s.ok()) return fail(s);
  return true;
}

void SonicSwitch::Disconnect(const std::string& why) {
  command_.reset();
  events_.reset();
  const bool was = connected_.exchange(false);
  {
    std::lock_guard<std::mutex> lock(mu_);
    status_.last_error = why;
    status_.in_sync = false;
  }
  if (was && connection_callback_) connection_callback_(false);
}

absl::Status SonicSwitch::LoadOwnership() {
  std::vector<Command> commands = {{"SELECT", std::to_string(kStateDb)},
                                   {"HGETALL", kOwnershipKey},
                                   {"SELECT", std::to_string(kConfigDb)}};
  absl::StatusOr<std::vector<RedisReply>> replies = command_->Pipeline(commands);
  if (!replies.ok()) return replies.status();
  if (absl::Status s = CheckReplies(commands, *replies); !s.ok()) return s;
  owned_ = (*replies)[1].AsMap();
  return absl::OkStatus();
}

absl::Status SonicSwitch::Reconcile() {
  ConfigDbEntries want;
  uint64_t generation = 0;
  std::optional<uint32_t> expected_seed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    want = desired_;
    generation = desired_generation_;
    expected_seed = expected_seed_;
  }
  // Read every key wanted or owned.
  std::vector<std::string> keys;
  for (const auto& [key, fields] : want) keys.push_back(key);
  for (const auto& [key, how] : owned_) {
    if (!want.count(key)) keys.push_back(key);
  }
  std::vector<Command> reads = {{"SELECT", std::to_string(kConfigDb)}};
  for (const std::string& key : keys) reads.push_back({"HGETALL", key});
  const size_t seed_at = reads.size() + 1;
  if (expected_seed.has_value()) {
    reads.push_back({"SELECT", std::to_string(kApplDb)});
    reads.push_back({"HGET", kApplSwitchTableKey, kEcmpHashSeedField});
    reads.push_back({"SELECT", std::to_string(kConfigDb)});
  }
  absl::StatusOr<std::vector<RedisReply>> replies = command_->Pipeline(reads);
  if (!replies.ok()) return replies.status();
  if (absl::Status s = CheckReplies(reads, *replies); !s.ok()) return s;
  EntryDifference seed_difference;
  if (expected_seed.has_value()) {
    const RedisReply& seed = (*replies)[seed_at];
    const std::string have = seed.kind == RedisReply::Kind::kString ? seed.str : "";
    const std::string want_seed = std::to_string(*expected_seed);
    if (have != want_seed) {
      seed_difference = {absl::StrCat("APPL_DB ", kApplSwitchTableKey), kEcmpHashSeedField,
                         want_seed, have};
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (seed_difference.ToString() != status_.hash_seed_difference.ToString() &&
        !seed_difference.key.empty()) {
      Log(LogLevel::kWarning, "sonic switch ", options_.name,
          ": ECMP hash seed differs from the steering model (SONiC sets it from swss's "
          "switch.json; steered paths may not be the ones taken): ",
          seed_difference.ToString());
    }
    status_.hash_seed_difference = seed_difference;
  }
  ConfigDbEntries have;
  for (size_t i = 0; i < keys.size(); ++i) {
    Fields fields = (*replies)[i + 1].AsMap();
    if (!fields.empty()) have[keys[i]] = std::move(fields);
  }

  std::vector<EntryDifference> differences = DiffEntries(want, have);
  std::vector<Command> writes;
  std::map<std::string, std::string> own_set;  // ownership records to write
  std::vector<std::string> own_release;        // ownership records to drop
  for (const auto& [key, fields] : want) {
    auto h = have.find(key);
    auto o = owned_.find(key);
    const bool created = o != owned_.end() ? o->second == kCreated : h == have.end();
    if (o == owned_.end()) {
      std::vector<std::string> names;
      for (const auto& [f, v] : fields) names.push_back(f);
      own_set[key] =
          created ? std::string(kCreated) : absl::StrCat(kAdoptedPrefix, absl::StrJoin(names, ","));
    }
    Command hset = {"HSET", key};
    Command hdel = {"HDEL", key};
    for (const auto& [f, v] : fields) {
      const std::string* current = nullptr;
      if (h != have.end()) {
        auto it = h->second.find(f);
        if (it != h->second.end()) current = &it->second;
      }
      if (current == nullptr || *current != v) {
        hset.push_back(f);
        hset.push_back(v);
      }
    }
    if (created && h != have.end()) {
      for (const auto& [f, v] : h->second) {
        if (!fields.count(f)) {
          hdel.push_back(f);
          differences.push_back({key, f, "", v});
        }
      }
    }
    if (hset.size() > 2) writes.push_back(std::move(hset));
    if (hdel.size() > 2) writes.push_back(std::move(hdel));
  }
  for (const auto& [key, how] : owned_) {
    if (want.count(key)) continue;
    own_release.push_back(key);
    if (how == kCreated) {
      writes.push_back({"DEL", key});
    } else if (absl::StartsWith(how, kAdoptedPrefix)) {
      Command hdel = {"HDEL", key};
      for (absl::string_view f :
           absl::StrSplit(absl::StripPrefix(how, kAdoptedPrefix), ',', absl::SkipEmpty())) {
        hdel.push_back(std::string(f));
      }
      if (hdel.size() > 2) writes.push_back(std::move(hdel));
    }
  }
  // Writes for a plan already applied undo someone else's edit.
  const bool repair = applied_generation_ == generation && !writes.empty();
  if (writes.empty() && own_set.empty() && own_release.empty()) {
    applied_generation_ = generation;
    std::lock_guard<std::mutex> lock(mu_);
    status_.in_sync = true;
    status_.owned_keys = owned_.size();
    return absl::OkStatus();
  }

  // One transaction: the CONFIG_DB writes and the ownership record move together.
  std::vector<Command> tx = {{"MULTI"}, {"SELECT", std::to_string(kConfigDb)}};
  for (Command& w : writes) tx.push_back(std::move(w));
  tx.push_back({"SELECT", std::to_string(kStateDb)});
  if (!own_set.empty()) {
    Command hset = {"HSET", kOwnershipKey};
    for (const auto& [k, v] : own_set) {
      hset.push_back(k);
      hset.push_back(v);
    }
    tx.push_back(std::move(hset));
  }
  if (!own_release.empty()) {
    Command hdel = {"HDEL", kOwnershipKey};
    for (const std::string& k : own_release) hdel.push_back(k);
    tx.push_back(std::move(hdel));
  }
  tx.push_back({"SELECT", std::to_string(kConfigDb)});
  tx.push_back({"EXEC"});
  absl::StatusOr<std::vector<RedisReply>> result = command_->Pipeline(tx);
  if (!result.ok()) return result.status();
  if (absl::Status s = CheckReplies(tx, *result); !s.ok()) return s;
  const RedisReply& exec = result->back();
  if (exec.kind != RedisReply::Kind::kArray) {
    return absl::AbortedError(absl::StrCat("switch ", options_.name, ": MULTI/EXEC aborted"));
  }
  for (const RedisReply& r : exec.elements) {
    if (IsError(r)) {
      return absl::InternalError(
          absl::StrCat("switch ", options_.name, ": command in MULTI/EXEC failed: ", r.str));
    }
  }
  for (auto& [k, v] : own_set) owned_[k] = v;
  for (const std::string& k : own_release) owned_.erase(k);
  applied_generation_ = generation;
  std::lock_guard<std::mutex> lock(mu_);
  ++status_.transactions;
  if (repair) {
    ++status_.repairs;
    status_.last_differences = differences;
  }
  status_.in_sync = true;
  status_.owned_keys = owned_.size();
  return absl::OkStatus();
}

absl::StatusOr<SonicCounterSnapshot> ReadCountersSnapshot(
    RedisClient& client, const std::string& switch_name,
    const std::map<std::string, int32_t>& counter_ports) {
  std::vector<Command> maps = {{"SELECT", std::to_string(kCountersDb)},
                               {"HGETALL", "COUNTERS_PORT_NAME_MAP"},
                               {"HGETALL", "COUNTERS_QUEUE_NAME_MAP"}};
  absl::StatusOr<std::vector<RedisReply>> replies = client.Pipeline(maps);
  if (!replies.ok()) return replies.status();
  if (absl::Status s = CheckReplies(maps, *replies); !s.ok()) return s;
  const std::map<std::string, std::string> port_oids = (*replies)[1].AsMap();
  const std::map<std::string, std::string> queue_oids = (*replies)[2].AsMap();

  SonicCounterSnapshot snapshot;
  snapshot.switch_name = switch_name;
  std::vector<Command> reads;
  std::map<std::string, size_t> port_index;
  for (const auto& [name, oid] : port_oids) {
    int32_t number = 0;
    if (!counter_ports.empty()) {
      auto it = counter_ports.find(name);
      if (it == counter_ports.end()) continue;
      number = it->second;
    }
    port_index[name] = snapshot.ports.size();
    SonicPortCounters p;
    p.name = name;
    p.port = number;
    snapshot.ports.push_back(std::move(p));
    reads.push_back({"HGETALL", absl::StrCat("COUNTERS:", oid)});
  }
  struct QueueRead {
    size_t port;
    int queue;
  };
  std::vector<QueueRead> queue_reads;
  for (const auto& [name, oid] : queue_oids) {
    std::string port;
    int queue = 0;
    if (!SplitQueueName(name, &port, &queue)) {
      ++snapshot.malformed_values;
      continue;
    }
    auto it = port_index.find(port);
    if (it == port_index.end()) continue;
    queue_reads.push_back({it->second, queue});
    reads.push_back({"HGETALL", absl::StrCat("COUNTERS:", oid)});
    reads.push_back({"HGETALL", absl::StrCat("USER_WATERMARKS:", oid)});
  }
  reads.push_back({"SELECT", std::to_string(kConfigDb)});
  absl::StatusOr<std::vector<RedisReply>> values = client.Pipeline(reads);
  if (!values.ok()) return values.status();
  if (absl::Status s = CheckReplies(reads, *values); !s.ok()) return s;
  for (size_t i = 0; i < snapshot.ports.size(); ++i) {
    snapshot.malformed_values += ParsePortCounters((*values)[i].AsMap(), snapshot.ports[i]);
  }
  size_t at = snapshot.ports.size();
  for (const QueueRead& q : queue_reads) {
    SonicQueueCounters counters;
    counters.queue = q.queue;
    snapshot.malformed_values +=
        ParseQueueCounters((*values)[at].AsMap(), (*values)[at + 1].AsMap(), counters);
    at += 2;
    snapshot.ports[q.port].queues.push_back(counters);
  }
  for (SonicPortCounters& p : snapshot.ports) {
    std::sort(
        p.queues.begin(), p.queues.end(),
        [](const SonicQueueCounters& a, const SonicQueueCounters& b) { return a.queue < b.queue; });
  }
  snapshot.time_ms = NowMs();
  return snapshot;
}

absl::Status SonicSwitch::PollCounters() {
  absl::StatusOr<SonicCounterSnapshot> snapshot =
      ReadCountersSnapshot(*command_, options_.name, options_.counter_ports);
  if (!snapshot.ok()) return snapshot.status();
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++status_.counter_polls;
    status_.malformed_counters += snapshot->malformed_values;
  }
  if (counters_callback_) counters_callback_(*snapshot);
  return absl::OkStatus();
}

void SonicSwitch::Run() {
  std::chrono::milliseconds backoff = options_.reconnect_min;
  Clock::time_point next_audit = Clock::now();
  Clock::time_point next_poll = Clock::now();
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) break;
    }
    if (command_ == nullptr) {
      if (!ConnectOnce()) {
        WaitFor(backoff);
        backoff = std::min(backoff * 2, options_.reconnect_max);
        continue;
      }
      backoff = options_.reconnect_min;
      connected_ = true;
      dirty_ = true;
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++status_.connects;
        status_.last_error.clear();
      }
      if (connection_callback_) connection_callback_(true);
    }
    // Drain keyspace notifications; the last read waits up to kEventWait.
    absl::Status failed = absl::OkStatus();
    for (int i = 0; i < 10000; ++i) {
      absl::StatusOr<RedisReply> push = events_->NextPush();
      if (!push.ok()) {
        failed = push.status();
        break;
      }
      if (push->kind != RedisReply::Kind::kArray) break;  // timeout: nothing pending
      // ["pmessage", pattern, "__keyspace@4__:KEY", event]
      if (push->elements.size() == 4) {
        absl::string_view channel = push->elements[2].str;
        if (absl::ConsumePrefix(&channel, kKeyspacePrefix)) {
          const std::string key(channel);
          bool ours = owned_.count(key) > 0;
          if (!ours) {
            std::lock_guard<std::mutex> lock(mu_);
            ours = desired_.count(key) > 0;
          }
          if (ours) {
            dirty_ = true;
            std::lock_guard<std::mutex> lock(mu_);
            ++status_.keyspace_events;
          }
        }
      }
    }
    if (failed.ok()) {
      bool changed = false;
      {
        std::lock_guard<std::mutex> lock(mu_);
        changed = desired_generation_ != applied_generation_;
      }
      if (changed || dirty_ || Clock::now() >= next_audit) {
        dirty_ = false;
        next_audit = Clock::now() + options_.audit_interval;
        failed = Reconcile();
      }
    }
    if (failed.ok() && options_.counters_interval.count() > 0 && Clock::now() >= next_poll) {
      next_poll = Clock::now() + options_.counters_interval;
      failed = PollCounters();
    }
    if (!failed.ok()) {
      if (command_ != nullptr && command_->ok() && events_ != nullptr && events_->ok()) {
        // A server-side refusal (e.g. a wrong type where Pulse writes): keep the session, retry
        // at the next audit.
        std::lock_guard<std::mutex> lock(mu_);
        status_.last_error = std::string(failed.message());
        status_.in_sync = false;
      } else {
        Disconnect(std::string(failed.message()));
      }
    }
  }
  Disconnect("stopped");
}

}  // namespace pulse::southbound::sonic
