#include "controller/store/store_recovery.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace pulse::controller {
namespace {

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

constexpr char kShortHeader[] = "short record header";
constexpr char kShortRecord[] = "short record";

// Reads a whole file; NotFound if it does not exist.
absl::StatusOr<std::string> ReadFileIfExists(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(path);
    return absl::InternalError(absl::StrCat("open ", path, ": ", std::strerror(errno)));
  }
  std::string data;
  char buf[1 << 16];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return absl::InternalError(absl::StrCat("read ", path, ": ", std::strerror(err)));
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return data;
}

// What a damaged record still says, ignoring its crc: its writes if the batch decodes, else any
// "jobs/<id>" key text in the bytes.
std::vector<std::string> ReadableWrites(absl::string_view bytes) {
  std::vector<std::string> out;
  if (bytes.size() >= store_files::kHeaderBytes) {
    uint32_t length = GetU32(bytes.data());
    absl::string_view payload = bytes.substr(store_files::kHeaderBytes);
    if (length <= payload.size()) {
      absl::StatusOr<std::vector<StoreWrite>> writes =
          store_files::DecodeBatch(payload.substr(0, length));
      if (writes.ok()) {
        for (const StoreWrite& w : *writes) {
          out.push_back(absl::StrCat(w.kind == StoreWrite::Kind::kPut ? "put " : "delete ", w.key));
        }
        return out;
      }
    }
  }
  std::set<std::string> seen;
  for (size_t at = bytes.find("jobs/"); at != absl::string_view::npos;
       at = bytes.find("jobs/", at + 1)) {
    size_t end = at + 5;
    while (end < bytes.size() && end - at < 200 &&
           (std::isalnum(static_cast<unsigned char>(bytes[end])) || bytes[end] == '-' ||
            bytes[end] == '_' || bytes[end] == '.' || bytes[end] == ':')) {
      ++end;
    }
    if (end > at + 5) seen.insert(std::string(bytes.substr(at, end - at)));
  }
  for (const std::string& key : seen) out.push_back(absl::StrCat("? ", key));
  return out;
}

// Whether a damaged range can hold any of the sequences first..last (last 0: no upper bound).
// The range can hold after_sequence+1 .. next_sequence-1, or anything newer when at the end.
bool Overlaps(const DamagedRange& range, uint64_t next_sequence, uint64_t first, uint64_t last) {
  const uint64_t low = range.after_sequence + 1;
  const uint64_t high = range.at_end ? UINT64_MAX : next_sequence - 1;
  const uint64_t want_high = last == 0 ? UINT64_MAX : last;
  return low <= high && low <= want_high && first <= high;
}

}  // namespace

uint32_t Crc32c(absl::string_view data) { return Crc32cExtend(0, data); }

namespace store_files {

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

absl::StatusOr<ParsedRecord> ParseRecord(absl::string_view in, int64_t max_record_bytes) {
  if (in.size() < kHeaderBytes) return absl::DataLossError(kShortHeader);
  uint32_t length = GetU32(in.data());
  uint32_t crc = GetU32(in.data() + 4);
  if (static_cast<int64_t>(length) > max_record_bytes) {
    return absl::DataLossError(absl::StrCat("bad length ", length));
  }
  if (in.size() - kHeaderBytes < length) return absl::DataLossError(kShortRecord);
  absl::string_view seq_and_payload = in.substr(8, 8 + length);
  if (Crc32c(seq_and_payload) != crc) return absl::DataLossError("bad crc");
  ParsedRecord rec;
  rec.sequence = GetU64(in.data() + 8);
  if (rec.sequence == 0) return absl::DataLossError("sequence 0");
  auto writes = DecodeBatch(in.substr(kHeaderBytes, length));
  if (!writes.ok())
    return absl::DataLossError(absl::StrCat("bad payload: ", writes.status().message()));
  rec.writes = *std::move(writes);
  rec.total_bytes = kHeaderBytes + length;
  return rec;
}

}  // namespace store_files

ScannedFile ScanLogBytes(const std::string& name, absl::string_view data,
                         int64_t max_record_bytes) {
  ScannedFile file;
  file.name = name;
  file.exists = true;
  file.size = static_cast<int64_t>(data.size());
  size_t offset = 0;
  uint64_t last_sequence = 0;
  while (offset < data.size()) {
    absl::StatusOr<store_files::ParsedRecord> rec =
        store_files::ParseRecord(data.substr(offset), max_record_bytes);
    if (rec.ok() && rec->sequence > last_sequence) {
      file.records.push_back({rec->sequence, static_cast<int64_t>(offset),
                              static_cast<int64_t>(rec->total_bytes), std::move(rec->writes)});
      last_sequence = rec->sequence;
      offset += rec->total_bytes;
      continue;
    }
    DamagedRange range;
    range.file = name;
    range.offset = static_cast<int64_t>(offset);
    range.after_sequence = last_sequence;
    range.reason =
        rec.ok() ? absl::StrCat("sequence out of order: ", rec->sequence, " after ", last_sequence)
                 : std::string(rec.status().message());
    const bool cut_short = !rec.ok() && (rec.status().message() == kShortHeader ||
                                         rec.status().message() == kShortRecord);
    // Resynchronise: the next offset where a whole, newer record with a good crc starts.
    size_t next = offset + 1;
    for (; next + store_files::kHeaderBytes <= data.size(); ++next) {
      absl::StatusOr<store_files::ParsedRecord> probe =
          store_files::ParseRecord(data.substr(next), max_record_bytes);
      if (probe.ok() && probe->sequence > last_sequence) break;
    }
    if (next + store_files::kHeaderBytes > data.size()) next = data.size();
    range.bytes = static_cast<int64_t>(next - offset);
    range.at_end = next == data.size();
    range.incomplete = range.at_end && cut_short;
    range.readable_writes = ReadableWrites(data.substr(offset, next - offset));
    file.damage.push_back(std::move(range));
    offset = next;
  }
  return file;
}

absl::StatusOr<StoreInspection> InspectStateDir(const std::string& dir, int64_t max_record_bytes) {
  StoreInspection out;
  out.dir = dir;

  // Snapshots: the newest intact one is the base.
  struct Snap {
    std::string name;
    bool exists = false;
    bool ok = false;
    int64_t revision = 0;
    std::vector<StoreWrite> puts;
  };
  Snap snaps[2];
  snaps[0].name = store_files::kSnapshot;
  snaps[1].name = store_files::kSnapshotPrev;
  for (Snap& snap : snaps) {
    absl::StatusOr<std::string> data = ReadFileIfExists(dir + "/" + snap.name);
    if (absl::IsNotFound(data.status())) continue;
    if (!data.ok()) return data.status();
    snap.exists = true;
    absl::StatusOr<store_files::ParsedRecord> rec =
        store_files::ParseRecord(*data, max_record_bytes);
    if (!rec.ok() || rec->total_bytes != data->size()) {
      out.snapshot_problems.push_back(
          absl::StrCat(snap.name, ": damaged (",
                       rec.ok() ? "trailing bytes" : std::string(rec.status().message()), ", ",
                       data->size(), " bytes)"));
      continue;
    }
    snap.ok = true;
    snap.revision = static_cast<int64_t>(rec->sequence);
    snap.puts = std::move(rec->writes);
  }

  for (const char* name : {store_files::kLog, store_files::kLogMirror, store_files::kLogPrev,
                           store_files::kLogPrevMirror}) {
    absl::StatusOr<std::string> data = ReadFileIfExists(dir + "/" + name);
    if (absl::IsNotFound(data.status())) {
      ScannedFile missing;
      missing.name = name;
      out.logs.push_back(std::move(missing));
      continue;
    }
    if (!data.ok()) return data.status();
    out.logs.push_back(ScanLogBytes(name, *data, max_record_bytes));
  }
  const ScannedFile& log = out.logs[0];
  const ScannedFile& mirror = out.logs[1];
  const ScannedFile& prev = out.logs[2];
  const ScannedFile& prev_mirror = out.logs[3];

  const Snap* base = nullptr;
  for (const Snap& snap : snaps) {
    if (snap.ok && (base == nullptr || snap.revision > base->revision)) base = &snap;
  }
  if (base != nullptr) {
    out.base = base->name;
    out.base_revision = base->revision;
    for (const StoreWrite& w : base->puts) out.entries[w.key] = w.value;
  }

  // Every intact record by sequence; the primary files first, so a mirror copy is only used
  // when the primary's is damaged or missing.
  std::map<uint64_t, const ScannedRecord*> merged;
  std::set<uint64_t> in_primary;
  for (const ScannedFile* file : {&log, &prev, &mirror, &prev_mirror}) {
    for (const ScannedRecord& rec : file->records) {
      merged.emplace(rec.sequence, &rec);
      if (file == &log || file == &prev) in_primary.insert(rec.sequence);
    }
  }
  // A log that starts after record 1 was written after a snapshot: that snapshot is expected.
  if (!snaps[0].exists &&
      (snaps[1].exists || prev.exists || (!merged.empty() && merged.begin()->first > 1))) {
    out.snapshot_problems.push_back(absl::StrCat(store_files::kSnapshot, ": missing"));
  }
  out.empty = base == nullptr && merged.empty() && out.snapshot_problems.empty();
  for (const ScannedFile& file : out.logs) {
    if (!file.damage.empty()) out.empty = false;
  }

  // Replay after the base; a missing sequence below the newest intact one is a lost record.
  uint64_t max_sequence = static_cast<uint64_t>(out.base_revision);
  if (!merged.empty()) max_sequence = std::max(max_sequence, merged.rbegin()->first);
  uint64_t gap_start = 0;
  auto close_gap = [&](uint64_t last) {
    if (gap_start == 0) return;
    out.lost.push_back({gap_start, last, "", {}});
    gap_start = 0;
  };
  for (uint64_t seq = static_cast<uint64_t>(out.base_revision) + 1; seq <= max_sequence; ++seq) {
    auto it = merged.find(seq);
    if (it == merged.end()) {
      if (gap_start == 0) gap_start = seq;
      continue;
    }
    close_gap(seq - 1);
    for (const StoreWrite& w : it->second->writes) {
      if (w.kind == StoreWrite::Kind::kPut) {
        out.entries[w.key] = w.value;
      } else {
        out.entries.erase(w.key);
      }
    }
    ++out.records_replayed;
    if (in_primary.count(seq) == 0) ++out.records_from_second_copy;
  }
  close_gap(max_sequence);
  out.revision = static_cast<int64_t>(max_sequence);

  // Damage after the last record: a torn write if one copy of the log still ends cleanly (the
  // second copy is only written after the first is durable, and the ack after both) or the
  // record there is cut short; otherwise acknowledged records went with it.
  auto tail_lost = [](const ScannedFile& a, const ScannedFile& b) {
    int copies = 0, damaged_tails = 0, torn_tails = 0;
    for (const ScannedFile* f : {&a, &b}) {
      if (!f->exists) continue;
      ++copies;
      if (!f->damage.empty() && f->damage.back().at_end) {
        ++damaged_tails;
        if (f->damage.back().incomplete) ++torn_tails;
      }
    }
    return copies > 0 && damaged_tails == copies && torn_tails < damaged_tails;
  };
  const bool current_tail_lost = tail_lost(log, mirror);
  // The previous log was complete when the snapshot after it was taken, so damage at its tail
  // matters when that snapshot is not the base and no record follows on from it (a later record
  // would make any missing one a gap, found above).
  uint64_t prev_last = 0;
  for (const ScannedFile* f : {&prev, &prev_mirror}) {
    if (!f->records.empty()) prev_last = std::max(prev_last, f->records.back().sequence);
  }
  const bool prev_tail_lost = out.base != store_files::kSnapshot &&
                              merged.count(prev_last + 1) == 0 && max_sequence <= prev_last &&
                              tail_lost(prev, prev_mirror);
  if (current_tail_lost || prev_tail_lost) out.lost.push_back({max_sequence + 1, 0, "", {}});

  // Name every damaged range: lost (with the records it hid), torn, or repaired.
  std::set<const DamagedRange*> in_loss;
  for (LostRecords& lost : out.lost) {
    std::vector<std::string> where;
    for (const ScannedFile& file : out.logs) {
      for (size_t i = 0; i < file.damage.size(); ++i) {
        const DamagedRange& range = file.damage[i];
        uint64_t next_sequence = UINT64_MAX;
        for (const ScannedRecord& rec : file.records) {
          if (rec.offset > range.offset) {
            next_sequence = rec.sequence;
            break;
          }
        }
        if (!Overlaps(range, next_sequence, lost.first, lost.last)) continue;
        in_loss.insert(&range);
        where.push_back(absl::StrCat(range.file, " offset ", range.offset, " (", range.reason, ", ",
                                     range.bytes, " bytes)"));
        for (const std::string& w : range.readable_writes) {
          if (std::find(lost.readable_writes.begin(), lost.readable_writes.end(), w) ==
              lost.readable_writes.end()) {
            lost.readable_writes.push_back(w);
          }
        }
      }
    }
    if (where.empty()) {
      where.push_back(out.snapshot_problems.empty()
                          ? std::string("in no file")
                          : absl::StrCat("in no file (", absl::StrJoin(out.snapshot_problems, "; "),
                                         ", and no older log reaches back)"));
    }
    lost.where = absl::StrJoin(where, " and ");
  }
  for (const ScannedFile& file : out.logs) {
    for (const DamagedRange& range : file.damage) {
      if (in_loss.count(&range) != 0) continue;
      if (range.at_end && range.after_sequence >= max_sequence) {
        out.torn.push_back(range);
      } else {
        out.repaired.push_back(range);
      }
    }
  }

  // Jobs named in lost records and not written again by a later intact record.
  std::set<std::string> lost_jobs;
  for (const LostRecords& lost : out.lost) {
    for (const std::string& w : lost.readable_writes) {
      size_t at = w.find("jobs/");
      if (at == std::string::npos || (at > 0 && w[at - 1] != ' ')) continue;
      std::string key = w.substr(at);
      bool rewritten = false;
      for (auto it = merged.upper_bound(lost.last == 0 ? max_sequence : lost.last);
           it != merged.end() && !rewritten; ++it) {
        for (const StoreWrite& later : it->second->writes) rewritten |= later.key == key;
      }
      if (!rewritten) lost_jobs.insert(key.substr(5));
    }
  }
  out.lost_jobs.assign(lost_jobs.begin(), lost_jobs.end());

  if (!out.lost.empty()) {
    const LostRecords& first = out.lost.front();
    int64_t count = 0;
    bool unknown = false;
    for (const LostRecords& lost : out.lost) {
      if (lost.last == 0) {
        unknown = true;
      } else {
        count += static_cast<int64_t>(lost.last - lost.first + 1);
      }
    }
    out.loss = absl::DataLossError(
        absl::StrCat("embedded store ", dir, ": record ", first.first,
                     first.last == first.first ? ""
                     : first.last == 0         ? " and any after it (how many is unknown)"
                                               : absl::StrCat("..", first.last),
                     " has no intact copy: ", first.where, "; ",
                     unknown ? absl::StrCat("at least ", count + 1) : absl::StrCat(count),
                     " acknowledged records lost",
                     first.readable_writes.empty()
                         ? ""
                         : absl::StrCat(" (readable in the damaged bytes: ",
                                        absl::StrJoin(first.readable_writes, ", "), ")"),
                     out.lost_jobs.empty()
                         ? ""
                         : absl::StrCat(", jobs affected (lost, or back if a delete was lost): ",
                                        absl::StrJoin(out.lost_jobs, ", ")),
                     ". Refusing to start with partial state; `pulse-store check ", dir,
                     "` shows everything, and --store_recover (or `pulse-store recover ", dir,
                     "`) keeps every intact record and sets the damaged files aside"));
  }
  return out;
}

std::string FormatInspection(const StoreInspection& in) {
  std::string out = absl::StrCat("state directory ", in.dir, "\n");
  if (in.empty) return out + "  empty (a new store)\n";
  absl::StrAppend(&out, "  base: ",
                  in.base.empty() ? std::string("none (replayed from revision 0)")
                                  : absl::StrCat(in.base, " at revision ", in.base_revision),
                  "\n");
  for (const std::string& p : in.snapshot_problems) absl::StrAppend(&out, "  DAMAGED ", p, "\n");
  for (const ScannedFile& f : in.logs) {
    if (!f.exists) {
      absl::StrAppend(&out, "  ", f.name, ": missing\n");
      continue;
    }
    absl::StrAppend(&out, "  ", f.name, ": ", f.size, " bytes, ", f.records.size(),
                    " intact records");
    if (!f.records.empty()) {
      absl::StrAppend(&out, " (", f.records.front().sequence, "..", f.records.back().sequence, ")");
    }
    absl::StrAppend(&out, ", ", f.damage.size(), " damaged ranges\n");
  }
  absl::StrAppend(&out, "  state: revision ", in.revision, ", ", in.entries.size(), " keys, ",
                  in.records_replayed, " records replayed (", in.records_from_second_copy,
                  " from the mirror copy)\n");
  for (const DamagedRange& r : in.torn) {
    absl::StrAppend(&out, "  torn tail (tolerated, never acknowledged): ", r.file, " offset ",
                    r.offset, ", ", r.bytes, " bytes (", r.reason, ")\n");
  }
  for (const DamagedRange& r : in.repaired) {
    absl::StrAppend(&out, "  REPAIRED (records intact in another copy): ", r.file, " offset ",
                    r.offset, ", ", r.bytes, " bytes (", r.reason, ") after record ",
                    r.after_sequence, "\n");
  }
  for (const LostRecords& l : in.lost) {
    absl::StrAppend(&out, "  LOST records ", l.first, "..",
                    l.last == 0 ? std::string("(tail, count unknown)") : absl::StrCat(l.last), ": ",
                    l.where, "\n");
    if (!l.readable_writes.empty()) {
      absl::StrAppend(&out,
                      "    readable in the damaged bytes: ", absl::StrJoin(l.readable_writes, ", "),
                      "\n");
    }
  }
  if (!in.lost_jobs.empty()) {
    absl::StrAppend(&out, "  LOST jobs: ", absl::StrJoin(in.lost_jobs, ", "), "\n");
  }
  absl::StrAppend(&out, "  verdict: ",
                  !in.loss.ok()      ? "DATA LOSS (the daemon refuses to start without recovery)"
                  : in.damaged()     ? "damaged but nothing lost (repaired on open)"
                  : !in.torn.empty() ? "clean (torn tail tolerated)"
                                     : "clean",
                  "\n");
  return out;
}

}  // namespace pulse::controller
