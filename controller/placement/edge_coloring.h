// Proper edge colouring of bipartite multigraphs (Koenig's theorem).
//
// A bipartite multigraph whose maximum degree is D can always have its edges coloured with D
// colours so that no two edges at one vertex share a colour. Placement uses this to put a
// permutation of equal-rate flows on a non-blocking Clos at exactly line rate: vertices are the
// source and destination leaves, edges the flows between them, colours the spines.
#ifndef PULSE_CONTROLLER_PLACEMENT_EDGE_COLORING_H_
#define PULSE_CONTROLLER_PLACEMENT_EDGE_COLORING_H_

#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace pulse::controller {

// An edge from left vertex `first` to right vertex `second`.
using BipartiteEdge = std::pair<int, int>;

// Colours every edge with a colour in [0, num_colours) so that edges sharing a left or a right
// vertex get different colours; result[i] is the colour of edges[i]. Edges are coloured one by
// one; when the endpoints have no common free colour, an alternating (Kempe) path is flipped,
// O(E * (V + num_colours)) in all. Errors: InvalidArgument for a vertex out of range, a negative
// size, or a vertex whose degree exceeds num_colours (naming the vertex and its degree).
absl::StatusOr<std::vector<int>> ColourBipartiteEdges(int num_left, int num_right,
                                                      const std::vector<BipartiteEdge>& edges,
                                                      int num_colours);

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_PLACEMENT_EDGE_COLORING_H_
