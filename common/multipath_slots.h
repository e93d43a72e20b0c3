// The slot table a hash-based multipath picks from, shared by the switch programming that builds
// it (southbound/openflow/flow_reconcile.h) and the hash model that predicts the pick
// (controller/paths/ecmp_hash.h): both must agree slot for slot, or steering by UDP source port
// lands flows on the wrong uplink.
//
// A group of weighted members becomes a run of slots: member i owns weights'[i] consecutive
// slots, in member order, where weights' are the weights divided by their gcd and, when they
// add up to more than kMaxMultipathSlots, scaled down so that every non-zero member keeps at least
// one slot. All-zero weights count as equal.
#ifndef PULSE_COMMON_MULTIPATH_SLOTS_H_
#define PULSE_COMMON_MULTIPATH_SLOTS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pulse {

// Upper bound of slots per group (Open vSwitch's multipath action uses HRW up to 64 links).
inline constexpr uint32_t kMaxMultipathSlots = 64;

// Slots per member for `weights` (same order). See the file comment for the rule.
std::vector<uint32_t> SlotsForWeights(const std::vector<uint32_t>& weights);

// The member that owns `slot` in the table SlotsForWeights(weights) describes; the last member
// if `slot` is past the end.
size_t MemberOfSlot(const std::vector<uint32_t>& slots, uint32_t slot);

}  // namespace pulse

#endif  // PULSE_COMMON_MULTIPATH_SLOTS_H_
