// Fabric intent files: the YAML an operator writes to say what the fabric should be.
//
// An intent names the fabric, describes it either with a builder and its parameters or with an
// explicit list of switches, servers and links, and carries settings the controller needs before
// it sees any switch. The whole file is checked before anything is used (unknown keys, wrong
// types, impossible fabrics are all errors), and every error names the file, the line and the
// field: "fabric.yaml:12: links[3].speed: expected a speed such as 100G, got 'fast'".
//
// Form:
//   name: lab-fabric                 # optional; default: the source name
//   description: ...                 # optional
//   builder:                         # either this ...
//     type: leaf-spine               #   leaf-spine | fat-tree | rail-optimized
//     leaves: 4                      #   parameters of LeafSpineParams / FatTreeParams /
//     ...                            #   RailOptimizedParams, same names (speeds as host_speed,
//                                    #   fabric_speed; spine_mode all | per-rail;
//                                    #   oversubscription 3 or "3:1")
//   switches:                        # ... or these three
//     - {name: leaf-0, role: leaf, dpid: 0x11, pod: 0, rail: 0, plane: 0}  # dpid etc. optional
//       # driver: openflow (default) names the switch driver that programs it (Node::driver)
//   servers:
//     - {name: server-0, nics: 1, gpus: 1, pod: 0}  # nics default 1, gpus default nics
//     - {name: server-1, nics: [{ip: 10.1.2.3/24, mac: "0c:42:a1:00:00:01"}]}  # NICs with
//                                    #   addresses (either key optional; the rest is learned)
//   links:
//     - {a: "server-0/nic-0:1", b: "leaf-0:1", speed: 100G, cable_m: 5}  # ports optional
//   cables:                          # optional role defaults and per-port overrides (metres)
//     host_m: 5
//     leaf_spine_m: 40
//     spine_super_spine_m: 300
//     overrides: {"leaf-0:3": 80}
//   node_names:                      # optional: scheduler node name of a server (Slurm NodeName,
//     server-0: gpu-node-001         #   Kubernetes node), for scheduler exports; unmapped
//                                    #   servers keep their own name. Names are unique.
//   address_plan: mininet            # optional: none | mininet | {type: per-leaf,
//                                    #   base: 10.1.0.0/16, block: 24} (topology/addresses.h).
//                                    #   Default: mininet with a builder (the lab's), none with
//                                    #   explicit switches (NICs listed or learned). Duplicate
//                                    #   addresses or MACs, addresses outside their leaf's
//                                    #   per-leaf block, IPv6, zero or multicast MACs are errors.
//   controller:                      # optional, defaults below
//     openflow_address: 127.0.0.1:6653
//     northbound_address: 127.0.0.1:50051
//     lossless_priority: 3
//     max_paths: 16
//
// Speeds are "25G", "100G", "400G", "1.6T", "800M", optionally followed by "bps", or plain numbers
// of bits per second.
#ifndef PULSE_TOPOLOGY_INTENT_H_
#define PULSE_TOPOLOGY_INTENT_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "topology/builders.h"
#include "topology/fabric.h"
#include "topology/switch_driver_intent.h"

namespace pulse::topology {

// What the controller needs to know before the first switch connects.
struct ControllerSettings {
  std::string openflow_address = "127.0.0.1:6653";     // where switches connect (host:port)
  std::string northbound_address = "127.0.0.1:50051";  // gRPC API (host:port)
  int lossless_priority = 3;  // 802.1p priority / traffic class that PFC protects (0..7)
  int max_paths = 16;         // cap on up-down paths considered per NIC pair (>= 1)
};

// The ECMP hash a switch applies, as the intent states it (controller/paths/ecmp_hash.h gives the
// algorithms and field names their meaning and refuses unknown ones, quoting `where`).
struct EcmpHashSpec {
  std::string algorithm;            // "ovs-multipath", "crc32", "crc16-ccitt", "xor-fold"
  uint32_t seed = 0;                // hash seed (the multipath basis on Open vSwitch)
  std::vector<std::string> fields;  // src_ip, dst_ip, proto, src_port, dst_port; empty: all
  std::string where;                // "<source>:<line>: ecmp_hash.<path>", for messages
};

// ecmp_hash: {default: SPEC, roles: {leaf|spine|super-spine: SPEC}, switches: {NAME: SPEC}}.
// The most specific entry wins: switch, then role, then default.
struct EcmpHashIntent {
  std::optional<EcmpHashSpec> fabric_default;
  std::map<std::string, EcmpHashSpec> by_role;
  std::map<std::string, EcmpHashSpec> by_switch;
};

struct Intent {
  std::string name;
  std::string description;
  std::string source;  // the file (or source name) it was read from, for messages
  Fabric fabric;
  ControllerSettings controller;
  CableLengths cables;  // role defaults and overrides as written (already applied to `fabric`)
  EcmpHashIntent ecmp_hash;
  // Switches whose entry names a driver other than the default (switch_driver_intent.h).
  std::map<std::string, SwitchDriverIntent> switch_drivers;
  // Scheduler node name by server name (the node_names block); servers absent keep their name.
  std::map<std::string, std::string> node_names;
};

// Parses an intent from YAML text; `source_name` prefixes every error ("fabric.yaml:12: ...").
// All errors are InvalidArgument.
absl::StatusOr<Intent> ParseIntent(absl::string_view yaml_text, absl::string_view source_name);

// Reads and parses an intent file. NotFound when the file cannot be read; otherwise as
// ParseIntent with the path as the source name.
absl::StatusOr<Intent> LoadIntentFile(const std::string& path);

// "100G" -> 100'000'000'000. Accepts K/M/G/T suffixes (decimal), an optional "bps" after them,
// and plain numbers of bits per second. The result must be positive.
absl::StatusOr<int64_t> ParseSpeedBps(absl::string_view text);

}  // namespace pulse::topology

#endif  // PULSE_TOPOLOGY_INTENT_H_
