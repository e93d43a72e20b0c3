#include "topology/fabric.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace pulse::topology {

int LevelOf(SwitchRole role) {
  switch (role) {
    case SwitchRole::kLeaf:
      return 1;
    case SwitchRole::kSpine:
      return 2;
    case SwitchRole::kSuperSpine:
      return 3;
  }
  return 1;
}

absl::string_view SwitchRoleName(SwitchRole role) {
  switch (role) {
    case SwitchRole::kLeaf:
      return "leaf";
    case SwitchRole::kSpine:
      return "spine";
    case SwitchRole::kSuperSpine:
      return "super-spine";
  }
  return "leaf";
}

absl::StatusOr<SwitchRole> ParseSwitchRole(absl::string_view name) {
  if (name == "leaf" || name == "tor" || name == "rail") return SwitchRole::kLeaf;
  if (name == "spine") return SwitchRole::kSpine;
  if (name == "super-spine" || name == "superspine" || name == "core") {
    return SwitchRole::kSuperSpine;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown switch role '", name, "' (expected leaf, spine or super-spine)"));
}

absl::StatusOr<NodeId> Fabric::FindNode(absl::string_view name) const {
  auto it = node_by_name_.find(name);
  if (it == node_by_name_.end()) {
    return absl::NotFoundError(absl::StrCat("no switch or NIC named '", name, "'"));
  }
  return it->second;
}

absl::StatusOr<GpuId> Fabric::FindGpu(absl::string_view name) const {
  auto it = gpu_by_name_.find(name);
  if (it == gpu_by_name_.end()) {
    return absl::NotFoundError(absl::StrCat("no GPU named '", name, "'"));
  }
  return it->second;
}

absl::StatusOr<ServerId> Fabric::FindServer(absl::string_view name) const {
  auto it = server_by_name_.find(name);
  if (it == server_by_name_.end()) {
    return absl::NotFoundError(absl::StrCat("no server named '", name, "'"));
  }
  return it->second;
}

absl::StatusOr<NodeId> Fabric::ResolveEndpoint(absl::string_view name) const {
  if (auto gpu = gpu_by_name_.find(name); gpu != gpu_by_name_.end()) {
    return gpus_[gpu->second].nic;
  }
  auto node = node_by_name_.find(name);
  if (node != node_by_name_.end() && nodes_[node->second].is_nic()) return node->second;
  if (node == node_by_name_.end() && !name.empty() && absl::ascii_isdigit(name[0])) {
    absl::StatusOr<uint32_t> ip = ParseIpv4(name);
    if (!ip.ok())
      return absl::InvalidArgumentError(absl::StrCat("endpoint: ", ip.status().message()));
    if (std::optional<NodeId> nic = FindNicByIpv4(*ip)) return *nic;
    return absl::NotFoundError(absl::StrCat("no NIC has address ", name));
  }
  if (node != node_by_name_.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("endpoint '", name, "' is a switch; endpoints are GPUs or NICs"));
  }
  return absl::NotFoundError(absl::StrCat("unknown endpoint '", name, "' (no such GPU or NIC)"));
}

std::optional<NodeId> Fabric::FindByDatapathId(uint64_t dpid) const {
  auto it = node_by_dpid_.find(dpid);
  if (it == node_by_dpid_.end()) return std::nullopt;
  return it->second;
}

std::optional<NodeId> Fabric::FindNicByIpv4(uint32_t ipv4) const {
  auto it = nic_by_ipv4_.find(ipv4);
  if (it == nic_by_ipv4_.end()) return std::nullopt;
  return it->second;
}

std::optional<NodeId> Fabric::FindNicByMac(uint64_t mac) const {
  auto it = nic_by_mac_.find(mac);
  if (it == nic_by_mac_.end()) return std::nullopt;
  return it->second;
}

NodeId Fabric::Tail(DirectedLinkId d) const {
  const Link& l = links_[LinkOf(d)];
  return (d & 1) ? l.b.node : l.a.node;
}

NodeId Fabric::Head(DirectedLinkId d) const {
  const Link& l = links_[LinkOf(d)];
  return (d & 1) ? l.a.node : l.b.node;
}

int32_t Fabric::TailPort(DirectedLinkId d) const {
  const Link& l = links_[LinkOf(d)];
  return (d & 1) ? l.b.port : l.a.port;
}

int32_t Fabric::HeadPort(DirectedLinkId d) const {
  const Link& l = links_[LinkOf(d)];
  return (d & 1) ? l.a.port : l.b.port;
}

DirectedLinkId Fabric::DirectedFrom(LinkId link, NodeId from) const {
  return Directed(link, links_[link].a.node == from ? 0 : 1);
}

NodeId Fabric::Peer(LinkId link, NodeId from) const {
  const Link& l = links_[link];
  return l.a.node == from ? l.b.node : l.a.node;
}

std::string Fabric::DescribeDirected(DirectedLinkId d) const {
  return absl::StrCat(nodes_[Tail(d)].name, ":", TailPort(d), " -> ", nodes_[Head(d)].name, ":",
                      HeadPort(d));
}

std::string Fabric::DescribeLink(LinkId link) const {
  const Link& l = links_[link];
  return absl::StrCat(nodes_[l.a.node].name, ":", l.a.port, " <-> ", nodes_[l.b.node].name, ":",
                      l.b.port);
}

std::optional<LinkId> Fabric::LinkAtPort(NodeId node, int32_t port) const {
  for (const Port& p : nodes_[node].ports) {
    if (p.number == port) {
      if (p.link == kNoLink) return std::nullopt;
      return p.link;
    }
  }
  return std::nullopt;
}

void FabricBuilder::SetSwitchDriver(NodeId node, std::string driver) {
  if (node >= 0 && node < static_cast<NodeId>(fabric_.nodes_.size()) &&
      fabric_.nodes_[node].is_switch()) {
    fabric_.nodes_[node].driver = std::move(driver);
  }
}

NodeId FabricBuilder::AddSwitch(std::string name, SwitchRole role, int pod, int rail, int plane,
                                uint64_t datapath_id) {
  Node n;
  n.name = std::move(name);
  n.kind = NodeKind::kSwitch;
  n.role = role;
  n.level = LevelOf(role);
  n.pod = pod;
  n.rail = rail;
  n.plane = plane;
  if (datapath_id == 0) {
    while (fabric_.node_by_dpid_.contains(next_dpid_)) ++next_dpid_;
    datapath_id = next_dpid_++;
  }
  n.datapath_id = datapath_id;
  n.driver = std::string(kDefaultSwitchDriver);
  NodeId id = static_cast<NodeId>(fabric_.nodes_.size());
  if (!fabric_.node_by_dpid_.emplace(datapath_id, id).second) {
    errors_.push_back(absl::StrCat("switch '", n.name, "': datapath id ", datapath_id,
                                   " is already used by another switch"));
  }
  if (!fabric_.node_by_name_.emplace(n.name, id).second) {
    errors_.push_back(absl::StrCat("duplicate node name '", n.name, "'"));
  }
  fabric_.nodes_.push_back(std::move(n));
  fabric_.adjacency_.emplace_back();
  fabric_.switches_.push_back(id);
  return id;
}

ServerId FabricBuilder::AddServer(std::string name, int pod) {
  ServerId id = static_cast<ServerId>(fabric_.servers_.size());
  if (!fabric_.server_by_name_.emplace(name, id).second) {
    errors_.push_back(absl::StrCat("duplicate server name '", name, "'"));
  }
  fabric_.servers_.push_back(Server{std::move(name), pod, {}, {}});
  return id;
}

NodeId FabricBuilder::AddNic(ServerId server, int rail) {
  Server& s = fabric_.servers_[server];
  Node n;
  n.name = absl::StrCat(s.name, "/nic-", rail);
  n.kind = NodeKind::kNic;
  n.level = kNicLevel;
  n.pod = s.pod;
  n.rail = rail;
  n.server = server;
  NodeId id = static_cast<NodeId>(fabric_.nodes_.size());
  if (!fabric_.node_by_name_.emplace(n.name, id).second) {
    errors_.push_back(absl::StrCat("duplicate NIC '", n.name, "'"));
  }
  fabric_.nodes_.push_back(std::move(n));
  fabric_.adjacency_.emplace_back();
  fabric_.nics_.push_back(id);
  if (static_cast<int>(s.nics.size()) <= rail) s.nics.resize(rail + 1, kNoNode);
  s.nics[rail] = id;
  return id;
}

GpuId FabricBuilder::AddGpu(ServerId server, NodeId nic) {
  Server& s = fabric_.servers_[server];
  GpuId id = static_cast<GpuId>(fabric_.gpus_.size());
  Gpu g;
  g.index = static_cast<int>(s.gpus.size());
  g.name = absl::StrCat(s.name, "/gpu-", g.index);
  g.server = server;
  g.nic = nic;
  if (!fabric_.gpu_by_name_.emplace(g.name, id).second) {
    errors_.push_back(absl::StrCat("duplicate GPU '", g.name, "'"));
  }
  s.gpus.push_back(id);
  fabric_.gpus_.push_back(std::move(g));
  return id;
}

LinkId FabricBuilder::AddLink(NodeId a, NodeId b, int64_t capacity_bps, double cable_length_m,
                              int32_t port_a, int32_t port_b) {
  LinkId id = static_cast<LinkId>(fabric_.links_.size());
  auto attach = [&](NodeId n, int32_t port) -> int32_t {
    Node& node = fabric_.nodes_[n];
    if (port == 0) {
      int32_t max_port = 0;
      for (const Port& p : node.ports) max_port = std::max(max_port, p.number);
      port = max_port + 1;
    } else {
      for (const Port& p : node.ports) {
        if (p.number == port) {
          errors_.push_back(absl::StrCat("port ", port, " of '", node.name, "' is used twice"));
        }
      }
    }
    node.ports.push_back(Port{port, capacity_bps, id});
    fabric_.adjacency_[n].push_back(id);
    return port;
  };
  Link l;
  l.capacity_bps = capacity_bps;
  l.cable_length_m = cable_length_m;
  if (a == b) {
    errors_.push_back(
        absl::StrCat("link from '", fabric_.nodes_[a].name, "' to itself is not allowed"));
  }
  if (capacity_bps <= 0) {
    errors_.push_back(absl::StrCat("link '", fabric_.nodes_[a].name, "' - '",
                                   fabric_.nodes_[b].name, "' has no capacity"));
  }
  int la = fabric_.nodes_[a].level;
  int lb = fabric_.nodes_[b].level;
  if (std::abs(la - lb) != 1) {
    errors_.push_back(
        absl::StrCat("link '", fabric_.nodes_[a].name, "' - '", fabric_.nodes_[b].name,
                     "' does not join adjacent tiers (levels ", la, " and ", lb, ")"));
  }
  // Keep the lower-level end as `a`, so direction 0 is always "up".
  if (la > lb) {
    std::swap(a, b);
    std::swap(port_a, port_b);
  }
  l.a = LinkEnd{a, attach(a, port_a)};
  l.b = LinkEnd{b, attach(b, port_b)};
  fabric_.links_.push_back(l);
  return id;
}

void FabricBuilder::SetNicAddress(NodeId nic, Ipv4Prefix ipv4, uint64_t mac) {
  Node& n = fabric_.nodes_[nic];
  n.ipv4 = ipv4.address;
  n.ipv4_prefix_length = ipv4.length;
  n.mac = mac;
}

void FabricBuilder::ApplyAddresses() {
  Fabric& f = fabric_;
  const AddressPlan& plan = f.address_plan_;
  auto error = [&](NodeId nic, const std::string& what) {
    errors_.push_back(absl::StrCat("address of '", f.nodes_[nic].name, "': ", what));
  };
  // Addresses listed for NICs first: the plan never hands them out again.
  absl::flat_hash_set<uint32_t> listed;
  for (NodeId nic : f.nics_) {
    if (f.nodes_[nic].ipv4 != 0) listed.insert(f.nodes_[nic].ipv4);
  }
  if (plan.kind == AddressPlanKind::kMininet) {
    constexpr size_t kMaxNics = (size_t{1} << 24) - 2;  // keeps 10.255.255.255 out
    for (size_t i = 0; i < f.nics_.size(); ++i) {
      Node& n = f.nodes_[f.nics_[i]];
      if (n.ipv4 != 0) continue;
      if (i >= kMaxNics) {
        error(f.nics_[i], "beyond the 2^24 - 2 NICs of the mininet plan (10.0.0.0/8)");
        break;
      }
      n.ipv4 = 0x0A000000 + static_cast<uint32_t>(i) + 1;
      n.ipv4_prefix_length = 8;
      if (n.mac == 0) n.mac = i + 1;
    }
  } else if (plan.kind == AddressPlanKind::kPerLeaf) {
    if (plan.block_length <= plan.base.length || plan.block_length > 30) {
      errors_.push_back(absl::StrCat("address_plan: block /", plan.block_length,
                                     " must be longer than the base ", FormatIpv4Prefix(plan.base),
                                     " and at most /30"));
      return;
    }
    // Leaf j of each plane (fabric order) owns block j.
    absl::flat_hash_map<NodeId, int> leaf_index;
    absl::flat_hash_map<int, int> leaves_in_plane;
    for (NodeId sw : f.switches_) {
      const Node& n = f.nodes_[sw];
      if (n.role == SwitchRole::kLeaf) leaf_index[sw] = leaves_in_plane[n.plane]++;
    }
    const int block_bits = plan.block_length - plan.base.length;
    const uint64_t blocks = uint64_t{1} << std::min(block_bits, 32);
    const uint32_t block_size =
        plan.block_length >= 32 ? 1 : uint32_t{1} << (32 - plan.block_length);
    absl::flat_hash_map<NodeId, uint32_t> next_host;  // by leaf
    for (NodeId nic : f.nics_) {
      Node& n = f.nodes_[nic];
      // The NIC's home leaf: the one it reaches in its lowest plane.
      NodeId home = kNoNode;
      for (LinkId l : f.adjacency_[nic]) {
        NodeId peer = f.Peer(l, nic);
        if (home == kNoNode || f.nodes_[peer].plane < f.nodes_[home].plane) home = peer;
      }
      if (home == kNoNode || !leaf_index.contains(home)) continue;
      const int j = leaf_index[home];
      if (static_cast<uint64_t>(j) >= blocks) {
        error(nic, absl::StrCat("the per-leaf plan's base ", FormatIpv4Prefix(plan.base), " holds ",
                                blocks, " blocks of /", plan.block_length, ", too few for leaf '",
                                f.nodes_[home].name, "' (leaf ", j, ")"));
        return;
      }
      const Ipv4Prefix block{plan.base.Network() + static_cast<uint32_t>(j) * block_size,
                             plan.block_length};
      if (n.ipv4 != 0) {
        if (!block.Contains(n.ipv4)) {
          error(nic,
                absl::StrCat(FormatIpv4(n.ipv4), " is outside the block ", FormatIpv4Prefix(block),
                             " of its leaf '", f.nodes_[home].name, "' (per-leaf plan)"));
        }
        continue;
      }
      uint32_t& host = next_host[home];
      do {
        ++host;
      } while (listed.contains(block.Network() + host));
      if (host + 1 >= block_size) {
        error(nic, absl::StrCat("leaf '", f.nodes_[home].name, "' has more NICs than its block ",
                                FormatIpv4Prefix(block), " holds"));
        return;
      }
      n.ipv4 = block.Network() + host;
      n.ipv4_prefix_length = plan.block_length;
      if (n.mac == 0) n.mac = PlannedMac(n.ipv4);
    }
  }
  for (NodeId nic : f.nics_) {
    const Node& n = f.nodes_[nic];
    if (n.ipv4 != 0) {
      auto [it, fresh] = f.nic_by_ipv4_.emplace(n.ipv4, nic);
      if (!fresh) {
        error(nic, absl::StrCat(FormatIpv4(n.ipv4), " is also the address of '",
                                f.nodes_[it->second].name, "'"));
      }
    }
    if (n.mac != 0) {
      auto [it, fresh] = f.nic_by_mac_.emplace(n.mac, nic);
      if (!fresh) {
        error(nic, absl::StrCat("MAC ", FormatMac(n.mac), " is also the MAC of '",
                                f.nodes_[it->second].name, "'"));
      }
    }
  }
}

absl::StatusOr<Fabric> FabricBuilder::Build() && {
  for (const Server& s : fabric_.servers_) {
    for (size_t rail = 0; rail < s.nics.size(); ++rail) {
      if (s.nics[rail] == kNoNode) {
        errors_.push_back(absl::StrCat("server '", s.name, "' has no NIC on rail ", rail));
      }
    }
  }
  for (NodeId nic : fabric_.nics_) {
    if (fabric_.adjacency_[nic].empty()) {
      errors_.push_back(absl::StrCat("NIC '", fabric_.nodes_[nic].name, "' has no link"));
    }
  }
  if (errors_.empty()) ApplyAddresses();
  if (!errors_.empty()) {
    if (errors_.size() > 10) {
      size_t more = errors_.size() - 10;
      errors_.resize(10);
      errors_.push_back(absl::StrCat("and ", more, " more"));
    }
    return absl::InvalidArgumentError(absl::StrJoin(errors_, "; "));
  }
  return std::move(fabric_);
}

}  // namespace pulse::topology
