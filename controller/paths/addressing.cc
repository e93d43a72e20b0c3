#include "controller/paths/addressing.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "controller/paths/hosts.h"

namespace pulse::controller {

using topology::Fabric;
using topology::NodeId;

namespace {

absl::Status CheckNic(const Fabric& fabric, NodeId nic) {
  if (nic < 0 || nic >= static_cast<NodeId>(fabric.nodes().size()) || !fabric.node(nic).is_nic()) {
    return absl::InvalidArgumentError(absl::StrCat("addressing: node ", nic, " is not a NIC"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<uint32_t> NicAddress(const Fabric& fabric, NodeId nic) {
  if (absl::Status s = CheckNic(fabric, nic); !s.ok()) return s;
  if (fabric.node(nic).ipv4 == 0) {
    return absl::NotFoundError(
        absl::StrCat("NIC '", fabric.node(nic).name, "' has no address in the intent"));
  }
  return fabric.node(nic).ipv4;
}

absl::StatusOr<uint64_t> NicMac(const Fabric& fabric, NodeId nic) {
  if (absl::Status s = CheckNic(fabric, nic); !s.ok()) return s;
  if (fabric.node(nic).mac == 0) {
    return absl::NotFoundError(
        absl::StrCat("NIC '", fabric.node(nic).name, "' has no MAC in the intent"));
  }
  return fabric.node(nic).mac;
}

absl::StatusOr<NodeId> NicByAddress(const Fabric& fabric, uint32_t ipv4) {
  if (std::optional<NodeId> nic = fabric.FindNicByIpv4(ipv4)) return *nic;
  return absl::NotFoundError(absl::StrCat("no NIC has address ", FormatIpv4(ipv4)));
}

uint32_t ServedIpv4(const Fabric& fabric, const HostTable* hosts, NodeId nic) {
  if (fabric.node(nic).ipv4 != 0) return fabric.node(nic).ipv4;
  if (hosts == nullptr) return 0;
  const HostEntry* entry = hosts->Find(nic);
  return entry == nullptr ? 0 : entry->ipv4;
}

uint64_t ServedMac(const Fabric& fabric, const HostTable* hosts, NodeId nic) {
  if (fabric.node(nic).mac != 0) return fabric.node(nic).mac;
  if (hosts == nullptr) return 0;
  const HostEntry* entry = hosts->Find(nic);
  if (entry == nullptr) return 0;
  // A learned MAC serves only with an address: the model's or the learned one.
  return (fabric.node(nic).ipv4 != 0 || entry->ipv4 != 0) ? entry->mac : 0;
}

PrefixPlan AggregatablePrefixes(const Fabric& fabric) {
  // (plane, network, length) -> the leaf whose NICs gave it, or kNoNode once two leaves did.
  std::map<std::tuple<int, uint32_t, int>, NodeId> owner;
  std::map<int, std::set<int>> lengths;  // by plane
  for (NodeId nic : fabric.nics()) {
    const topology::Node& n = fabric.node(nic);
    if (n.ipv4 == 0 || n.ipv4_prefix_length >= 32 || n.ipv4_prefix_length <= 0) continue;
    const Ipv4Prefix p{n.ipv4, n.ipv4_prefix_length};
    for (topology::LinkId l : fabric.LinksOf(nic)) {
      const NodeId leaf = fabric.Peer(l, nic);
      const int plane = fabric.node(leaf).plane;
      auto [it, fresh] = owner.emplace(std::make_tuple(plane, p.Network(), p.length), leaf);
      if (!fresh && it->second != leaf) it->second = topology::kNoNode;
      lengths[plane].insert(p.length);
    }
  }
  // A prefix is lost if any model address inside it sits on another leaf of its plane.
  for (NodeId nic : fabric.nics()) {
    const topology::Node& n = fabric.node(nic);
    if (n.ipv4 == 0) continue;
    for (topology::LinkId l : fabric.LinksOf(nic)) {
      const NodeId leaf = fabric.Peer(l, nic);
      const int plane = fabric.node(leaf).plane;
      for (int len : lengths[plane]) {
        auto it = owner.find(std::make_tuple(plane, n.ipv4 & Ipv4Prefix::Mask(len), len));
        if (it != owner.end() && it->second != leaf) it->second = topology::kNoNode;
      }
    }
  }
  PrefixPlan plan;
  for (const auto& [key, leaf] : owner) {
    if (leaf == topology::kNoNode) continue;
    plan[leaf].prefixes.push_back(Ipv4Prefix{std::get<1>(key), std::get<2>(key)});
  }
  for (auto& [leaf, lp] : plan) {
    std::sort(lp.prefixes.begin(), lp.prefixes.end(), [](const Ipv4Prefix& a, const Ipv4Prefix& b) {
      return std::tie(a.address, a.length) < std::tie(b.address, b.length);
    });
  }
  return plan;
}

bool CoveredByLeafPrefix(const Fabric& fabric, const PrefixPlan& plan, NodeId nic, NodeId leaf) {
  const uint32_t ip = fabric.node(nic).ipv4;
  if (ip == 0) return false;
  auto it = plan.find(leaf);
  if (it == plan.end()) return false;
  for (const Ipv4Prefix& p : it->second.prefixes) {
    if (p.Contains(ip)) return true;
  }
  return false;
}

}  // namespace pulse::controller
