#include "controller/embedded_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "controller/log.h"

namespace pulse::controller {
namespace {

constexpr size_t kHeaderBytes = 16;  // u32 length, u32 crc, u64 sequence
constexpr char kLockName[] = "LOCK";
constexpr char kLogName[] = "log";
constexpr char kSnapshotName[] = "snapshot";
constexpr char kSnapshotTmpName[] = "snapshot.tmp";

std::array<uint32_t, 256> MakeCrc32cTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1) ? 0x82F63B78u : 0u);
    table[i] = crc;
  }
  return table;
}

uint32_t Crc32cExtend(uint32_t crc, absl::string_view data) {
  static const std::array<uint32_t, 256> kTable = MakeCrc32cTable();
  crc = ~crc;
  for (unsigned char byte : data) crc = kTable[(crc ^ byte) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string ErrnoText(int err) { return std::strerror(err); }

std::string EncodeBatch(const std::vector<StoreWrite>& writes) {
  std::string out;
  PutU32(&out, static_cast<uint32_t>(writes.size()));
  for (const StoreWrite& w : writes) {
    out.push_back(w.kind == StoreWrite::Kind::kPut ? 0 : 1);
    PutU32(&out, static_cast<uint32_t>(w.key.size()));
    out.append(w.key);
    PutU32(&out, static_cast<uint32_t>(w.value.size()));
    out.append(w.value);
  }
  return out;
}

// Every length is checked against the buffer before it is used.
absl::StatusOr<std::vector<StoreWrite>> DecodeBatch(absl::string_view in) {
  if (in.size() < 4) return absl::DataLossError("batch shorter than its count");
  uint32_t count = GetU32(in.data());
  in.remove_prefix(4);
  std::vector<StoreWrite> writes;
  for (uint32_t i = 0; i < count; ++i) {
    if (in.size() < 5) return absl::DataLossError(absl::StrCat("batch write ", i, " truncated"));
    StoreWrite w;
    if (in[0] != 0 && in[0] != 1) {
      return absl::DataLossError(absl::StrCat("batch write ", i, " has unknown kind"));
    }
    w.kind = in[0] == 0 ? StoreWrite::Kind::kPut : StoreWrite::Kind::kDelete;
    uint32_t key_len = GetU32(in.data() + 1);
    in.remove_prefix(5);
    if (in.size() < key_len + size_t{4}) {
      return absl::DataLossError(absl::StrCat("batch write ", i, " key truncated"));
    }
    w.key.assign(in.data(), key_len);
    in.remove_prefix(key_len);
    uint32_t value_len = GetU32(in.data());
    in.remove_prefix(4);
    if (in.size() < value_len) {
      return absl::DataLossError(absl::StrCat("batch write ", i, " value truncated"));
    }
    w.value.assign(in.data(), value_len);
    in.remove_prefix(value_len);
    writes.push_back(std::move(w));
  }
  if (!in.empty()) return absl::DataLossError("batch has trailing bytes");
  return writes;
}

std::string EncodeRecord(uint64_t sequence, absl::string_view payload) {
  std::string seq_bytes;
  PutU64(&seq_bytes, sequence);
  uint32_t crc = Crc32cExtend(Crc32cExtend(0, seq_bytes), payload);
  std::string out;
  out.reserve(kHeaderBytes + payload.size());
  PutU32(&out, static_cast<uint32_t>(payload.size()));
  PutU32(&out, crc);
  out.append(seq_bytes);
  out.append(payload.data(), payload.size());
  return out;
}

struct ParsedRecord {
  uint64_t sequence = 0;
  std::vector<StoreWrite> writes;
  size_t total_bytes = 0;
};

// Parses the record at the start of `in`; the error text is the reason shown to the operator.
absl::StatusOr<ParsedRecord> ParseRecord(absl::string_view in, int64_t max_record_bytes) {
  if (in.size() < kHeaderBytes) return absl::DataLossError("short record header");
  uint32_t length = GetU32(in.data());
  uint32_t crc = GetU32(in.data() + 4);
  if (static_cast<int64_t>(length) > max_record_bytes) {
    return absl::DataLossError(absl::StrCat("bad length ", length));
  }
  if (in.size() - kHeaderBytes < length) return absl::DataLossError("short record");
  absl::string_view seq_and_payload = in.substr(8, 8 + length);
  if (Crc32c(seq_and_payload) != crc) return absl::DataLossError("bad crc");
  ParsedRecord rec;
  rec.sequence = GetU64(in.data() + 8);
  auto writes = DecodeBatch(in.substr(kHeaderBytes, length));
  if (!writes.ok())
    return absl::DataLossError(absl::StrCat("bad payload: ", writes.status().message()));
  rec.writes = *std::move(writes);
  rec.total_bytes = kHeaderBytes + length;
  return rec;
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("open ", path, ": ", ErrnoText(errno)));
  std::string data;
  char buf[1 << 16];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return absl::InternalError(absl::StrCat("read ", path, ": ", ErrnoText(err)));
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return data;
}

absl::Status WriteAll(int fd, absl::string_view data, const std::string& what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("write ", what, ": ", ErrnoText(errno)));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

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

}  // namespace

uint32_t Crc32c(absl::string_view data) { return Crc32cExtend(0, data); }

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
  std::string lock_path = options.state_dir + "/" + kLockName;
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
  ::close(lock_fd_);  // releases the flock
}

absl::Status EmbeddedStore::Recover() {
  absl::MutexLock lock(&mu_);
  const std::string& dir = options_.state_dir;
  std::string snapshot_path = dir + "/" + kSnapshotName;
  std::string log_path = dir + "/" + kLogName;
  ::unlink((dir + "/" + kSnapshotTmpName).c_str());  // an unfinished snapshot is never used

  if (::access(snapshot_path.c_str(), F_OK) == 0) {
    absl::StatusOr<std::string> data = ReadWholeFile(snapshot_path);
    if (!data.ok()) return data.status();
    absl::StatusOr<ParsedRecord> rec = ParseRecord(*data, options_.max_record_bytes);
    if (!rec.ok() || rec->total_bytes != data->size()) {
      return absl::DataLossError(
          absl::StrCat("embedded store: snapshot ", snapshot_path, " is damaged (",
                       rec.ok() ? "trailing bytes" : std::string(rec.status().message()),
                       "); refusing to start with partial state"));
    }
    ApplyWrites(rec->writes, &entries_);
    revision_ = static_cast<int64_t>(rec->sequence);
    recovery_.snapshot_loaded = true;
    recovery_.snapshot_revision = revision_;
  }

  bool log_existed = ::access(log_path.c_str(), F_OK) == 0;
  std::string log_data;
  if (log_existed) {
    absl::StatusOr<std::string> data = ReadWholeFile(log_path);
    if (!data.ok()) return data.status();
    log_data = *std::move(data);
  }
  size_t offset = 0;
  int64_t index = 0;
  uint64_t prev_sequence = 0;
  while (offset < log_data.size()) {
    absl::string_view rest(log_data.data() + offset, log_data.size() - offset);
    absl::StatusOr<ParsedRecord> rec = ParseRecord(rest, options_.max_record_bytes);
    std::string reason;
    if (!rec.ok()) {
      reason = std::string(rec.status().message());
    } else if (rec->sequence == 0 || static_cast<int64_t>(rec->sequence) > revision_ + 1) {
      reason = absl::StrCat("sequence gap: ", rec->sequence, " after ", revision_);
    } else if (index > 0 && rec->sequence != prev_sequence + 1) {
      // Records are written strictly one after another; anything else is not our log.
      reason = absl::StrCat("sequence out of order: ", rec->sequence, " after ", prev_sequence);
    }
    if (!reason.empty()) {
      recovery_.tail_cut = true;
      recovery_.cut_offset_bytes = static_cast<int64_t>(offset);
      recovery_.cut_record_index = index;
      recovery_.discarded_bytes = static_cast<int64_t>(log_data.size() - offset);
      recovery_.cut_reason = reason;
      Log(LogLevel::kWarning, "embedded store: log ", log_path, ": record ", index, " at offset ",
          offset, " is damaged (", reason, "); cutting ", recovery_.discarded_bytes,
          " bytes, keeping the ", index, " records before it");
      break;
    }
    if (static_cast<int64_t>(rec->sequence) <= revision_) {
      ++recovery_.records_skipped;  // already in the snapshot
    } else {
      ApplyWrites(rec->writes, &entries_);
      revision_ = static_cast<int64_t>(rec->sequence);
      ++recovery_.records_replayed;
    }
    prev_sequence = rec->sequence;
    offset += rec->total_bytes;
    ++index;
  }

  log_fd_ = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (log_fd_ < 0) {
    return absl::InternalError(
        absl::StrCat("embedded store: open ", log_path, ": ", ErrnoText(errno)));
  }
  if (recovery_.tail_cut) {
    if (::ftruncate(log_fd_, static_cast<off_t>(offset)) != 0 || ::fsync(log_fd_) != 0) {
      return absl::InternalError(
          absl::StrCat("embedded store: cut ", log_path, " at ", offset, ": ", ErrnoText(errno)));
    }
  }
  if (::lseek(log_fd_, static_cast<off_t>(offset), SEEK_SET) < 0) {
    return absl::InternalError(
        absl::StrCat("embedded store: seek ", log_path, ": ", ErrnoText(errno)));
  }
  log_size_ = static_cast<int64_t>(offset);
  if (!log_existed) {
    if (absl::Status s = FsyncDir(dir); !s.ok()) return s;
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
    absl::Status s = WriteAll(log_fd_, record, options_.state_dir + "/log");
    if (s.ok() && ::fdatasync(log_fd_) != 0) {
      s = absl::InternalError(absl::StrCat("embedded store: fdatasync ", options_.state_dir,
                                           "/log: ", ErrnoText(errno)));
    }
    if (!s.ok()) {
      // Try to put the log back as it was; either way no more writes are acknowledged.
      if (::ftruncate(log_fd_, log_size_) == 0) ::lseek(log_fd_, log_size_, SEEK_SET);
      broken_ = s;
      return s;
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
                                 ", ", entries_.size(), " keys, log ", log_size_, " bytes");
  if (recovery_.tail_cut) {
    absl::StrAppend(&out, "; at startup the log was cut at offset ", recovery_.cut_offset_bytes,
                    " (record ", recovery_.cut_record_index, ", ", recovery_.cut_reason, ", ",
                    recovery_.discarded_bytes, " bytes discarded)");
  }
  if (!broken_.ok()) absl::StrAppend(&out, "; WRITES DISABLED: ", broken_.message());
  return out;
}

absl::Status EmbeddedStore::Snapshot() {
  absl::MutexLock lock(&mu_);
  return SnapshotLocked();
}

absl::Status EmbeddedStore::SnapshotLocked() {
  if (!broken_.ok()) return broken_;
  const std::string& dir = options_.state_dir;
  std::string tmp_path = dir + "/" + kSnapshotTmpName;
  std::string final_path = dir + "/" + kSnapshotName;
  std::vector<StoreWrite> puts;
  puts.reserve(entries_.size());
  for (const auto& [key, value] : entries_) puts.push_back({StoreWrite::Kind::kPut, key, value});
  std::string record = EncodeRecord(static_cast<uint64_t>(revision_), EncodeBatch(puts));

  int fd = ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return absl::InternalError(
        absl::StrCat("embedded store: open ", tmp_path, ": ", ErrnoText(errno)));
  absl::Status s = WriteAll(fd, record, tmp_path);
  if (s.ok() && ::fsync(fd) != 0) {
    s = absl::InternalError(
        absl::StrCat("embedded store: fsync ", tmp_path, ": ", ErrnoText(errno)));
  }
  ::close(fd);
  if (!s.ok()) {
    ::unlink(tmp_path.c_str());
    return s;
  }
  if (::rename(tmp_path.c_str(), final_path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp_path.c_str());
    return absl::InternalError(
        absl::StrCat("embedded store: rename ", tmp_path, ": ", ErrnoText(err)));
  }
  if (absl::Status d = FsyncDir(dir); !d.ok()) return d;
  // The snapshot now covers every logged record; replay would skip them, so drop them.
  if (::ftruncate(log_fd_, 0) != 0 || ::fsync(log_fd_) != 0 || ::lseek(log_fd_, 0, SEEK_SET) < 0) {
    broken_ = absl::InternalError(
        absl::StrCat("embedded store: truncate ", dir, "/log after snapshot: ", ErrnoText(errno)));
    return broken_;
  }
  log_size_ = 0;
  return absl::OkStatus();
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
