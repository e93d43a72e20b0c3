#include "controller/embedded_store.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "controller/log.h"
#include "gtest/gtest.h"

namespace pulse::controller {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "pulse_store_test_XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

// Quiets the store's per-cut warning in tests that cut hundreds of logs on purpose.
class QuietLog {
 public:
  QuietLog() : saved_(GetLogLevel()) { SetLogLevel(LogLevel::kError); }
  ~QuietLog() { SetLogLevel(saved_); }

 private:
  LogLevel saved_;
};

std::unique_ptr<EmbeddedStore> MustOpen(const std::string& dir, int64_t snapshot_after = 0) {
  EmbeddedStoreOptions options;
  options.state_dir = dir;
  options.snapshot_after_log_bytes = snapshot_after;
  auto store = EmbeddedStore::Open(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

// Batch i puts jobs/<i> = "job-<i>" and deletes jobs/<i-2>, so order and deletes both matter.
WriteBatch NumberedBatch(int i) {
  WriteBatch batch;
  batch.Put(absl::StrCat("jobs/", i), absl::StrCat("job-", i));
  if (i >= 2) batch.Delete(absl::StrCat("jobs/", i - 2));
  batch.Put("meta/event_seq", std::to_string(i));
  return batch;
}

std::map<std::string, std::string> ExpectedAfter(int n) {
  std::map<std::string, std::string> expected;
  for (int i = 0; i < n; ++i) {
    expected[absl::StrCat("jobs/", i)] = absl::StrCat("job-", i);
    if (i >= 2) expected.erase(absl::StrCat("jobs/", i - 2));
    expected["meta/event_seq"] = std::to_string(i);
  }
  return expected;
}

TEST(Crc32cTest, MatchesKnownVectors) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);  // RFC 3720 B.4
}

TEST(EmbeddedStoreTest, RoundTripPutsAndDeletes) {
  TempDir dir;
  auto store = MustOpen(dir.path());
  ASSERT_NE(store, nullptr);
  WriteBatch batch;
  batch.Put("jobs/a", std::string("\0binary\xff", 8)).Put("qos/policy", "p1").Put("jobs/b", "x");
  ASSERT_EQ(*store->Apply(batch), 1);
  WriteBatch second;
  second.Delete("jobs/b").Put("qos/policy", "p2");
  ASSERT_EQ(*store->Apply(second), 2);
  auto snap = store->LoadAll();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->revision, 2);
  std::map<std::string, std::string> expected{{"jobs/a", std::string("\0binary\xff", 8)},
                                              {"qos/policy", "p2"}};
  EXPECT_EQ(snap->entries, expected);
}

TEST(EmbeddedStoreTest, RejectsEmptyBatchAndEmptyKey) {
  TempDir dir;
  auto store = MustOpen(dir.path());
  EXPECT_EQ(store->Apply(WriteBatch()).status().code(), absl::StatusCode::kInvalidArgument);
  WriteBatch bad;
  bad.Put("", "v");
  EXPECT_EQ(store->Apply(bad).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->revision(), 0);
}

TEST(EmbeddedStoreTest, ReopenRestoresThousandBatches) {
  TempDir dir;
  {
    auto store = MustOpen(dir.path());
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(store->Apply(NumberedBatch(i)).ok());
  }
  auto store = MustOpen(dir.path());
  auto snap = store->LoadAll();
  EXPECT_EQ(snap->revision, 1000);
  EXPECT_EQ(snap->entries, ExpectedAfter(1000));
  EXPECT_EQ(store->recovery().records_replayed, 1000);
  EXPECT_FALSE(store->recovery().tail_cut);
  // And it keeps appending after the replayed records.
  ASSERT_EQ(*store->Apply(NumberedBatch(1000)), 1001);
  store.reset();
  EXPECT_EQ(MustOpen(dir.path())->LoadAll()->entries, ExpectedAfter(1001));
}

TEST(EmbeddedStoreTest, TornTailAtEveryByteOfLastRecordIsCut) {
  QuietLog quiet;
  TempDir dir;
  std::string source = dir.Sub("source");
  int64_t size_before_last = 0;
  {
    auto store = MustOpen(source);
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(store->Apply(NumberedBatch(i)).ok());
    size_before_last = store->log_size_bytes();
    ASSERT_TRUE(store->Apply(NumberedBatch(4)).ok());
  }
  const std::string full_log = ReadFile(source + "/log");
  ASSERT_GT(static_cast<int64_t>(full_log.size()), size_before_last + 16);
  for (int64_t cut = size_before_last + 1; cut < static_cast<int64_t>(full_log.size()); ++cut) {
    SCOPED_TRACE(absl::StrCat("log cut at ", cut));
    std::string trial = dir.Sub(absl::StrCat("trial", cut));
    fs::create_directories(trial);
    WriteFile(trial + "/log", full_log.substr(0, cut));
    auto store = MustOpen(trial);
    ASSERT_NE(store, nullptr);
    EXPECT_TRUE(store->recovery().tail_cut);
    EXPECT_EQ(store->recovery().cut_offset_bytes, size_before_last);
    EXPECT_EQ(store->recovery().cut_record_index, 4);
    EXPECT_EQ(store->recovery().discarded_bytes, cut - size_before_last);
    EXPECT_EQ(store->LoadAll()->entries, ExpectedAfter(4));
    EXPECT_EQ(static_cast<int64_t>(fs::file_size(trial + "/log")), size_before_last);
    EXPECT_NE(store->Describe().find("cut at offset"), std::string::npos) << store->Describe();
    // The cut log takes new writes and reopens cleanly with them.
    ASSERT_EQ(*store->Apply(NumberedBatch(4)), 5);
    store.reset();
    auto reopened = MustOpen(trial);
    EXPECT_FALSE(reopened->recovery().tail_cut);
    EXPECT_EQ(reopened->LoadAll()->entries, ExpectedAfter(5));
    reopened.reset();
    fs::remove_all(trial);
  }
}

TEST(EmbeddedStoreTest, CorruptCrcInTheMiddleCutsFromThere) {
  TempDir dir;
  std::vector<int64_t> offsets;
  {
    auto store = MustOpen(dir.path());
    for (int i = 0; i < 10; ++i) {
      offsets.push_back(store->log_size_bytes());
      ASSERT_TRUE(store->Apply(NumberedBatch(i)).ok());
    }
  }
  std::string log = ReadFile(dir.Sub("log"));
  log[offsets[5] + 20] ^= 0x01;  // a payload byte of record 5
  WriteFile(dir.Sub("log"), log);
  auto store = MustOpen(dir.path());
  EXPECT_TRUE(store->recovery().tail_cut);
  EXPECT_EQ(store->recovery().cut_reason, "bad crc");
  EXPECT_EQ(store->recovery().cut_record_index, 5);
  EXPECT_EQ(store->recovery().cut_offset_bytes, offsets[5]);
  EXPECT_EQ(store->recovery().discarded_bytes, static_cast<int64_t>(log.size()) - offsets[5]);
  EXPECT_EQ(store->LoadAll()->revision, 5);
  EXPECT_EQ(store->LoadAll()->entries, ExpectedAfter(5));
}

// Damage to any byte of any record keeps exactly the records before it.
TEST(EmbeddedStoreTest, AnySingleByteCorruptionKeepsExactlyThePrefix) {
  QuietLog quiet;
  TempDir dir;
  std::string source = dir.Sub("source");
  std::vector<int64_t> starts;
  {
    auto store = MustOpen(source);
    for (int i = 0; i < 12; ++i) {
      starts.push_back(store->log_size_bytes());
      ASSERT_TRUE(store->Apply(NumberedBatch(i)).ok());
    }
  }
  const std::string clean = ReadFile(source + "/log");
  std::string trial = dir.Sub("trial");
  for (size_t pos = 0; pos < clean.size(); ++pos) {
    int record =
        static_cast<int>(std::upper_bound(starts.begin(), starts.end(), static_cast<int64_t>(pos)) -
                         starts.begin()) -
        1;
    SCOPED_TRACE(absl::StrCat("byte ", pos, " of record ", record));
    fs::create_directories(trial);
    std::string damaged = clean;
    damaged[pos] ^= 0x5A;
    WriteFile(trial + "/log", damaged);
    auto store = MustOpen(trial);
    ASSERT_NE(store, nullptr);
    EXPECT_TRUE(store->recovery().tail_cut);
    EXPECT_EQ(store->recovery().cut_record_index, record);
    EXPECT_EQ(store->LoadAll()->entries, ExpectedAfter(record));
    store.reset();
    fs::remove_all(trial);
  }
}

TEST(EmbeddedStoreTest, ImpossibleLengthIsCut) {
  TempDir dir;
  int64_t last = 0;
  {
    auto store = MustOpen(dir.path());
    for (int i = 0; i < 3; ++i) {
      last = store->log_size_bytes();
      ASSERT_TRUE(store->Apply(NumberedBatch(i)).ok());
    }
  }
  std::string log = ReadFile(dir.Sub("log"));
  for (int i = 0; i < 4; ++i) log[last + i] = '\xff';
  WriteFile(dir.Sub("log"), log);
  auto store = MustOpen(dir.path());
  EXPECT_TRUE(store->recovery().tail_cut);
  EXPECT_EQ(store->recovery().cut_reason.rfind("bad length", 0), 0u)
      << store->recovery().cut_reason;
  EXPECT_EQ(store->LoadAll()->entries, ExpectedAfter(2));
}

TEST(EmbeddedStoreTest, RepeatedRecordWithValidCrcIsCut) {
  TempDir dir;
  int64_t last = 0;
  {
    auto store = MustOpen(dir.path());
    for (int i = 0; i < 6; ++i) ASSERT_TRUE(store->Apply(NumberedBatch(i)).ok());
    ASSERT_TRUE(store->Snapshot().ok());
    for (int i = 6; i < 9; ++i) {
      last = store->log_size_bytes();
      ASSERT_TRUE(store->Apply(NumberedBatch(i)).ok());
    }
  }
  std::string log = ReadFile(dir.Sub("log"));
  const int64_t clean_size = static_cast<int64_t>(log.size());
  log += log.substr(last);  // record 8 again: a valid record, but not the next one
  WriteFile(dir.Sub("log"), log);
  auto store = MustOpen(dir.path());
  EXPECT_TRUE(store->recovery().tail_cut);
  EXPECT_EQ(store->recovery().cut_reason.rfind("sequence out of order", 0), 0u)
      << store->recovery().cut_reason;
  EXPECT_EQ(store->recovery().cut_offset_bytes, clean_size);
  EXPECT_EQ(store->recovery().records_replayed, 3);
  EXPECT_EQ(store->LoadAll()->entries, ExpectedAfter(9));
}

TEST(EmbeddedStoreTest, SnapshotPlusLogReplay) {
  TempDir dir;
  {
    auto store = MustOpen(dir.path());
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(store->Apply(NumberedBatch(i)).ok());
    ASSERT_TRUE(store->Snapshot().ok());
    EXPECT_EQ(store->log_size_bytes(), 0);
    EXPECT_EQ(fs::file_size(dir.Sub("log")), 0u);
    for (int i = 10; i < 15; ++i) ASSERT_TRUE(store->Apply(NumberedBatch(i)).ok());
  }
  auto store = MustOpen(dir.path());
  EXPECT_TRUE(store->recovery().snapshot_loaded);
  EXPECT_EQ(store->recovery().snapshot_revision, 10);
  EXPECT_EQ(store->recovery().records_replayed, 5);
  EXPECT_EQ(store->LoadAll()->revision, 15);
  EXPECT_EQ(store->LoadAll()->entries, ExpectedAfter(15));
}

TEST(EmbeddedStoreTest, AutomaticSnapshotKeepsLogSmall) {
  TempDir dir;
  {
    auto store = MustOpen(dir.path(), /*snapshot_after=*/2000);
    for (int i = 0; i < 500; ++i) {
      ASSERT_TRUE(store->Apply(NumberedBatch(i)).ok());
      ASSERT_LT(store->log_size_bytes(), 2000);
    }
  }
  EXPECT_TRUE(fs::exists(dir.Sub("snapshot")));
  auto store = MustOpen(dir.path());
  EXPECT_TRUE(store->recovery().snapshot_loaded);
  EXPECT_EQ(store->LoadAll()->revision, 500);
  EXPECT_EQ(store->LoadAll()->entries, ExpectedAfter(500));
}

TEST(EmbeddedStoreTest, CrashBetweenSnapshotRenameAndLogTruncateSkipsCoveredRecords) {
  TempDir dir;
  {
    auto store = MustOpen(dir.path());
    for (int i = 0; i < 8; ++i) ASSERT_TRUE(store->Apply(NumberedBatch(i)).ok());
    std::string old_log = ReadFile(dir.Sub("log"));
    ASSERT_TRUE(store->Snapshot().ok());
    store.reset();
    WriteFile(dir.Sub("log"), old_log);  // as if the truncation never happened
    WriteFile(dir.Sub("snapshot.tmp"), "half a snapshot");
  }
  auto store = MustOpen(dir.path());
  EXPECT_EQ(store->recovery().records_skipped, 8);
  EXPECT_EQ(store->recovery().records_replayed, 0);
  EXPECT_FALSE(store->recovery().tail_cut);
  EXPECT_FALSE(fs::exists(dir.Sub("snapshot.tmp")));
  EXPECT_EQ(store->LoadAll()->entries, ExpectedAfter(8));
  ASSERT_EQ(*store->Apply(NumberedBatch(8)), 9);
  store.reset();
  EXPECT_EQ(MustOpen(dir.path())->LoadAll()->entries, ExpectedAfter(9));
}

TEST(EmbeddedStoreTest, DamagedSnapshotRefusesToOpen) {
  TempDir dir;
  {
    auto store = MustOpen(dir.path());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(store->Apply(NumberedBatch(i)).ok());
    ASSERT_TRUE(store->Snapshot().ok());
  }
  std::string snap = ReadFile(dir.Sub("snapshot"));
  snap[snap.size() - 1] ^= 0x40;
  WriteFile(dir.Sub("snapshot"), snap);
  EmbeddedStoreOptions options;
  options.state_dir = dir.path();
  auto store = EmbeddedStore::Open(options);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss) << store.status();
}

TEST(EmbeddedStoreTest, LockFileKeepsASecondOpenOut) {
  TempDir dir;
  auto first = MustOpen(dir.path());
  EmbeddedStoreOptions options;
  options.state_dir = dir.path();
  auto second = EmbeddedStore::Open(options);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
  EXPECT_NE(second.status().message().find(std::to_string(::getpid())), absl::string_view::npos)
      << second.status();
  first.reset();
  EXPECT_TRUE(EmbeddedStore::Open(options).ok());
}

TEST(EmbeddedStoreTest, WatchSeesMatchingChangesUntilDestroyed) {
  TempDir dir;
  auto store = MustOpen(dir.path());
  ASSERT_TRUE(store->Apply(WriteBatch().Put("jobs/0", "zero")).ok());
  EXPECT_EQ(store->Watch("jobs/", 0, [](const StoreWatchUpdate&) {}).status().code(),
            absl::StatusCode::kOutOfRange);
  std::vector<StoreWatchUpdate> seen;
  auto watch = store->Watch("jobs/", 1, [&](const StoreWatchUpdate& u) { seen.push_back(u); });
  ASSERT_TRUE(watch.ok());
  ASSERT_TRUE(store->Apply(WriteBatch().Put("jobs/1", "one").Put("qos/policy", "q")).ok());
  ASSERT_TRUE(store->Apply(WriteBatch().Put("qos/policy", "r")).ok());
  ASSERT_TRUE(store->Apply(WriteBatch().Delete("jobs/0")).ok());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].revision, 2);
  ASSERT_EQ(seen[0].changes.size(), 1u);
  EXPECT_EQ(seen[0].changes[0].key, "jobs/1");
  EXPECT_EQ(seen[1].revision, 4);
  EXPECT_EQ(seen[1].changes[0].kind, StoreWrite::Kind::kDelete);
  watch->reset();
  ASSERT_TRUE(store->Apply(WriteBatch().Put("jobs/2", "two")).ok());
  EXPECT_EQ(seen.size(), 2u);
}

// A child process applies batches and reports each acknowledged one through a pipe; the parent
// kills it with SIGKILL mid-stream. Every acknowledged batch must be there after reopening.
TEST(EmbeddedStoreTest, KillDuringWritesLosesNoAcknowledgedBatch) {
  TempDir dir;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    EmbeddedStoreOptions options;
    options.state_dir = dir.path();
    options.snapshot_after_log_bytes = 8192;  // snapshots happen during the run too
    auto store = EmbeddedStore::Open(options);
    if (!store.ok()) ::_exit(2);
    for (int i = 0; i < 1000000; ++i) {
      if (!(*store)->Apply(NumberedBatch(i)).ok()) ::_exit(3);
      if (::write(fds[1], &i, sizeof(i)) != sizeof(i)) ::_exit(4);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  int acked = -1;
  int value = 0;
  while (acked < 300 && ::read(fds[0], &value, sizeof(value)) == sizeof(value)) acked = value;
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  while (::read(fds[0], &value, sizeof(value)) == sizeof(value)) acked = value;
  ::close(fds[0]);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  ASSERT_TRUE(WIFSIGNALED(wstatus)) << "child exited early with " << WEXITSTATUS(wstatus);
  ASSERT_GE(acked, 300);

  auto store = MustOpen(dir.path());
  auto snap = store->LoadAll();
  // Batch i is revision i + 1; the child may have made one more batch durable before its ack.
  EXPECT_GE(snap->revision, acked + 1);
  EXPECT_LE(snap->revision, acked + 2);
  EXPECT_EQ(snap->entries, ExpectedAfter(static_cast<int>(snap->revision)));
}

}  // namespace
}  // namespace pulse::controller
