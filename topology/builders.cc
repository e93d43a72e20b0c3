#include "topology/builders.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace pulse::topology {
namespace {

// Large enough for any real GPU fabric, small enough that a typo cannot exhaust memory.
constexpr int64_t kMaxLinks = 4'000'000;
constexpr int kMaxCount = 1'000'000;

absl::Status Invalid(absl::string_view param, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(param, ": ", what));
}

absl::Status CheckCount(absl::string_view param, int64_t value, int64_t min) {
  if (value < min) {
    return Invalid(param, absl::StrCat("must be at least ", min, ", got ", value));
  }
  if (value > kMaxCount) {
    return Invalid(param, absl::StrCat("must be at most ", kMaxCount, ", got ", value));
  }
  return absl::OkStatus();
}

absl::Status CheckSpeed(absl::string_view param, int64_t bps) {
  if (bps <= 0) return Invalid(param, absl::StrCat("must be a positive speed, got ", bps, " bps"));
  return absl::OkStatus();
}

absl::Status CheckLinkBudget(absl::string_view param, double links) {
  if (links > static_cast<double>(kMaxLinks)) {
    return Invalid(param,
                   absl::StrCat("fabric too large: ", links, " links (limit ", kMaxLinks, ")"));
  }
  return absl::OkStatus();
}

// GPUs are not links but cost memory the same way; the same budget bounds them.
absl::Status CheckGpuBudget(double servers, int gpus_per_server) {
  if (servers * gpus_per_server > static_cast<double>(kMaxLinks)) {
    return Invalid("gpus_per_server", absl::StrCat("fabric too large: ", servers * gpus_per_server,
                                                   " GPUs (limit ", kMaxLinks, ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckCables(const CableLengths& c) {
  if (!(c.host_m >= 0) || !(c.leaf_spine_m >= 0) || !(c.spine_super_spine_m >= 0)) {
    return Invalid("cables", "lengths must be >= 0 metres");
  }
  for (const auto& [port, m] : c.overrides_m) {
    if (!(m >= 0)) {
      return Invalid("cables", absl::StrCat("override for '", port, "' must be >= 0 metres"));
    }
  }
  return absl::OkStatus();
}

// Parallel uplinks from one leaf to each spine it reaches, from the explicit count and/or the
// oversubscription ratio (host capacity / uplink capacity per leaf).
absl::StatusOr<int> UplinksPerSpine(double host_bps_per_leaf, int spines_reached,
                                    int64_t fabric_bps, int uplinks, double ratio) {
  if (uplinks < 0) return Invalid("uplinks_per_spine", absl::StrCat("must be >= 0, got ", uplinks));
  if (uplinks > kMaxCount) return CheckCount("uplinks_per_spine", uplinks, 0);
  if (!(ratio >= 0) || std::isinf(ratio)) {
    return Invalid("oversubscription", absl::StrCat("must be a positive ratio, got ", ratio));
  }
  const double per_spine_bps = static_cast<double>(spines_reached) * fabric_bps;
  if (ratio == 0) return uplinks == 0 ? 1 : uplinks;
  if (uplinks == 0) {
    const double needed = host_bps_per_leaf / (ratio * per_spine_bps);
    const double rounded = std::round(needed);
    if (rounded < 1 || std::abs(needed - rounded) > 1e-9 * needed) {
      return Invalid(
          "oversubscription",
          absl::StrCat(ratio, ":1 needs ", needed, " uplinks from each leaf to each of ",
                       spines_reached, " spines (", host_bps_per_leaf, " bps of hosts per leaf, ",
                       fabric_bps, " bps fabric links), which is not a whole number >= 1"));
    }
    if (rounded > kMaxCount) return CheckCount("uplinks_per_spine", rounded, 0);
    return static_cast<int>(rounded);
  }
  const double actual = host_bps_per_leaf / (uplinks * per_spine_bps);
  if (std::abs(actual - ratio) > 1e-9 * ratio) {
    return Invalid("oversubscription", absl::StrCat("given ", ratio, ":1 but uplinks_per_spine ",
                                                    uplinks, " makes it ", actual, ":1"));
  }
  return uplinks;
}

std::string PlaneName(int planes, int plane, absl::string_view base) {
  if (planes <= 1) return std::string(base);
  return absl::StrCat("p", plane, "-", base);
}

// Wraps FabricBuilder with what every builder needs: dpids from position, explicit port
// bookkeeping (so cable overrides can be keyed by port) and the cable-length defaults.
class Assembler {
 public:
  Assembler(const CableLengths& cables, const AddressPlan& plan) : cables_(cables) {
    builder_.SetAddressPlan(plan);
  }

  NodeId Switch(std::string name, SwitchRole role, int index, int pod = -1, int rail = -1,
                int plane = 0) {
    names_.push_back(name);
    next_port_.push_back(1);
    return builder_.AddSwitch(std::move(name), role, pod, rail, plane,
                              BuilderDatapathId(plane, role, index));
  }

  // A server with `nics` NICs and `gpus` GPUs (GPU i on NIC i % nics).
  std::vector<NodeId> Server(std::string name, int pod, int nics, int gpus) {
    ServerId s = builder_.AddServer(name, pod);
    std::vector<NodeId> ids;
    for (int r = 0; r < nics; ++r) {
      names_.push_back(absl::StrCat(name, "/nic-", r));
      next_port_.push_back(1);
      ids.push_back(builder_.AddNic(s, r));
    }
    for (int g = 0; g < gpus; ++g) builder_.AddGpu(s, ids[g % nics]);
    return ids;
  }

  // Links `lower` to `upper` on the next free port of each; `default_m` is the role default.
  void Link(NodeId lower, NodeId upper, int64_t bps, double default_m) {
    int32_t port_lower = next_port_[lower]++;
    int32_t port_upper = next_port_[upper]++;
    double m = default_m;
    for (std::string key : {absl::StrCat(names_[lower], ":", port_lower),
                            absl::StrCat(names_[upper], ":", port_upper)}) {
      auto it = cables_.overrides_m.find(key);
      if (it != cables_.overrides_m.end()) {
        m = it->second;
        used_overrides_.insert(std::move(key));
      }
    }
    builder_.AddLink(lower, upper, bps, m, port_lower, port_upper);
  }

  absl::StatusOr<Fabric> Finish() && {
    std::vector<std::string> unused;
    for (const auto& [port, m] : cables_.overrides_m) {
      if (!used_overrides_.contains(port)) unused.push_back(port);
    }
    if (!unused.empty()) {
      std::sort(unused.begin(), unused.end());
      return Invalid("cables", absl::StrCat("override for '", absl::StrJoin(unused, "', '"),
                                            "' names no link of this fabric"));
    }
    return std::move(builder_).Build();
  }

 private:
  const CableLengths& cables_;
  FabricBuilder builder_;
  std::vector<std::string> names_;  // by NodeId (same order as the FabricBuilder assigns)
  std::vector<int32_t> next_port_;  // by NodeId
  absl::flat_hash_set<std::string> used_overrides_;
};

}  // namespace

uint64_t BuilderDatapathId(int plane, SwitchRole role, int index) {
  return (static_cast<uint64_t>(plane) << 40) | (static_cast<uint64_t>(LevelOf(role)) << 32) |
         (static_cast<uint64_t>(index) + 1);
}

absl::StatusOr<Fabric> LeafSpine(const LeafSpineParams& p) {
  if (auto s = CheckCount("leaves", p.leaves, 1); !s.ok()) return s;
  if (auto s = CheckCount("spines", p.spines, 1); !s.ok()) return s;
  if (auto s = CheckCount("servers_per_leaf", p.servers_per_leaf, 1); !s.ok()) return s;
  if (auto s = CheckCount("nics_per_server", p.nics_per_server, 1); !s.ok()) return s;
  if (auto s = CheckCount("gpus_per_server", p.gpus_per_server, 0); !s.ok()) return s;
  if (auto s = CheckCount("planes", p.planes, 1); !s.ok()) return s;
  if (auto s = CheckSpeed("host_speed", p.host_speed_bps); !s.ok()) return s;
  if (auto s = CheckSpeed("fabric_speed", p.fabric_speed_bps); !s.ok()) return s;
  if (auto s = CheckCables(p.cables); !s.ok()) return s;
  const double host_bps_per_leaf =
      static_cast<double>(p.servers_per_leaf) * p.nics_per_server * p.host_speed_bps;
  absl::StatusOr<int> uplinks = UplinksPerSpine(host_bps_per_leaf, p.spines, p.fabric_speed_bps,
                                                p.uplinks_per_spine, p.oversubscription);
  if (!uplinks.ok()) return uplinks.status();
  const double servers = static_cast<double>(p.leaves) * p.servers_per_leaf;
  if (auto s = CheckLinkBudget("leaves",
                               p.planes * (servers * p.nics_per_server +
                                           static_cast<double>(p.leaves) * p.spines * *uplinks));
      !s.ok()) {
    return s;
  }
  const int gpus = p.gpus_per_server == 0 ? p.nics_per_server : p.gpus_per_server;
  if (auto s = CheckGpuBudget(servers, gpus); !s.ok()) return s;

  Assembler a(p.cables, p.address_plan);
  std::vector<std::vector<NodeId>> leaf(p.planes), spine(p.planes);
  for (int pl = 0; pl < p.planes; ++pl) {
    for (int i = 0; i < p.leaves; ++i) {
      leaf[pl].push_back(a.Switch(PlaneName(p.planes, pl, absl::StrCat("leaf-", i)),
                                  SwitchRole::kLeaf, i, -1, -1, pl));
    }
    for (int i = 0; i < p.spines; ++i) {
      spine[pl].push_back(a.Switch(PlaneName(p.planes, pl, absl::StrCat("spine-", i)),
                                   SwitchRole::kSpine, i, -1, -1, pl));
    }
  }
  std::vector<std::vector<NodeId>> nics;  // by server
  for (int s = 0; s < p.leaves * p.servers_per_leaf; ++s) {
    nics.push_back(a.Server(absl::StrCat("server-", s), -1, p.nics_per_server, gpus));
  }
  for (int pl = 0; pl < p.planes; ++pl) {
    for (int l = 0; l < p.leaves; ++l) {
      for (int s = 0; s < p.servers_per_leaf; ++s) {
        for (NodeId nic : nics[l * p.servers_per_leaf + s]) {
          a.Link(nic, leaf[pl][l], p.host_speed_bps, p.cables.host_m);
        }
      }
    }
    for (int l = 0; l < p.leaves; ++l) {
      for (int s = 0; s < p.spines; ++s) {
        for (int u = 0; u < *uplinks; ++u) {
          a.Link(leaf[pl][l], spine[pl][s], p.fabric_speed_bps, p.cables.leaf_spine_m);
        }
      }
    }
  }
  return std::move(a).Finish();
}

absl::StatusOr<Fabric> FatTree(const FatTreeParams& p) {
  if (p.k < 2 || p.k % 2 != 0) {
    return Invalid("k", absl::StrCat("must be even and at least 2, got ", p.k));
  }
  if (p.k > 256) return Invalid("k", absl::StrCat("must be at most 256, got ", p.k));
  if (auto s = CheckCount("nics_per_server", p.nics_per_server, 1); !s.ok()) return s;
  if (auto s = CheckCount("gpus_per_server", p.gpus_per_server, 0); !s.ok()) return s;
  if (auto s = CheckSpeed("host_speed", p.host_speed_bps); !s.ok()) return s;
  if (auto s = CheckSpeed("fabric_speed", p.fabric_speed_bps); !s.ok()) return s;
  if (auto s = CheckCables(p.cables); !s.ok()) return s;
  const int k = p.k;
  const int half = k / 2;
  const double servers = static_cast<double>(k) * k * k / 4;
  if (auto s = CheckLinkBudget("k", servers * p.nics_per_server + servers * 2); !s.ok()) return s;
  const int gpus = p.gpus_per_server == 0 ? p.nics_per_server : p.gpus_per_server;
  if (auto s = CheckGpuBudget(servers, gpus); !s.ok()) return s;

  Assembler a(p.cables, p.address_plan);
  std::vector<NodeId> edge, agg, core;  // edge[pod * half + i], agg[pod * half + j]
  for (int pod = 0; pod < k; ++pod) {
    for (int i = 0; i < half; ++i) {
      const int index = pod * half + i;
      edge.push_back(a.Switch(absl::StrCat("leaf-", index), SwitchRole::kLeaf, index, pod));
    }
    for (int j = 0; j < half; ++j) {
      const int index = pod * half + j;
      agg.push_back(a.Switch(absl::StrCat("spine-", index), SwitchRole::kSpine, index, pod));
    }
  }
  for (int c = 0; c < half * half; ++c) {
    core.push_back(a.Switch(absl::StrCat("core-", c), SwitchRole::kSuperSpine, c));
  }
  for (int e = 0; e < k * half; ++e) {
    const int pod = e / half;
    for (int h = 0; h < half; ++h) {
      for (NodeId nic :
           a.Server(absl::StrCat("server-", e * half + h), pod, p.nics_per_server, gpus)) {
        a.Link(nic, edge[e], p.host_speed_bps, p.cables.host_m);
      }
    }
  }
  for (int pod = 0; pod < k; ++pod) {
    for (int i = 0; i < half; ++i) {
      for (int j = 0; j < half; ++j) {
        a.Link(edge[pod * half + i], agg[pod * half + j], p.fabric_speed_bps,
               p.cables.leaf_spine_m);
      }
    }
  }
  for (int pod = 0; pod < k; ++pod) {
    for (int j = 0; j < half; ++j) {
      for (int i = 0; i < half; ++i) {
        a.Link(agg[pod * half + j], core[j * half + i], p.fabric_speed_bps,
               p.cables.spine_super_spine_m);
      }
    }
  }
  return std::move(a).Finish();
}

absl::StatusOr<Fabric> FatTree(int k) {
  FatTreeParams p;
  p.k = k;
  return FatTree(p);
}

absl::StatusOr<RailSpineMode> ParseRailSpineMode(absl::string_view name) {
  if (name == "all" || name == "all-spines") return RailSpineMode::kAllSpines;
  if (name == "per-rail") return RailSpineMode::kPerRail;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown spine mode '", name, "' (expected all or per-rail)"));
}

absl::StatusOr<Fabric> RailOptimized(const RailOptimizedParams& p) {
  if (auto s = CheckCount("groups", p.groups, 1); !s.ok()) return s;
  if (auto s = CheckCount("servers_per_group", p.servers_per_group, 1); !s.ok()) return s;
  if (auto s = CheckCount("rails", p.rails, 1); !s.ok()) return s;
  if (auto s = CheckCount("gpus_per_server", p.gpus_per_server, 0); !s.ok()) return s;
  if (auto s = CheckCount("spines", p.spines, 1); !s.ok()) return s;
  if (auto s = CheckCount("planes", p.planes, 1); !s.ok()) return s;
  if (auto s = CheckSpeed("host_speed", p.host_speed_bps); !s.ok()) return s;
  if (auto s = CheckSpeed("fabric_speed", p.fabric_speed_bps); !s.ok()) return s;
  if (auto s = CheckCables(p.cables); !s.ok()) return s;
  int spines_per_rail = p.spines;
  if (p.spine_mode == RailSpineMode::kPerRail) {
    if (p.spines % p.rails != 0) {
      return Invalid("spines", absl::StrCat("per-rail spines need a multiple of rails (", p.rails,
                                            "), got ", p.spines));
    }
    spines_per_rail = p.spines / p.rails;
  }
  const double host_bps_per_rail_switch =
      static_cast<double>(p.servers_per_group) * p.host_speed_bps;
  absl::StatusOr<int> uplinks =
      UplinksPerSpine(host_bps_per_rail_switch, spines_per_rail, p.fabric_speed_bps,
                      p.uplinks_per_spine, p.oversubscription);
  if (!uplinks.ok()) return uplinks.status();
  const double rail_switches = static_cast<double>(p.groups) * p.rails;
  if (auto s = CheckLinkBudget("groups", p.planes * (rail_switches * p.servers_per_group +
                                                     rail_switches * spines_per_rail * *uplinks));
      !s.ok()) {
    return s;
  }
  const int gpus = p.gpus_per_server == 0 ? p.rails : p.gpus_per_server;
  if (auto s = CheckGpuBudget(static_cast<double>(p.groups) * p.servers_per_group, gpus); !s.ok()) {
    return s;
  }

  Assembler a(p.cables, p.address_plan);
  // rail_switch[plane][g * rails + r]
  std::vector<std::vector<NodeId>> rail_switch(p.planes), spine(p.planes);
  for (int pl = 0; pl < p.planes; ++pl) {
    for (int g = 0; g < p.groups; ++g) {
      for (int r = 0; r < p.rails; ++r) {
        rail_switch[pl].push_back(
            a.Switch(PlaneName(p.planes, pl, absl::StrCat("rail-", g, "-", r)), SwitchRole::kLeaf,
                     g * p.rails + r, -1, r, pl));
      }
    }
    for (int s = 0; s < p.spines; ++s) {
      const int rail = p.spine_mode == RailSpineMode::kPerRail ? s / spines_per_rail : -1;
      spine[pl].push_back(a.Switch(PlaneName(p.planes, pl, absl::StrCat("spine-", s)),
                                   SwitchRole::kSpine, s, -1, rail, pl));
    }
  }
  std::vector<std::vector<NodeId>> nics;  // by server
  for (int s = 0; s < p.groups * p.servers_per_group; ++s) {
    nics.push_back(a.Server(absl::StrCat("server-", s), -1, p.rails, gpus));
  }
  for (int pl = 0; pl < p.planes; ++pl) {
    for (int g = 0; g < p.groups; ++g) {
      for (int r = 0; r < p.rails; ++r) {
        for (int s = 0; s < p.servers_per_group; ++s) {
          a.Link(nics[g * p.servers_per_group + s][r], rail_switch[pl][g * p.rails + r],
                 p.host_speed_bps, p.cables.host_m);
        }
      }
    }
    for (int g = 0; g < p.groups; ++g) {
      for (int r = 0; r < p.rails; ++r) {
        const int first_spine = p.spine_mode == RailSpineMode::kPerRail ? r * spines_per_rail : 0;
        for (int s = first_spine; s < first_spine + spines_per_rail; ++s) {
          for (int u = 0; u < *uplinks; ++u) {
            a.Link(rail_switch[pl][g * p.rails + r], spine[pl][s], p.fabric_speed_bps,
                   p.cables.leaf_spine_m);
          }
        }
      }
    }
  }
  return std::move(a).Finish();
}

}  // namespace pulse::topology
