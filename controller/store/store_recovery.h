// What is in an embedded-store state directory, and what can be proven from it.
//
// EmbeddedStore (embedded_store.h) keeps every record in two places so that one bad sector loses
// nothing, and this module is the one reader of those files: the store calls it on open, the
// pulse-store tool (tools/pulse_store.cc) calls it for `check` and `recover`.
//
// Files (all optional; an empty directory is a new store):
//   snapshot, snapshot.prev   the whole map at some revision, and the one before it
//   log, log.mirror           records after `snapshot`, written to both files before an ack
//   log.prev, log.prev.mirror records after `snapshot.prev` up to `snapshot` (the previous log,
//                             kept until the next snapshot: the snapshot's contents a 2nd time)
//
// Record framing (little-endian), every file:
//   u32 payload_length | u32 crc32c(sequence bytes + payload) | u64 sequence | payload
// A payload is a batch: u32 count, then per write u8 kind (0 put, 1 delete), u32 key length,
// key, u32 value length, value. A snapshot is one record: a batch of puts at its revision.
//
// Reading: every log file is scanned whole. A record that does not parse does not end the file:
// the scan resynchronises on the next offset where a whole record with a good crc starts, so
// intact records after damage are kept. The intact records of all four log files are merged by
// sequence; the state is the newest intact snapshot plus every record after it, and it is only
// trusted when the sequences after that snapshot are contiguous.
//
// Verdict (StoreInspection::loss):
//   - Damage whose records exist intact elsewhere (the other copy, a snapshot) loses nothing:
//     the inspection says so (repaired) and the store rewrites clean files.
//   - A torn tail is not a loss: an incomplete last record, or damage after the last record in
//     only one copy of the log (a write interrupted before the second copy, so never
//     acknowledged).
//   - Anything else is a loss: a missing sequence between intact ones, damage at the tail of
//     every copy, records that only a missing or damaged snapshot held. `loss` names the file,
//     byte offset and record sequence of the first one; `lost` lists every lost range with the
//     keys that could still be read out of the damaged bytes (best effort: the crc failed).
#ifndef PULSE_CONTROLLER_STORE_STORE_RECOVERY_H_
#define PULSE_CONTROLLER_STORE_STORE_RECOVERY_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/store/store.h"

namespace pulse::controller {

// CRC-32C (Castagnoli), as used by iSCSI and ext4; crc32c("123456789") == 0xE3069283.
uint32_t Crc32c(absl::string_view data);

namespace store_files {

constexpr char kLock[] = "LOCK";
constexpr char kSnapshot[] = "snapshot";
constexpr char kSnapshotPrev[] = "snapshot.prev";
constexpr char kSnapshotTmp[] = "snapshot.tmp";
constexpr char kLog[] = "log";
constexpr char kLogMirror[] = "log.mirror";
constexpr char kLogPrev[] = "log.prev";
constexpr char kLogPrevMirror[] = "log.prev.mirror";
constexpr size_t kHeaderBytes = 16;

std::string EncodeBatch(const std::vector<StoreWrite>& writes);
absl::StatusOr<std::vector<StoreWrite>> DecodeBatch(absl::string_view in);
std::string EncodeRecord(uint64_t sequence, absl::string_view payload);

struct ParsedRecord {
  uint64_t sequence = 0;
  std::vector<StoreWrite> writes;
  size_t total_bytes = 0;
};
// The record at the start of `in`; the error text is the reason shown to the operator.
absl::StatusOr<ParsedRecord> ParseRecord(absl::string_view in, int64_t max_record_bytes);

}  // namespace store_files

// One intact record found in a log file.
struct ScannedRecord {
  uint64_t sequence = 0;
  int64_t offset = 0;
  int64_t bytes = 0;
  std::vector<StoreWrite> writes;
};

// Bytes of a log file that hold no intact record.
struct DamagedRange {
  std::string file;  // name inside the state directory
  int64_t offset = 0;
  int64_t bytes = 0;
  std::string reason;           // why the first record there did not parse ("bad crc", ...)
  uint64_t after_sequence = 0;  // the intact record before it in the same file (0: none)
  bool at_end = false;          // nothing intact follows in this file
  bool incomplete = false;      // at_end and the record there is cut short: a torn write
  // Keys read out of the damaged record ignoring its crc (best effort), "put jobs/a", ...
  std::vector<std::string> readable_writes;
};

// Records the directory cannot prove: sequences first..last were acknowledged and are gone.
struct LostRecords {
  uint64_t first = 0;
  uint64_t last = 0;
  std::string where;  // "log offset 34051 (bad crc) and log.mirror offset 34051 (bad crc)"
  std::vector<std::string> readable_writes;
};

struct ScannedFile {
  std::string name;
  bool exists = false;
  int64_t size = 0;
  std::vector<ScannedRecord> records;
  std::vector<DamagedRange> damage;
};

struct StoreInspection {
  std::string dir;
  bool empty = true;  // no snapshot and no log record anywhere: a new store
  std::string base;   // "snapshot", "snapshot.prev" or "" (replayed from nothing)
  int64_t base_revision = 0;
  std::vector<std::string> snapshot_problems;  // "snapshot: bad crc (1234 bytes)", "...missing"
  std::vector<ScannedFile> logs;               // log, log.mirror, log.prev, log.prev.mirror
  int64_t records_replayed = 0;                // records applied on top of the base
  int64_t records_from_second_copy = 0;        // of those, read from a copy other than their first
  std::vector<DamagedRange> torn;              // torn tails (tolerated)
  std::vector<DamagedRange> repaired;          // damage whose records are intact elsewhere
  std::vector<LostRecords> lost;               // acknowledged records that are gone
  // Job ids written by lost records and not written again later (best effort): lost, or back if
  // the lost write was a delete.
  std::vector<std::string> lost_jobs;
  absl::Status loss;  // OK, or DataLoss naming the first lost record

  // The state the directory proves (with `lost` records missing when loss is not OK).
  int64_t revision = 0;
  std::map<std::string, std::string> entries;

  bool damaged() const { return !snapshot_problems.empty() || !repaired.empty() || !loss.ok(); }
};

// Reads `dir` (never writes). Errors only for I/O failures; damage is in the result.
absl::StatusOr<StoreInspection> InspectStateDir(const std::string& dir, int64_t max_record_bytes);

// Scans one file's bytes (exposed for tests and the tool).
ScannedFile ScanLogBytes(const std::string& name, absl::string_view data, int64_t max_record_bytes);

// A multi-line report for operators: what was found, kept, repaired, torn and lost.
std::string FormatInspection(const StoreInspection& inspection);

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_STORE_STORE_RECOVERY_H_
