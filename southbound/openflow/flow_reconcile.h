#ifndef PULSE_SOUTHBOUND_OPENFLOW_FLOW_RECONCILE_H_
#define PULSE_SOUTHBOUND_OPENFLOW_FLOW_RECONCILE_H_

// Desired forwarding (southbound/driver.h vocabulary) -> OpenFlow flows and groups, and the
// difference between what a switch should hold and what it reports. Pure functions, no I/O.
//
// Pipeline: table 0 holds the rules. A rule forwarding to a SELECT group g is realised with
// Nicira actions because Open vSwitch's OpenFlow 1.3 select groups put every flow in one bucket:
//   load:g->reg0[16..31], multipath(symmetric_l3l4+udp, 0, hrw, slots, 0, reg0[0..15]),
//   resubmit(,1)
// and table 1 maps (reg0 = g<<16 | slot) to the fast-failover group of the slot's bucket.
// Bucket b of select group g becomes fast-failover group FailoverGroupId(g, b) whose buckets are
// b, b+1, ..., b-1 (each watching its port), so a dead link is bypassed by the switch itself.
// Weights are honoured by giving a bucket more slots. Fast-failover groups of the desired state
// are installed as they are.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/multipath_slots.h"
#include "controller/switches/switch_driver.h"
#include "southbound/openflow/messages.h"

namespace pulse::southbound::openflow {

// Cookie of every flow the reconciler owns (read back with an exact cookie mask).
inline constexpr uint64_t kForwardingCookie = 0x70756c7365000001ull;  // "pulse" | 1
// Cookie of the fixed base pipeline (LLDP/ARP to controller, table-miss), never reconciled away.
inline constexpr uint64_t kBasePipelineCookie = 0x70756c7365000000ull;
inline constexpr uint8_t kRuleTable = 0;
inline constexpr uint8_t kMultipathTable = 1;
inline constexpr uint16_t kMultipathLegPriority = 100;
// Upper bound of hash slots per select group (weights are scaled down to fit).
inline constexpr uint32_t kMaxSlots = ::pulse::kMaxMultipathSlots;

// Group id of the fast-failover group standing for bucket `bucket` of select group `group`.
uint32_t FailoverGroupId(uint32_t group, uint32_t bucket);

// Slot count per bucket: ::pulse::SlotsForWeights (common/multipath_slots.h), which the hash
// model of controller/paths/ecmp_hash.h shares.
using ::pulse::SlotsForWeights;

// One flow as Pulse wants it on the switch.
struct FlowEntry {
  uint8_t table_id = 0;
  uint16_t priority = 0;
  ::pulse::openflow::Match match;
  std::vector<::pulse::openflow::Instruction> instructions;
};

struct GroupEntry {
  uint32_t group_id = 0;
  uint8_t type = 0;  // ::pulse::openflow::GroupType
  std::vector<::pulse::openflow::Bucket> buckets;
};

struct OpenFlowState {
  std::vector<FlowEntry> flows;
  std::vector<GroupEntry> groups;
};

// Translates a switch's desired forwarding. InvalidArgument (naming the rule or group) if a rule
// names an unknown group, a group id is out of range (select ids < 65536, fast-failover ids
// < 0x80000000), a select group has no bucket or more than 255.
absl::StatusOr<OpenFlowState> TranslateForwarding(const SwitchForwarding& desired);

// What to send, in this order: groups (add/modify) first so new flows find them, then flows
// (add/modify/delete), then group deletes once no flow references them.
struct ReconcilePlan {
  std::vector<::pulse::openflow::GroupMod> group_writes;
  std::vector<::pulse::openflow::FlowMod> flow_mods;
  std::vector<::pulse::openflow::GroupMod> group_deletes;
  bool empty() const { return group_writes.empty() && flow_mods.empty() && group_deletes.empty(); }
};

// Compares by meaning: matches are compared as sets of (field, value & mask, mask) with exact
// masks dropped (Open vSwitch reports fields in its own order and without all-ones masks), and
// output max_len is ignored except towards the controller. `actual_flows` must be the switch's
// flows with kForwardingCookie; `actual_groups` all its groups (Pulse owns the switch's groups).
ReconcilePlan PlanReconcile(const OpenFlowState& desired,
                            const std::vector<::pulse::openflow::FlowStats>& actual_flows,
                            const std::vector<::pulse::openflow::GroupDesc>& actual_groups);

// A canonical byte string of a match, equal for matches that mean the same (exposed for tests).
std::string CanonicalMatch(const ::pulse::openflow::Match& match);

}  // namespace pulse::southbound::openflow

#endif  // PULSE_SOUTHBOUND_OPENFLOW_FLOW_RECONCILE_H_
