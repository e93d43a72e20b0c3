// The SONiC driver for one switch: keeps Pulse's part of the switch's CONFIG_DB equal to the plan
// and reads its COUNTERS_DB, over the switch's own Redis.
//
// Protocol-free surface for the core's switch contract: Start/Stop, SetDesired (the per-switch
// QoS plan as CONFIG_DB entries, config_db.h PlanConfigDbEntries), a counters callback, and the
// connected state. Everything runs on one thread the driver owns; the public methods only post
// to it (under a mutex) or copy its status out.
//
// What the thread does:
//  - connects with retry and exponential backoff (reconnect_min .. reconnect_max); while Redis is
//    unreachable the switch is shown disconnected and the plan waits; it is applied on reconnect;
//  - reconciles: reads every key it wants or owns, and writes the differences in ONE
//    MULTI/EXEC (CONFIG_DB writes plus its ownership record), so the switch never sees half a plan;
//  - subscribes to __keyspace@4__:* and reconciles as soon as a key it owns is edited behind its
//    back (HSET, HDEL, DEL), and also every audit_interval in case notifications are off;
//  - polls COUNTERS_DB every counters_interval and hands a SonicCounterSnapshot to the callback;
//  - with an expected ECMP hash seed, reads the seed the switch runs with at every reconcile and
//    reports a mismatch (status().hash_seed_difference, a warning in the log). SONiC has no
//    CONFIG_DB field for the seed: swss's switch.json (rendered from DEVICE_METADATA's device
//    type at orchagent start) writes it to APPL_DB (0) SWITCH_TABLE:switch ecmp_hash_seed, and
//    APPL_DB is orchagent's input queue, not a configuration interface, so Pulse only reads it.
//
// Ownership: Pulse touches only keys it owns. A key it wanted and found absent is "created" (Pulse
// owns every field: stray fields are removed, the key is deleted when no longer wanted); a key it
// found present (e.g. the platform's BUFFER_POOL with its size) is "adopted" (Pulse sets only its
// own fields and removes only those when it lets go). The record is a STATE_DB (6) hash
// PULSE_OWNERSHIP|CONFIG_DB (field: CONFIG_DB key; value: "created" or "adopted:<fields>"), read
// back on every reconnect so a restarted controller still knows what it owns. Keys Pulse neither
// wants nor owns are never written; the only other key read is APPL_DB's SWITCH_TABLE:switch (the
// seed, above).
#ifndef PULSE_SOUTHBOUND_SONIC_SONIC_SWITCH_H_
#define PULSE_SOUTHBOUND_SONIC_SONIC_SWITCH_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "southbound/sonic/config_db.h"
#include "southbound/sonic/counters_db.h"
#include "southbound/sonic/redis_client.h"

namespace pulse::southbound::sonic {

inline constexpr char kOwnershipKey[] = "PULSE_OWNERSHIP|CONFIG_DB";

struct SonicSwitchOptions {
  std::string name;  // the fabric's switch name (for messages and snapshots)
  RedisAddress address;
  std::string password;  // empty: no AUTH
  std::chrono::milliseconds io_timeout{1000};
  std::chrono::milliseconds reconnect_min{100};
  std::chrono::milliseconds reconnect_max{5000};
  std::chrono::milliseconds audit_interval{10000};
  std::chrono::milliseconds counters_interval{0};  // 0: counters not polled
  // Port name -> fabric port number, for counter snapshots. Empty: every port the switch lists,
  // with port number 0.
  std::map<std::string, int32_t> counter_ports;
};

struct SonicSwitchStatus {
  bool connected = false;
  bool in_sync = false;          // the last reconcile found nothing to change
  uint64_t connects = 0;         // successful (re)connections
  uint64_t failed_connects = 0;  // attempts that failed (spaced by the backoff)
  uint64_t transactions = 0;     // MULTI/EXEC committed
  uint64_t repairs = 0;          // reconciles that undid an edit made behind Pulse's back
  uint64_t keyspace_events = 0;  // notifications about keys Pulse wants or owns
  uint64_t counter_polls = 0;
  uint64_t malformed_counters = 0;
  size_t owned_keys = 0;
  std::string last_error;
  std::vector<EntryDifference> last_differences;  // what the last repair undid
  // The switch's APPL_DB SWITCH_TABLE:switch ecmp_hash_seed differs from the expected seed (or is
  // absent: SAI's default then applies, which Pulse cannot know). Empty key: no difference, or
  // no seed expected. `have` is empty when the field is absent.
  EntryDifference hash_seed_difference;
};

inline constexpr char kApplSwitchTableKey[] = "SWITCH_TABLE:switch";
inline constexpr char kEcmpHashSeedField[] = "ecmp_hash_seed";

// Reads one switch's COUNTERS_DB (database 2) into a snapshot on `client`, leaving it selected on
// CONFIG_DB: the port and queue name maps, then every listed port's COUNTERS:<oid> and its
// queues' COUNTERS:<oid> and USER_WATERMARKS:<oid>, pipelined. `counter_ports` as in
// SonicSwitchOptions. Malformed values and queue names are counted in the snapshot.
absl::StatusOr<SonicCounterSnapshot> ReadCountersSnapshot(
    RedisClient& client, const std::string& switch_name,
    const std::map<std::string, int32_t>& counter_ports);

class SonicSwitch {
 public:
  explicit SonicSwitch(SonicSwitchOptions options);
  ~SonicSwitch();  // stops
  SonicSwitch(const SonicSwitch&) = delete;
  SonicSwitch& operator=(const SonicSwitch&) = delete;

  using CountersCallback = std::function<void(const SonicCounterSnapshot&)>;
  using ConnectionCallback = std::function<void(bool connected)>;
  // Set before Start(); called on the driver's thread (post, don't block).
  void SetCountersCallback(CountersCallback callback) { counters_callback_ = std::move(callback); }
  void SetConnectionCallback(ConnectionCallback callback) {
    connection_callback_ = std::move(callback);
  }

  void Start();
  void Stop();

  // The entries Pulse wants in CONFIG_DB (replaces the previous set; keys dropped from it are
  // released as described above). Applied as soon as the switch is reachable.
  void SetDesired(ConfigDbEntries entries);

  // The ECMP hash seed the steering model assumes for this switch (nullopt: none, not checked).
  // Checked against APPL_DB at every reconcile; a mismatch is reported, never written.
  void SetExpectedEcmpHashSeed(std::optional<uint32_t> seed);

  bool connected() const { return connected_.load(); }
  SonicSwitchStatus status() const;
  const std::string& name() const { return options_.name; }

 private:
  void Run();
  bool ConnectOnce();
  void Disconnect(const std::string& why);
  absl::Status LoadOwnership();
  absl::Status Reconcile();
  absl::Status PollCounters();
  void WaitFor(std::chrono::milliseconds delay);

  const SonicSwitchOptions options_;
  CountersCallback counters_callback_;
  ConnectionCallback connection_callback_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  ConfigDbEntries desired_;
  std::optional<uint32_t> expected_seed_;
  uint64_t desired_generation_ = 0;
  SonicSwitchStatus status_;

  // Thread-owned.
  std::unique_ptr<RedisClient> command_;
  std::unique_ptr<RedisClient> events_;
  std::map<std::string, std::string> owned_;  // CONFIG_DB key -> "created" | "adopted:<fields>"
  uint64_t applied_generation_ = 0;
  bool dirty_ = true;

  std::atomic<bool> connected_{false};
  std::thread thread_;
};

}  // namespace pulse::southbound::sonic

#endif  // PULSE_SOUTHBOUND_SONIC_SONIC_SWITCH_H_
