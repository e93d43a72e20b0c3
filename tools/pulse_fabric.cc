// pulse-fabric: prints an intent file's fabric as plain JSON (switches with datapath ids, hosts
// with the address plan, links with ports and speeds), so that test harnesses such as the
// Mininet suite build exactly the fabric the controller reads, from the same intent file.
//
//   pulse-fabric --fabric examples/leaf-spine.yaml [--miswire leaf-0:3=leaf-0:4]
//
// --miswire swaps the peers of two switch ports in the output (not in the intent), to build a
// deliberately miswired lab.
#include <cstdio>
#include <iostream>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "topology/addresses.h"
#include "topology/intent.h"

ABSL_FLAG(std::string, fabric, "", "fabric intent file (YAML)");
ABSL_FLAG(std::string, miswire, "",
          "swap the far ends of two switch ports in the output: 'leaf-0:3=leaf-1:3'");

namespace {

using pulse::topology::Fabric;
using pulse::topology::NodeId;

struct PortRef {
  std::string node;
  int port = 0;
};

bool ParsePortRef(const std::string& text, PortRef& out) {
  std::vector<std::string> parts = absl::StrSplit(text, ':');
  if (parts.size() != 2) return false;
  out.node = parts[0];
  try {
    out.port = std::stoi(parts[1]);
  } catch (...) {
    return false;
  }
  return out.port > 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "prints a fabric intent file's fabric as JSON (switches, hosts, links with ports).\n"
      "Usage: pulse-fabric --fabric FABRIC.yaml [--miswire SWITCH:PORT=SWITCH:PORT]");
  // --help lists this tool's flags (absl's default matches only a file named after the binary,
  // pulse-fabric, so it printed "No flags matched").
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "tools/pulse_fabric");
  };
  absl::SetFlagsUsageConfig(usage);
  absl::ParseCommandLine(argc, argv);
  const std::string path = absl::GetFlag(FLAGS_fabric);
  if (path.empty()) {
    std::fprintf(stderr, "pulse-fabric: --fabric is required\n");
    return 2;
  }
  auto intent = pulse::topology::LoadIntentFile(path);
  if (!intent.ok()) {
    std::fprintf(stderr, "pulse-fabric: %s\n", std::string(intent.status().message()).c_str());
    return 1;
  }
  const Fabric& fabric = intent->fabric;
  nlohmann::json out;
  out["name"] = intent->name;
  out["switches"] = nlohmann::json::array();
  for (NodeId s : fabric.switches()) {
    const auto& node = fabric.node(s);
    out["switches"].push_back({{"name", node.name},
                               {"dpid", node.datapath_id},
                               {"role", std::string(SwitchRoleName(node.role))},
                               {"level", node.level},
                               {"plane", node.plane}});
  }
  // Lab host names: NIC i (fabric order) is Mininet host "h<i+1>". Addresses are the model's
  // (empty when the intent leaves them to be learned: the lab then sets its own).
  absl::flat_hash_map<NodeId, std::string> host_name;
  for (size_t i = 0; i < fabric.nics().size(); ++i) {
    host_name[fabric.nics()[i]] = absl::StrCat("h", i + 1);
  }
  out["hosts"] = nlohmann::json::array();
  for (NodeId n : fabric.nics()) {
    const auto& node = fabric.node(n);
    out["hosts"].push_back({{"name", host_name[n]},
                            {"nic", node.name},
                            {"ip", node.ipv4 == 0 ? "" : pulse::topology::FormatIpv4(node.ipv4)},
                            {"prefix_length", node.ipv4_prefix_length},
                            {"mac", node.mac == 0 ? "" : pulse::topology::FormatMac(node.mac)}});
  }
  auto endpoint_name = [&](NodeId n) {
    return fabric.node(n).is_nic() ? host_name[n] : fabric.node(n).name;
  };
  nlohmann::json links = nlohmann::json::array();
  for (const auto& link : fabric.links()) {
    links.push_back({{"a", endpoint_name(link.a.node)},
                     {"a_port", link.a.port},
                     {"b", endpoint_name(link.b.node)},
                     {"b_port", link.b.port},
                     {"speed_bps", link.capacity_bps}});
  }
  if (const std::string miswire = absl::GetFlag(FLAGS_miswire); !miswire.empty()) {
    std::vector<std::string> sides = absl::StrSplit(miswire, '=');
    PortRef x, y;
    if (sides.size() != 2 || !ParsePortRef(sides[0], x) || !ParsePortRef(sides[1], y)) {
      std::fprintf(stderr, "pulse-fabric: --miswire: expected 'switch:port=switch:port'\n");
      return 2;
    }
    // Swap what is plugged into port x with what is plugged into port y: the two far ends
    // trade places.
    nlohmann::json* lx = nullptr;
    nlohmann::json* ly = nullptr;
    std::string ex, ey;
    for (auto& l : links) {
      for (const char* end : {"a", "b"}) {
        std::string port_key = std::string(end) + "_port";
        if (l[end] == x.node && l[port_key] == x.port) lx = &l, ex = end;
        if (l[end] == y.node && l[port_key] == y.port) ly = &l, ey = end;
      }
    }
    if (lx == nullptr || ly == nullptr || lx == ly) {
      std::fprintf(stderr, "pulse-fabric: --miswire: both ports must carry distinct links\n");
      return 2;
    }
    std::swap((*lx)[ex], (*ly)[ey]);
    std::swap((*lx)[ex + "_port"], (*ly)[ey + "_port"]);
  }
  out["links"] = links;
  std::cout << out.dump(2) << "\n";
  return 0;
}
