#include "controller/placement/edge_coloring.h"

#include <random>

#include <gtest/gtest.h>

namespace pulse::controller {
namespace {

// Checks colours are in range and no vertex sees a colour twice.
void ExpectProper(int left, int right, const std::vector<BipartiteEdge>& edges,
                  const std::vector<int>& colours, int num_colours) {
  ASSERT_EQ(colours.size(), edges.size());
  std::vector<std::vector<int>> left_seen(left, std::vector<int>(num_colours, 0));
  std::vector<std::vector<int>> right_seen(right, std::vector<int>(num_colours, 0));
  for (size_t i = 0; i < edges.size(); ++i) {
    ASSERT_GE(colours[i], 0);
    ASSERT_LT(colours[i], num_colours);
    EXPECT_EQ(++left_seen[edges[i].first][colours[i]], 1) << "left " << edges[i].first;
    EXPECT_EQ(++right_seen[edges[i].second][colours[i]], 1) << "right " << edges[i].second;
  }
}

TEST(EdgeColouringTest, RegularMultigraphsUseExactlyMaxDegreeColours) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 500; ++trial) {
    const int n = 1 + rng() % 20;
    const int degree = 1 + rng() % 12;
    // Union of `degree` random perfect matchings: degree-regular, with parallel edges.
    std::vector<BipartiteEdge> edges;
    std::vector<int> perm(n);
    for (int d = 0; d < degree; ++d) {
      for (int i = 0; i < n; ++i) perm[i] = i;
      std::shuffle(perm.begin(), perm.end(), rng);
      for (int i = 0; i < n; ++i) edges.emplace_back(i, perm[i]);
    }
    std::shuffle(edges.begin(), edges.end(), rng);
    auto colours = ColourBipartiteEdges(n, n, edges, degree);
    ASSERT_TRUE(colours.ok()) << colours.status();
    ExpectProper(n, n, edges, *colours, degree);
  }
}

TEST(EdgeColouringTest, UnbalancedSidesAndParallelEdges) {
  std::vector<BipartiteEdge> edges = {{0, 0}, {0, 0}, {0, 1}, {1, 0}, {2, 1}, {2, 1}};
  auto colours = ColourBipartiteEdges(3, 2, edges, 3);
  ASSERT_TRUE(colours.ok());
  ExpectProper(3, 2, edges, *colours, 3);
}

TEST(EdgeColouringTest, EmptyGraph) {
  auto colours = ColourBipartiteEdges(0, 0, {}, 0);
  ASSERT_TRUE(colours.ok());
  EXPECT_TRUE(colours->empty());
}

TEST(EdgeColouringTest, DegreeAboveColoursIsAnError) {
  auto colours = ColourBipartiteEdges(2, 2, {{0, 0}, {0, 1}, {1, 1}}, 1);
  ASSERT_FALSE(colours.ok());
  EXPECT_EQ(colours.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(colours.status().message().find("degree"), absl::string_view::npos);
}

TEST(EdgeColouringTest, VertexOutOfRangeIsAnError) {
  EXPECT_FALSE(ColourBipartiteEdges(2, 2, {{0, 2}}, 2).ok());
  EXPECT_FALSE(ColourBipartiteEdges(2, 2, {{-1, 0}}, 2).ok());
  EXPECT_FALSE(ColourBipartiteEdges(-1, 2, {}, 2).ok());
}

}  // namespace
}  // namespace pulse::controller
