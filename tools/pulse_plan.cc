// pulse-plan: place jobs on a fabric offline and print a summary of the load they put on it.
//
//   pulse-plan --fabric examples/leaf-spine.yaml --job examples/ring.yaml [--job more.yaml ...]
//              [--fail-link LINK ...] [--top N] [--channels top|all] [--all-links] [--flows]
//              [--steer]
//
// Jobs are placed in the order given, each on top of the previous ones (as the controller
// would). --fail-link takes a link as "switch:port" of either end (e.g. "leaf-0:3") and fails it
// after placing, showing which flows move. The output is sized for a person: the N (--top,
// default 20) most loaded channels, one line per job, and the totals (jobs, flows, fabric max
// utilisation, how many channels carry load). A large job loads hundreds of thousands of
// channels (393,599 for halving-doubling over 65,536 GPUs of a k=74 fat-tree), so the full list,
// busiest first, is only printed with --channels all (every channel, idle ones too, with
// --all-links). --flows lists every placed flow with its path; --steer computes the UDP source
// port that makes CRC-32 5-tuple ECMP (seed 0 on every switch) follow each path (shown with
// --flows). Flags take their value as "--top 5" or "--top=5". Exit status: 0 placed, 1 bad input
// or refused placement.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "controller/placement/job_file.h"
#include "controller/placement/placement.h"
#include "topology/intent.h"

namespace {

using pulse::controller::JobPlacement;
using pulse::controller::Placement;
using pulse::topology::DirectedLinkId;
using pulse::topology::Fabric;

constexpr char kUsage[] =
    "usage: pulse-plan --fabric FABRIC.yaml --job JOB.yaml [--job JOB.yaml ...]\n"
    "                  [--fail-link SWITCH:PORT ...] [--top N] [--channels top|all]\n"
    "                  [--all-links] [--flows] [--steer]\n"
    "Places the jobs in order on the fabric and prints the most loaded channels, one line per\n"
    "job and the totals (jobs, flows, max utilisation, loaded channels).\n"
    "  --fabric FILE       fabric intent (YAML)\n"
    "  --job FILE          job file (YAML); repeat to place several, in order\n"
    "  --fail-link SW:PORT fail the link on that switch port after placing; shows the moves\n"
    "  --top N             list the N most loaded channels (default 20; 0 lists none)\n"
    "  --channels top|all  all: list every loaded channel, busiest first, instead of the top N\n"
    "  --all-links         list every channel, idle ones too (implies --channels all)\n"
    "  --flows             list every placed flow with its path\n"
    "  --steer             compute each flow's UDP source port for CRC-32 5-tuple ECMP\n"
    "Flags take their value as '--top 5' or '--top=5'.\n";

constexpr int kDefaultTop = 20;

int Fail(const std::string& message) {
  std::fprintf(stderr, "pulse-plan: %s\n", message.c_str());
  return 1;
}

// "leaf-0:3" -> the link plugged into port 3 of leaf-0.
absl::StatusOr<pulse::topology::LinkId> FindLink(const Fabric& fabric, const std::string& text) {
  std::vector<std::string> parts = absl::StrSplit(text, absl::MaxSplits(':', 1));
  int port = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[1], &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--fail-link '", text, "': expected SWITCH:PORT"));
  }
  auto node = fabric.FindNode(parts[0]);
  if (!node.ok())
    return absl::InvalidArgumentError(absl::StrCat("--fail-link: ", node.status().message()));
  auto link = fabric.LinkAtPort(*node, port);
  if (!link)
    return absl::InvalidArgumentError(
        absl::StrCat("--fail-link '", text, "': no link on that port"));
  return *link;
}

// A channel carrying less than this is idle: what is left after flows move off a channel can
// be rounding dust (5.7e-6 b/s seen on a 100G link), not load.
constexpr double kLoadedFromBps = 1.0;

bool Loaded(const Placement& p, DirectedLinkId d) { return p.LoadBps(d) >= kLoadedFromBps; }

// The loaded channels (every channel with `idle`), busiest first; ties keep channel order.
std::vector<DirectedLinkId> ChannelsByUtilisation(const Placement& p, bool idle) {
  std::vector<DirectedLinkId> channels;
  for (int d = 0; d < p.fabric().num_directed_links(); ++d) {
    if (idle || Loaded(p, d)) channels.push_back(d);
  }
  std::stable_sort(channels.begin(), channels.end(),
                   [&](int a, int b) { return p.Utilisation(a) > p.Utilisation(b); });
  return channels;
}

// The first `count` of `channels`, one line each.
void PrintChannels(const Placement& p, const std::vector<DirectedLinkId>& channels, size_t count) {
  if (count == 0) return;
  std::printf("%-44s %12s %12s %8s %s\n", "channel", "load_gbps", "capacity", "util", "");
  for (size_t i = 0; i < count && i < channels.size(); ++i) {
    const DirectedLinkId d = channels[i];
    const auto& link = p.fabric().link(Fabric::LinkOf(d));
    std::printf("%-44s %12.2f %12.0f %7.1f%% %s\n", p.fabric().DescribeDirected(d).c_str(),
                p.LoadBps(d) / 1e9, link.capacity_bps / 1e9, 100 * p.Utilisation(d),
                p.link_status().IsUp(Fabric::LinkOf(d)) ? "" : "(down)");
  }
}

void PrintFlows(const Placement& p) {
  std::printf("\n%-12s %5s %-22s %-22s %9s %6s  %s\n", "job", "flow", "src", "dst", "gbps", "port",
              "path");
  for (const auto& [id, job] : p.jobs()) {
    for (size_t i = 0; i < job.flows.size(); ++i) {
      const auto& f = job.flows[i];
      std::string path = p.fabric().node(f.src).name;
      for (auto hop : f.path.hops) {
        path += " > " + p.fabric().node(p.fabric().Head(hop)).name;
      }
      std::printf("%-12s %5zu %-22s %-22s %9.2f %6u  %s\n", id.c_str(), i,
                  p.fabric().node(f.src).name.c_str(), p.fabric().node(f.dst).name.c_str(),
                  f.rate_bps / 1e9, f.udp_src_port, path.c_str());
    }
  }
}

void PrintSummary(const Placement& p, size_t loaded_channels) {
  std::printf("\n%-20s %-20s %6s %8s %6s %9s %9s %6s  %s\n", "job", "pattern", "ranks", "flows",
              "exact", "max_load", "lower_bd", "gap", "bound from");
  for (const auto& [id, job] : p.jobs()) {
    std::printf("%-20s %-20s %6zu %8zu %6zu %9.3f %9.3f %6.3f  %s\n", id.c_str(),
                std::string(pulse::controller::CollectivePatternName(job.spec.pattern)).c_str(),
                job.spec.endpoints.size(), job.flows.size(), job.exact_flows, job.max_link_load,
                job.lower_bound, job.max_link_load - job.lower_bound, job.lower_bound_cut.c_str());
  }
  size_t flows = 0;
  for (const auto& [id, job] : p.jobs()) flows += job.flows.size();
  std::printf("\njobs: %zu, flows: %zu\n", p.jobs().size(), flows);
  std::printf("fabric max utilisation %.3f over %zu links (%d channels), %zu channels loaded\n",
              p.MaxUtilisation(), p.fabric().links().size(), p.fabric().num_directed_links(),
              loaded_channels);
}

int Main(int argc, char** argv) {
  std::string fabric_path;
  std::vector<std::string> job_paths, fail_links;
  bool all_links = false, all_channels = false, flows = false, steer = false;
  int top = kDefaultTop;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    // "--top=5" carries its value; "--top 5" takes the next argument.
    std::optional<std::string> inline_value;
    if (const size_t eq = arg.find('='); absl::StartsWith(arg, "--") && eq != std::string::npos) {
      inline_value = arg.substr(eq + 1);
      arg.resize(eq);
    }
    auto value = [&]() -> const char* {
      if (inline_value) return inline_value->c_str();
      return i + 1 < argc ? argv[++i] : nullptr;
    };
    const bool takes_value = arg == "--fabric" || arg == "--job" || arg == "--fail-link" ||
                             arg == "--top" || arg == "--channels";
    if (inline_value && !takes_value) return Fail(absl::StrCat(arg, " takes no value\n", kUsage));
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--all-links") {
      all_links = true;
    } else if (arg == "--flows") {
      flows = true;
    } else if (arg == "--steer") {
      steer = true;
    } else if (takes_value) {
      const char* v = value();
      if (v == nullptr) return Fail(absl::StrCat(arg, " needs a value\n", kUsage));
      if (arg == "--fabric") fabric_path = v;
      if (arg == "--job") job_paths.push_back(v);
      if (arg == "--fail-link") fail_links.push_back(v);
      if (arg == "--top" && (!absl::SimpleAtoi(v, &top) || top < 0))
        return Fail(absl::StrCat("--top '", v, "': expected a count (0 or more)\n", kUsage));
      if (arg == "--channels") {
        if (std::strcmp(v, "all") != 0 && std::strcmp(v, "top") != 0)
          return Fail(absl::StrCat("--channels '", v, "': expected 'top' or 'all'\n", kUsage));
        all_channels = std::strcmp(v, "all") == 0;
      }
    } else {
      return Fail(absl::StrCat("unknown argument '", arg, "'\n", kUsage));
    }
  }
  if (fabric_path.empty() || job_paths.empty())
    return Fail(absl::StrCat("missing --fabric or --job\n", kUsage));

  auto intent = pulse::topology::LoadIntentFile(fabric_path);
  if (!intent.ok()) return Fail(std::string(intent.status().message()));
  auto fabric = std::make_shared<const Fabric>(std::move(intent->fabric));
  Placement placement(fabric);
  if (steer) placement.EnableSteering(pulse::controller::HashModels{});
  std::printf("fabric %s: %zu switches, %zu NICs, %zu links\n", intent->name.c_str(),
              fabric->switches().size(), fabric->nics().size(), fabric->links().size());

  for (const std::string& path : job_paths) {
    auto spec = pulse::controller::LoadJobFile(path);
    if (!spec.ok()) return Fail(std::string(spec.status().message()));
    auto job = placement.PlaceJob(*spec);
    if (!job.ok()) return Fail(absl::StrCat(path, ": ", job.status().message()));
  }
  for (const std::string& text : fail_links) {
    auto link = FindLink(*fabric, text);
    if (!link.ok()) return Fail(std::string(link.status().message()));
    auto moves = placement.SetLinkUp(*link, false);
    if (!moves.ok()) {
      std::printf("link %s down: %s\n", fabric->DescribeLink(*link).c_str(),
                  std::string(moves.status().message()).c_str());
      continue;
    }
    std::printf("link %s down: %zu flows moved\n", fabric->DescribeLink(*link).c_str(),
                moves->moves.size());
    if (!moves->unplaced_error.ok()) {
      std::printf("  %s\n", std::string(moves->unplaced_error.message()).c_str());
    }
  }
  std::printf("\n");
  const std::vector<DirectedLinkId> channels = ChannelsByUtilisation(placement, all_links);
  const size_t loaded = static_cast<size_t>(std::count_if(
      channels.begin(), channels.end(), [&](DirectedLinkId d) { return Loaded(placement, d); }));
  if (all_links) {
    std::printf("every channel (%zu), busiest first:\n", channels.size());
    PrintChannels(placement, channels, channels.size());
  } else if (all_channels) {
    std::printf("every loaded channel (%zu), busiest first:\n", loaded);
    PrintChannels(placement, channels, channels.size());
  } else {
    std::printf(
        "the %zu most loaded of %zu loaded channels (--top N for more, --channels all "
        "for every one):\n",
        std::min(static_cast<size_t>(top), loaded), loaded);
    PrintChannels(placement, channels, static_cast<size_t>(top));
  }
  if (flows) PrintFlows(placement);
  PrintSummary(placement, loaded);
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Main(argc, argv); }
