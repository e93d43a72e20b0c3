// pulsectl: the Pulse controller's command line, a gRPC client of pulse.v1 for people and scripts.
//
//   pulsectl [flags] topology | jobs place -f FILE | jobs list | jobs show ID | jobs delete ID |
//            links [--top N] | watch [--from SEQ] [--count N] | drain SWITCH | undrain SWITCH |
//            health
//
// Exit codes: 0 success; 1 the call failed (gRPC status code and message on stderr) or, for
// `health`, the server is not SERVING; 2 bad command line or bad input file.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "controller/placement/job_file.h"
#include "northbound/pulsectl_discovery.h"
#include "northbound/pulsectl_format.h"
#include "northbound/pulsectl_health.h"
#include "northbound/pulsectl_hosts.h"
#include "northbound/pulsectl_qos.h"
#include "northbound/pulsectl_sched.h"
#include "pulse/v1/pulse.grpc.pb.h"
#include "pulse/v1/steering.grpc.pb.h"

namespace {

using pulse::northbound::FormatEvent;
using pulse::northbound::FormatJob;
using pulse::northbound::FormatJobList;
using pulse::northbound::FormatLinkLoads;
using pulse::northbound::FormatTopology;
using pulse::northbound::ToJson;

constexpr int kExitOk = 0;
constexpr int kExitCallFailed = 1;
constexpr int kExitUsage = 2;

constexpr char kUsage[] =
    R"(usage: pulsectl [flags] COMMAND [args]

commands:
  topology                  switches, links, servers and the scheduler's GPU groups
  topology export --format slurm|k8s-labels|volcano|json [-o FILE] [--watch]
                            the topology for a scheduler; --watch rewrites FILE on changes
  suggest --gpus N|--servers N [--pattern P] [--free a,b] [--exclude a,b] [--max-leaves N]
          [--require-non-blocking]
                            servers and rank order for a non-blocking job
  what-if [--link NODE:PORT]... [--switch NAME]...
                            what failing links or switches would do to the placed jobs
  discovery                 links found by LLDP against the intent (missing, miswired...)
  qos show|audit|export     QoS plan per port, switch audit, SONiC export (--format sonic
                            --switch S [--stride N]: port names Ethernet0, Ethernet<N>...)
  hosts [all]               NICs' addresses: intent or learned, port, first/last seen
  jobs place -f FILE [--validate-only]
                            place the job in a job YAML file (see controller/placement/job_file.h);
                            --validate-only: a dry run, nothing is placed
  jobs list                 placed jobs
  jobs show ID              one job with its flows, paths and UDP source ports
  jobs delete ID            remove a job and free its load
  jobs steering ID [--format json|hccl|nccl]
                            a steered job's UDP source ports for its hosts (json, default),
                            HCCL's MultiQpSrcPort.cfg lines, or NCCL environment settings
  links [--top N]           the N most loaded directed links (default 10; --top 0: all)
  watch [--from SEQ] [--count N]
                            stream events (Ctrl-C stops; --count stops after N events)
  drain SWITCH              move flows off a switch for maintenance
  undrain SWITCH            make a drained switch usable again
  health                    grpc.health.v1 check; exit 0 when SERVING
  health incidents [--open] lossless health incidents (PFC storms, gray links), SONiC switches

flags:
  --server HOST:PORT        controller address (default $PULSE_SERVER or 127.0.0.1:50051)
  --insecure                plaintext (lab only); otherwise TLS
  --ca FILE                 PEM CA that signed the server certificate (default: system roots)
  --cert FILE --key FILE    client certificate and key for mutual TLS
  --token TOKEN             bearer token (default $PULSE_TOKEN)
  --timeout DURATION        per-call deadline, "10s", "500ms" or seconds (default 10s;
                            watch has none unless given)
  --json                    proto JSON instead of tables (watch: one event per line)
)";

// The command line after parsing: global flags, per-command options, and the positionals.
struct Options {
  std::string server;
  bool insecure = false;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string token;
  absl::Duration timeout = absl::Seconds(10);
  bool timeout_given = false;
  bool json = false;
  bool help = false;
  std::string job_file;
  int top = 10;
  uint64_t from_sequence = 0;
  int64_t count = -1;  // -1: unbounded
  std::vector<std::string> args;
};

absl::StatusOr<absl::Duration> ParseTimeout(const std::string& text) {
  double seconds = 0;
  if (absl::SimpleAtod(text, &seconds)) {
    if (seconds > 0) return absl::Seconds(seconds);
  } else {
    absl::Duration duration;
    if (absl::ParseDuration(text, &duration) && duration > absl::ZeroDuration()) return duration;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--timeout: '", text, "' is not a positive duration (e.g. 10s, 500ms, 2.5)"));
}

absl::StatusOr<Options> ParseOptions(int argc, char** argv) {
  Options options;
  if (const char* server = std::getenv("PULSE_SERVER"); server != nullptr) options.server = server;
  if (options.server.empty()) options.server = "127.0.0.1:50051";
  if (const char* token = std::getenv("PULSE_TOKEN"); token != nullptr) options.token = token;

  const std::vector<std::string> valued = {"server", "ca",  "cert", "key",   "token",  "timeout",
                                           "file",   "top", "from", "count", "switch", "format"};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      for (++i; i < argc; ++i) options.args.push_back(argv[i]);
      break;
    }
    if (arg == "-h" || arg == "--help") {
      options.help = true;
      continue;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      options.args.push_back(arg);
      continue;
    }
    std::string name = arg == "-f"   ? "file"
                       : arg == "-o" ? "output"
                                     : std::string(absl::StripPrefix(arg, "--"));
    if (name == arg) return absl::InvalidArgumentError(absl::StrCat("unknown flag '", arg, "'"));
    // Flags of the scheduler commands (pulsectl_sched.h) and jobs place --validate-only: passed
    // on with the positionals.
    if (bool takes_value = false;
        name != "switch" && name != "format" &&
        (pulse::northbound::IsSchedFlag(name, &takes_value) || name == "validate-only")) {
      options.args.push_back(absl::StrCat("--", name));
      if (takes_value) {
        if (i + 1 >= argc) return absl::InvalidArgumentError(absl::StrCat(arg, " needs a value"));
        options.args.push_back(argv[++i]);
      }
      continue;
    }
    std::optional<std::string> value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (name == "insecure" || name == "json") {
      if (value.has_value()) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
      }
      (name == "insecure" ? options.insecure : options.json) = true;
      continue;
    }
    if (std::find(valued.begin(), valued.end(), name) == valued.end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag '", arg, "'"));
    }
    if (!value.has_value()) {
      if (i + 1 >= argc) return absl::InvalidArgumentError(absl::StrCat(arg, " needs a value"));
      value = argv[++i];
    }
    if (name == "server") {
      options.server = *value;
    } else if (name == "ca") {
      options.ca_file = *value;
    } else if (name == "cert") {
      options.cert_file = *value;
    } else if (name == "key") {
      options.key_file = *value;
    } else if (name == "token") {
      options.token = *value;
    } else if (name == "timeout") {
      absl::StatusOr<absl::Duration> timeout = ParseTimeout(*value);
      if (!timeout.ok()) return timeout.status();
      options.timeout = *timeout;
      options.timeout_given = true;
    } else if (name == "file") {
      options.job_file = *value;
    } else if (name == "switch" || name == "format") {  // qos subcommand options, passed on
      options.args.push_back(absl::StrCat("--", name));
      options.args.push_back(*value);
    } else if (name == "top") {
      if (!absl::SimpleAtoi(*value, &options.top) || options.top < 0 || options.top > 10000) {
        return absl::InvalidArgumentError(
            absl::StrCat("--top: '", *value, "' is not a number in 0..10000"));
      }
    } else if (name == "from") {
      if (!absl::SimpleAtoi(*value, &options.from_sequence)) {
        return absl::InvalidArgumentError(
            absl::StrCat("--from: '", *value, "' is not an event sequence number"));
      }
    } else if (name == "count") {
      if (!absl::SimpleAtoi(*value, &options.count) || options.count < 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("--count: '", *value, "' is not a positive number"));
      }
    }
  }
  if (options.server.empty()) return absl::InvalidArgumentError("--server: empty address");
  if (options.cert_file.empty() != options.key_file.empty()) {
    return absl::InvalidArgumentError("--cert and --key go together (mutual TLS)");
  }
  if (options.insecure && (!options.ca_file.empty() || !options.cert_file.empty())) {
    return absl::InvalidArgumentError("--insecure cannot be combined with --ca/--cert/--key");
  }
  return options;
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path, absl::string_view flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(flag, ": cannot read '", path, "'"));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const Options& options) {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.insecure) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    if (!options.ca_file.empty()) {
      absl::StatusOr<std::string> ca = ReadWholeFile(options.ca_file, "--ca");
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *ca;
    }
    if (!options.cert_file.empty()) {
      absl::StatusOr<std::string> cert = ReadWholeFile(options.cert_file, "--cert");
      if (!cert.ok()) return cert.status();
      absl::StatusOr<std::string> key = ReadWholeFile(options.key_file, "--key");
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *cert;
      ssl.pem_private_key = *key;
    }
    credentials = grpc::SslCredentials(ssl);
  }
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(256 * 1024 * 1024);  // a big fabric's topology is large
  return grpc::CreateCustomChannel(options.server, credentials, arguments);
}

// One client call's context: deadline and bearer token.
void PrepareContext(const Options& options, bool with_deadline, grpc::ClientContext* context) {
  if (with_deadline) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + options.timeout));
  }
  if (!options.token.empty()) {
    context->AddMetadata("authorization", absl::StrCat("Bearer ", options.token));
  }
}

int CallFailed(const grpc::Status& status, absl::string_view what, const Options& options) {
  static const std::map<grpc::StatusCode, const char*> kNames = {
      {grpc::OK, "OK"},
      {grpc::CANCELLED, "CANCELLED"},
      {grpc::UNKNOWN, "UNKNOWN"},
      {grpc::INVALID_ARGUMENT, "INVALID_ARGUMENT"},
      {grpc::DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED"},
      {grpc::NOT_FOUND, "NOT_FOUND"},
      {grpc::ALREADY_EXISTS, "ALREADY_EXISTS"},
      {grpc::PERMISSION_DENIED, "PERMISSION_DENIED"},
      {grpc::RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED"},
      {grpc::FAILED_PRECONDITION, "FAILED_PRECONDITION"},
      {grpc::ABORTED, "ABORTED"},
      {grpc::OUT_OF_RANGE, "OUT_OF_RANGE"},
      {grpc::UNIMPLEMENTED, "UNIMPLEMENTED"},
      {grpc::INTERNAL, "INTERNAL"},
      {grpc::UNAVAILABLE, "UNAVAILABLE"},
      {grpc::DATA_LOSS, "DATA_LOSS"},
      {grpc::UNAUTHENTICATED, "UNAUTHENTICATED"},
  };
  auto name = kNames.find(status.error_code());
  std::cerr << "pulsectl: " << what << " at " << options.server << ": "
            << (name == kNames.end() ? "?" : name->second) << " ("
            << static_cast<int>(status.error_code()) << "): " << status.error_message() << "\n";
  return kExitCallFailed;
}

int Usage(absl::string_view problem) {
  std::cerr << "pulsectl: " << problem << "\n\n" << kUsage;
  return kExitUsage;
}

// Prints `message` as JSON, or `table` for people.
int Print(const Options& options, const google::protobuf::Message& message,
          const std::function<std::string()>& table) {
  if (options.json) {
    absl::StatusOr<std::string> json = ToJson(message, /*one_line=*/false);
    if (!json.ok()) {
      std::cerr << "pulsectl: " << json.status().message() << "\n";
      return kExitCallFailed;
    }
    std::cout << *json;
  } else {
    std::cout << table();
  }
  std::cout.flush();
  return kExitOk;
}

pulse::v1::CollectivePattern PatternToProto(pulse::controller::CollectivePattern pattern) {
  using pulse::controller::CollectivePattern;
  switch (pattern) {
    case CollectivePattern::kExplicit:
      return pulse::v1::COLLECTIVE_PATTERN_EXPLICIT;
    case CollectivePattern::kRing:
      return pulse::v1::COLLECTIVE_PATTERN_RING;
    case CollectivePattern::kDoubleBinaryTree:
      return pulse::v1::COLLECTIVE_PATTERN_DOUBLE_BINARY_TREE;
    case CollectivePattern::kAllToAll:
      return pulse::v1::COLLECTIVE_PATTERN_ALL_TO_ALL;
    case CollectivePattern::kHalvingDoubling:
      return pulse::v1::COLLECTIVE_PATTERN_HALVING_DOUBLING;
    case CollectivePattern::kRailAligned:
      return pulse::v1::COLLECTIVE_PATTERN_RAIL_ALIGNED;
  }
  return pulse::v1::COLLECTIVE_PATTERN_UNSPECIFIED;
}

// A job file's JobSpec (endpoint ranges already expanded by the loader) as the API's JobSpec.
void JobSpecToProto(const pulse::controller::JobSpec& spec, pulse::v1::JobSpec* out) {
  out->set_id(spec.id);
  for (const std::string& endpoint : spec.endpoints) out->add_endpoints(endpoint);
  out->set_pattern(PatternToProto(spec.pattern));
  for (const pulse::controller::ExplicitFlow& flow : spec.explicit_flows) {
    pulse::v1::ExplicitFlow* explicit_flow = out->add_flows();
    explicit_flow->set_src(flow.src);
    explicit_flow->set_dst(flow.dst);
    explicit_flow->set_rate_bps(flow.rate_bps);
  }
  out->set_rate_bps(spec.rate_bps);
  out->set_traffic_class(spec.traffic_class);
  if (spec.enforcement == pulse::controller::Enforcement::kSteer)
    out->set_enforcement(pulse::v1::ENFORCEMENT_STEER);
  if (spec.enforcement == pulse::controller::Enforcement::kPin)
    out->set_enforcement(pulse::v1::ENFORCEMENT_PIN);
  out->set_strict(spec.strict);
  out->set_max_subflows(spec.max_subflows);
}

// `topology export`, `suggest`, `what-if` (pulsectl_sched.h).
int Sched(const Options& options, const std::shared_ptr<grpc::Channel>& channel) {
  grpc::Status status = pulse::northbound::RunSchedCommand(
      channel,
      [&](grpc::ClientContext* context, bool streaming) {
        PrepareContext(options, !streaming, context);
      },
      options.args, options.json, std::cout);
  if (status.error_details() == pulse::northbound::kSchedUsageError) {
    return Usage(status.error_message());
  }
  if (!status.ok()) return CallFailed(status, "SchedulerService", options);
  return kExitOk;
}

int Topology(const Options& options, const std::shared_ptr<grpc::Channel>& channel) {
  if (options.args.size() > 1 && options.args[1] == "export") return Sched(options, channel);
  if (options.args.size() != 1) return Usage("topology: unexpected argument");
  auto stub = pulse::v1::TopologyService::NewStub(channel);
  grpc::ClientContext context;
  PrepareContext(options, true, &context);
  pulse::v1::GetTopologyResponse response;
  grpc::Status status = stub->GetTopology(&context, {}, &response);
  if (!status.ok()) return CallFailed(status, "GetTopology", options);
  return Print(options, response, [&] { return FormatTopology(response.topology()); });
}

int Discovery(const Options& options, const std::shared_ptr<grpc::Channel>& channel) {
  if (options.args.size() != 1) return Usage("discovery: unexpected argument");
  grpc::Status status = pulse::northbound::RunDiscoveryCommand(
      channel, [&](grpc::ClientContext* context) { PrepareContext(options, true, context); },
      options.json, std::cout);
  if (!status.ok()) return CallFailed(status, "GetDiscovery", options);
  return 0;
}

int Hosts(const Options& options, const std::shared_ptr<grpc::Channel>& channel) {
  std::vector<std::string> args(options.args.begin() + 1, options.args.end());
  grpc::Status status = pulse::northbound::RunHostsCommand(
      channel, [&](grpc::ClientContext* context) { PrepareContext(options, true, context); }, args,
      options.json, std::cout);
  if (!status.ok()) return CallFailed(status, "ListHosts", options);
  return 0;
}

int Qos(const Options& options, const std::shared_ptr<grpc::Channel>& channel) {
  std::vector<std::string> args(options.args.begin() + 1, options.args.end());
  grpc::Status status = pulse::northbound::RunQosCommand(
      channel, [&](grpc::ClientContext* context) { PrepareContext(options, true, context); }, args,
      options.json, std::cout);
  if (!status.ok()) return CallFailed(status, "QosService", options);
  return 0;
}

int Jobs(const Options& options, const std::shared_ptr<grpc::Channel>& channel) {
  if (options.args.size() < 2)
    return Usage("jobs: give place, list, show ID, steering ID or delete ID");
  const std::string& verb = options.args[1];
  auto stub = pulse::v1::JobService::NewStub(channel);
  grpc::ClientContext context;
  if (verb == "place") {
    if (options.job_file.empty()) return Usage("jobs place: give the job file with -f FILE");
    const bool validate_only = options.args.size() == 3 && options.args[2] == "--validate-only";
    if (options.args.size() != 2 && !validate_only) return Usage("jobs place: unexpected argument");
    absl::StatusOr<pulse::controller::JobSpec> spec =
        pulse::controller::LoadJobFile(options.job_file);
    if (!spec.ok()) {
      std::cerr << "pulsectl: job file: " << spec.status().message() << "\n";
      return kExitUsage;
    }
    pulse::v1::PlaceJobRequest request;
    JobSpecToProto(*spec, request.mutable_job());
    request.set_validate_only(validate_only);
    PrepareContext(options, true, &context);
    pulse::v1::PlaceJobResponse response;
    grpc::Status status = stub->PlaceJob(&context, request, &response);
    if (!status.ok()) return CallFailed(status, "PlaceJob", options);
    return Print(options, response, [&] {
      if (validate_only) {
        return absl::StrCat(FormatJob(response.job()),
                            "validate only: nothing was placed, persisted or pushed\n");
      }
      return absl::StrCat(FormatJob(response.job()), "event sequence: ", response.event_sequence(),
                          "\n");
    });
  }
  if (verb == "list") {
    if (options.args.size() != 2) return Usage("jobs list: unexpected argument");
    PrepareContext(options, true, &context);
    pulse::v1::ListJobsResponse response;
    grpc::Status status = stub->ListJobs(&context, {}, &response);
    if (!status.ok()) return CallFailed(status, "ListJobs", options);
    while (!response.next_page_token().empty()) {  // replies are paged to stay under 4 MiB
      grpc::ClientContext page_context;
      PrepareContext(options, true, &page_context);
      pulse::v1::ListJobsRequest request;
      request.set_page_token(response.next_page_token());
      pulse::v1::ListJobsResponse page;
      status = stub->ListJobs(&page_context, request, &page);
      if (!status.ok()) return CallFailed(status, "ListJobs", options);
      for (pulse::v1::Job& job : *page.mutable_jobs()) response.add_jobs()->Swap(&job);
      response.set_next_page_token(page.next_page_token());
    }
    return Print(options, response, [&] { return FormatJobList(response); });
  }
  if (verb == "steering") {
    std::string format = "json";
    std::vector<std::string> ids;
    for (size_t i = 2; i < options.args.size(); ++i) {
      if (options.args[i] == "--format" && i + 1 < options.args.size()) {
        format = options.args[++i];
      } else {
        ids.push_back(options.args[i]);
      }
    }
    if (ids.size() != 1) return Usage("jobs steering: give one job ID");
    PrepareContext(options, true, &context);
    pulse::v1::GetJobSteeringRequest request;
    request.set_job_id(ids[0]);
    pulse::v1::GetJobSteeringResponse response;
    grpc::Status status =
        pulse::v1::SteeringService::NewStub(channel)->GetJobSteering(&context, request, &response);
    if (!status.ok()) return CallFailed(status, "GetJobSteering", options);
    absl::StatusOr<std::string> text = pulse::northbound::FormatSteering(response, format);
    if (!text.ok()) {
      std::cerr << "pulsectl: jobs steering: " << text.status().message() << "\n";
      return text.status().code() == absl::StatusCode::kInvalidArgument ? kExitUsage : 1;
    }
    std::cout << *text;
    if (!text->empty() && text->back() != '\n') std::cout << "\n";
    return 0;
  }
  if (verb == "show" || verb == "delete") {
    if (options.args.size() != 3) return Usage(absl::StrCat("jobs ", verb, ": give one job ID"));
    PrepareContext(options, true, &context);
    if (verb == "show") {
      pulse::v1::GetJobRequest request;
      request.set_id(options.args[2]);
      pulse::v1::GetJobResponse response;
      grpc::Status status = stub->GetJob(&context, request, &response);
      if (!status.ok()) return CallFailed(status, "GetJob", options);
      while (response.next_flow_offset() != 0) {  // a large job's flows come in pages
        grpc::ClientContext page_context;
        PrepareContext(options, true, &page_context);
        request.set_flow_offset(response.next_flow_offset());
        pulse::v1::GetJobResponse page;
        status = stub->GetJob(&page_context, request, &page);
        if (!status.ok()) return CallFailed(status, "GetJob", options);
        for (pulse::v1::Flow& flow : *page.mutable_job()->mutable_flows()) {
          response.mutable_job()->add_flows()->Swap(&flow);
        }
        response.set_next_flow_offset(page.next_flow_offset());
      }
      return Print(options, response, [&] { return FormatJob(response.job()); });
    }
    pulse::v1::DeleteJobRequest request;
    request.set_id(options.args[2]);
    pulse::v1::DeleteJobResponse response;
    grpc::Status status = stub->DeleteJob(&context, request, &response);
    if (!status.ok()) return CallFailed(status, "DeleteJob", options);
    return Print(options, response, [&] {
      return absl::StrCat("deleted job ", options.args[2], " (event sequence ",
                          response.event_sequence(), ")\n");
    });
  }
  return Usage(absl::StrCat("jobs: unknown verb '", verb, "'"));
}

int Links(const Options& options, const std::shared_ptr<grpc::Channel>& channel) {
  if (options.args.size() != 1) return Usage("links: unexpected argument");
  auto stub = pulse::v1::LinkService::NewStub(channel);
  grpc::ClientContext context;
  PrepareContext(options, true, &context);
  if (options.top == 0) {
    pulse::v1::ListLinksResponse response;
    grpc::Status status = stub->ListLinks(&context, {}, &response);
    if (!status.ok()) return CallFailed(status, "ListLinks", options);
    return Print(options, response, [&] { return FormatLinkLoads(response.links()); });
  }
  pulse::v1::TopLinksRequest request;
  request.set_n(options.top);
  pulse::v1::TopLinksResponse response;
  grpc::Status status = stub->TopLinks(&context, request, &response);
  if (!status.ok()) return CallFailed(status, "TopLinks", options);
  return Print(options, response, [&] { return FormatLinkLoads(response.links()); });
}

int Watch(const Options& options, const std::shared_ptr<grpc::Channel>& channel) {
  if (options.args.size() != 1) return Usage("watch: unexpected argument");
  auto stub = pulse::v1::EventService::NewStub(channel);
  grpc::ClientContext context;
  PrepareContext(options, options.timeout_given, &context);
  pulse::v1::WatchEventsRequest request;
  request.set_from_sequence(options.from_sequence);

  // Ctrl-C / SIGTERM: a thread polling sigtimedwait cancels the stream, so Read returns and the
  // command ends cleanly (no gRPC call from a signal handler). Run blocked both signals before
  // gRPC started threads; the watcher is joined before `context` goes away.
  std::atomic<bool> stop_watcher{false};
  std::thread signal_watcher([&context, &stop_watcher] {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    const timespec poll = {0, 100 * 1000 * 1000};
    while (!stop_watcher.load()) {
      if (sigtimedwait(&signals, nullptr, &poll) > 0) {
        context.TryCancel();
        return;
      }
    }
  });
  struct JoinOnExit {
    std::atomic<bool>* stop;
    std::thread* thread;
    ~JoinOnExit() {
      stop->store(true);
      thread->join();
    }
  } join_on_exit{&stop_watcher, &signal_watcher};

  std::unique_ptr<grpc::ClientReader<pulse::v1::Event>> reader =
      stub->WatchEvents(&context, request);
  pulse::v1::Event event;
  int64_t seen = 0;
  bool stopped_by_count = false;
  while (reader->Read(&event)) {
    if (options.json) {
      absl::StatusOr<std::string> json = ToJson(event, /*one_line=*/true);
      if (!json.ok()) {
        std::cerr << "pulsectl: " << json.status().message() << "\n";
        return kExitCallFailed;
      }
      std::cout << *json;
    } else {
      std::cout << FormatEvent(event);
    }
    std::cout.flush();
    if (options.count > 0 && ++seen >= options.count) {
      stopped_by_count = true;
      context.TryCancel();
      break;
    }
  }
  grpc::Status status = reader->Finish();
  if (stopped_by_count || status.ok()) return kExitOk;
  if (status.error_code() == grpc::CANCELLED) return kExitOk;  // Ctrl-C
  return CallFailed(status, "WatchEvents", options);
}

int Maintenance(const Options& options, const std::shared_ptr<grpc::Channel>& channel) {
  const std::string& verb = options.args[0];
  if (options.args.size() != 2) return Usage(absl::StrCat(verb, ": give one SWITCH name"));
  auto stub = pulse::v1::MaintenanceService::NewStub(channel);
  grpc::ClientContext context;
  PrepareContext(options, true, &context);
  if (verb == "drain") {
    pulse::v1::DrainSwitchRequest request;
    request.set_switch_name(options.args[1]);
    pulse::v1::DrainSwitchResponse response;
    grpc::Status status = stub->DrainSwitch(&context, request, &response);
    if (!status.ok()) return CallFailed(status, "DrainSwitch", options);
    return Print(options, response, [&] {
      return absl::StrCat("drained ", options.args[1], ": ", response.flows_moved(),
                          " flows moved, ", response.links_affected(),
                          " links unusable (event sequence ", response.event_sequence(), ")\n");
    });
  }
  pulse::v1::UndrainSwitchRequest request;
  request.set_switch_name(options.args[1]);
  pulse::v1::UndrainSwitchResponse response;
  grpc::Status status = stub->UndrainSwitch(&context, request, &response);
  if (!status.ok()) return CallFailed(status, "UndrainSwitch", options);
  return Print(options, response, [&] {
    return absl::StrCat("undrained ", options.args[1], ": ", response.links_affected(),
                        " links usable again, ", response.flows_moved(),
                        " flows moved (event sequence ", response.event_sequence(), ")\n");
  });
}

// grpc.health.v1.Health/Check for the whole server (empty service name), without generated
// health stubs (Debian ships none): the request is empty and SERVING is field 1 = 1 (08 01).
int Health(const Options& options, const std::shared_ptr<grpc::Channel>& channel) {
  if (options.args.size() >= 2 && options.args[1] == "incidents") {
    std::vector<std::string> args(options.args.begin() + 1, options.args.end());
    grpc::Status status = pulse::northbound::RunHealthIncidents(
        channel, [&](grpc::ClientContext* context) { PrepareContext(options, true, context); },
        args, options.json, std::cout);
    if (!status.ok()) return CallFailed(status, "LosslessHealthService", options);
    return 0;
  }
  if (options.args.size() != 1) return Usage("health: unexpected argument");
  grpc::GenericStub generic(channel);
  grpc::ClientContext context;
  PrepareContext(options, true, &context);
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  std::mutex mu;
  std::condition_variable done;
  std::optional<grpc::Status> result;
  generic.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                    &response, [&](grpc::Status status) {
                      std::lock_guard<std::mutex> lock(mu);
                      result = std::move(status);
                      done.notify_all();
                    });
  grpc::Status status;
  {
    std::unique_lock<std::mutex> lock(mu);
    done.wait(lock, [&] { return result.has_value(); });
    status = *result;
  }
  if (!status.ok()) return CallFailed(status, "Health/Check", options);
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (response.Dump(&slices).ok()) {
    for (const grpc::Slice& slice : slices) {
      bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
  }
  // HealthCheckResponse.status: 0 UNKNOWN, 1 SERVING, 2 NOT_SERVING, 3 SERVICE_UNKNOWN.
  int serving_status = 0;
  if (bytes.size() == 2 && bytes[0] == '\x08') serving_status = bytes[1];
  static const char* const kStatusNames[] = {"UNKNOWN", "SERVING", "NOT_SERVING",
                                             "SERVICE_UNKNOWN"};
  const char* name =
      serving_status >= 0 && serving_status <= 3 ? kStatusNames[serving_status] : "UNKNOWN";
  if (options.json) {
    std::cout << "{\n  \"status\": \"" << name << "\"\n}\n";
  } else {
    std::cout << name << "\n";
  }
  return serving_status == 1 ? kExitOk : kExitCallFailed;
}

int Run(int argc, char** argv) {
  absl::StatusOr<Options> parsed = ParseOptions(argc, argv);
  if (!parsed.ok()) return Usage(parsed.status().message());
  const Options& options = *parsed;
  if (options.help) {
    std::cout << kUsage;
    return kExitOk;
  }
  if (options.args.empty()) return Usage("no command");
  const std::string& command = options.args[0];

  // Commands by name; a QoS service (qos show|audit|export) joins here when the proto has it.
  using Handler = std::function<int(const Options&, const std::shared_ptr<grpc::Channel>&)>;
  const std::map<std::string, Handler> commands = {
      {"topology", Topology}, {"jobs", Jobs},           {"links", Links},
      {"watch", Watch},       {"drain", Maintenance},   {"undrain", Maintenance},
      {"health", Health},     {"discovery", Discovery}, {"qos", Qos},
      {"suggest", Sched},     {"what-if", Sched},       {"hosts", Hosts},
  };
  auto handler = commands.find(command);
  if (handler == commands.end()) return Usage(absl::StrCat("unknown command '", command, "'"));

  if (command == "watch") {
    // Block the stop signals before gRPC starts threads, so only Watch's sigwait sees them.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(options);
  if (!channel.ok()) {
    std::cerr << "pulsectl: " << channel.status().message() << "\n";
    return kExitUsage;
  }
  return handler->second(options, *channel);
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
