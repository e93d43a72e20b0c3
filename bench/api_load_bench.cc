// API load benchmark: drives a real pulse-controller daemon over gRPC (pulse.v1 JobService).
//
// Spawns the daemon (planning mode, plaintext on 127.0.0.1, a free port) on a fabric with at
// least 1,024 NICs, then measures:
//   case=ring-1024gpu-place        PlaceJob latency of a 1,024-GPU ring (place + delete, N times)
//   case=ring-1024gpu-delete       the DeleteJob latency of the same loop
//   case=concurrent-2nic-place     8 client threads placing 2-NIC jobs (place then delete) for a
//                                  fixed time: PlaceJob latency, PlaceJob calls per second
//   case=concurrent-2nic-all-calls the same run counting PlaceJob and DeleteJob calls together
// One line each: case=<name> p50_ms=.. p99_ms=.. calls_per_s=.. (plus calls= errors=).
// Bounded: every RPC has a deadline and a watchdog kills the daemon and exits after
// --max_seconds. The daemon is stopped (SIGTERM, then SIGKILL) and its temp dir removed at the end.
//
// Usage: pulse_api_load_bench [--daemon PATH] [--fabric FILE] [--iterations N] [--seconds S]
//                             [--threads T] [--max_seconds S]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "pulse/v1/pulse.grpc.pb.h"
#include "topology/intent.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string daemon = PULSE_CONTROLLER_BINARY;
  std::string fabric = PULSE_SOURCE_DIR "/examples/leaf-spine-64x64.yaml";
  int iterations = 100;
  double seconds = 5;
  int threads = 8;
  double max_seconds = 300;
};

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "pulse_api_load_bench: %s\n", message.c_str());
  std::fflush(stderr);
  std::_Exit(1);
}

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

void PrintCase(const std::string& name, const std::vector<double>& latencies_ms, double wall_s,
               size_t calls, size_t errors) {
  std::printf("case=%s p50_ms=%.2f p99_ms=%.2f calls_per_s=%.1f calls=%zu errors=%zu\n",
              name.c_str(), Percentile(latencies_ms, 50), Percentile(latencies_ms, 99),
              wall_s > 0 ? static_cast<double>(calls) / wall_s : 0, calls, errors);
  std::fflush(stdout);
}

// The spawned daemon; the watchdog and the normal exit path both stop it.
std::atomic<pid_t> g_daemon{-1};
std::string g_temp_dir;

void StopDaemon() {
  pid_t pid = g_daemon.exchange(-1);
  if (pid > 0) {
    kill(pid, SIGTERM);
    for (int i = 0; i < 100; ++i) {  // up to 5 s for a clean shutdown
      if (waitpid(pid, nullptr, WNOHANG) == pid) {
        pid = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
  if (!g_temp_dir.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(g_temp_dir, ignored);
  }
}

// Writes the config, starts the daemon, and returns its API port once it is serving.
int StartDaemon(const Options& options) {
  char dir_template[] = "/tmp/pulse-api-load-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) Die("mkdtemp failed");
  g_temp_dir = dir_template;
  const std::string config = g_temp_dir + "/pulse.yaml";
  const std::string port_file = g_temp_dir + "/port";
  std::ofstream(config) << "listen: 127.0.0.1:0\n"
                        << "fabric: " << std::filesystem::absolute(options.fabric).string() << "\n"
                        << "insecure: true\n"
                        << "log_level: warning\n";
  pid_t pid = fork();
  if (pid < 0) Die("fork failed");
  if (pid == 0) {
    const std::string port_flag = "--port_file=" + port_file;
    const std::string config_flag = "--config=" + config;
    execl(options.daemon.c_str(), options.daemon.c_str(), config_flag.c_str(), port_flag.c_str(),
          static_cast<char*>(nullptr));
    std::fprintf(stderr, "exec %s: %s\n", options.daemon.c_str(), std::strerror(errno));
    std::_Exit(127);
  }
  g_daemon = pid;
  const auto start = Clock::now();
  while (MsSince(start) < 60'000) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      g_daemon = -1;
      Die(absl::StrCat("daemon exited early (status ", status, "); config ", config));
    }
    std::ifstream in(port_file);
    int port = 0;
    if (in >> port && port > 0) return port;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  StopDaemon();
  Die("daemon did not report its port within 60 s");
}

grpc::Status Place(pulse::v1::JobService::Stub& stub, const pulse::v1::JobSpec& spec, double* ms) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  pulse::v1::PlaceJobRequest request;
  *request.mutable_job() = spec;
  pulse::v1::PlaceJobResponse response;
  const auto start = Clock::now();
  grpc::Status status = stub.PlaceJob(&context, request, &response);
  *ms = MsSince(start);
  return status;
}

grpc::Status Delete(pulse::v1::JobService::Stub& stub, const std::string& id, double* ms) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  pulse::v1::DeleteJobRequest request;
  request.set_id(id);
  pulse::v1::DeleteJobResponse response;
  const auto start = Clock::now();
  grpc::Status status = stub.DeleteJob(&context, request, &response);
  *ms = MsSince(start);
  return status;
}

bool ParseArgs(int argc, char** argv, Options* options) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char* name) -> const char* {
      if (arg != name || i + 1 >= argc) return nullptr;
      return argv[++i];
    };
    if (const char* v = value("--daemon")) {
      options->daemon = v;
    } else if (const char* v = value("--fabric")) {
      options->fabric = v;
    } else if (const char* v = value("--iterations")) {
      options->iterations = std::max(1, std::atoi(v));
    } else if (const char* v = value("--seconds")) {
      options->seconds = std::max(0.1, std::atof(v));
    } else if (const char* v = value("--threads")) {
      options->threads = std::max(1, std::atoi(v));
    } else if (const char* v = value("--max_seconds")) {
      options->max_seconds = std::max(1.0, std::atof(v));
    } else {
      const bool help = arg == "--help" || arg == "-h";
      if (!help) std::fprintf(stderr, "unknown or incomplete argument '%s'\n", arg.c_str());
      std::fprintf(help ? stdout : stderr,
                   "usage: %s [--daemon PATH] [--fabric INTENT] [--iterations N] [--seconds S] "
                   "[--threads N] [--max_seconds S]\n",
                   argv[0]);
      return false;
    }
  }
  return true;
}

int Main(int argc, char** argv) {
  Options options;
  if (!ParseArgs(argc, argv, &options)) {
    const bool help =
        argc == 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h");
    return help ? 0 : 2;
  }
  auto intent = pulse::topology::LoadIntentFile(options.fabric);
  if (!intent.ok()) Die(std::string(intent.status().message()));
  const pulse::topology::Fabric& fabric = intent->fabric;
  if (fabric.nics().size() < 1024) {
    Die(absl::StrCat(options.fabric, " has ", fabric.nics().size(), " NICs; need >= 1024"));
  }
  // Ring endpoints: 1,024 GPUs (NICs when the fabric has fewer GPUs), in random rank order as
  // from a scheduler that ignores topology.
  std::vector<std::string> ring_endpoints;
  if (fabric.gpus().size() >= 1024) {
    for (size_t i = 0; i < 1024; ++i) ring_endpoints.push_back(fabric.gpus()[i].name);
  } else {
    for (size_t i = 0; i < 1024; ++i) ring_endpoints.push_back(fabric.node(fabric.nics()[i]).name);
  }
  std::mt19937_64 rng(7);
  std::shuffle(ring_endpoints.begin(), ring_endpoints.end(), rng);
  std::vector<std::string> nics;
  for (auto nic : fabric.nics()) nics.push_back(fabric.node(nic).name);

  // Watchdog: whatever happens, the daemon does not outlive the bench's time budget.
  std::thread([max_ms = options.max_seconds * 1000] {
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(max_ms));
    std::fprintf(stderr, "pulse_api_load_bench: time budget exceeded, stopping\n");
    StopDaemon();
    std::_Exit(1);
  }).detach();

  const int port = StartDaemon(options);
  const std::string target = absl::StrCat("127.0.0.1:", port);
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    StopDaemon();
    Die("cannot connect to " + target);
  }
  std::printf("daemon %s on %s, fabric %s: %zu NICs, %zu GPUs\n", options.daemon.c_str(),
              target.c_str(), intent->name.c_str(), fabric.nics().size(), fabric.gpus().size());

  // 1. Latency of one large job, serially.
  {
    auto stub = pulse::v1::JobService::NewStub(channel);
    pulse::v1::JobSpec spec;
    spec.set_id("ring-1024");
    spec.set_pattern(pulse::v1::COLLECTIVE_PATTERN_RING);
    for (const auto& e : ring_endpoints) spec.add_endpoints(e);
    std::vector<double> place_ms, delete_ms;
    size_t errors = 0;
    double place_total_ms = 0, delete_total_ms = 0;
    for (int i = 0; i < options.iterations; ++i) {
      double ms = 0;
      grpc::Status placed = Place(*stub, spec, &ms);
      if (!placed.ok()) {
        StopDaemon();
        Die("PlaceJob ring-1024: " + placed.error_message());
      }
      place_ms.push_back(ms);
      place_total_ms += ms;
      grpc::Status deleted = Delete(*stub, spec.id(), &ms);
      errors += !deleted.ok();
      delete_ms.push_back(ms);
      delete_total_ms += ms;
    }
    PrintCase("ring-1024gpu-place", place_ms, place_total_ms / 1000, place_ms.size(), 0);
    PrintCase("ring-1024gpu-delete", delete_ms, delete_total_ms / 1000, delete_ms.size(), errors);
  }

  // 2. Throughput of small jobs from concurrent clients (one stub each, one shared channel).
  {
    std::mutex mu;
    std::vector<double> place_ms, all_ms;
    std::atomic<size_t> errors{0};
    const auto start = Clock::now();
    const auto stop_at = start + std::chrono::duration<double>(options.seconds);
    std::vector<std::thread> threads;
    for (int t = 0; t < options.threads; ++t) {
      threads.emplace_back([&, t] {
        auto stub = pulse::v1::JobService::NewStub(channel);
        std::mt19937_64 local(1000 + t);
        std::vector<double> my_place, my_all;
        for (int i = 0; Clock::now() < stop_at; ++i) {
          pulse::v1::JobSpec spec;
          spec.set_id(absl::StrCat("small-", t, "-", i));
          spec.set_pattern(pulse::v1::COLLECTIVE_PATTERN_RING);
          const size_t a = local() % nics.size();
          size_t b = local() % nics.size();
          if (b == a) b = (a + 1) % nics.size();
          spec.add_endpoints(nics[a]);
          spec.add_endpoints(nics[b]);
          double ms = 0;
          grpc::Status placed = Place(*stub, spec, &ms);
          my_place.push_back(ms);
          my_all.push_back(ms);
          if (!placed.ok()) {
            ++errors;
            continue;
          }
          grpc::Status deleted = Delete(*stub, spec.id(), &ms);
          my_all.push_back(ms);
          if (!deleted.ok()) ++errors;
        }
        std::lock_guard<std::mutex> lock(mu);
        place_ms.insert(place_ms.end(), my_place.begin(), my_place.end());
        all_ms.insert(all_ms.end(), my_all.begin(), my_all.end());
      });
    }
    for (auto& th : threads) th.join();
    const double wall_s = MsSince(start) / 1000;
    PrintCase(absl::StrCat("concurrent-", options.threads, "x-2nic-place"), place_ms, wall_s,
              place_ms.size(), errors);
    PrintCase(absl::StrCat("concurrent-", options.threads, "x-2nic-all-calls"), all_ms, wall_s,
              all_ms.size(), errors);
  }
  StopDaemon();
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Main(argc, argv); }
