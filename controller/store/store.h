// StateStore: where the controller's durable state lives (jobs and placements, QoS policy,
// drains, intent overrides, the event sequence number).
//
// One interface, two implementations (as ONOS does with its stores):
//   - EmbeddedStore (controller/store/embedded_store.h): a log + snapshots in a local state
//   directory,
//     the default for a single controller.
//   - EtcdStore (controller/store/etcd_store.h): etcd v3 for a cluster of replicas; only the
//   elected
//     leader can write (fenced by the election's generation), followers watch a hot copy.
//
// Values are opaque bytes under string keys such as "jobs/<id>", "drains/<switch>",
// "qos/policy", "meta/event_seq"; the owner of each key family picks the value encoding.
//
// Threading: the controller's state owner (the one thread that turns old state into new state)
// calls Apply; Apply blocks until the batch is durable (fsync or etcd quorum ack), which is the
// point at which the northbound API may acknowledge the request. LoadAll may be called from any
// thread. Watch callbacks run on a thread owned by the store (see each implementation) and must
// not call back into the store's Apply.
#ifndef PULSE_CONTROLLER_STORE_STORE_H_
#define PULSE_CONTROLLER_STORE_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pulse::controller {

// One write inside a batch.
struct StoreWrite {
  enum class Kind { kPut, kDelete };
  Kind kind = Kind::kPut;
  std::string key;
  std::string value;  // empty for kDelete
};

// Puts and deletes applied all-or-nothing, in order (a later write to the same key wins).
class WriteBatch {
 public:
  WriteBatch& Put(absl::string_view key, absl::string_view value) {
    writes_.push_back({StoreWrite::Kind::kPut, std::string(key), std::string(value)});
    return *this;
  }
  WriteBatch& Delete(absl::string_view key) {
    writes_.push_back({StoreWrite::Kind::kDelete, std::string(key), std::string()});
    return *this;
  }
  const std::vector<StoreWrite>& writes() const { return writes_; }
  bool empty() const { return writes_.empty(); }
  size_t size() const { return writes_.size(); }

 private:
  std::vector<StoreWrite> writes_;
};

// Every key and value at one revision. Revisions grow with every applied batch; the embedded
// store counts batches, etcd uses its own store revision.
struct StoreSnapshot {
  int64_t revision = 0;
  std::map<std::string, std::string> entries;
};

// Changes seen by a watcher, at most one batch (one revision) per call.
struct StoreWatchUpdate {
  struct Change {
    StoreWrite::Kind kind = StoreWrite::Kind::kPut;
    std::string key;
    std::string value;
  };
  int64_t revision = 0;
  std::vector<Change> changes;
  // Non-OK once, as the last call, if the watch cannot continue (e.g. the revision it needed was
  // compacted away): the watcher must LoadAll again and start a new watch.
  absl::Status status;
};

using StoreWatchCallback = std::function<void(const StoreWatchUpdate&)>;

// Keeps a watch alive; destroying it stops the watch (after any callback in progress returns).
class StoreWatch {
 public:
  virtual ~StoreWatch() = default;
};

class StateStore {
 public:
  virtual ~StateStore() = default;

  // Applies `batch` atomically and durably; returns the revision it was applied at. Blocks for
  // fsync / etcd acknowledgement. An empty batch is InvalidArgument. EtcdStore refuses writes
  // with FailedPrecondition unless this replica holds leadership (see EtcdStore::SetLeaderFence).
  virtual absl::StatusOr<int64_t> Apply(const WriteBatch& batch) = 0;

  // Every key with its value, and the revision the copy was taken at.
  virtual absl::StatusOr<StoreSnapshot> LoadAll() = 0;

  // Calls `callback` for every batch applied after `after_revision` that touches a key starting
  // with `prefix` (only the matching changes are passed). Pass LoadAll().revision to follow on
  // from a snapshot without a gap.
  virtual absl::StatusOr<std::unique_ptr<StoreWatch>> Watch(absl::string_view prefix,
                                                            int64_t after_revision,
                                                            StoreWatchCallback callback) = 0;

  // One line for status pages: backend, location, and anything the operator should know
  // (e.g. a log tail that was cut off at startup).
  virtual std::string Describe() const = 0;
};

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_STORE_STORE_H_
