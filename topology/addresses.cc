#include "topology/addresses.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace pulse::topology {

absl::StatusOr<uint32_t> ParseIpv4(absl::string_view text) {
  if (absl::StrContains(text, ':')) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", text, "' looks like IPv6, which is not supported yet (forwarding matches IPv4 only)"));
  }
  std::vector<absl::string_view> parts = absl::StrSplit(text, '.');
  uint32_t ip = 0;
  bool ok = parts.size() == 4;
  for (size_t i = 0; ok && i < parts.size(); ++i) {
    int octet = 0;
    ok = !parts[i].empty() && parts[i].size() <= 3 && absl::SimpleAtoi(parts[i], &octet) &&
         octet >= 0 && octet <= 255;
    ip = ip << 8 | static_cast<uint32_t>(octet);
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected an IPv4 address such as 10.1.2.3, got '", text, "'"));
  }
  return ip;
}

absl::StatusOr<Ipv4Prefix> ParseIpv4Prefix(absl::string_view text) {
  Ipv4Prefix p;
  absl::string_view addr = text;
  if (size_t slash = text.find('/'); slash != absl::string_view::npos) {
    addr = text.substr(0, slash);
    if (!absl::SimpleAtoi(text.substr(slash + 1), &p.length) || p.length < 0 || p.length > 32) {
      if (absl::StrContains(addr, ':')) return ParseIpv4(addr).status();
      return absl::InvalidArgumentError(
          absl::StrCat("expected a prefix length from 0 to 32 after '/', got '", text, "'"));
    }
  }
  absl::StatusOr<uint32_t> ip = ParseIpv4(addr);
  if (!ip.ok()) return ip.status();
  p.address = *ip;
  return p;
}

absl::StatusOr<uint64_t> ParseMac(absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, absl::ByAnyChar(":-"));
  uint64_t mac = 0;
  bool ok = parts.size() == 6;
  for (size_t i = 0; ok && i < parts.size(); ++i) {
    uint32_t byte = 0;
    ok = parts[i].size() == 2 && absl::SimpleHexAtoi(parts[i], &byte) && byte <= 0xff;
    mac = mac << 8 | byte;
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a MAC such as 0c:42:a1:00:00:01, got '", text, "'"));
  }
  if (mac == 0) return absl::InvalidArgumentError("the zero MAC is not a NIC's address");
  if ((mac >> 40) & 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is a multicast or broadcast MAC, not a NIC's address"));
  }
  return mac;
}

std::string FormatIpv4(uint32_t ipv4) {
  return absl::StrFormat("%d.%d.%d.%d", ipv4 >> 24, (ipv4 >> 16) & 0xff, (ipv4 >> 8) & 0xff,
                         ipv4 & 0xff);
}

std::string FormatIpv4Prefix(Ipv4Prefix p) {
  return absl::StrCat(FormatIpv4(p.address), "/", p.length);
}

std::string FormatMac(uint64_t mac) {
  return absl::StrFormat("%02x:%02x:%02x:%02x:%02x:%02x", (mac >> 40) & 0xff, (mac >> 32) & 0xff,
                         (mac >> 24) & 0xff, (mac >> 16) & 0xff, (mac >> 8) & 0xff, mac & 0xff);
}

absl::string_view AddressPlanName(AddressPlanKind kind) {
  switch (kind) {
    case AddressPlanKind::kNone:
      return "none";
    case AddressPlanKind::kMininet:
      return "mininet";
    case AddressPlanKind::kPerLeaf:
      return "per-leaf";
  }
  return "none";
}

absl::StatusOr<AddressPlanKind> ParseAddressPlanKind(absl::string_view name) {
  if (name == "none" || name == "learned") return AddressPlanKind::kNone;
  if (name == "mininet") return AddressPlanKind::kMininet;
  if (name == "per-leaf") return AddressPlanKind::kPerLeaf;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown address plan '", name, "' (expected none, mininet or per-leaf)"));
}

uint64_t PlannedMac(uint32_t ipv4) { return (uint64_t{0x0200} << 32) | ipv4; }

}  // namespace pulse::topology
