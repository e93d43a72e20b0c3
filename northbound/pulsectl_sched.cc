#include "northbound/pulsectl_sched.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "pulse/v1/pulse.grpc.pb.h"
#include "pulse/v1/scheduler.grpc.pb.h"

namespace pulse::northbound {
namespace {

grpc::Status Bad(absl::string_view message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(message),
                      std::string(kSchedUsageError));
}

// "--name value" pairs and bare words of args[1..].
struct Parsed {
  std::multimap<std::string, std::string> flags;  // value "" for booleans
  std::vector<std::string> words;
};

grpc::Status Parse(const std::vector<std::string>& args, size_t from, Parsed* out) {
  for (size_t i = from; i < args.size(); ++i) {
    if (absl::StartsWith(args[i], "--")) {
      std::string name = args[i].substr(2);
      bool takes_value = false;
      if (!IsSchedFlag(name, &takes_value)) return Bad(absl::StrCat("unknown flag --", name));
      if (takes_value) {
        if (i + 1 >= args.size()) return Bad(absl::StrCat("--", name, " needs a value"));
        out->flags.emplace(name, args[++i]);
      } else {
        out->flags.emplace(name, "");
      }
    } else {
      out->words.push_back(args[i]);
    }
  }
  return grpc::Status::OK;
}

std::string Flag(const Parsed& p, const std::string& name) {
  auto it = p.flags.find(name);
  return it == p.flags.end() ? "" : it->second;
}

grpc::Status PrintJson(const google::protobuf::Message& message, std::ostream& out) {
  std::string text;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  if (!google::protobuf::util::MessageToJsonString(message, &text, options).ok()) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "cannot print JSON");
  }
  out << text;
  return grpc::Status::OK;
}

// Replaces `path` whole: readers see the old file or the new one, never half of it.
grpc::Status WriteWhole(const std::string& path, const std::string& text) {
  const std::string tmp = absl::StrCat(path, ".tmp");
  {
    std::ofstream file(tmp, std::ios::binary | std::ios::trunc);
    file << text;
    if (!file.flush()) return Bad(absl::StrCat("-o: cannot write '", tmp, "'"));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Bad(absl::StrCat("-o: cannot rename '", tmp, "' to '", path, "'"));
  }
  return grpc::Status::OK;
}

bool ChangesTopology(pulse::v1::EventType type) {
  switch (type) {
    case pulse::v1::EVENT_TYPE_LINK_DOWN:
    case pulse::v1::EVENT_TYPE_LINK_UP:
    case pulse::v1::EVENT_TYPE_SWITCH_CONNECTED:
    case pulse::v1::EVENT_TYPE_SWITCH_LOST:
    case pulse::v1::EVENT_TYPE_SWITCH_DRAINED:
    case pulse::v1::EVENT_TYPE_SWITCH_UNDRAINED:
    case pulse::v1::EVENT_TYPE_DISCOVERY_MISMATCH:
    case pulse::v1::EVENT_TYPE_RESYNC_NEEDED:
      return true;
    default:
      return false;
  }
}

grpc::Status Export(const std::shared_ptr<grpc::Channel>& channel, const PrepareCall& prepare,
                    const Parsed& p, bool json, std::ostream& out) {
  static const std::map<std::string, pulse::v1::TopologyFormat> kFormats = {
      {"slurm", pulse::v1::TOPOLOGY_FORMAT_SLURM},
      {"k8s-labels", pulse::v1::TOPOLOGY_FORMAT_K8S_LABELS},
      {"volcano", pulse::v1::TOPOLOGY_FORMAT_VOLCANO},
      {"json", pulse::v1::TOPOLOGY_FORMAT_JSON}};
  const std::string format = Flag(p, "format").empty() ? "json" : Flag(p, "format");
  auto f = kFormats.find(format);
  if (f == kFormats.end()) {
    return Bad(
        absl::StrCat("--format: '", format, "' (expected slurm, k8s-labels, volcano, json)"));
  }
  const std::string output = Flag(p, "output");
  const bool watch = p.flags.count("watch") > 0;
  if (watch && output.empty()) return Bad("--watch needs -o FILE");
  auto stub = pulse::v1::SchedulerService::NewStub(channel);
  pulse::v1::ExportTopologyRequest request;
  request.set_format(f->second);

  std::string last_text;
  uint64_t last_sequence = 0;
  auto export_once = [&]() -> grpc::Status {
    grpc::ClientContext context;
    prepare(&context, false);
    pulse::v1::ExportTopologyResponse response;
    grpc::Status status = stub->ExportTopology(&context, request, &response);
    if (!status.ok()) return status;
    last_sequence = std::max(last_sequence, response.event_sequence());
    if (output.empty()) {
      if (json) return PrintJson(response, out);
      out << response.text();
      return grpc::Status::OK;
    }
    if (response.text() == last_text) return grpc::Status::OK;
    last_text = response.text();
    grpc::Status written = WriteWhole(output, response.text());
    if (written.ok() && watch) {
      std::cerr << "pulsectl: wrote " << output << " (event " << response.event_sequence() << ", "
                << response.degraded_blocks() << " degraded blocks)\n";
    }
    return written;
  };
  if (grpc::Status s = export_once(); !s.ok() || !watch) return s;

  // Follow events; on a stream error (controller restart, fell behind) re-export and watch again.
  auto events = pulse::v1::EventService::NewStub(channel);
  for (;;) {
    grpc::ClientContext context;
    prepare(&context, true);
    pulse::v1::WatchEventsRequest watch_request;
    watch_request.set_from_sequence(last_sequence + 1);
    std::unique_ptr<grpc::ClientReader<pulse::v1::Event>> reader =
        events->WatchEvents(&context, watch_request);
    pulse::v1::Event event;
    while (reader->Read(&event)) {
      last_sequence = event.sequence();
      if (!ChangesTopology(event.type())) continue;
      if (grpc::Status s = export_once(); !s.ok()) {
        std::cerr << "pulsectl: export failed: " << s.error_message() << "\n";
      }
    }
    grpc::Status status = reader->Finish();
    std::cerr << "pulsectl: event stream ended (" << status.error_message()
              << "); re-exporting and watching again\n";
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    if (status.error_code() == grpc::StatusCode::OUT_OF_RANGE) last_sequence = 0;
    // After OUT_OF_RANGE the watch resumes from what this export reflects.
    while (!export_once().ok()) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

std::vector<std::string> List(const Parsed& p, const std::string& name) {
  std::vector<std::string> items;
  auto [lo, hi] = p.flags.equal_range(name);
  for (auto it = lo; it != hi; ++it) {
    for (absl::string_view item : absl::StrSplit(it->second, ',', absl::SkipEmpty())) {
      items.emplace_back(item);
    }
  }
  return items;
}

grpc::Status Suggest(const std::shared_ptr<grpc::Channel>& channel, const PrepareCall& prepare,
                     const Parsed& p, bool json, std::ostream& out) {
  pulse::v1::SuggestServersRequest request;
  auto number = [&](const std::string& name, int* value) -> grpc::Status {
    std::string text = Flag(p, name);
    if (text.empty()) return grpc::Status::OK;
    if (!absl::SimpleAtoi(text, value) || *value < 0) {
      return Bad(absl::StrCat("--", name, ": '", text, "' is not a count"));
    }
    return grpc::Status::OK;
  };
  int gpus = 0, servers = 0, max_leaves = 0;
  for (auto [name, value] : {std::pair<std::string, int*>{"gpus", &gpus},
                             {"servers", &servers},
                             {"max-leaves", &max_leaves}}) {
    if (grpc::Status s = number(name, value); !s.ok()) return s;
  }
  request.set_gpu_count(gpus);
  request.set_server_count(servers);
  request.set_max_leaves(max_leaves);
  if (std::string pattern = Flag(p, "pattern"); !pattern.empty()) {
    static const std::map<std::string, pulse::v1::CollectivePattern> kPatterns = {
        {"ring", pulse::v1::COLLECTIVE_PATTERN_RING},
        {"double-binary-tree", pulse::v1::COLLECTIVE_PATTERN_DOUBLE_BINARY_TREE},
        {"all-to-all", pulse::v1::COLLECTIVE_PATTERN_ALL_TO_ALL},
        {"halving-doubling", pulse::v1::COLLECTIVE_PATTERN_HALVING_DOUBLING},
        {"rail-aligned", pulse::v1::COLLECTIVE_PATTERN_RAIL_ALIGNED}};
    auto it = kPatterns.find(pattern);
    if (it == kPatterns.end()) return Bad(absl::StrCat("--pattern: unknown '", pattern, "'"));
    request.set_pattern(it->second);
  }
  for (const std::string& s : List(p, "free")) request.add_free_servers(s);
  for (const std::string& s : List(p, "exclude")) request.add_exclude_servers(s);
  request.set_require_non_blocking(p.flags.count("require-non-blocking") > 0);
  auto stub = pulse::v1::SchedulerService::NewStub(channel);
  grpc::ClientContext context;
  prepare(&context, false);
  pulse::v1::SuggestServersResponse response;
  grpc::Status status = stub->SuggestServers(&context, request, &response);
  if (!status.ok()) return status;
  if (json) return PrintJson(response, out);
  out << FormatSuggestion(response);
  return grpc::Status::OK;
}

grpc::Status WhatIf(const std::shared_ptr<grpc::Channel>& channel, const PrepareCall& prepare,
                    const Parsed& p, bool json, std::ostream& out) {
  pulse::v1::WhatIfFailureRequest request;
  for (const std::string& l : List(p, "link")) request.add_links(l);
  for (const std::string& s : List(p, "switch")) request.add_switches(s);
  auto stub = pulse::v1::SchedulerService::NewStub(channel);
  grpc::ClientContext context;
  prepare(&context, false);
  pulse::v1::WhatIfFailureResponse response;
  grpc::Status status = stub->WhatIfFailure(&context, request, &response);
  if (!status.ok()) return status;
  if (json) return PrintJson(response, out);
  out << FormatWhatIf(response);
  return grpc::Status::OK;
}

}  // namespace

bool IsSchedFlag(absl::string_view name, bool* takes_value) {
  static const std::set<std::string> kValued = {"format",  "output", "gpus",    "servers",
                                                "pattern", "free",   "exclude", "max-leaves",
                                                "link",    "switch"};
  static const std::set<std::string> kBoolean = {"watch", "require-non-blocking"};
  if (kValued.count(std::string(name))) {
    *takes_value = true;
    return true;
  }
  if (kBoolean.count(std::string(name))) {
    *takes_value = false;
    return true;
  }
  return false;
}

grpc::Status RunSchedCommand(const std::shared_ptr<grpc::Channel>& channel,
                             const PrepareCall& prepare, const std::vector<std::string>& args,
                             bool json, std::ostream& out) {
  if (args.empty()) return Bad("no command");
  Parsed p;
  if (args[0] == "topology") {
    if (args.size() < 2 || args[1] != "export") return Bad("topology: give export");
    if (grpc::Status s = Parse(args, 2, &p); !s.ok()) return s;
    if (!p.words.empty())
      return Bad(absl::StrCat("topology export: unexpected '", p.words[0], "'"));
    return Export(channel, prepare, p, json, out);
  }
  if (grpc::Status s = Parse(args, 1, &p); !s.ok()) return s;
  if (!p.words.empty()) return Bad(absl::StrCat(args[0], ": unexpected '", p.words[0], "'"));
  if (args[0] == "suggest") return Suggest(channel, prepare, p, json, out);
  if (args[0] == "what-if") return WhatIf(channel, prepare, p, json, out);
  return Bad(absl::StrCat("unknown command '", args[0], "'"));
}

std::string FormatSuggestion(const pulse::v1::SuggestServersResponse& r) {
  std::string out = absl::StrCat(
      r.non_blocking() ? "non-blocking" : "BLOCKING", ": ", r.servers_size(), " servers over ",
      r.leaves(), " leaf blocks, max link load ", absl::StrFormat("%.3f", r.max_link_load()), " (",
      r.candidates_evaluated(), " candidates tried)\n");
  absl::StrAppend(&out, "rank order: ");
  for (int i = 0; i < r.servers_size(); ++i) {
    absl::StrAppend(&out, i ? ", " : "", r.servers(i));
    if (i < r.node_names_size() && r.node_names(i) != r.servers(i)) {
      absl::StrAppend(&out, " (", r.node_names(i), ")");
    }
  }
  absl::StrAppend(&out, "\nendpoints: ", absl::StrJoin(r.endpoints(), ","),
                  "\nreason: ", r.reason(), "\n");
  return out;
}

std::string FormatWhatIf(const pulse::v1::WhatIfFailureResponse& r) {
  std::string out = absl::StrCat(
      "failing: ", absl::StrJoin(r.failed_links(), "; "), "\n", r.flows_moved(), " flows moved, ",
      r.flows_unplaced(), " unplaced; max link load ",
      absl::StrFormat("%.3f -> %.3f", r.max_link_load_before(), r.max_link_load_after()), "\n");
  for (const pulse::v1::JobImpact& j : r.affected_jobs()) {
    absl::StrAppend(&out, absl::StrFormat("  %-24s moved %d unplaced %d load %.3f -> %.3f%s\n",
                                          j.job_id(), j.flows_moved(), j.flows_unplaced(),
                                          j.max_link_load_before(), j.max_link_load_after(),
                                          j.loses_non_blocking() ? "  LOSES NON-BLOCKING" : ""));
  }
  if (r.affected_jobs().empty()) absl::StrAppend(&out, "  no job affected\n");
  return out;
}

}  // namespace pulse::northbound
