// A throwaway etcd cluster for integration tests, run by tests/tools/etcd_cluster.sh on free
// loopback ports. The script's reaper kills the members if this test process dies, and each
// member dies on its own after at most 10 minutes.
#ifndef PULSE_TESTS_CONTROLLER_ETCD_TEST_CLUSTER_H_
#define PULSE_TESTS_CONTROLLER_ETCD_TEST_CLUSTER_H_

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "controller/store/etcd_client.h"

namespace pulse::controller::testing {

inline std::string EtcdScript() {
  const char* src = std::getenv("PULSE_SOURCE_DIR");
  return absl::StrCat(src != nullptr ? src : ".", "/tests/tools/etcd_cluster.sh");
}

inline bool EtcdAvailable() { return ::access("/usr/bin/etcd", X_OK) == 0; }

class EtcdTestCluster {
 public:
  // Starts `members` (1 or 3) members; nullptr if the script failed (its stderr is in the log).
  static std::unique_ptr<EtcdTestCluster> Start(int members) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "pulse_etcd_test_XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) return nullptr;
    std::unique_ptr<EtcdTestCluster> cluster(new EtcdTestCluster(tmpl));
    std::string cmd =
        absl::StrCat("bash ", EtcdScript(), " start ", tmpl, " ", members, " ", ::getpid());
    if (std::system(cmd.c_str()) != 0) return nullptr;
    std::ifstream in(tmpl + "/endpoints");
    std::string line;
    std::getline(in, line);
    cluster->endpoints_ = absl::StrSplit(line, ',', absl::SkipEmpty());
    if (cluster->endpoints_.size() != static_cast<size_t>(members)) return nullptr;
    return cluster;
  }

  ~EtcdTestCluster() {
    std::string cmd = absl::StrCat("bash ", EtcdScript(), " stop ", dir_);
    if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "etcd test cluster: stop failed\n");
  }

  const std::vector<std::string>& endpoints() const { return endpoints_; }

  // kill -9 of member `index` (1-based).
  bool KillMember(int index) {
    return std::system(absl::StrCat("bash ", EtcdScript(), " kill ", dir_, " ", index).c_str()) ==
           0;
  }

  // SIGSTOP / SIGCONT of member `index` (1-based): a hung member, then a recovered one.
  bool PauseMember(int index) {
    return std::system(absl::StrCat("bash ", EtcdScript(), " pause ", dir_, " ", index).c_str()) ==
           0;
  }
  bool ResumeMember(int index) {
    return std::system(absl::StrCat("bash ", EtcdScript(), " resume ", dir_, " ", index).c_str()) ==
           0;
  }

  // The member that is raft leader (1-based), or 0.
  int RaftLeader() {
    std::string cmd = absl::StrCat("bash ", EtcdScript(), " leader ", dir_);
    FILE* out = ::popen(cmd.c_str(), "r");
    if (out == nullptr) return 0;
    int index = 0;
    if (std::fscanf(out, "%d", &index) != 1) index = 0;
    ::pclose(out);
    return index;
  }

  std::shared_ptr<EtcdClient> NewClient(absl::Duration rpc_timeout = absl::Seconds(2)) {
    EtcdClientOptions options;
    options.endpoints = endpoints_;
    options.rpc_timeout = rpc_timeout;
    auto client = EtcdClient::Connect(options);
    return client.ok() ? *client : nullptr;
  }

 private:
  explicit EtcdTestCluster(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
  std::vector<std::string> endpoints_;
};

// Polls `done` every 10 ms until it holds or `timeout` passes; returns whether it held.
inline bool WaitFor(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return done();
}

}  // namespace pulse::controller::testing

#endif  // PULSE_TESTS_CONTROLLER_ETCD_TEST_CLUSTER_H_
