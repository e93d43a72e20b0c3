#include "controller/paths/hosts.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "topology/addresses.h"

namespace pulse::controller {

using topology::FormatIpv4;
using topology::FormatMac;
using topology::NodeId;

HostOutcome HostTable::Observe(const topology::Fabric& fabric, NodeId nic, uint32_t ipv4,
                               uint64_t mac, int64_t now_ms) {
  const topology::Node& node = fabric.node(nic);
  HostEntry& entry = entries_[nic];
  const bool fresh_entry = entry.nic == topology::kNoNode;
  if (fresh_entry) {
    entry.nic = nic;
    entry.first_seen_ms = now_ms;
  }
  entry.last_seen_ms = now_ms;
  const std::string seen =
      absl::StrCat(FormatIpv4(ipv4), " (", FormatMac(mac), ") on the port of ", node.name);

  auto conflict = [&](std::string why) {
    HostOutcome out;
    const bool repeated = entry.conflict_ipv4 == ipv4 && entry.conflict_mac == mac;
    out.change = repeated ? HostChange::kConflictRepeated : HostChange::kConflict;
    out.detail = absl::StrCat(seen, ": ", why);
    entry.conflict = out.detail;
    entry.conflict_ipv4 = ipv4;
    entry.conflict_mac = mac;
    return out;
  };
  auto clear_conflict = [&] {
    entry.conflict.clear();
    entry.conflict_ipv4 = 0;
    entry.conflict_mac = 0;
  };

  // The model's NIC for this address or MAC, if another.
  if (std::optional<NodeId> owner = fabric.FindNicByIpv4(ipv4); owner && *owner != nic) {
    return conflict(
        absl::StrCat("the intent gives ", FormatIpv4(ipv4), " to ", fabric.node(*owner).name));
  }
  if (std::optional<NodeId> owner = fabric.FindNicByMac(mac); owner && *owner != nic) {
    return conflict(
        absl::StrCat("the intent gives MAC ", FormatMac(mac), " to ", fabric.node(*owner).name));
  }
  if (node.ipv4 != 0) {
    if (ipv4 != node.ipv4) {
      return conflict(absl::StrCat("the intent gives this NIC ", FormatIpv4(node.ipv4)));
    }
    if (node.mac != 0 && mac != node.mac) {
      return conflict(absl::StrCat("the intent gives this NIC MAC ", FormatMac(node.mac)));
    }
    clear_conflict();
    if (node.mac == 0 && entry.mac != mac) {
      entry.mac = mac;  // the model has the address, the MAC is learned
      return HostOutcome{HostChange::kLearned, topology::kNoNode,
                         absl::StrCat(seen, ": MAC learned")};
    }
    return HostOutcome{};
  }
  if (node.mac != 0 && mac != node.mac) {
    return conflict(absl::StrCat("the intent gives this NIC MAC ", FormatMac(node.mac)));
  }

  // No model address: learned bindings decide.
  if (auto it = nic_by_ipv4_.find(ipv4); it != nic_by_ipv4_.end() && it->second != nic) {
    HostEntry& other = entries_[it->second];
    if (other.mac != mac) {
      return conflict(absl::StrCat(FormatIpv4(ipv4), " is bound to ", fabric.node(it->second).name,
                                   " with MAC ", FormatMac(other.mac)));
    }
    // Same address and MAC on another port: the host moved here.
    const NodeId from = it->second;
    other.ipv4 = 0;
    other.mac = 0;
    if (other.conflict.empty()) entries_.erase(from);
    if (entry.ipv4 != 0) nic_by_ipv4_.erase(entry.ipv4);
    entry.ipv4 = ipv4;
    entry.mac = mac;
    entry.first_seen_ms = now_ms;
    nic_by_ipv4_[ipv4] = nic;
    clear_conflict();
    return HostOutcome{HostChange::kMoved, from,
                       absl::StrCat(seen, ": moved from ", fabric.node(from).name)};
  }
  if (entry.ipv4 == ipv4 && entry.mac == mac) {
    clear_conflict();
    return HostOutcome{};
  }
  std::string was;
  if (entry.ipv4 != 0) {
    was = absl::StrCat(" (was ", FormatIpv4(entry.ipv4), " ", FormatMac(entry.mac), ")");
    nic_by_ipv4_.erase(entry.ipv4);
  }
  entry.ipv4 = ipv4;
  entry.mac = mac;
  if (!fresh_entry && !was.empty()) entry.first_seen_ms = now_ms;
  nic_by_ipv4_[ipv4] = nic;
  clear_conflict();
  return HostOutcome{HostChange::kLearned, topology::kNoNode, absl::StrCat(seen, was)};
}

void HostTable::Put(const HostEntry& entry) {
  if (entry.ipv4 != 0) {
    if (auto it = nic_by_ipv4_.find(entry.ipv4);
        it != nic_by_ipv4_.end() && it->second != entry.nic) {
      entries_.erase(it->second);
    }
  }
  Erase(entry.nic);
  entries_[entry.nic] = entry;
  if (entry.ipv4 != 0) nic_by_ipv4_[entry.ipv4] = entry.nic;
}

void HostTable::Erase(NodeId nic) {
  auto it = entries_.find(nic);
  if (it == entries_.end()) return;
  if (it->second.ipv4 != 0) {
    auto by_ip = nic_by_ipv4_.find(it->second.ipv4);
    if (by_ip != nic_by_ipv4_.end() && by_ip->second == nic) nic_by_ipv4_.erase(by_ip);
  }
  entries_.erase(it);
}

void HostTable::Clear() {
  entries_.clear();
  nic_by_ipv4_.clear();
}

const HostEntry* HostTable::Find(NodeId nic) const {
  auto it = entries_.find(nic);
  return it == entries_.end() ? nullptr : &it->second;
}

std::optional<NodeId> HostTable::FindByIpv4(uint32_t ipv4) const {
  auto it = nic_by_ipv4_.find(ipv4);
  if (it == nic_by_ipv4_.end()) return std::nullopt;
  return it->second;
}

std::string EncodeHostEntry(const HostEntry& entry) {
  return absl::StrCat(FormatIpv4(entry.ipv4), " ", FormatMac(entry.mac), " ", entry.first_seen_ms);
}

absl::StatusOr<HostEntry> DecodeHostEntry(const topology::Fabric& fabric,
                                          const std::string& nic_name, const std::string& value) {
  auto nic = fabric.FindNode(nic_name);
  if (!nic.ok() || !fabric.node(*nic).is_nic()) {
    return absl::NotFoundError(absl::StrCat("hosts/", nic_name, ": no such NIC in the fabric"));
  }
  std::vector<std::string> parts = absl::StrSplit(value, ' ');
  HostEntry entry;
  entry.nic = *nic;
  if (parts.size() != 3) {
    return absl::DataLossError(absl::StrCat("hosts/", nic_name, ": expected 'ip mac first_seen'"));
  }
  absl::StatusOr<uint32_t> ip =
      parts[0] == "0.0.0.0" ? absl::StatusOr<uint32_t>(0) : topology::ParseIpv4(parts[0]);
  absl::StatusOr<uint64_t> mac =
      parts[1] == "00:00:00:00:00:00" ? absl::StatusOr<uint64_t>(0) : topology::ParseMac(parts[1]);
  if (!ip.ok() || !mac.ok() || !absl::SimpleAtoi(parts[2], &entry.first_seen_ms)) {
    return absl::DataLossError(absl::StrCat("hosts/", nic_name, ": undecodable '", value, "'"));
  }
  entry.ipv4 = *ip;
  entry.mac = *mac;
  entry.last_seen_ms = entry.first_seen_ms;
  return entry;
}

}  // namespace pulse::controller
