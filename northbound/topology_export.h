// Scheduler exports of the live fabric: Slurm topology.conf (topology/tree), Kubernetes node
// labels (one per tier), Volcano HyperNode objects and a JSON graph.
//
// Each is a pure function of one controller snapshot (the intent's fabric with link, drain and
// connection state), the tiers derived from the cabling (topology/tiers.h), the server-to-node
// name map of the intent and, when switches are attached, LLDP discovery's verdict. Servers appear
// under their scheduler node names. What is degraded is marked where the format can say it:
//   - a leaf block is "degraded" when one of its leaves is drained or some of its uplinks or host
//     links are unusable (down or drained), and "isolated" when no uplink is usable at all;
//   - Slurm: comments name degraded parts; an isolated block is left out of its spine switch,
//     so Slurm places no job across it and the block;
//   - Kubernetes: label network.topology.pulse.io/state = ok | degraded | isolated per node;
//   - Volcano: annotations pulse.io/state and pulse.io/reason on the HyperNode, isolated blocks
//     left out of the tier-2 HyperNode;
//   - JSON: every switch, link and block with its state and reasons.
#ifndef PULSE_NORTHBOUND_TOPOLOGY_EXPORT_H_
#define PULSE_NORTHBOUND_TOPOLOGY_EXPORT_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/controller.h"
#include "topology/tiers.h"

namespace pulse::northbound {

enum class ExportFormat { kSlurm, kK8sLabels, kVolcano, kJson };

// "slurm", "k8s-labels", "volcano", "json".
absl::StatusOr<ExportFormat> ParseExportFormat(absl::string_view name);

struct ExportInput {
  const controller::ControllerSnapshot* snapshot = nullptr;
  const topology::FabricTiers* tiers = nullptr;
  const std::map<std::string, std::string>* node_names = nullptr;  // server -> node; may be null
  std::string fabric_name;
  // LLDP discovery's verdict; empty description: not judged (planning mode or still probing).
  bool discovery_matches_intent = false;
  std::string discovery_description;
};

// The state of one leaf block, derived from the snapshot.
struct BlockState {
  enum Kind { kOk, kDegraded, kIsolated } kind = kOk;
  std::vector<std::string> reasons;  // "leaf-1 drained", "leaf-1:3 <-> spine-0:1 down", ...
  int usable_uplinks = 0;
  int uplinks = 0;
};
absl::string_view BlockStateName(BlockState::Kind kind);  // "ok", "degraded", "isolated"
std::vector<BlockState> ComputeBlockStates(const controller::ControllerSnapshot& snapshot,
                                           const topology::FabricTiers& tiers);

// The export in `format`. `degraded_blocks` (optional) gets the number of blocks not ok.
std::string ExportTopology(const ExportInput& input, ExportFormat format,
                           int* degraded_blocks = nullptr);

// A server's scheduler node name: its entry in `node_names`, else its own name.
std::string NodeNameOf(const std::map<std::string, std::string>* node_names,
                       const std::string& server);

// Slurm hostlist form of names: "n1,n2,n3,gpu07" -> "gpu07,n[1-3]". Names without a trailing
// number stay as they are; numbers keep their zero padding.
std::string SlurmHostlist(std::vector<std::string> names);

// A Kubernetes label value: at most 63 of [A-Za-z0-9._-], starting and ending alphanumeric;
// other characters become '-', longer values keep 50 characters and a hash.
std::string K8sLabelValue(absl::string_view value);

}  // namespace pulse::northbound

#endif  // PULSE_NORTHBOUND_TOPOLOGY_EXPORT_H_
