// Builders for the standard GPU fabric shapes: leaf-spine, 3-tier k-ary fat-tree and
// rail-optimized, each optionally as several independent planes.
//
// Every builder is deterministic: the same parameters give the same node ids, names, port numbers
// and datapath ids, so a fabric built by the controller and the Mininet fabric built from the same
// intent agree on every dpid and port.
//
// Conventions shared by all builders:
// - Names: "leaf-N", "spine-N", "core-N" (fat-tree super-spines), "rail-G-R" (rail switch of rail
//   R in group G), "server-N"; NICs "server-N/nic-R" and GPUs "server-N/gpu-G" come from
//   FabricBuilder. With planes > 1 every switch name gets a plane prefix: "p0-leaf-3", "p1-leaf-3".
// - Switch ports are numbered host-facing first (in server, then NIC order), then uplinks (in
//   upper-switch, then parallel-link order). Upper switches number their downlinks in
//   lower-switch, then parallel-link order.
// - A NIC has one port per plane: port p + 1 goes to plane p.
// - Datapath ids encode where the switch is, readable in hex:
//   (plane << 40) | (level << 32) | (index within its tier and plane + 1), so "leaf-3" of plane 0
//   is 0x0000'0001'0000'0004 and "p1-spine-0" is 0x0000'0102'0000'0001.
// - NIC addresses follow `address_plan` (topology/addresses.h; default mininet, the lab's).
// - Errors are InvalidArgument whose message starts with the offending parameter's name, then a
//   colon ("leaves: must be at least 1, got 0"); the intent loader relies on that prefix to point
//   at the right YAML line.
#ifndef PULSE_TOPOLOGY_BUILDERS_H_
#define PULSE_TOPOLOGY_BUILDERS_H_

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "topology/addresses.h"
#include "topology/fabric.h"

namespace pulse::topology {

inline constexpr int64_t kGbps = 1'000'000'000;

// Cable lengths a builder writes on its links. Role defaults apply unless a port has an override.
struct CableLengths {
  double host_m = 5;                 // NIC to leaf (server to ToR / rail switch)
  double leaf_spine_m = 40;          // leaf to spine (ToR to leaf / aggregation)
  double spine_super_spine_m = 300;  // spine to super-spine (aggregation to core)
  // Per-port overrides keyed "switch-name:port" (either end of the link). An override that names
  // no link of the built fabric is an error ("cables: ..."), so typos do not pass silently.
  absl::flat_hash_map<std::string, double> overrides_m;
};

// Two-tier leaf-spine. Every leaf connects to every spine with `uplinks_per_spine` parallel links;
// every NIC of a server attaches to the server's leaf.
//
// Sizing: host capacity per leaf = servers_per_leaf * nics_per_server * host_speed_bps; uplink
// capacity per leaf = spines * uplinks_per_spine * fabric_speed_bps; oversubscription is
// host / uplink (1 = non-blocking). Give either `uplinks_per_spine` or `oversubscription`, or
// both (then they must agree); with neither, one uplink per spine.
struct LeafSpineParams {
  int leaves = 0;
  int spines = 0;
  int servers_per_leaf = 0;
  int nics_per_server = 1;
  int gpus_per_server = 0;  // 0: one per NIC. GPU i uses NIC i % nics_per_server.
  int64_t host_speed_bps = 100 * kGbps;
  int64_t fabric_speed_bps = 100 * kGbps;
  int uplinks_per_spine = 0;    // 0: derive from oversubscription (or 1)
  double oversubscription = 0;  // 0: not given
  int planes = 1;
  CableLengths cables;
  AddressPlan address_plan;
};
absl::StatusOr<Fabric> LeafSpine(const LeafSpineParams& params);

// Three-tier k-ary fat-tree (Al-Fares et al.): k pods, each with k/2 edge switches (role leaf)
// and k/2 aggregation switches (role spine), all with `pod` set; (k/2)^2 cores (role
// super-spine, no pod); k^3/4 servers, k/2 per edge switch. Edge switch i of pod p is
// "leaf-(p*k/2+i)", aggregation j of pod p is "spine-(p*k/2+j)"; core j*(k/2)+i connects to
// aggregation j of every pod. k must be even and >= 2.
struct FatTreeParams {
  int k = 4;
  int nics_per_server = 1;  // every NIC of a server attaches to its edge switch
  int gpus_per_server = 0;  // 0: one per NIC
  int64_t host_speed_bps = 100 * kGbps;
  int64_t fabric_speed_bps = 100 * kGbps;
  CableLengths cables;
  AddressPlan address_plan;
};
absl::StatusOr<Fabric> FatTree(const FatTreeParams& params);
absl::StatusOr<Fabric> FatTree(int k);

// How rail switches reach spines in a rail-optimized fabric.
enum class RailSpineMode {
  // Every rail switch connects to every spine: any NIC reaches any NIC through the fabric.
  kAllSpines,
  // Spines are split evenly into per-rail sets (spines / rails each; spine s serves rail
  // s / (spines / rails)); rail switches of rail r connect only to rail r's spines. Rails are
  // then disjoint networks: traffic between rails must cross NVLink inside a server first
  // (rail-only designs), and the fabric has no up-down path between NICs of different rails.
  kPerRail,
};
absl::StatusOr<RailSpineMode> ParseRailSpineMode(absl::string_view name);  // "all", "per-rail"

// Rail-optimized: `groups` scalable units of `servers_per_group` servers with `rails` NICs each.
// In group g, rail switch "rail-g-r" (role leaf, rail r) connects NIC r of every server of the
// group; rail switches connect to spines as `spine_mode` says. Sizing as in leaf-spine, per rail
// switch: host capacity = servers_per_group * host_speed_bps; uplink capacity = (spines it
// reaches) * uplinks_per_spine * fabric_speed_bps.
struct RailOptimizedParams {
  int groups = 0;
  int servers_per_group = 0;
  int rails = 0;            // NICs per server
  int gpus_per_server = 0;  // 0: one per rail. GPU i uses NIC i % rails.
  int spines = 0;
  RailSpineMode spine_mode = RailSpineMode::kAllSpines;
  int64_t host_speed_bps = 100 * kGbps;
  int64_t fabric_speed_bps = 100 * kGbps;
  int uplinks_per_spine = 0;    // 0: derive from oversubscription (or 1)
  double oversubscription = 0;  // 0: not given
  int planes = 1;
  CableLengths cables;
  AddressPlan address_plan;
};
absl::StatusOr<Fabric> RailOptimized(const RailOptimizedParams& params);

// The datapath id the builders give a switch (see the header comment).
uint64_t BuilderDatapathId(int plane, SwitchRole role, int index);

}  // namespace pulse::topology

#endif  // PULSE_TOPOLOGY_BUILDERS_H_
