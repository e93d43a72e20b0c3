#include "controller/paths/ecmp_hash.h"

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/multipath_slots.h"
#include "controller/paths/addressing.h"

namespace pulse::controller {
namespace {

constexpr size_t kMaxTraceHops = 8;  // a 3-tier up-down path has at most 6

// The selected fields as bytes, in network order; returns the byte count.
size_t HashBytes(const EcmpHashModel& model, const FiveTuple& t, uint8_t* out) {
  size_t n = 0;
  auto put32 = [&](uint32_t v) {
    out[n++] = static_cast<uint8_t>(v >> 24);
    out[n++] = static_cast<uint8_t>(v >> 16);
    out[n++] = static_cast<uint8_t>(v >> 8);
    out[n++] = static_cast<uint8_t>(v);
  };
  auto put16 = [&](uint16_t v) {
    out[n++] = static_cast<uint8_t>(v >> 8);
    out[n++] = static_cast<uint8_t>(v);
  };
  if (model.fields & kHashSrcIp) put32(t.src_ip);
  if (model.fields & kHashDstIp) put32(t.dst_ip);
  if (model.fields & kHashProto) out[n++] = t.proto;
  if (model.fields & kHashSrcPort) put16(t.src_port);
  if (model.fields & kHashDstPort) put16(t.dst_port);
  return n;
}

// Open vSwitch's 32-bit mixing steps (lib/hash.h, the portable branch).
uint32_t Rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

// The data half of hash_add: a bijection that maps 0 to 0, so adding a zero word leaves the
// accumulator as it is before the rotation, as in Open vSwitch.
constexpr uint32_t OvsMixWord(uint32_t data) {
  data *= 0xcc9e2d51u;
  data = (data << 15) | (data >> 17);
  return data * 0x1b873593u;
}

uint32_t OvsHashAdd(uint32_t hash, uint32_t data) {
  hash = Rotl(hash ^ OvsMixWord(data), 13);
  return hash * 5 + 0xe6546b64u;
}

uint32_t OvsHashFinish(uint32_t hash, uint32_t final_word) {
  hash ^= final_word;
  hash ^= hash >> 16;
  hash *= 0x85ebca6bu;
  hash ^= hash >> 13;
  hash *= 0xc2b2ae35u;
  hash ^= hash >> 16;
  return hash;
}

// Open vSwitch's hash_2words(x, y) = finish(add(add(x, 0), y), 8), split so that the part that
// depends on x alone is computed once for many y (HRW hashes one flow hash with every slot).
// The data half of every slot number HRW hashes (slots are < kMaxMultipathSlots) is a constant.
struct SlotMixTable {
  uint32_t mix[kMaxMultipathSlots];
  constexpr SlotMixTable() : mix() {
    for (uint32_t s = 0; s < kMaxMultipathSlots; ++s) mix[s] = OvsMixWord(s);
  }
};
constexpr SlotMixTable kSlotMix;

uint32_t OvsHash2WordsPrefix(uint32_t x) { return OvsHashAdd(x, 0); }
uint32_t OvsHash2WordsFrom(uint32_t prefix, uint32_t y) {
  const uint32_t mixed = y < kMaxMultipathSlots ? kSlotMix.mix[y] : OvsMixWord(y);
  return OvsHashFinish(Rotl(prefix ^ mixed, 13) * 5 + 0xe6546b64u, 8);
}

// A field kept in network byte order, as a little-endian host loads it from the packet.
uint32_t WireWord32(uint32_t host_order) { return __builtin_bswap32(host_order); }
uint16_t WireWord16(uint16_t host_order) { return __builtin_bswap16(host_order); }

// The HRW test of EcmpSelector::SelectsPorts for kOvsPortLanes consecutive source ports side by
// side: bit i is set when the slot Open vSwitch picks for port first_port + i belongs to the
// wanted member (its slots `wanted_slots`), i.e. no slot outbids the best of them (a higher
// weight, or an equal one at a lower slot: HRW keeps the first maximum). `fixed` is the flow
// hash with the basis, the addresses and the protocol added (OvsSymmetricL3L4UdpHash up to the
// ports). The lanes are vectors (GCC/Clang vector extensions): one instruction hashes a slot for
// every port, and a group of ports stops as soon as each of them has been outbid (most are
// within a few slots). On x86-64 an AVX2 clone is picked at load time where the processor has
// it; elsewhere the vectors are lowered to what the target offers (SSE2, NEON). Same answers
// either way: only 32-bit integer operations.
constexpr uint32_t kOvsPortLanes = 8;
typedef uint32_t PortLanes __attribute__((vector_size(kOvsPortLanes * sizeof(uint32_t))));

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PULSE_PORT_LANES_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define PULSE_PORT_LANES_CLONES
#endif

// The vector forms of OvsMixWord, OvsHashAdd and OvsHashFinish (by reference: a vector passed by
// value to a function that is not inlined would change the ABI between clones).
inline __attribute__((always_inline)) void RotlLanes(PortLanes& x, int k) {
  x = (x << k) | (x >> (32 - k));
}
inline __attribute__((always_inline)) void FinishLanes(PortLanes& h, uint32_t final_word) {
  h ^= final_word;
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
}

// OvsHash2WordsFrom(prefix, slot) in every lane.
inline __attribute__((always_inline)) void SlotWeightLanes(const PortLanes& prefix, uint32_t slot,
                                                           PortLanes& w) {
  w = prefix ^ (slot < kMaxMultipathSlots ? kSlotMix.mix[slot] : OvsMixWord(slot));
  RotlLanes(w, 13);
  w = w * 5u + 0xe6546b64u;
  FinishLanes(w, 8);
}

PULSE_PORT_LANES_CLONES uint32_t OvsWantedPortLanes(uint32_t fixed, uint32_t basis,
                                                    uint32_t first_port, uint16_t dst_port,
                                                    const uint32_t* wanted_slots, uint32_t n_wanted,
                                                    uint32_t n_slots) {
  PortLanes h;
  for (uint32_t i = 0; i < kOvsPortLanes; ++i) h[i] = ((first_port + i) ^ dst_port) & 0xFFFFu;
  h = ((h & 0xFFu) << 8) | (h >> 8);  // WireWord16
  h *= 0xcc9e2d51u;                   // OvsHashAdd(fixed, port word)
  RotlLanes(h, 15);
  h *= 0x1b873593u;
  h ^= fixed;
  RotlLanes(h, 13);
  h = h * 5u + 0xe6546b64u;
  FinishLanes(h, basis);  // the flow hash of each port
  RotlLanes(h, 13);       // OvsHash2WordsPrefix: adding the word 0
  const PortLanes prefix = h * 5u + 0xe6546b64u;
  const PortLanes zero = {};
  PortLanes best, w;
  SlotWeightLanes(prefix, wanted_slots[0], best);
  PortLanes best_slot = zero + wanted_slots[0];
  for (uint32_t k = 1; k < n_wanted; ++k) {
    SlotWeightLanes(prefix, wanted_slots[k], w);
    const PortLanes higher = (PortLanes)(w > best);  // all ones where true
    best = (w & higher) | (best & ~higher);
    best_slot = ((zero + wanted_slots[k]) & higher) | (best_slot & ~higher);
  }
  PortLanes alive = zero + ~0u;
  constexpr uint32_t kCheckEvery = 4;  // slots between tests for "every port outbid"
  for (uint32_t s = 0; s < n_slots; s += kCheckEvery) {
    const uint32_t end = std::min(n_slots, s + kCheckEvery);
    for (uint32_t t = s; t < end; ++t) {
      SlotWeightLanes(prefix, t, w);
      const PortLanes outbid = (PortLanes)((w > best) | ((w == best) & (best_slot > zero + t)));
      alive &= ~outbid;
    }
    uint32_t any = 0;
    for (uint32_t i = 0; i < kOvsPortLanes; ++i) any |= alive[i];
    if (any == 0) return 0;
  }
  uint32_t mask = 0;
  for (uint32_t i = 0; i < kOvsPortLanes; ++i) mask |= (alive[i] & 1u) << i;
  return mask;
}

}  // namespace

uint32_t OvsSymmetricL3L4UdpHash(const FiveTuple& t, uint32_t basis) {
  uint32_t hash = basis;
  hash = OvsHashAdd(hash, WireWord32(t.src_ip ^ t.dst_ip));
  hash = OvsHashAdd(hash, t.proto);
  // TCP (6), UDP (17) and SCTP (132) ports are hashed; IPv4 fragments are not modelled.
  if (t.proto == 6 || t.proto == kUdpProto || t.proto == 132)
    hash = OvsHashAdd(hash, WireWord16(static_cast<uint16_t>(t.src_port ^ t.dst_port)));
  return OvsHashFinish(hash, basis);
}

uint32_t OvsHrwLink(uint32_t hash, uint32_t n_links) {
  const uint32_t prefix = OvsHash2WordsPrefix(hash);
  uint32_t best_link = 0;
  uint32_t best_weight = OvsHash2WordsFrom(prefix, 0);
  for (uint32_t link = 1; link < n_links; ++link) {
    uint32_t weight = OvsHash2WordsFrom(prefix, link);
    if (weight > best_weight) {
      best_link = link;
      best_weight = weight;
    }
  }
  return best_link;
}

bool HashesSourcePort(const EcmpHashModel& model) {
  if (model.algorithm == HashAlgorithm::kOvsMultipath) return true;
  if (model.algorithm == HashAlgorithm::kLearned)
    return model.learned != nullptr && model.learned->failure.empty();
  return (model.fields & kHashSrcPort) != 0;
}

namespace {

absl::StatusOr<EcmpHashModel> ModelFromSpec(const topology::EcmpHashSpec& spec) {
  auto error = [&](absl::string_view problem) {
    return absl::InvalidArgumentError(absl::StrCat(spec.where, ": ", problem));
  };
  absl::StatusOr<HashAlgorithm> algorithm = ParseHashAlgorithm(spec.algorithm);
  if (!algorithm.ok()) return error(algorithm.status().message());
  EcmpHashModel model{*algorithm, spec.seed, kHashAllFields};
  if (*algorithm == HashAlgorithm::kOvsMultipath && spec.seed > 0xffff)
    return error(absl::StrCat("ovs-multipath seed is the 16-bit multipath basis: 0..65535, got ",
                              spec.seed));
  if (spec.fields.empty()) return model;
  if (*algorithm == HashAlgorithm::kOvsMultipath)
    return error("ovs-multipath hashes a fixed set of fields (symmetric_l3l4+udp); omit fields");
  static constexpr std::pair<const char*, HashField> kNames[] = {{"src_ip", kHashSrcIp},
                                                                 {"dst_ip", kHashDstIp},
                                                                 {"proto", kHashProto},
                                                                 {"src_port", kHashSrcPort},
                                                                 {"dst_port", kHashDstPort}};
  model.fields = 0;
  for (const std::string& name : spec.fields) {
    bool known = false;
    for (const auto& [text, bit] : kNames) {
      if (name == text) {
        model.fields |= bit;
        known = true;
      }
    }
    if (!known)
      return error(absl::StrCat("unknown hash field '", name,
                                "' (expected src_ip, dst_ip, proto, src_port, dst_port)"));
  }
  return model;
}

}  // namespace

absl::StatusOr<HashModels> HashModelsFromIntent(const Fabric& fabric,
                                                const topology::EcmpHashIntent& intent) {
  HashModels models;
  models.default_model = EcmpHashModel{HashAlgorithm::kOvsMultipath, 0, kHashAllFields};
  if (intent.fabric_default) {
    absl::StatusOr<EcmpHashModel> model = ModelFromSpec(*intent.fabric_default);
    if (!model.ok()) return model.status();
    models.default_model = *model;
  } else {
    // What Pulse programs on Open vSwitch: the basis is the switch's tier, so a 3-tier fabric's
    // tiers do not hash alike (alike, a leaf's and an aggregation switch's choices would be
    // the same function of the flow, and half the paths could not be steered to).
    for (NodeId sw : fabric.switches()) {
      models.per_switch[sw] =
          EcmpHashModel{HashAlgorithm::kOvsMultipath, static_cast<uint32_t>(fabric.node(sw).level),
                        kHashAllFields};
    }
  }
  std::map<std::string, EcmpHashModel> by_role;
  for (const auto& [role, spec] : intent.by_role) {
    absl::StatusOr<EcmpHashModel> model = ModelFromSpec(spec);
    if (!model.ok()) return model.status();
    by_role[role] = *model;
  }
  for (NodeId sw : fabric.switches()) {
    auto it = by_role.find(std::string(topology::SwitchRoleName(fabric.node(sw).role)));
    if (it != by_role.end()) models.per_switch[sw] = it->second;
  }
  for (const auto& [name, spec] : intent.by_switch) {
    absl::StatusOr<NodeId> sw = fabric.FindNode(name);
    if (!sw.ok() || !fabric.node(*sw).is_switch())
      return absl::InvalidArgumentError(
          absl::StrCat(spec.where, ": no switch named '", name, "' in the fabric"));
    absl::StatusOr<EcmpHashModel> model = ModelFromSpec(spec);
    if (!model.ok()) return model.status();
    models.per_switch[*sw] = *model;
  }
  return models;
}

absl::StatusOr<HashAlgorithm> ParseHashAlgorithm(absl::string_view name) {
  if (name == "crc32") return HashAlgorithm::kCrc32;
  if (name == "crc16-ccitt") return HashAlgorithm::kCrc16Ccitt;
  if (name == "xor-fold") return HashAlgorithm::kXorFold;
  if (name == "ovs-multipath") return HashAlgorithm::kOvsMultipath;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown ECMP hash algorithm '", name,
                   "' (expected crc32, crc16-ccitt, xor-fold or ovs-multipath)"));
}

absl::string_view HashAlgorithmName(HashAlgorithm algorithm) {
  switch (algorithm) {
    case HashAlgorithm::kCrc32:
      return "crc32";
    case HashAlgorithm::kCrc16Ccitt:
      return "crc16-ccitt";
    case HashAlgorithm::kXorFold:
      return "xor-fold";
    case HashAlgorithm::kOvsMultipath:
      return "ovs-multipath";
    case HashAlgorithm::kLearned:
      return "learned";
  }
  return "crc32";
}

uint32_t Crc32(const uint8_t* data, size_t size, uint32_t seed) {
  uint32_t crc = 0xFFFFFFFFu ^ seed;
  for (size_t i = 0; i < size; ++i) {
    crc ^= data[i];
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return crc ^ 0xFFFFFFFFu;
}

uint16_t Crc16Ccitt(const uint8_t* data, size_t size, uint32_t seed) {
  uint16_t crc = static_cast<uint16_t>(0xFFFFu ^ (seed & 0xFFFFu));
  for (size_t i = 0; i < size; ++i) {
    crc ^= static_cast<uint16_t>(data[i] << 8);
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000u) ? static_cast<uint16_t>((crc << 1) ^ 0x1021u)
                            : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc;
}

uint32_t HashFiveTuple(const EcmpHashModel& model, const FiveTuple& t) {
  switch (model.algorithm) {
    case HashAlgorithm::kCrc32: {
      uint8_t bytes[13];
      return Crc32(bytes, HashBytes(model, t, bytes), model.seed);
    }
    case HashAlgorithm::kCrc16Ccitt: {
      uint8_t bytes[13];
      return Crc16Ccitt(bytes, HashBytes(model, t, bytes), model.seed);
    }
    case HashAlgorithm::kXorFold: {
      uint32_t h = model.seed;
      if (model.fields & kHashSrcIp) h ^= t.src_ip;
      if (model.fields & kHashDstIp) h ^= t.dst_ip;
      if (model.fields & kHashProto) h ^= t.proto;
      if (model.fields & kHashSrcPort) h ^= static_cast<uint32_t>(t.src_port) << 16;
      if (model.fields & kHashDstPort) h ^= t.dst_port;
      return (h >> 16) ^ (h & 0xFFFFu);
    }
    case HashAlgorithm::kOvsMultipath:
      return OvsSymmetricL3L4UdpHash(t, model.seed);
    case HashAlgorithm::kLearned:
      return 0;  // no hash: EcmpSelector looks the tuple up
  }
  return 0;
}

EcmpSelector::EcmpSelector(const EcmpHashModel& model, const std::vector<EcmpMember>& members)
    : model_(model) {
  std::vector<uint32_t> weights;
  for (const EcmpMember& m : members) weights.push_back(m.weight);
  if (model.algorithm == HashAlgorithm::kOvsMultipath) {
    weights = SlotsForWeights(weights);
  } else if (std::all_of(weights.begin(), weights.end(), [](uint32_t w) { return w == 0; })) {
    std::fill(weights.begin(), weights.end(), 1);
  }
  slot_begin_.push_back(0);
  for (size_t i = 0; i < weights.size(); ++i) {
    for (uint32_t k = 0; k < weights[i]; ++k) {
      member_slots_.push_back(static_cast<uint32_t>(slot_owner_.size()));
      slot_owner_.push_back(static_cast<uint32_t>(i));
    }
    slot_begin_.push_back(static_cast<uint32_t>(member_slots_.size()));
  }
  if (model.algorithm == HashAlgorithm::kLearned)
    for (const EcmpMember& m : members) member_links_.push_back(m.link);
}

int EcmpSelector::LearnedMember(const FiveTuple& tuple) const {
  const LearnedEcmpTable* table = model_.learned.get();
  if (table == nullptr || !table->failure.empty()) return -1;
  auto group = table->members_by_dst.find(tuple.dst_ip);
  if (group == table->members_by_dst.end() || group->second != member_links_) return -1;
  auto seen = table->egress.find({tuple.src_ip, tuple.dst_ip, tuple.src_port});
  if (seen == table->egress.end()) return -1;
  for (size_t m = 0; m < member_links_.size(); ++m)
    if (member_links_[m] == seen->second) return static_cast<int>(m);
  return -1;
}

size_t EcmpSelector::Select(const FiveTuple& tuple) const {
  if (slot_owner_.empty()) return 0;
  if (model_.algorithm == HashAlgorithm::kLearned) {
    const int member = LearnedMember(tuple);
    return member < 0 ? 0 : static_cast<size_t>(member);
  }
  const uint32_t hash = HashFiveTuple(model_, tuple);
  if (model_.algorithm == HashAlgorithm::kOvsMultipath)
    return slot_owner_[OvsHrwLink(hash, static_cast<uint32_t>(slot_owner_.size()))];
  return slot_owner_[hash % slot_owner_.size()];
}

bool EcmpSelector::Selects(const FiveTuple& tuple, size_t wanted) const {
  if (model_.algorithm == HashAlgorithm::kLearned)
    return LearnedMember(tuple) == static_cast<int>(wanted);
  if (model_.algorithm != HashAlgorithm::kOvsMultipath || slot_owner_.empty())
    return Select(tuple) == wanted;
  if (wanted + 1 >= slot_begin_.size() || slot_begin_[wanted] == slot_begin_[wanted + 1])
    return false;  // no such member, or it owns no slot
  const uint32_t prefix = OvsHash2WordsPrefix(HashFiveTuple(model_, tuple));
  // HRW keeps the first slot with the highest weight: the wanted member's best slot must beat
  // every slot before it and not lose to any slot after it.
  const uint32_t* slot = member_slots_.data() + slot_begin_[wanted];
  const uint32_t* const end = member_slots_.data() + slot_begin_[wanted + 1];
  uint32_t best_slot = *slot, best = OvsHash2WordsFrom(prefix, best_slot);
  for (++slot; slot != end; ++slot) {
    const uint32_t w = OvsHash2WordsFrom(prefix, *slot);
    if (w > best) best = w, best_slot = *slot;
  }
  // Every slot in blocks, without a branch per slot (where a flow loses is unpredictable): the
  // wanted member's own slots cannot outbid its best one, so they need no skipping.
  constexpr uint32_t kBlock = 8;
  const uint32_t n = static_cast<uint32_t>(slot_owner_.size());
  for (uint32_t s = 0; s < n; s += kBlock) {
    const uint32_t end_slot = std::min(n, s + kBlock);
    bool outbid = false;
    for (uint32_t t = s; t < end_slot; ++t) {
      const uint32_t w = OvsHash2WordsFrom(prefix, t);
      outbid |= (w > best) | ((w == best) & (t < best_slot));
    }
    if (outbid) return false;
  }
  return true;
}

uint32_t EcmpSelector::SelectsPorts(FiveTuple tuple, uint32_t first_port, uint32_t count,
                                    size_t wanted) const {
  count = std::min<uint32_t>(count, kMaxBatchPorts);
  const bool ports_hashed =
      tuple.proto == 6 || tuple.proto == kUdpProto || tuple.proto == 132;  // as in the hash
  if (model_.algorithm != HashAlgorithm::kOvsMultipath || slot_owner_.empty() || !ports_hashed ||
      wanted + 1 >= slot_begin_.size() || slot_begin_[wanted] == slot_begin_[wanted + 1]) {
    uint32_t mask = 0;
    for (uint32_t i = 0; i < count; ++i) {
      tuple.src_port = static_cast<uint16_t>(first_port + i);
      if (Selects(tuple, wanted)) mask |= 1u << i;
    }
    return mask;
  }
  // The flow's fixed fields are hashed once; only the source port is mixed in per port.
  const uint32_t fixed =
      OvsHashAdd(OvsHashAdd(model_.seed, WireWord32(tuple.src_ip ^ tuple.dst_ip)), tuple.proto);
  const uint32_t* const slots = member_slots_.data() + slot_begin_[wanted];
  const uint32_t n_wanted = slot_begin_[wanted + 1] - slot_begin_[wanted];
  const uint32_t n_slots = static_cast<uint32_t>(slot_owner_.size());
  uint32_t mask = 0;
  for (uint32_t lane0 = 0; lane0 < count; lane0 += kOvsPortLanes) {
    mask |= OvsWantedPortLanes(fixed, model_.seed, first_port + lane0, tuple.dst_port, slots,
                               n_wanted, n_slots)
            << lane0;
  }
  return count == 32 ? mask : mask & ((1u << count) - 1);
}

size_t SelectMember(const EcmpHashModel& model, const FiveTuple& tuple, size_t n_members) {
  if (n_members == 0) return 0;
  std::vector<EcmpMember> members(n_members);
  return EcmpSelector(model, members).Select(tuple);
}

size_t SelectWeightedMember(const EcmpHashModel& model, const FiveTuple& tuple,
                            const std::vector<EcmpMember>& members) {
  if (members.empty()) return 0;
  return EcmpSelector(model, members).Select(tuple);
}

absl::StatusOr<FiveTuple> RoceTuple(const Fabric& fabric, NodeId src_nic, NodeId dst_nic,
                                    uint16_t udp_src_port) {
  auto src = NicAddress(fabric, src_nic);
  if (!src.ok()) return src.status();
  auto dst = NicAddress(fabric, dst_nic);
  if (!dst.ok()) return dst.status();
  return FiveTuple{*src, *dst, kUdpProto, udp_src_port, kRoceV2Port};
}

absl::StatusOr<Path> TraceEcmpPath(EcmpGroups& groups, const HashModels& models, NodeId src_nic,
                                   NodeId dst_nic, const FiveTuple& tuple,
                                   DirectedLinkId first_hop) {
  const Fabric& f = groups.fabric();
  const NodeId n = static_cast<NodeId>(f.nodes().size());
  if (src_nic < 0 || src_nic >= n || !f.node(src_nic).is_nic() || dst_nic < 0 || dst_nic >= n ||
      !f.node(dst_nic).is_nic() || src_nic == dst_nic) {
    return absl::InvalidArgumentError(
        absl::StrCat("ECMP trace needs two distinct NICs, got ", src_nic, " and ", dst_nic));
  }
  Path path;
  if (first_hop < 0) {
    std::vector<EcmpMember> uplinks;
    for (LinkId l : f.LinksOf(src_nic)) {
      if (!groups.status().IsUp(l)) continue;
      const DirectedLinkId d = f.DirectedFrom(l, src_nic);
      uplinks.push_back(EcmpMember{f.TailPort(d), d, 0, 1});
    }
    if (uplinks.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("NIC '", f.node(src_nic).name, "' has no link up"));
    }
    std::sort(uplinks.begin(), uplinks.end(),
              [](const EcmpMember& a, const EcmpMember& b) { return a.port < b.port; });
    first_hop = uplinks[SelectMember(models.default_model, tuple, uplinks.size())].link;
  } else if (first_hop >= f.num_directed_links() || f.Tail(first_hop) != src_nic) {
    return absl::InvalidArgumentError(
        absl::StrCat("ECMP trace: first hop ", first_hop, " does not leave the source NIC"));
  }
  path.hops.push_back(first_hop);
  NodeId at = f.Head(first_hop);
  while (at != dst_nic) {
    if (path.hops.size() >= kMaxTraceHops) {
      return absl::InternalError(absl::StrCat("ECMP trace from '", f.node(src_nic).name, "' to '",
                                              f.node(dst_nic).name, "' did not arrive within ",
                                              kMaxTraceHops, " hops"));
    }
    auto members = groups.NextHops(at, dst_nic);
    if (!members.ok()) return members.status();
    const size_t pick = SelectWeightedMember(models.For(at), tuple, *members);
    path.hops.push_back((*members)[pick].link);
    at = f.Head((*members)[pick].link);
  }
  return path;
}

absl::StatusOr<EcmpLoad> EcmpBaseline(EcmpGroups& groups, const HashModels& models,
                                      const std::vector<FlowDemand>& flows, uint64_t seed,
                                      uint16_t port_min, uint16_t port_max) {
  const Fabric& f = groups.fabric();
  if (port_min > port_max) {
    return absl::InvalidArgumentError(
        absl::StrCat("ECMP baseline: port range ", port_min, "-", port_max, " is empty"));
  }
  EcmpLoad load;
  load.load_bps.assign(f.num_directed_links(), 0);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> port(port_min, port_max);
  for (size_t i = 0; i < flows.size(); ++i) {
    const FlowDemand& flow = flows[i];
    const uint16_t src_port = static_cast<uint16_t>(port(rng));
    auto tuple = RoceTuple(f, flow.src, flow.dst, src_port);
    if (!tuple.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("ECMP baseline flow ", i, ": ", tuple.status().message()));
    }
    auto path = TraceEcmpPath(groups, models, flow.src, flow.dst, *tuple);
    if (path.status().code() == absl::StatusCode::kInvalidArgument) {
      return absl::InvalidArgumentError(
          absl::StrCat("ECMP baseline flow ", i, ": ", path.status().message()));
    }
    if (!path.ok()) {
      ++load.unrouted_flows;
      continue;
    }
    double rate = flow.rate_bps;
    if (rate <= 0) rate = static_cast<double>(f.link(Fabric::LinkOf(path->hops[0])).capacity_bps);
    for (DirectedLinkId d : path->hops) load.load_bps[d] += rate;
  }
  for (DirectedLinkId d = 0; d < f.num_directed_links(); ++d) {
    const double u = load.load_bps[d] / static_cast<double>(f.link(Fabric::LinkOf(d)).capacity_bps);
    if (u > load.max_utilisation) {
      load.max_utilisation = u;
      load.busiest = d;
    }
  }
  return load;
}

}  // namespace pulse::controller
