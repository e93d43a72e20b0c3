#include "controller/addressing.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace pulse::controller {
namespace {
constexpr int kMaxNics = (1 << 24) - 2;  // keeps 10.255.255.255 (broadcast) out of the plan
}

absl::StatusOr<int> NicOrdinal(const topology::Fabric& fabric, topology::NodeId nic) {
  const auto& nics = fabric.nics();
  auto it = std::lower_bound(nics.begin(), nics.end(), nic);
  if (it == nics.end() || *it != nic) {
    return absl::InvalidArgumentError(absl::StrCat("addressing: node ", nic, " is not a NIC"));
  }
  const int ordinal = static_cast<int>(it - nics.begin());
  if (ordinal >= kMaxNics) {
    return absl::OutOfRangeError(absl::StrCat("addressing: NIC '", fabric.node(nic).name,
                                              "' is beyond the 10.0.0.0/8 plan"));
  }
  return ordinal;
}

absl::StatusOr<uint32_t> NicAddress(const topology::Fabric& fabric, topology::NodeId nic) {
  auto ordinal = NicOrdinal(fabric, nic);
  if (!ordinal.ok()) return ordinal.status();
  return kNicSubnet + static_cast<uint32_t>(*ordinal) + 1;
}

absl::StatusOr<uint64_t> NicMac(const topology::Fabric& fabric, topology::NodeId nic) {
  auto ordinal = NicOrdinal(fabric, nic);
  if (!ordinal.ok()) return ordinal.status();
  return static_cast<uint64_t>(*ordinal) + 1;
}

absl::StatusOr<std::string> NicHostName(const topology::Fabric& fabric, topology::NodeId nic) {
  auto ordinal = NicOrdinal(fabric, nic);
  if (!ordinal.ok()) return ordinal.status();
  return absl::StrCat("h", *ordinal + 1);
}

absl::StatusOr<topology::NodeId> NicByAddress(const topology::Fabric& fabric, uint32_t ipv4) {
  const int64_t ordinal = static_cast<int64_t>(ipv4) - kNicSubnet - 1;
  if (ordinal < 0 || ordinal >= static_cast<int64_t>(fabric.nics().size()) || ordinal >= kMaxNics) {
    return absl::NotFoundError(absl::StrCat("no NIC has address ", FormatIpv4(ipv4)));
  }
  return fabric.nics()[ordinal];
}

std::string FormatIpv4(uint32_t ipv4) {
  return absl::StrFormat("%d.%d.%d.%d", ipv4 >> 24, (ipv4 >> 16) & 0xff, (ipv4 >> 8) & 0xff,
                         ipv4 & 0xff);
}

std::string FormatMac(uint64_t mac) {
  return absl::StrFormat("%02x:%02x:%02x:%02x:%02x:%02x", (mac >> 40) & 0xff, (mac >> 32) & 0xff,
                         (mac >> 24) & 0xff, (mac >> 16) & 0xff, (mac >> 8) & 0xff, mac & 0xff);
}

}  // namespace pulse::controller
