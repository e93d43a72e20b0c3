// Valley-free (up-down) paths between NICs.
//
// On a Clos, a packet that climbs and then descends never closes a buffer-dependency cycle, so
// lossless traffic is only ever routed on up-down paths. The shortest ones climb exactly to the
// lowest tier where the source's and destination's ancestors meet: the leaf for two NICs on one
// leaf, a spine for two leaves of one pod, a super-spine across pods.
#ifndef PULSE_CONTROLLER_PATHS_PATHS_H_
#define PULSE_CONTROLLER_PATHS_PATHS_H_

#include <cstddef>
#include <limits>
#include <vector>

#include "absl/status/statusor.h"
#include "topology/fabric.h"

namespace pulse::controller {

using topology::DirectedLinkId;
using topology::Fabric;
using topology::LinkId;
using topology::NodeId;

// A path from a source NIC to a destination NIC as the directed channels it crosses, in order.
struct Path {
  std::vector<DirectedLinkId> hops;
  bool operator==(const Path& other) const { return hops == other.hops; }
};

// Which links (and so which switches) are usable. A failed switch is all its links down.
class LinkStatus {
 public:
  LinkStatus() = default;
  explicit LinkStatus(const Fabric& fabric) : up_(fabric.links().size(), true) {}
  bool IsUp(LinkId link) const { return up_[link]; }
  void SetUp(LinkId link, bool up) {
    if (up_[link] == up) return;
    up_[link] = up;
    down_count_ += up ? -1 : 1;
  }
  size_t size() const { return up_.size(); }
  // Links down now: lets a caller skip a walk over every link when none is (the usual case).
  size_t down_count() const { return down_count_; }

 private:
  std::vector<bool> up_;
  size_t down_count_ = 0;
};

// All shortest up-down paths from NIC `src` to NIC `dst` over links that are up, at most
// `max_paths` of them (in a deterministic order). Errors: src or dst not a NIC, src == dst, a
// status of the wrong size (InvalidArgument), or no up-down path left (FailedPrecondition naming
// both NICs).
absl::StatusOr<std::vector<Path>> UpDownPaths(
    const Fabric& fabric, const LinkStatus& status, NodeId src, NodeId dst,
    size_t max_paths = std::numeric_limits<size_t>::max());

// The shortest up-down walks (as directed channels) from any node `from` to any node `to` over up
// links, at most `max_walks`, in the same deterministic order as UpDownPaths. Empty when there is
// none; one empty walk when from == to. This is UpDownPaths without the NIC checks, for callers
// that route between switches (leaf-to-leaf path caches, ECMP groups).
std::vector<std::vector<DirectedLinkId>> ShortestUpDownWalks(
    const Fabric& fabric, const LinkStatus& status, NodeId from, NodeId to,
    size_t max_walks = std::numeric_limits<size_t>::max());

// True if `path` is a connected walk from `src` to `dst` that climbs and then descends.
bool IsValleyFree(const Fabric& fabric, const Path& path, NodeId src, NodeId dst);

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_PATHS_PATHS_H_
