// Desired forwarding of every switch, computed from the controller's state.
//
// Two layers, both proactive (nothing waits for a packet-in):
//  - Destination forwarding for all traffic: each switch sends a packet for NIC d either out of
//    d's own port (the leaf d hangs off) or into the ECMP group towards d's leaf (ecmp_groups.h),
//    so every pair of NICs is connected over up-down paths with no per-job state. Where a leaf's
//    NICs fall in prefixes (controller/paths/addressing.h: AggregatablePrefixes), every other
//    switch has one masked ipv4_dst rule per prefix of that leaf, at a priority that grows with the
//    prefix length, instead of one per NIC; NICs no prefix covers (learned addresses, the mininet
//    plan) keep one exact rule each at destination_priority, above any prefix. Rules per switch:
//    at most (leaves x prefixes per leaf) + local NICs + uncovered NICs.
//  - Pins for placed job flows, at higher priority: at every switch on a placed flow's path, the
//    flow (IPv4 source and destination, plus UDP and source port when the flow is steered by a
//    port) leaves by the planned port. A pin overrides ECMP hashing, so the planned spine is the
//    one the traffic crosses whatever the switches' hash does.
//
// The result is the complete desired state of each switch (controller/switches/switch_driver.h),
// named by fabric node; the driver reconciles switches to it, so this code never computes deltas.
// It is a pure function of the state, unit-tested without switches.
#ifndef PULSE_CONTROLLER_FABRIC_SYNC_FORWARDING_H_
#define PULSE_CONTROLLER_FABRIC_SYNC_FORWARDING_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "controller/paths/ecmp_groups.h"
#include "controller/placement/placement.h"
#include "controller/switches/switch_driver.h"
#include "topology/fabric.h"

namespace pulse::controller {

struct ForwardingOptions {
  uint16_t pin_priority = 300;          // placed job flows
  uint16_t destination_priority = 200;  // per-destination-NIC forwarding (prefixes: 200-32+len)
  bool aggregate = true;                // false: one rule per NIC everywhere (the old tables)
  // Set: every switch also gets the path oracle's probe-catching rules for this marker DSCP
  // (controller/oracle/path_oracle.h ProbeCatchRules), above every other rule.
  std::optional<uint8_t> probe_marker_dscp;
  uint16_t probe_catch_priority = 400;
  // With a marker: a probe for a pinned pair must see the switch's ECMP choice, not the pin
  // (the oracle learns pairs whose flows are pinned until it has). Each pin not at the flow's
  // destination leaf gets a twin matching the marker DSCP that sends to the ECMP group instead.
  uint16_t probe_bypass_priority = 350;
};

class HostTable;

// Group ids: the group of any switch towards leaf L has id GroupIdForLeaf(L); ids start at 1.
uint32_t GroupIdForLeaf(const topology::Fabric& fabric, topology::NodeId leaf);

// The desired forwarding of every switch (in Fabric::switches() order). `groups` must reflect
// the same link usability as `placement.link_status()`; it is updated lazily (cached tables).
// NICs with no address (not in the model, not learned) get no rule. `hosts` (may be null) adds
// the learned addresses. Destinations a switch cannot reach get no rule there (their packets are
// dropped by the table miss rather than sent the wrong way).
// `only` (sorted switch ids; null: every switch) limits the work and the result to those
// switches: each is computed exactly as the full computation would (its pins from every job).
std::vector<southbound::SwitchForwarding> ComputeForwarding(
    const topology::Fabric& fabric, const Placement& placement, EcmpGroups& groups,
    const ForwardingOptions& options = {}, const HostTable* hosts = nullptr,
    const std::vector<topology::NodeId>* only = nullptr);

// The switches whose tables can differ between two placements with the same link usability
// and ECMP hash models: those on a path (before or after) of a job that was added, removed or
// changed (JobMap identity, ChangedJobs). Sorted. nullopt when usability or hash models differ
// (then every switch must be recomputed). Cost: ChangedJobs (the job-map chunks the two versions
// do not share, and a pointer compare per chunk), plus the changed jobs' hops.
std::optional<std::vector<topology::NodeId>> ForwardingAffectedSwitches(
    const topology::Fabric& fabric, const Placement& before, const Placement& after);

// The rules of a placed flow at one switch: the match every pin of the flow uses. Addresses are
// the served ones (the model's, else learned from `hosts`); 0 when an end has none yet.
southbound::RuleMatch PinMatch(const topology::Fabric& fabric, const PlacedFlow& flow,
                               const HostTable* hosts = nullptr);

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_FABRIC_SYNC_FORWARDING_H_
