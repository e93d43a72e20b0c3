#include "controller/placement/collectives.h"

#include <cmath>
#include <functional>
#include <map>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace pulse::controller {
namespace {

using topology::Fabric;
using topology::NodeId;

struct PatternName {
  CollectivePattern pattern;
  absl::string_view name;
};
constexpr PatternName kPatternNames[] = {
    {CollectivePattern::kExplicit, "explicit"},
    {CollectivePattern::kRing, "ring"},
    {CollectivePattern::kDoubleBinaryTree, "double-binary-tree"},
    {CollectivePattern::kAllToAll, "all-to-all"},
    {CollectivePattern::kHalvingDoubling, "halving-doubling"},
    {CollectivePattern::kRailAligned, "rail-aligned"},
};

// Adds demands for rank pairs, skipping pairs on one server (NVLink). `share` divides the
// sender's rate.
class DemandSink {
 public:
  DemandSink(const Fabric& fabric, const std::vector<NodeId>& nics, double rate_bps)
      : fabric_(fabric), nics_(nics), rate_bps_(rate_bps) {}

  void Add(size_t from_rank, size_t to_rank, int phase, double share) {
    NodeId src = nics_[from_rank], dst = nics_[to_rank];
    if (src == dst || fabric_.node(src).server == fabric_.node(dst).server) return;
    double rate = rate_bps_ > 0 ? rate_bps_ : NicLineRateBps(fabric_, src);
    out_.push_back(FlowDemand{src, dst, rate / share, phase});
  }
  std::vector<FlowDemand> Take() { return std::move(out_); }
  void Reserve(size_t count) { out_.reserve(count); }

 private:
  const Fabric& fabric_;
  const std::vector<NodeId>& nics_;
  double rate_bps_;
  std::vector<FlowDemand> out_;
};

// The binary tree NCCL-style double trees start from: rank r > 0 hangs under r with its lowest
// set bit moved up one place (or cleared, when that rank does not exist). Odd ranks are leaves,
// even ranks internal, so the mirrored copy (n - 1 - r) swaps the roles for even n. Returns the
// parent of each rank (-1 for the root, rank 0).
std::vector<int> BitTreeParents(int n) {
  std::vector<int> parents(n, -1);
  for (int r = 1; r < n; ++r) {
    int bit = r & -r;
    int up = (r ^ bit) | (bit << 1);
    if (up >= n) up = r ^ bit;
    parents[r] = up;
  }
  return parents;
}

}  // namespace

absl::StatusOr<CollectivePattern> ParseCollectivePattern(absl::string_view name) {
  std::string lower = absl::AsciiStrToLower(name);
  for (const auto& entry : kPatternNames) {
    if (lower == entry.name) return entry.pattern;
  }
  // Common spellings.
  if (lower == "alltoall" || lower == "all_to_all") return CollectivePattern::kAllToAll;
  if (lower == "tree" || lower == "double_binary_tree") return CollectivePattern::kDoubleBinaryTree;
  if (lower == "halving_doubling" || lower == "hd") return CollectivePattern::kHalvingDoubling;
  if (lower == "rail" || lower == "rail_aligned" || lower == "hierarchical") {
    return CollectivePattern::kRailAligned;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown collective pattern '", name,
      "' (expected explicit, ring, double-binary-tree, all-to-all, halving-doubling or "
      "rail-aligned)"));
}

absl::string_view CollectivePatternName(CollectivePattern pattern) {
  for (const auto& entry : kPatternNames) {
    if (entry.pattern == pattern) return entry.name;
  }
  return "unknown";
}

double NicLineRateBps(const Fabric& fabric, NodeId nic) {
  double total = 0;
  for (topology::LinkId l : fabric.LinksOf(nic)) total += fabric.link(l).capacity_bps;
  return total;
}

absl::StatusOr<std::vector<FlowDemand>> CollectiveFlows(const Fabric& fabric,
                                                        CollectivePattern pattern,
                                                        const std::vector<NodeId>& endpoints,
                                                        double rate_bps) {
  if (pattern == CollectivePattern::kExplicit) {
    return absl::InvalidArgumentError(
        "explicit pattern: flows are given by name; use the job's explicit flow list");
  }
  if (!std::isfinite(rate_bps) || rate_bps < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("collective rate must be >= 0 bps (0: line rate), got ", rate_bps));
  }
  const int node_count = static_cast<int>(fabric.nodes().size());
  for (size_t i = 0; i < endpoints.size(); ++i) {
    NodeId e = endpoints[i];
    if (e < 0 || e >= node_count || !fabric.node(e).is_nic()) {
      return absl::InvalidArgumentError(absl::StrCat("rank ", i, ": node ", e, " is not a NIC"));
    }
    if (NicLineRateBps(fabric, e) <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("rank ", i, ": NIC '", fabric.node(e).name, "' has no link capacity"));
    }
  }
  const size_t n = endpoints.size();
  DemandSink sink(fabric, endpoints, rate_bps);
  if (n < 2) return sink.Take();

  switch (pattern) {
    case CollectivePattern::kExplicit:
      break;
    case CollectivePattern::kRing:
      sink.Reserve(2 * n);
      for (size_t i = 0; i < n; ++i) {
        sink.Add(i, (i + 1) % n, 0, 2);
        sink.Add(i, (i + n - 1) % n, 1, 2);
      }
      break;
    case CollectivePattern::kDoubleBinaryTree: {
      const int count = static_cast<int>(n);
      std::vector<int> parents = BitTreeParents(count);
      for (int tree = 0; tree < 2; ++tree) {
        // Tree 1 is tree 0 mirrored (even n) or shifted by one rank (odd n, as NCCL does), so
        // most ranks that are leaves in one tree are internal in the other (all, for even n).
        auto rank_at = [&](int pos) -> size_t {
          if (tree == 0) return pos;
          return count % 2 == 0 ? count - 1 - pos : (pos + 1) % count;
        };
        for (int pos = 1; pos < count; ++pos) {
          size_t child = rank_at(pos), parent = rank_at(parents[pos]);
          int side = pos < parents[pos] ? 0 : 1;  // a parent has one child on each side
          sink.Add(child, parent, tree * 4 + 0 * 2 + side, 4);  // reduce: up
          sink.Add(parent, child, tree * 4 + 1 * 2 + side, 4);  // broadcast: down
        }
      }
      break;
    }
    case CollectivePattern::kAllToAll:
      sink.Reserve(n * (n - 1));
      for (size_t k = 1; k < n; ++k) {
        for (size_t i = 0; i < n; ++i) {
          sink.Add(i, (i + k) % n, static_cast<int>(k - 1), static_cast<double>(n - 1));
        }
      }
      break;
    case CollectivePattern::kHalvingDoubling: {
      if ((n & (n - 1)) != 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("halving-doubling needs a power-of-two number of ranks, got ", n,
                         " (use ring or double-binary-tree, or pad the job)"));
      }
      int steps = 0;
      while ((size_t{1} << steps) < n) ++steps;
      sink.Reserve(n * static_cast<size_t>(steps));
      for (int k = 0; k < steps; ++k) {
        for (size_t i = 0; i < n; ++i) sink.Add(i, i ^ (size_t{1} << k), k, steps);
      }
      break;
    }
    case CollectivePattern::kRailAligned: {
      // rail -> the ranks (one per server, first seen) on that rail.
      std::map<int, std::vector<size_t>> rails;
      absl::flat_hash_map<NodeId, bool> seen;
      for (size_t i = 0; i < n; ++i) {
        if (!seen.emplace(endpoints[i], true).second) continue;
        rails[fabric.node(endpoints[i]).rail].push_back(i);
      }
      for (const auto& [rail, ranks] : rails) {
        const size_t m = ranks.size();
        if (m < 2) continue;
        for (size_t j = 0; j < m; ++j) {
          sink.Add(ranks[j], ranks[(j + 1) % m], 0, 2);
          sink.Add(ranks[j], ranks[(j + m - 1) % m], 1, 2);
        }
      }
      break;
    }
  }
  return sink.Take();
}

}  // namespace pulse::controller
