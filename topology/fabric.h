// The fabric model: switches, NICs, the links between them, and the servers and GPUs that own the
// NICs. A Fabric is built once (by a builder or from an intent file) and then treated as an
// immutable value; what changes at run time (link up/down, load) lives in the controller's state
// and refers to the fabric by the dense ids defined here.
//
// Nodes are switches and NICs in one id space, each with a `level`: NIC 0, leaf (ToR or rail
// switch) 1, spine 2, super-spine 3. An up-down (valley-free) path climbs strictly in level and
// then descends strictly, which is all the routing code needs to know about tiers.
//
// Every physical link is full duplex and has two directed channels. Load and buffers belong to a
// channel, so the controller mostly speaks DirectedLinkId: 2 * link + 0 for a->b, 2 * link + 1
// for b->a.
#ifndef PULSE_TOPOLOGY_FABRIC_H_
#define PULSE_TOPOLOGY_FABRIC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "topology/addresses.h"

namespace pulse::topology {

using NodeId = int32_t;          // index into Fabric::nodes()
using LinkId = int32_t;          // index into Fabric::links()
using DirectedLinkId = int32_t;  // 2 * LinkId + direction (0: a->b, 1: b->a)
using ServerId = int32_t;        // index into Fabric::servers()
using GpuId = int32_t;           // index into Fabric::gpus()

inline constexpr NodeId kNoNode = -1;
inline constexpr LinkId kNoLink = -1;

enum class NodeKind { kNic, kSwitch };

// The tier a switch sits in. Leaves are the switches NICs attach to (ToR or rail switches).
enum class SwitchRole { kLeaf, kSpine, kSuperSpine };

// Level of a node in the Clos: NICs 0, leaves 1, spines 2, super-spines 3.
inline constexpr int kNicLevel = 0;
int LevelOf(SwitchRole role);
absl::string_view SwitchRoleName(SwitchRole role);  // "leaf", "spine", "super-spine"
absl::StatusOr<SwitchRole> ParseSwitchRole(absl::string_view name);

// One port of a node. Switch ports are numbered as the switch numbers them (OpenFlow port
// numbers, 1-based); a NIC has one port per plane, numbered from 1.
struct Port {
  int32_t number = 0;
  int64_t speed_bps = 0;
  LinkId link = kNoLink;  // the link plugged into this port, if any
};

// The driver a switch gets when its intent names none.
inline constexpr char kDefaultSwitchDriver[] = "openflow";

struct Node {
  std::string name;  // stable readable id: "leaf-3", "spine-1", "server-12/nic-5"
  NodeKind kind = NodeKind::kSwitch;
  SwitchRole role = SwitchRole::kLeaf;  // meaningful for switches only
  int level = kNicLevel;
  int pod = -1;   // fat-tree pod of a leaf/spine, or of the NIC's server; -1 when not in a pod
  int rail = -1;  // rail of a rail switch or of a NIC; -1 when not rail-aligned
  int plane = 0;  // plane of a switch in a multi-plane fabric (0 in single-plane fabrics)
  uint64_t datapath_id = 0;  // OpenFlow datapath id of a switch; 0 for NICs
  // The switch driver that programs a switch (intent key `driver`; controller/switches/), so one
  // daemon can serve a fabric of several kinds of switch. "" for NICs.
  std::string driver;
  ServerId server = -1;  // server owning a NIC; -1 for switches
  std::vector<Port> ports;
  // A NIC's address as the intent or its address plan gives it (topology/addresses.h); 0 when the
  // model has none and the controller learns it from the NIC's traffic. The same on every plane.
  uint32_t ipv4 = 0;
  int ipv4_prefix_length = 32;  // the NIC's subnet (its leaf's block under the per-leaf plan)
  uint64_t mac = 0;

  bool is_switch() const { return kind == NodeKind::kSwitch; }
  bool is_nic() const { return kind == NodeKind::kNic; }
};

struct LinkEnd {
  NodeId node = kNoNode;
  int32_t port = 0;  // port number on that node
};

struct Link {
  LinkEnd a;  // by convention the lower-level end (NIC or leaf side) when built by a builder
  LinkEnd b;
  int64_t capacity_bps = 0;   // per direction
  double cable_length_m = 0;  // 0 means unknown: QoS planning then uses the role default
};

struct Gpu {
  std::string name;  // "server-12/gpu-5"
  ServerId server = -1;
  int index = 0;         // index within its server
  NodeId nic = kNoNode;  // the NIC this GPU sends through (its rail)
};

struct Server {
  std::string name;  // "server-12"
  int pod = -1;
  std::vector<NodeId> nics;  // nics[i] is the NIC on rail i
  std::vector<GpuId> gpus;
};

// The static fabric. Build it with FabricBuilder (below) or a builder in topology/builders.h.
class Fabric {
 public:
  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<Link>& links() const { return links_; }
  const std::vector<Server>& servers() const { return servers_; }
  const std::vector<Gpu>& gpus() const { return gpus_; }
  const Node& node(NodeId id) const { return nodes_[id]; }
  const Link& link(LinkId id) const { return links_[id]; }
  int num_directed_links() const { return static_cast<int>(links_.size()) * 2; }

  // All NIC node ids and all switch node ids, in id order.
  const std::vector<NodeId>& nics() const { return nics_; }
  const std::vector<NodeId>& switches() const { return switches_; }

  // Look-ups by readable id. NotFound names the id.
  absl::StatusOr<NodeId> FindNode(absl::string_view name) const;
  absl::StatusOr<GpuId> FindGpu(absl::string_view name) const;
  absl::StatusOr<ServerId> FindServer(absl::string_view name) const;
  // An endpoint as a scheduler names it: a NIC id or a GPU id (resolved to its NIC).
  absl::StatusOr<NodeId> ResolveEndpoint(absl::string_view name) const;
  // The switch with this OpenFlow datapath id.
  std::optional<NodeId> FindByDatapathId(uint64_t dpid) const;
  // The NIC the model gives this IPv4 address / MAC (learned addresses are not in the model).
  std::optional<NodeId> FindNicByIpv4(uint32_t ipv4) const;
  std::optional<NodeId> FindNicByMac(uint64_t mac) const;
  // The plan that assigned the addresses NICs did not list themselves.
  const AddressPlan& address_plan() const { return address_plan_; }

  // Directed channels.
  static DirectedLinkId Directed(LinkId link, int direction) { return link * 2 + direction; }
  static LinkId LinkOf(DirectedLinkId d) { return d / 2; }
  NodeId Tail(DirectedLinkId d) const;  // node the channel leaves from
  NodeId Head(DirectedLinkId d) const;  // node the channel arrives at
  int32_t TailPort(DirectedLinkId d) const;
  int32_t HeadPort(DirectedLinkId d) const;
  // The channel of `link` that leaves `from`.
  DirectedLinkId DirectedFrom(LinkId link, NodeId from) const;

  // Links attached to a node, and the neighbours one level up or down.
  const std::vector<LinkId>& LinksOf(NodeId node) const { return adjacency_[node]; }
  NodeId Peer(LinkId link, NodeId from) const;

  // "leaf-1:3 -> spine-2:1" for logs and errors.
  std::string DescribeDirected(DirectedLinkId d) const;
  std::string DescribeLink(LinkId link) const;

  // The link plugged into `port` of `node`, if any.
  std::optional<LinkId> LinkAtPort(NodeId node, int32_t port) const;

 private:
  friend class FabricBuilder;
  std::vector<Node> nodes_;
  std::vector<Link> links_;
  std::vector<Server> servers_;
  std::vector<Gpu> gpus_;
  std::vector<NodeId> nics_;
  std::vector<NodeId> switches_;
  std::vector<std::vector<LinkId>> adjacency_;
  absl::flat_hash_map<std::string, NodeId> node_by_name_;
  absl::flat_hash_map<std::string, GpuId> gpu_by_name_;
  absl::flat_hash_map<std::string, ServerId> server_by_name_;
  absl::flat_hash_map<uint64_t, NodeId> node_by_dpid_;
  absl::flat_hash_map<uint32_t, NodeId> nic_by_ipv4_;
  absl::flat_hash_map<uint64_t, NodeId> nic_by_mac_;
  AddressPlan address_plan_;
};

// Assembles a Fabric and checks it. Ports are created as links are added; a port number given
// twice on one node, a link from a node to itself, a duplicate name, or a link whose levels are
// not adjacent in the Clos is an error returned by Build() (not an abort).
class FabricBuilder {
 public:
  // Switch with an explicit datapath id (0: assign 1, 2, 3... in order of addition).
  NodeId AddSwitch(std::string name, SwitchRole role, int pod = -1, int rail = -1, int plane = 0,
                   uint64_t datapath_id = 0);
  // The driver of a switch added before (default "openflow").
  void SetSwitchDriver(NodeId node, std::string driver);
  ServerId AddServer(std::string name, int pod = -1);
  // A NIC owned by `server`, on `rail` (the NIC index within the server).
  NodeId AddNic(ServerId server, int rail);
  // A GPU of `server` sending through `nic`.
  GpuId AddGpu(ServerId server, NodeId nic);
  // The address of a NIC as listed in the intent (mac 0: learned, or from the plan).
  void SetNicAddress(NodeId nic, Ipv4Prefix ipv4, uint64_t mac);
  // The plan Build() applies to NICs without an address (default: mininet). Build() refuses
  // duplicate IPv4 addresses or MACs, a per-leaf plan too small for the fabric, and a listed
  // address outside its leaf's per-leaf block; those errors start "address of '<NIC>': ".
  void SetAddressPlan(AddressPlan plan) { fabric_.address_plan_ = plan; }
  // Port numbers 0 mean "next free port on that node".
  LinkId AddLink(NodeId a, NodeId b, int64_t capacity_bps, double cable_length_m = 0,
                 int32_t port_a = 0, int32_t port_b = 0);

  absl::StatusOr<Fabric> Build() &&;

 private:
  Fabric fabric_;
  void ApplyAddresses();

  std::vector<std::string> errors_;
  uint64_t next_dpid_ = 1;
};

}  // namespace pulse::topology

#endif  // PULSE_TOPOLOGY_FABRIC_H_
