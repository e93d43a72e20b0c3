#include "controller/paths/ecmp_groups.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <limits>
#include <numeric>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "controller/paths/path_cache.h"

namespace pulse::controller {
namespace {

constexpr int kUnreachable = INT_MAX / 2;
constexpr int kMaxLevel = 3;

bool HasChannel(const std::vector<EcmpMember>& members, DirectedLinkId d) {
  for (const EcmpMember& m : members) {
    if (m.link == d) return true;
  }
  return false;
}

bool SameMembers(const EcmpGroups::Members& a, const EcmpGroups::Members& b) {
  return a == b || *a == *b;
}

// A group's members from its channels and each one's share of its capacity (ShareByNextNode):
// weights in Mbit/s divided by their greatest common divisor, sorted by port.
std::vector<EcmpMember> MembersOf(const Fabric& f, const std::vector<DirectedLinkId>& hops,
                                  const std::vector<double>& share) {
  std::vector<EcmpMember> members;
  members.reserve(hops.size());
  int64_t divisor = 0;
  for (size_t i = 0; i < hops.size(); ++i) {
    EcmpMember m;
    m.port = f.TailPort(hops[i]);
    m.link = hops[i];
    m.capacity_bps = static_cast<double>(f.link(Fabric::LinkOf(hops[i])).capacity_bps) * share[i];
    const int64_t mbps = std::max<int64_t>(1, std::llround(m.capacity_bps / 1e6));
    m.weight = static_cast<uint32_t>(std::min<int64_t>(mbps, UINT32_MAX));
    divisor = std::gcd(divisor, static_cast<int64_t>(m.weight));
    members.push_back(m);
  }
  for (EcmpMember& m : members) m.weight = static_cast<uint32_t>(m.weight / divisor);
  std::sort(members.begin(), members.end(),
            [](const EcmpMember& a, const EcmpMember& b) { return a.port < b.port; });
  return members;
}

}  // namespace

EcmpGroups::EcmpGroups(std::shared_ptr<const Fabric> fabric)
    : fabric_(std::move(fabric)), status_(*fabric_) {
  const Fabric& f = *fabric_;
  up_links_.resize(f.nodes().size());
  down_links_.resize(f.nodes().size());
  up_peers_.resize(f.nodes().size());
  down_peers_.resize(f.nodes().size());
  switches_by_level_.resize(kMaxLevel + 1);
  scratch_distance_.assign(f.nodes().size(), kUnreachable);
  scratch_ancestor_.assign(f.nodes().size(), 0);
  scratch_hops_.resize(f.nodes().size());
  scratch_heads_.resize(f.nodes().size());
  scratch_reach_.assign(f.nodes().size(), 0);
  last_group_.resize(f.nodes().size());
  for (NodeId sw : f.switches()) {
    const int level = f.node(sw).level;
    if (level >= 0 && level <= kMaxLevel) switches_by_level_[level].push_back(sw);
    for (LinkId l : f.LinksOf(sw)) {
      const NodeId peer = f.Peer(l, sw);
      if (!f.node(peer).is_switch()) continue;
      if (f.node(peer).level == level + 1) {
        up_links_[sw].push_back(l);
        up_peers_[sw].push_back(peer);
      }
      if (f.node(peer).level == level - 1) {
        down_links_[sw].push_back(l);
        down_peers_[sw].push_back(peer);
      }
    }
  }
}

EcmpGroups::Table EcmpGroups::Compute(NodeId dst) {
  ++computations_;
  const Fabric& f = *fabric_;
  std::vector<int>& distance = scratch_distance_;
  std::vector<NodeId> touched;
  // Up-ancestors of the destination (over up links): they reach it by descending only. Marked
  // per node (a spine asks about each of its downlinks' peers: a set lookup each was the most of
  // a computation on a wide leaf-spine).
  std::vector<char>& ancestor = scratch_ancestor_;
  ancestor[dst] = 1;
  distance[dst] = 0;
  touched.push_back(dst);
  std::vector<NodeId> frontier{dst};
  while (!frontier.empty()) {
    std::vector<NodeId> next;
    for (NodeId n : frontier) {
      for (LinkId l : up_links_[n]) {
        if (!status_.IsUp(l)) continue;
        const NodeId p = f.Peer(l, n);
        if (!ancestor[p]) {
          ancestor[p] = 1;
          distance[p] = f.node(p).level - f.node(dst).level;
          touched.push_back(p);
          next.push_back(p);
        }
      }
    }
    frontier = std::move(next);
  }
  // Top tier first, so every switch sees its upper neighbours' distances. Each switch with a way
  // on is filed under its distance: its next nodes are one nearer, so weighing by increasing
  // distance finds theirs done (EcmpWeights' recursion, in order).
  std::vector<std::vector<NodeId>> by_distance;
  for (int level = kMaxLevel; level >= 1; --level) {
    for (NodeId n : switches_by_level_[level]) {
      if (n == dst) continue;
      std::vector<DirectedLinkId>& hops = scratch_hops_[n];
      std::vector<NodeId>& heads = scratch_heads_[n];
      hops.clear();
      heads.clear();
      int dist = kUnreachable;
      if (ancestor[n]) {
        for (size_t i = 0; i < down_links_[n].size(); ++i) {
          const LinkId l = down_links_[n][i];
          if (status_.IsUp(l) && ancestor[down_peers_[n][i]]) {
            hops.push_back(f.DirectedFrom(l, n));
            heads.push_back(down_peers_[n][i]);
          }
        }
        dist = distance[n];
      } else {
        const std::vector<LinkId>& ups = up_links_[n];
        const std::vector<NodeId>& peers = up_peers_[n];
        int best = kUnreachable;
        for (size_t i = 0; i < ups.size(); ++i) {
          if (status_.IsUp(ups[i])) best = std::min(best, distance[peers[i]]);
        }
        if (best >= kUnreachable) continue;
        for (size_t i = 0; i < ups.size(); ++i) {
          if (status_.IsUp(ups[i]) && distance[peers[i]] == best) {
            hops.push_back(f.DirectedFrom(ups[i], n));
            heads.push_back(peers[i]);
          }
        }
        distance[n] = dist = best + 1;
        touched.push_back(n);
      }
      if (hops.empty()) continue;
      if (by_distance.size() <= static_cast<size_t>(dist)) by_distance.resize(dist + 1);
      by_distance[dist].push_back(n);
    }
  }
  Table table;
  for (const std::vector<NodeId>& nodes : by_distance) {
    for (NodeId n : nodes) {
      Entry& e = table[n];
      e.descending = ancestor[n];
      e.distance = distance[n];
      e.members = Weighed(n, dst);
    }
  }
  for (NodeId n : touched) distance[n] = kUnreachable, ancestor[n] = 0;
  for (const auto& [n, e] : table) scratch_reach_[n] = 0;
  return table;
}

EcmpGroups::Members EcmpGroups::Weighed(NodeId n, NodeId dst) {
  const Fabric& f = *fabric_;
  const std::vector<DirectedLinkId>& hops = scratch_hops_[n];
  // What the group depends on: its channels and how much each next node passes on (infinite at
  // the destination). A switch's group is the same towards most destinations (a leaf's uplinks
  // on a healthy leaf-spine): then its previous one is shared, weighed once.
  LastGroup& last = last_group_[n];
  last.scratch_reach.clear();
  for (const NodeId h : scratch_heads_[n]) {
    last.scratch_reach.push_back(h == dst ? std::numeric_limits<double>::infinity()
                                          : scratch_reach_[h]);
  }
  if (last.members != nullptr && last.hops == hops && last.reach == last.scratch_reach) {
    scratch_reach_[n] = last.total_bps;
    return last.members;
  }
  // EcmpWeights' rule (path_cache.h) for this one node: the same doubles.
  std::vector<std::pair<NodeId, size_t>> by_head;
  std::vector<double> share;
  const double total = ShareByNextNode(
      f, hops, [&](size_t i) { return scratch_heads_[n][i]; },
      [&](NodeId, size_t i) { return last.scratch_reach[i]; }, by_head, share);
  auto members = std::make_shared<const std::vector<EcmpMember>>(MembersOf(f, hops, share));
  last.hops = hops;
  std::swap(last.reach, last.scratch_reach);
  last.total_bps = total;
  last.members = std::move(members);
  scratch_reach_[n] = total;
  return last.members;
}

std::vector<EcmpMember> EcmpGroups::Weigh(NodeId dst, const Table& table,
                                          const std::vector<DirectedLinkId>& hops) const {
  const Fabric& f = *fabric_;
  constexpr double kInfinite = std::numeric_limits<double>::infinity();
  // EcmpWeights' rule (path_cache.h): per next node h, min(channel capacity to h, C(h)) shared
  // among the channels by capacity; C(h) is the sum of h's member capacities.
  std::vector<std::pair<NodeId, size_t>> by_head;
  std::vector<double> share;
  ShareByNextNode(
      f, hops, [&](size_t i) { return f.Head(hops[i]); },
      [&](NodeId h, size_t) {
        if (h == dst) return kInfinite;
        double reach = 0;
        if (auto it = table.find(h); it != table.end()) {
          for (const EcmpMember& m : *it->second.members) reach += m.capacity_bps;
        }
        return reach;
      },
      by_head, share);
  return MembersOf(f, hops, share);
}

size_t EcmpGroups::RepairAfterFailure(NodeId dst, Table& table, const std::vector<LinkId>& failed,
                                      std::vector<EcmpGroup>& diff) {
  const Fabric& f = *fabric_;
  // Ancestors now (the climb from dst is small: it never scans downlink lists).
  absl::flat_hash_set<NodeId> ancestors{dst};
  std::vector<NodeId> frontier{dst};
  while (!frontier.empty()) {
    std::vector<NodeId> next;
    for (NodeId n : frontier) {
      for (LinkId l : up_links_[n]) {
        if (status_.IsUp(l) && ancestors.insert(f.Peer(l, n)).second) {
          next.push_back(f.Peer(l, n));
        }
      }
    }
    frontier = std::move(next);
  }
  // Seeds: groups that used a failed channel, and switches that stopped being ancestors.
  absl::flat_hash_set<NodeId> dirty;
  std::vector<NodeId> queue;
  auto mark = [&](NodeId n) {
    if (table.contains(n) && dirty.insert(n).second) queue.push_back(n);
  };
  for (LinkId l : failed) {
    const NodeId lower = f.link(l).a.node, upper = f.link(l).b.node;
    if (auto it = table.find(lower);
        it != table.end() && HasChannel(*it->second.members, Fabric::Directed(l, 0))) {
      mark(lower);
    }
    if (auto it = table.find(upper);
        it != table.end() && HasChannel(*it->second.members, Fabric::Directed(l, 1))) {
      mark(upper);
    }
  }
  for (const auto& [n, e] : table) {
    if (e.descending && !ancestors.contains(n)) mark(n);
  }
  // Everything whose group leads into a dirty switch may change too (distance or capacity).
  for (size_t i = 0; i < queue.size(); ++i) {
    const NodeId x = queue[i];
    for (const auto* links : {&up_links_[x], &down_links_[x]}) {
      for (LinkId l : *links) {
        const NodeId n = f.Peer(l, x);
        auto it = table.find(n);
        if (it != table.end() && HasChannel(*it->second.members, f.DirectedFrom(l, n))) mark(n);
      }
    }
  }
  // Rebuild: ancestors bottom-up (their next hops are lower ancestors), then the others top-down
  // (their next hops are higher).
  std::vector<NodeId> order(dirty.begin(), dirty.end());
  std::sort(order.begin(), order.end(), [&](NodeId a, NodeId b) {
    const bool aa = ancestors.contains(a), ab = ancestors.contains(b);
    if (aa != ab) return aa;
    const int la = f.node(a).level, lb = f.node(b).level;
    if (la != lb) return aa ? la < lb : la > lb;
    return a < b;
  });
  auto distance_of = [&](NodeId p) {
    if (ancestors.contains(p)) return f.node(p).level - f.node(dst).level;
    auto it = table.find(p);
    return it == table.end() ? kUnreachable : it->second.distance;
  };
  for (NodeId n : order) {
    const Members old = table.at(n).members;
    std::vector<DirectedLinkId> hops;
    int dist = kUnreachable;
    const bool is_ancestor = ancestors.contains(n);
    if (is_ancestor) {
      for (LinkId l : down_links_[n]) {
        if (status_.IsUp(l) && ancestors.contains(f.Peer(l, n)))
          hops.push_back(f.DirectedFrom(l, n));
      }
      dist = f.node(n).level - f.node(dst).level;
    } else {
      int best = kUnreachable;
      for (LinkId l : up_links_[n]) {
        if (status_.IsUp(l)) best = std::min(best, distance_of(f.Peer(l, n)));
      }
      if (best < kUnreachable) {
        for (LinkId l : up_links_[n]) {
          if (status_.IsUp(l) && distance_of(f.Peer(l, n)) == best) {
            hops.push_back(f.DirectedFrom(l, n));
          }
        }
        dist = best + 1;
      }
    }
    if (hops.empty()) {
      table.erase(n);
      diff.push_back(EcmpGroup{n, dst, {}});
      continue;
    }
    Entry& e = table.at(n);
    e.descending = is_ancestor;
    e.distance = dist;
    e.members = std::make_shared<const std::vector<EcmpMember>>(Weigh(dst, table, hops));
    if (!SameMembers(e.members, old)) diff.push_back(EcmpGroup{n, dst, *e.members});
  }
  return order.size();
}

const EcmpGroups::Table* EcmpGroups::TableFor(NodeId dst_leaf) {
  const Fabric& f = *fabric_;
  if (dst_leaf < 0 || dst_leaf >= static_cast<NodeId>(f.nodes().size()) ||
      !f.node(dst_leaf).is_switch() || f.node(dst_leaf).level != 1) {
    return nullptr;
  }
  auto it = tables_.find(dst_leaf);
  if (it == tables_.end()) it = tables_.emplace(dst_leaf, Compute(dst_leaf)).first;
  return &it->second;
}

std::optional<EcmpGroup> EcmpGroups::Find(NodeId sw, NodeId dst_leaf) {
  const std::vector<EcmpMember>* members = FindMembers(sw, dst_leaf);
  if (members == nullptr) return std::nullopt;
  return EcmpGroup{sw, dst_leaf, *members};
}

const std::vector<EcmpMember>* EcmpGroups::FindMembers(NodeId sw, NodeId dst_leaf) {
  const Table* table = TableFor(dst_leaf);
  if (table == nullptr) return nullptr;
  auto it = table->find(sw);
  return it == table->end() ? nullptr : it->second.members.get();
}

std::vector<EcmpGroup> EcmpGroups::GroupsToward(NodeId dst_leaf) {
  std::vector<EcmpGroup> out;
  const Table* table = TableFor(dst_leaf);
  if (table == nullptr) return out;
  for (const auto& [sw, entry] : *table) out.push_back(EcmpGroup{sw, dst_leaf, *entry.members});
  std::sort(out.begin(), out.end(),
            [](const EcmpGroup& a, const EcmpGroup& b) { return a.switch_id < b.switch_id; });
  return out;
}

absl::StatusOr<std::vector<EcmpMember>> EcmpGroups::NextHops(NodeId sw, NodeId dst_nic) {
  std::vector<EcmpMember> scratch;
  auto view = NextHopsView(sw, dst_nic, scratch);
  if (!view.ok()) return view.status();
  return std::vector<EcmpMember>(view->begin(), view->end());
}

absl::StatusOr<absl::Span<const EcmpMember>> EcmpGroups::NextHopsView(
    NodeId sw, NodeId dst_nic, std::vector<EcmpMember>& scratch) {
  const Fabric& f = *fabric_;
  const NodeId n = static_cast<NodeId>(f.nodes().size());
  if (sw < 0 || sw >= n || !f.node(sw).is_switch()) {
    return absl::InvalidArgumentError(absl::StrCat("ECMP next hops: node ", sw, " is no switch"));
  }
  if (dst_nic < 0 || dst_nic >= n || !f.node(dst_nic).is_nic()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ECMP next hops: destination ", dst_nic, " is no NIC"));
  }
  scratch.clear();
  for (LinkId l : f.LinksOf(dst_nic)) {
    if (!status_.IsUp(l) || f.Peer(l, dst_nic) != sw) continue;
    const DirectedLinkId d = f.DirectedFrom(l, sw);
    scratch.push_back(EcmpMember{f.TailPort(d), d, static_cast<double>(f.link(l).capacity_bps), 1});
  }
  if (!scratch.empty()) {
    std::sort(scratch.begin(), scratch.end(),
              [](const EcmpMember& a, const EcmpMember& b) { return a.port < b.port; });
    return absl::Span<const EcmpMember>(scratch);
  }
  // The NIC's leaves in `sw`'s plane, in link order: the first with a group decides.
  for (LinkId l : f.LinksOf(dst_nic)) {
    if (!status_.IsUp(l)) continue;
    const NodeId leaf = f.Peer(l, dst_nic);
    if (f.node(leaf).plane != f.node(sw).plane) continue;
    if (const std::vector<EcmpMember>* members = FindMembers(sw, leaf); members != nullptr) {
      return absl::Span<const EcmpMember>(*members);
    }
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "switch '", f.node(sw).name, "' has no up-down path to '", f.node(dst_nic).name, "'"));
}

EcmpGroupsUpdate EcmpGroups::SetLinkUp(LinkId link, bool up) {
  return SetLinksUp(std::vector<LinkId>{link}, up);
}

EcmpGroupsUpdate EcmpGroups::SetSwitchUp(NodeId node, bool up) {
  if (node < 0 || node >= static_cast<NodeId>(fabric_->nodes().size())) return {};
  return SetLinksUp(fabric_->LinksOf(node), up);
}

EcmpGroupsUpdate EcmpGroups::SetLinksUp(const std::vector<LinkId>& links, bool up) {
  const Fabric& f = *fabric_;
  EcmpGroupsUpdate update;
  std::vector<LinkId> changed;  // switch-to-switch links whose state changed
  for (LinkId l : links) {
    if (l < 0 || l >= static_cast<LinkId>(f.links().size()) || status_.IsUp(l) == up) continue;
    status_.SetUp(l, up);
    // NIC links are never in a group: NextHops reads their state directly.
    if (f.node(f.link(l).a.node).is_switch()) changed.push_back(l);
  }
  if (changed.empty()) return update;
  std::vector<NodeId> destinations;
  for (const auto& [dst, table] : tables_) {
    bool affected = false;
    for (LinkId l : changed) {
      const NodeId lower = f.link(l).a.node, upper = f.link(l).b.node;
      auto at_lower = table.find(lower);
      auto at_upper = table.find(upper);
      if (up) {
        // Usable upwards if the upper end reaches dst, downwards if the lower end is dst or
        // one of its ancestors.
        affected = at_upper != table.end() || lower == dst ||
                   (at_lower != table.end() && at_lower->second.descending);
      } else {
        affected = (at_lower != table.end() &&
                    HasChannel(*at_lower->second.members, Fabric::Directed(l, 0))) ||
                   (at_upper != table.end() &&
                    HasChannel(*at_upper->second.members, Fabric::Directed(l, 1)));
      }
      if (affected) break;
    }
    if (affected) destinations.push_back(dst);
  }
  std::sort(destinations.begin(), destinations.end());
  for (NodeId dst : destinations) {
    ++update.destinations_recomputed;
    Table& old = tables_.at(dst);
    std::vector<EcmpGroup> diff;
    if (!up) {
      update.groups_recomputed += RepairAfterFailure(dst, old, changed, diff);
      std::sort(diff.begin(), diff.end(),
                [](const EcmpGroup& a, const EcmpGroup& b) { return a.switch_id < b.switch_id; });
      update.changed.insert(update.changed.end(), diff.begin(), diff.end());
      continue;
    }
    Table fresh = Compute(dst);
    update.groups_recomputed += fresh.size();
    for (const auto& [sw, entry] : fresh) {
      auto it = old.find(sw);
      if (it == old.end() || !SameMembers(it->second.members, entry.members)) {
        diff.push_back(EcmpGroup{sw, dst, *entry.members});
      }
    }
    for (const auto& [sw, entry] : old) {
      if (!fresh.contains(sw)) diff.push_back(EcmpGroup{sw, dst, {}});
    }
    std::sort(diff.begin(), diff.end(),
              [](const EcmpGroup& a, const EcmpGroup& b) { return a.switch_id < b.switch_id; });
    update.changed.insert(update.changed.end(), diff.begin(), diff.end());
    old = std::move(fresh);
  }
  return update;
}

}  // namespace pulse::controller
