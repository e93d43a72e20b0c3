// pulse-predict: the fluid model's bus bandwidth for flows on given paths.
//
//   pulse-predict --fabric FABRIC.yaml --flows FLOWS.txt
//
// FLOWS.txt has one flow a line: its planned rate in bits per second, then the nodes its path
// crosses, NIC to NIC ("20000000 server-0/nic-0 leaf-0 spine-2 leaf-1 server-5/nic-0"); '#'
// starts a comment. The flows run as one single-stage job on an otherwise idle fabric
// (controller/placement/flow_sim.h). It answers what a given set of paths should deliver, for
// example the paths the switches' ECMP hashing really chose (read with ofproto/trace), so a
// measurement can be held against the model on exactly those paths.
//
// Prints one JSON object: busbw_fraction (ideal over predicted completion time, as PlaceJob's
// predicted_busbw_fraction), ideal_seconds, predicted_seconds, and flow_fractions: each flow's
// max-min fair rate over its planned rate while all flows run (line order). Exit status 0, or 1
// with a message naming the line for bad input.
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "controller/placement/flow_sim.h"
#include "topology/intent.h"

namespace {

using pulse::controller::SimConnection;
using pulse::topology::Fabric;

constexpr char kUsage[] = "usage: pulse-predict --fabric FABRIC.yaml --flows FLOWS.txt\n";

int Fail(const std::string& message) {
  std::fprintf(stderr, "pulse-predict: %s\n", message.c_str());
  return 1;
}

// The channel from node `a` to node `b` (the first link joining them).
absl::StatusOr<pulse::topology::DirectedLinkId> ChannelBetween(const Fabric& fabric,
                                                               pulse::topology::NodeId a,
                                                               pulse::topology::NodeId b) {
  for (pulse::topology::LinkId link : fabric.LinksOf(a)) {
    const pulse::topology::DirectedLinkId out = fabric.DirectedFrom(link, a);
    if (fabric.Head(out) == b) return out;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("no link from ", fabric.node(a).name, " to ", fabric.node(b).name));
}

absl::StatusOr<SimConnection> ParseFlow(const Fabric& fabric, const std::string& line) {
  std::vector<std::string> words = absl::StrSplit(line, ' ', absl::SkipWhitespace());
  SimConnection flow;
  if (words.size() < 3 || !absl::SimpleAtod(words[0], &flow.rate_bps) || flow.rate_bps <= 0) {
    return absl::InvalidArgumentError("expected RATE_BPS NODE NODE ... (a positive rate)");
  }
  std::vector<pulse::topology::NodeId> nodes;
  for (size_t i = 1; i < words.size(); ++i) {
    absl::StatusOr<pulse::topology::NodeId> node = fabric.FindNode(words[i]);
    if (!node.ok()) return node.status();
    nodes.push_back(*node);
  }
  flow.src = nodes.front();
  flow.dst = nodes.back();
  if (fabric.node(flow.src).is_switch() || fabric.node(flow.dst).is_switch()) {
    return absl::InvalidArgumentError("a path starts and ends at a NIC");
  }
  for (size_t i = 0; i + 1 < nodes.size(); ++i) {
    absl::StatusOr<pulse::topology::DirectedLinkId> hop =
        ChannelBetween(fabric, nodes[i], nodes[i + 1]);
    if (!hop.ok()) return hop.status();
    flow.path.hops.push_back(*hop);
  }
  return flow;
}

}  // namespace

int main(int argc, char** argv) {
  std::string fabric_path, flows_path;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if ((arg == "--fabric" || arg == "--flows") && i + 1 < argc) {
      (arg == "--fabric" ? fabric_path : flows_path) = argv[++i];
    } else {
      return Fail(absl::StrCat("unknown argument '", arg, "'\n", kUsage));
    }
  }
  if (fabric_path.empty() || flows_path.empty()) {
    return Fail(absl::StrCat("missing --fabric or --flows\n", kUsage));
  }
  auto intent = pulse::topology::LoadIntentFile(fabric_path);
  if (!intent.ok()) return Fail(std::string(intent.status().message()));
  const Fabric& fabric = intent->fabric;

  std::ifstream in(flows_path);
  if (!in) return Fail(absl::StrCat(flows_path, ": cannot read"));
  std::vector<SimConnection> flows;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const std::string text(absl::StripAsciiWhitespace(line.substr(0, line.find('#'))));
    if (text.empty()) continue;
    absl::StatusOr<SimConnection> flow = ParseFlow(fabric, text);
    if (!flow.ok())
      return Fail(absl::StrCat(flows_path, ":", number, ": ", flow.status().message()));
    flows.push_back(*std::move(flow));
  }
  if (flows.empty()) return Fail(absl::StrCat(flows_path, ": no flows"));

  pulse::controller::LinkStatus status(fabric);
  pulse::controller::BandwidthOptions options;
  options.ecmp_seeds = 1;
  options.ecmp_qps = 1;
  auto prediction = pulse::controller::PredictBandwidth(
      fabric, status, pulse::controller::CollectivePattern::kExplicit, flows, {}, options);
  if (!prediction.ok()) return Fail(std::string(prediction.status().message()));
  if (!prediction->computed) return Fail(prediction->skipped_reason);

  // Steady-state rates while every flow runs.
  std::vector<pulse::controller::SimFlow> sim(flows.size());
  std::vector<const pulse::controller::SimFlow*> pointers;
  for (size_t i = 0; i < flows.size(); ++i) {
    sim[i].hops = flows[i].path.hops;
    sim[i].max_rate_bps = flows[i].rate_bps;
    pointers.push_back(&sim[i]);
  }
  const std::vector<double> rates = pulse::controller::MaxMinFairRates(
      pulse::controller::ChannelCapacities(fabric, status), pointers);
  std::string fractions;
  for (size_t i = 0; i < flows.size(); ++i) {
    absl::StrAppend(&fractions, i == 0 ? "" : ", ", rates[i] / flows[i].rate_bps);
  }
  std::printf(
      "{\"busbw_fraction\": %.6f, \"ideal_seconds\": %.6f, \"predicted_seconds\": %.6f, "
      "\"flow_fractions\": [%s]}\n",
      prediction->predicted_busbw_fraction, prediction->ideal_seconds,
      prediction->predicted_seconds, fractions.c_str());
  return 0;
}
