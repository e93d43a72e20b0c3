// The controller core: the one owner of the fabric's run-time state.
//
// FBOSS-style: all state (placement of jobs, link and switch state, drains) is changed on ONE
// thread, a boost::asio::io_context run by a thread the Controller owns. Public methods may be
// called from any thread: they post the change to that thread and answer through a callback (run
// on the controller thread, so it must not block) or a std::future. Readers never lock the state:
// they take snapshot(), an immutable ControllerSnapshot swapped in whole after every change.
//
// Southbound drivers plug in on both sides:
//   - feed the core: OnLinkStatus(link, up), OnSwitchConnected(switch), OnSwitchLost(switch);
//   - follow it: AddForwardingObserver(fn) is called (on the controller thread) with the old and
//     new snapshot whenever placed flows may have changed, to program the difference;
//     AddQosObserver(fn) with the QoS policy and plan whenever they change (qos_state.h).
//
// The QoS policy is state like any other: SetQosPolicy is leader-gated and persisted like
// PlaceJob ("qos/policy" = the policy's YAML), replicated through ApplyStoreUpdate and restored
// by Create()/Reload(); placement's lossless classes are the policy's lossless priorities.
//
// Durability: with a StateStore, every job is written ("jobs/<id>" = serialized pulse.v1.JobSpec)
// before the request is acknowledged, with its exact flows and paths ("placements/<id>",
// placement_record.h), drains as "drains/<switch>" and the event sequence high-water mark
// ("meta/event_seq"), and learned host addresses ("hosts/<NIC>", controller/paths/hosts.h);
// Create() restores them: every job on its stored paths when they are still valid (else placed
// afresh, logged), and sequences resume above the mark.
#ifndef PULSE_CONTROLLER_CONTROLLER_H_
#define PULSE_CONTROLLER_CONTROLLER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/post.hpp"
#include "controller/events.h"
#include "controller/paths/hosts.h"
#include "controller/placement/flow_sim.h"
#include "controller/placement/placement.h"
#include "controller/qos_state.h"
#include "controller/store/store.h"
#include "topology/fabric.h"

namespace pulse::controller {

// An immutable view of the controller state at one moment. Never changes once published.
struct ControllerSnapshot {
  explicit ControllerSnapshot(std::shared_ptr<const Fabric> f, PlacementOptions options = {})
      : fabric(f), placement(f, options) {}

  std::shared_ptr<const Fabric> fabric;
  // Jobs, their flows, planned link loads, and which links are usable (up and not drained).
  Placement placement;
  std::vector<bool> link_up;           // physical state by LinkId, as the switches report it
  std::vector<bool> switch_connected;  // by NodeId (false for NICs)
  std::vector<bool> switch_drained;    // by NodeId (false for NICs)
  std::vector<bool> link_isolated;     // by LinkId: taken out by the health supervisor
  uint64_t event_sequence = 0;         // last event folded into this snapshot
  QosStatePtr qos;                     // the QoS policy in force and its plan; never null
  // Addresses learned from NICs' traffic (the model's are in `fabric`). Never null; replaced, not
  // changed, when the table changes.
  std::shared_ptr<const HostTable> hosts = std::make_shared<const HostTable>();

  bool LinkUsable(topology::LinkId link) const { return placement.link_status().IsUp(link); }
};
using SnapshotPtr = std::shared_ptr<const ControllerSnapshot>;

struct ControllerOptions {
  size_t event_ring_size = 4096;  // events kept for WatchEvents resume
  size_t max_jobs = 10000;        // PlaceJob beyond this is ResourceExhausted
  StateStore* store = nullptr;    // not owned; nullptr: nothing is persisted
  // Cluster mode (controller/cluster/replica.h): asked before every store write; non-OK (e.g.
  // Unavailable "follower; the leader is ...") refuses the request with that status. Empty: always
  // write.
  std::function<absl::Status()> write_gate;
  // Placement defaults: Enforcement::kPin or kSteer for jobs that do not choose.
  PlacementOptions placement;
  // The switches' ECMP hash models (controller/paths/ecmp_hash.h HashModelsFromIntent). Set: flows
  // of steered jobs get UDP source ports; unset: steered jobs are refused.
  std::optional<HashModels> hash_models;
  // Range of UDP source ports steering may assign.
  SteeringOptions steering;
  // The QoS policy at start, as YAML ("" : DefaultQosPolicy()), named `qos_policy_source` in
  // errors. A policy stored under kQosPolicyStoreKey wins: it is the last one an admin set. A
  // given policy that does not validate or plan on the fabric fails Create(); the built-in
  // default that does not fit the fabric leaves QoS off (QosState::plan null, logged).
  std::string qos_policy_yaml;
  std::string qos_policy_source = "start-up policy";
  // The bus-bandwidth prediction made after each placement (controller/placement/flow_sim.h). Its
  // cost is about (connections x ecmp_qps x ecmp_seeds) flows simulated; jobs over max_connections
  // are not simulated. predict_bandwidth = false skips it.
  bool predict_bandwidth = true;
  BandwidthOptions bandwidth = {/*ecmp_qps=*/4, /*ecmp_seeds=*/2, /*ecmp_qps_share_message=*/true,
                                /*seed=*/1, /*max_connections=*/4096};
};

struct PlaceJobResult {
  JobPlacement job;
  uint64_t event_sequence = 0;  // the JOB_PLACED event
};

struct DrainResult {
  int flows_moved = 0;
  int links_affected = 0;  // links whose usability changed
  uint64_t event_sequence = 0;
};

template <typename T>
using Reply = std::function<void(absl::StatusOr<T>)>;

// One flow to put on a new path (telemetry-driven re-placement,
// controller/telemetry/telemetry_loop.h).
struct FlowMoveRequest {
  std::string job_id;
  size_t flow_index = 0;  // index into JobPlacement::flows
  Path new_path;
};

struct MoveFlowsResult {
  std::vector<FlowMove> moved;
  // Requests Placement::MoveFlow refused, each "job#flow: reason"; those flows keep their path.
  std::vector<std::string> refused;
};

class Controller {
 public:
  // Builds the state for `fabric`, restores jobs and drains from options.store (if any) and
  // starts the controller thread. Errors: a store that cannot be read or holds undecodable data.
  static absl::StatusOr<std::unique_ptr<Controller>> Create(std::shared_ptr<const Fabric> fabric,
                                                            ControllerOptions options = {});
  // Stops the thread; work still queued is dropped, its callbacks are not called.
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // The latest published state. Cheap; safe from any thread.
  SnapshotPtr snapshot() const;
  const Fabric& fabric() const { return *fabric_; }
  // The event log (thread-safe).
  EventLog& events() { return events_; }

  // --- Requests (northbound). Callbacks run on the controller thread. ---
  // Places a job (see Placement::PlaceJob for errors) after persisting it; ResourceExhausted when
  // max_jobs are placed.
  void PlaceJob(JobSpec spec, Reply<PlaceJobResult> done);
  // Deletes a job; the reply is the JOB_DELETED event's sequence. NotFound for an unknown id.
  void DeleteJob(std::string job_id, Reply<uint64_t> done);
  // Makes every link of a switch unusable for placement and moves the flows crossing it.
  // NotFound: no such switch; InvalidArgument: a NIC; FailedPrecondition: already drained, or some
  // flow had no other path (the switch stays drained, those flows stay).
  void DrainSwitch(std::string switch_name, Reply<DrainResult> done);
  // Undoes DrainSwitch (links that are physically up become usable). FailedPrecondition if the
  // switch is not drained.
  void UndrainSwitch(std::string switch_name, Reply<DrainResult> done);

  // Lossless health (controller/health/health_actions.h): takes a link out of placement while it
  // stays physically up (isolated) and moves the flows crossing it, like a link down; or returns
  // it (usable again when physically up and neither end is drained; flows do not move back).
  // Emits LINK_ISOLATED / LINK_RETURNED (subject the link, detail `reason`) and JOB_MOVED per job.
  // Not persisted: after a restart the supervisor decides again from fresh counters. Errors:
  // InvalidArgument (no such link), FailedPrecondition (already in that state; or isolated but
  // some flows have no other path: they stay), the write gate's status (a follower does not act).
  void IsolateLink(topology::LinkId link, bool isolated, std::string reason,
                   Reply<DrainResult> done);
  // Appends a HEALTH_INCIDENT event (subject e.g. "incident 3", detail its description).
  void ReportHealthIncident(std::string subject, std::string detail);
  // The path oracle (daemon/oracle_runtime.h): replaces the switches' ECMP hash models steering
  // uses (Placement::EnableSteering with the configured port range); placed steered flows are
  // re-steered, those whose port changed emit JOB_MOVED with the port changes (reason `reason`),
  // and flows through a switch whose model carries a failure fall back to pins. Then appends one
  // event per entry of `switch_events` (SWITCH_NOT_STEERABLE / SWITCH_STEERABLE: subject, detail).
  struct SwitchEvent {
    EventType type = EventType::kSwitchNotSteerable;
    std::string subject;
    std::string detail;
  };
  void SetHashModels(HashModels models, std::string reason,
                     std::vector<SwitchEvent> switch_events = {});

  // Moves flows onto new paths (Placement::MoveFlow each; a refused one is reported in the result
  // and the others still move), emits JOB_MOVED per job with `reason`, persists the moved jobs and
  // publishes (forwarding follows through the observers). Error only when the write gate refuses
  // (a follower): then nothing moves.
  void MoveFlows(std::vector<FlowMoveRequest> requests, std::string reason,
                 Reply<MoveFlowsResult> done);

  // Parses, validates and plans a QoS policy (qos_state.h PlanQosState) and, unless `dry_run`,
  // puts it in force: placement's lossless classes become its lossless priorities, it is
  // persisted under kQosPolicyStoreKey (write gate first, like PlaceJob) and QoS observers are
  // told. Errors (the old policy stays): the validator's message ("qos policy refused: ..."),
  // FailedPrecondition when placed flows of a class it makes lossless would close a PFC cycle
  // (also on a dry run), the write gate's status, the store's status ("not persisted").
  void SetQosPolicy(std::string yaml_text, bool dry_run, Reply<QosPolicyChange> done);

  // The same as futures, for code that may block (tests, tools).
  std::future<absl::StatusOr<QosPolicyChange>> SetQosPolicy(std::string yaml_text, bool dry_run);
  std::future<absl::StatusOr<MoveFlowsResult>> MoveFlows(std::vector<FlowMoveRequest> requests,
                                                         std::string reason);
  std::future<absl::StatusOr<PlaceJobResult>> PlaceJob(JobSpec spec);
  std::future<absl::StatusOr<uint64_t>> DeleteJob(std::string job_id);
  std::future<absl::StatusOr<DrainResult>> DrainSwitch(std::string switch_name);
  std::future<absl::StatusOr<DrainResult>> UndrainSwitch(std::string switch_name);
  std::future<absl::StatusOr<DrainResult>> IsolateLink(topology::LinkId link, bool isolated,
                                                       std::string reason);

  // A deep copy of the state (Placement::DetachedCopy), made on the controller thread and handed
  // to `done` there, for dry runs that change it freely (validate-only placement, what-if
  // failures, node advice); nothing done to the copy reaches the controller.
  void CopyState(Reply<std::shared_ptr<ControllerSnapshot>> done);

  // --- Southbound hooks: any thread, fire-and-forget. ---
  // A link's physical state. Down moves the flows crossing it; both emit LINK_DOWN / LINK_UP (and
  // JOB_MOVED per job whose flows moved). Repeated reports of the same state are ignored.
  void OnLinkStatus(topology::LinkId link, bool up);
  void OnSwitchConnected(topology::NodeId switch_node);
  void OnSwitchLost(topology::NodeId switch_node);
  // The latest judgement of LLDP discovery against the intent (`description` one line per
  // difference). Emits DISCOVERY_MISMATCH (subject "fabric", detail `description`) when cabling
  // starts to differ or differs in a new way, and once more (detail "no differences") when it
  // matches again; a fabric that matches from the start emits nothing. Safe to call every probe.
  void OnDiscoveryResult(bool matches_intent, std::string description);
  // An ARP or IPv4 packet from `ipv4`/`mac` arrived on the leaf port the intent cables `nic` to
  // (host discovery, controller/paths/hosts.h). A new or moved binding is persisted
  // ("hosts/<NIC>"), emits HOST_LEARNED / HOST_MOVED and changes forwarding; a new conflict emits
  // HOST_CONFLICT and changes nothing else. Repeats only refresh the last-seen time. Steered
  // flows hash with the served address (the intent's, else the learned one): a learned or moved
  // binding re-steers the flows at the NICs it touches, emitting JOB_MOVED with their new UDP
  // source ports (port 0: the NIC has no address any more, the flow is pinned).
  void OnHostSeen(topology::NodeId nic, uint32_t ipv4, uint64_t mac);

  // Called on the controller thread after every change that may alter forwarding (job placed,
  // deleted or moved; link or drain changes), with the snapshots before and after. Observers must
  // not block; they are never removed (register before traffic starts).
  using ForwardingObserver =
      std::function<void(const SnapshotPtr& before, const SnapshotPtr& after)>;
  void AddForwardingObserver(ForwardingObserver observer);
  // Called on the controller thread with the QoS state in force when registered, then whenever
  // it changes (set here, set on another replica, or reloaded), so an observer sees every plan
  // in order. Same rules as forwarding observers: must not block (a switch driver posts the work
  // to its own thread), never removed.
  using QosObserver = std::function<void(const QosStatePtr& qos)>;
  void AddQosObserver(QosObserver observer);

  // Resolves once everything posted before it has run: a barrier for tests and shutdown.
  std::future<void> Sync();

  // --- Replication (cluster mode, controller/cluster/replica.h). Nothing here writes to the store.
  // --- Rebuilds jobs, drains and learned hosts from the store (a new leader taking over, a
  // follower catching up), keeping physical link state; then runs `then` on the controller thread
  // (e.g. open the write gate) before any request posted later. If the store cannot be read the
  // state is left exactly as it was (never emptied or partial), `then` does not run, and the error
  // is returned.
  std::future<absl::Status> Reload(std::function<void()> then = nullptr);
  // Folds one batch another replica wrote (a StateStore watch update) into the state: jobs placed
  // on their stored paths, deleted, moved; drains. Updates at or below the revision this state
  // already reflects (own writes, or covered by a Reload) are skipped.
  void ApplyStoreUpdate(StoreWatchUpdate update);
  // The store revision Create() restored from: where a follower's watch starts.
  int64_t restored_store_revision() const { return restored_store_revision_; }

 private:
  Controller(std::shared_ptr<const Fabric> fabric, ControllerOptions options);
  absl::Status Restore();
  // An empty state with the configured placement options (and steering).
  std::shared_ptr<ControllerSnapshot> NewState() const;
  void Publish(bool forwarding_changed);
  // Simulates a just-placed job's bus bandwidth and records it on the job (a failed or skipped
  // simulation leaves it not computed; placement itself never fails for it).
  void RecordBandwidth(const std::string& job_id);
  // Predictions go stale when other traffic changes on a job's links: a job placed or removed,
  // flows moved (link failure, drain, congestion). The jobs crossing `channels` are marked (not
  // `except`, just predicted) and re-simulated by tasks posted after the change, up to 16 jobs a
  // task; a task stops early when a request is waiting (requests go first, each waits for one
  // job's simulation at most), and the predictions are published once per task or with the
  // request's own snapshot; several changes in a row cost one refresh per job.
  void MarkBandwidthStale(const std::vector<DirectedLinkId>& channels,
                          const std::string& except = "");
  void RefreshStaleBandwidth();
  std::set<std::string> bandwidth_stale_;  // controller thread
  bool bandwidth_refresh_posted_ = false;
  bool bandwidth_unpublished_ = false;  // predictions made since the last Publish
  // Requests posted and not yet started (PostCommand); refresh tasks give way to them.
  std::atomic<int> commands_waiting_{0};
  // Posts a request to the controller thread, counted in commands_waiting_ until it starts.
  template <typename Handler>
  void PostCommand(Handler handler) {
    commands_waiting_.fetch_add(1, std::memory_order_relaxed);
    boost::asio::post(io_, [this, handler = std::move(handler)]() mutable {
      commands_waiting_.fetch_sub(1, std::memory_order_relaxed);
      handler();
    });
  }
  // Brings a link's usability in Placement in line with physical state and drains; adds the
  // moves made to `moves` and returns false if it changed nothing.
  bool SyncLinkUsability(topology::LinkId link, std::vector<FlowMove>* moves,
                         absl::Status* first_error);
  void EmitJobMoves(const std::vector<FlowMove>& moves, const std::string& reason);
  // Hands `nic`'s learned address (state_->hosts) to the placement's steering; returns whether
  // any steered flow was looked at again (its port changes wait in TakePortChanges).
  bool SyncLearnedAddress(topology::NodeId nic);
  absl::Status Persist(const WriteBatch& batch);
  absl::StatusOr<topology::NodeId> FindSwitch(const std::string& name) const;
  absl::StatusOr<DrainResult> DoDrain(const std::string& switch_name, bool drain);
  // Puts `qos` in force in the working state (placement's lossless classes first; on error
  // nothing changes) and tells the QoS observers.
  absl::Status AdoptQos(QosStatePtr qos);
  // The policy found in the store (restore, replication): put in force unless it is the one in
  // force already; a policy that does not plan or fit is logged and the one in force stays.
  void AdoptStoredQos(const std::string& yaml_text);

  const std::shared_ptr<const Fabric> fabric_;
  const ControllerOptions options_;
  EventLog events_;

  // Owned by the controller thread.
  std::shared_ptr<ControllerSnapshot> state_;  // the working copy, copied into each snapshot
  std::vector<ForwardingObserver> observers_;
  std::vector<QosObserver> qos_observers_;
  uint64_t event_seq_reserved_ = 0;  // the persisted "meta/event_seq" high-water mark
  int64_t store_revision_ = 0;       // the store revision the state reflects (controller thread)
  int64_t restored_store_revision_ = 0;  // set once in Create()
  // Job endpoints given as IPv4 addresses become the NIC names serving them (model or learned),
  // so the job is stored independent of what was learned. InvalidArgument for an unknown one.
  absl::Status ResolveAddressEndpoints(JobSpec& spec) const;
  int64_t last_host_refresh_publish_ms_ = 0;  // refreshes publish at most once a second
  bool discovery_mismatch_ = false;           // the last DISCOVERY_MISMATCH reported differences
  std::string discovery_description_;         // ... and these

  mutable std::mutex snapshot_mu_;  // guards only the pointer swap
  SnapshotPtr published_;

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_CONTROLLER_H_
