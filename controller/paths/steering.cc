#include "controller/paths/steering.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace pulse::controller {
namespace {

// splitmix64's finaliser over the running value: a fingerprint, collisions are checked.
uint64_t Mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  h ^= h >> 30;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 27;
  h *= 0x94D049BB133111EBull;
  return h ^ (h >> 31);
}

bool SameSelector(const EcmpHashModel& a, const EcmpHashModel& b) {
  return a.algorithm == b.algorithm && a.seed == b.seed && a.fields == b.fields;
}

std::vector<EcmpMember> WeightsOnly(const std::vector<uint32_t>& weights) {
  std::vector<EcmpMember> members(weights.size());
  for (size_t i = 0; i < weights.size(); ++i) members[i].weight = weights[i];
  return members;
}

// The index of the member leaving on channel `link` (through `port`), members.size() if none.
// Groups are sorted by port (ecmp_groups.h): a binary search touches a few of a wide group's
// members instead of all (groups are read per flow, mostly from memory rather than cache).
size_t IndexOf(absl::Span<const EcmpMember> members, DirectedLinkId link, int32_t port) {
  auto it = std::lower_bound(members.begin(), members.end(), port,
                             [](const EcmpMember& m, int32_t p) { return m.port < p; });
  if (it != members.end() && it->link == link) return static_cast<size_t>(it - members.begin());
  for (size_t m = 0; m < members.size(); ++m) {  // not sorted as documented: look at every one
    if (members[m].link == link) return m;
  }
  return members.size();
}

}  // namespace

absl::StatusOr<uint16_t> FindSteeringPort(EcmpGroups& groups, const HashModels& models,
                                          const Path& path, const SteeringOptions& options) {
  const Fabric& f = groups.fabric();
  uint32_t src_ipv4 = 0, dst_ipv4 = 0;
  if (!path.hops.empty() && path.hops.front() >= 0 && path.hops.front() < f.num_directed_links() &&
      path.hops.back() >= 0 && path.hops.back() < f.num_directed_links()) {
    src_ipv4 = f.node(f.Tail(path.hops.front())).ipv4;
    dst_ipv4 = f.node(f.Head(path.hops.back())).ipv4;
  }
  SteeringPortSearch search;
  return search.Find(groups, models, path, src_ipv4, dst_ipv4, options);
}

const EcmpSelector& SteeringPortSearch::SelectorFor(const EcmpHashModel& model,
                                                    absl::Span<const EcmpMember> members) {
  uint64_t key = Mix(Mix(Mix(static_cast<uint64_t>(model.algorithm), model.seed), model.fields),
                     members.size());
  // One multiply per weight (a full mix each would chain ~5 per weight, and groups are 64 wide);
  // collisions are checked below, so the fingerprint needs no more.
  uint64_t folded = 0;
  for (const EcmpMember& m : members) folded = (folded + m.weight + 1) * 0x9E3779B97F4A7C15ull;
  key = Mix(key, folded);
  auto it = selectors_.find(key);
  if (it != selectors_.end()) {
    const CachedSelector& cached = it->second;
    bool same = SameSelector(cached.model, model) && cached.weights.size() == members.size();
    for (size_t i = 0; same && i < members.size(); ++i)
      same = cached.weights[i] == members[i].weight;
    if (same) return cached.selector;
    // Two weight lists with one fingerprint: correct, only not cached.
    overflow_.emplace_back(model, std::vector<EcmpMember>(members.begin(), members.end()));
    return overflow_.back();
  }
  std::vector<uint32_t> weights;
  weights.reserve(members.size());
  for (const EcmpMember& m : members) weights.push_back(m.weight);
  EcmpSelector selector(model, WeightsOnly(weights));
  return selectors_.emplace(key, CachedSelector{model, std::move(weights), std::move(selector)})
      .first->second.selector;
}

absl::StatusOr<uint16_t> SteeringPortSearch::Find(EcmpGroups& groups, const HashModels& models,
                                                  const Path& path, uint32_t src_ipv4,
                                                  uint32_t dst_ipv4,
                                                  const SteeringOptions& options) {
  const Fabric& f = groups.fabric();
  if (options.port_min > options.port_max) {
    return absl::InvalidArgumentError(absl::StrCat("steering: port range ", options.port_min, "-",
                                                   options.port_max, " is empty"));
  }
  if (path.hops.empty() || path.hops.front() < 0 || path.hops.front() >= f.num_directed_links() ||
      path.hops.back() < 0 || path.hops.back() >= f.num_directed_links()) {
    return absl::InvalidArgumentError("steering: path has no valid hops");
  }
  const NodeId src = f.Tail(path.hops.front()), dst = f.Head(path.hops.back());
  if (!f.node(src).is_nic() || !f.node(dst).is_nic() || !IsValleyFree(f, path, src, dst)) {
    return absl::InvalidArgumentError("steering: path is not a valley-free walk between two NICs");
  }
  // Between searches only: the selectors in use below must stay put while one search runs.
  if (selectors_.size() >= kMaxSelectors) selectors_.clear();
  overflow_.clear();
  constraints_.clear();
  // Each hashed hop: the switch's selector and the bucket that must be chosen.
  std::string learned_switch;  // the first switch on the path modelled by probing
  for (size_t i = 1; i < path.hops.size(); ++i) {
    const NodeId sw = f.Tail(path.hops[i]);
    auto members = groups.NextHopsView(sw, dst, scratch_);
    if (!members.ok()) return members.status();
    const size_t wanted = IndexOf(*members, path.hops[i], f.TailPort(path.hops[i]));
    if (wanted == members->size()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "steering: planned hop ", f.DescribeDirected(path.hops[i]),
          " is not in the ECMP group of '", f.node(sw).name, "' towards '", f.node(dst).name, "'"));
    }
    if (members->size() > 1) {
      const EcmpHashModel& model = models.For(sw);
      if (model.learned != nullptr && !model.learned->failure.empty()) {
        return absl::UnavailableError(absl::StrCat("steering: switch '", f.node(sw).name,
                                                   "' is not steered: ", model.learned->failure));
      }
      if (!HashesSourcePort(model)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "steering: switch '", f.node(sw).name, "' hashes without the UDP source port (",
            HashAlgorithmName(model.algorithm), "), so no source port can choose its uplink"));
      }
      if (model.algorithm == HashAlgorithm::kLearned) {
        // A learned table answers by member link, which a cached (weights-only) selector lacks.
        if (learned_switch.empty()) learned_switch = f.node(sw).name;
        overflow_.emplace_back(model, std::vector<EcmpMember>(members->begin(), members->end()));
        constraints_.push_back({&overflow_.back(), wanted});
      } else {
        constraints_.push_back({&SelectorFor(model, *members), wanted});
      }
    }
  }
  for (const NodeId nic : {src, dst}) {
    if ((nic == src ? src_ipv4 : dst_ipv4) == 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("steering: NIC '", f.node(nic).name,
                       "' has no known IPv4 address (none in the intent, none learned from its "
                       "traffic yet): a steered flow's UDP source port depends on its addresses"));
    }
  }
  FiveTuple tuple{src_ipv4, dst_ipv4, kUdpProto, 0, kRoceV2Port};
  auto steers = [&](uint32_t port) {
    tuple.src_port = static_cast<uint16_t>(port);
    for (const Constraint& c : constraints_) {
      if (!c.selector->Selects(tuple, c.wanted)) return false;
    }
    return true;
  };
  if (options.preferred_port != 0 && options.preferred_port >= options.port_min &&
      options.preferred_port <= options.port_max && steers(options.preferred_port)) {
    return options.preferred_port;
  }
  // Ports in batches (EcmpSelector::SelectsPorts): the lowest port of the first batch in which
  // every constraint holds for some port is the lowest port overall.
  for (uint32_t port = options.port_min; port <= options.port_max;
       port += EcmpSelector::kMaxBatchPorts) {
    const uint32_t count =
        std::min<uint32_t>(EcmpSelector::kMaxBatchPorts, options.port_max - port + 1);
    uint32_t mask = count == 32 ? ~0u : (1u << count) - 1;
    for (const Constraint& c : constraints_) {
      mask &= c.selector->SelectsPorts(tuple, port, count, c.wanted);
      if (mask == 0) break;
    }
    if (mask != 0) return static_cast<uint16_t>(port + __builtin_ctz(mask));
  }
  if (!learned_switch.empty()) {
    return absl::UnavailableError(
        absl::StrCat("steering: no probed UDP source port steers '", f.node(src).name, "' -> '",
                     f.node(dst).name, "' onto the planned path (switch '", learned_switch,
                     "' is known from probes only, and none of them went that way)"));
  }
  return absl::NotFoundError(absl::StrCat("steering: no UDP source port in ", options.port_min, "-",
                                          options.port_max, " steers '", f.node(src).name, "' -> '",
                                          f.node(dst).name, "' onto the planned path"));
}

}  // namespace pulse::controller
