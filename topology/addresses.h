// NIC addresses in the fabric model: IPv4 prefixes, MACs, and the address plans that give NICs
// their addresses when the intent does not list them one by one.
//
// A NIC's address comes from one of three places, in this order: the intent lists it (a NIC
// object `{ip: 10.1.2.3/24, mac: "0c:42:a1:00:00:01"}`), the fabric's address plan assigns it,
// or neither, and the controller learns it from the NIC's own traffic (controller/paths/hosts.h).
//
// Address plans:
//   - none:     no address in the model; every NIC is learned.
//   - mininet:  NIC i (its position in Fabric::nics()) is 10.0.0.(i+1)/8 with MAC i+1, what
//               Mininet gives host h<i+1> by default. The lab examples use it; no aggregation is
//               possible (every NIC shares one /8 across all leaves).
//   - per-leaf: a base prefix cut into one block per leaf (`block` is its prefix length). Leaf j
//               (the j-th leaf switch of its plane, in fabric order) owns block j; its k-th NIC
//               (in NIC order) is block + k + 1 with MAC 02:00:<the four IPv4 bytes>. Every other
//               switch forwards to a leaf by its block, one rule per leaf
//               (controller/fabric_sync/forwarding.h).
//
// IPv6 is refused everywhere with a message saying so (forwarding matches IPv4 only).
#ifndef PULSE_TOPOLOGY_ADDRESSES_H_
#define PULSE_TOPOLOGY_ADDRESSES_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pulse::topology {

// An IPv4 prefix, host byte order. `address` keeps the host bits as written (a NIC's address with
// its subnet length); Network() clears them.
struct Ipv4Prefix {
  uint32_t address = 0;
  int length = 32;

  static uint32_t Mask(int length) { return length == 0 ? 0 : ~uint32_t{0} << (32 - length); }
  uint32_t Network() const { return address & Mask(length); }
  bool Contains(uint32_t ip) const { return (ip & Mask(length)) == Network(); }
  bool operator==(const Ipv4Prefix& o) const { return address == o.address && length == o.length; }
};

// "10.1.2.3" -> host order. IPv6 text gets "IPv6 is not supported yet".
absl::StatusOr<uint32_t> ParseIpv4(absl::string_view text);
// "10.1.2.3/24" (or "10.1.2.3", as /32).
absl::StatusOr<Ipv4Prefix> ParseIpv4Prefix(absl::string_view text);
// "0c:42:a1:00:00:01" (also '-' separated). Refuses the zero MAC and multicast/broadcast MACs.
absl::StatusOr<uint64_t> ParseMac(absl::string_view text);

std::string FormatIpv4(uint32_t ipv4);       // "10.1.2.3"
std::string FormatIpv4Prefix(Ipv4Prefix p);  // "10.1.2.0/24" (as stored)
std::string FormatMac(uint64_t mac);         // "0c:42:a1:00:00:01"

enum class AddressPlanKind { kNone, kMininet, kPerLeaf };

struct AddressPlan {
  AddressPlanKind kind = AddressPlanKind::kMininet;
  Ipv4Prefix base{0x0A000000, 8};  // per-leaf: the range the blocks are cut from
  int block_length = 24;           // per-leaf: prefix length of each leaf's block
};

absl::string_view AddressPlanName(AddressPlanKind kind);  // "none", "mininet", "per-leaf"
absl::StatusOr<AddressPlanKind> ParseAddressPlanKind(absl::string_view name);

// The MAC the per-leaf plan gives the NIC with `ipv4`: 02:00 then the address bytes.
uint64_t PlannedMac(uint32_t ipv4);

}  // namespace pulse::topology

#endif  // PULSE_TOPOLOGY_ADDRESSES_H_
