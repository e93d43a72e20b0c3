// pulse-store: check or recover an embedded-store state directory
// (controller/store/embedded_store.h).
//
//   pulse-store check DIR     reads DIR (never writes) and reports every snapshot and log file,
//                             torn tails, damage repaired from intact copies, and lost records
//                             with the jobs readable in them. Exit 0: clean (a torn tail is
//                             clean), 1: damaged but nothing lost (the daemon repairs it on
//                             start), 2: acknowledged records lost (the daemon refuses to start),
//                             3: the directory cannot be read.
//   pulse-store recover DIR   opens DIR as the daemon would with --store_recover: keeps every
//                             intact record before and after the damage, sets the damaged files
//                             aside in DIR/damaged-<time>/, writes clean files and prints what
//                             was lost. The daemon must not be running (the store's lock).
//   pulse-store snapshot DIR  writes a snapshot of a clean DIR now and rotates its log (the
//                             daemon does this by itself as the log grows).
#include <cstdio>
#include <string>

#include "absl/strings/str_join.h"
#include "common/log.h"
#include "controller/store/embedded_store.h"
#include "controller/store/store_recovery.h"

namespace {

int Usage() {
  std::fprintf(stderr, "usage: pulse-store check|recover|snapshot DIR\n");
  return 3;
}

int Check(const std::string& dir) {
  pulse::controller::EmbeddedStoreOptions defaults;
  absl::StatusOr<pulse::controller::StoreInspection> found =
      pulse::controller::InspectStateDir(dir, defaults.max_record_bytes);
  if (!found.ok()) {
    std::fprintf(stderr, "pulse-store: %s\n", std::string(found.status().message()).c_str());
    return 3;
  }
  std::fputs(pulse::controller::FormatInspection(*found).c_str(), stdout);
  if (!found->loss.ok()) {
    std::printf("%s\n", std::string(found->loss.message()).c_str());
    return 2;
  }
  return found->damaged() ? 1 : 0;
}

int Recover(const std::string& dir) {
  pulse::controller::EmbeddedStoreOptions options;
  options.state_dir = dir;
  options.recover = true;
  options.snapshot_after_log_bytes = 0;
  pulse::SetLogLevel(pulse::LogLevel::kError);  // the report below says it all, once
  auto store = pulse::controller::EmbeddedStore::Open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "pulse-store: %s\n", std::string(store.status().message()).c_str());
    return 3;
  }
  const pulse::controller::StoreRecoveryReport& report = (*store)->recovery();
  std::fputs(pulse::controller::FormatInspection(report.inspection).c_str(), stdout);
  std::printf("recovered: revision %lld, %lld records lost, %zu jobs lost%s%s\n",
              static_cast<long long>((*store)->revision()),
              static_cast<long long>(report.records_lost), report.jobs_lost.size(),
              report.jobs_lost.empty() ? "" : ": ", absl::StrJoin(report.jobs_lost, ", ").c_str());
  if (!report.damaged_dir.empty()) {
    std::printf("damaged originals kept in %s\n", report.damaged_dir.c_str());
  }
  return 0;
}

int Snapshot(const std::string& dir) {
  pulse::controller::EmbeddedStoreOptions options;
  options.state_dir = dir;
  options.snapshot_after_log_bytes = 0;
  auto store = pulse::controller::EmbeddedStore::Open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "pulse-store: %s\n", std::string(store.status().message()).c_str());
    return 3;
  }
  if (absl::Status s = (*store)->Snapshot(); !s.ok()) {
    std::fprintf(stderr, "pulse-store: %s\n", std::string(s.message()).c_str());
    return 3;
  }
  std::printf("snapshot at revision %lld\n", static_cast<long long>((*store)->revision()));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return Usage();
  std::string command = argv[1];
  if (command == "check") return Check(argv[2]);
  if (command == "recover") return Recover(argv[2]);
  if (command == "snapshot") return Snapshot(argv[2]);
  return Usage();
}
