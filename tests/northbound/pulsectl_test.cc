// pulsectl end to end: a real pulse-controller (the build's binary, a free loopback port, the
// lab fabric examples/leaf-spine.yaml, plaintext) driven by the pulsectl binary as a subprocess,
// the way an operator or a script uses it. Checks both the tables and the --json output.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct CommandResult {
  int exit_code = -1;  // -1: killed at the time limit or by a signal
  std::string out;
  std::string err;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs `argv` with stdout and stderr captured to files in `dir`; kills it after `limit`.
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& dir,
                         std::chrono::seconds limit = std::chrono::seconds(30)) {
  static int serial = 0;
  const std::string out_path = absl::StrCat(dir, "/out.", ++serial);
  const std::string err_path = absl::StrCat(dir, "/err.", serial);
  pid_t pid = fork();
  if (pid == 0) {
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(err, 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  CommandResult result;
  if (pid < 0) return result;
  const auto deadline = Clock::now() + limit;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      status = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (status != -1 && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  return result;
}

// Lines of a table after its header.
std::vector<std::string> DataRows(const std::string& table) {
  std::vector<std::string> lines = absl::StrSplit(table, '\n', absl::SkipEmpty());
  if (!lines.empty()) lines.erase(lines.begin());
  return lines;
}

class PulsectlTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char dir_template[] = "/tmp/pulsectl_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    const std::string port_file = dir_ + "/port";
    const std::string log_file = dir_ + "/daemon.log";
    const std::string fabric = std::string(PULSE_SOURCE_DIR) + "/examples/leaf-spine.yaml";
    daemon_ = fork();
    ASSERT_GE(daemon_, 0);
    if (daemon_ == 0) {
      int log = open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(log, 2);
      dup2(log, 1);
      const std::string fabric_flag = "--fabric=" + fabric;
      const std::string port_flag = "--port_file=" + port_file;
      execl(PULSE_CONTROLLER_BINARY, PULSE_CONTROLLER_BINARY, fabric_flag.c_str(),
            "--listen=127.0.0.1:0", "--insecure", port_flag.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    int port = 0;
    while (Clock::now() < deadline) {
      int status = 0;
      ASSERT_EQ(waitpid(daemon_, &status, WNOHANG), 0)
          << "pulse-controller exited early: " << ReadFile(log_file);
      std::ifstream in(port_file);
      if (in >> port && port > 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_GT(port, 0) << "pulse-controller did not report its port: " << ReadFile(log_file);
    server_ = absl::StrCat("127.0.0.1:", port);
  }

  static void TearDownTestSuite() {
    if (daemon_ > 0) {
      kill(daemon_, SIGTERM);
      int status = 0;
      const auto deadline = Clock::now() + std::chrono::seconds(20);
      while (waitpid(daemon_, &status, WNOHANG) == 0) {
        if (Clock::now() > deadline) {
          kill(daemon_, SIGKILL);
          waitpid(daemon_, &status, 0);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      daemon_ = -1;
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // pulsectl against the test daemon.
  static CommandResult Ctl(std::vector<std::string> args) {
    std::vector<std::string> argv = {PULSECTL_BINARY, "--server",  server_,
                                     "--insecure",    "--timeout", "20s"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, dir_);
  }

  static std::string JobFile(const std::string& name) {
    return std::string(PULSE_SOURCE_DIR) + "/examples/jobs/" + name;
  }

  static std::string WriteTemp(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  static json ParseJson(const CommandResult& result) {
    json parsed = json::parse(result.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(parsed.is_discarded()) << "not JSON: " << result.out;
    return parsed;
  }

  static inline std::string dir_;
  static inline std::string server_;
  static inline pid_t daemon_ = -1;
};

TEST_F(PulsectlTest, TopologyTableAndJson) {
  CommandResult table = Ctl({"topology"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  // examples/leaf-spine.yaml: 4 leaves + 2 spines, 8 servers with one NIC and GPUs each.
  EXPECT_NE(table.out.find("switches: 6 "), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("\nleaf-0 "), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("\nspine-1 "), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("scheduler view"), std::string::npos) << table.out;

  CommandResult as_json = Ctl({"--json", "topology"});
  ASSERT_EQ(as_json.exit_code, 0) << as_json.err;
  json topology = ParseJson(as_json)["topology"];
  ASSERT_TRUE(topology.is_object());
  EXPECT_EQ(topology["switches"].size(), 6u);
  EXPECT_EQ(topology["servers"].size(), 8u);
  // Every server is one table row, and every group is listed under the scheduler view.
  for (const json& server : topology["servers"]) {
    EXPECT_NE(table.out.find("\n" + server["name"].get<std::string>() + " "), std::string::npos);
  }
  ASSERT_FALSE(topology["groups"].empty());
  for (const json& group : topology["groups"]) {
    EXPECT_NE(table.out.find(group["key"].get<std::string>()), std::string::npos);
  }
}

TEST_F(PulsectlTest, JobLifecycle) {
  CommandResult placed = Ctl({"--json", "jobs", "place", "-f", JobFile("ring-lab.yaml")});
  ASSERT_EQ(placed.exit_code, 0) << placed.err;
  json place = ParseJson(placed);
  const json& job = place["job"];
  EXPECT_EQ(job["spec"]["id"], "ring-lab");
  EXPECT_EQ(job["spec"]["endpoints"].size(), 8u);  // server-[0-7]/gpu-0 expanded
  ASSERT_FALSE(job["flows"].empty());
  for (const json& flow : job["flows"]) {
    EXPECT_FALSE(flow["hops"].empty()) << flow.dump();
    EXPECT_TRUE(flow.contains("udpSrcPort")) << flow.dump();
  }
  const double max_load = job["maxLinkLoad"].get<double>();
  EXPECT_GT(max_load, 0.0);
  EXPECT_LE(max_load, 1.0);  // the job is strict
  const uint64_t placed_sequence = std::stoull(place["eventSequence"].get<std::string>());

  // The table of `jobs show`: one row per flow, with the path as hops.
  CommandResult show = Ctl({"jobs", "show", "ring-lab"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_EQ(show.out.rfind("job ring-lab: ring, 8 endpoints, ", 0), 0u) << show.out;
  std::vector<std::string> lines = absl::StrSplit(show.out, '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 4u);
  // The bandwidth contract: a strict ring alone on a non-blocking fabric runs at line rate.
  EXPECT_EQ(lines[1].rfind("predicted bus bandwidth 100.0% of line rate (ECMP with 4 QPs: ", 0), 0u)
      << show.out;
  EXPECT_TRUE(job["bandwidthPredicted"].get<bool>()) << job.dump();
  EXPECT_NEAR(job["predictedBusbwFraction"].get<double>(), 1.0, 1e-6);
  // No switch reports counters here: the measured line says so rather than showing 0.
  EXPECT_EQ(lines[2], "measured bus bandwidth: no counters yet") << show.out;
  EXPECT_FALSE(job.value("bandwidthMeasured", false)) << job.dump();
  EXPECT_EQ(lines[3].rfind("SRC", 0), 0u) << show.out;
  EXPECT_EQ(lines.size() - 4, job["flows"].size()) << show.out;
  for (size_t i = 0; i < job["flows"].size(); ++i) {
    const json& flow = job["flows"][i];
    const std::string& row = lines[i + 4];
    EXPECT_EQ(row.rfind(flow["src"].get<std::string>(), 0), 0u) << row;
    EXPECT_NE(row.find(flow["hops"][0]["switchName"].get<std::string>()), std::string::npos) << row;
  }

  CommandResult list = Ctl({"jobs", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  std::vector<std::string> rows = DataRows(list.out);
  ASSERT_EQ(rows.size(), 1u) << list.out;
  EXPECT_EQ(rows[0].rfind("ring-lab ", 0), 0u) << list.out;
  json listed = ParseJson(Ctl({"--json", "jobs", "list"}));
  ASSERT_EQ(listed["jobs"].size(), 1u);
  EXPECT_EQ(listed["jobs"][0]["spec"]["id"], "ring-lab");

  // links --top 3: three rows, the busiest first, and the busiest is the job's max load.
  CommandResult top = Ctl({"links", "--top", "3"});
  ASSERT_EQ(top.exit_code, 0) << top.err;
  EXPECT_EQ(DataRows(top.out).size(), 3u) << top.out;
  json top_json = ParseJson(Ctl({"--json", "links", "--top=3"}));
  ASSERT_EQ(top_json["links"].size(), 3u);
  double previous = 2.0;
  for (const json& link : top_json["links"]) {
    const double utilisation = link["plannedUtilisation"].get<double>();
    EXPECT_LE(utilisation, previous);
    previous = utilisation;
    EXPECT_NE(top.out.find(link["name"].get<std::string>()), std::string::npos) << top.out;
  }
  EXPECT_NEAR(top_json["links"][0]["plannedUtilisation"].get<double>(), max_load, 1e-9);

  // watch from the placement's sequence sees the JOB_PLACED event, then stops by itself.
  CommandResult watch =
      Ctl({"--json", "watch", "--from", std::to_string(placed_sequence), "--count", "1"});
  ASSERT_EQ(watch.exit_code, 0) << watch.err;
  json event = ParseJson(watch);
  EXPECT_EQ(event["type"], "EVENT_TYPE_JOB_PLACED");
  EXPECT_EQ(event["subject"], "ring-lab");
  CommandResult watch_table =
      Ctl({"watch", "--from", std::to_string(placed_sequence), "--count", "1"});
  ASSERT_EQ(watch_table.exit_code, 0) << watch_table.err;
  EXPECT_NE(watch_table.out.find("JOB_PLACED  ring-lab"), std::string::npos) << watch_table.out;

  // A second placement with the same id is refused with the server's code.
  CommandResult again = Ctl({"jobs", "place", "-f", JobFile("ring-lab.yaml")});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("ALREADY_EXISTS"), std::string::npos) << again.err;

  CommandResult deleted = Ctl({"jobs", "delete", "ring-lab"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_NE(deleted.out.find("deleted job ring-lab"), std::string::npos) << deleted.out;
  CommandResult gone = Ctl({"jobs", "show", "ring-lab"});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_NE(gone.err.find("NOT_FOUND"), std::string::npos) << gone.err;
  EXPECT_TRUE(DataRows(Ctl({"jobs", "list"}).out).empty());
}

TEST_F(PulsectlTest, DrainAndUndrainShowInTopology) {
  CommandResult drain = Ctl({"drain", "spine-0"});
  ASSERT_EQ(drain.exit_code, 0) << drain.err;
  EXPECT_EQ(drain.out.rfind("drained spine-0: ", 0), 0u) << drain.out;
  json topology = ParseJson(Ctl({"--json", "topology"}))["topology"];
  int drained = 0;
  for (const json& sw : topology["switches"]) {
    if (sw["drained"].get<bool>()) {
      ++drained;
      EXPECT_EQ(sw["name"], "spine-0");
    }
  }
  EXPECT_EQ(drained, 1);
  CommandResult table = Ctl({"topology"});
  EXPECT_NE(table.out.find("links not usable:"), std::string::npos) << table.out;

  CommandResult twice = Ctl({"drain", "spine-0"});
  EXPECT_EQ(twice.exit_code, 1);
  EXPECT_NE(twice.err.find("FAILED_PRECONDITION"), std::string::npos) << twice.err;

  CommandResult undrain = Ctl({"undrain", "spine-0"});
  ASSERT_EQ(undrain.exit_code, 0) << undrain.err;
  topology = ParseJson(Ctl({"--json", "topology"}))["topology"];
  for (const json& sw : topology["switches"]) EXPECT_FALSE(sw["drained"].get<bool>());

  CommandResult unknown = Ctl({"drain", "no-such-switch"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("NOT_FOUND"), std::string::npos) << unknown.err;
}

TEST_F(PulsectlTest, WatchStopsCleanlyOnInterrupt) {
  // The stream stays open (no --count); once the placed event is printed, Ctrl-C (SIGINT) ends
  // the command with exit 0 and the event on stdout.
  ASSERT_EQ(Ctl({"jobs", "place", "-f", JobFile("ring-lab.yaml")}).exit_code, 0);
  const std::string out_path = dir_ + "/watch.out";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    execl(PULSECTL_BINARY, PULSECTL_BINARY, "--server", server_.c_str(), "--insecure", "watch",
          "--from", "1", static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (ReadFile(out_path).find("ring-lab") == std::string::npos && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGINT);
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      FAIL() << "watch did not stop on SIGINT";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(WIFEXITED(status)) << "watch died of signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_NE(ReadFile(out_path).find("JOB_PLACED  ring-lab"), std::string::npos);
  EXPECT_EQ(Ctl({"jobs", "delete", "ring-lab"}).exit_code, 0);
}

TEST_F(PulsectlTest, HealthIsServing) {
  CommandResult health = Ctl({"health"});
  EXPECT_EQ(health.exit_code, 0) << health.err;
  EXPECT_EQ(health.out, "SERVING\n");
}

TEST_F(PulsectlTest, BadServerAddressIsAClearError) {
  // A loopback port nothing listens on: bind one, note it, close it.
  int probe = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(probe, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(probe, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string dead = absl::StrCat("127.0.0.1:", ntohs(address.sin_port));
  close(probe);

  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"topology"}, {"health"}, {"jobs", "list"}}) {
    std::vector<std::string> argv = {PULSECTL_BINARY, "--server",  dead,
                                     "--insecure",    "--timeout", "5s"};
    argv.insert(argv.end(), command.begin(), command.end());
    CommandResult result = RunCommand(argv, dir_);
    EXPECT_EQ(result.exit_code, 1) << command[0];
    EXPECT_NE(result.err.find("UNAVAILABLE"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find(dead), std::string::npos) << result.err;
    EXPECT_TRUE(result.out.empty()) << result.out;
  }
  CommandResult garbage = RunCommand(
      {PULSECTL_BINARY, "--server", "not a host:xyz", "--insecure", "--timeout", "5s", "topology"},
      dir_);
  EXPECT_EQ(garbage.exit_code, 1);
  EXPECT_NE(garbage.err.find("pulsectl: GetTopology at not a host:xyz: "), std::string::npos)
      << garbage.err;
}

TEST_F(PulsectlTest, BadJobFilesAreClearErrors) {
  CommandResult missing = Ctl({"jobs", "place", "-f", dir_ + "/no-such-job.yaml"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("no-such-job.yaml"), std::string::npos) << missing.err;

  const std::string unknown_key = WriteTemp("unknown-key.yaml",
                                            "id: x\nendpoints: [server-0/gpu-0, server-1/gpu-0]\n"
                                            "colour: blue\n");
  CommandResult bad_key = Ctl({"jobs", "place", "-f", unknown_key});
  EXPECT_EQ(bad_key.exit_code, 2);
  EXPECT_NE(bad_key.err.find("colour"), std::string::npos) << bad_key.err;

  const std::string not_yaml = WriteTemp("not-yaml.yaml", "id: [unclosed\n  : :\n");
  CommandResult broken = Ctl({"jobs", "place", "-f", not_yaml});
  EXPECT_EQ(broken.exit_code, 2);
  EXPECT_NE(broken.err.find("not-yaml.yaml"), std::string::npos) << broken.err;

  // Well-formed, but the fabric has no such GPU: the server's code and message come through.
  const std::string unknown_gpu =
      WriteTemp("unknown-gpu.yaml", "id: ghost\nendpoints: [server-0/gpu-0, server-99/gpu-0]\n");
  CommandResult ghost = Ctl({"jobs", "place", "-f", unknown_gpu});
  EXPECT_EQ(ghost.exit_code, 1);
  EXPECT_NE(ghost.err.find("server-99/gpu-0"), std::string::npos) << ghost.err;
  EXPECT_TRUE(DataRows(Ctl({"jobs", "list"}).out).empty());
}

TEST_F(PulsectlTest, BadCommandLinesAreUsageErrors) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{},
                                               {"frobnicate"},
                                               {"links", "--top", "many"},
                                               {"jobs", "place"},
                                               {"jobs", "show"},
                                               {"watch", "--count", "0"},
                                               {"--bogus", "topology"},
                                               {"--timeout", "soon", "topology"},
                                               {"--cert", "c.pem", "topology"}}) {
    std::vector<std::string> argv = {PULSECTL_BINARY, "--server", server_, "--insecure"};
    argv.insert(argv.end(), args.begin(), args.end());
    CommandResult result = RunCommand(argv, dir_);
    EXPECT_EQ(result.exit_code, 2) << absl::StrJoin(args, " ") << ": " << result.err;
    EXPECT_NE(result.err.find("usage: pulsectl"), std::string::npos) << result.err;
  }
}

TEST_F(PulsectlTest, SchedulerCommands) {
  // examples/leaf-spine.yaml has no node_names: servers keep their names.
  CommandResult slurm = Ctl({"topology", "export", "--format", "slurm"});
  ASSERT_EQ(slurm.exit_code, 0) << slurm.err;
  EXPECT_NE(slurm.out.find("\nSwitchName=leaf-0 Nodes=server-[0-1]\n"), std::string::npos)
      << slurm.out;
  const std::string path = dir_ + "/topology.conf";
  CommandResult written = Ctl({"topology", "export", "--format", "slurm", "-o", path});
  ASSERT_EQ(written.exit_code, 0) << written.err;
  EXPECT_EQ(ReadFile(path), slurm.out);

  CommandResult suggest = Ctl({"--json", "suggest", "--servers", "2", "--pattern", "all-to-all"});
  ASSERT_EQ(suggest.exit_code, 0) << suggest.err;
  json advice = ParseJson(suggest);
  EXPECT_EQ(advice["servers"].size(), 2u);
  EXPECT_TRUE(advice["non_blocking"].get<bool>()) << suggest.out;
  EXPECT_EQ(advice["leaves"], 1);

  CommandResult what_if = Ctl({"what-if", "--switch", "spine-0", "--link", "leaf-1:3"});
  ASSERT_EQ(what_if.exit_code, 0) << what_if.err;
  EXPECT_NE(what_if.out.find("failing: "), std::string::npos) << what_if.out;

  const std::string job = WriteTemp("dry.yaml",
                                    "id: dry-run-job\npattern: ring\nendpoints:\n"
                                    "  - server-[0-3]/gpu-0\n");
  CommandResult dry = Ctl({"jobs", "place", "-f", job, "--validate-only"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("validate only: nothing was placed"), std::string::npos) << dry.out;
  EXPECT_EQ(Ctl({"jobs", "show", "dry-run-job"}).exit_code, 1);

  EXPECT_EQ(Ctl({"topology", "export", "--format", "xml"}).exit_code, 2);
  EXPECT_EQ(Ctl({"topology", "export", "--watch"}).exit_code, 2);  // --watch needs -o
  EXPECT_EQ(Ctl({"suggest", "--servers", "many"}).exit_code, 2);
  CommandResult refused = Ctl({"what-if", "--link", "leaf-0:99"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("links[0]: no link at leaf-0:99"), std::string::npos) << refused.err;
}

}  // namespace
