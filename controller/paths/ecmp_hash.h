// A model of switch ECMP hashing, and the plain-ECMP baseline it gives.
//
// A switch picks a bucket of an ECMP group from a hash of header fields. Pulse models that hash
// so it can (1) predict where plain ECMP puts flows (the baseline placement is compared with)
// and (2) choose a UDP source port that makes the switches' own hashing follow a planned path
// (steering.h). The algorithms are written here, not taken from a library, and are documented
// byte for byte so a real switch's configuration can be matched:
// - the hashed bytes are the selected fields in this order, network byte order: src ip (4),
//   dst ip (4), proto (1), src port (2), dst port (2);
// - crc32: reflected CRC-32 (poly 0xEDB88320), initial value 0xFFFFFFFF ^ seed, final xor
//   0xFFFFFFFF (seed 0 gives the standard CRC-32);
// - crc16-ccitt: poly 0x1021, not reflected, initial value 0xFFFF ^ (seed & 0xFFFF), no final
//   xor (seed 0 gives CRC-16/CCITT-FALSE);
// - xor-fold: seed ^ src ip ^ dst ip ^ proto ^ (src port << 16 | dst port) over the selected
//   fields, folded to 16 bits (high half xor low half).
// Bucket choice: hash % (sum of member weights), members in group order (sorted by port, see
// ecmp_groups.h), each member owning `weight` consecutive slots; unweighted, hash % n.
//
// ovs-multipath is what Pulse programs on Open vSwitch (southbound/openflow/flow_reconcile.h):
// the Nicira action multipath(symmetric_l3l4+udp, basis = seed, hrw, slots) over the slot table
// of common/multipath_slots.h. Written from Open vSwitch's documented and open behaviour
// (lib/flow.c flow_hash_symmetric_l3l4, lib/hash.h, lib/multipath.c) as it runs on a
// little-endian host built without SSE 4.2 CRC hashing (Debian's amd64 and arm64 packages
// without the aarch64 CRC extension): a 32-bit murmur3-style mix of
//   (src ip ^ dst ip) as read from the packet's bytes, proto, (src port ^ dst port) likewise,
// finished with the basis; the hash is symmetric, so `fields` does not apply. The slot is the
// highest-random-weight choice: the slot s whose hash_2words(hash, s) is largest (first on ties).
// tests/southbound/openflow/ovs_hash_model_test.cc checks it against ofproto/trace.
#ifndef PULSE_CONTROLLER_PATHS_ECMP_HASH_H_
#define PULSE_CONTROLLER_PATHS_ECMP_HASH_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/paths/ecmp_groups.h"
#include "controller/paths/paths.h"
#include "controller/placement/collectives.h"
#include "controller/switches/ecmp_hash_model.h"
#include "topology/fabric.h"
#include "topology/intent.h"

namespace pulse::controller {

// The model's types are the switch contract's vocabulary (controller/switches/ecmp_hash_model.h).
using switches::EcmpHashModel;
using switches::HashAlgorithm;
using switches::HashField;
using switches::kHashAllFields;
using switches::kHashDstIp;
using switches::kHashDstPort;
using switches::kHashProto;
using switches::kHashSrcIp;
using switches::kHashSrcPort;

// "crc32", "crc16-ccitt", "xor-fold", "ovs-multipath" ("learned" is named, never parsed).
absl::StatusOr<HashAlgorithm> ParseHashAlgorithm(absl::string_view name);
absl::string_view HashAlgorithmName(HashAlgorithm algorithm);

inline constexpr uint8_t kUdpProto = 17;
inline constexpr uint16_t kRoceV2Port = 4791;

struct FiveTuple {
  uint32_t src_ip = 0;  // host byte order
  uint32_t dst_ip = 0;
  uint8_t proto = kUdpProto;
  uint16_t src_port = 0;
  uint16_t dst_port = kRoceV2Port;
};

// The hash models of a fabric's switches: one per switch where configured, else the default.
struct HashModels {
  EcmpHashModel default_model;
  absl::flat_hash_map<NodeId, EcmpHashModel> per_switch;
  const EcmpHashModel& For(NodeId node) const {
    auto it = per_switch.find(node);
    return it == per_switch.end() ? default_model : it->second;
  }
};

}  // namespace pulse::controller

namespace pulse::switches {

// A switch's ECMP choices as probes observed them (controller/oracle/path_oracle.h), used as its
// model instead of a hash: a table lookup of the RoCEv2 tuple (source and destination address,
// UDP source port; destination port 4791). An entry holds only while the switch's group towards
// that destination has the members it had when probed (members_by_dst): once a group changes,
// its entries answer "unknown" until the switch is probed again. A non-empty `failure` says the
// switch failed verification (its choices disagree with its model or with themselves): it is not
// steered at all, its flows are pinned.
struct LearnedEcmpTable {
  struct Key {
    uint32_t src_ip = 0;
    uint32_t dst_ip = 0;
    uint16_t src_port = 0;
    bool operator==(const Key& o) const {
      return src_ip == o.src_ip && dst_ip == o.dst_ip && src_port == o.src_port;
    }
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.src_ip, k.dst_ip, k.src_port);
    }
  };
  absl::flat_hash_map<Key, topology::DirectedLinkId> egress;
  // Destination address -> the group's member links (group order) when the entries were probed.
  absl::flat_hash_map<uint32_t, std::vector<topology::DirectedLinkId>> members_by_dst;
  std::string failure;  // non-empty: verification failed (names the switch and the probe)
};

}  // namespace pulse::switches

namespace pulse::controller {

using switches::LearnedEcmpTable;

// The models the intent's ecmp_hash section states (topology/intent.h): per switch, else per
// role, else the intent's default, else ovs-multipath with the switch's level as basis (what
// Pulse itself programs on Open vSwitch; tiers seeded apart do not polarise). Errors
// (InvalidArgument, quoting the entry's file:line): an unknown algorithm, field or switch name,
// fields given for ovs-multipath (its hash is fixed).
absl::StatusOr<HashModels> HashModelsFromIntent(const Fabric& fabric,
                                                const topology::EcmpHashIntent& intent);

// The raw checksums, exposed for known-answer tests.
uint32_t Crc32(const uint8_t* data, size_t size, uint32_t seed = 0);
uint16_t Crc16Ccitt(const uint8_t* data, size_t size, uint32_t seed = 0);

uint32_t HashFiveTuple(const EcmpHashModel& model, const FiveTuple& tuple);
// Open vSwitch's flow_hash_symmetric_l3l4 with UDP ports, for an IPv4 5-tuple (see above).
uint32_t OvsSymmetricL3L4UdpHash(const FiveTuple& tuple, uint32_t basis);
// Open vSwitch's highest-random-weight link choice among n_links (1..64) for `hash`.
uint32_t OvsHrwLink(uint32_t hash, uint32_t n_links);
// Whether the model's bucket choice depends on the UDP source port (steering needs it). A
// learned table does, unless it records a failed verification.
bool HashesSourcePort(const EcmpHashModel& model);
// The bucket (0 .. n_members - 1) an unweighted group of n_members picks; 0 if n_members is 0.
size_t SelectMember(const EcmpHashModel& model, const FiveTuple& tuple, size_t n_members);
// The member a weighted group picks (index into `members`); 0 if empty.
size_t SelectWeightedMember(const EcmpHashModel& model, const FiveTuple& tuple,
                            const std::vector<EcmpMember>& members);

// One switch's choice among a group's members, prepared once (the slot table built) so that a
// port search can ask about many 5-tuples without allocating. Same answers as
// SelectWeightedMember.
class EcmpSelector {
 public:
  EcmpSelector(const EcmpHashModel& model, const std::vector<EcmpMember>& members);
  // The member the switch picks for `tuple`. Learned tables: the observed member, or 0 when the
  // tuple was not probed under these members (Selects tells the two apart).
  size_t Select(const FiveTuple& tuple) const;
  // Whether the switch picks member `wanted`. For ovs-multipath it stops at the first slot that
  // outbids the wanted member's best slot: a few hashes instead of one per slot. Learned tables:
  // only a probed tuple seen leaving by the wanted member.
  bool Selects(const FiveTuple& tuple, size_t wanted) const;
  // Selects for the source ports first_port .. first_port + count - 1 (count at most
  // kMaxBatchPorts, fewer are asked about if more are given): bit i is set when the switch picks
  // `wanted` for port first_port + i. Faster per port than Selects for ovs-multipath.
  static constexpr uint32_t kMaxBatchPorts = 8;  // one vector of lanes (ecmp_hash.cc)
  uint32_t SelectsPorts(FiveTuple tuple, uint32_t first_port, uint32_t count, size_t wanted) const;

 private:
  // kLearned: the member index a probe saw, or -1.
  int LearnedMember(const FiveTuple& tuple) const;

  EcmpHashModel model_;
  std::vector<DirectedLinkId> member_links_;  // kLearned
  std::vector<uint32_t> slot_owner_;          // member owning each slot
  // The slots of member m, ascending: member_slots_[slot_begin_[m] .. slot_begin_[m + 1]).
  std::vector<uint32_t> member_slots_;
  std::vector<uint32_t> slot_begin_;
};

// The 5-tuple of a RoCEv2 flow between two NICs (addresses from addressing.h).
absl::StatusOr<FiveTuple> RoceTuple(const Fabric& fabric, NodeId src_nic, NodeId dst_nic,
                                    uint16_t udp_src_port);

// The path plain ECMP gives a packet: from `src_nic` out of `first_hop` (or, when first_hop is
// -1, the NIC's up link that the default model picks among its up links in port order), then at
// every switch the member of NextHops(switch, dst_nic) that the switch's model selects.
// FailedPrecondition when a switch has no way on; Internal if the walk does not end (a bug).
absl::StatusOr<Path> TraceEcmpPath(EcmpGroups& groups, const HashModels& models, NodeId src_nic,
                                   NodeId dst_nic, const FiveTuple& tuple,
                                   DirectedLinkId first_hop = -1);

// Plain ECMP applied to a set of flows.
struct EcmpLoad {
  std::vector<double> load_bps;  // per DirectedLinkId
  double max_utilisation = 0;    // max over channels of load / capacity
  DirectedLinkId busiest = -1;
  size_t unrouted_flows = 0;  // flows ECMP could not deliver (no path); not in load_bps
};

// What switch ECMP does to `flows`: each flow gets a random UDP source port in
// [port_min, port_max] from a generator seeded with `seed`, and is traced hop by hop with
// TraceEcmpPath. Flows with rate_bps <= 0 carry the sending NIC's first link capacity.
// InvalidArgument for a flow whose ends are not NICs or for port_min > port_max.
absl::StatusOr<EcmpLoad> EcmpBaseline(EcmpGroups& groups, const HashModels& models,
                                      const std::vector<FlowDemand>& flows, uint64_t seed,
                                      uint16_t port_min = 49152, uint16_t port_max = 65535);

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_PATHS_ECMP_HASH_H_
