#include "controller/qos/qos_plan.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace pulse::controller {
namespace {

using topology::Fabric;
using topology::Link;
using topology::Node;

double DefaultCableLength(const QosPolicy& policy, int level_a, int level_b) {
  const int low = std::min(level_a, level_b);
  if (low <= topology::kNicLevel) return policy.default_cable_lengths.nic_leaf_m;
  if (low == 1) return policy.default_cable_lengths.leaf_spine_m;
  return policy.default_cable_lengths.spine_superspine_m;
}

}  // namespace

absl::StatusOr<QosPlan> PlanQos(const Fabric& fabric, const QosPolicy& policy) {
  if (absl::Status s = ValidateQosPolicy(policy); !s.ok()) return s;
  const AsicProfile& asic = *FindAsicProfile(policy, policy.asic);
  const int64_t num_lossless_pgs = static_cast<int64_t>(policy.lossless_priorities.size());
  const double alpha = std::ldexp(1.0, policy.pg_dynamic_th);

  QosPlan plan;
  plan.policy = policy;
  for (topology::NodeId id : fabric.switches()) {
    const Node& node = fabric.node(id);
    SwitchQosPlan sw;
    sw.node = id;
    sw.name = node.name;
    std::vector<topology::Port> ports = node.ports;
    std::sort(ports.begin(), ports.end(),
              [](const topology::Port& a, const topology::Port& b) { return a.number < b.number; });
    for (const topology::Port& port : ports) {
      if (port.link == topology::kNoLink) continue;
      const Link& link = fabric.link(port.link);
      const Node& peer = fabric.node(fabric.Peer(port.link, id));
      const std::string where =
          absl::StrCat("switch ", node.name, " port ", port.number, " (to ", peer.name, ")");
      PortQosPlan p;
      p.port = port.number;
      p.link = port.link;
      p.peer = peer.name;
      p.speed_bps = port.speed_bps > 0 ? port.speed_bps : link.capacity_bps;
      if (link.cable_length_m > 0) {
        p.cable_length_m = link.cable_length_m;
      } else if (link.cable_length_m == 0) {
        p.cable_length_m = DefaultCableLength(policy, node.level, peer.level);
        p.cable_length_defaulted = true;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": cable length ", link.cable_length_m, " m is negative"));
      }
      absl::StatusOr<Headroom> h =
          HeadroomBytes(p.speed_bps, p.cable_length_m, policy.port_mtu_bytes, asic);
      if (!h.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": ", h.status().message()));
      }
      p.headroom = *h;
      const int64_t port_headroom = h->size_bytes * num_lossless_pgs;
      if (port_headroom > asic.max_headroom_bytes) {
        return absl::FailedPreconditionError(absl::StrCat(
            where, ": rule 'headroom fits the port': ", num_lossless_pgs, " lossless PGs x ",
            h->size_bytes, " B (", p.speed_bps / 1000000000, "G, ", p.cable_length_m,
            " m) = ", port_headroom, " B exceeds max headroom ", asic.max_headroom_bytes, " B"));
      }
      const EcnProfile* ecn = FindEcnProfile(policy, asic.name, p.speed_bps);
      if (ecn == nullptr) {
        return absl::FailedPreconditionError(absl::StrCat(where, ": no ecn profile for asic ",
                                                          asic.name, " at ", p.speed_bps, " bps"));
      }
      p.ecn = *ecn;
      sw.headroom_bytes += port_headroom;
      sw.ports.push_back(std::move(p));
    }
    const int64_t pool_bytes = PlanningPoolBytes(asic);
    if (sw.headroom_bytes > pool_bytes) {
      return absl::FailedPreconditionError(absl::StrCat(
          "switch ", node.name, ": rule 'headroom fits the pool': ", sw.ports.size(),
          " ports need ", sw.headroom_bytes, " B of headroom, pool is ", pool_bytes, " B"));
    }
    sw.shared_pool_bytes = pool_bytes - sw.headroom_bytes;
    const int64_t trigger = static_cast<int64_t>(
        std::floor(alpha * static_cast<double>(sw.shared_pool_bytes) / (1.0 + alpha)));
    for (PortQosPlan& p : sw.ports) {
      p.xoff_trigger_bytes = trigger;
      if (!(p.ecn.kmin_bytes < p.ecn.kmax_bytes && p.ecn.kmax_bytes < trigger)) {
        return absl::FailedPreconditionError(
            absl::StrCat("switch ", node.name, " port ", p.port, " (to ", p.peer,
                         "): rule 'ECN before PFC' needs Kmin < Kmax < xoff trigger, have Kmin ",
                         p.ecn.kmin_bytes, " B, Kmax ", p.ecn.kmax_bytes, " B, xoff trigger ",
                         trigger, " B (shared pool ", sw.shared_pool_bytes, " B, dynamic_th ",
                         policy.pg_dynamic_th, ")"));
      }
    }
    plan.switches.push_back(std::move(sw));
  }
  return plan;
}

}  // namespace pulse::controller
