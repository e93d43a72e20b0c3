// EmbeddedStore: the default StateStore, a write-ahead log plus snapshots in a local directory.
//
// Directory layout:
//   LOCK          flock()ed while open, so two daemons can never share one state directory
//   snapshot      the whole map as of some revision (one record, see below)
//   snapshot.tmp  a snapshot being written; ignored and removed on open
//   log           batches applied after the snapshot, one record each
//
// Record framing (little-endian), used by both files:
//   u32 payload_length | u32 crc32c(sequence bytes + payload) | u64 sequence | payload
// A payload is a batch: u32 count, then per write u8 kind (0 put, 1 delete), u32 key length,
// key, u32 value length, value. A snapshot is a batch of puts whose sequence is its revision.
//
// Durability: Apply appends one record and fdatasync()s before it returns. Snapshot() writes
// snapshot.tmp, fsyncs it, renames it over snapshot, fsyncs the directory and only then empties
// the log; a crash between the rename and the truncation leaves log records the snapshot already
// covers, which replay skips by sequence.
//
// Recovery: open loads the snapshot, then replays the log. The first record that is short, has
// an impossible length, a bad crc, a sequence out of order or a payload that does not decode
// ends the log: it and everything after it are reported (recovery(), Describe(), one stderr
// line) and cut off with ftruncate, never loaded. A bad record in the middle of the log is
// treated the same way, on purpose: records after a damaged one cannot be trusted to follow it,
// and a write is only acknowledged after everything before it is durable, so a clean prefix is
// the only state we can prove. A damaged snapshot is DataLoss: open fails and the operator
// decides (a snapshot is only ever replaced by an atomic rename, so this means a bad disk).
#ifndef PULSE_CONTROLLER_EMBEDDED_STORE_H_
#define PULSE_CONTROLLER_EMBEDDED_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "controller/store.h"

namespace pulse::controller {

// CRC-32C (Castagnoli), as used by iSCSI and ext4; crc32c("123456789") == 0xE3069283.
uint32_t Crc32c(absl::string_view data);

// What open found in the log; the daemon shows this on its status page.
struct StoreRecoveryReport {
  bool snapshot_loaded = false;
  int64_t snapshot_revision = 0;
  int64_t records_replayed = 0;  // log records applied on top of the snapshot
  int64_t records_skipped = 0;   // log records already covered by the snapshot
  bool tail_cut = false;         // a damaged tail was found and truncated
  int64_t cut_offset_bytes = 0;  // where the log was cut (file offset)
  int64_t cut_record_index = 0;  // 0-based index of the first bad record in the log
  int64_t discarded_bytes = 0;   // bytes removed from the log
  std::string cut_reason;        // e.g. "bad crc", "short record"
};

struct EmbeddedStoreOptions {
  std::string state_dir;  // created if missing
  // Snapshot automatically once the log grows past this size (0: only on explicit Snapshot()).
  int64_t snapshot_after_log_bytes = 64 << 20;
  // Largest record accepted; a longer length field is treated as corruption.
  int64_t max_record_bytes = 256 << 20;
};

class EmbeddedStore : public StateStore {
 public:
  // Locks and recovers `options.state_dir`. FailedPrecondition if another process holds the lock,
  // DataLoss if the snapshot is damaged, Internal/NotFound-style errors for I/O failures.
  static absl::StatusOr<std::unique_ptr<EmbeddedStore>> Open(const EmbeddedStoreOptions& options);
  ~EmbeddedStore() override;

  // Watch callbacks run synchronously on the thread that calls Apply, after the batch is
  // durable and visible to LoadAll.
  absl::StatusOr<int64_t> Apply(const WriteBatch& batch) override;
  absl::StatusOr<StoreSnapshot> LoadAll() override;
  absl::StatusOr<std::unique_ptr<StoreWatch>> Watch(absl::string_view prefix,
                                                    int64_t after_revision,
                                                    StoreWatchCallback callback) override;
  std::string Describe() const override;

  // Writes a snapshot of the current map and empties the log (see the file comment).
  absl::Status Snapshot();

  const StoreRecoveryReport& recovery() const { return recovery_; }
  int64_t revision() const;
  int64_t log_size_bytes() const;

 private:
  struct Watcher;
  class WatchHandle;

  EmbeddedStore(EmbeddedStoreOptions options, int lock_fd);
  absl::Status Recover();
  absl::Status SnapshotLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Unwatch(Watcher* watcher);

  const EmbeddedStoreOptions options_;
  const int lock_fd_;
  StoreRecoveryReport recovery_;

  mutable absl::Mutex mu_;
  int log_fd_ ABSL_GUARDED_BY(mu_) = -1;
  int64_t log_size_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t revision_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::string> entries_ ABSL_GUARDED_BY(mu_);
  // Set after a failed write or fsync: the log's state on disk is unknown, so refuse writes
  // rather than acknowledge anything that might not survive.
  absl::Status broken_ ABSL_GUARDED_BY(mu_);

  absl::Mutex watch_mu_;
  std::vector<std::shared_ptr<Watcher>> watchers_ ABSL_GUARDED_BY(watch_mu_);
};

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_EMBEDDED_STORE_H_
