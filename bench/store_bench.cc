// How long the durability point costs: Apply latency of the embedded store (each record appended
// and fdatasync()ed in two files, the log and its mirror), against a baseline in the same run (the
// same records appended to one file with one fdatasync each: the store before the mirror), replay
// time on reopen, snapshot time, and, if etcd endpoints are given, Apply latency of the etcd
// store (one fenced Txn per batch).
//
//   pulse_store_bench [--dir=PATH] [--batches=N] [--etcd=127.0.0.1:2379,...]
//
// --dir defaults to a fresh directory under /var/tmp (a real disk, unlike a tmpfs /tmp).
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "controller/cluster/leader_election.h"
#include "controller/store/embedded_store.h"
#include "controller/store/etcd_store.h"

namespace {

using pulse::controller::StateStore;
using pulse::controller::WriteBatch;

// A batch shaped like one PlaceJob: the job record and the event sequence number.
WriteBatch JobBatch(int i) {
  WriteBatch batch;
  batch.Put(absl::StrCat("jobs/job-", i), std::string(512, static_cast<char>('a' + i % 26)));
  batch.Put("meta/event_seq", std::to_string(i));
  return batch;
}

void PrintLatencies(const char* what, std::vector<double> micros) {
  std::sort(micros.begin(), micros.end());
  auto at = [&](double q) { return micros[static_cast<size_t>(q * (micros.size() - 1))]; };
  double sum = 0;
  for (double m : micros) sum += m;
  std::printf("%-28s n=%zu mean=%.1f us p50=%.1f us p99=%.1f us max=%.1f us\n", what, micros.size(),
              sum / micros.size(), at(0.5), at(0.99), micros.back());
}

bool ApplyMany(StateStore& store, int batches, const char* what) {
  std::vector<double> micros;
  micros.reserve(batches);
  for (int i = 0; i < batches; ++i) {
    absl::Time start = absl::Now();
    auto rev = store.Apply(JobBatch(i));
    micros.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
    if (!rev.ok()) {
      std::fprintf(stderr, "%s: batch %d failed: %s\n", what, i, rev.status().ToString().c_str());
      return false;
    }
  }
  PrintLatencies(what, std::move(micros));
  return true;
}

// The baseline: one file, one write + fdatasync per record of the same size.
bool SingleLogBaseline(const std::string& dir, int batches, std::vector<double>* micros) {
  std::string path = dir + "/baseline.log";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  for (int i = 0; i < batches; ++i) {
    std::string record = pulse::controller::store_files::EncodeRecord(
        static_cast<uint64_t>(i + 1),
        pulse::controller::store_files::EncodeBatch(JobBatch(i).writes()));
    absl::Time start = absl::Now();
    bool ok = ::write(fd, record.data(), record.size()) == static_cast<ssize_t>(record.size()) &&
              ::fdatasync(fd) == 0;
    micros->push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
    if (!ok) {
      ::close(fd);
      return false;
    }
  }
  ::close(fd);
  ::unlink(path.c_str());
  return true;
}

double Mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return v.empty() ? 0 : sum / v.size();
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  int batches = 2000;
  std::string etcd;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--dir=")) {
      dir = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--batches=")) {
      if (!absl::SimpleAtoi(arg, &batches) || batches < 1) {
        std::fprintf(stderr, "bad --batches\n");
        return 2;
      }
    } else if (absl::ConsumePrefix(&arg, "--etcd=")) {
      etcd = std::string(arg);
    } else {
      std::fprintf(stderr, "usage: %s [--dir=PATH] [--batches=N] [--etcd=HOST:PORT,...]\n",
                   argv[0]);
      return 2;
    }
  }
  bool own_dir = dir.empty();
  if (own_dir) {
    std::string tmpl = "/var/tmp/pulse_store_bench_XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) return 1;
    dir = tmpl;
  }

  pulse::controller::EmbeddedStoreOptions options;
  options.state_dir = dir;
  options.snapshot_after_log_bytes = 0;  // measured separately below
  {
    auto store = pulse::controller::EmbeddedStore::Open(options);
    if (!store.ok()) {
      std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
      return 1;
    }
    // Interleaved in halves, so both see the same disk load (the machine may be shared).
    std::vector<double> baseline;
    if (!SingleLogBaseline(dir, batches / 2, &baseline)) return 1;
    absl::Time start = absl::Now();
    if (!ApplyMany(**store, batches, "embedded Apply (2x fdatasync)")) return 1;
    double mirrored_mean_us = absl::ToDoubleMicroseconds(absl::Now() - start) / batches;
    if (!SingleLogBaseline(dir, batches - batches / 2, &baseline)) return 1;
    PrintLatencies("baseline 1 file, 1 fdatasync", baseline);
    std::printf("mirrored log costs %.2fx the single-file append (mean %.1f vs %.1f us)\n",
                mirrored_mean_us / Mean(baseline), mirrored_mean_us, Mean(baseline));
    std::printf("embedded log size            %lld bytes for %d batches\n",
                static_cast<long long>((*store)->log_size_bytes()), batches);
  }
  {
    absl::Time start = absl::Now();
    auto store = pulse::controller::EmbeddedStore::Open(options);
    if (!store.ok()) return 1;
    std::printf("embedded reopen (replay)     %.2f ms for %lld records\n",
                absl::ToDoubleMilliseconds(absl::Now() - start),
                static_cast<long long>((*store)->recovery().records_replayed));
    start = absl::Now();
    if (!(*store)->Snapshot().ok()) return 1;
    std::printf("embedded snapshot            %.2f ms for %zu keys\n",
                absl::ToDoubleMilliseconds(absl::Now() - start),
                (*store)->LoadAll()->entries.size());
  }
  {
    absl::Time start = absl::Now();
    auto store = pulse::controller::EmbeddedStore::Open(options);
    if (!store.ok()) return 1;
    std::printf("embedded reopen (snapshot)   %.2f ms\n",
                absl::ToDoubleMilliseconds(absl::Now() - start));
  }
  if (own_dir) std::filesystem::remove_all(dir);

  if (!etcd.empty()) {
    pulse::controller::EtcdClientOptions client_options;
    client_options.endpoints = absl::StrSplit(etcd, ',', absl::SkipEmpty());
    auto client = pulse::controller::EtcdClient::Connect(client_options);
    if (!client.ok()) return 1;
    std::string cluster = absl::StrCat("bench-", ::getpid());
    auto store = pulse::controller::EtcdStore::Open(*client, {cluster});
    if (!store.ok()) {
      std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
      return 1;
    }
    pulse::controller::LeaderElectionOptions election_options;
    election_options.cluster = cluster;
    election_options.candidate_id = "bench";
    auto election = pulse::controller::LeaderElection::Start(*client, election_options, {});
    if (!election.ok()) return 1;
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (!(*election)->is_leader() && absl::Now() < deadline)
      absl::SleepFor(absl::Milliseconds(10));
    if (!(*election)->is_leader()) {
      std::fprintf(stderr, "not elected within 10 s\n");
      return 1;
    }
    (*store)->SetLeaderFence((*election)->generation());
    if (!ApplyMany(**store, batches, "etcd Apply (fenced Txn)")) return 1;
    absl::Time start = absl::Now();
    auto snap = (*store)->LoadAll();
    if (!snap.ok()) return 1;
    std::printf("etcd LoadAll                 %.2f ms for %zu keys\n",
                absl::ToDoubleMilliseconds(absl::Now() - start), snap->entries.size());
  }
  return 0;
}
