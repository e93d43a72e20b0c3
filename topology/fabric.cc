#include "topology/fabric.h"

#include <algorithm>

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
