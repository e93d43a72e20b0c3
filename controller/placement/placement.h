// Placement of GPU collective traffic onto up-down paths so that no link is oversubscribed.
//
// A job is a set of NIC-to-NIC flow demands (from a collective pattern or an explicit list).
// Placement picks one path per (sub)flow, minimising the maximum link utilisation given the load
// of jobs already placed. It is incremental: placing a job never moves another job's flows,
// removing a job frees its load, and a link failure moves only the flows that crossed the link.
//
// Placement is a plain value owned by one thread (the controller's state owner); copy it to hand
// an immutable snapshot to readers. A copy is cheap and independent: jobs are shared immutable
// objects (a change replaces the changed job, copy on write), and the owner's private indexes
// (PFC dependency graph, ECMP groups for steering, jobs by link) are not shared with copies,
// which rebuild them on first use.
#ifndef PULSE_CONTROLLER_PLACEMENT_PLACEMENT_H_
#define PULSE_CONTROLLER_PLACEMENT_PLACEMENT_H_

#include <cstdint>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "controller/paths/ecmp_groups.h"
#include "controller/paths/ecmp_hash.h"
#include "controller/paths/paths.h"
#include "controller/paths/steering.h"
#include "controller/placement/channel_flows.h"
#include "controller/placement/collectives.h"
#include "controller/placement/lossless_graph.h"
#include "topology/fabric.h"

namespace pulse::controller {

// How a job's paths are held in the fabric.
enum class Enforcement {
  kDefault,  // the placement's default (PlacementOptions::enforcement)
  // Switch rules pin each flow (IPv4 pair) to its path: needs per-flow state in the switches.
  kPin,
  // The switches keep plain ECMP; each flow's UDP source port makes their hash follow its path
  // (steering.h). No per-flow rule; the hosts send from the assigned ports.
  kSteer,
};
absl::string_view EnforcementName(Enforcement enforcement);  // "default", "pin", "steer"
absl::StatusOr<Enforcement> ParseEnforcement(absl::string_view name);

// What a scheduler asks for.
struct JobSpec {
  std::string id;
  // Endpoints as GPU ids ("server-3/gpu-1") or NIC ids ("server-3/nic-1"), in rank order.
  std::vector<std::string> endpoints;
  CollectivePattern pattern = CollectivePattern::kRing;
  // Used when pattern == kExplicit: flows between endpoint names.
  std::vector<ExplicitFlow> explicit_flows;
  // Rate of each flow; 0 means the sending NIC's line rate.
  double rate_bps = 0;
  int traffic_class = 3;  // the lossless RoCE class by default
  // Strict: refuse (ResourceExhausted naming the bottleneck link) rather than push any link
  // above 100% utilisation.
  bool strict = false;
  // Split each flow over up to this many sub-flows (QPs), each on its own path.
  int max_subflows = 1;
  Enforcement enforcement = Enforcement::kDefault;
};

// One placed (sub)flow.
struct PlacedFlow {
  NodeId src = topology::kNoNode;  // NIC
  NodeId dst = topology::kNoNode;  // NIC
  double rate_bps = 0;
  int subflow = 0;  // index among the sub-flows of one demand
  int phase = 0;    // the permutation phase this flow belongs to (see FlowDemand::phase)
  Path path;
  // UDP source port that steers this flow onto `path` under the fabric's ECMP hash model, for
  // flows of steered jobs; 0 for pinned jobs, or when a move found no port (then a rule pins it).
  uint16_t udp_src_port = 0;
};

struct JobPlacement {
  JobSpec spec;
  // The enforcement in force (spec.enforcement resolved against the placement's default).
  Enforcement enforcement = Enforcement::kPin;
  std::vector<PlacedFlow> flows;
  // Max utilisation (load / capacity) over the links this job crosses, counting all jobs.
  double max_link_load = 0;
  // A lower bound on any placement's max utilisation for this job alone (lower_bound.h), and the
  // cut that gives it.
  double lower_bound = 0;
  std::string lower_bound_cut;
  // How many of `flows` were placed by exact edge colouring (the rest by the heuristic).
  size_t exact_flows = 0;
  // The bus bandwidth the job was predicted to reach when it was placed
  // (controller/placement/flow_sim.h), set by the controller after placement; computed is false
  // when it was not simulated.
  struct Bandwidth {
    bool computed = false;
    double predicted_busbw_fraction = 0;
    double ecmp_busbw_fraction = 0;
    double ideal_seconds = 0;
    double predicted_seconds = 0;
    double ecmp_seconds = 0;
    int ecmp_qps = 0;
  } bandwidth;
};

using JobPtr = std::shared_ptr<const JobPlacement>;

// Placed jobs by id, in id order, each a shared immutable JobPlacement. Iterating yields
// (id, const JobPlacement&) pairs, as a std::map<std::string, JobPlacement> would.
//
// A persistent map: the sorted entries are held in chunks of at most kMaxChunk, each chunk
// shared by every copy of the map until one of them changes it (copy on write). Copying the map
// (publishing a snapshot) copies one pointer per chunk, not per job; a change copies one chunk.
// ChangedJobs skips the chunks two versions share, so comparing a snapshot with the next costs
// about the changed chunks, not the jobs.
class JobMap {
 public:
  using Entry = std::pair<std::string, JobPtr>;
  static constexpr size_t kMaxChunk = 64;

  class const_iterator {
   public:
    using value_type = std::pair<const std::string&, const JobPlacement&>;
    using reference = value_type;
    using difference_type = std::ptrdiff_t;
    using iterator_category = std::bidirectional_iterator_tag;
    struct Arrow {
      value_type value;
      const value_type* operator->() const { return &value; }
    };
    using pointer = Arrow;

    const_iterator() = default;
    value_type operator*() const { return {entry().first, *entry().second}; }
    Arrow operator->() const { return Arrow{**this}; }
    const_iterator& operator++() {
      if (++index_ == (*chunks_)[chunk_]->size()) ++chunk_, index_ = 0;
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator old = *this;
      ++*this;
      return old;
    }
    const_iterator& operator--() {
      if (index_ == 0) {
        --chunk_;
        index_ = (*chunks_)[chunk_]->size();
      }
      --index_;
      return *this;
    }
    bool operator==(const const_iterator& o) const {
      return chunk_ == o.chunk_ && index_ == o.index_;
    }
    bool operator!=(const const_iterator& o) const { return !(*this == o); }
    // The shared job itself (to keep it beyond this map, or compare versions by identity).
    const JobPtr& ptr() const { return entry().second; }

   private:
    friend class JobMap;
    friend std::vector<std::string> ChangedJobs(const JobMap& before, const JobMap& after);
    using Chunks = std::vector<std::shared_ptr<std::vector<Entry>>>;
    const_iterator(const Chunks* chunks, size_t chunk, size_t index)
        : chunks_(chunks), chunk_(chunk), index_(index) {}
    const Entry& entry() const { return (*(*chunks_)[chunk_])[index_]; }
    const Chunks* chunks_ = nullptr;
    size_t chunk_ = 0;
    size_t index_ = 0;
  };
  using iterator = const_iterator;

  JobMap() = default;
  // Copies share every chunk; the iterators of one map never walk another's chunk list.
  JobMap(const JobMap&) = default;
  JobMap& operator=(const JobMap&) = default;
  JobMap(JobMap&& o) noexcept : chunks_(std::move(o.chunks_)), size_(o.size_) {
    o.chunks_.clear();
    o.size_ = 0;
  }
  JobMap& operator=(JobMap&& o) noexcept {
    chunks_ = std::move(o.chunks_);
    size_ = o.size_;
    o.chunks_.clear();
    o.size_ = 0;
    return *this;
  }

  const_iterator begin() const { return const_iterator(&chunks_, 0, 0); }
  const_iterator end() const { return const_iterator(&chunks_, chunks_.size(), 0); }
  const_iterator find(const std::string& id) const;
  // The first job whose id is not less than `id`.
  const_iterator lower_bound(const std::string& id) const;
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t count(const std::string& id) const { return find(id) == end() ? 0 : 1; }
  const JobPlacement& at(const std::string& id) const;
  // The shared job, or null.
  JobPtr FindPtr(const std::string& id) const {
    auto it = find(id);
    return it == end() ? nullptr : it.ptr();
  }

 private:
  friend class Placement;
  friend std::vector<std::string> ChangedJobs(const JobMap& before, const JobMap& after);
  using Chunk = std::vector<Entry>;
  // Adds a job under a new id (false: the id is taken, nothing changes).
  bool Insert(const std::string& id, JobPtr job);
  // Removes a job (false: unknown id).
  bool Erase(const std::string& id);
  // The slot of a job in a chunk only this map holds (copied first when shared), or null. The
  // job itself may still be shared: the caller copies it before changing it.
  JobPtr* MutableSlot(const std::string& id);
  // The chunk that holds `id` if it is anywhere: the first whose last id is not less than it.
  size_t ChunkFor(const std::string& id) const;
  Chunk& OwnChunk(size_t chunk);

  const_iterator::Chunks chunks_;  // non-empty, sorted, in id order
  size_t size_ = 0;
};

// The ids of jobs that differ between two versions of a placement's jobs: added, removed, or
// replaced (a job changed by copy on write is a new object, so unchanged jobs compare equal by
// identity). Cost: the chunks the two versions do not share, plus a pointer compare per chunk.
std::vector<std::string> ChangedJobs(const JobMap& before, const JobMap& after);

// The fabric demands of a job: its collective expanded over its endpoints, or its explicit flows
// resolved to NICs (pairs on one server ride NVLink and are dropped). Validates the spec the way
// PlaceJob does (InvalidArgument naming the job and the bad field).
absl::StatusOr<std::vector<FlowDemand>> JobDemands(const Fabric& fabric, const JobSpec& spec);

// A flow that moved because a link failed or came back.
struct FlowMove {
  std::string job_id;
  size_t flow_index = 0;  // index into JobPlacement::flows
  Path old_path;
  Path new_path;
};

// A steered flow whose UDP source port changed (its path moved, or an ECMP group on its path
// changed members): the host must re-point the flow's QP to the new port. new 0: no port
// steers the flow any more and a switch rule pins it instead.
struct PortChange {
  std::string job_id;
  size_t flow_index = 0;
  uint16_t old_udp_src_port = 0;
  uint16_t new_udp_src_port = 0;
};

// A flow that a link change left without any acceptable path: it keeps its old path.
struct UnplacedFlow {
  std::string job_id;
  size_t flow_index = 0;  // index into JobPlacement::flows
  std::string reason;     // "no surviving path" or the PFC cycle every candidate would close
};

// What SetLinkUp did. The moves were applied even when some flows are unplaced, so the caller
// must program them either way.
struct LinkChangeResult {
  std::vector<FlowMove> moves;
  std::vector<UnplacedFlow> unplaced;
  // OK when `unplaced` is empty; otherwise FailedPrecondition naming the link and up to five
  // unplaced flows (for logs and API errors).
  absl::Status unplaced_error;
};

struct PlacementOptions {
  // Traffic classes that are lossless (PFC): their paths must keep the buffer dependency graph
  // acyclic. Classes outside 0..7 are ignored.
  std::vector<int> lossless_priorities = {3, 4};
  // MoveFlow accepts any loop-free path over up links (e.g. a bounce leaf->spine->leaf->spine->
  // leaf around failures), not only up-down ones; the deadlock gate still applies.
  bool allow_bounce_paths = false;
  // Enforcement of jobs whose spec says kDefault. kSteer needs EnableSteering.
  Enforcement enforcement = Enforcement::kPin;
};

// The regular Clos structure exact (edge-colouring) placement relies on; see placement.cc.
struct ClosShape;

class Placement {
 public:
  explicit Placement(std::shared_ptr<const Fabric> fabric, PlacementOptions options = {});

  // A copy that may be changed freely: dry runs, what-if failures, node advice. Every copy is
  // detached now (jobs copy on write, private indexes are rebuilt by the copy on first use); kept
  // for the callers that say so.
  Placement DetachedCopy() const { return *this; }

  const Fabric& fabric() const { return *fabric_; }
  std::shared_ptr<const Fabric> fabric_ptr() const { return fabric_; }

  // Host-side steering: from now on every flow of a steered job (Enforcement::kSteer) placed or
  // moved gets the UDP source port that makes the switches' own ECMP hashing (`models`) follow
  // its path (steering.h); ports already assigned are recomputed. Without it steered jobs are
  // refused. The port search costs about (ECMP width) hashes per flow. The ECMP group model it
  // keeps is private to this Placement (copies rebuild theirs when they steer).
  void EnableSteering(HashModels models, SteeringOptions options = {});
  bool steering_enabled() const { return steering_ != nullptr; }
  // The port changes of placed steered flows since the last call (oldest first), and forgets
  // them. Placing a job records none: its ports are new, not changed.
  std::vector<PortChange> TakePortChanges();
  const HashModels* hash_models() const {
    return steering_ == nullptr ? nullptr : &steering_->models;
  }
  // The address a NIC without one in the fabric model was learned under (host discovery,
  // controller/paths/hosts.h); 0 forgets it. Steered flows hash with the address the controller
  // serves (the model's, else this one), so the placed steered flows from or to `nic` are
  // re-steered when it changes: their port changes are recorded (TakePortChanges); a flow whose
  // NIC has no address any more gets port 0 (a pin). A steered job with an end whose address is
  // not known is refused (FailedPrecondition naming the NIC). Ignored for a NIC with a model
  // address, or not a NIC; kept across EnableSteering, dropped while steering is off. Returns
  // how many flows were re-steered.
  size_t SetLearnedAddress(NodeId nic, uint32_t ipv4);
  // The address steering hashes `nic`'s flows with: the model's, else the learned one, else 0.
  uint32_t SteeringAddress(NodeId nic) const;

  // Places a new job. Errors: InvalidArgument for a bad spec (unknown endpoint, flow to itself,
  // rate <= 0 given explicitly, duplicate endpoints...), AlreadyExists for a known id,
  // FailedPrecondition when two endpoints have no path, ResourceExhausted in strict mode when a
  // link would exceed 100% (the message names the link and its load). A job of a lossless class
  // whose chosen path for a flow would close a PFC buffer dependency cycle with the installed
  // lossless paths gets the next best path that does not; FailedPrecondition naming the cycle
  // when none exists. On error nothing changes.
  absl::StatusOr<const JobPlacement*> PlaceJob(const JobSpec& spec);

  // Frees a job's load. NotFound for an unknown id.
  absl::Status RemoveJob(const std::string& job_id);

  // Installs a job exactly as it was placed before (restart from the state store): same paths,
  // same UDP source ports. Each path must still join its flow's NICs over up links, be up-down
  // (unless allow_bounce_paths) and keep the lossless graph acyclic; otherwise an error naming
  // the flow (the caller re-places the job with PlaceJob). AlreadyExists for a placed id. On
  // error nothing changes. `strict` is not re-checked: the job was accepted before.
  absl::StatusOr<const JobPlacement*> RestoreJob(JobPlacement job);

  // Marks a link down or up. Down: every flow crossing it moves to the least-loaded surviving
  // path that keeps the lossless graph acyclic; flows that cross no failed link stay. Up: nothing
  // moves (placements stay stable; use MoveFlow or re-place a job to use the link again).
  // Returns the moves made and the flows left unplaced (they keep their old path); the moves
  // are applied even when some flows are unplaced. Error: InvalidArgument for a link id out of
  // range (nothing changes).
  absl::StatusOr<LinkChangeResult> SetLinkUp(topology::LinkId link, bool up);

  // Moves one flow of a job to a new path (telemetry-driven re-placement). The path must join
  // the flow's endpoints over up links (InvalidArgument / FailedPrecondition), must not close a
  // PFC cycle when the job is lossless (FailedPrecondition naming the cycle; checked before the
  // shape so a cyclic bounce is explained as such), and must be up-down unless
  // PlacementOptions::allow_bounce_paths (InvalidArgument). On error nothing changes.
  absl::Status MoveFlow(const std::string& job_id, size_t flow_index, const Path& new_path);

  // Whether traffic class `traffic_class` is lossless under this placement's options.
  bool IsLossless(int traffic_class) const;
  // Changes which traffic classes are lossless (the QoS policy in force decides, see
  // controller.h): the dependency graph is rebuilt from every placed flow of a class lossless
  // under `priorities`. FailedPrecondition naming the flow and the cycle when the placed paths of
  // the newly lossless classes would close a PFC buffer dependency cycle; then nothing changes.
  // Copies made before keep the old graph (each copy has its own).
  absl::Status SetLosslessPriorities(std::vector<int> priorities);
  const std::vector<int>& lossless_priorities() const { return options_.lossless_priorities; }
  // The dependency graph of every installed lossless path (all flows of lossless jobs). A copy
  // (a published snapshot) builds its own on the first call (thread-safe), from its jobs.
  const LosslessGraph& lossless_graph() const { return Lossless(); }

  const JobPlacement* FindJob(const std::string& job_id) const;
  // Records a job's bandwidth prediction (no effect on placement). NotFound for an unknown id.
  absl::Status SetBandwidth(const std::string& job_id, const JobPlacement::Bandwidth& bandwidth);
  const JobMap& jobs() const { return jobs_; }
  // Ids, in id order, of the jobs with a flow crossing one of `channels`. Uses the owner's
  // jobs-by-channel index when it is built (the state owner's Placement), else scans every job.
  std::vector<std::string> JobsCrossing(const absl::flat_hash_set<DirectedLinkId>& channels) const;
  const LinkStatus& link_status() const { return link_status_; }
  // The placed flows by channel with sorted rates (channel_flows.h), kept by the Placement that
  // changes jobs (the state owner); null in a copy that has changed none since it was made.
  const ChannelFlows* channel_flows() const { return channel_flows_->flows.get(); }

  // Planned load on a directed channel in bits per second, and as a fraction of capacity.
  double LoadBps(DirectedLinkId link) const { return load_bps_[link]; }
  double Utilisation(DirectedLinkId link) const;
  double MaxUtilisation() const;

 private:
  // A member a copy of its Placement does not share: the copy starts from a fresh T (owner-only
  // indexes that copies rebuild on first use; nothing mutable is reachable from a snapshot).
  template <typename T>
  class FreshOnCopy {
   public:
    FreshOnCopy() : value_(std::make_unique<T>()) {}
    FreshOnCopy(const FreshOnCopy&) : FreshOnCopy() {}
    FreshOnCopy& operator=(const FreshOnCopy&) {
      value_ = std::make_unique<T>();
      return *this;
    }
    FreshOnCopy(FreshOnCopy&&) noexcept = default;
    FreshOnCopy& operator=(FreshOnCopy&&) noexcept = default;
    T* operator->() const { return value_.get(); }
    T& operator*() const { return *value_; }

   private:
    std::unique_ptr<T> value_;
  };

  std::shared_ptr<const Fabric> fabric_;
  LinkStatus link_status_;
  std::vector<double> load_bps_;  // indexed by DirectedLinkId
  JobMap jobs_;
  // The job to change, copied first when a snapshot shares it (copy on write). Null: no job.
  JobPlacement* MutableJob(const std::string& job_id);
  // Job loads incrementally: recomputes max_link_load of the jobs crossing a channel whose load
  // differs from `loads_before`, and of `also` (jobs whose paths changed).
  void RefreshJobLoads(const std::vector<double>& loads_before,
                       const std::vector<std::string>& also);
  // Jobs by channel (hops of their flows crossing it), for RefreshJobLoads. Built on first use,
  // then kept in step by every change of jobs or paths.
  struct JobsByChannel {
    bool built = false;
    std::vector<absl::flat_hash_map<std::string, int>> hops;  // by DirectedLinkId
  };
  FreshOnCopy<JobsByChannel> jobs_by_channel_;
  JobsByChannel& JobsOnChannels();
  // The flow summaries for bandwidth predictions, built with the jobs-by-channel index and kept
  // in step with it.
  struct ChannelFlowsCache {
    std::unique_ptr<ChannelFlows> flows;
  };
  FreshOnCopy<ChannelFlowsCache> channel_flows_;
  ChannelFlows& FlowsOnChannels();
  void IndexPath(const std::string& job_id, const Path& path, int delta);
  void IndexJob(const JobPlacement& job, int delta);
  // Sets udp_src_port of a flow of a steered job, keeping its current port while it still
  // steers; 0 (and the error) when none does. Does nothing for pinned jobs.
  absl::Status Steer(const JobPlacement& job, PlacedFlow& flow);
  // Steer for every flow of a job being placed; the error names the lowest failing flow.
  absl::Status SteerNewFlows(JobPlacement& job);

  struct Steering {
    HashModels models;
    SteeringOptions options;
    absl::flat_hash_map<NodeId, uint32_t> learned_ipv4;  // SetLearnedAddress
  };
  std::shared_ptr<const Steering> steering_;  // null: steering off; immutable, shared by copies
  // The ECMP group model steering searches and the port search's kept selectors (both cache
  // lazily, so they are never shared): built on first use, the groups from link_status_.
  struct GroupsCache {
    std::unique_ptr<EcmpGroups> groups;
    std::unique_ptr<SteeringPortSearch> search;
  };
  FreshOnCopy<GroupsCache> groups_;
  EcmpGroups& Groups();
  SteeringPortSearch& PortSearch();
  std::vector<PortChange> port_changes_;  // since the last TakePortChanges

  PlacementOptions options_;
  // The PFC dependency graph of the placed lossless paths. Private to each Placement: a copy
  // builds its own from its jobs on first use (copying it per snapshot would cost O(edges)).
  struct LosslessCache {
    std::once_flag built;
    std::unique_ptr<LosslessGraph> graph;
  };
  FreshOnCopy<LosslessCache> lossless_;
  LosslessGraph& Lossless() const;
  // Removes the lossless paths of `flows` (the first `count` of them) from the graph.
  void ReleaseLossless(const JobSpec& spec, const std::vector<PlacedFlow>& flows, size_t count);

  std::shared_ptr<const ClosShape> shape_;  // null: the fabric is irregular, no exact colouring
  int links_down_ = 0;
};

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_PLACEMENT_PLACEMENT_H_
