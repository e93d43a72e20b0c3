#include "controller/placement/lower_bound.h"

#include <map>

#include "absl/strings/str_cat.h"

namespace pulse::controller {
namespace {

using topology::Fabric;
using topology::NodeId;

// A family of disjoint node sets ("cuts"), as a set index per node (-1: in none).
struct CutFamily {
  std::vector<int> set_of;  // by NodeId
  std::vector<std::string> names;
};

void Evaluate(const Fabric& fabric, const LinkStatus& status,
              const std::vector<FlowDemand>& demands, const CutFamily& cuts, LowerBound& best) {
  const size_t k = cuts.names.size();
  if (k == 0) return;
  std::vector<double> out_traffic(k, 0), in_traffic(k, 0), out_cap(k, 0), in_cap(k, 0);
  for (const FlowDemand& d : demands) {
    int s = cuts.set_of[d.src], t = cuts.set_of[d.dst];
    if (s == t) continue;
    if (s >= 0) out_traffic[s] += d.rate_bps;
    if (t >= 0) in_traffic[t] += d.rate_bps;
  }
  for (topology::LinkId l = 0; l < static_cast<topology::LinkId>(fabric.links().size()); ++l) {
    if (!status.IsUp(l)) continue;
    const auto& link = fabric.link(l);
    int a = cuts.set_of[link.a.node], b = cuts.set_of[link.b.node];
    if (a == b) continue;
    if (a >= 0) out_cap[a] += link.capacity_bps, in_cap[a] += link.capacity_bps;
    if (b >= 0) out_cap[b] += link.capacity_bps, in_cap[b] += link.capacity_bps;
  }
  for (size_t i = 0; i < k; ++i) {
    if (out_cap[i] > 0 && out_traffic[i] / out_cap[i] > best.max_utilisation) {
      best.max_utilisation = out_traffic[i] / out_cap[i];
      best.where = absl::StrCat(cuts.names[i], " out");
    }
    if (in_cap[i] > 0 && in_traffic[i] / in_cap[i] > best.max_utilisation) {
      best.max_utilisation = in_traffic[i] / in_cap[i];
      best.where = absl::StrCat(cuts.names[i], " in");
    }
  }
}

// NICs whose every link goes to switches of one set join that set.
void AddSingleHomedNics(const Fabric& fabric, CutFamily& cuts) {
  for (NodeId nic : fabric.nics()) {
    int set = -2;
    for (topology::LinkId l : fabric.LinksOf(nic)) {
      int s = cuts.set_of[fabric.Peer(l, nic)];
      if (set == -2) set = s;
      if (s != set) set = -1;
    }
    cuts.set_of[nic] = set < 0 ? -1 : set;
  }
}

}  // namespace

LowerBound PlacementLowerBound(const Fabric& fabric, const LinkStatus& status,
                               const std::vector<FlowDemand>& demands) {
  LowerBound best;
  const size_t n = fabric.nodes().size();
  // Each NIC alone.
  CutFamily nics{std::vector<int>(n, -1), {}};
  for (NodeId nic : fabric.nics()) {
    nics.set_of[nic] = static_cast<int>(nics.names.size());
    nics.names.push_back(absl::StrCat("nic ", fabric.node(nic).name));
  }
  Evaluate(fabric, status, demands, nics, best);
  // Each leaf with its NICs.
  CutFamily leaves{std::vector<int>(n, -1), {}};
  for (NodeId sw : fabric.switches()) {
    if (fabric.node(sw).role != topology::SwitchRole::kLeaf) continue;
    leaves.set_of[sw] = static_cast<int>(leaves.names.size());
    leaves.names.push_back(fabric.node(sw).name);
  }
  AddSingleHomedNics(fabric, leaves);
  Evaluate(fabric, status, demands, leaves, best);
  // Each pod (only meaningful with a tier above the pods).
  bool has_super_spine = false;
  for (NodeId sw : fabric.switches()) {
    has_super_spine |= fabric.node(sw).role == topology::SwitchRole::kSuperSpine;
  }
  if (has_super_spine) {
    CutFamily pods{std::vector<int>(n, -1), {}};
    std::map<int, int> pod_index;
    for (NodeId sw : fabric.switches()) {
      const auto& node = fabric.node(sw);
      if (node.role == topology::SwitchRole::kSuperSpine || node.pod < 0) continue;
      auto [it, inserted] = pod_index.emplace(node.pod, static_cast<int>(pod_index.size()));
      if (inserted) pods.names.push_back(absl::StrCat("pod ", node.pod));
      pods.set_of[sw] = it->second;
    }
    AddSingleHomedNics(fabric, pods);
    Evaluate(fabric, status, demands, pods, best);
  }
  return best;
}

}  // namespace pulse::controller
