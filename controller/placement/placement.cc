#include "controller/placement/placement.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "controller/placement/edge_coloring.h"
#include "controller/placement/exact_placement.h"
#include "controller/placement/job_validation.h"
#include "controller/placement/lower_bound.h"

namespace pulse::controller {

using topology::SwitchRole;

namespace {

constexpr double kEps = 1e-9;
// Unsplittable jobs of at most this many flows that the local search leaves above their lower
// bound get the exact solver for at most this long (PlaceJob's latency grows by the budget).
constexpr size_t kExactMaxFlows = 128;
constexpr int kExactBudgetMs = 50;
// Coloured jobs up to this many demands that end above their bound next to other jobs are also
// placed greedily around the others' load (the better of the two is kept).
constexpr size_t kReplaceGreedilyMaxFlows = 20000;
// Jobs up to this many demands get the per-flow path floor (PathFloor) before the stronger
// searches, over pairs with up to this many up-down paths (ImproveByPotential's own limits).
constexpr size_t kPathFloorMaxFlows = 4000;
constexpr size_t kPathFloorMaxPaths = 64;

std::string JobPrefix(const JobSpec& spec) { return absl::StrCat("job '", spec.id, "': "); }

}  // namespace

// The regular Clos structure exact placement relies on. Leaves are grouped in blocks (one block
// on a two-tier fabric, one per pod on a three-tier one); every leaf of a block has `parallel`
// links to every spine of its block, so an edge colour c at a leaf names spine c / parallel and
// its (c % parallel)-th link. On three tiers the spine at position a of every block has the same
// super-spine sequence, so a second colour names the super-spine link.
struct ClosShape {
  bool three_tier = false;
  int blocks = 0;
  int leaf_colours = 0;       // spines per block * parallel links
  int spine_colours = 0;      // uplinks per spine (three tiers)
  double min_fabric_bps = 0;  // smallest switch-to-switch link capacity
  int spines_per_block = 0;
  int parallel = 0;
  std::vector<int> leaf_index;                // by NodeId, -1 if not a leaf
  std::vector<int> leaf_block;                // by leaf index
  std::vector<std::vector<LinkId>> leaf_up;   // [leaf index][colour]
  std::vector<std::vector<LinkId>> spine_up;  // [block * spines_per_block + pos][colour]
  std::vector<LinkId> nic_link;               // by NodeId: the NIC's only link, kNoLink otherwise
  std::vector<int> nic_leaf;                  // by NodeId: leaf index of the NIC, -1 otherwise
};

namespace {

// Sorts a node's links to the tier above by (peer, link id) and checks each peer of `peers`
// gets exactly `parallel` of them. Returns the ordered links, or empty on mismatch.
std::vector<LinkId> OrderedUplinks(const Fabric& fabric, NodeId node,
                                   const std::vector<NodeId>& peers, int parallel) {
  absl::flat_hash_map<NodeId, int> position;
  for (size_t i = 0; i < peers.size(); ++i) position[peers[i]] = static_cast<int>(i);
  std::vector<std::pair<int, LinkId>> ups;
  for (LinkId l : fabric.LinksOf(node)) {
    NodeId peer = fabric.Peer(l, node);
    if (fabric.node(peer).level <= fabric.node(node).level) continue;
    auto it = position.find(peer);
    if (it == position.end()) return {};
    ups.emplace_back(it->second, l);
  }
  if (ups.size() != peers.size() * static_cast<size_t>(parallel)) return {};
  std::sort(ups.begin(), ups.end());
  std::vector<LinkId> out;
  for (size_t i = 0; i < ups.size(); ++i) {
    if (ups[i].first != static_cast<int>(i) / parallel) return {};
    out.push_back(ups[i].second);
  }
  return out;
}

}  // namespace

// Builds the shape, or returns null when the fabric is not regular enough for exact colouring
// (multi-homed NICs, unequal leaf-spine wiring, missing pods...). Placement then uses the
// heuristic for everything, which is always correct, just not provably optimal.
static std::shared_ptr<ClosShape> BuildClosShape(const Fabric& fabric) {
  auto shape = std::make_shared<ClosShape>();
  const size_t n = fabric.nodes().size();
  shape->leaf_index.assign(n, -1);
  shape->nic_link.assign(n, topology::kNoLink);
  shape->nic_leaf.assign(n, -1);
  std::vector<NodeId> leaves, spines, supers;
  for (NodeId sw : fabric.switches()) {
    switch (fabric.node(sw).role) {
      case SwitchRole::kLeaf:
        leaves.push_back(sw);
        break;
      case SwitchRole::kSpine:
        spines.push_back(sw);
        break;
      case SwitchRole::kSuperSpine:
        supers.push_back(sw);
        break;
    }
  }
  if (leaves.empty() || spines.empty()) return nullptr;
  shape->three_tier = !supers.empty();
  for (size_t i = 0; i < leaves.size(); ++i) shape->leaf_index[leaves[i]] = static_cast<int>(i);
  for (NodeId nic : fabric.nics()) {
    const auto& links = fabric.LinksOf(nic);
    if (links.size() != 1) return nullptr;
    NodeId leaf = fabric.Peer(links[0], nic);
    if (shape->leaf_index[leaf] < 0) return nullptr;
    shape->nic_link[nic] = links[0];
    shape->nic_leaf[nic] = shape->leaf_index[leaf];
  }
  // Blocks: all leaves on two tiers; pods on three.
  std::map<int, int> block_of_pod;
  std::vector<std::vector<NodeId>> block_spines;
  if (shape->three_tier) {
    for (NodeId s : spines) {
      int pod = fabric.node(s).pod;
      if (pod < 0) return nullptr;
      auto [it, inserted] = block_of_pod.emplace(pod, static_cast<int>(block_of_pod.size()));
      if (inserted) block_spines.emplace_back();
      block_spines[it->second].push_back(s);
    }
  } else {
    block_spines.push_back(spines);
  }
  shape->blocks = static_cast<int>(block_spines.size());
  shape->spines_per_block = static_cast<int>(block_spines[0].size());
  for (const auto& b : block_spines) {
    if (static_cast<int>(b.size()) != shape->spines_per_block) return nullptr;
  }
  // Parallel links from the first leaf to its first spine fix `parallel`.
  shape->parallel = 0;
  for (LinkId l : fabric.LinksOf(leaves[0])) {
    NodeId peer = fabric.Peer(l, leaves[0]);
    if (fabric.node(peer).level == 2) {
      int count = 0;
      for (LinkId m : fabric.LinksOf(leaves[0])) count += fabric.Peer(m, leaves[0]) == peer;
      shape->parallel = count;
      break;
    }
  }
  if (shape->parallel == 0) return nullptr;
  shape->leaf_colours = shape->spines_per_block * shape->parallel;
  for (const auto& link : fabric.links()) {
    if (fabric.node(link.a.node).is_nic() || fabric.node(link.b.node).is_nic()) continue;
    double cap = static_cast<double>(link.capacity_bps);
    if (shape->min_fabric_bps == 0 || cap < shape->min_fabric_bps) shape->min_fabric_bps = cap;
  }
  for (NodeId leaf : leaves) {
    int block = 0;
    if (shape->three_tier) {
      auto it = block_of_pod.find(fabric.node(leaf).pod);
      if (it == block_of_pod.end()) return nullptr;
      block = it->second;
    }
    std::vector<LinkId> ups = OrderedUplinks(fabric, leaf, block_spines[block], shape->parallel);
    if (ups.empty()) return nullptr;
    shape->leaf_block.push_back(block);
    shape->leaf_up.push_back(std::move(ups));
  }
  if (shape->three_tier) {
    // Spine position a of every block must reach the same super-spines in the same order.
    for (int a = 0; a < shape->spines_per_block; ++a) {
      std::vector<NodeId> reference;
      for (int b = 0; b < shape->blocks; ++b) {
        NodeId spine = block_spines[b][a];
        std::vector<std::pair<NodeId, LinkId>> ups;
        for (LinkId l : fabric.LinksOf(spine)) {
          NodeId peer = fabric.Peer(l, spine);
          if (fabric.node(peer).level == 3) ups.emplace_back(peer, l);
        }
        std::sort(ups.begin(), ups.end());
        std::vector<NodeId> peers;
        std::vector<LinkId> links;
        for (const auto& [peer, l] : ups) peers.push_back(peer), links.push_back(l);
        if (b == 0) {
          reference = peers;
          if (a == 0) shape->spine_colours = static_cast<int>(peers.size());
        }
        if (peers != reference || static_cast<int>(peers.size()) != shape->spine_colours ||
            peers.empty()) {
          return nullptr;
        }
        shape->spine_up.push_back(std::move(links));
      }
    }
    // spine_up was filled position-major; reorder to block-major.
    std::vector<std::vector<LinkId>> by_block(shape->spine_up.size());
    for (int a = 0; a < shape->spines_per_block; ++a) {
      for (int b = 0; b < shape->blocks; ++b) {
        by_block[b * shape->spines_per_block + a] =
            std::move(shape->spine_up[a * shape->blocks + b]);
      }
    }
    shape->spine_up = std::move(by_block);
  }
  return shape;
}

namespace {

struct Loads {
  const Fabric& fabric;
  std::vector<double>& bps;

  double Capacity(DirectedLinkId d) const {
    return static_cast<double>(fabric.link(Fabric::LinkOf(d)).capacity_bps);
  }
  double UtilWith(DirectedLinkId d, double extra_bps) const {
    double cap = Capacity(d);
    double load = bps[d] + extra_bps;
    if (cap <= 0) return load > 0 ? std::numeric_limits<double>::infinity() : 0;
    return load / cap;
  }
  void Add(const Path& path, double rate) {
    for (DirectedLinkId d : path.hops) bps[d] += rate;
  }
  void Remove(const Path& path, double rate) {
    for (DirectedLinkId d : path.hops) {
      bps[d] -= rate;
      // Rates like 100G/3 added and taken away leave rounding dust of a few ulps of the largest
      // sum the link held (~1e-5 b/s at 100 Gb/s), which would show as load: anything below a
      // millionth of a millionth of the larger of rate and capacity is dust, not traffic.
      if (bps[d] < std::max(1e-6, 1e-12 * std::max(rate, Capacity(d)))) bps[d] = 0;
    }
  }
  // (max utilisation along the path with `rate` added, sum of the same) for comparing paths.
  std::pair<double, double> Cost(const Path& path, double rate) const {
    double max = 0, sum = 0;
    for (DirectedLinkId d : path.hops) {
      double u = UtilWith(d, rate);
      max = std::max(max, u);
      sum += u;
    }
    return {max, sum};
  }
};

// Index of the least-costly path not in `exclude`, or -1.
int LeastLoaded(const Loads& loads, const std::vector<Path>& paths, double rate,
                const std::vector<const Path*>& exclude) {
  int best = -1;
  std::pair<double, double> best_cost;
  for (size_t i = 0; i < paths.size(); ++i) {
    bool excluded = false;
    for (const Path* p : exclude) excluded |= (*p == paths[i]);
    if (excluded) continue;
    auto cost = loads.Cost(paths[i], rate);
    if (best < 0 || cost.first < best_cost.first - kEps ||
        (cost.first <= best_cost.first + kEps && cost.second < best_cost.second - kEps)) {
      best = static_cast<int>(i);
      best_cost = cost;
    }
  }
  return best;
}

// Whether `path` leads from `src` to `dst` over channels of the fabric without visiting a node
// twice (any shape: up-down or not).
bool JoinsWithoutLoop(const Fabric& fabric, const Path& path, NodeId src, NodeId dst) {
  if (path.hops.empty()) return false;
  absl::flat_hash_set<NodeId> seen = {src};
  NodeId at = src;
  for (DirectedLinkId hop : path.hops) {
    if (hop < 0 || hop >= fabric.num_directed_links() || fabric.Tail(hop) != at) return false;
    at = fabric.Head(hop);
    if (!seen.insert(at).second) return false;
  }
  return at == dst;
}

std::string FlowName(const Fabric& fabric, const std::string& job_id, size_t i,
                     const PlacedFlow& f) {
  return absl::StrCat("job '", job_id, "' flow ", i, " ('", fabric.node(f.src).name, "' -> '",
                      fabric.node(f.dst).name, "')");
}

// Paths of the other sub-flows of flow i's demand (sub-flows of one demand are stored
// consecutively, subflow 0 first), so a moved sub-flow does not land on a sibling's path.
std::vector<const Path*> SiblingPaths(const JobPlacement& job, size_t i) {
  std::vector<const Path*> out;
  const PlacedFlow& f = job.flows[i];
  size_t start = i - static_cast<size_t>(f.subflow);
  for (size_t j = start; j < job.flows.size(); ++j) {
    const PlacedFlow& g = job.flows[j];
    if (g.subflow != static_cast<int>(j - start) || g.src != f.src || g.dst != f.dst) break;
    if (j != i) out.push_back(&g.path);
  }
  return out;
}

absl::StatusOr<NodeId> ResolveFor(const Fabric& fabric, const JobSpec& spec, absl::string_view name,
                                  absl::string_view what) {
  auto nic = fabric.ResolveEndpoint(name);
  if (!nic.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(JobPrefix(spec), what, ": ", nic.status().message()));
  }
  return *nic;
}

}  // namespace

absl::string_view EnforcementName(Enforcement enforcement) {
  switch (enforcement) {
    case Enforcement::kDefault:
      return "default";
    case Enforcement::kPin:
      return "pin";
    case Enforcement::kSteer:
      return "steer";
  }
  return "default";
}

absl::StatusOr<Enforcement> ParseEnforcement(absl::string_view name) {
  if (name == "pin") return Enforcement::kPin;
  if (name == "steer") return Enforcement::kSteer;
  if (name == "default" || name.empty()) return Enforcement::kDefault;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown enforcement '", name, "' (expected pin or steer)"));
}

absl::StatusOr<std::vector<FlowDemand>> JobDemands(const Fabric& fabric, const JobSpec& spec) {
  const std::string where = JobPrefix(spec);
  if (absl::Status valid = ValidateJobSpec(spec, kPlacementJobLimits, ""); !valid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(where, valid.message()));
  }
  std::vector<NodeId> nics;
  nics.reserve(spec.endpoints.size());
  for (size_t i = 0; i < spec.endpoints.size(); ++i) {
    auto nic = ResolveFor(fabric, spec, spec.endpoints[i], absl::StrCat("endpoint ", i));
    if (!nic.ok()) return nic.status();
    nics.push_back(*nic);
  }
  if (spec.pattern != CollectivePattern::kExplicit) {
    auto demands = CollectiveFlows(fabric, spec.pattern, nics, spec.rate_bps);
    if (!demands.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(where, demands.status().message()));
    }
    return demands;
  }
  std::vector<FlowDemand> demands;
  for (size_t i = 0; i < spec.explicit_flows.size(); ++i) {
    const ExplicitFlow& f = spec.explicit_flows[i];
    const std::string what = absl::StrCat("flow ", i);
    auto src = ResolveFor(fabric, spec, f.src, absl::StrCat(what, " source"));
    if (!src.ok()) return src.status();
    auto dst = ResolveFor(fabric, spec, f.dst, absl::StrCat(what, " destination"));
    if (!dst.ok()) return dst.status();
    if (f.src == f.dst || *src == *dst) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, what, " from '", f.src, "' to '", f.dst, "' is a flow to itself"));
    }
    // Two GPUs of one server talk over NVLink: no fabric demand.
    if (fabric.node(*src).server == fabric.node(*dst).server) continue;
    double rate = f.rate_bps > 0 ? f.rate_bps : spec.rate_bps;
    if (rate <= 0) rate = NicLineRateBps(fabric, *src);
    if (rate <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, what, ": source NIC '", fabric.node(*src).name, "' has no capacity"));
    }
    demands.push_back(FlowDemand{*src, *dst, rate, 0});
  }
  return demands;
}

Placement::Placement(std::shared_ptr<const Fabric> fabric, PlacementOptions options)
    : fabric_(std::move(fabric)),
      link_status_(*fabric_),
      load_bps_(fabric_->num_directed_links(), 0.0),
      options_(std::move(options)),
      shape_(BuildClosShape(*fabric_)) {
  lossless_->graph = std::make_unique<LosslessGraph>(*fabric_);
}

LosslessGraph& Placement::Lossless() const {
  // A copy's graph is built from its jobs by the first caller; the owner's exists from the start.
  std::call_once(lossless_->built, [this] {
    if (lossless_->graph != nullptr) return;
    auto graph = std::make_unique<LosslessGraph>(*fabric_);
    for (const auto& [id, job] : jobs_) {
      if (!IsLossless(job.spec.traffic_class)) continue;
      for (const PlacedFlow& f : job.flows) (void)graph->AddPath(f.path, job.spec.traffic_class);
    }
    lossless_->graph = std::move(graph);
  });
  return *lossless_->graph;
}

SteeringPortSearch& Placement::PortSearch() {
  if (groups_->search == nullptr) groups_->search = std::make_unique<SteeringPortSearch>();
  return *groups_->search;
}

EcmpGroups& Placement::Groups() {
  if (groups_->groups == nullptr) {
    groups_->groups = std::make_unique<EcmpGroups>(fabric_);
    for (LinkId l = 0; l < static_cast<LinkId>(fabric_->links().size()); ++l) {
      if (!link_status_.IsUp(l)) groups_->groups->SetLinkUp(l, false);
    }
  }
  return *groups_->groups;
}

JobPlacement* Placement::MutableJob(const std::string& job_id) {
  // The slot comes from a chunk only this map holds (so a snapshot sharing the job shows in
  // its count).
  JobPtr* slot = jobs_.MutableSlot(job_id);
  if (slot == nullptr) return nullptr;
  // Only this Placement holds it: change it in place. Otherwise a snapshot shares it: copy first.
  if (slot->use_count() != 1) *slot = std::make_shared<JobPlacement>(**slot);
  return const_cast<JobPlacement*>(slot->get());  // created non-const (make_shared above)
}

Placement::JobsByChannel& Placement::JobsOnChannels() {
  JobsByChannel& index = *jobs_by_channel_;
  if (!index.built) {
    index.built = true;
    index.hops.assign(fabric_->num_directed_links(), {});
    for (const auto& [id, job] : jobs_) {
      for (const PlacedFlow& f : job.flows) {
        for (DirectedLinkId d : f.path.hops) ++index.hops[d][id];
      }
    }
  }
  return index;
}

namespace {

void AddJobFlows(ChannelFlows& flows, const JobPlacement& job) {
  std::vector<const std::vector<DirectedLinkId>*> hops;
  std::vector<double> rates;
  hops.reserve(job.flows.size());
  rates.reserve(job.flows.size());
  for (const PlacedFlow& f : job.flows) {
    hops.push_back(&f.path.hops);
    rates.push_back(f.rate_bps);
  }
  flows.AddJob(job.spec.id, hops, rates);
}

}  // namespace

ChannelFlows& Placement::FlowsOnChannels() {
  if (channel_flows_->flows == nullptr) {
    std::vector<double> capacity(fabric_->num_directed_links());
    for (DirectedLinkId d = 0; d < fabric_->num_directed_links(); ++d) {
      capacity[d] = static_cast<double>(fabric_->link(Fabric::LinkOf(d)).capacity_bps);
    }
    channel_flows_->flows = std::make_unique<ChannelFlows>(std::move(capacity));
    for (const auto& [id, job] : jobs_) AddJobFlows(*channel_flows_->flows, job);
  }
  return *channel_flows_->flows;
}

std::vector<std::string> Placement::JobsCrossing(
    const absl::flat_hash_set<DirectedLinkId>& channels) const {
  std::vector<std::string> out;
  const JobsByChannel& index = *jobs_by_channel_;
  if (index.built) {
    absl::flat_hash_set<std::string> seen;
    for (DirectedLinkId d : channels) {
      if (d < 0 || d >= static_cast<DirectedLinkId>(index.hops.size())) continue;
      for (const auto& [id, hops] : index.hops[d]) {
        if (seen.insert(id).second) out.push_back(id);
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  for (const auto& [id, job] : jobs_) {
    bool crosses = false;
    for (const PlacedFlow& f : job.flows) {
      for (DirectedLinkId d : f.path.hops) crosses |= channels.contains(d);
      if (crosses) break;
    }
    if (crosses) out.push_back(id);
  }
  return out;
}

void Placement::IndexPath(const std::string& job_id, const Path& path, int delta) {
  JobsByChannel& index = JobsOnChannels();
  for (DirectedLinkId d : path.hops) {
    if (d < 0 || d >= static_cast<DirectedLinkId>(index.hops.size())) continue;
    auto& on = index.hops[d];
    if ((on[job_id] += delta) <= 0) on.erase(job_id);
  }
}

void Placement::IndexJob(const JobPlacement& job, int delta) {
  // Counted per channel first, then one keyed update per channel the job uses: a large
  // collective crosses each channel many times (65,536 GPUs halving-doubling: 1M flows over a
  // few hundred thousand channels), and the index is keyed by the job's name.
  absl::flat_hash_map<DirectedLinkId, int> hops_per_channel;
  for (const PlacedFlow& f : job.flows) {
    for (DirectedLinkId d : f.path.hops) hops_per_channel[d] += delta;
  }
  if (delta > 0) {
    AddJobFlows(FlowsOnChannels(), job);
  } else {
    FlowsOnChannels().RemoveJob(job.spec.id);
  }
  JobsByChannel& index = JobsOnChannels();
  for (const auto& [d, count] : hops_per_channel) {
    if (d < 0 || d >= static_cast<DirectedLinkId>(index.hops.size())) continue;
    auto& on = index.hops[d];
    if ((on[job.spec.id] += count) <= 0) on.erase(job.spec.id);
  }
}

void Placement::RefreshJobLoads(const std::vector<double>& loads_before,
                                const std::vector<std::string>& also) {
  JobsByChannel& index = JobsOnChannels();
  absl::flat_hash_set<std::string> affected(also.begin(), also.end());
  for (size_t d = 0; d < load_bps_.size() && d < loads_before.size(); ++d) {
    if (load_bps_[d] == loads_before[d]) continue;
    for (const auto& [id, hops] : index.hops[d]) affected.insert(id);
  }
  for (const std::string& id : affected) {
    const JobPtr job = jobs_.FindPtr(id);
    if (job == nullptr) continue;
    double max = 0;
    for (const PlacedFlow& f : job->flows) {
      for (DirectedLinkId d : f.path.hops) max = std::max(max, Utilisation(d));
    }
    if (max != job->max_link_load) MutableJob(id)->max_link_load = max;
  }
}

bool Placement::IsLossless(int traffic_class) const {
  if (traffic_class < kMinTrafficClass || traffic_class > kMaxTrafficClass) return false;
  return std::find(options_.lossless_priorities.begin(), options_.lossless_priorities.end(),
                   traffic_class) != options_.lossless_priorities.end();
}

absl::Status Placement::SetLosslessPriorities(std::vector<int> priorities) {
  auto is_lossless = [&priorities](int traffic_class) {
    return traffic_class >= kMinTrafficClass && traffic_class <= kMaxTrafficClass &&
           std::find(priorities.begin(), priorities.end(), traffic_class) != priorities.end();
  };
  auto graph = std::make_unique<LosslessGraph>(*fabric_);
  for (const auto& [id, job] : jobs_) {
    if (!is_lossless(job.spec.traffic_class)) continue;
    for (size_t i = 0; i < job.flows.size(); ++i) {
      absl::Status added = graph->AddPath(job.flows[i].path, job.spec.traffic_class);
      if (!added.ok()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "making class ", job.spec.traffic_class,
            " lossless: ", FlowName(*fabric_, id, i, job.flows[i]), ": ", added.message()));
      }
    }
  }
  options_.lossless_priorities = std::move(priorities);
  (void)Lossless();  // the once-flag is spent: the graph below is the one in force
  lossless_->graph = std::move(graph);
  return absl::OkStatus();
}

void Placement::ReleaseLossless(const JobSpec& spec, const std::vector<PlacedFlow>& flows,
                                size_t count) {
  if (!IsLossless(spec.traffic_class)) return;
  for (size_t i = 0; i < count && i < flows.size(); ++i) {
    Lossless().RemovePath(flows[i].path, spec.traffic_class);
  }
}

double Placement::Utilisation(DirectedLinkId link) const {
  double cap = static_cast<double>(fabric_->link(Fabric::LinkOf(link)).capacity_bps);
  if (cap <= 0) return load_bps_[link] > 0 ? std::numeric_limits<double>::infinity() : 0;
  return load_bps_[link] / cap;
}

double Placement::MaxUtilisation() const {
  double max = 0;
  for (DirectedLinkId d = 0; d < static_cast<DirectedLinkId>(load_bps_.size()); ++d) {
    max = std::max(max, Utilisation(d));
  }
  return max;
}

const JobPlacement* Placement::FindJob(const std::string& job_id) const {
  return jobs_.FindPtr(job_id).get();  // the map keeps it alive
}

absl::Status Placement::SetBandwidth(const std::string& job_id,
                                     const JobPlacement::Bandwidth& bandwidth) {
  JobPlacement* job = MutableJob(job_id);
  if (job == nullptr) return absl::NotFoundError(absl::StrCat("no job '", job_id, "'"));
  job->bandwidth = bandwidth;
  return absl::OkStatus();
}

namespace {

// Exact placement of a group of equal-rate demands by edge colouring, with `multiplicity` flows
// allowed per fabric link: each link owns that many consecutive colours. Returns false (placing
// nothing) when the group does not fit: unequal rates, or a leaf or pod with more crossing flows
// than colours.
bool PlaceGroupExactly(const Fabric& fabric, const ClosShape& shape,
                       const std::vector<const FlowDemand*>& phase, int multiplicity, int rotation,
                       std::vector<PlacedFlow>& out) {
  const int m = multiplicity;
  const double rate = phase.front()->rate_bps;
  for (const FlowDemand* d : phase) {
    if (std::abs(d->rate_bps - rate) > kEps * rate) return false;
  }
  const int leaf_count = static_cast<int>(shape.leaf_up.size());
  std::vector<BipartiteEdge> edges;
  std::vector<size_t> edge_demand;
  edges.reserve(phase.size());
  edge_demand.reserve(phase.size());
  out.reserve(out.size() + phase.size());
  for (size_t i = 0; i < phase.size(); ++i) {
    int a = shape.nic_leaf[phase[i]->src], b = shape.nic_leaf[phase[i]->dst];
    if (a != b) {
      edges.emplace_back(a, b);
      edge_demand.push_back(i);
    }
  }
  auto colours = ColourBipartiteEdges(leaf_count, leaf_count, edges, shape.leaf_colours * m);
  if (!colours.ok()) return false;
  // Renaming colours keeps the colouring proper; rotating by phase spreads the phases of one job
  // over different spines instead of stacking every phase's colour 0 on the first spine.
  for (int& c : *colours) c = ((c / m + rotation) % shape.leaf_colours) * m + c % m;
  // Three tiers: per spine position, colour the block -> block flows with super-spine links.
  std::vector<int> core_colour(edges.size(), -1);
  if (shape.three_tier) {
    std::vector<std::vector<size_t>> by_position(shape.spines_per_block);
    for (size_t e = 0; e < edges.size(); ++e) {
      if (shape.leaf_block[edges[e].first] != shape.leaf_block[edges[e].second]) {
        by_position[(*colours)[e] / m / shape.parallel].push_back(e);
      }
    }
    for (const auto& group : by_position) {
      if (group.empty()) continue;
      std::vector<BipartiteEdge> pod_edges;
      for (size_t e : group) {
        pod_edges.emplace_back(shape.leaf_block[edges[e].first], shape.leaf_block[edges[e].second]);
      }
      auto cc =
          ColourBipartiteEdges(shape.blocks, shape.blocks, pod_edges, shape.spine_colours * m);
      if (!cc.ok()) return false;
      for (size_t j = 0; j < group.size(); ++j) {
        core_colour[group[j]] = ((*cc)[j] / m + rotation) % shape.spine_colours;
      }
    }
  }
  std::vector<int> colour_of(phase.size(), -1);
  std::vector<int> core_of(phase.size(), -1);
  for (size_t e = 0; e < edges.size(); ++e) {
    colour_of[edge_demand[e]] = (*colours)[e] / m;
    core_of[edge_demand[e]] = core_colour[e];
  }
  for (size_t i = 0; i < phase.size(); ++i) {
    const FlowDemand& d = *phase[i];
    PlacedFlow f;
    f.src = d.src;
    f.dst = d.dst;
    f.rate_bps = d.rate_bps;
    f.phase = d.phase;
    const int src_leaf = shape.nic_leaf[d.src], dst_leaf = shape.nic_leaf[d.dst];
    const NodeId src_leaf_node = fabric.Peer(shape.nic_link[d.src], d.src);
    auto& hops = f.path.hops;
    hops.reserve(shape.three_tier ? 6 : 4);  // one allocation per path, not one per growth
    hops.push_back(fabric.DirectedFrom(shape.nic_link[d.src], d.src));
    if (src_leaf != dst_leaf) {
      const int c = colour_of[i];
      const LinkId up = shape.leaf_up[src_leaf][c];
      const LinkId down = shape.leaf_up[dst_leaf][c];
      hops.push_back(fabric.DirectedFrom(up, src_leaf_node));
      const int src_block = shape.leaf_block[src_leaf], dst_block = shape.leaf_block[dst_leaf];
      if (src_block != dst_block) {
        const int position = c / shape.parallel;
        const LinkId core_up =
            shape.spine_up[src_block * shape.spines_per_block + position][core_of[i]];
        const LinkId core_down =
            shape.spine_up[dst_block * shape.spines_per_block + position][core_of[i]];
        NodeId src_spine = fabric.Peer(up, src_leaf_node);
        hops.push_back(fabric.DirectedFrom(core_up, src_spine));
        NodeId core = fabric.Peer(core_up, src_spine);
        hops.push_back(fabric.DirectedFrom(core_down, core));
      }
      NodeId dst_spine = fabric.Peer(down, fabric.Peer(shape.nic_link[d.dst], d.dst));
      hops.push_back(fabric.DirectedFrom(down, dst_spine));
    }
    hops.push_back(
        fabric.DirectedFrom(shape.nic_link[d.dst], fabric.Peer(shape.nic_link[d.dst], d.dst)));
    out.push_back(std::move(f));
  }
  return true;
}

// Moves flows of `job` off its most loaded link while that lowers the maximum over the links it
// uses. Other jobs' flows never move.
void ImproveLocally(const Fabric& fabric, const LinkStatus& status, Loads& loads, JobPlacement& job,
                    double stop_at) {
  absl::flat_hash_map<DirectedLinkId, std::vector<size_t>> on_link;
  for (size_t i = 0; i < job.flows.size(); ++i) {
    for (DirectedLinkId d : job.flows[i].path.hops) on_link[d].push_back(i);
  }
  const size_t max_rounds = std::min<size_t>(4 * job.flows.size() + 16, 5000);
  // The candidate paths per NIC pair, computed once: a round looks at every flow on the worst
  // link and the same pairs come back round after round (next to standing jobs' load the
  // colouring's first choice rarely fits, so this search runs on most placements).
  std::map<std::pair<NodeId, NodeId>, absl::StatusOr<std::vector<Path>>> paths_of;
  for (size_t round = 0; round < max_rounds; ++round) {
    DirectedLinkId worst = -1;
    double worst_util = 0;
    for (const auto& [d, flows] : on_link) {
      if (flows.empty()) continue;
      double u = loads.UtilWith(d, 0);
      if (u > worst_util + kEps || (std::abs(u - worst_util) <= kEps && d < worst)) {
        worst = d;
        worst_util = u;
      }
    }
    if (worst < 0 || worst_util <= stop_at + kEps) return;
    bool moved = false;
    for (size_t i : on_link[worst]) {
      PlacedFlow& f = job.flows[i];
      auto cached = paths_of.find({f.src, f.dst});
      if (cached == paths_of.end()) {
        cached =
            paths_of
                .emplace(std::make_pair(f.src, f.dst), UpDownPaths(fabric, status, f.src, f.dst))
                .first;
      }
      const absl::StatusOr<std::vector<Path>>& paths = cached->second;
      if (!paths.ok()) continue;
      loads.Remove(f.path, f.rate_bps);
      std::vector<const Path*> exclude = SiblingPaths(job, i);
      exclude.push_back(&f.path);
      int best = LeastLoaded(loads, *paths, f.rate_bps, exclude);
      if (best >= 0 && loads.Cost((*paths)[best], f.rate_bps).first < worst_util - kEps) {
        for (DirectedLinkId d : f.path.hops) {
          auto& v = on_link[d];
          v.erase(std::find(v.begin(), v.end(), i));
        }
        f.path = (*paths)[best];
        for (DirectedLinkId d : f.path.hops) on_link[d].push_back(i);
        loads.Add(f.path, f.rate_bps);
        moved = true;
        break;
      }
      loads.Add(f.path, f.rate_bps);
    }
    if (!moved) return;
  }
}

// The potential a channel at utilisation u adds: u^8, a smooth stand-in for the maximum that
// still rewards lowering the second-hottest channel, so a descent crosses the plateaus where
// moving one flow off the hottest link gains nothing.
inline double Potential(double u) {
  const double u2 = u * u, u4 = u2 * u2;
  return u4 * u4;
}

// Stronger improvement of an unsplittable job: descent on the sum of Potential over channels by
// single-flow moves, then pair moves (a flow leaves the hottest channel for a path that only fits
// if a second flow of the job leaves one of that path's channels: an ejection chain of two),
// until neither helps or the work budget is spent. The best maximum seen is kept. Other jobs'
// flows never move. Flows with more candidate paths than `max_paths` stay where they are.
void ImproveByPotential(const Fabric& fabric, const LinkStatus& status, Loads& loads,
                        JobPlacement& job, double stop_at) {
  constexpr size_t kMaxFlows = 4000;
  constexpr size_t kMaxPaths = 64;
  constexpr double kWorkBudget = 1e7;  // hop evaluations (about 0.1 s of CPU at most)
  constexpr int kMaxKicks = 300;
  const size_t n = job.flows.size();
  if (n < 2 || n > kMaxFlows) return;
  std::map<std::pair<NodeId, NodeId>, std::vector<Path>> cache;
  std::vector<const std::vector<Path>*> cands(n, nullptr);
  std::vector<int> cur(n, -1);
  for (size_t i = 0; i < n; ++i) {
    const PlacedFlow& f = job.flows[i];
    auto key = std::make_pair(f.src, f.dst);
    auto it = cache.find(key);
    if (it == cache.end()) {
      auto paths = UpDownPaths(fabric, status, f.src, f.dst, kMaxPaths + 1);
      it = cache.emplace(key, paths.ok() ? *std::move(paths) : std::vector<Path>{}).first;
    }
    if (it->second.size() < 2 || it->second.size() > kMaxPaths) continue;
    for (size_t p = 0; p < it->second.size(); ++p) {
      if (it->second[p] == f.path) cur[i] = static_cast<int>(p);
    }
    if (cur[i] >= 0) cands[i] = &it->second;
  }
  absl::flat_hash_map<DirectedLinkId, std::vector<size_t>> on_channel;
  for (size_t i = 0; i < n; ++i) {
    for (DirectedLinkId d : job.flows[i].path.hops) on_channel[d].push_back(i);
  }
  auto util = [&](DirectedLinkId d, double extra) { return loads.UtilWith(d, extra); };
  auto contains = [](const Path& p, DirectedLinkId d) {
    return std::find(p.hops.begin(), p.hops.end(), d) != p.hops.end();
  };
  double work = 0;
  // Potential change of moving flow i from path `from` to `to` (both of its candidates).
  auto move_delta = [&](size_t i, const Path& from, const Path& to) {
    const double r = job.flows[i].rate_bps;
    double delta = 0;
    for (DirectedLinkId d : to.hops) {
      if (!contains(from, d)) delta += Potential(util(d, r)) - Potential(util(d, 0));
    }
    for (DirectedLinkId d : from.hops) {
      if (!contains(to, d)) delta += Potential(util(d, -r)) - Potential(util(d, 0));
    }
    work += static_cast<double>(to.hops.size() + from.hops.size());
    return delta;
  };
  auto apply = [&](size_t i, int p) {
    PlacedFlow& f = job.flows[i];
    for (DirectedLinkId d : f.path.hops) {
      auto& v = on_channel[d];
      v.erase(std::find(v.begin(), v.end(), i));
    }
    loads.Remove(f.path, f.rate_bps);
    f.path = (*cands[i])[p];
    cur[i] = p;
    loads.Add(f.path, f.rate_bps);
    for (DirectedLinkId d : f.path.hops) on_channel[d].push_back(i);
  };
  // The hottest channel the job uses and its utilisation.
  auto hottest = [&]() {
    std::pair<double, DirectedLinkId> best = {-1, -1};
    for (const auto& [d, flows] : on_channel) {
      if (flows.empty()) continue;
      const double u = util(d, 0);
      if (u > best.first + kEps || (std::abs(u - best.first) <= kEps && d < best.second)) {
        best = {u, d};
      }
    }
    return best;
  };
  std::vector<int> best_choice = cur;
  double best_max = hottest().first;
  auto remember = [&]() {
    const double m = hottest().first;
    if (m < best_max - kEps) best_max = m, best_choice = cur;
  };
  auto descend = [&]() {
    bool any = false;
    for (int pass = 0; pass < 100 && work < kWorkBudget; ++pass) {
      bool moved = false;
      for (size_t i = 0; i < n; ++i) {
        if (cands[i] == nullptr) continue;
        const Path& from = job.flows[i].path;
        int best = -1;
        double best_delta = -1e-12;
        for (size_t p = 0; p < cands[i]->size(); ++p) {
          if (static_cast<int>(p) == cur[i]) continue;
          const double delta = move_delta(i, from, (*cands[i])[p]);
          if (delta < best_delta) best_delta = delta, best = static_cast<int>(p);
        }
        if (best >= 0) apply(i, best), moved = any = true;
      }
      if (!moved) break;
    }
    return any;
  };
  // A pair move that takes a flow off the hottest channel: true if one was made.
  auto pair_move = [&]() {
    const auto [max_util, hot] = hottest();
    if (hot < 0 || max_util <= stop_at + kEps) return false;
    const std::vector<size_t> hot_flows = on_channel[hot];
    for (size_t i : hot_flows) {
      if (cands[i] == nullptr) continue;
      const double ri = job.flows[i].rate_bps;
      for (size_t p = 0; p < cands[i]->size() && work < kWorkBudget; ++p) {
        const Path& to = (*cands[i])[p];
        if (static_cast<int>(p) == cur[i] || contains(to, hot)) continue;
        // The channel of `to` that blocks the move (the one that would be hottest).
        DirectedLinkId block = -1;
        double block_util = 0;
        for (DirectedLinkId d : to.hops) {
          const double u = util(d, contains(job.flows[i].path, d) ? 0 : ri);
          if (u > block_util) block_util = u, block = d;
        }
        if (block < 0 || block_util < max_util - kEps) continue;  // single moves cover it
        const std::vector<size_t> blockers = on_channel[block];
        for (size_t j : blockers) {
          if (j == i || cands[j] == nullptr) continue;
          const int i_old = cur[i], j_old = cur[j];
          apply(i, static_cast<int>(p));
          for (size_t q = 0; q < cands[j]->size(); ++q) {
            if (static_cast<int>(q) == j_old || contains((*cands[j])[q], block)) continue;
            apply(j, static_cast<int>(q));
            double m = 0;
            for (const Path* path :
                 std::initializer_list<const Path*>{&job.flows[i].path, &job.flows[j].path,
                                                    &(*cands[i])[i_old], &(*cands[j])[j_old]}) {
              for (DirectedLinkId d : path->hops) m = std::max(m, util(d, 0));
            }
            work += 16;
            if (m < max_util - kEps) return true;
            apply(j, j_old);
          }
          apply(i, i_old);
        }
      }
    }
    return false;
  };
  // Iterated local search: descend and pair-move to a local optimum, then kick (a few flows of
  // the hottest channel onto random other paths) and search again, keeping the best; seeded by
  // the job's size so a placement repeats.
  std::mt19937 rng(static_cast<uint32_t>(n));
  int kicks = 0;
  int fruitless_pair_moves = 0;  // the descent can undo a pair move: then kick instead
  for (int round = 0; round < 5000 && work < kWorkBudget; ++round) {
    const double before = best_max;
    descend();
    remember();
    if (best_max <= stop_at + kEps) break;
    fruitless_pair_moves = best_max < before - kEps ? 0 : fruitless_pair_moves + 1;
    if (fruitless_pair_moves < 8 && pair_move()) continue;
    fruitless_pair_moves = 0;
    if (++kicks > kMaxKicks) break;
    const DirectedLinkId hot = hottest().second;
    std::vector<size_t> movable;
    for (size_t i : on_channel[hot]) {
      if (cands[i] != nullptr) movable.push_back(i);
    }
    if (movable.empty()) break;
    std::shuffle(movable.begin(), movable.end(), rng);
    const size_t count = std::min<size_t>(movable.size(), 1 + rng() % 3);
    for (size_t k = 0; k < count; ++k) {
      const size_t i = movable[k];
      apply(i, static_cast<int>(rng() % cands[i]->size()));
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (cands[i] != nullptr && cur[i] != best_choice[i]) apply(i, best_choice[i]);
  }
}

// Exact improvement of a small unsplittable job: the MIP of exact_placement.h over the job's
// flows with every other job's load as background, started from the current paths and bounded
// by `budget_ms`. Its answer replaces the paths only when it lowers the maximum over the
// channels the job crosses. Jobs with more than `max_flows` flows or flows with more than 16
// candidate paths are left alone (the MIP would not finish in budget).
void ImproveExactly(const Fabric& fabric, const LinkStatus& status, Loads& loads, JobPlacement& job,
                    size_t max_flows, int budget_ms) {
  const size_t n = job.flows.size();
  if (n < 2 || n > max_flows) return;
  std::vector<FlowDemand> demands;
  std::vector<std::vector<Path>> paths;
  std::vector<int> start;
  for (const PlacedFlow& f : job.flows) {
    auto p = UpDownPaths(fabric, status, f.src, f.dst, 17);
    if (!p.ok() || p->size() > 16) return;
    int at = -1;
    for (size_t k = 0; k < p->size(); ++k) {
      if ((*p)[k] == f.path) at = static_cast<int>(k);
    }
    if (at < 0) return;
    demands.push_back(FlowDemand{f.src, f.dst, f.rate_bps, f.phase});
    paths.push_back(*std::move(p));
    start.push_back(at);
  }
  auto job_max = [&]() {
    double m = 0;
    for (const PlacedFlow& f : job.flows) {
      for (DirectedLinkId d : f.path.hops) m = std::max(m, loads.UtilWith(d, 0));
    }
    return m;
  };
  const double before = job_max();
  for (const PlacedFlow& f : job.flows) loads.Remove(f.path, f.rate_bps);
  ExactPlacementOptions options;
  options.time_limit_ms = budget_ms;
  options.start = start;
  auto exact = SolveExactPlacement(fabric, demands, paths, loads.bps, options);
  std::vector<Path> old_paths;
  for (PlacedFlow& f : job.flows) old_paths.push_back(f.path);
  if (exact.ok()) {
    for (size_t i = 0; i < n; ++i) job.flows[i].path = paths[i][exact->path_index[i]];
  }
  for (const PlacedFlow& f : job.flows) loads.Add(f.path, f.rate_bps);
  if (job_max() < before - kEps) return;
  for (size_t i = 0; i < n; ++i) {
    loads.Remove(job.flows[i].path, job.flows[i].rate_bps);
    job.flows[i].path = old_paths[i];
    loads.Add(job.flows[i].path, job.flows[i].rate_bps);
  }
}

// The utilisation no placement of a job can avoid next to the jobs already placed: a single-homed
// NIC's access channel carries all of the job's demand from (to) that NIC on top of the load
// other jobs put there. Improvement stops at max(lower bound, this): with other jobs on the
// job's NICs the job-alone lower bound is unreachable, and searching for it (up to the exact
// solver's time budget) made PlaceJob grow with the number of standing jobs.
double AccessFloor(const Fabric& fabric, const std::vector<double>& background_bps,
                   const std::vector<FlowDemand>& demands) {
  absl::flat_hash_map<DirectedLinkId, double> extra_bps;
  for (const FlowDemand& d : demands) {
    const auto& src_links = fabric.LinksOf(d.src);
    const auto& dst_links = fabric.LinksOf(d.dst);
    if (src_links.size() == 1) extra_bps[fabric.DirectedFrom(src_links[0], d.src)] += d.rate_bps;
    if (dst_links.size() == 1) {
      extra_bps[fabric.DirectedFrom(dst_links[0], fabric.Peer(dst_links[0], d.dst))] += d.rate_bps;
    }
  }
  double floor = 0;
  for (const auto& [d, extra] : extra_bps) {
    const double cap = static_cast<double>(fabric.link(Fabric::LinkOf(d)).capacity_bps);
    if (cap > 0) floor = std::max(floor, (background_bps[d] + extra) / cap);
  }
  return floor;
}

// The utilisation no placement of an unsplittable job can avoid on account of one flow: the
// flow needs some path, and each of its up-down paths crosses a channel at least this busy with
// the other jobs' load and the flow's own rate. Its maximum over the job's demands is a lower
// bound the search cannot beat, so improvement that would only run towards a lower target is
// skipped: ImproveByPotential, ImproveExactly and the greedy re-placement change paths only
// when they lower the job's maximum, which a job already at this floor cannot. (Searching for
// the unreachable job-alone bound is what made a small job's PlaceJob grow with the number of
// standing jobs.) Demands with more than `max_paths` paths are left out (the bound stays valid).
double PathFloor(const Fabric& fabric, const LinkStatus& status,
                 const std::vector<double>& background_bps, const std::vector<FlowDemand>& demands,
                 size_t max_paths) {
  std::map<std::pair<NodeId, NodeId>, double> worst_rate;  // the largest demand per pair
  for (const FlowDemand& d : demands) {
    double& rate = worst_rate[{d.src, d.dst}];
    rate = std::max(rate, d.rate_bps);
  }
  double floor = 0;
  for (const auto& [pair, rate] : worst_rate) {
    auto paths = UpDownPaths(fabric, status, pair.first, pair.second, max_paths + 1);
    if (!paths.ok() || paths->empty() || paths->size() > max_paths) continue;
    double best = std::numeric_limits<double>::infinity();
    for (const Path& p : *paths) {
      double path_max = 0;
      for (DirectedLinkId d : p.hops) {
        const double cap = static_cast<double>(fabric.link(Fabric::LinkOf(d)).capacity_bps);
        const double load = background_bps[d] + rate;
        path_max = std::max(path_max, cap <= 0 ? std::numeric_limits<double>::infinity()
                                               : load / cap);  // as Loads::UtilWith
      }
      best = std::min(best, path_max);
    }
    floor = std::max(floor, best);
  }
  return floor;
}

}  // namespace

absl::StatusOr<const JobPlacement*> Placement::PlaceJob(const JobSpec& spec) {
  if (jobs_.count(spec.id) > 0) {
    return absl::AlreadyExistsError(absl::StrCat("job '", spec.id, "' is already placed"));
  }
  auto demands = JobDemands(*fabric_, spec);
  if (!demands.ok()) return demands.status();

  JobPlacement job;
  job.spec = spec;
  LowerBound bound = PlacementLowerBound(*fabric_, link_status_, *demands);
  job.lower_bound = bound.max_utilisation;
  job.lower_bound_cut = bound.where;
  // Where improvement stops: the job-alone bound, or what the other jobs' load on the job's NIC
  // channels makes unavoidable (only with other jobs placed: a lone job keeps the old search).
  const double stop_at =
      jobs_.empty() ? job.lower_bound
                    : std::max(job.lower_bound, AccessFloor(*fabric_, load_bps_, *demands));

  std::vector<double> scratch = load_bps_;
  Loads loads{*fabric_, scratch};

  // Exact colouring when the fabric is a regular Clos with every link up and flows are not
  // split. Equal-rate jobs whose phases fit a link together (ring: 2 x rate/2) colour each phase
  // with one flow per link; otherwise (double tree: 8 phases x rate/4) the whole job is coloured
  // at once with as many flows per link as fit. What does not colour goes to the heuristic.
  std::vector<const FlowDemand*> heuristic;
  auto place_group = [&](const std::vector<const FlowDemand*>& group, int multiplicity,
                         int rotation) {
    size_t before = job.flows.size();
    if (!PlaceGroupExactly(*fabric_, *shape_, group, multiplicity, rotation, job.flows)) {
      return false;
    }
    for (size_t i = before; i < job.flows.size(); ++i) {
      loads.Add(job.flows[i].path, job.flows[i].rate_bps);
    }
    job.exact_flows += job.flows.size() - before;
    return true;
  };
  job.flows.reserve(demands->size() * static_cast<size_t>(spec.max_subflows));
  if (shape_ != nullptr && links_down_ == 0 && spec.max_subflows == 1 && !demands->empty()) {
    std::map<int, std::vector<const FlowDemand*>> phases;
    std::vector<const FlowDemand*> all;
    all.reserve(demands->size());
    const double rate = demands->front().rate_bps;
    bool equal_rates = true;
    for (const FlowDemand& d : *demands) {
      phases[d.phase].push_back(&d);
      all.push_back(&d);
      equal_rates &= std::abs(d.rate_bps - rate) <= kEps * rate;
    }
    bool done = false;
    if (equal_rates && phases.size() * rate > shape_->min_fabric_bps * (1 + kEps)) {
      const int multiplicity =
          std::max(1, static_cast<int>(std::floor(shape_->min_fabric_bps / rate + kEps)));
      if (static_cast<int64_t>(shape_->leaf_colours) * multiplicity <= 8192) {
        done = place_group(all, multiplicity, 0);
      }
    }
    if (!done) {
      for (auto& [phase, members] : phases) {
        if (!place_group(members, 1, phase)) {
          heuristic.insert(heuristic.end(), members.begin(), members.end());
        }
      }
    }
  } else {
    for (const FlowDemand& d : *demands) heuristic.push_back(&d);
  }

  // Heuristic: largest first, each (sub)flow on the least-loaded path.
  std::stable_sort(
      heuristic.begin(), heuristic.end(),
      [](const FlowDemand* a, const FlowDemand* b) { return a->rate_bps > b->rate_bps; });
  for (const FlowDemand* d : heuristic) {
    auto paths = UpDownPaths(*fabric_, link_status_, d->src, d->dst);
    if (!paths.ok()) {
      return absl::Status(paths.status().code(),
                          absl::StrCat(JobPrefix(spec), paths.status().message()));
    }
    const int parts = std::min<int>(spec.max_subflows, static_cast<int>(paths->size()));
    const double part_rate = d->rate_bps / parts;
    std::vector<const Path*> used;
    for (int s = 0; s < parts; ++s) {
      int best = LeastLoaded(loads, *paths, part_rate, used);
      PlacedFlow f;
      f.src = d->src;
      f.dst = d->dst;
      f.rate_bps = part_rate;
      f.subflow = s;
      f.phase = d->phase;
      f.path = (*paths)[best];
      loads.Add(f.path, part_rate);
      used.push_back(&(*paths)[best]);
      job.flows.push_back(std::move(f));
    }
  }
  // The busiest channel the job uses.
  auto busiest = [&]() {
    DirectedLinkId worst = -1;
    double worst_util = -1;
    for (const PlacedFlow& f : job.flows) {
      for (DirectedLinkId d : f.path.hops) {
        double u = loads.UtilWith(d, 0);
        if (u > worst_util) worst = d, worst_util = u;
      }
    }
    return worst;
  };
  DirectedLinkId worst = busiest();
  // Where the searches that only ever lower the job's maximum stop: stop_at, or the job's path
  // floor when that is higher (then they cannot change anything below it).
  double search_stop = stop_at;
  // Local improvement (also after colouring, which ignores the load of other jobs), unless the
  // job already meets its lower bound.
  if (worst >= 0 && loads.UtilWith(worst, 0) > stop_at + kEps) {
    ImproveLocally(*fabric_, link_status_, loads, job, stop_at);
    worst = busiest();
    if (spec.max_subflows == 1 && loads.UtilWith(worst, 0) > stop_at + kEps &&
        demands->size() <= kPathFloorMaxFlows) {
      search_stop = std::max(
          stop_at, PathFloor(*fabric_, link_status_, load_bps_, *demands, kPathFloorMaxPaths));
    }
    if (spec.max_subflows == 1 && loads.UtilWith(worst, 0) > search_stop + kEps) {
      ImproveByPotential(*fabric_, link_status_, loads, job, search_stop);
      worst = busiest();
    }
    if (spec.max_subflows == 1 && loads.UtilWith(worst, 0) > search_stop + kEps) {
      ImproveExactly(*fabric_, link_status_, loads, job, kExactMaxFlows, kExactBudgetMs);
      worst = busiest();
    }
  }
  // Colouring ignores the other jobs' load: on a busy fabric (fragmented tenants) it can stack a
  // job onto channels the others fill. When a coloured job ends above its bound with other jobs
  // present, place it again greedily around their load, improve that, and keep the better one.
  if (job.exact_flows > 0 && !jobs_.empty() && spec.max_subflows == 1 && worst >= 0 &&
      demands->size() <= kReplaceGreedilyMaxFlows &&
      loads.UtilWith(worst, 0) > search_stop + kEps) {
    std::vector<double> alt_scratch = load_bps_;
    Loads alt_loads{*fabric_, alt_scratch};
    JobPlacement alt;
    alt.spec = spec;
    std::vector<const FlowDemand*> order;
    for (const FlowDemand& d : *demands) order.push_back(&d);
    std::stable_sort(order.begin(), order.end(), [](const FlowDemand* a, const FlowDemand* b) {
      return a->rate_bps > b->rate_bps;
    });
    bool complete = true;
    for (const FlowDemand* d : order) {
      auto paths = UpDownPaths(*fabric_, link_status_, d->src, d->dst);
      if (!paths.ok()) {
        complete = false;
        break;
      }
      PlacedFlow f;
      f.src = d->src;
      f.dst = d->dst;
      f.rate_bps = d->rate_bps;
      f.phase = d->phase;
      f.path = (*paths)[LeastLoaded(alt_loads, *paths, d->rate_bps, {})];
      alt_loads.Add(f.path, f.rate_bps);
      alt.flows.push_back(std::move(f));
    }
    if (complete) {
      ImproveLocally(*fabric_, link_status_, alt_loads, alt, stop_at);
      ImproveByPotential(*fabric_, link_status_, alt_loads, alt, search_stop);
      double alt_max = 0;
      for (const PlacedFlow& f : alt.flows) {
        for (DirectedLinkId d : f.path.hops) alt_max = std::max(alt_max, alt_loads.UtilWith(d, 0));
      }
      if (alt_max < loads.UtilWith(worst, 0) - kEps) {
        job.flows = std::move(alt.flows);
        job.exact_flows = 0;
        scratch.swap(alt_scratch);  // `loads` refers to scratch: now the greedy job's loads
        worst = busiest();
      }
    }
  }
  // Deadlock gate: install the job's lossless paths one by one; a path that would close a cycle
  // is replaced by the least-loaded up-down path that does not.
  if (IsLossless(spec.traffic_class)) {
    const int priority = spec.traffic_class;
    bool rerouted = false;
    for (size_t i = 0; i < job.flows.size(); ++i) {
      PlacedFlow& f = job.flows[i];
      absl::Status added = Lossless().AddPath(f.path, priority);
      if (added.ok()) continue;
      bool placed = false;
      if (added.code() == absl::StatusCode::kFailedPrecondition) {
        auto paths = UpDownPaths(*fabric_, link_status_, f.src, f.dst);
        if (paths.ok()) {
          const Path old_path = f.path;
          std::vector<const Path*> tried = {&old_path};
          loads.Remove(f.path, f.rate_bps);
          for (int best; !placed && (best = LeastLoaded(loads, *paths, f.rate_bps, tried)) >= 0;) {
            if (Lossless().AddPath((*paths)[best], priority).ok()) {
              f.path = (*paths)[best];
              placed = rerouted = true;
            } else {
              tried.push_back(&(*paths)[best]);
            }
          }
          loads.Add(f.path, f.rate_bps);
        }
      }
      if (!placed) {
        ReleaseLossless(spec, job.flows, i);
        return absl::Status(added.code(), absl::StrCat(JobPrefix(spec), "flow ", i, " ('",
                                                       fabric_->node(f.src).name, "' -> '",
                                                       fabric_->node(f.dst).name,
                                                       "'): every up-down path "
                                                       "is refused; first: ",
                                                       added.message()));
      }
    }
    if (rerouted) worst = busiest();
  }
  job.max_link_load = worst < 0 ? 0 : loads.UtilWith(worst, 0);
  if (spec.strict && job.max_link_load > 1 + 1e-9) {
    ReleaseLossless(spec, job.flows, job.flows.size());
    return absl::ResourceExhaustedError(absl::StrFormat(
        "%sstrict placement refused: %s would carry %.0f%% of %.0f Gb/s", JobPrefix(spec),
        fabric_->DescribeDirected(worst), 100 * job.max_link_load, loads.Capacity(worst) / 1e9));
  }
  job.enforcement =
      spec.enforcement == Enforcement::kDefault ? options_.enforcement : spec.enforcement;
  if (job.enforcement == Enforcement::kSteer) {
    absl::Status steered = steering_ == nullptr
                               ? absl::FailedPreconditionError(
                                     "steering needs the switches' ECMP hash models, and none "
                                     "are configured")
                               : absl::OkStatus();
    if (steered.ok()) steered = SteerNewFlows(job);
    if (!steered.ok()) {
      ReleaseLossless(spec, job.flows, job.flows.size());
      return absl::Status(steered.code(),
                          absl::StrCat(JobPrefix(spec), "cannot steer: ", steered.message()));
    }
  }
  job.spec.enforcement = job.enforcement;  // stored resolved: a restart keeps the mode
  IndexJob(job, +1);
  std::vector<double> loads_before = std::move(load_bps_);
  load_bps_ = std::move(scratch);
  jobs_.Insert(spec.id, std::make_shared<JobPlacement>(std::move(job)));
  RefreshJobLoads(loads_before, {spec.id});
  return FindJob(spec.id);
}

void Placement::EnableSteering(HashModels models, SteeringOptions options) {
  absl::flat_hash_map<NodeId, uint32_t> learned;  // learned addresses outlive a change of models
  if (steering_ != nullptr) learned = steering_->learned_ipv4;
  steering_ =
      std::make_shared<const Steering>(Steering{std::move(models), options, std::move(learned)});
  groups_->groups.reset();  // rebuilt from link_status_ on first use
  std::vector<std::string> steered;
  for (const auto& [id, job] : jobs_) {
    if (job.enforcement == Enforcement::kSteer) steered.push_back(id);
  }
  // Pinned jobs carry no ports (Steer would leave them at 0): only steered ones change.
  for (const std::string& id : steered) {
    JobPlacement* job = MutableJob(id);
    for (PlacedFlow& f : job->flows) (void)Steer(*job, f);
  }
}

absl::Status Placement::Steer(const JobPlacement& job, PlacedFlow& flow) {
  if (job.enforcement != Enforcement::kSteer) {
    flow.udp_src_port = 0;
    return absl::OkStatus();
  }
  if (steering_ == nullptr) {
    flow.udp_src_port = 0;
    return absl::FailedPreconditionError("steering is not enabled");
  }
  SteeringOptions options = steering_->options;
  options.preferred_port = flow.udp_src_port;
  auto port = PortSearch().Find(Groups(), steering_->models, flow.path, SteeringAddress(flow.src),
                                SteeringAddress(flow.dst), options);
  const uint16_t old_port = flow.udp_src_port;
  flow.udp_src_port = port.ok() ? *port : 0;
  if (flow.udp_src_port != old_port && jobs_.count(job.spec.id) > 0) {
    port_changes_.push_back(
        {job.spec.id, static_cast<size_t>(&flow - job.flows.data()), old_port, flow.udp_src_port});
  }
  return port.status();
}

absl::Status Placement::SteerNewFlows(JobPlacement& job) {
  // Flows towards one destination leaf read that leaf's ECMP table: taken together, the table
  // stays in cache (a large job's groups do not fit: ~30% of the search was cache misses).
  // The ports do not depend on the order; the error reported is the lowest failing flow's.
  std::vector<std::pair<NodeId, size_t>> order;
  order.reserve(job.flows.size());
  for (size_t i = 0; i < job.flows.size(); ++i) {
    const Path& path = job.flows[i].path;
    order.emplace_back(path.hops.empty() ? topology::kNoNode : fabric_->Tail(path.hops.back()), i);
  }
  std::sort(order.begin(), order.end());
  absl::Status first_error;
  size_t first_failed = job.flows.size();
  for (const auto& [leaf, i] : order) {
    if (i > first_failed) continue;  // a lower flow failed already: the job is refused
    absl::Status steered = Steer(job, job.flows[i]);
    // A switch the path oracle failed or did not probe for this pair: the flow is pinned.
    if (steered.code() == absl::StatusCode::kUnavailable) continue;
    if (!steered.ok() && i < first_failed) {
      first_failed = i;
      first_error = absl::Status(steered.code(), absl::StrCat("flow ", i, ": ", steered.message()));
    }
  }
  return first_error;
}

uint32_t Placement::SteeringAddress(NodeId nic) const {
  if (nic < 0 || nic >= static_cast<NodeId>(fabric_->nodes().size())) return 0;
  if (fabric_->node(nic).ipv4 != 0) return fabric_->node(nic).ipv4;
  if (steering_ == nullptr) return 0;
  auto it = steering_->learned_ipv4.find(nic);
  return it == steering_->learned_ipv4.end() ? 0 : it->second;
}

size_t Placement::SetLearnedAddress(NodeId nic, uint32_t ipv4) {
  if (steering_ == nullptr || nic < 0 || nic >= static_cast<NodeId>(fabric_->nodes().size()) ||
      !fabric_->node(nic).is_nic() || fabric_->node(nic).ipv4 != 0) {
    return 0;
  }
  const uint32_t before = SteeringAddress(nic);
  if (before == ipv4) return 0;
  // Steering state is shared with published copies: change a copy of it (addresses change rarely).
  auto changed = std::make_shared<Steering>(*steering_);
  if (ipv4 == 0) {
    changed->learned_ipv4.erase(nic);
  } else {
    changed->learned_ipv4[nic] = ipv4;
  }
  steering_ = std::move(changed);
  std::vector<std::string> affected;
  for (const auto& [id, job] : jobs_) {
    if (job.enforcement != Enforcement::kSteer) continue;
    for (const PlacedFlow& f : job.flows) {
      if (f.src == nic || f.dst == nic) {
        affected.push_back(id);
        break;
      }
    }
  }
  size_t resteered = 0;
  for (const std::string& id : affected) {
    JobPlacement* job = MutableJob(id);
    for (PlacedFlow& f : job->flows) {
      if (f.src != nic && f.dst != nic) continue;
      (void)Steer(*job, f);  // no port (no address any more): the flow falls back to a pin
      ++resteered;
    }
  }
  return resteered;
}

std::vector<PortChange> Placement::TakePortChanges() {
  // One entry per flow: its port before the first change and after the last (a flow re-steered
  // in passing, e.g. when its group shrank before it moved, may have changed twice).
  std::vector<PortChange> out;
  std::map<std::pair<std::string, size_t>, size_t> index;
  for (PortChange& change : port_changes_) {
    auto [it, added] = index.emplace(std::make_pair(change.job_id, change.flow_index), out.size());
    if (added) {
      out.push_back(std::move(change));
    } else {
      out[it->second].new_udp_src_port = change.new_udp_src_port;
    }
  }
  port_changes_.clear();
  out.erase(
      std::remove_if(out.begin(), out.end(),
                     [](const PortChange& c) { return c.old_udp_src_port == c.new_udp_src_port; }),
      out.end());
  return out;
}

absl::Status Placement::RemoveJob(const std::string& job_id) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return absl::NotFoundError(absl::StrCat("no job '", job_id, "'"));
  const JobPlacement& job = (*it).second;
  std::vector<double> loads_before = load_bps_;
  Loads loads{*fabric_, load_bps_};
  for (const PlacedFlow& f : job.flows) loads.Remove(f.path, f.rate_bps);
  ReleaseLossless(job.spec, job.flows, job.flows.size());
  IndexJob(job, -1);
  jobs_.Erase(job_id);
  RefreshJobLoads(loads_before, {});
  return absl::OkStatus();
}

absl::StatusOr<const JobPlacement*> Placement::RestoreJob(JobPlacement job) {
  const JobSpec& spec = job.spec;
  if (jobs_.count(spec.id) > 0) {
    return absl::AlreadyExistsError(absl::StrCat("job '", spec.id, "' is already placed"));
  }
  if (auto demands = JobDemands(*fabric_, spec); !demands.ok()) return demands.status();
  for (size_t i = 0; i < job.flows.size(); ++i) {
    const PlacedFlow& f = job.flows[i];
    const bool endpoints_ok = f.src >= 0 && f.dst >= 0 &&
                              f.src < static_cast<NodeId>(fabric_->nodes().size()) &&
                              f.dst < static_cast<NodeId>(fabric_->nodes().size());
    if (!endpoints_ok || !JoinsWithoutLoop(*fabric_, f.path, f.src, f.dst)) {
      return absl::InvalidArgumentError(
          absl::StrCat(JobPrefix(spec), "flow ", i, ": path does not join its endpoints"));
    }
    const std::string where = FlowName(*fabric_, spec.id, i, f);
    for (DirectedLinkId d : f.path.hops) {
      if (!link_status_.IsUp(Fabric::LinkOf(d))) {
        return absl::FailedPreconditionError(
            absl::StrCat(where, ": link ", fabric_->DescribeLink(Fabric::LinkOf(d)), " is down"));
      }
    }
    if (!options_.allow_bounce_paths && !IsValleyFree(*fabric_, f.path, f.src, f.dst)) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": path is not up-down"));
    }
  }
  if (IsLossless(spec.traffic_class)) {
    for (size_t i = 0; i < job.flows.size(); ++i) {
      absl::Status added = Lossless().AddPath(job.flows[i].path, spec.traffic_class);
      if (!added.ok()) {
        ReleaseLossless(spec, job.flows, i);
        return absl::Status(added.code(), absl::StrCat(FlowName(*fabric_, spec.id, i, job.flows[i]),
                                                       ": ", added.message()));
      }
    }
  }
  job.enforcement =
      spec.enforcement == Enforcement::kDefault ? options_.enforcement : spec.enforcement;
  std::vector<double> loads_before = load_bps_;
  Loads loads{*fabric_, load_bps_};
  for (const PlacedFlow& f : job.flows) loads.Add(f.path, f.rate_bps);
  IndexJob(job, +1);
  const std::string id = spec.id;
  jobs_.Insert(id, std::make_shared<JobPlacement>(std::move(job)));
  RefreshJobLoads(loads_before, {id});
  return FindJob(id);
}

absl::StatusOr<LinkChangeResult> Placement::SetLinkUp(LinkId link, bool up) {
  if (link < 0 || link >= static_cast<LinkId>(fabric_->links().size())) {
    return absl::InvalidArgumentError(absl::StrCat("no link ", link));
  }
  LinkChangeResult result;
  if (link_status_.IsUp(link) == up) return result;
  // The group model is built from link_status_ on first use: before the change, so the change
  // below is seen as one.
  EcmpGroups* groups = steering_ != nullptr ? &Groups() : nullptr;
  link_status_.SetUp(link, up);
  links_down_ += up ? -1 : 1;
  if (groups != nullptr) {
    // Groups that gained or lost a member hash differently: re-steer the flows through them.
    EcmpGroupsUpdate update = groups->SetLinkUp(link, up);
    absl::flat_hash_set<std::pair<NodeId, NodeId>> changed;
    for (const EcmpGroup& g : update.changed) changed.insert({g.switch_id, g.destination});
    std::vector<std::pair<std::string, size_t>> resteer;
    for (const auto& [id, job] : jobs_) {
      if (job.enforcement != Enforcement::kSteer) continue;  // pinned jobs carry no ports
      for (size_t i = 0; i < job.flows.size(); ++i) {
        const PlacedFlow& f = job.flows[i];
        if (f.path.hops.empty()) continue;
        const NodeId dst_leaf = fabric_->Tail(f.path.hops.back());
        for (DirectedLinkId d : f.path.hops) {
          if (changed.contains({fabric_->Tail(d), dst_leaf})) {
            resteer.emplace_back(id, i);
            break;
          }
        }
      }
    }
    for (const auto& [id, i] : resteer) {
      JobPlacement* job = MutableJob(id);
      (void)Steer(*job, job->flows[i]);  // no port: the flow falls back to a pin
    }
  }
  if (up) return result;

  // The flows that cross the link, found on the shared jobs; a job is copied (copy on write)
  // only when one of its flows is touched.
  std::vector<std::pair<std::string, size_t>> crossing;
  for (const auto& [id, job] : jobs_) {
    for (size_t i = 0; i < job.flows.size(); ++i) {
      for (DirectedLinkId d : job.flows[i].path.hops) {
        if (Fabric::LinkOf(d) == link) {
          crossing.emplace_back(id, i);
          break;
        }
      }
    }
  }
  std::vector<double> loads_before = load_bps_;
  std::vector<std::string> moved_jobs;
  Loads loads{*fabric_, load_bps_};
  for (const auto& [id, i] : crossing) {
    const PlacedFlow& shared = jobs_.at(id).flows[i];
    auto paths = UpDownPaths(*fabric_, link_status_, shared.src, shared.dst);
    if (!paths.ok()) {
      result.unplaced.push_back({id, i, "no surviving path"});
      continue;
    }
    JobPlacement& job = *MutableJob(id);
    const bool lossless = IsLossless(job.spec.traffic_class);
    const int priority = job.spec.traffic_class;
    PlacedFlow& f = job.flows[i];
    loads.Remove(f.path, f.rate_bps);
    if (lossless) Lossless().RemovePath(f.path, priority);
    // Least loaded first, avoiding the sibling sub-flows' paths if possible; a lossless flow
    // skips paths that would close a PFC cycle.
    std::vector<const Path*> tried;
    std::string refusal;
    int best = -1;
    for (bool avoid_siblings : {true, false}) {
      std::vector<const Path*> exclude = tried;
      if (avoid_siblings) {
        std::vector<const Path*> siblings = SiblingPaths(job, i);
        exclude.insert(exclude.end(), siblings.begin(), siblings.end());
      }
      for (int c; best < 0 && (c = LeastLoaded(loads, *paths, f.rate_bps, exclude)) >= 0;) {
        absl::Status added =
            lossless ? Lossless().AddPath((*paths)[c], priority) : absl::OkStatus();
        if (added.ok()) {
          best = c;
        } else {
          if (refusal.empty()) refusal = std::string(added.message());
          tried.push_back(&(*paths)[c]);
          exclude.push_back(&(*paths)[c]);
        }
      }
      if (best >= 0) break;
    }
    if (best < 0) {
      // Put the old path back: the graph returns to what it was, so this cannot close a cycle.
      if (lossless) (void)Lossless().AddPath(f.path, priority);
      loads.Add(f.path, f.rate_bps);
      result.unplaced.push_back({id, i, refusal});
      continue;
    }
    FlowMove move{id, i, f.path, (*paths)[best]};
    IndexPath(id, f.path, -1);
    f.path = (*paths)[best];
    IndexPath(id, f.path, +1);
    FlowsOnChannels().SetFlowPath(id, i, f.path.hops);
    (void)Steer(job, f);  // no port: the flow falls back to a pin
    loads.Add(f.path, f.rate_bps);
    moved_jobs.push_back(id);
    result.moves.push_back(std::move(move));
  }
  RefreshJobLoads(loads_before, moved_jobs);
  if (!result.unplaced.empty()) {
    std::vector<std::string> names;
    for (const UnplacedFlow& u : result.unplaced) {
      if (names.size() == 5) {
        names.push_back("...");
        break;
      }
      const PlacedFlow& f = jobs_.at(u.job_id).flows[u.flow_index];
      names.push_back(absl::StrCat(FlowName(*fabric_, u.job_id, u.flow_index, f), ": ", u.reason));
    }
    result.unplaced_error = absl::FailedPreconditionError(
        absl::StrCat("link ", fabric_->DescribeLink(link), " down: ", result.unplaced.size(),
                     " flows left without an acceptable path (", absl::StrJoin(names, "; "), "); ",
                     result.moves.size(), " other flows moved"));
  }
  return result;
}

absl::Status Placement::MoveFlow(const std::string& job_id, size_t flow_index,
                                 const Path& new_path) {
  const JobPlacement* shared = FindJob(job_id);
  if (shared == nullptr) return absl::NotFoundError(absl::StrCat("no job '", job_id, "'"));
  if (flow_index >= shared->flows.size()) {
    return absl::InvalidArgumentError(absl::StrCat("job '", job_id, "' has no flow ", flow_index));
  }
  const PlacedFlow& f = shared->flows[flow_index];
  const std::string where = FlowName(*fabric_, job_id, flow_index, f);
  if (!JoinsWithoutLoop(*fabric_, new_path, f.src, f.dst)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": new path is not a loop-free path between its endpoints"));
  }
  for (DirectedLinkId d : new_path.hops) {
    if (!link_status_.IsUp(Fabric::LinkOf(d))) {
      return absl::FailedPreconditionError(
          absl::StrCat(where, ": link ", fabric_->DescribeLink(Fabric::LinkOf(d)), " is down"));
    }
  }
  // The deadlock gate before the shape check: a cyclic bounce is refused for its cycle.
  const JobSpec& spec = shared->spec;
  const bool lossless = IsLossless(spec.traffic_class);
  if (lossless) {
    Lossless().RemovePath(f.path, spec.traffic_class);
    if (absl::Status added = Lossless().AddPath(new_path, spec.traffic_class); !added.ok()) {
      (void)Lossless().AddPath(f.path, spec.traffic_class);  // back as it was: cannot fail
      return absl::Status(added.code(), absl::StrCat(where, ": ", added.message()));
    }
  }
  if (!options_.allow_bounce_paths && !IsValleyFree(*fabric_, new_path, f.src, f.dst)) {
    if (lossless) {
      Lossless().RemovePath(new_path, spec.traffic_class);
      (void)Lossless().AddPath(f.path, spec.traffic_class);
    }
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": new path is not an up-down path (PlacementOptions::allow_bounce_paths is off)"));
  }
  JobPlacement& job = *MutableJob(job_id);  // `shared`, `f` and `spec` may be stale from here
  PlacedFlow& flow = job.flows[flow_index];
  std::vector<double> loads_before = load_bps_;
  Loads loads{*fabric_, load_bps_};
  loads.Remove(flow.path, flow.rate_bps);
  IndexPath(job_id, flow.path, -1);
  flow.path = new_path;
  IndexPath(job_id, flow.path, +1);
  FlowsOnChannels().SetFlowPath(job_id, flow_index, flow.path.hops);
  (void)Steer(job, flow);  // no port: the flow falls back to a pin
  loads.Add(flow.path, flow.rate_bps);
  RefreshJobLoads(loads_before, {job_id});
  return absl::OkStatus();
}

}  // namespace pulse::controller
