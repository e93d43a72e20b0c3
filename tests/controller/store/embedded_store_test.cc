#include "controller/store/embedded_store.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/log.h"
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

// Writes `n` numbered batches to a fresh store in `dir`; returns each record's log offset.
std::vector<int64_t> WriteBatches(const std::string& dir, int n) {
  std::vector<int64_t> starts;
  auto store = MustOpen(dir);
  for (int i = 0; i < n; ++i) {
    starts.push_back(store->log_size_bytes());
    EXPECT_TRUE(store->Apply(NumberedBatch(i)).ok());
  }
  return starts;
}

absl::StatusOr<std::unique_ptr<EmbeddedStore>> OpenWith(const std::string& dir, bool recover) {
  EmbeddedStoreOptions options;
  options.state_dir = dir;
  options.snapshot_after_log_bytes = 0;
  options.recover = recover;
  return EmbeddedStore::Open(options);
}

void CopyDir(const std::string& from, const std::string& to) {
  fs::remove_all(to);
  fs::create_directories(to);
  for (const char* name :
       {"snapshot", "snapshot.prev", "log", "log.mirror", "log.prev", "log.prev.mirror"}) {
    if (fs::exists(from + "/" + name)) fs::copy_file(from + "/" + name, to + "/" + name);
  }
}

TEST(EmbeddedStoreTest, EveryRecordIsInBothLogCopies) {
  TempDir dir;
  WriteBatches(dir.path(), 5);
  EXPECT_EQ(ReadFile(dir.Sub("log")), ReadFile(dir.Sub("log.mirror")));
  EXPECT_GT(ReadFile(dir.Sub("log")).size(), 0u);
}

// A write interrupted at any byte of the last record (which then never reached the mirror, so
// was never acknowledged) is a torn tail: tolerated, reported, and the store goes on.
TEST(EmbeddedStoreTest, TornTailAtEveryByteOfLastRecordIsTolerated) {
  QuietLog quiet;
  TempDir dir;
  std::string source = dir.Sub("source");
  std::vector<int64_t> starts = WriteBatches(source, 5);
  const std::string full_log = ReadFile(source + "/log");
  const std::string mirror_before_last = full_log.substr(0, starts[4]);
  for (int64_t cut = starts[4] + 1; cut < static_cast<int64_t>(full_log.size()); ++cut) {
    SCOPED_TRACE(absl::StrCat("log cut at ", cut));
    std::string trial = dir.Sub(absl::StrCat("trial", cut));
    fs::create_directories(trial);
    WriteFile(trial + "/log", full_log.substr(0, cut));
    WriteFile(trial + "/log.mirror", mirror_before_last);
    auto store = MustOpen(trial);
    ASSERT_NE(store, nullptr);
    EXPECT_TRUE(store->recovery().tail_cut);
    EXPECT_EQ(store->recovery().cut_offset_bytes, starts[4]);
    EXPECT_EQ(store->recovery().records_lost, 0);
    EXPECT_TRUE(store->recovery().damaged_dir.empty());
    EXPECT_EQ(store->LoadAll()->entries, ExpectedAfter(4));
    EXPECT_NE(store->Describe().find("torn tail"), std::string::npos) << store->Describe();
    ASSERT_EQ(*store->Apply(NumberedBatch(4)), 5);
    store.reset();
    auto reopened = MustOpen(trial);
    EXPECT_FALSE(reopened->recovery().tail_cut);
    EXPECT_EQ(reopened->LoadAll()->entries, ExpectedAfter(5));
    reopened.reset();
    fs::remove_all(trial);
  }
}

// A directory from before the mirror existed: an incomplete last record is still a torn tail.
TEST(EmbeddedStoreTest, SingleLogWithIncompleteLastRecordIsTornTail) {
  TempDir dir;
  std::vector<int64_t> starts = WriteBatches(dir.path(), 5);
  std::string log = ReadFile(dir.Sub("log"));
  fs::remove(dir.Sub("log.mirror"));
  WriteFile(dir.Sub("log"), log.substr(0, log.size() - 3));
  auto store = MustOpen(dir.path());
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->recovery().tail_cut);
  EXPECT_EQ(store->LoadAll()->entries, ExpectedAfter(4));
}

// One damaged copy loses nothing, wherever the damage is: the other copy has every record.
TEST(EmbeddedStoreTest, AnyByteFlippedInOneCopyLosesNothing) {
  QuietLog quiet;
  TempDir dir;
  std::string source = dir.Sub("source");
  WriteBatches(source, 12);
  const std::string clean = ReadFile(source + "/log");
  std::string trial = dir.Sub("trial");
  for (const char* damaged_file : {"log", "log.mirror"}) {
    for (size_t pos = 0; pos < clean.size(); pos += 11) {
      SCOPED_TRACE(absl::StrCat(damaged_file, " byte ", pos));
      CopyDir(source, trial);
      std::string damaged = clean;
      damaged[pos] ^= 0x5A;
      WriteFile(trial + "/" + damaged_file, damaged);
      auto store = MustOpen(trial);
      ASSERT_NE(store, nullptr);
      EXPECT_EQ(store->recovery().records_lost, 0);
      EXPECT_EQ(store->LoadAll()->entries, ExpectedAfter(12));
      EXPECT_EQ(store->LoadAll()->revision, 12);
      store.reset();
      fs::remove_all(trial);
    }
  }
}

TEST(EmbeddedStoreTest, ZeroedLogIsRebuiltFromTheMirrorAndSetAside) {
  TempDir dir;
  WriteBatches(dir.path(), 20);
  const std::string log = ReadFile(dir.Sub("log"));
  WriteFile(dir.Sub("log"), std::string(log.size(), '\0'));
  auto store = MustOpen(dir.path());
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->recovery().repaired);
  EXPECT_EQ(store->recovery().records_lost, 0);
  EXPECT_EQ(store->LoadAll()->entries, ExpectedAfter(20));
  ASSERT_FALSE(store->recovery().damaged_dir.empty());
  EXPECT_EQ(ReadFile(store->recovery().damaged_dir + "/log"), std::string(log.size(), '\0'));
  EXPECT_EQ(ReadFile(store->recovery().damaged_dir + "/log.mirror"), log);
  ASSERT_EQ(*store->Apply(NumberedBatch(20)), 21);
  store.reset();
  auto reopened = MustOpen(dir.path());
  EXPECT_FALSE(reopened->recovery().repaired);
  EXPECT_EQ(reopened->LoadAll()->entries, ExpectedAfter(21));
}

// The same record damaged in both copies: refused, naming file, offset and record; with recover
// every intact record before and after it is kept and the loss is reported exactly.
TEST(EmbeddedStoreTest, RecordDamagedInBothCopiesRefusesThenRecoversAroundIt) {
  for (int damaged_record : {0, 5, 10}) {
    SCOPED_TRACE(absl::StrCat("record ", damaged_record));
    TempDir dir;
    std::vector<int64_t> starts = WriteBatches(dir.path(), 12);
    for (const char* name : {"log", "log.mirror"}) {
      std::string data = ReadFile(dir.Sub(name));
      data[starts[damaged_record] + 37] ^= 0x01;  // in the value of the put
      WriteFile(dir.Sub(name), data);
    }
    auto refused = OpenWith(dir.path(), /*recover=*/false);
    ASSERT_EQ(refused.status().code(), absl::StatusCode::kDataLoss) << refused.status();
    const std::string message(refused.status().message());
    EXPECT_NE(message.find(absl::StrCat("record ", damaged_record + 1, " ")), std::string::npos)
        << message;
    EXPECT_NE(message.find(absl::StrCat("log offset ", starts[damaged_record])), std::string::npos)
        << message;
    EXPECT_NE(message.find(absl::StrCat("put jobs/", damaged_record)), std::string::npos)
        << message;
    EXPECT_NE(message.find("--store_recover"), std::string::npos) << message;

    auto recovered = OpenWith(dir.path(), /*recover=*/true);
    ASSERT_TRUE(recovered.ok()) << recovered.status();
    EXPECT_EQ((*recovered)->recovery().records_lost, 1);
    std::map<std::string, std::string> expected;
    for (int i = 0; i < 12; ++i) {
      if (i == damaged_record) continue;
      WriteBatch batch = NumberedBatch(i);
      for (const StoreWrite& w : batch.writes()) {
        if (w.kind == StoreWrite::Kind::kPut) {
          expected[w.key] = w.value;
        } else {
          expected.erase(w.key);
        }
      }
    }
    expected["meta/event_seq"] = absl::StrCat(11 + (uint64_t{1} << 20));  // jumped ahead
    EXPECT_EQ((*recovered)->LoadAll()->entries, expected);
    const std::vector<std::string>& jobs = (*recovered)->recovery().jobs_lost;
    if (damaged_record == 10) {
      // Batch 10 put jobs/10 (never written again) and deleted jobs/8.
      EXPECT_NE(std::find(jobs.begin(), jobs.end(), "10"), jobs.end());
    }
    EXPECT_TRUE(fs::exists((*recovered)->recovery().damaged_dir + "/log"));
    recovered->reset();
    // Recovered once: the directory is clean now.
    auto reopened = OpenWith(dir.path(), /*recover=*/false);
    ASSERT_TRUE(reopened.ok()) << reopened.status();
    EXPECT_EQ((*reopened)->LoadAll()->entries, expected);
  }
}

TEST(EmbeddedStoreTest, BothCopiesZeroedIsRefused) {
  TempDir dir;
  WriteBatches(dir.path(), 10);
  for (const char* name : {"log", "log.mirror"}) {
    WriteFile(dir.Sub(name), std::string(ReadFile(dir.Sub(name)).size(), '\0'));
  }
  EXPECT_EQ(OpenWith(dir.path(), false).status().code(), absl::StatusCode::kDataLoss);
  auto recovered = OpenWith(dir.path(), true);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_GE((*recovered)->recovery().records_lost, 1);
}

TEST(EmbeddedStoreTest, SnapshotPlusLogReplay) {
  TempDir dir;
  {
    auto store = MustOpen(dir.path());
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(store->Apply(NumberedBatch(i)).ok());
    ASSERT_TRUE(store->Snapshot().ok());
    EXPECT_EQ(store->log_size_bytes(), 0);
    EXPECT_EQ(fs::file_size(dir.Sub("log")), 0u);
    EXPECT_GT(fs::file_size(dir.Sub("log.prev")), 0u);  // the snapshot's second copy
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
  EXPECT_TRUE(fs::exists(dir.Sub("snapshot.prev")));
  auto store = MustOpen(dir.path());
  EXPECT_TRUE(store->recovery().snapshot_loaded);
  EXPECT_EQ(store->LoadAll()->revision, 500);
  EXPECT_EQ(store->LoadAll()->entries, ExpectedAfter(500));
}

// A missing, truncated or damaged snapshot is rebuilt from the older snapshot and the logs.
TEST(EmbeddedStoreTest, MissingOrBadSnapshotIsRecoveredFromTheLogs) {
  QuietLog quiet;
  TempDir dir;
  std::string source = dir.Sub("source");
  {
    auto store = MustOpen(source);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(store->Apply(NumberedBatch(i)).ok());
    ASSERT_TRUE(store->Snapshot().ok());
    for (int i = 10; i < 15; ++i) ASSERT_TRUE(store->Apply(NumberedBatch(i)).ok());
    ASSERT_TRUE(store->Snapshot().ok());
    for (int i = 15; i < 18; ++i) ASSERT_TRUE(store->Apply(NumberedBatch(i)).ok());
  }
  const std::string snapshot = ReadFile(source + "/snapshot");
  struct Case {
    const char* name;
    std::function<void(const std::string&)> damage;
  } cases[] = {
      {"missing", [](const std::string& d) { fs::remove(d + "/snapshot"); }},
      {"truncated",
       [&](const std::string& d) {
         WriteFile(d + "/snapshot", snapshot.substr(0, snapshot.size() / 2));
       }},
      {"bit flip",
       [&](const std::string& d) {
         std::string s = snapshot;
         s[s.size() - 1] ^= 0x40;
         WriteFile(d + "/snapshot", s);
       }},
      {"empty", [](const std::string& d) { WriteFile(d + "/snapshot", ""); }},
      {"both snapshots missing",
       [](const std::string& d) {
         fs::remove(d + "/snapshot");
         fs::remove(d + "/snapshot.prev");
       }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::string trial = dir.Sub("trial");
    CopyDir(source, trial);
    c.damage(trial);
    auto store = OpenWith(trial, /*recover=*/false);
    if (std::string(c.name) == "both snapshots missing") {
      // Records 1..10 were only in the first snapshot and the log before it, long rotated.
      ASSERT_EQ(store.status().code(), absl::StatusCode::kDataLoss) << store.status();
      EXPECT_NE(store.status().message().find("snapshot: missing"), absl::string_view::npos)
          << store.status();
      fs::remove_all(trial);
      continue;
    }
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_EQ((*store)->recovery().records_lost, 0);
    EXPECT_EQ((*store)->LoadAll()->revision, 18);
    EXPECT_EQ((*store)->LoadAll()->entries, ExpectedAfter(18));
    store->reset();
    fs::remove_all(trial);
  }
}

// The snapshot gone and the previous log's last record damaged in both copies, right after a
// rotation (the current log empty): nothing later shows the gap, and it is still refused.
TEST(EmbeddedStoreTest, MissingSnapshotAndDamagedEndOfPreviousLogIsRefused) {
  TempDir dir;
  {
    auto store = MustOpen(dir.path());
    for (int i = 0; i < 6; ++i) ASSERT_TRUE(store->Apply(NumberedBatch(i)).ok());
    ASSERT_TRUE(store->Snapshot().ok());
  }
  fs::remove(dir.Sub("snapshot"));
  for (const char* name : {"log.prev", "log.prev.mirror"}) {
    std::string data = ReadFile(dir.Sub(name));
    data[data.size() - 3] ^= 0x01;
    WriteFile(dir.Sub(name), data);
  }
  auto refused = OpenWith(dir.path(), false);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kDataLoss) << refused.status();
  EXPECT_NE(refused.status().message().find("record 6 and any after it"), absl::string_view::npos)
      << refused.status();
}

// With one snapshot ever taken, the log before it still holds every record it covers.
TEST(EmbeddedStoreTest, OnlySnapshotMissingIsRebuiltFromThePreviousLog) {
  TempDir dir;
  {
    auto store = MustOpen(dir.path());
    for (int i = 0; i < 300; ++i) ASSERT_TRUE(store->Apply(NumberedBatch(i)).ok());
    ASSERT_TRUE(store->Snapshot().ok());
  }
  fs::remove(dir.Sub("snapshot"));
  auto store = MustOpen(dir.path());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->LoadAll()->revision, 300);
  EXPECT_EQ(store->LoadAll()->entries, ExpectedAfter(300));
}

TEST(EmbeddedStoreTest, CrashBeforeLogRotationSkipsCoveredRecords) {
  TempDir dir;
  {
    auto store = MustOpen(dir.path());
    for (int i = 0; i < 8; ++i) ASSERT_TRUE(store->Apply(NumberedBatch(i)).ok());
    std::string old_log = ReadFile(dir.Sub("log"));
    ASSERT_TRUE(store->Snapshot().ok());
    store.reset();
    WriteFile(dir.Sub("log"), old_log);  // as if the rotation never happened
    WriteFile(dir.Sub("log.mirror"), old_log);
    fs::remove(dir.Sub("log.prev"));
    fs::remove(dir.Sub("log.prev.mirror"));
    WriteFile(dir.Sub("snapshot.tmp"), "half a snapshot");
  }
  auto store = MustOpen(dir.path());
  EXPECT_EQ(store->recovery().records_replayed, 0);
  EXPECT_FALSE(store->recovery().tail_cut);
  EXPECT_FALSE(fs::exists(dir.Sub("snapshot.tmp")));
  EXPECT_EQ(store->LoadAll()->entries, ExpectedAfter(8));
  ASSERT_EQ(*store->Apply(NumberedBatch(8)), 9);
  store.reset();
  EXPECT_EQ(MustOpen(dir.path())->LoadAll()->entries, ExpectedAfter(9));
}

TEST(EmbeddedStoreTest, MirrorOffWritesOneCopyAndSwitchingEitherWayKeepsEverything) {
  TempDir dir;
  EmbeddedStoreOptions options;
  options.state_dir = dir.path();
  options.mirror_log = false;
  {
    auto store = EmbeddedStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    for (int i = 0; i < 5; ++i) ASSERT_TRUE((*store)->Apply(NumberedBatch(i)).ok());
    EXPECT_FALSE(fs::exists(dir.Sub("log.mirror")));
    EXPECT_NE((*store)->Describe().find("single copy"), std::string::npos);
  }
  {
    auto store = MustOpen(dir.path());  // mirrored again
    EXPECT_EQ(store->LoadAll()->entries, ExpectedAfter(5));
    ASSERT_TRUE(store->Apply(NumberedBatch(5)).ok());
    EXPECT_EQ(ReadFile(dir.Sub("log")), ReadFile(dir.Sub("log.mirror")));
  }
  {
    auto store = EmbeddedStore::Open(options);  // and single again
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_FALSE(fs::exists(dir.Sub("log.mirror")));
    ASSERT_TRUE((*store)->Apply(NumberedBatch(6)).ok());
    ASSERT_TRUE((*store)->Snapshot().ok());
    ASSERT_TRUE((*store)->Apply(NumberedBatch(7)).ok());
  }
  auto store = EmbeddedStore::Open(options);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->LoadAll()->entries, ExpectedAfter(8));
  EXPECT_FALSE((*store)->recovery().repaired);
}

// A directory written before the mirror and the previous log existed: its snapshot is the only
// copy of the records before the log, so losing it is refused, and recover keeps the log.
TEST(EmbeddedStoreTest, OldLayoutWithMissingSnapshotIsRefusedThenRecovered) {
  TempDir dir;
  {
    auto store = MustOpen(dir.path());
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(store->Apply(NumberedBatch(i)).ok());
    ASSERT_TRUE(store->Snapshot().ok());
    for (int i = 10; i < 15; ++i) ASSERT_TRUE(store->Apply(NumberedBatch(i)).ok());
  }
  for (const char* name :
       {"snapshot", "snapshot.prev", "log.mirror", "log.prev", "log.prev.mirror"}) {
    fs::remove(dir.Sub(name));
  }
  auto refused = OpenWith(dir.path(), false);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kDataLoss) << refused.status();
  EXPECT_NE(refused.status().message().find("record 1..10"), absl::string_view::npos)
      << refused.status();
  auto recovered = OpenWith(dir.path(), true);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_EQ((*recovered)->recovery().records_lost, 10);
  EXPECT_EQ((*recovered)->LoadAll()->revision, 15);
  EXPECT_EQ((*recovered)->LoadAll()->entries.count("jobs/14"), 1u);
}

// Full disk, through the file layer: the write is refused and undone, health says so, and the
// store takes writes again once space is back, with nothing half-written left behind.
TEST(EmbeddedStoreTest, FailedWritesAreUndoneAndRetriedWhenSpaceReturns) {
  QuietLog quiet;
  TempDir dir;
  auto disk_full = std::make_shared<std::atomic<bool>>(false);
  EmbeddedStoreOptions options;
  options.state_dir = dir.path();
  options.file_ops.write = [disk_full](int fd, const void* data, size_t size) -> ssize_t {
    if (disk_full->load()) {
      // A short write first, as a filling disk does, then ENOSPC.
      if (size > 7) return ::write(fd, data, 7);
      errno = ENOSPC;
      return -1;
    }
    return ::write(fd, data, size);
  };
  auto store = EmbeddedStore::Open(options);
  ASSERT_TRUE(store.ok()) << store.status();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*store)->Apply(NumberedBatch(i)).ok());
  disk_full->store(true);
  auto refused = (*store)->Apply(NumberedBatch(3));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
  EXPECT_NE(refused.status().message().find("No space left"), absl::string_view::npos);
  EXPECT_FALSE((*store)->write_health().ok());
  EXPECT_FALSE((*store)->ProbeWrites().ok());
  EXPECT_NE((*store)->Describe().find("WRITES FAILING"), std::string::npos);
  disk_full->store(false);
  EXPECT_TRUE((*store)->ProbeWrites().ok());
  EXPECT_TRUE((*store)->write_health().ok());
  ASSERT_EQ(*(*store)->Apply(NumberedBatch(3)), 4);
  store->reset();
  auto reopened = MustOpen(dir.path());
  EXPECT_EQ(reopened->recovery().records_lost, 0);
  EXPECT_FALSE(reopened->recovery().tail_cut);
  EXPECT_EQ(reopened->LoadAll()->entries, ExpectedAfter(4));
}

// The same with the kernel refusing the write (RLIMIT_FSIZE: EFBIG), then allowing it again.
TEST(EmbeddedStoreTest, FileSizeLimitRefusesThenWritesResume) {
  QuietLog quiet;
  TempDir dir;
  auto store = MustOpen(dir.path());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(store->Apply(NumberedBatch(i)).ok());
  struct rlimit saved {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = saved;
  small.rlim_cur = static_cast<rlim_t>(store->log_size_bytes() + 10);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  auto refused = store->Apply(NumberedBatch(3));
  EXPECT_FALSE(store->ProbeWrites().ok());
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &saved), 0);
  ::signal(SIGXFSZ, old_handler);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
  EXPECT_FALSE(store->write_health().ok());
  EXPECT_TRUE(store->ProbeWrites().ok());
  ASSERT_EQ(*store->Apply(NumberedBatch(3)), 4);
  store.reset();
  EXPECT_EQ(MustOpen(dir.path())->LoadAll()->entries, ExpectedAfter(4));
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
