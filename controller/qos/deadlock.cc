#include "controller/qos/deadlock.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace pulse::controller {

BufferDependencyGraph::BufferDependencyGraph(const Fabric& fabric)
    : fabric_(&fabric), out_(static_cast<size_t>(fabric.num_directed_links()) * 8) {}

absl::Status BufferDependencyGraph::AddPath(const Path& path, int priority) {
  if (priority < 0 || priority > 7) {
    return absl::InvalidArgumentError(
        absl::StrCat("deadlock: priority ", priority, " is not in 0..7"));
  }
  const int num_directed = fabric_->num_directed_links();
  for (size_t i = 0; i < path.hops.size(); ++i) {
    if (path.hops[i] < 0 || path.hops[i] >= num_directed) {
      return absl::InvalidArgumentError(
          absl::StrCat("deadlock: path hop ", i, " (", path.hops[i], ") is not a channel"));
    }
    if (i > 0 && fabric_->Head(path.hops[i - 1]) != fabric_->Tail(path.hops[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "deadlock: path hops ", i - 1, " (", fabric_->DescribeDirected(path.hops[i - 1]),
          ") and ", i, " (", fabric_->DescribeDirected(path.hops[i]), ") do not connect"));
    }
  }
  for (size_t i = 0; i + 1 < path.hops.size(); ++i) {
    if (!fabric_->node(fabric_->Head(path.hops[i])).is_switch()) continue;
    const int from = Index(path.hops[i], priority);
    const int to = Index(path.hops[i + 1], priority);
    if (edge_set_.insert({from, to}).second) out_[from].push_back(to);
  }
  return absl::OkStatus();
}

std::optional<std::vector<BufferNode>> BufferDependencyGraph::FindCycle() const {
  const int n = static_cast<int>(out_.size());
  enum Color : uint8_t { kWhite, kGrey, kBlack };
  std::vector<uint8_t> color(n, kWhite);
  std::vector<int> parent(n, -1);
  // Explicit stack of (node, next edge index) so deep graphs cannot overflow the call stack.
  std::vector<std::pair<int, size_t>> stack;
  for (int root = 0; root < n; ++root) {
    if (color[root] != kWhite || out_[root].empty()) continue;
    stack.push_back({root, 0});
    color[root] = kGrey;
    while (!stack.empty()) {
      auto& [v, next] = stack.back();
      if (next < out_[v].size()) {
        const int w = out_[v][next++];
        if (color[w] == kWhite) {
          color[w] = kGrey;
          parent[w] = v;
          stack.push_back({w, 0});
        } else if (color[w] == kGrey) {
          // Back edge v -> w: the cycle is w -> ... -> v along the DFS tree.
          std::vector<BufferNode> cycle;
          for (int x = v; x != w; x = parent[x]) cycle.push_back({x / 8, x % 8});
          cycle.push_back({w / 8, w % 8});
          std::reverse(cycle.begin(), cycle.end());
          return cycle;
        }
      } else {
        color[v] = kBlack;
        stack.pop_back();
      }
    }
  }
  return std::nullopt;
}

std::string BufferDependencyGraph::DescribeCycle(const std::vector<BufferNode>& cycle) const {
  std::string out;
  for (size_t i = 0; i < cycle.size(); ++i) {
    absl::StrAppend(&out, i == 0 ? "" : " => ", "[prio ", cycle[i].priority, "] ",
                    fabric_->DescribeDirected(cycle[i].link));
  }
  if (!cycle.empty()) absl::StrAppend(&out, " => (back to the first)");
  return out;
}

namespace {

absl::StatusOr<DeadlockReport> CheckGraph(const Fabric& fabric,
                                          const std::vector<const Path*>& paths,
                                          const std::vector<int>& priorities) {
  BufferDependencyGraph graph(fabric);
  for (const Path* path : paths) {
    for (int p : priorities) {
      if (absl::Status s = graph.AddPath(*path, p); !s.ok()) return s;
    }
  }
  DeadlockReport report;
  if (std::optional<std::vector<BufferNode>> cycle = graph.FindCycle()) {
    report.deadlock_free = false;
    report.description = absl::StrCat("cyclic buffer dependency: ", graph.DescribeCycle(*cycle));
    report.cycle = std::move(*cycle);
  }
  return report;
}

}  // namespace

absl::StatusOr<DeadlockReport> CheckPaths(const Fabric& fabric, const std::vector<Path>& paths,
                                          const std::vector<int>& priorities) {
  std::vector<const Path*> ptrs;
  ptrs.reserve(paths.size());
  for (const Path& p : paths) ptrs.push_back(&p);
  return CheckGraph(fabric, ptrs, priorities);
}

Rerouter UpDownRerouter() {
  return [](const Fabric& fabric, const LinkStatus& status, NodeId src, NodeId dst) {
    return UpDownPaths(fabric, status, src, dst);
  };
}

absl::StatusOr<DeadlockReport> CheckWithSingleLinkFailures(const Fabric& fabric,
                                                           const std::vector<LosslessFlow>& flows,
                                                           const std::vector<int>& priorities,
                                                           const Rerouter& reroute) {
  // Which flows cross each link, so each failure only reroutes the flows it touches.
  std::vector<std::vector<size_t>> flows_on_link(fabric.links().size());
  for (size_t f = 0; f < flows.size(); ++f) {
    for (const Path& path : flows[f].paths) {
      for (DirectedLinkId d : path.hops) {
        if (d < 0 || d >= fabric.num_directed_links()) {
          return absl::InvalidArgumentError(
              absl::StrCat("deadlock: flow ", f, " has hop ", d, " that is not a channel"));
        }
        std::vector<size_t>& on = flows_on_link[Fabric::LinkOf(d)];
        if (on.empty() || on.back() != f) on.push_back(f);
      }
    }
  }
  for (LinkId failed = 0; failed < static_cast<LinkId>(fabric.links().size()); ++failed) {
    LinkStatus status(fabric);
    status.SetUp(failed, false);
    std::vector<bool> affected(flows.size(), false);
    for (size_t f : flows_on_link[failed]) affected[f] = true;
    std::vector<std::vector<Path>> rerouted;
    rerouted.reserve(flows_on_link[failed].size());
    std::vector<const Path*> paths;
    for (size_t f = 0; f < flows.size(); ++f) {
      if (!affected[f]) {
        for (const Path& p : flows[f].paths) paths.push_back(&p);
        continue;
      }
      absl::StatusOr<std::vector<Path>> r = reroute(fabric, status, flows[f].src, flows[f].dst);
      if (!r.ok()) continue;  // disconnected by this failure: nothing lossless to carry
      rerouted.push_back(std::move(*r));
    }
    for (const std::vector<Path>& r : rerouted) {
      for (const Path& p : r) paths.push_back(&p);
    }
    absl::StatusOr<DeadlockReport> report = CheckGraph(fabric, paths, priorities);
    if (!report.ok()) return report.status();
    if (!report->deadlock_free) {
      report->failed_link = failed;
      report->description =
          absl::StrCat("after failure of ", fabric.DescribeLink(failed), ": ", report->description);
      return report;
    }
  }
  return DeadlockReport{};
}

}  // namespace pulse::controller
