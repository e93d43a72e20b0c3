#include "controller/placement/exact_placement.h"

#include <glpk.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"

namespace pulse::controller {

namespace {

// Max utilisation over the channels of the chosen paths and of every candidate path (the MIP's
// objective), from scratch.
double MaxUtilisation(const topology::Fabric& fabric, const std::vector<FlowDemand>& demands,
                      const std::vector<std::vector<Path>>& paths,
                      const std::vector<double>& background_bps, const std::vector<int>& choice) {
  std::vector<double> load = background_bps;
  std::vector<char> candidate(load.size(), 0);
  for (size_t f = 0; f < demands.size(); ++f) {
    for (const Path& p : paths[f]) {
      for (DirectedLinkId d : p.hops) candidate[d] = 1;
    }
    for (DirectedLinkId d : paths[f][choice[f]].hops) load[d] += demands[f].rate_bps;
  }
  double max = 0;
  for (size_t d = 0; d < load.size(); ++d) {
    if (!candidate[d]) continue;
    const double cap = static_cast<double>(
        fabric.link(topology::Fabric::LinkOf(static_cast<int>(d))).capacity_bps);
    max = std::max(max, cap > 0 ? load[d] / cap : (load[d] > 0 ? INFINITY : 0));
  }
  return max;
}

}  // namespace

absl::StatusOr<ExactPlacement> SolveExactPlacement(const topology::Fabric& fabric,
                                                   const std::vector<FlowDemand>& demands,
                                                   const std::vector<std::vector<Path>>& paths,
                                                   const std::vector<double>& background_bps,
                                                   const ExactPlacementOptions& options) {
  if (paths.size() != demands.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("paths: ", paths.size(), " path sets for ", demands.size(), " flows"));
  }
  if (background_bps.size() != static_cast<size_t>(fabric.num_directed_links())) {
    return absl::InvalidArgumentError(absl::StrCat("background: ", background_bps.size(),
                                                   " loads for ", fabric.num_directed_links(),
                                                   " channels"));
  }
  if (!options.start.empty() && options.start.size() != demands.size()) {
    return absl::InvalidArgumentError("start: one path index per flow expected");
  }
  for (size_t f = 0; f < demands.size(); ++f) {
    if (paths[f].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("flow ", f, ": no candidate path"));
    }
    if (!options.start.empty() &&
        (options.start[f] < 0 || options.start[f] >= static_cast<int>(paths[f].size()))) {
      return absl::InvalidArgumentError(
          absl::StrCat("start: flow ", f, " has no path ", options.start[f]));
    }
  }
  ExactPlacement out;
  if (demands.empty()) return out;

  std::unique_ptr<glp_prob, void (*)(glp_prob*)> lp(glp_create_prob(), glp_delete_prob);
  glp_set_obj_dir(lp.get(), GLP_MIN);
  // Columns: x[f][p] (binary) then z.
  std::vector<int> first_col(demands.size());
  int columns = 0;
  for (size_t f = 0; f < demands.size(); ++f) {
    first_col[f] = columns + 1;
    columns += static_cast<int>(paths[f].size());
  }
  ++columns;  // z
  const int z = columns;
  glp_add_cols(lp.get(), columns);
  for (int c = 1; c < z; ++c) glp_set_col_kind(lp.get(), c, GLP_BV);
  glp_set_col_bnds(lp.get(), z, GLP_LO, 0, 0);
  glp_set_obj_coef(lp.get(), z, 1);

  std::vector<int> ia = {0}, ja = {0};
  std::vector<double> ar = {0};
  int rows = 0;
  for (size_t f = 0; f < demands.size(); ++f) {
    ++rows;
    glp_add_rows(lp.get(), 1);
    glp_set_row_bnds(lp.get(), rows, GLP_FX, 1, 1);
    for (size_t p = 0; p < paths[f].size(); ++p) {
      ia.push_back(rows), ja.push_back(first_col[f] + static_cast<int>(p)), ar.push_back(1);
    }
  }
  // Channel rows: sum (r / cap) x - z <= -bg / cap.
  std::vector<std::vector<std::pair<int, double>>> on_channel(background_bps.size());
  for (size_t f = 0; f < demands.size(); ++f) {
    for (size_t p = 0; p < paths[f].size(); ++p) {
      for (DirectedLinkId d : paths[f][p].hops) {
        on_channel[d].emplace_back(first_col[f] + static_cast<int>(p), demands[f].rate_bps);
      }
    }
  }
  for (size_t d = 0; d < on_channel.size(); ++d) {
    if (on_channel[d].empty()) continue;
    const double cap = static_cast<double>(
        fabric.link(topology::Fabric::LinkOf(static_cast<int>(d))).capacity_bps);
    if (cap <= 0) continue;  // a path over a dead channel: the caller should not offer it
    ++rows;
    glp_add_rows(lp.get(), 1);
    glp_set_row_bnds(lp.get(), rows, GLP_UP, 0, -background_bps[d] / cap);
    for (const auto& [col, rate] : on_channel[d]) {
      ia.push_back(rows), ja.push_back(col), ar.push_back(rate / cap);
    }
    ia.push_back(rows), ja.push_back(z), ar.push_back(-1);
  }
  glp_load_matrix(lp.get(), static_cast<int>(ia.size()) - 1, ia.data(), ja.data(), ar.data());

  const double start_z =
      options.start.empty() ? 0
                            : MaxUtilisation(fabric, demands, paths, background_bps, options.start);
  glp_iocp parm;
  glp_init_iocp(&parm);
  parm.msg_lev = GLP_MSG_OFF;
  parm.presolve = GLP_ON;
  parm.tm_lim = std::max(1, options.time_limit_ms);
  parm.fp_heur = GLP_ON;
  const int ret = glp_intopt(lp.get(), &parm);
  const int status = glp_mip_status(lp.get());
  const bool have = status == GLP_OPT || status == GLP_FEAS;
  if (ret != 0 && ret != GLP_ETMLIM && ret != GLP_EMIPGAP && !have) {
    if (!options.start.empty()) {
      out.path_index = options.start;
      out.max_utilisation = start_z;
      return out;
    }
    if (ret == GLP_ETMLIM) return absl::DeadlineExceededError("no assignment within the limit");
    return absl::InternalError(absl::StrCat("GLPK glp_intopt failed with code ", ret));
  }
  if (!have) {
    if (options.start.empty()) {
      return absl::DeadlineExceededError("GLPK found no assignment within the time limit");
    }
    out.path_index = options.start;
    out.max_utilisation = start_z;
    return out;
  }
  out.path_index.assign(demands.size(), 0);
  for (size_t f = 0; f < demands.size(); ++f) {
    for (size_t p = 0; p < paths[f].size(); ++p) {
      if (glp_mip_col_val(lp.get(), first_col[f] + static_cast<int>(p)) > 0.5) {
        out.path_index[f] = static_cast<int>(p);
      }
    }
  }
  out.max_utilisation = MaxUtilisation(fabric, demands, paths, background_bps, out.path_index);
  if (!options.start.empty() && start_z < out.max_utilisation) {
    out.path_index = options.start;
    out.max_utilisation = start_z;
  }
  out.proven_optimal = status == GLP_OPT && ret == 0;
  return out;
}

}  // namespace pulse::controller
