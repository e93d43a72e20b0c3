#include "topology/diff.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace pulse::topology {
namespace {

using End = std::pair<uint64_t, uint32_t>;  // (dpid, port)

ObservedLink Canonical(const ObservedLink& l) {
  if (std::tie(l.dpid_a, l.port_a) <= std::tie(l.dpid_b, l.port_b)) return l;
  return ObservedLink{l.dpid_b, l.port_b, l.dpid_a, l.port_a};
}

bool Less(const ObservedLink& x, const ObservedLink& y) {
  return std::tie(x.dpid_a, x.port_a, x.dpid_b, x.port_b) <
         std::tie(y.dpid_a, y.port_a, y.dpid_b, y.port_b);
}

std::string DescribeEnd(const Fabric& fabric, uint64_t dpid, uint32_t port) {
  if (std::optional<NodeId> node = fabric.FindByDatapathId(dpid)) {
    return absl::StrCat(fabric.node(*node).name, ":", port);
  }
  return absl::StrFormat("dpid 0x%016x:%u", dpid, port);
}

}  // namespace

std::vector<ObservedLink> ExpectedSwitchLinks(const Fabric& fabric) {
  std::vector<ObservedLink> out;
  for (const Link& l : fabric.links()) {
    const Node& a = fabric.node(l.a.node);
    const Node& b = fabric.node(l.b.node);
    if (!a.is_switch() || !b.is_switch()) continue;
    out.push_back(ObservedLink{a.datapath_id, static_cast<uint32_t>(l.a.port), b.datapath_id,
                               static_cast<uint32_t>(l.b.port)});
  }
  return out;
}

FabricDiff DiffLinks(const Fabric& intent, const std::vector<ObservedLink>& observed) {
  // Every port that the intent cables to another switch, and the link plugged into it.
  absl::flat_hash_map<End, LinkId> link_at;
  for (LinkId id = 0; id < static_cast<LinkId>(intent.links().size()); ++id) {
    const Link& l = intent.link(id);
    const Node& a = intent.node(l.a.node);
    const Node& b = intent.node(l.b.node);
    if (!a.is_switch() || !b.is_switch()) continue;
    link_at[End{a.datapath_id, static_cast<uint32_t>(l.a.port)}] = id;
    link_at[End{b.datapath_id, static_cast<uint32_t>(l.b.port)}] = id;
  }

  std::vector<ObservedLink> seen;
  seen.reserve(observed.size());
  for (const ObservedLink& l : observed) seen.push_back(Canonical(l));
  std::sort(seen.begin(), seen.end(), Less);
  seen.erase(std::unique(seen.begin(), seen.end()), seen.end());

  FabricDiff diff;
  std::vector<bool> accounted(intent.links().size(), false);
  for (const ObservedLink& l : seen) {
    auto ia = link_at.find(End{l.dpid_a, l.port_a});
    auto ib = link_at.find(End{l.dpid_b, l.port_b});
    const bool same_port = l.dpid_a == l.dpid_b && l.port_a == l.port_b;
    if (ia != link_at.end() && ib != link_at.end() && ia->second == ib->second && !same_port) {
      accounted[ia->second] = true;
      continue;
    }
    if (ia == link_at.end() && ib == link_at.end()) {
      diff.unexpected.push_back(l);
      continue;
    }
    MiswiredLink m;
    m.actual = l;
    if (ia != link_at.end()) m.expected.push_back(ia->second);
    if (ib != link_at.end() && (ia == link_at.end() || ib->second != ia->second)) {
      m.expected.push_back(ib->second);
    }
    for (LinkId id : m.expected) accounted[id] = true;
    diff.miswired.push_back(std::move(m));
  }
  for (const auto& [end, id] : link_at) {
    (void)end;
    if (!accounted[id]) {
      accounted[id] = true;  // each link has two ends in the map; report it once
      diff.missing.push_back(id);
    }
  }
  std::sort(diff.missing.begin(), diff.missing.end());
  return diff;
}

std::string DescribeDiff(const Fabric& intent, const FabricDiff& diff) {
  if (diff.empty()) return "no differences";
  std::vector<std::string> lines;
  for (LinkId id : diff.missing) {
    lines.push_back(absl::StrCat("missing: ", intent.DescribeLink(id)));
  }
  for (const MiswiredLink& m : diff.miswired) {
    // Name the end that sits in an intended port first: that is where the operator starts.
    const Link& first = intent.link(m.expected.front());
    const Node& fa = intent.node(first.a.node);
    const Node& fb = intent.node(first.b.node);
    auto on_first = [&](uint64_t dpid, uint32_t port) {
      return (dpid == fa.datapath_id && port == static_cast<uint32_t>(first.a.port)) ||
             (dpid == fb.datapath_id && port == static_cast<uint32_t>(first.b.port));
    };
    const ObservedLink& l = m.actual;
    const bool a_right = on_first(l.dpid_a, l.port_a);
    std::string right =
        a_right ? DescribeEnd(intent, l.dpid_a, l.port_a) : DescribeEnd(intent, l.dpid_b, l.port_b);
    std::string wrong =
        a_right ? DescribeEnd(intent, l.dpid_b, l.port_b) : DescribeEnd(intent, l.dpid_a, l.port_a);
    std::vector<std::string> expected;
    for (LinkId id : m.expected) expected.push_back(intent.DescribeLink(id));
    lines.push_back(absl::StrCat("miswired: ", right, " is cabled to ", wrong,
                                 "; intent: ", absl::StrJoin(expected, " and ")));
  }
  for (const ObservedLink& l : diff.unexpected) {
    lines.push_back(absl::StrCat("unexpected: ", DescribeEnd(intent, l.dpid_a, l.port_a), " <-> ",
                                 DescribeEnd(intent, l.dpid_b, l.port_b)));
  }
  return absl::StrJoin(lines, "\n");
}

}  // namespace pulse::topology
