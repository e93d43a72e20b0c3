#include "controller/store/embedded_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"

namespace pulse::controller {
namespace {

using store_files::EncodeBatch;
using store_files::EncodeRecord;

std::string ErrnoText(int err) { return std::strerror(err); }

absl::Status FsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("open dir ", dir, ": ", ErrnoText(errno)));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return absl::InternalError(absl::StrCat("fsync dir ", dir, ": ", ErrnoText(err)));
  return absl::OkStatus();
}

void ApplyWrites(const std::vector<StoreWrite>& writes, std::map<std::string, std::string>* map) {
  for (const StoreWrite& w : writes) {
    if (w.kind == StoreWrite::Kind::kPut) {
      (*map)[w.key] = w.value;
    } else {
      map->erase(w.key);
    }
  }
}

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

}  // namespace

struct EmbeddedStore::Watcher {
  std::string prefix;
  int64_t after_revision = 0;
  StoreWatchCallback callback;
  absl::Mutex mu;  // held while the callback runs, so unwatching waits for it
  bool active = true;
};

class EmbeddedStore::WatchHandle : public StoreWatch {
 public:
  WatchHandle(EmbeddedStore* store, std::shared_ptr<Watcher> watcher)
      : store_(store), watcher_(std::move(watcher)) {}
  ~WatchHandle() override {
    store_->Unwatch(watcher_.get());
    absl::MutexLock lock(&watcher_->mu);
    watcher_->active = false;
  }

 private:
  EmbeddedStore* store_;
  std::shared_ptr<Watcher> watcher_;
};

absl::StatusOr<std::unique_ptr<EmbeddedStore>> EmbeddedStore::Open(
    const EmbeddedStoreOptions& options) {
  if (options.state_dir.empty())
    return absl::InvalidArgumentError("embedded store: empty state_dir");
  std::error_code ec;
  std::filesystem::create_directories(options.state_dir, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("embedded store: create ", options.state_dir, ": ", ec.message()));
  }
  std::string lock_path = options.state_dir + "/" + store_files::kLock;
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) {
    return absl::InternalError(
        absl::StrCat("embedded store: open ", lock_path, ": ", ErrnoText(errno)));
  }
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    std::string holder;
    char buf[32] = {};
    if (::pread(lock_fd, buf, sizeof(buf) - 1, 0) > 0) holder = buf;
    ::close(lock_fd);
    if (err == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          absl::StrCat("embedded store: state dir ", options.state_dir,
                       " is in use by another process (pid ", holder, ")"));
    }
    return absl::InternalError(
        absl::StrCat("embedded store: flock ", lock_path, ": ", ErrnoText(err)));
  }
  std::string pid = std::to_string(::getpid());
  if (::ftruncate(lock_fd, 0) != 0 || ::pwrite(lock_fd, pid.data(), pid.size(), 0) < 0) {
    // The pid is only a hint for the error message above; the flock is what protects the dir.
  }
  std::unique_ptr<EmbeddedStore> store(new EmbeddedStore(options, lock_fd));
  if (absl::Status s = store->Recover(); !s.ok()) return s;
  return store;
}

EmbeddedStore::EmbeddedStore(EmbeddedStoreOptions options, int lock_fd)
    : options_(std::move(options)), lock_fd_(lock_fd) {}

EmbeddedStore::~EmbeddedStore() {
  absl::MutexLock lock(&mu_);
  if (log_fd_ >= 0) ::close(log_fd_);
  if (mirror_fd_ >= 0) ::close(mirror_fd_);
  ::close(lock_fd_);  // releases the flock
}

absl::Status EmbeddedStore::Recover() {
  absl::MutexLock lock(&mu_);
  const std::string& dir = options_.state_dir;
  ::unlink((dir + "/" + store_files::kSnapshotTmp).c_str());  // never used: not renamed in
  absl::StatusOr<StoreInspection> inspected = InspectStateDir(dir, options_.max_record_bytes);
  if (!inspected.ok()) {
    return absl::Status(inspected.status().code(),
                        absl::StrCat("embedded store: ", inspected.status().message()));
  }
  StoreInspection& found = *inspected;
  if (!found.loss.ok() && !options_.recover) {
    Log(LogLevel::kError, "embedded store: acknowledged records are lost; not starting:\n",
        FormatInspection(found));
    return found.loss;
  }
  entries_ = found.entries;
  revision_ = found.revision;
  recovery_.snapshot_loaded = !found.base.empty();
  recovery_.snapshot_revision = found.base_revision;
  recovery_.records_replayed = found.records_replayed;
  for (const DamagedRange& torn : found.torn) {
    if (recovery_.tail_cut) break;
    recovery_.tail_cut = true;
    recovery_.cut_offset_bytes = torn.offset;
    recovery_.cut_reason = torn.reason;
  }
  recovery_.repaired = !found.repaired.empty() || !found.snapshot_problems.empty();
  for (const LostRecords& lost : found.lost) {
    recovery_.records_lost += lost.last == 0 ? 1 : static_cast<int64_t>(lost.last - lost.first + 1);
  }
  recovery_.jobs_lost = found.lost_jobs;

  const ScannedFile& log = found.logs[0];
  const ScannedFile& mirror = found.logs[1];
  // Anything but two identical logs (a torn tail, one copy ahead of the other, a directory from
  // before the mirror existed) is rewritten clean from the recovered state.
  const bool pristine =
      !found.damaged() && found.torn.empty() &&
      (options_.mirror_log ? log.exists == mirror.exists && log.size == mirror.size &&
                                 found.logs[2].exists == found.logs[3].exists &&
                                 found.logs[2].size == found.logs[3].size
                           : !mirror.exists && !found.logs[3].exists);
  if (!found.damaged() && !found.torn.empty()) {
    Log(LogLevel::kWarning,
        "embedded store: torn tail tolerated (a write interrupted before it "
        "was acknowledged): ",
        found.torn.front().file, " offset ", found.torn.front().offset, " (",
        found.torn.front().reason, ")");
  }
  if (found.damaged()) {
    // Keep the evidence: hard links of every original file, before anything is rewritten.
    char stamp[32];
    std::time_t now = std::time(nullptr);
    std::strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", std::gmtime(&now));
    std::string aside = absl::StrCat(dir, "/damaged-", stamp);
    for (int n = 1; Exists(aside); ++n) aside = absl::StrCat(dir, "/damaged-", stamp, "-", n);
    if (::mkdir(aside.c_str(), 0755) != 0) {
      return absl::InternalError(
          absl::StrCat("embedded store: mkdir ", aside, ": ", ErrnoText(errno)));
    }
    for (const char* name :
         {store_files::kSnapshot, store_files::kSnapshotPrev, store_files::kLog,
          store_files::kLogMirror, store_files::kLogPrev, store_files::kLogPrevMirror}) {
      std::string from = dir + "/" + name;
      if (Exists(from) && ::link(from.c_str(), (aside + "/" + name).c_str()) != 0) {
        return absl::InternalError(
            absl::StrCat("embedded store: keep ", from, " in ", aside, ": ", ErrnoText(errno)));
      }
    }
    if (absl::Status s = FsyncDir(aside); !s.ok()) return s;
    recovery_.damaged_dir = aside;
    if (!found.loss.ok()) {
      // A lost record may have raised a high-water mark: jump ahead so nothing repeats.
      for (const std::string& key : options_.high_water_keys) {
        auto it = entries_.find(key);
        uint64_t mark = 0;
        if (it == entries_.end() || !absl::SimpleAtoi(it->second, &mark)) continue;
        it->second = absl::StrCat(mark + options_.high_water_jump);
      }
      Log(LogLevel::kError,
          "embedded store: RECOVERED WITH LOSS (--store_recover): ", recovery_.records_lost,
          " acknowledged records lost",
          found.lost_jobs.empty() ? std::string()
                                  : absl::StrCat(", jobs ", absl::StrJoin(found.lost_jobs, ", ")),
          "; originals kept in ", aside, "\n", FormatInspection(found));
    } else {
      Log(LogLevel::kWarning, "embedded store: damage found and repaired from the intact copies, ",
          "nothing lost; originals kept in ", aside, "\n", FormatInspection(found));
    }
  }
  recovery_.inspection = std::move(found);
  if (!pristine) return RewriteClean();
  return OpenLogs(/*truncate=*/false);
}

absl::Status EmbeddedStore::WriteSnapshotFile(const std::string& name) {
  const std::string& dir = options_.state_dir;
  std::string tmp_path = dir + "/" + store_files::kSnapshotTmp;
  std::vector<StoreWrite> puts;
  puts.reserve(entries_.size());
  for (const auto& [key, value] : entries_) puts.push_back({StoreWrite::Kind::kPut, key, value});
  std::string record = EncodeRecord(static_cast<uint64_t>(revision_), EncodeBatch(puts));
  int fd = ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("embedded store: open ", tmp_path, ": ", ErrnoText(errno)));
  }
  absl::Status s = AppendDurably(fd, record, tmp_path);
  ::close(fd);
  if (!s.ok()) {
    ::unlink(tmp_path.c_str());
    return s;
  }
  if (::rename(tmp_path.c_str(), (dir + "/" + name).c_str()) != 0) {
    int err = errno;
    ::unlink(tmp_path.c_str());
    return absl::InternalError(
        absl::StrCat("embedded store: rename ", tmp_path, " to ", name, ": ", ErrnoText(err)));
  }
  return FsyncDir(dir);
}

absl::Status EmbeddedStore::RewriteClean() {
  const std::string& dir = options_.state_dir;
  // The snapshot first: once it is in place it covers every record the old logs hold, so a
  // crash anywhere below reopens to the same state.
  if (absl::Status s = WriteSnapshotFile(store_files::kSnapshot); !s.ok()) return s;
  if (absl::Status s = WriteSnapshotFile(store_files::kSnapshotPrev); !s.ok()) return s;
  if (absl::Status s = OpenLogs(/*truncate=*/true); !s.ok()) return s;
  ::unlink((dir + "/" + store_files::kLogPrev).c_str());
  ::unlink((dir + "/" + store_files::kLogPrevMirror).c_str());
  return FsyncDir(dir);
}

absl::Status EmbeddedStore::OpenLogs(bool truncate) {
  const std::string& dir = options_.state_dir;
  bool created = false;
  for (auto [name, fd] : {std::make_pair(store_files::kLog, &log_fd_),
                          std::make_pair(store_files::kLogMirror, &mirror_fd_)}) {
    std::string path = dir + "/" + name;
    if (fd == &mirror_fd_ && !options_.mirror_log) {
      ::unlink(path.c_str());  // a copy no longer written must not be read as one
      continue;
    }
    created |= !Exists(path) || truncate;
    if (*fd >= 0) ::close(*fd);
    if (truncate) {
      // A new empty file renamed over the old name: the old inode may be kept aside (hard link
      // in damaged-<time>/) and must not be emptied.
      std::string fresh = path + ".new";
      int fresh_fd = ::open(fresh.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fresh_fd < 0 || ::fsync(fresh_fd) != 0 || ::rename(fresh.c_str(), path.c_str()) != 0) {
        int err = errno;
        if (fresh_fd >= 0) ::close(fresh_fd);
        return absl::InternalError(
            absl::StrCat("embedded store: create empty ", path, ": ", ErrnoText(err)));
      }
      ::close(fresh_fd);
    }
    *fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (*fd < 0) {
      return absl::InternalError(
          absl::StrCat("embedded store: open ", path, ": ", ErrnoText(errno)));
    }
    off_t end = ::lseek(*fd, 0, SEEK_END);
    if (end < 0) {
      return absl::InternalError(
          absl::StrCat("embedded store: seek ", path, ": ", ErrnoText(errno)));
    }
    log_size_ = static_cast<int64_t>(end);
  }
  if (created) return FsyncDir(dir);
  return absl::OkStatus();
}

absl::Status EmbeddedStore::AppendDurably(int fd, absl::string_view data, const std::string& what) {
  while (!data.empty()) {
    ssize_t n = options_.file_ops.write ? options_.file_ops.write(fd, data.data(), data.size())
                                        : ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(
          absl::StrCat("embedded store: write ", what, ": ", ErrnoText(errno)));
    }
    if (n == 0) {
      return absl::UnavailableError(absl::StrCat("embedded store: write ", what, ": no progress"));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  int rc = options_.file_ops.sync ? options_.file_ops.sync(fd) : ::fdatasync(fd);
  if (rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("embedded store: fdatasync ", what, ": ", ErrnoText(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> EmbeddedStore::Apply(const WriteBatch& batch) {
  if (batch.empty()) return absl::InvalidArgumentError("embedded store: empty batch");
  for (const StoreWrite& w : batch.writes()) {
    if (w.key.empty()) return absl::InvalidArgumentError("embedded store: empty key in batch");
  }
  std::vector<std::shared_ptr<Watcher>> to_notify;
  int64_t revision = 0;
  {
    absl::MutexLock lock(&mu_);
    if (!broken_.ok()) return broken_;
    std::string payload = EncodeBatch(batch.writes());
    if (static_cast<int64_t>(payload.size()) > options_.max_record_bytes) {
      return absl::InvalidArgumentError(absl::StrCat("embedded store: batch of ", payload.size(),
                                                     " bytes exceeds max_record_bytes"));
    }
    revision = revision_ + 1;
    std::string record = EncodeRecord(static_cast<uint64_t>(revision), payload);
    // The mirror is written only once the first copy is durable: a crash leaves at most one
    // copy torn, which is how open tells a torn write from damage.
    absl::Status s = AppendDurably(log_fd_, record, options_.state_dir + "/log");
    if (s.ok() && mirror_fd_ >= 0) {
      s = AppendDurably(mirror_fd_, record, options_.state_dir + "/log.mirror");
    }
    if (!s.ok()) {
      // Put both copies back to their last good length; then the next write may simply retry
      // (e.g. once disk space is back). If that fails too, the files' state is unknown.
      bool undone = true;
      for (int fd : {log_fd_, mirror_fd_}) {
        if (fd < 0) continue;
        undone = undone && ::ftruncate(fd, log_size_) == 0 && ::fsync(fd) == 0 &&
                 ::lseek(fd, log_size_, SEEK_SET) >= 0;
      }
      if (write_error_.ok()) {
        Log(LogLevel::kError, s.message(), "; write refused",
            undone ? " (log put back, will retry)" : " and the log could not be put back");
      }
      failed_write_bytes_ = static_cast<int64_t>(record.size());
      write_error_ = s;
      if (!undone) {
        broken_ = absl::InternalError(absl::StrCat(
            s.message(), "; the log could not be put back: writes refused until a restart"));
        return broken_;
      }
      return s;
    }
    if (!write_error_.ok()) {
      Log(LogLevel::kInfo,
          "embedded store: writes work again (last failure: ", write_error_.message(), ")");
      write_error_ = absl::OkStatus();
    }
    log_size_ += static_cast<int64_t>(record.size());
    revision_ = revision;
    ApplyWrites(batch.writes(), &entries_);
    if (options_.snapshot_after_log_bytes > 0 && log_size_ >= options_.snapshot_after_log_bytes) {
      // The batch is already durable in the log; a failed snapshot only costs replay time later.
      if (absl::Status snap = SnapshotLocked(); !snap.ok()) {
        Log(LogLevel::kWarning, "embedded store: snapshot failed: ", snap.message());
      }
    }
    // Copied under mu_ so a watch registered after this batch never sees it.
    absl::MutexLock watch_lock(&watch_mu_);
    to_notify = watchers_;
  }
  for (const std::shared_ptr<Watcher>& w : to_notify) {
    StoreWatchUpdate update;
    update.revision = revision;
    for (const StoreWrite& write : batch.writes()) {
      if (absl::string_view(write.key).substr(0, w->prefix.size()) == w->prefix) {
        update.changes.push_back({write.kind, write.key, write.value});
      }
    }
    if (update.changes.empty()) continue;
    absl::MutexLock lock(&w->mu);
    if (w->active && revision > w->after_revision) w->callback(update);
  }
  return revision;
}

absl::StatusOr<StoreSnapshot> EmbeddedStore::LoadAll() {
  absl::MutexLock lock(&mu_);
  StoreSnapshot snap;
  snap.revision = revision_;
  snap.entries = entries_;
  return snap;
}

absl::StatusOr<std::unique_ptr<StoreWatch>> EmbeddedStore::Watch(absl::string_view prefix,
                                                                 int64_t after_revision,
                                                                 StoreWatchCallback callback) {
  if (!callback) return absl::InvalidArgumentError("embedded store: watch without a callback");
  absl::MutexLock lock(&mu_);
  if (after_revision < revision_) {
    return absl::OutOfRangeError(absl::StrCat(
        "embedded store: watch from revision ", after_revision, " but the store is at ", revision_,
        " and keeps no history; LoadAll and watch from its revision"));
  }
  auto watcher = std::make_shared<Watcher>();
  watcher->prefix = std::string(prefix);
  watcher->after_revision = after_revision;
  watcher->callback = std::move(callback);
  absl::MutexLock watch_lock(&watch_mu_);
  watchers_.push_back(watcher);
  return std::unique_ptr<StoreWatch>(new WatchHandle(this, std::move(watcher)));
}

void EmbeddedStore::Unwatch(Watcher* watcher) {
  absl::MutexLock lock(&watch_mu_);
  for (auto it = watchers_.begin(); it != watchers_.end(); ++it) {
    if (it->get() == watcher) {
      watchers_.erase(it);
      return;
    }
  }
}

std::string EmbeddedStore::Describe() const {
  absl::MutexLock lock(&mu_);
  std::string out = absl::StrCat("embedded store at ", options_.state_dir, ", revision ", revision_,
                                 ", ", entries_.size(), " keys, log ", log_size_, " bytes",
                                 mirror_fd_ >= 0 ? " (mirrored)" : " (single copy)");
  if (recovery_.tail_cut) {
    absl::StrAppend(&out, "; at startup a torn tail was cut at offset ", recovery_.cut_offset_bytes,
                    " (", recovery_.cut_reason, ")");
  }
  if (recovery_.repaired && recovery_.records_lost == 0) {
    absl::StrAppend(&out,
                    "; at startup damaged files were repaired from intact copies, nothing "
                    "lost (originals in ",
                    recovery_.damaged_dir, ")");
  }
  if (recovery_.records_lost > 0) {
    absl::StrAppend(&out, "; RECOVERED WITH LOSS at startup: ", recovery_.records_lost,
                    " records lost",
                    recovery_.jobs_lost.empty()
                        ? ""
                        : absl::StrCat(" (jobs ", absl::StrJoin(recovery_.jobs_lost, ", "), ")"),
                    ", originals in ", recovery_.damaged_dir);
  }
  if (!broken_.ok()) {
    absl::StrAppend(&out, "; WRITES DISABLED: ", broken_.message());
  } else if (!write_error_.ok()) {
    absl::StrAppend(&out, "; WRITES FAILING: ", write_error_.message());
  }
  return out;
}

absl::Status EmbeddedStore::write_health() const {
  absl::MutexLock lock(&mu_);
  if (!broken_.ok()) return broken_;
  return write_error_;
}

absl::Status EmbeddedStore::ProbeWrites() {
  absl::MutexLock lock(&mu_);
  if (!broken_.ok()) return broken_;
  if (write_error_.ok()) return absl::OkStatus();
  std::string path = options_.state_dir + "/write-probe";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("embedded store: open ", path, ": ", ErrnoText(errno)));
  }
  // Twice the failed record (both copies), at least 64 KiB.
  std::string filler(static_cast<size_t>(std::max<int64_t>(2 * failed_write_bytes_, 64 << 10)),
                     '\0');
  absl::Status s = AppendDurably(fd, filler, path);
  ::close(fd);
  ::unlink(path.c_str());
  if (!s.ok()) return s;
  Log(LogLevel::kInfo,
      "embedded store: writes work again (probe succeeded; last failure: ", write_error_.message(),
      ")");
  write_error_ = absl::OkStatus();
  return absl::OkStatus();
}

absl::Status EmbeddedStore::Snapshot() {
  absl::MutexLock lock(&mu_);
  return SnapshotLocked();
}

absl::Status EmbeddedStore::SnapshotLocked() {
  if (!broken_.ok()) return broken_;
  const std::string& dir = options_.state_dir;
  std::string snapshot = dir + "/" + store_files::kSnapshot;
  std::string prev = dir + "/" + store_files::kSnapshotPrev;
  // The old snapshot stays as snapshot.prev: a hard link first, so that at every moment some
  // name holds it, then the new one renamed over `snapshot`.
  if (Exists(snapshot)) {
    ::unlink(prev.c_str());
    if (::link(snapshot.c_str(), prev.c_str()) != 0) {
      return absl::InternalError(
          absl::StrCat("embedded store: link ", snapshot, " to ", prev, ": ", ErrnoText(errno)));
    }
  }
  if (absl::Status s = WriteSnapshotFile(store_files::kSnapshot); !s.ok()) return s;
  // The log the new snapshot covers becomes the previous log (the snapshot's second copy).
  for (auto [from, to] : {std::make_pair(store_files::kLog, store_files::kLogPrev),
                          std::make_pair(store_files::kLogMirror, store_files::kLogPrevMirror)}) {
    if (from == store_files::kLogMirror && mirror_fd_ < 0) continue;
    if (::rename((dir + "/" + from).c_str(), (dir + "/" + to).c_str()) != 0) {
      broken_ = absl::InternalError(
          absl::StrCat("embedded store: rotate ", dir, "/", from, ": ", ErrnoText(errno)));
      return broken_;
    }
  }
  if (absl::Status s = OpenLogs(/*truncate=*/true); !s.ok()) {
    broken_ = s;
    return s;
  }
  log_size_ = 0;
  return FsyncDir(dir);
}

int64_t EmbeddedStore::revision() const {
  absl::MutexLock lock(&mu_);
  return revision_;
}

int64_t EmbeddedStore::log_size_bytes() const {
  absl::MutexLock lock(&mu_);
  return log_size_;
}

}  // namespace pulse::controller
