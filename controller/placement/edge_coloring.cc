#include "controller/placement/edge_coloring.h"

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace pulse::controller {

absl::StatusOr<std::vector<int>> ColourBipartiteEdges(int num_left, int num_right,
                                                      const std::vector<BipartiteEdge>& edges,
                                                      int num_colours) {
  if (num_left < 0 || num_right < 0 || num_colours < 0) {
    return absl::InvalidArgumentError(absl::StrCat("edge colouring: negative size (left ", num_left,
                                                   ", right ", num_right, ", colours ", num_colours,
                                                   ")"));
  }
  std::vector<int> left_degree(num_left, 0), right_degree(num_right, 0);
  for (size_t i = 0; i < edges.size(); ++i) {
    const auto& [u, v] = edges[i];
    if (u < 0 || u >= num_left || v < 0 || v >= num_right) {
      return absl::InvalidArgumentError(absl::StrCat("edge colouring: edge ", i, " (", u, ", ", v,
                                                     ") has a vertex out of range"));
    }
    if (++left_degree[u] > num_colours) {
      return absl::InvalidArgumentError(absl::StrCat(
          "edge colouring: left vertex ", u, " has degree above ", num_colours, " colours"));
    }
    if (++right_degree[v] > num_colours) {
      return absl::InvalidArgumentError(absl::StrCat(
          "edge colouring: right vertex ", v, " has degree above ", num_colours, " colours"));
    }
  }
  // Vertices in one index space: left u is u, right v is num_left + v. at[x * C + c] is the edge
  // of colour c at vertex x, or -1.
  const int64_t c_count = num_colours;
  std::vector<int> at(static_cast<size_t>(num_left + num_right) * c_count, -1);
  std::vector<int> colour(edges.size(), -1);
  auto slot = [&](int x, int c) -> int& { return at[static_cast<size_t>(x) * c_count + c]; };
  auto free_colour = [&](int x) {
    for (int c = 0; c < num_colours; ++c) {
      if (slot(x, c) < 0) return c;
    }
    return -1;  // unreachable: degrees were checked
  };
  auto other_end = [&](int e, int x) {
    int u = edges[e].first, v = num_left + edges[e].second;
    return x == u ? v : u;
  };
  std::vector<int> chain;
  for (size_t i = 0; i < edges.size(); ++i) {
    const int u = edges[i].first;
    const int v = num_left + edges[i].second;
    const int a = free_colour(u);
    if (slot(v, a) >= 0) {
      // a is taken at v. With b free at v, flip the a/b path that starts at v along a; in a
      // bipartite graph it cannot end at u (u misses a), so afterwards a is free at both.
      const int b = free_colour(v);
      chain.clear();
      int x = v;
      int want = a;
      while (true) {
        int e = slot(x, want);
        if (e < 0) break;
        chain.push_back(e);
        x = other_end(e, x);
        want = (want == a) ? b : a;
      }
      for (int e : chain) {
        int p = edges[e].first, q = num_left + edges[e].second;
        slot(p, colour[e]) = -1;
        slot(q, colour[e]) = -1;
      }
      for (int e : chain) {
        colour[e] = (colour[e] == a) ? b : a;
        int p = edges[e].first, q = num_left + edges[e].second;
        slot(p, colour[e]) = e;
        slot(q, colour[e]) = e;
      }
    }
    colour[i] = a;
    slot(u, a) = static_cast<int>(i);
    slot(v, a) = static_cast<int>(i);
  }
  return colour;
}

}  // namespace pulse::controller
