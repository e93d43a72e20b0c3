#include "southbound/openflow/lldp.h"

#include <cstdio>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace pulse::southbound::openflow {
namespace {

constexpr uint64_t kLldpMulticast = 0x0180c200000eull;
constexpr uint8_t kTlvEnd = 0, kTlvChassis = 1, kTlvPort = 2, kTlvTtl = 3;
constexpr uint8_t kSubtypeLocal = 7;
constexpr char kChassisPrefix[] = "dpid:";

void PutMac(std::vector<uint8_t>* out, uint64_t mac) {
  for (int i = 5; i >= 0; --i) out->push_back(static_cast<uint8_t>(mac >> (8 * i)));
}

void PutTlv(std::vector<uint8_t>* out, uint8_t type, const std::vector<uint8_t>& value) {
  uint16_t header = static_cast<uint16_t>((type << 9) | (value.size() & 0x1ff));
  out->push_back(static_cast<uint8_t>(header >> 8));
  out->push_back(static_cast<uint8_t>(header));
  out->insert(out->end(), value.begin(), value.end());
}

std::vector<uint8_t> SubtypedString(const std::string& text) {
  std::vector<uint8_t> v;
  v.reserve(text.size() + 1);
  v.push_back(kSubtypeLocal);
  for (char ch : text) v.push_back(static_cast<uint8_t>(ch));
  return v;
}

}  // namespace

std::vector<uint8_t> BuildLldpFrame(uint64_t dpid, uint32_t port, uint64_t src_mac) {
  std::vector<uint8_t> frame;
  PutMac(&frame, kLldpMulticast);
  PutMac(&frame, src_mac);
  frame.push_back(kEthTypeLldp >> 8);
  frame.push_back(kEthTypeLldp & 0xff);
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(dpid));
  PutTlv(&frame, kTlvChassis, SubtypedString(absl::StrCat(kChassisPrefix, hex)));
  PutTlv(&frame, kTlvPort, SubtypedString(absl::StrCat(port)));
  PutTlv(&frame, kTlvTtl, {0, 120});
  PutTlv(&frame, kTlvEnd, {});
  while (frame.size() < 60) frame.push_back(0);  // minimum Ethernet payload
  return frame;
}

absl::StatusOr<LldpProbe> ParseLldpFrame(absl::Span<const uint8_t> frame) {
  if (frame.size() < 14)
    return absl::InvalidArgumentError("lldp: frame shorter than Ethernet header");
  size_t offset = 12;
  uint16_t eth_type = static_cast<uint16_t>(frame[offset] << 8 | frame[offset + 1]);
  if (eth_type == 0x8100) {  // one VLAN tag
    offset += 4;
    if (frame.size() < offset + 2) return absl::InvalidArgumentError("lldp: truncated VLAN tag");
    eth_type = static_cast<uint16_t>(frame[offset] << 8 | frame[offset + 1]);
  }
  if (eth_type != kEthTypeLldp)
    return absl::InvalidArgumentError(absl::StrCat("lldp: ethertype 0x", absl::Hex(eth_type)));
  offset += 2;
  bool have_chassis = false, have_port = false;
  LldpProbe probe;
  bool foreign = false;
  while (true) {
    if (frame.size() < offset + 2)
      return absl::InvalidArgumentError(
          absl::StrCat("lldp: truncated TLV header at byte ", offset));
    uint16_t header = static_cast<uint16_t>(frame[offset] << 8 | frame[offset + 1]);
    uint8_t type = static_cast<uint8_t>(header >> 9);
    size_t length = header & 0x1ff;
    offset += 2;
    if (frame.size() < offset + length)
      return absl::InvalidArgumentError(absl::StrCat("lldp: TLV type ", type, " length ", length,
                                                     " overruns frame at byte ", offset));
    absl::string_view value(reinterpret_cast<const char*>(frame.data() + offset), length);
    offset += length;
    if (type == kTlvEnd) break;
    if (type == kTlvChassis) {
      have_chassis = true;
      absl::string_view text = value.empty() ? value : value.substr(1);
      if (value.empty() || static_cast<uint8_t>(value[0]) != kSubtypeLocal ||
          !absl::ConsumePrefix(&text, kChassisPrefix) || text.size() != 16 ||
          !absl::SimpleHexAtoi(text, &probe.dpid)) {
        foreign = true;
      }
    } else if (type == kTlvPort) {
      have_port = true;
      absl::string_view text = value.empty() ? value : value.substr(1);
      if (value.empty() || static_cast<uint8_t>(value[0]) != kSubtypeLocal ||
          !absl::SimpleAtoi(text, &probe.port)) {
        foreign = true;
      }
    }
  }
  if (!have_chassis || !have_port)
    return absl::InvalidArgumentError("lldp: chassis id or port id TLV missing");
  if (foreign) return absl::NotFoundError("lldp: not a Pulse probe (foreign chassis or port id)");
  return probe;
}

}  // namespace pulse::southbound::openflow
