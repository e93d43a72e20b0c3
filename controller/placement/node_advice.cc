#include "controller/placement/node_advice.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace pulse::controller {
namespace {

using topology::Fabric;
using topology::FabricTiers;
using topology::ServerId;

constexpr double kNonBlocking = 1.0 + 1e-9;
constexpr char kProbeJobId[] = "__pulse_suggest_servers__";

// A choice of servers grouped by block, in rank order.
struct Candidate {
  std::vector<std::vector<ServerId>> groups;  // one per block, each ascending
  std::string how;                            // for the reason
};

int GpusOf(const Fabric& fabric, ServerId s, bool count_servers) {
  if (count_servers) return 1;
  const topology::Server& server = fabric.servers()[s];
  return server.gpus.empty() ? static_cast<int>(server.nics.size())
                             : static_cast<int>(server.gpus.size());
}

// Takes `need` units (GPUs or servers) from the free servers of blocks in `order`, whole blocks
// except maybe the last. Empty when they do not add up.
Candidate Greedy(const std::vector<std::vector<ServerId>>& free_by_block,
                 const std::vector<int>& order, int need, const Fabric& fabric, bool count_servers,
                 absl::string_view how) {
  Candidate c;
  c.how = std::string(how);
  for (int b : order) {
    if (need <= 0) break;
    std::vector<ServerId> taken;
    for (ServerId s : free_by_block[b]) {
      if (need <= 0) break;
      taken.push_back(s);
      need -= GpusOf(fabric, s, count_servers);
    }
    if (!taken.empty()) c.groups.push_back(std::move(taken));
  }
  if (need > 0) c.groups.clear();
  return c;
}

// Fewest blocks: the largest free blocks whole, then the smallest block that fits the remainder.
Candidate FewestBlocks(const std::vector<std::vector<ServerId>>& free_by_block,
                       std::vector<int> blocks, const std::vector<int>& units, int need,
                       const Fabric& fabric, bool count_servers, absl::string_view how) {
  std::sort(blocks.begin(), blocks.end(),
            [&](int a, int b) { return units[a] != units[b] ? units[a] > units[b] : a < b; });
  std::vector<int> order;
  int left = need;
  std::vector<bool> used(units.size(), false);
  for (size_t i = 0; i < blocks.size() && left > 0; ++i) {
    // Would a smaller block still unused cover what is left? Take the smallest such (best fit).
    int best = -1;
    for (size_t j = i; j < blocks.size(); ++j) {
      const int b = blocks[j];
      if (!used[b] && units[b] >= left && (best < 0 || units[b] < units[best])) best = b;
    }
    if (best >= 0) {
      order.push_back(best);
      used[best] = true;
      left = 0;
      break;
    }
    if (used[blocks[i]]) continue;
    order.push_back(blocks[i]);
    used[blocks[i]] = true;
    left -= units[blocks[i]];
  }
  std::sort(order.begin(), order.end());  // rank order follows the fabric's block order
  return Greedy(free_by_block, order, need, fabric, count_servers, how);
}

// `need` units spread as evenly as the free servers allow over `blocks` (one server per block
// in turn), in fabric block order.
Candidate Spread(const std::vector<std::vector<ServerId>>& free_by_block, std::vector<int> blocks,
                 int need, const Fabric& fabric, bool count_servers, absl::string_view how) {
  std::sort(blocks.begin(), blocks.end());
  Candidate c;
  c.how = std::string(how);
  std::vector<std::vector<ServerId>> groups(blocks.size());
  std::vector<size_t> next(blocks.size(), 0);
  for (bool progress = true; need > 0 && progress;) {
    progress = false;
    for (size_t i = 0; i < blocks.size() && need > 0; ++i) {
      const std::vector<ServerId>& free = free_by_block[blocks[i]];
      if (next[i] >= free.size()) continue;
      groups[i].push_back(free[next[i]++]);
      need -= GpusOf(fabric, groups[i].back(), count_servers);
      progress = true;
    }
  }
  if (need > 0) return c;
  for (std::vector<ServerId>& g : groups) {
    if (!g.empty()) c.groups.push_back(std::move(g));
  }
  return c;
}

// A lower bound on the max utilisation the job would see, from the leaf blocks' uplinks alone:
// what the job sends out of (into) each block plus what already crosses its uplinks, over their
// capacity. Cheap next to a placement, so hopeless candidates are skipped without one.
double UplinkCutBound(const Placement& placement, const topology::FabricTiers& tiers,
                      const std::vector<FlowDemand>& demands) {
  const Fabric& fabric = placement.fabric();
  std::map<int, std::pair<double, double>> crossing;  // block -> (out, in) bps
  for (const FlowDemand& d : demands) {
    const int from = tiers.block_of_server[fabric.node(d.src).server];
    const int to = tiers.block_of_server[fabric.node(d.dst).server];
    if (from == to) continue;
    crossing[from].first += d.rate_bps;
    crossing[to].second += d.rate_bps;
  }
  double bound = 0;
  for (const auto& [block, bps] : crossing) {
    double cap = 0, load_out = 0, load_in = 0;
    for (topology::NodeId leaf : tiers.blocks[block].leaves) {
      for (topology::LinkId link : fabric.LinksOf(leaf)) {
        if (fabric.node(fabric.Peer(link, leaf)).level <= 1) continue;
        if (!placement.link_status().IsUp(link)) continue;
        const topology::DirectedLinkId up = fabric.DirectedFrom(link, leaf);
        cap += fabric.link(link).capacity_bps;
        load_out += placement.LoadBps(up);
        load_in += placement.LoadBps(up ^ 1);
      }
    }
    if (cap <= 0) return std::numeric_limits<double>::infinity();  // cut off: no path at all
    bound = std::max({bound, (load_out + bps.first) / cap, (load_in + bps.second) / cap});
  }
  return bound;
}

}  // namespace

std::vector<bool> ServersInUse(const Placement& placement) {
  const Fabric& fabric = placement.fabric();
  std::vector<bool> used(fabric.servers().size(), false);
  for (const auto& [id, job] : placement.jobs()) {
    for (const std::string& endpoint : job.spec.endpoints) {
      absl::StatusOr<topology::NodeId> nic = fabric.ResolveEndpoint(endpoint);
      if (nic.ok() && fabric.node(*nic).server >= 0) used[fabric.node(*nic).server] = true;
    }
    for (const PlacedFlow& flow : job.flows) {
      for (topology::NodeId nic : {flow.src, flow.dst}) {
        if (nic >= 0 && fabric.node(nic).server >= 0) used[fabric.node(nic).server] = true;
      }
    }
  }
  return used;
}

absl::StatusOr<NodeAdvice> SuggestServers(Placement* placement, const FabricTiers& tiers,
                                          const NodeAdviceRequest& request) {
  const Fabric& fabric = placement->fabric();
  const int num_servers = static_cast<int>(fabric.servers().size());
  if ((request.gpu_count > 0) == (request.server_count > 0)) {
    return absl::InvalidArgumentError(
        "gpu_count, server_count: give exactly one of them, greater than 0");
  }
  if (request.gpu_count < 0 || request.server_count < 0) {
    return absl::InvalidArgumentError("gpu_count, server_count: must not be negative");
  }
  if (request.pattern == CollectivePattern::kExplicit) {
    return absl::InvalidArgumentError(
        "pattern: explicit jobs name their endpoints; give a collective");
  }
  if (request.max_leaves < 0) return absl::InvalidArgumentError("max_leaves: must not be negative");
  const bool count_servers = request.server_count > 0;
  const int need = count_servers ? request.server_count : request.gpu_count;

  std::vector<bool> allowed(num_servers, false);
  if (request.all_unused) {
    std::vector<bool> in_use = ServersInUse(*placement);
    for (int s = 0; s < num_servers; ++s) allowed[s] = !in_use[s];
  } else {
    for (ServerId s : request.free) {
      if (s < 0 || s >= num_servers)
        return absl::InvalidArgumentError(absl::StrCat("free server id ", s, " out of range"));
      allowed[s] = true;
    }
  }
  for (ServerId s : request.exclude) {
    if (s < 0 || s >= num_servers)
      return absl::InvalidArgumentError(absl::StrCat("excluded server id ", s, " out of range"));
    allowed[s] = false;
  }
  const int num_blocks = static_cast<int>(tiers.blocks.size());
  std::vector<std::vector<ServerId>> free_by_block(num_blocks);
  std::vector<int> units(num_blocks, 0);
  int total_units = 0;
  for (int b = 0; b < num_blocks; ++b) {
    for (ServerId s : tiers.blocks[b].servers) {
      if (!allowed[s]) continue;
      free_by_block[b].push_back(s);
      units[b] += GpusOf(fabric, s, count_servers);
    }
    total_units += units[b];
  }
  const char* unit_name = count_servers ? "servers" : "GPUs";
  if (total_units < need) {
    return absl::ResourceExhaustedError(
        absl::StrCat("only ", total_units, " ", unit_name, " free, ", need, " asked for"));
  }

  // Spare uplink capacity of a block's leaves, for the load-aware ordering.
  std::vector<double> spare_uplink(num_blocks, 0);
  for (int b = 0; b < num_blocks; ++b) {
    for (topology::NodeId leaf : tiers.blocks[b].leaves) {
      for (topology::LinkId link : fabric.LinksOf(leaf)) {
        const topology::NodeId peer = fabric.Peer(link, leaf);
        if (fabric.node(peer).level <= 1 || !placement->link_status().IsUp(link)) continue;
        const topology::DirectedLinkId up = fabric.DirectedFrom(link, leaf);
        spare_uplink[b] += std::max(0.0, fabric.link(link).capacity_bps - placement->LoadBps(up));
      }
    }
  }

  std::vector<Candidate> candidates;
  // 1. One block, best fit first.
  std::vector<int> fitting;
  for (int b = 0; b < num_blocks; ++b) {
    if (units[b] >= need) fitting.push_back(b);
  }
  std::sort(fitting.begin(), fitting.end(), [&](int a, int b) {
    if (units[a] != units[b]) return units[a] < units[b];
    if (spare_uplink[a] != spare_uplink[b]) return spare_uplink[a] > spare_uplink[b];
    return a < b;
  });
  for (int b : fitting) {
    candidates.push_back(
        Greedy(free_by_block, {b}, need, fabric, count_servers,
               absl::StrCat("one leaf block (", tiers.blocks[b].name, "), best fit: ", units[b],
                            " ", unit_name, " free there")));
  }
  // 2. Several blocks: within one spine group (best-fit group first), then anywhere.
  if (request.max_leaves != 1) {
    std::vector<std::pair<int, int>> groups;  // (free units, group)
    for (size_t g = 0; g < tiers.spine_groups.size(); ++g) {
      int free = 0;
      for (int b : tiers.spine_groups[g].blocks) free += units[b];
      if (free >= need) groups.push_back({free, static_cast<int>(g)});
    }
    std::sort(groups.begin(), groups.end());
    for (const auto& [free, g] : groups) {
      candidates.push_back(FewestBlocks(
          free_by_block, tiers.spine_groups[g].blocks, units, need, fabric, count_servers,
          absl::StrCat("fewest leaf blocks within ", tiers.spine_groups[g].name)));
    }
    std::vector<int> all(num_blocks);
    for (int b = 0; b < num_blocks; ++b) all[b] = b;
    candidates.push_back(
        FewestBlocks(free_by_block, all, units, need, fabric, count_servers, "fewest leaf blocks"));
    // Blocks with the most spare uplink capacity first (the load other jobs left).
    std::vector<int> by_spare = all;
    std::sort(by_spare.begin(), by_spare.end(), [&](int a, int b) {
      return spare_uplink[a] != spare_uplink[b] ? spare_uplink[a] > spare_uplink[b] : a < b;
    });
    Candidate spare = Greedy(free_by_block, by_spare, need, fabric, count_servers,
                             "leaf blocks with the most spare uplink capacity");
    candidates.push_back(std::move(spare));
    // Spread over more blocks: a smaller share per block sends less across its uplinks (an
    // all-to-all over m of n ranks in a block sends m(n-m)/(n-1) rates out of it), which can
    // make a job non-blocking that no packed choice keeps under 100%.
    // Partly used blocks first (fewest free servers), so whole free blocks stay whole; among
    // equals, the most spare uplink capacity.
    std::vector<int> with_room;
    for (int b : by_spare) {
      if (units[b] > 0) with_room.push_back(b);
    }
    std::stable_sort(with_room.begin(), with_room.end(),
                     [&](int a, int b) { return units[a] < units[b]; });
    const int fewest = static_cast<int>(candidates.back().groups.size());
    for (int k = std::max(2, fewest + 1); k <= static_cast<int>(with_room.size()) &&
                                          (request.max_leaves == 0 || k <= request.max_leaves);
         k = k < 4 ? k + 1 : k * 2) {
      candidates.push_back(
          Spread(free_by_block, std::vector<int>(with_room.begin(), with_room.begin() + k), need,
                 fabric, count_servers, absl::StrCat("spread over ", k, " leaf blocks")));
    }
  }

  // Judge the candidates with the real placement, in order of preference; a candidate whose
  // uplink cut bound already exceeds 100% is certainly blocking and is skipped (the one with the
  // lowest bound is placed at the end when nothing was non-blocking, for its max load).
  struct Judged {
    const Candidate* candidate;
    JobSpec spec;
    std::vector<ServerId> servers;
    double bound = 0;
  };
  std::vector<Judged> judged;
  std::set<std::vector<std::vector<ServerId>>> seen;
  for (const Candidate& c : candidates) {
    if (c.groups.empty() || !seen.insert(c.groups).second) continue;
    if (request.max_leaves > 0 && static_cast<int>(c.groups.size()) > request.max_leaves) continue;
    Judged j{&c, {}, {}, 0};
    j.spec.id = kProbeJobId;
    j.spec.pattern = request.pattern;
    j.spec.rate_bps = request.rate_bps;
    j.spec.traffic_class = request.traffic_class;
    int left = need;
    for (const std::vector<ServerId>& group : c.groups) {
      for (ServerId s : group) {
        j.servers.push_back(s);
        const topology::Server& server = fabric.servers()[s];
        if (server.gpus.empty()) {
          for (topology::NodeId nic : server.nics)
            j.spec.endpoints.push_back(fabric.node(nic).name);
          left -= count_servers ? 1 : static_cast<int>(server.nics.size());
          continue;
        }
        for (topology::GpuId g : server.gpus) {
          if (!count_servers && left <= 0) break;
          j.spec.endpoints.push_back(fabric.gpus()[g].name);
          if (!count_servers) --left;
        }
      }
    }
    absl::StatusOr<std::vector<FlowDemand>> demands = JobDemands(fabric, j.spec);
    j.bound = demands.ok() ? UplinkCutBound(*placement, tiers, *demands)
                           : std::numeric_limits<double>::infinity();
    judged.push_back(std::move(j));
  }

  NodeAdvice best;
  double best_load = std::numeric_limits<double>::infinity();
  int best_leaves = 0;
  std::string best_how;
  absl::Status last_error = absl::FailedPreconditionError("no candidate fits the constraints");
  int evaluated = 0;
  auto evaluate = [&](const Judged& j) {
    ++evaluated;
    absl::StatusOr<const JobPlacement*> placed = placement->PlaceJob(j.spec);
    if (!placed.ok()) {
      last_error = placed.status();
      return false;
    }
    const double load = (*placed)->max_link_load;
    (void)placement->RemoveJob(kProbeJobId);
    const int leaves = static_cast<int>(j.candidate->groups.size());
    if (load < best_load - 1e-12 || (load <= best_load + 1e-12 && leaves < best_leaves)) {
      best_load = load;
      best_leaves = leaves;
      best_how = j.candidate->how;
      best.servers = j.servers;
      best.endpoints = j.spec.endpoints;
    }
    return load <= kNonBlocking;
  };
  bool found = false;
  std::vector<bool> tried(judged.size(), false);
  for (size_t i = 0; i < judged.size() && evaluated < request.max_candidates; ++i) {
    if (judged[i].bound > kNonBlocking) continue;
    tried[i] = true;
    if (evaluate(judged[i])) {
      found = true;
      break;
    }
  }
  if (!found && !judged.empty() && evaluated < request.max_candidates) {
    size_t lowest = judged.size();
    for (size_t i = 0; i < judged.size(); ++i) {
      if (!tried[i] && (lowest == judged.size() || judged[i].bound < judged[lowest].bound)) {
        lowest = i;
      }
    }
    if (lowest < judged.size()) evaluate(judged[lowest]);
  }
  if (best.servers.empty() && judged.empty()) {
    return absl::ResourceExhaustedError(absl::StrCat("no choice of free servers fits max_leaves ",
                                                     request.max_leaves, " (", need, " ", unit_name,
                                                     " asked for)"));
  }
  if (best.servers.empty()) {
    if (evaluated == 0) {
      return absl::ResourceExhaustedError(absl::StrCat("no choice of free servers fits max_leaves ",
                                                       request.max_leaves, " (", need, " ",
                                                       unit_name, " asked for)"));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("no candidate could be placed: ", last_error.message()));
  }
  best.max_link_load = best_load;
  best.non_blocking = best_load <= kNonBlocking;
  best.leaves = best_leaves;
  best.candidates_evaluated = evaluated;
  best.reason = best.non_blocking ? absl::StrCat("non-blocking: ", best_how)
                                  : absl::StrCat("no non-blocking choice among ", evaluated,
                                                 " candidates; least loaded: ", best_how,
                                                 ", max link load ", best_load);
  return best;
}

}  // namespace pulse::controller
