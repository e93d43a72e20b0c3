#include "controller/placement/lossless_graph.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "controller/placement/job_validation.h"

namespace pulse::controller {

LosslessGraph::LosslessGraph(const Fabric& fabric)
    : fabric_(&fabric), num_directed_(fabric.num_directed_links()), rank_(num_directed_, -1) {
  int max_level = 0;
  for (const auto& node : fabric.nodes()) max_level = std::max(max_level, node.level);
  for (DirectedLinkId d = 0; d < fabric.num_directed_links(); ++d) {
    const int tail = fabric.node(fabric.Tail(d)).level;
    const int head = fabric.node(fabric.Head(d)).level;
    if (head > tail) rank_[d] = head;                      // up: 1 .. max_level
    if (head < tail) rank_[d] = 2 * max_level + 1 - head;  // down: above every up channel
  }
}

std::vector<int>& LosslessGraph::Out(int index) {
  std::vector<std::vector<int>>& lists = out_[index / num_directed_];
  if (lists.empty()) lists.resize(num_directed_);
  return lists[index % num_directed_];
}

std::vector<int>& LosslessGraph::Uses(int index) {
  std::vector<std::vector<int>>& lists = uses_[index / num_directed_];
  if (lists.empty()) lists.resize(num_directed_);
  return lists[index % num_directed_];
}

bool LosslessGraph::Climbs(int from, int to) const {
  const int a = rank_[from % num_directed_], b = rank_[to % num_directed_];
  return a >= 0 && b >= 0 && b > a;
}

absl::Status LosslessGraph::Validate(const Path& path, int priority) const {
  if (priority < kMinTrafficClass || priority > kMaxTrafficClass) {
    return absl::InvalidArgumentError(absl::StrCat("lossless graph: priority ", priority,
                                                   " is not in ", kMinTrafficClass, "..",
                                                   kMaxTrafficClass));
  }
  const int num_directed = fabric_->num_directed_links();
  for (size_t i = 0; i < path.hops.size(); ++i) {
    if (path.hops[i] < 0 || path.hops[i] >= num_directed) {
      return absl::InvalidArgumentError(
          absl::StrCat("lossless graph: path hop ", i, " (", path.hops[i], ") is not a channel"));
    }
    if (i > 0 && fabric_->Head(path.hops[i - 1]) != fabric_->Tail(path.hops[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "lossless graph: path hops ", i - 1, " (", fabric_->DescribeDirected(path.hops[i - 1]),
          ") and ", i, " (", fabric_->DescribeDirected(path.hops[i]), ") do not connect"));
    }
  }
  return absl::OkStatus();
}

void LosslessGraph::EdgesOf(const Path& path, int priority,
                            std::vector<std::pair<int, int>>& out) const {
  out.clear();
  for (size_t i = 0; i + 1 < path.hops.size(); ++i) {
    // Only a switch has a buffer that waits for the next hop; a NIC in the middle terminates.
    if (!fabric_->node(fabric_->Head(path.hops[i])).is_switch()) continue;
    out.emplace_back(Index(path.hops[i], priority), Index(path.hops[i + 1], priority));
  }
}

void LosslessGraph::Acquire(const std::vector<std::pair<int, int>>& edges,
                            std::vector<std::pair<int, int>>& added) {
  added.clear();
  for (const auto& [from, to] : edges) {
    std::vector<int>& adj = Out(from);
    std::vector<int>& uses = Uses(from);
    const auto at = std::find(adj.begin(), adj.end(), to);
    if (at != adj.end()) {
      ++uses[at - adj.begin()];
      continue;
    }
    if (adj.capacity() == 0) {  // skips the 1-2-4 growth steps of most lists
      adj.reserve(8);
      uses.reserve(8);
    }
    adj.push_back(to);
    uses.push_back(1);
    ++num_edges_;
    if (!Climbs(from, to)) ++bounce_edges_;
    added.emplace_back(from, to);
  }
}

void LosslessGraph::Release(const std::vector<std::pair<int, int>>& edges) {
  for (const auto& [from, to] : edges) {
    std::vector<int>& adj = Out(from);
    std::vector<int>& uses = Uses(from);
    const auto at = std::find(adj.begin(), adj.end(), to);
    if (at == adj.end()) continue;
    const size_t k = at - adj.begin();
    if (--uses[k] > 0) continue;
    adj[k] = adj.back();
    adj.pop_back();
    uses[k] = uses.back();
    uses.pop_back();
    --num_edges_;
    if (!Climbs(from, to)) --bounce_edges_;
  }
}

std::vector<BufferNode> LosslessGraph::FindCycleThrough(
    const std::vector<std::pair<int, int>>& new_edges) {
  // The graph was acyclic before these edges, so a cycle uses one of them; and a cycle needs an
  // edge that does not climb in rank.
  if (bounce_edges_ == 0) return {};
  if (visited_.empty()) {
    visited_.assign(static_cast<size_t>(num_directed_) * 8, 0);
    parent_.assign(visited_.size(), -1);
  }
  std::vector<int> stack;
  for (const auto& [from, to] : new_edges) {
    if (from == to) return {NodeOf(from)};
    // Is `from` reachable from `to`? Then to -> ... -> from -> to is a cycle.
    if (++stamp_ == 0) {
      std::fill(visited_.begin(), visited_.end(), 0);
      stamp_ = 1;
    }
    stack.assign(1, to);
    visited_[to] = stamp_;
    parent_[to] = -1;
    bool found = false;
    while (!stack.empty() && !found) {
      const int v = stack.back();
      stack.pop_back();
      for (int w : Out(v)) {
        if (visited_[w] == stamp_) continue;
        visited_[w] = stamp_;
        parent_[w] = v;
        if (w == from) {
          found = true;
          break;
        }
        stack.push_back(w);
      }
    }
    if (!found) continue;
    std::vector<BufferNode> cycle;
    for (int x = from; x != -1; x = parent_[x]) cycle.push_back(NodeOf(x));
    std::reverse(cycle.begin(), cycle.end());  // to ... from; from waits for `to`
    // Start the cycle at the new edge's tail so the description reads from the change.
    std::rotate(cycle.begin(), cycle.end() - 1, cycle.end());
    return cycle;
  }
  return {};
}

absl::Status LosslessGraph::AddPath(const Path& path, int priority) {
  if (absl::Status s = Validate(path, priority); !s.ok()) return s;
  EdgesOf(path, priority, edges_scratch_);
  Acquire(edges_scratch_, added_scratch_);
  std::vector<BufferNode> cycle = FindCycleThrough(added_scratch_);
  if (cycle.empty()) return absl::OkStatus();
  Release(edges_scratch_);
  return absl::FailedPreconditionError(absl::StrCat(
      "PFC deadlock: the path would close a cyclic buffer dependency: ", DescribeCycle(cycle)));
}

void LosslessGraph::RemovePath(const Path& path, int priority) {
  if (!Validate(path, priority).ok()) return;
  EdgesOf(path, priority, edges_scratch_);
  Release(edges_scratch_);
}

std::vector<BufferNode> LosslessGraph::CycleIfAdded(const Path& path, int priority) {
  if (!Validate(path, priority).ok()) return {};
  EdgesOf(path, priority, edges_scratch_);
  Acquire(edges_scratch_, added_scratch_);
  std::vector<BufferNode> cycle = FindCycleThrough(added_scratch_);
  Release(edges_scratch_);
  return cycle;
}

std::string LosslessGraph::DescribeCycle(const std::vector<BufferNode>& cycle) const {
  std::string out;
  for (size_t i = 0; i < cycle.size(); ++i) {
    absl::StrAppend(&out, i == 0 ? "" : " => ", "[prio ", cycle[i].priority, "] ",
                    fabric_->DescribeDirected(cycle[i].link));
  }
  if (!cycle.empty()) absl::StrAppend(&out, " => (back to the first)");
  return out;
}

}  // namespace pulse::controller
