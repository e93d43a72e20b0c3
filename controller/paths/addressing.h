// NIC addresses as the controller serves them, and the prefixes forwarding aggregates by.
//
// Every address comes from the fabric model (the intent's NIC objects or its address plan,
// topology/addresses.h); addresses the model lacks are learned at run time
// (controller/paths/hosts.h) and passed in as a HostTable. Nothing here assumes a lab convention.
//
// Aggregation: a leaf's NICs whose model addresses share a subnet (their prefix length, the
// leaf's block under the per-leaf plan) give the leaf that prefix, so every other switch forwards
// to the leaf by one masked rule instead of one per NIC. A prefix is kept only when no model
// address inside it belongs to a NIC of another leaf of the same plane; otherwise its NICs fall
// back to per-NIC rules (the mininet plan puts every NIC in one /8 and so never aggregates).
#ifndef PULSE_CONTROLLER_PATHS_ADDRESSING_H_
#define PULSE_CONTROLLER_PATHS_ADDRESSING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "topology/addresses.h"
#include "topology/fabric.h"

namespace pulse::controller {

class HostTable;

using topology::FormatIpv4;
using topology::FormatMac;
using topology::Ipv4Prefix;

// The IPv4 address (host order) of a NIC in the model. NotFound when the model has none (it is
// learned); InvalidArgument when `nic` is not a NIC.
absl::StatusOr<uint32_t> NicAddress(const topology::Fabric& fabric, topology::NodeId nic);
// MAC (low 48 bits) of a NIC in the model, as NicAddress.
absl::StatusOr<uint64_t> NicMac(const topology::Fabric& fabric, topology::NodeId nic);
// The NIC the model gives this address. NotFound if none has it.
absl::StatusOr<topology::NodeId> NicByAddress(const topology::Fabric& fabric, uint32_t ipv4);

// The address a NIC is served under: the model's, else the learned one from `hosts` (may be
// null); 0 when neither knows it.
uint32_t ServedIpv4(const topology::Fabric& fabric, const HostTable* hosts, topology::NodeId nic);
uint64_t ServedMac(const topology::Fabric& fabric, const HostTable* hosts, topology::NodeId nic);

// The prefixes of one leaf that forwarding may aggregate by, and the NICs they cover.
struct LeafPrefixes {
  std::vector<Ipv4Prefix> prefixes;  // networks (host bits clear), sorted
};
// By leaf NodeId; leaves with nothing to aggregate are absent.
using PrefixPlan = absl::flat_hash_map<topology::NodeId, LeafPrefixes>;
PrefixPlan AggregatablePrefixes(const topology::Fabric& fabric);

// True when the model address of `nic` lies in a prefix of `plan` of the leaf it hangs off in
// `leaf` (so switches other than that leaf reach it through the prefix).
bool CoveredByLeafPrefix(const topology::Fabric& fabric, const PrefixPlan& plan,
                         topology::NodeId nic, topology::NodeId leaf);

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_PATHS_ADDRESSING_H_
