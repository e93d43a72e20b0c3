// The address plan of NICs: one IPv4 address and one MAC per NIC, derived from the fabric alone
// so the controller, the OpenFlow driver and the Mininet tests agree without configuration.
//
// NIC i (its position in Fabric::nics(), 0-based) is host "h<i+1>" in Mininet, with IPv4
// 10.0.0.0 + (i + 1) in 10.0.0.0/8 and MAC 00:00:00:00:00:00 + (i + 1): exactly what Mininet
// gives host h<i+1> by default (ipBase 10.0.0.0/8, autoSetMacs), so h1 = 10.0.0.1, h256 =
// 10.0.1.0, h257 = 10.0.1.1. A NIC keeps the same address on every plane it attaches to. The plan
// holds 2^24 - 2 NICs.
#ifndef PULSE_CONTROLLER_ADDRESSING_H_
#define PULSE_CONTROLLER_ADDRESSING_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "topology/fabric.h"

namespace pulse::controller {

inline constexpr uint32_t kNicSubnet = 0x0A000000;  // 10.0.0.0
inline constexpr int kNicPrefixLength = 8;

// Position of `nic` in fabric.nics(). InvalidArgument if it is not a NIC.
absl::StatusOr<int> NicOrdinal(const topology::Fabric& fabric, topology::NodeId nic);
// IPv4 address (host byte order) of a NIC.
absl::StatusOr<uint32_t> NicAddress(const topology::Fabric& fabric, topology::NodeId nic);
// MAC address (low 48 bits) of a NIC.
absl::StatusOr<uint64_t> NicMac(const topology::Fabric& fabric, topology::NodeId nic);
// Mininet host name of a NIC: "h<ordinal + 1>".
absl::StatusOr<std::string> NicHostName(const topology::Fabric& fabric, topology::NodeId nic);
// The NIC with this address. NotFound if none has it.
absl::StatusOr<topology::NodeId> NicByAddress(const topology::Fabric& fabric, uint32_t ipv4);

std::string FormatIpv4(uint32_t ipv4);  // "10.0.1.2"
std::string FormatMac(uint64_t mac);    // "00:00:00:00:01:02"

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_ADDRESSING_H_
