// Steering a flow onto a planned path with nothing but its UDP source port.
//
// Switches pick ECMP buckets by hashing the 5-tuple; RoCEv2 leaves the UDP source port free (the
// destination port is 4791). Given a planned up-down path and each switch's hash model, the
// port search below finds a source port for which every switch on the path hashes the flow onto
// the planned egress, so the path holds with plain ECMP group tables and no per-flow rules.
#ifndef PULSE_CONTROLLER_PATHS_STEERING_H_
#define PULSE_CONTROLLER_PATHS_STEERING_H_

#include <cstdint>
#include <deque>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "controller/paths/ecmp_groups.h"
#include "controller/paths/ecmp_hash.h"
#include "controller/paths/paths.h"

namespace pulse::controller {

struct SteeringOptions {
  uint16_t port_min = 49152;  // the IANA dynamic range by default
  uint16_t port_max = 65535;
  // Tried first when non-zero and in range: a flow keeps its port while it still steers the flow
  // (a group change that does not touch the flow's bucket must not make its host re-point a QP).
  uint16_t preferred_port = 0;
};

// The lowest UDP source port in [port_min, port_max] such that, at every switch of `path`, the
// switch's model (models.For(switch)) selects the planned egress among the members of
// groups.NextHops(switch, dst NIC), in group order. The first hop (out of the NIC) is the
// host's choice and is not hashed. The flow is hashed with the NICs' addresses in the fabric
// model (SteeringPortSearch::Find takes others, e.g. learned ones). Errors: InvalidArgument if
// `path` is not a valley-free walk between two NICs or the range is empty; FailedPrecondition
// naming the switch if a planned hop is not in that switch's ECMP group (the groups no longer
// contain the path), or if a switch that must choose among several members has a model that does
// not hash the UDP source port; FailedPrecondition naming the NIC when an end has no address;
// NotFound if no port in the range works. Unavailable (the flow is to be pinned, not refused)
// naming the switch when a switch on the path failed probe verification, or when a switch is
// known from probes only (controller/oracle/path_oracle.h) and no probed port works.
absl::StatusOr<uint16_t> FindSteeringPort(EcmpGroups& groups, const HashModels& models,
                                          const Path& path, const SteeringOptions& options = {});

// FindSteeringPort for many flows, keeping what one search can hand the next: each distinct
// (hash model, group weights) gets its EcmpSelector (slot table, per-member slots) built once,
// and a warm search allocates nothing. On a leaf-spine every leaf's group towards every other
// leaf has the same weights, so one selector per tier serves every flow. The answers are
// FindSteeringPort's, bit for bit (tested): selectors depend only on the model and the weights,
// and groups are read afresh on every call, so `groups` may change between calls. Holds no
// reference to its arguments: copies are independent. One thread at a time.
class SteeringPortSearch {
 public:
  // FindSteeringPort for `path`, hashing the flow as src_ipv4 -> dst_ipv4 (host order): the
  // addresses the controller serves for the two NICs (the model's, else learned ones). An
  // address of 0 (not known yet) is FailedPrecondition naming the NIC.
  absl::StatusOr<uint16_t> Find(EcmpGroups& groups, const HashModels& models, const Path& path,
                                uint32_t src_ipv4, uint32_t dst_ipv4,
                                const SteeringOptions& options = {});

  // Distinct (model, weights) selectors kept (at most kMaxSelectors; then the cache restarts).
  size_t cached_selectors() const { return selectors_.size(); }
  static constexpr size_t kMaxSelectors = 4096;

 private:
  struct CachedSelector {
    EcmpHashModel model;
    std::vector<uint32_t> weights;
    EcmpSelector selector;
  };
  // The selector of `model` over `members`' weights: cached, or on the rare fingerprint collision
  // built into `overflow_` (kept for this search only).
  const EcmpSelector& SelectorFor(const EcmpHashModel& model, absl::Span<const EcmpMember> members);

  absl::node_hash_map<uint64_t, CachedSelector> selectors_;  // by fingerprint; nodes are stable
  std::deque<EcmpSelector> overflow_;
  std::vector<EcmpMember> scratch_;  // NextHopsView's leaf-to-NIC members
  struct Constraint {
    const EcmpSelector* selector;
    size_t wanted;
  };
  std::vector<Constraint> constraints_;
};

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_PATHS_STEERING_H_
