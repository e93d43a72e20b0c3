// The core's contract with switches: what the controller asks of any switch protocol (OpenFlow,
// SONiC), in the core's vocabulary: switches named by their fabric node, the fabric's port
// numbers, counters, a protocol-free description of desired forwarding, and mastership. Each
// driver maps a node to its own name for the switch (an OpenFlow switch's protocol id; SONiC: the
// switch's Redis) and keeps protocol details (switch ids, OpenFlow group-id ranges, CONFIG_DB
// keys) to itself. Drivers under southbound/ implement it and include nothing of controller/ but
// controller/switches/. QoS is in qos.h, counters in counters.h. No protocol type appears here.
#ifndef PULSE_CONTROLLER_SWITCHES_SWITCH_DRIVER_H_
#define PULSE_CONTROLLER_SWITCHES_SWITCH_DRIVER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/optional.h"
#include "controller/switches/counters.h"
#include "topology/fabric.h"

namespace pulse::switches {

// One port as reported by the switch when it connects.
struct SwitchPort {
  PortNo port = 0;
  std::string name;
  uint64_t hw_addr = 0;  // 48-bit MAC
  bool up = false;
  uint64_t speed_kbps = 0;
};

// A path probe (controller/oracle/path_oracle.h): a RoCEv2-shaped UDP/IPv4 packet (a BTH header
// after the UDP one) whose DSCP is the oracle's marker, so the probe-catching rule of the next
// switch hands it to the controller instead of forwarding it. Addresses in host order.
struct ProbePacket {
  uint32_t ipv4_src = 0;
  uint32_t ipv4_dst = 0;
  uint16_t udp_src = 0;
  uint16_t udp_dst = 4791;
  uint8_t dscp = 0;
};

// What a driver reports to the core. Called on the driver's event thread; implementations
// post the change to the state owner rather than doing work inline.
class FabricEventSink {
 public:
  virtual ~FabricEventSink() = default;
  // A switch finished its handshake (also after a reconnect, which replaces the old session).
  // Drivers report only switches of the fabric they serve: a switch the driver cannot name as a
  // node (one the intent does not list) is the driver's to refuse or ignore.
  virtual void OnSwitchConnected(SwitchId sw, const std::vector<SwitchPort>& ports) = 0;
  // The session to a switch ended (closed, keepalive timeout, protocol error).
  virtual void OnSwitchLost(SwitchId sw) = 0;
  virtual void OnPortStatus(SwitchId sw, PortNo port, bool up) = 0;
  // A link seen by discovery (e.g. LLDP): port_a of sw_a reaches port_b of sw_b.
  virtual void OnLinkObserved(SwitchId sw_a, PortNo port_a, SwitchId sw_b, PortNo port_b) = 0;
  // Reply to RequestPortStats.
  virtual void OnPortCounters(SwitchId sw, const std::vector<PortCounters>& counters) = 0;
  // A host's ARP or IPv4 packet arrived on `port` of `sw`: its sender IPv4 (host order) and MAC.
  // The core decides whether that port is a host port (host discovery).
  virtual void OnHostSeen(SwitchId sw, PortNo port, uint32_t ipv4, uint64_t mac) {
    (void)sw, (void)port, (void)ipv4, (void)mac;
  }
  // A path probe (SwitchDriver::InjectProbe) reached the controller from `port` of `sw` (a
  // probe-catching rule matched it there).
  virtual void OnProbeSeen(SwitchId sw, PortNo port, const ProbePacket& probe) {
    (void)sw, (void)port, (void)probe;
  }
};

// ---- Desired forwarding state of one switch ----

// Match on a subset of header fields; unset fields are wildcards. Masks are prefix-style
// bit masks (0xffffffff: exact).
struct RuleMatch {
  absl::optional<PortNo> in_port;
  absl::optional<uint16_t> eth_type;
  absl::optional<uint32_t> ipv4_src;
  uint32_t ipv4_src_mask = 0xffffffff;
  absl::optional<uint32_t> ipv4_dst;
  uint32_t ipv4_dst_mask = 0xffffffff;
  absl::optional<uint8_t> ip_proto;
  absl::optional<uint16_t> udp_src;
  absl::optional<uint16_t> udp_dst;
  absl::optional<uint8_t> dscp;
};

// What a rule does, in order: optionally pick a queue, then forward to a port or a group. Group
// ids are the core's names for the groups of one switch's SwitchForwarding (1, 2, ...); how a
// protocol numbers them on the switch (OpenFlow's id ranges, fast-failover groups) is the
// driver's.
struct RuleAction {
  absl::optional<uint32_t> set_queue;
  absl::optional<PortNo> output_port;  // kPortToController: to the controller (probe catching)
  absl::optional<uint32_t> group_id;
};

// The output port that sends a packet to the controller (as a packet-in), whatever the protocol.
inline constexpr PortNo kPortToController = 0xfffffffd;

struct ForwardingRule {
  uint16_t priority = 0;
  RuleMatch match;
  RuleAction action;
};

enum class GroupKind {
  kSelect,        // spread flows over buckets by weight (ECMP)
  kFastFailover,  // first bucket whose watch_port is live
};

struct GroupBucket {
  uint16_t weight = 1;
  PortNo watch_port = 0;  // 0: none
  PortNo output_port = 0;
};

struct ForwardingGroup {
  uint32_t id = 0;
  GroupKind kind = GroupKind::kSelect;
  std::vector<GroupBucket> buckets;
  // Select groups: the seed of the switch's flow hash (Open vSwitch's multipath basis). Tiers
  // seeded alike choose alike and polarise; host steering models it (controller/paths/ecmp_hash.h).
  uint16_t hash_basis = 0;
};

// The complete desired forwarding state of one switch. The driver reconciles the switch to
// exactly this (adds, modifies and deletes), so the core never sends deltas itself.
struct SwitchForwarding {
  SwitchId node = topology::kNoNode;
  std::vector<ForwardingGroup> groups;
  std::vector<ForwardingRule> rules;
};

// Completion of an asynchronous driver call: OK once the switch confirmed (barrier reply),
// else the reason (DeadlineExceeded, Unavailable if disconnected, the switch's error).
using DoneCallback = std::function<void(absl::Status)>;

// A southbound protocol driver, serving the fabric switches whose intent names it (`driver:`,
// default openflow). Implemented by the OpenFlow and SONiC drivers; the core holds one per
// protocol (SwitchDriverTable routes each switch to its driver) and never sees protocol messages.
class SwitchDriver {
 public:
  virtual ~SwitchDriver() = default;
  // Whether ApplyForwarding programs the switch's tables. A driver whose switches route by their
  // own control plane (SONiC's BGP/ECMP) says false and is never handed forwarding.
  virtual bool ProgramsForwarding() const { return true; }
  // Starts listening/connecting; events go to `sink`, which must outlive the driver.
  virtual absl::Status Start(FabricEventSink* sink) = 0;
  // Closes every session; no callback runs after Stop returns.
  virtual void Stop() = 0;
  // Reconciles one switch with `desired` (reads back actual flows/groups, sends the difference,
  // confirms with a barrier). Idempotent: applying the same state twice changes nothing.
  virtual void ApplyForwarding(const SwitchForwarding& desired, DoneCallback done) = 0;
  // Asks for port counters; the answer arrives through FabricEventSink::OnPortCounters.
  virtual void RequestPortStats(SwitchId sw) = 0;
  // Sends a discovery probe out of every port of every switch (results via OnLinkObserved).
  virtual void ProbeLinks() = 0;
  // Mastership (cluster mode): this controller replica is the switches' master (`leader`) or a
  // standby, as of election `generation` (switches fence a deposed master by its lower
  // generation). A protocol without mastership ignores it.
  virtual void SetRole(bool /*leader*/, uint64_t /*generation*/) {}
  // The addresses the switches' hosts may ask for (proxy ARP): IPv4 (host order) -> MAC, the
  // intent's and the learned ones. Replaces the previous book.
  virtual void SetHostAddresses(std::vector<std::pair<uint32_t, uint64_t>> book) { (void)book; }
  // Sends `probe` through switch `sw`'s own forwarding tables as if it had arrived on `in_port`,
  // so the switch's ECMP hashing picks its egress (seen next hop via OnProbeSeen). Unimplemented
  // by drivers that cannot inject; Unavailable if the switch is not connected.
  virtual absl::Status InjectProbe(SwitchId sw, PortNo in_port, const ProbePacket& probe) {
    (void)sw, (void)in_port, (void)probe;
    return absl::UnimplementedError("this switch driver cannot inject probes");
  }
};

}  // namespace pulse::switches

// The names drivers and the core used before the contract moved here from southbound/driver.h.
namespace pulse::southbound {
using switches::DoneCallback;
using switches::FabricEventSink;
using switches::ForwardingGroup;
using switches::ForwardingRule;
using switches::GroupBucket;
using switches::GroupKind;
using switches::PortCounters;
using switches::PortNo;
using switches::ProbePacket;
using switches::RuleAction;
using switches::RuleMatch;
using switches::SwitchDriver;
using switches::SwitchForwarding;
using switches::SwitchId;
using switches::SwitchPort;
}  // namespace pulse::southbound

#endif  // PULSE_CONTROLLER_SWITCHES_SWITCH_DRIVER_H_
