// Host discovery: the addresses Pulse learns from NICs' own traffic, bound to the NIC the intent
// cables to the port they were seen on.
//
// A HostTable is a value (copied into each controller snapshot, changed only on the controller
// thread). Observe() folds one sighting (an ARP or IPv4 packet's sender IPv4 and MAC, seen on the
// leaf port the intent gives NIC `nic`) into the table and says what it meant:
//   - learned:   a NIC without a model address shows an address nobody has; it is served
//                (proxy ARP, forwarding, jobs by address) from now on. Also when the model has
//                the NIC's IPv4 but not its MAC (the MAC is learned).
//   - moved:     an address learned on another NIC shows up, with the same MAC, on this NIC's
//                port: the host moved; the binding follows it.
//   - conflict:  the address belongs to another NIC (in the model, or learned with another MAC),
//                or this NIC's model address or MAC differs from what it shows. Reported, never
//                served, never overriding the model or an existing binding.
//   - refreshed: nothing new (last-seen time updated).
// A conflict is reported once per (NIC, address, MAC) until that NIC shows something else.
#ifndef PULSE_CONTROLLER_PATHS_HOSTS_H_
#define PULSE_CONTROLLER_PATHS_HOSTS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "topology/fabric.h"

namespace pulse::controller {

// What Pulse knows of one NIC's host beyond the model.
struct HostEntry {
  topology::NodeId nic = topology::kNoNode;
  uint32_t ipv4 = 0;          // served address (learned), 0 when the model's is used
  uint64_t mac = 0;           // learned MAC, 0 when the model's is used
  int64_t first_seen_ms = 0;  // wall clock, ms since the epoch
  int64_t last_seen_ms = 0;
  // The last conflict this NIC's port showed (empty: none since it last matched).
  std::string conflict;
  uint32_t conflict_ipv4 = 0;
  uint64_t conflict_mac = 0;
};

enum class HostChange { kRefreshed, kLearned, kMoved, kConflict, kConflictRepeated };

struct HostOutcome {
  HostChange change = HostChange::kRefreshed;
  topology::NodeId moved_from = topology::kNoNode;  // kMoved: the NIC the address left
  std::string detail;                               // one line for the event
  bool binding_changed() const {
    return change == HostChange::kLearned || change == HostChange::kMoved;
  }
};

class HostTable {
 public:
  HostOutcome Observe(const topology::Fabric& fabric, topology::NodeId nic, uint32_t ipv4,
                      uint64_t mac, int64_t now_ms);

  // Restoring from the store / replication: the binding as persisted (replaces any other binding
  // of the same address).
  void Put(const HostEntry& entry);
  void Erase(topology::NodeId nic);
  void Clear();

  const HostEntry* Find(topology::NodeId nic) const;
  // The NIC a learned address is bound to.
  std::optional<topology::NodeId> FindByIpv4(uint32_t ipv4) const;
  const std::map<topology::NodeId, HostEntry>& entries() const { return entries_; }

 private:
  std::map<topology::NodeId, HostEntry> entries_;  // ordered: stable listings
  absl::flat_hash_map<uint32_t, topology::NodeId> nic_by_ipv4_;
};

// The persisted form of a binding ("hosts/<NIC name>" = this text): "ipv4 mac first_seen_ms".
std::string EncodeHostEntry(const HostEntry& entry);
absl::StatusOr<HostEntry> DecodeHostEntry(const topology::Fabric& fabric,
                                          const std::string& nic_name, const std::string& value);

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_PATHS_HOSTS_H_
