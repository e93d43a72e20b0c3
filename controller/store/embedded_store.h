// EmbeddedStore: the default StateStore, a write-ahead log plus snapshots in a local directory.
//
// Directory layout (controller/store/store_recovery.h has the record framing and the reader):
//   LOCK             flock()ed while open, so two daemons can never share one state directory
//   snapshot         the whole map as of some revision
//   snapshot.prev    the snapshot before it (a hard link kept when `snapshot` is replaced)
//   log, log.mirror  batches applied after `snapshot`, one record each, in BOTH files
//   log.prev, log.prev.mirror   the log that `snapshot` covers, kept until the next snapshot
//   damaged-<time>/  files set aside after damage was found (hard links of the originals)
//
// Redundancy: every acknowledged record is in two log files (and, after a snapshot, also in the
// snapshot and the previous log), and every snapshot has an older one plus the log leading up to
// it, so one bad sector, a zeroed file or a deleted snapshot loses nothing: open rebuilds the
// state from the intact copies, says so (log and Describe()), sets the damaged files aside and
// writes clean ones.
//
// Durability: Apply appends the record to `log`, fdatasync()s, then to `log.mirror`, fdatasync()s,
// and only then returns. Snapshot() writes snapshot.tmp, fsyncs it, keeps the old snapshot as
// snapshot.prev, renames the new one into place and rotates log -> log.prev (same for the mirror).
//
// Damage: when a record has no intact copy anywhere, Open fails with DataLoss naming the file,
// byte offset and record sequence (and the jobs readable in the damaged bytes), unless
// options.recover is set: then every intact record before and after the damage is kept, the
// lost records and jobs are reported (recovery(), Describe(), the log), the damaged files are set
// aside, and the high-water keys (the event sequence mark) jump ahead so numbers never repeat. A
// torn tail (an incomplete last record, or one missing from one copy: never acknowledged) is
// tolerated and reported.
//
// Full disk: a failed write or fsync is logged, the log is put back to its last good length and
// the write is refused with Unavailable; write_health() is non-OK until a write (or
// ProbeWrites(), which the daemon calls periodically) succeeds again. Only when the log cannot
// be put back do writes stay refused until a restart.
#ifndef PULSE_CONTROLLER_STORE_EMBEDDED_STORE_H_
#define PULSE_CONTROLLER_STORE_EMBEDDED_STORE_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "controller/store/store.h"
#include "controller/store/store_recovery.h"

namespace pulse::controller {

// What open found and did; the daemon shows this on its status page.
struct StoreRecoveryReport {
  bool snapshot_loaded = false;  // the state started from a snapshot (see inspection.base)
  int64_t snapshot_revision = 0;
  int64_t records_replayed = 0;        // log records applied on top of the snapshot
  bool tail_cut = false;               // a torn tail was found (tolerated) and cut
  int64_t cut_offset_bytes = 0;        // where the torn tail started in its file
  std::string cut_reason;              // e.g. "short record"
  bool repaired = false;               // damage whose records were intact elsewhere; rewritten
  int64_t records_lost = 0;            // acknowledged records gone (only with options.recover)
  std::vector<std::string> jobs_lost;  // job ids readable in the lost records
  std::string damaged_dir;             // where damaged files were set aside ("" if none)
  StoreInspection inspection;          // everything found (FormatInspection prints it)
};

// The store's file layer, replaceable for fault-injection tests (full disk, failing fsync).
struct StoreFileOps {
  std::function<ssize_t(int fd, const void* data, size_t size)> write;  // default ::write
  std::function<int(int fd)> sync;                                      // default ::fdatasync
};

struct EmbeddedStoreOptions {
  std::string state_dir;  // created if missing
  // Snapshot automatically once the log grows past this size (0: only on explicit Snapshot()).
  int64_t snapshot_after_log_bytes = 64 << 20;
  // Largest record accepted; a longer length field is treated as corruption.
  int64_t max_record_bytes = 256 << 20;
  // Open a directory whose damage lost acknowledged records: keep every intact record, report
  // the loss, set the damaged files aside. Without it such a directory is DataLoss.
  bool recover = false;
  // Write every record to log.mirror too (after the log is durable, before the ack): one bad
  // sector or a zeroed log file loses nothing, for about twice the write latency
  // (bench/store_bench.cc). Off: one copy; only an incomplete last record is then a torn tail,
  // any other damage to the log's records is refused (or recovered around).
  bool mirror_log = true;
  // Integer values that must never go backwards (sequence high-water marks): after a recovery
  // that lost records they jump ahead by high_water_jump, since a lost record may have raised them.
  std::vector<std::string> high_water_keys = {"meta/event_seq"};
  uint64_t high_water_jump = uint64_t{1} << 20;
  StoreFileOps file_ops;
};

class EmbeddedStore : public StateStore {
 public:
  // Locks and recovers `options.state_dir`. FailedPrecondition if another process holds the lock,
  // DataLoss if acknowledged records have no intact copy (unless options.recover), Internal for
  // I/O failures.
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

  // Writes a snapshot of the current map and rotates the log (see the file comment).
  absl::Status Snapshot();

  // OK while writes succeed; the last write error while they fail (full disk, I/O error).
  absl::Status write_health() const;
  // While writes fail: tries to write and sync a scratch file as large as the failed record and
  // clears write_health() when that works (space is back). OK at once when writes work.
  absl::Status ProbeWrites();

  const StoreRecoveryReport& recovery() const { return recovery_; }
  int64_t revision() const;
  int64_t log_size_bytes() const;

 private:
  struct Watcher;
  class WatchHandle;

  EmbeddedStore(EmbeddedStoreOptions options, int lock_fd);
  absl::Status Recover();
  // Rewrites the directory from the recovered state: both snapshots at the current revision,
  // empty logs, no previous log (after damage, once the originals are set aside).
  absl::Status RewriteClean() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteSnapshotFile(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status OpenLogs(bool truncate) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AppendDurably(int fd, absl::string_view data, const std::string& what);
  absl::Status SnapshotLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Unwatch(Watcher* watcher);

  const EmbeddedStoreOptions options_;
  const int lock_fd_;
  StoreRecoveryReport recovery_;

  mutable absl::Mutex mu_;
  int log_fd_ ABSL_GUARDED_BY(mu_) = -1;
  int mirror_fd_ ABSL_GUARDED_BY(mu_) = -1;
  int64_t log_size_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t revision_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::string> entries_ ABSL_GUARDED_BY(mu_);
  // Set when a failed write could not be undone: the log's state on disk is unknown, so refuse
  // writes rather than acknowledge anything that might not survive.
  absl::Status broken_ ABSL_GUARDED_BY(mu_);
  // The last write failure that was undone (the log is back to its good length); cleared by the
  // next successful write or probe.
  absl::Status write_error_ ABSL_GUARDED_BY(mu_);
  int64_t failed_write_bytes_ ABSL_GUARDED_BY(mu_) = 0;

  absl::Mutex watch_mu_;
  std::vector<std::shared_ptr<Watcher>> watchers_ ABSL_GUARDED_BY(watch_mu_);
};

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_STORE_EMBEDDED_STORE_H_
