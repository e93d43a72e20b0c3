#include "controller/controller.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include <chrono>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/post.hpp"
#include "common/log.h"
#include "common/thread_name.h"
#include "controller/paths/addressing.h"
#include "controller/store/placement_record.h"

namespace pulse::controller {
namespace {

constexpr absl::string_view kJobKeyPrefix = "jobs/";
constexpr absl::string_view kDrainKeyPrefix = "drains/";
constexpr absl::string_view kPlacementKeyPrefix = "placements/";  // placement_record.h
constexpr absl::string_view kHostKeyPrefix = "hosts/";            // hosts.h: learned bindings

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
// The event sequence high-water mark, reserved in blocks so that not every event is a write:
// after a restart sequences resume above it and never go backwards.
constexpr absl::string_view kEventSeqKey = "meta/event_seq";
constexpr uint64_t kEventSeqBlock = 1024;

template <typename T>
std::pair<Reply<T>, std::future<absl::StatusOr<T>>> PromiseReply() {
  auto promise = std::make_shared<std::promise<absl::StatusOr<T>>>();
  auto future = promise->get_future();
  return {[promise](absl::StatusOr<T> result) { promise->set_value(std::move(result)); },
          std::move(future)};
}

// Every channel a job's flows cross (with repeats).
std::vector<DirectedLinkId> JobChannels(const JobPlacement& job) {
  std::vector<DirectedLinkId> out;
  for (const PlacedFlow& flow : job.flows) {
    out.insert(out.end(), flow.path.hops.begin(), flow.path.hops.end());
  }
  return out;
}

// Placement::SetLinkUp reports its moves either as a plain list or as a result that also names
// flows left without a path (moves applied all the same); accept both.
[[maybe_unused]] void CollectMoves(const std::vector<FlowMove>& moved, std::vector<FlowMove>* moves,
                                   absl::Status*) {
  moves->insert(moves->end(), moved.begin(), moved.end());
}
template <typename Result>
auto CollectMoves(const Result& result, std::vector<FlowMove>* moves, absl::Status* first_error)
    -> decltype(result.moves, result.unplaced_error, void()) {
  moves->insert(moves->end(), result.moves.begin(), result.moves.end());
  if (!result.unplaced_error.ok() && first_error->ok()) *first_error = result.unplaced_error;
}

// Whether two placements of one job put the same flows on the same paths and ports.
bool SameFlows(const JobPlacement& a, const JobPlacement& b) {
  if (a.flows.size() != b.flows.size()) return false;
  for (size_t i = 0; i < a.flows.size(); ++i) {
    const PlacedFlow& x = a.flows[i];
    const PlacedFlow& y = b.flows[i];
    if (x.src != y.src || x.dst != y.dst || x.rate_bps != y.rate_bps || !(x.path == y.path) ||
        x.udp_src_port != y.udp_src_port || x.subflow != y.subflow || x.phase != y.phase) {
      return false;
    }
  }
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

Controller::Controller(std::shared_ptr<const Fabric> fabric, ControllerOptions options)
    : fabric_(std::move(fabric)),
      options_(options),
      events_(options.event_ring_size),
      state_(NewState()),
      work_(boost::asio::make_work_guard(io_)) {
  state_->link_up.assign(fabric_->links().size(), true);
  state_->switch_connected.assign(fabric_->nodes().size(), false);
  state_->switch_drained.assign(fabric_->nodes().size(), false);
  state_->link_isolated.assign(fabric_->links().size(), false);
  published_ = std::make_shared<const ControllerSnapshot>(*state_);
}

std::shared_ptr<ControllerSnapshot> Controller::NewState() const {
  auto state = std::make_shared<ControllerSnapshot>(fabric_, options_.placement);
  if (options_.hash_models)
    state->placement.EnableSteering(*options_.hash_models, options_.steering);
  return state;
}

absl::StatusOr<std::unique_ptr<Controller>> Controller::Create(std::shared_ptr<const Fabric> fabric,
                                                               ControllerOptions options) {
  if (fabric == nullptr) return absl::InvalidArgumentError("Controller::Create: no fabric");
  // The QoS policy first: restored jobs are checked against its lossless classes.
  absl::StatusOr<QosState> qos =
      PlanQosState(*fabric, options.qos_policy_yaml, absl::StrCat(options.qos_policy_source, ": "));
  if (!qos.ok()) {
    if (!options.qos_policy_yaml.empty()) return qos.status();
    Log(LogLevel::kWarning,
        "QoS off: the default policy does not fit this fabric: ", qos.status().message());
    qos = QosState{};
    qos->policy = DefaultQosPolicy();
  }
  std::unique_ptr<Controller> controller(new Controller(std::move(fabric), options));
  if (absl::Status status = controller->AdoptQos(std::make_shared<const QosState>(*std::move(qos)));
      !status.ok()) {
    return status;  // no job is placed yet: cannot happen
  }
  // Restore before the thread starts: nothing else can touch the state yet.
  if (absl::Status status = controller->Restore(); !status.ok()) return status;
  controller->restored_store_revision_ = controller->store_revision_;
  controller->Publish(false);
  controller->thread_ = std::thread([c = controller.get()] {
    pulse::NameThisThread("pulse-state");
    c->io_.run();
  });
  return controller;
}

Controller::~Controller() {
  work_.reset();
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

absl::Status Controller::Restore() {
  if (options_.store == nullptr) return absl::OkStatus();
  absl::StatusOr<StoreSnapshot> stored = options_.store->LoadAll();
  if (!stored.ok()) {
    return absl::Status(stored.status().code(),
                        absl::StrCat("restoring state: ", stored.status().message()));
  }
  int jobs = 0, drains = 0, replaced = 0;
  store_revision_ = stored->revision;
  // The policy an admin set last, before any job: it decides which classes are lossless.
  if (auto it = stored->entries.find(std::string(kQosPolicyStoreKey));
      it != stored->entries.end()) {
    AdoptStoredQos(it->second);
  }
  if (auto it = stored->entries.find(std::string(kEventSeqKey)); it != stored->entries.end()) {
    uint64_t mark = 0;
    if (!absl::SimpleAtoi(it->second, &mark)) {
      return absl::DataLossError(absl::StrCat("restoring ", kEventSeqKey, ": not a number"));
    }
    events_.ResumeAfter(mark);
    event_seq_reserved_ = mark;
  }
  for (const auto& [key, value] : stored->entries) {
    if (absl::StartsWith(key, kDrainKeyPrefix)) {
      std::string name = key.substr(kDrainKeyPrefix.size());
      absl::StatusOr<DrainResult> result = DoDrain(name, true);
      if (!result.ok()) {
        Log(LogLevel::kWarning, "restoring ", key, ": ", result.status().message());
      } else {
        ++drains;
      }
    }
  }
  int hosts = 0;
  {
    auto table = std::make_shared<HostTable>();
    for (const auto& [key, value] : stored->entries) {
      if (!absl::StartsWith(key, kHostKeyPrefix)) continue;
      absl::StatusOr<HostEntry> entry =
          DecodeHostEntry(*fabric_, key.substr(kHostKeyPrefix.size()), value);
      if (!entry.ok()) {
        // A NIC the fabric no longer has, or a damaged value: learn it again from traffic.
        Log(LogLevel::kWarning, "restoring ", key, ": ", entry.status().message());
        continue;
      }
      table->Put(*entry);
      ++hosts;
    }
    state_->hosts = std::move(table);
    // Before the jobs: steered ports were computed with these addresses.
    for (const auto& [nic, entry] : state_->hosts->entries()) (void)SyncLearnedAddress(nic);
  }
  // Exactly as acknowledged first (placements/<id>), so those jobs get their old links; jobs whose
  // record is missing or no longer valid are placed afresh afterwards.
  std::vector<JobSpec> to_place;
  // Records a controller before the private storage format wrote (pulse.v1 values) are rewritten
  // in the current format once they decode.
  WriteBatch migration;
  int migrated = 0;
  for (const auto& [key, value] : stored->entries) {
    if (!absl::StartsWith(key, kJobKeyPrefix)) continue;
    absl::StatusOr<JobSpec> spec = DecodeJobRecord(value, key);
    if (!spec.ok()) {
      return absl::DataLossError(absl::StrCat("restoring ", spec.status().message()));
    }
    if (!IsCurrentRecordFormat(value)) {
      migration.Put(key, EncodeJobRecord(*spec));
      ++migrated;
    }
    const std::string record_key = absl::StrCat(kPlacementKeyPrefix, spec->id);
    auto record = stored->entries.find(record_key);
    if (record == stored->entries.end()) {
      Log(LogLevel::kWarning, "restoring ", key, ": no stored placement, placing afresh");
      to_place.push_back(*std::move(spec));
      continue;
    }
    absl::StatusOr<JobPlacement> job = DecodePlacementRecord(*fabric_, record->second, record_key);
    std::string rewritten;
    if (job.ok() && !IsCurrentRecordFormat(record->second)) {
      rewritten = EncodePlacementRecord(*fabric_, *job);
    }
    absl::Status restored = job.status();
    if (job.ok()) restored = state_->placement.RestoreJob(*std::move(job)).status();
    if (!restored.ok()) {
      Log(LogLevel::kWarning, "restoring ", key,
          ": stored paths not valid, placing afresh: ", restored.message());
      to_place.push_back(*std::move(spec));
      continue;
    }
    if (!rewritten.empty()) {
      migration.Put(record_key, std::move(rewritten));
      ++migrated;
    }
    ++jobs;
  }
  if (migrated > 0) {
    if (absl::Status status = Persist(migration); status.ok()) {
      Log(LogLevel::kInfo, "restoring: rewrote ", migrated,
          " job/placement records from the old pulse.v1 values in the storage format version ",
          static_cast<int>(kRecordFormatVersion));
    } else {
      Log(LogLevel::kWarning, "restoring: ", migrated,
          " job/placement records stay in the old pulse.v1 format for now (read as before): ",
          status.message());
    }
  }
  for (const JobSpec& spec : to_place) {
    absl::StatusOr<const JobPlacement*> placed = state_->placement.PlaceJob(spec);
    if (!placed.ok()) {
      // The fabric may have changed under a stored job: keep running, say so loudly.
      Log(LogLevel::kError, "restoring job ", spec.id,
          ": cannot place: ", placed.status().message());
      continue;
    }
    // Record the new paths, so the next restart keeps them.
    if (absl::Status status = Persist(WriteBatch().Put(absl::StrCat(kPlacementKeyPrefix, spec.id),
                                                       EncodePlacementRecord(*fabric_, **placed)));
        !status.ok()) {
      Log(LogLevel::kError, "restoring job ", spec.id, ": ", status.message());
    }
    ++replaced;
  }
  Log(LogLevel::kInfo, "restored ", jobs, " jobs on their stored paths, ", replaced,
      " placed afresh, ", drains, " drains, ", hosts, " learned hosts, events resume after ",
      events_.last_sequence(), ", from ", options_.store->Describe());
  return absl::OkStatus();
}

SnapshotPtr Controller::snapshot() const {
  std::lock_guard<std::mutex> lock(snapshot_mu_);
  return published_;
}

void Controller::Publish(bool forwarding_changed) {
  bandwidth_unpublished_ = false;  // the snapshot below carries every prediction made
  state_->event_sequence = events_.last_sequence();
  if (options_.store != nullptr && (!options_.write_gate || options_.write_gate().ok()) &&
      state_->event_sequence + kEventSeqBlock / 2 > event_seq_reserved_) {
    const uint64_t mark = state_->event_sequence + kEventSeqBlock;
    if (Persist(WriteBatch().Put(kEventSeqKey, absl::StrCat(mark))).ok()) {
      event_seq_reserved_ = mark;
    } else {
      Log(LogLevel::kError, "cannot persist ", kEventSeqKey,
          "; event sequences may repeat after a restart");
    }
  }
  auto next = std::make_shared<const ControllerSnapshot>(*state_);
  SnapshotPtr before;
  {
    std::lock_guard<std::mutex> lock(snapshot_mu_);
    before = std::move(published_);
    published_ = next;
  }
  if (forwarding_changed) {
    for (const auto& observer : observers_) observer(before, next);
  }
}

absl::Status Controller::Persist(const WriteBatch& batch) {
  if (options_.store == nullptr || batch.empty()) return absl::OkStatus();
  if (options_.write_gate) {
    if (absl::Status gate = options_.write_gate(); !gate.ok()) return gate;
  }
  absl::StatusOr<int64_t> revision = options_.store->Apply(batch);
  if (!revision.ok()) {
    return absl::UnavailableError(
        absl::StrCat("state store refused the write: ", revision.status().message()));
  }
  store_revision_ = std::max(store_revision_, *revision);  // its watch echo is skipped
  return absl::OkStatus();
}

void Controller::PlaceJob(JobSpec spec, Reply<PlaceJobResult> done) {
  PostCommand([this, spec = std::move(spec), done = std::move(done)]() mutable {
    if (state_->placement.jobs().size() >= options_.max_jobs &&
        state_->placement.FindJob(spec.id) == nullptr) {
      done(absl::ResourceExhaustedError(
          absl::StrCat("job limit reached: ", options_.max_jobs, " jobs are placed")));
      return;
    }
    if (absl::Status status = ResolveAddressEndpoints(spec); !status.ok()) {
      done(status);
      return;
    }
    absl::StatusOr<const JobPlacement*> placed = state_->placement.PlaceJob(spec);
    if (!placed.ok()) {
      done(placed.status());
      return;
    }
    if (options_.predict_bandwidth) RecordBandwidth(spec.id);
    PlaceJobResult result{*state_->placement.FindJob(spec.id), 0};
    if (options_.store != nullptr) {
      WriteBatch batch;
      batch.Put(absl::StrCat(kJobKeyPrefix, spec.id), EncodeJobRecord(spec));
      batch.Put(absl::StrCat(kPlacementKeyPrefix, spec.id),
                EncodePlacementRecord(*fabric_, **placed));
      if (absl::Status status = Persist(batch); !status.ok()) {
        // Not durable, so not placed: undo before anyone saw it.
        (void)state_->placement.RemoveJob(spec.id);
        done(status);
        return;
      }
    }
    result.event_sequence = events_.Append(
        EventType::kJobPlaced, spec.id,
        absl::StrCat(result.job.flows.size(), " flows, max link load ", result.job.max_link_load));
    Publish(true);
    MarkBandwidthStale(JobChannels(result.job), spec.id);
    done(std::move(result));
  });
}

void Controller::RecordBandwidth(const std::string& job_id) {
  auto prediction = PredictJobBandwidth(state_->placement, job_id, options_.bandwidth);
  if (!prediction.ok() || !prediction->computed) {
    (void)state_->placement.SetBandwidth(job_id, {});  // an old prediction would mislead
    return;
  }
  JobPlacement::Bandwidth bw;
  bw.computed = true;
  bw.predicted_busbw_fraction = prediction->predicted_busbw_fraction;
  bw.ecmp_busbw_fraction = prediction->ecmp_busbw_fraction;
  bw.ideal_seconds = prediction->ideal_seconds;
  bw.predicted_seconds = prediction->predicted_seconds;
  bw.ecmp_seconds = prediction->ecmp_seconds;
  bw.ecmp_qps = prediction->ecmp_qps;
  (void)state_->placement.SetBandwidth(job_id, bw);
}

void Controller::DeleteJob(std::string job_id, Reply<uint64_t> done) {
  PostCommand([this, job_id = std::move(job_id), done = std::move(done)] {
    if (state_->placement.FindJob(job_id) == nullptr) {
      done(absl::NotFoundError(absl::StrCat("no job with id '", job_id, "'")));
      return;
    }
    WriteBatch batch;
    batch.Delete(absl::StrCat(kJobKeyPrefix, job_id));
    batch.Delete(absl::StrCat(kPlacementKeyPrefix, job_id));
    if (absl::Status status = Persist(batch); !status.ok()) {
      done(status);
      return;
    }
    const std::vector<DirectedLinkId> freed = JobChannels(*state_->placement.FindJob(job_id));
    if (absl::Status status = state_->placement.RemoveJob(job_id); !status.ok()) {
      done(status);
      return;
    }
    uint64_t sequence = events_.Append(EventType::kJobDeleted, job_id, "");
    Publish(true);
    MarkBandwidthStale(freed);
    done(sequence);
  });
}

absl::StatusOr<topology::NodeId> Controller::FindSwitch(const std::string& name) const {
  absl::StatusOr<topology::NodeId> node = fabric_->FindNode(name);
  if (!node.ok()) return absl::NotFoundError(absl::StrCat("no switch named '", name, "'"));
  if (!fabric_->node(*node).is_switch()) {
    return absl::InvalidArgumentError(absl::StrCat("'", name, "' is a NIC, not a switch"));
  }
  return *node;
}

bool Controller::SyncLinkUsability(topology::LinkId link, std::vector<FlowMove>* moves,
                                   absl::Status* first_error) {
  const topology::Link& l = fabric_->link(link);
  bool usable = state_->link_up[link] && !state_->link_isolated[link] &&
                !state_->switch_drained[l.a.node] && !state_->switch_drained[l.b.node];
  if (state_->placement.link_status().IsUp(link) == usable) return false;
  auto moved = state_->placement.SetLinkUp(link, usable);
  if (moved.ok()) {
    CollectMoves(*moved, moves, first_error);
  } else if (first_error->ok()) {
    *first_error = moved.status();
  }
  return true;
}

bool Controller::SyncLearnedAddress(topology::NodeId nic) {
  const HostEntry* entry = state_->hosts->Find(nic);
  return state_->placement.SetLearnedAddress(nic, entry == nullptr ? 0 : entry->ipv4) > 0;
}

void Controller::MarkBandwidthStale(const std::vector<DirectedLinkId>& channels,
                                    const std::string& except) {
  if (!options_.predict_bandwidth) return;
  for (std::string& id : JobsCrossing(state_->placement, channels)) {
    if (id != except) bandwidth_stale_.insert(std::move(id));
  }
  if (bandwidth_stale_.empty() || bandwidth_refresh_posted_) return;
  bandwidth_refresh_posted_ = true;
  boost::asio::post(io_, [this] { RefreshStaleBandwidth(); });
}

void Controller::RefreshStaleBandwidth() {
  // A bounded batch per task, and a request waiting goes first: the batch stops after the job in
  // hand and runs again behind it, so a request waits for at most one job's simulation, never
  // for the refresh backlog a burst of changes leaves (Sync() is no request: a barrier lets a
  // whole batch run). At least one job per task, so refreshes progress under any request rate.
  constexpr size_t kJobsPerBatch = 16;
  bandwidth_refresh_posted_ = false;
  size_t refreshed = 0;
  bool yielded = false;
  while (!bandwidth_stale_.empty() && refreshed < kJobsPerBatch) {
    if (refreshed > 0 && commands_waiting_.load(std::memory_order_relaxed) > 0) {
      yielded = true;
      break;
    }
    const std::string id = *bandwidth_stale_.begin();
    bandwidth_stale_.erase(bandwidth_stale_.begin());
    if (state_->placement.FindJob(id) == nullptr) continue;  // deleted since
    RecordBandwidth(id);
    bandwidth_unpublished_ = true;
    ++refreshed;
  }
  if (!bandwidth_stale_.empty()) {
    bandwidth_refresh_posted_ = true;
    boost::asio::post(io_, [this] { RefreshStaleBandwidth(); });
  }
  // The predictions made so far are published once: by the request that goes first when it
  // publishes (its snapshot carries them), else at the end of a later batch.
  if (bandwidth_unpublished_ && !yielded) Publish(false);
}

void Controller::EmitJobMoves(const std::vector<FlowMove>& moves, const std::string& reason) {
  if (!moves.empty()) {
    std::vector<DirectedLinkId> changed;
    for (const FlowMove& move : moves) {
      changed.insert(changed.end(), move.old_path.hops.begin(), move.old_path.hops.end());
      changed.insert(changed.end(), move.new_path.hops.begin(), move.new_path.hops.end());
    }
    MarkBandwidthStale(changed);
  }
  std::map<std::string, int> per_job;
  for (const auto& move : moves) ++per_job[move.job_id];
  // Steered flows whose UDP source port changed, moved or not: their hosts must follow.
  std::map<std::string, std::vector<FlowPortChange>> port_changes;
  for (const PortChange& change : state_->placement.TakePortChanges()) {
    const JobPlacement* placed = state_->placement.FindJob(change.job_id);
    if (placed == nullptr || change.flow_index >= placed->flows.size()) continue;
    const PlacedFlow& flow = placed->flows[change.flow_index];
    FlowPortChange out;
    out.flow_index = change.flow_index;
    out.src = fabric_->node(flow.src).name;
    out.dst = fabric_->node(flow.dst).name;
    out.src_ip = ServedIpv4(*fabric_, state_->hosts.get(), flow.src);
    out.dst_ip = ServedIpv4(*fabric_, state_->hosts.get(), flow.dst);
    out.old_udp_src_port = change.old_udp_src_port;
    out.new_udp_src_port = change.new_udp_src_port;
    port_changes[change.job_id].push_back(std::move(out));
    per_job.emplace(change.job_id, 0);
  }
  // Moved flows are what a restart must reinstall.
  WriteBatch batch;
  for (const auto& [job, count] : per_job) {
    if (const JobPlacement* placed = state_->placement.FindJob(job); placed != nullptr) {
      batch.Put(absl::StrCat(kPlacementKeyPrefix, job), EncodePlacementRecord(*fabric_, *placed));
    }
  }
  if (absl::Status status = Persist(batch); !status.ok()) {
    Log(LogLevel::kError, "persisting moved flows (", reason, "): ", status.message());
  }
  for (const auto& [job, count] : per_job) {
    auto changes = port_changes.find(job);
    std::vector<FlowPortChange> job_changes;
    if (changes != port_changes.end()) job_changes = std::move(changes->second);
    std::string detail = absl::StrCat(count, " flows moved: ", reason);
    if (!job_changes.empty())
      absl::StrAppend(&detail, "; ", job_changes.size(), " UDP source ports changed");
    events_.Append(EventType::kJobMoved, job, std::move(detail), count, std::move(job_changes));
  }
}

absl::StatusOr<DrainResult> Controller::DoDrain(const std::string& switch_name, bool drain) {
  absl::StatusOr<topology::NodeId> node = FindSwitch(switch_name);
  if (!node.ok()) return node.status();
  if (state_->switch_drained[*node] == drain) {
    return absl::FailedPreconditionError(
        absl::StrCat("switch '", switch_name, "' is ", drain ? "already" : "not", " drained"));
  }
  state_->switch_drained[*node] = drain;
  DrainResult result;
  std::vector<FlowMove> moves;
  absl::Status first_error;
  for (topology::LinkId link : fabric_->LinksOf(*node)) {
    if (SyncLinkUsability(link, &moves, &first_error)) ++result.links_affected;
  }
  result.flows_moved = static_cast<int>(moves.size());
  std::string reason = absl::StrCat(drain ? "drain of " : "undrain of ", switch_name);
  EmitJobMoves(moves, reason);
  result.event_sequence = events_.Append(
      drain ? EventType::kSwitchDrained : EventType::kSwitchUndrained, switch_name,
      absl::StrCat(result.links_affected, " links, ", result.flows_moved, " flows moved"),
      result.flows_moved);
  if (!first_error.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("switch '", switch_name,
                     "' drained but some flows have no other path: ", first_error.message()));
  }
  return result;
}

void Controller::DrainSwitch(std::string switch_name, Reply<DrainResult> done) {
  PostCommand([this, name = std::move(switch_name), done = std::move(done)] {
    if (absl::StatusOr<topology::NodeId> node = FindSwitch(name); !node.ok()) {
      done(node.status());
      return;
    }
    WriteBatch batch;
    if (!state_->switch_drained[*fabric_->FindNode(name)]) {
      batch.Put(absl::StrCat(kDrainKeyPrefix, name), "1");
    }
    if (absl::Status status = Persist(batch); !status.ok()) {
      done(status);
      return;
    }
    absl::StatusOr<DrainResult> result = DoDrain(name, true);
    Publish(true);
    done(std::move(result));
  });
}

void Controller::UndrainSwitch(std::string switch_name, Reply<DrainResult> done) {
  PostCommand([this, name = std::move(switch_name), done = std::move(done)] {
    if (absl::StatusOr<topology::NodeId> node = FindSwitch(name); !node.ok()) {
      done(node.status());
      return;
    }
    WriteBatch batch;
    if (state_->switch_drained[*fabric_->FindNode(name)]) {
      batch.Delete(absl::StrCat(kDrainKeyPrefix, name));
    }
    if (absl::Status status = Persist(batch); !status.ok()) {
      done(status);
      return;
    }
    absl::StatusOr<DrainResult> result = DoDrain(name, false);
    Publish(true);
    done(std::move(result));
  });
}

void Controller::MoveFlows(std::vector<FlowMoveRequest> requests, std::string reason,
                           Reply<MoveFlowsResult> done) {
  PostCommand(
      [this, requests = std::move(requests), reason = std::move(reason), done = std::move(done)] {
        if (options_.write_gate) {
          if (absl::Status gate = options_.write_gate(); !gate.ok()) {
            done(gate);
            return;
          }
        }
        MoveFlowsResult result;
        for (const FlowMoveRequest& request : requests) {
          const JobPlacement* job = state_->placement.FindJob(request.job_id);
          Path old_path;
          if (job != nullptr && request.flow_index < job->flows.size()) {
            old_path = job->flows[request.flow_index].path;
          }
          absl::Status status =
              state_->placement.MoveFlow(request.job_id, request.flow_index, request.new_path);
          if (!status.ok()) {
            result.refused.push_back(
                absl::StrCat(request.job_id, "#", request.flow_index, ": ", status.message()));
            continue;
          }
          result.moved.push_back(
              FlowMove{request.job_id, request.flow_index, std::move(old_path), request.new_path});
        }
        if (!result.moved.empty()) {
          EmitJobMoves(result.moved, reason);
          Log(LogLevel::kInfo, result.moved.size(), " flows moved: ", reason);
          Publish(true);
        }
        done(std::move(result));
      });
}

std::future<absl::StatusOr<MoveFlowsResult>> Controller::MoveFlows(
    std::vector<FlowMoveRequest> requests, std::string reason) {
  auto [reply, future] = PromiseReply<MoveFlowsResult>();
  MoveFlows(std::move(requests), std::move(reason), std::move(reply));
  return std::move(future);
}

std::future<absl::StatusOr<PlaceJobResult>> Controller::PlaceJob(JobSpec spec) {
  auto [reply, future] = PromiseReply<PlaceJobResult>();
  PlaceJob(std::move(spec), std::move(reply));
  return std::move(future);
}

std::future<absl::StatusOr<uint64_t>> Controller::DeleteJob(std::string job_id) {
  auto [reply, future] = PromiseReply<uint64_t>();
  DeleteJob(std::move(job_id), std::move(reply));
  return std::move(future);
}

std::future<absl::StatusOr<DrainResult>> Controller::DrainSwitch(std::string switch_name) {
  auto [reply, future] = PromiseReply<DrainResult>();
  DrainSwitch(std::move(switch_name), std::move(reply));
  return std::move(future);
}

std::future<absl::StatusOr<DrainResult>> Controller::UndrainSwitch(std::string switch_name) {
  auto [reply, future] = PromiseReply<DrainResult>();
  UndrainSwitch(std::move(switch_name), std::move(reply));
  return std::move(future);
}

void Controller::IsolateLink(topology::LinkId link, bool isolated, std::string reason,
                             Reply<DrainResult> done) {
  PostCommand([this, link, isolated, reason = std::move(reason), done = std::move(done)] {
    if (link < 0 || link >= static_cast<topology::LinkId>(fabric_->links().size())) {
      done(absl::InvalidArgumentError(absl::StrCat("IsolateLink: no link ", link)));
      return;
    }
    const std::string name = fabric_->DescribeLink(link);
    if (state_->link_isolated[link] == isolated) {
      done(absl::FailedPreconditionError(
          absl::StrCat("link ", name, " is ", isolated ? "already" : "not", " isolated")));
      return;
    }
    if (options_.write_gate) {
      if (absl::Status gate = options_.write_gate(); !gate.ok()) {
        done(gate);
        return;
      }
    }
    state_->link_isolated[link] = isolated;
    DrainResult result;
    std::vector<FlowMove> moves;
    absl::Status first_error;
    if (SyncLinkUsability(link, &moves, &first_error)) result.links_affected = 1;
    result.flows_moved = static_cast<int>(moves.size());
    EmitJobMoves(moves,
                 absl::StrCat(isolated ? "isolation of " : "return of ", name, ": ", reason));
    result.event_sequence = events_.Append(
        isolated ? EventType::kLinkIsolated : EventType::kLinkReturned, name,
        absl::StrCat(reason, "; ", result.flows_moved, " flows moved"), result.flows_moved);
    Log(LogLevel::kInfo, "link ", name, isolated ? " isolated" : " returned to service", " (",
        reason, "), ", result.flows_moved, " flows moved");
    Publish(true);
    if (!first_error.ok()) {
      done(absl::FailedPreconditionError(absl::StrCat(
          "link ", name, " isolated but some flows have no other path: ", first_error.message())));
      return;
    }
    done(result);
  });
}

std::future<absl::StatusOr<DrainResult>> Controller::IsolateLink(topology::LinkId link,
                                                                 bool isolated,
                                                                 std::string reason) {
  auto [reply, future] = PromiseReply<DrainResult>();
  IsolateLink(link, isolated, std::move(reason), std::move(reply));
  return std::move(future);
}

void Controller::ReportHealthIncident(std::string subject, std::string detail) {
  PostCommand([this, subject = std::move(subject), detail = std::move(detail)]() mutable {
    events_.Append(EventType::kHealthIncident, std::move(subject), std::move(detail));
    Publish(false);  // the snapshot's event_sequence covers the new event
  });
}

void Controller::SetHashModels(HashModels models, std::string reason,
                               std::vector<SwitchEvent> switch_events) {
  PostCommand([this, models = std::move(models), reason = std::move(reason),
               switch_events = std::move(switch_events)]() mutable {
    state_->placement.EnableSteering(std::move(models), options_.steering);
    EmitJobMoves({}, reason);  // the re-steered flows' port changes
    for (SwitchEvent& e : switch_events)
      events_.Append(e.type, std::move(e.subject), std::move(e.detail));
    Publish(true);
  });
}

void Controller::OnLinkStatus(topology::LinkId link, bool up) {
  PostCommand([this, link, up] {
    if (link < 0 || link >= static_cast<topology::LinkId>(fabric_->links().size())) {
      Log(LogLevel::kWarning, "OnLinkStatus: no link ", link);
      return;
    }
    if (state_->link_up[link] == up) return;
    state_->link_up[link] = up;
    std::vector<FlowMove> moves;
    absl::Status error;
    SyncLinkUsability(link, &moves, &error);
    std::string name = fabric_->DescribeLink(link);
    if (!error.ok()) Log(LogLevel::kWarning, "link ", name, " down: ", error.message());
    EmitJobMoves(moves, absl::StrCat("link ", name, up ? " up" : " down"));
    events_.Append(up ? EventType::kLinkUp : EventType::kLinkDown, name,
                   absl::StrCat(moves.size(), " flows moved"), static_cast<int>(moves.size()));
    Log(LogLevel::kInfo, "link ", name, up ? " up" : " down", ", ", moves.size(), " flows moved");
    Publish(true);
  });
}

void Controller::OnSwitchConnected(topology::NodeId switch_node) {
  PostCommand([this, switch_node] {
    if (switch_node < 0 || switch_node >= static_cast<topology::NodeId>(fabric_->nodes().size()) ||
        !fabric_->node(switch_node).is_switch()) {
      Log(LogLevel::kWarning, "OnSwitchConnected: node ", switch_node, " is not a switch");
      return;
    }
    if (state_->switch_connected[switch_node]) return;
    state_->switch_connected[switch_node] = true;
    events_.Append(EventType::kSwitchConnected, fabric_->node(switch_node).name, "");
    // A (re)connected switch needs its whole share of forwarding: observers see it as a change.
    Publish(true);
  });
}

void Controller::OnSwitchLost(topology::NodeId switch_node) {
  PostCommand([this, switch_node] {
    if (switch_node < 0 || switch_node >= static_cast<topology::NodeId>(fabric_->nodes().size()) ||
        !fabric_->node(switch_node).is_switch()) {
      Log(LogLevel::kWarning, "OnSwitchLost: node ", switch_node, " is not a switch");
      return;
    }
    if (!state_->switch_connected[switch_node]) return;
    state_->switch_connected[switch_node] = false;
    events_.Append(EventType::kSwitchLost, fabric_->node(switch_node).name, "");
    Publish(false);
  });
}

void Controller::OnDiscoveryResult(bool matches_intent, std::string description) {
  PostCommand([this, matches_intent, description = std::move(description)]() mutable {
    if (matches_intent) {
      if (!discovery_mismatch_) return;
      discovery_mismatch_ = false;
      discovery_description_.clear();
      events_.Append(EventType::kDiscoveryMismatch, "fabric", "no differences");
    } else {
      if (discovery_mismatch_ && description == discovery_description_) return;
      discovery_mismatch_ = true;
      discovery_description_ = description;
      events_.Append(EventType::kDiscoveryMismatch, "fabric", std::move(description));
    }
    Publish(false);  // the snapshot's event_sequence covers the new event
  });
}

void Controller::AdoptStoredQos(const std::string& yaml_text) {
  if (!state_->qos->from_defaults && state_->qos->policy_yaml == yaml_text) return;
  absl::StatusOr<QosState> qos = PlanQosState(*fabric_, yaml_text, "stored qos policy refused: ");
  absl::Status status = qos.status();
  if (qos.ok()) status = AdoptQos(std::make_shared<const QosState>(*std::move(qos)));
  if (!status.ok()) {
    Log(LogLevel::kError, status.message(), " (the policy in force stays)");
    return;
  }
  Log(LogLevel::kInfo, "qos: stored policy now in force");
}

absl::Status Controller::AdoptQos(QosStatePtr qos) {
  if (absl::Status status =
          state_->placement.SetLosslessPriorities(qos->policy.lossless_priorities);
      !status.ok()) {
    return status;
  }
  state_->qos = std::move(qos);
  for (const auto& observer : qos_observers_) observer(state_->qos);
  return absl::OkStatus();
}

void Controller::SetQosPolicy(std::string yaml_text, bool dry_run, Reply<QosPolicyChange> done) {
  PostCommand([this, yaml_text = std::move(yaml_text), dry_run, done = std::move(done)] {
    absl::StatusOr<QosState> qos = PlanQosState(*fabric_, yaml_text, "qos policy refused: ");
    if (!qos.ok()) {
      done(qos.status());
      return;
    }
    QosPolicyChange change;
    change.switches_planned = static_cast<uint32_t>(qos->plan->switches.size());
    for (const SwitchQosPlan& sw : qos->plan->switches) {
      change.ports_planned += static_cast<uint32_t>(sw.ports.size());
    }
    // Classes the policy makes lossless must not close a PFC cycle over the placed paths.
    const std::vector<int> old_lossless = state_->placement.lossless_priorities();
    if (absl::Status status =
            state_->placement.SetLosslessPriorities(qos->policy.lossless_priorities);
        !status.ok()) {
      done(absl::Status(status.code(), absl::StrCat("qos policy refused: ", status.message())));
      return;
    }
    // Until it is persisted the old policy is in force (a dry run stops here).
    auto keep_old = [&] { (void)state_->placement.SetLosslessPriorities(old_lossless); };
    if (dry_run) {
      keep_old();
      done(change);
      return;
    }
    if (options_.store != nullptr) {
      if (options_.write_gate) {
        if (absl::Status gate = options_.write_gate(); !gate.ok()) {
          keep_old();
          done(gate);
          return;
        }
      }
      absl::StatusOr<int64_t> revision =
          options_.store->Apply(WriteBatch().Put(kQosPolicyStoreKey, yaml_text));
      if (!revision.ok()) {
        keep_old();
        done(absl::Status(revision.status().code(),
                          absl::StrCat("qos policy not persisted (old policy kept): ",
                                       revision.status().message())));
        return;
      }
      store_revision_ = std::max(store_revision_, *revision);  // its watch echo is skipped
      change.persisted = true;
    }
    if (absl::Status status = AdoptQos(std::make_shared<const QosState>(*std::move(qos)));
        !status.ok()) {
      done(status);  // checked above on the same jobs: cannot happen
      return;
    }
    Log(LogLevel::kInfo, "qos: new policy in force (", change.ports_planned, " ports planned)");
    Publish(false);
    done(change);
  });
}

std::future<absl::StatusOr<QosPolicyChange>> Controller::SetQosPolicy(std::string yaml_text,
                                                                      bool dry_run) {
  auto [reply, future] = PromiseReply<QosPolicyChange>();
  SetQosPolicy(std::move(yaml_text), dry_run, std::move(reply));
  return std::move(future);
}

void Controller::AddQosObserver(QosObserver observer) {
  PostCommand([this, observer = std::move(observer)]() mutable {
    observer(state_->qos);
    qos_observers_.push_back(std::move(observer));
  });
}

void Controller::AddForwardingObserver(ForwardingObserver observer) {
  PostCommand([this, observer = std::move(observer)]() mutable {
    observers_.push_back(std::move(observer));
  });
}

std::future<absl::Status> Controller::Reload(std::function<void()> then) {
  auto promise = std::make_shared<std::promise<absl::Status>>();
  auto future = promise->get_future();
  PostCommand([this, promise, then = std::move(then)] {
    // The last good state stays until a whole new one is read: a failed read (etcd unreachable)
    // must never leave an empty or partial state behind.
    std::shared_ptr<ControllerSnapshot> last_good = state_;
    const int64_t last_good_revision = store_revision_;
    const uint64_t last_good_reserved = event_seq_reserved_;
    auto fresh = NewState();
    fresh->link_up = state_->link_up;
    fresh->switch_connected = state_->switch_connected;
    fresh->switch_drained.assign(fabric_->nodes().size(), false);
    fresh->link_isolated = state_->link_isolated;  // not in the store: the supervisor's own
    fresh->qos = state_->qos;  // kept unless the store holds another policy (Restore)
    state_ = fresh;
    (void)state_->placement.SetLosslessPriorities(state_->qos->policy.lossless_priorities);
    for (topology::LinkId link = 0; link < static_cast<topology::LinkId>(state_->link_up.size());
         ++link) {
      if (!state_->link_up[link] || state_->link_isolated[link]) {
        (void)state_->placement.SetLinkUp(link, false);
      }
    }
    absl::Status status = Restore();
    if (!status.ok()) {
      state_ = std::move(last_good);
      store_revision_ = last_good_revision;
      event_seq_reserved_ = last_good_reserved;
      Log(LogLevel::kError, "reload from the store failed, keeping the last good state (",
          state_->placement.jobs().size(), " jobs): ", status.message());
      promise->set_value(status);
      return;
    }
    if (then) then();
    Publish(true);
    promise->set_value(status);
  });
  return future;
}

void Controller::ApplyStoreUpdate(StoreWatchUpdate update) {
  PostCommand([this, update = std::move(update)] {
    if (update.revision <= store_revision_) return;
    store_revision_ = update.revision;
    std::map<std::string, const StoreWatchUpdate::Change*> placed;
    std::set<std::string> deleted;
    const std::string* qos_policy = nullptr;  // the batch's last write of the QoS policy
    for (const StoreWatchUpdate::Change& change : update.changes) {
      const bool put = change.kind == StoreWrite::Kind::kPut;
      if (absl::StartsWith(change.key, kPlacementKeyPrefix)) {
        std::string id = change.key.substr(kPlacementKeyPrefix.size());
        if (put) placed[id] = &change;
      } else if (absl::StartsWith(change.key, kJobKeyPrefix) && !put) {
        deleted.insert(change.key.substr(kJobKeyPrefix.size()));
      } else if (change.key == kQosPolicyStoreKey && put) {
        qos_policy = &change.value;
      } else if (absl::StartsWith(change.key, kHostKeyPrefix)) {
        auto table = std::make_shared<HostTable>(*state_->hosts);
        const std::string nic = change.key.substr(kHostKeyPrefix.size());
        std::vector<topology::NodeId> touched;
        if (put) {
          absl::StatusOr<HostEntry> entry = DecodeHostEntry(*fabric_, nic, change.value);
          if (entry.ok()) {
            // Put replaces another NIC's binding of the same address: that NIC loses it.
            if (auto holder = table->FindByIpv4(entry->ipv4); holder) touched.push_back(*holder);
            table->Put(*entry);
            touched.push_back(entry->nic);
          }
        } else if (absl::StatusOr<topology::NodeId> id = fabric_->FindNode(nic); id.ok()) {
          table->Erase(*id);
          touched.push_back(*id);
        }
        state_->hosts = std::move(table);
        // The leader re-steers and writes the placements; they follow in this or a later batch.
        for (topology::NodeId id : touched) (void)SyncLearnedAddress(id);
        (void)state_->placement.TakePortChanges();
      } else if (absl::StartsWith(change.key, kDrainKeyPrefix)) {
        std::string name = change.key.substr(kDrainKeyPrefix.size());
        absl::StatusOr<topology::NodeId> node = FindSwitch(name);
        if (node.ok() && state_->switch_drained[*node] != put) (void)DoDrain(name, put);
      }
    }
    for (const std::string& id : deleted) {
      if (state_->placement.RemoveJob(id).ok()) {
        events_.Append(EventType::kJobDeleted, id, "replicated");
      }
    }
    // Before the jobs: the leader placed them under this policy's lossless classes.
    if (qos_policy != nullptr) AdoptStoredQos(*qos_policy);
    for (const auto& [id, change] : placed) {
      absl::StatusOr<JobPlacement> job =
          DecodePlacementRecord(*fabric_, change->value, change->key);
      // The same paths written again (a leader rewriting records of the old format): no change.
      if (const JobPlacement* held = state_->placement.FindJob(id);
          held != nullptr && job.ok() && SameFlows(*held, *job)) {
        continue;
      }
      const bool existed = state_->placement.RemoveJob(id).ok();
      absl::Status status = job.status();
      if (job.ok()) status = state_->placement.RestoreJob(*std::move(job)).status();
      if (!status.ok()) {
        Log(LogLevel::kError, "replicating job ", id, " at revision ", update.revision, ": ",
            status.message());
        continue;
      }
      events_.Append(existed ? EventType::kJobMoved : EventType::kJobPlaced, id, "replicated");
    }
    Publish(true);
  });
}

void Controller::CopyState(Reply<std::shared_ptr<ControllerSnapshot>> done) {
  PostCommand([this, done = std::move(done)] {
    auto copy = std::make_shared<ControllerSnapshot>(*state_);
    copy->placement = state_->placement.DetachedCopy();
    copy->event_sequence = events_.last_sequence();
    done(std::move(copy));
  });
}

absl::Status Controller::ResolveAddressEndpoints(JobSpec& spec) const {
  auto resolve = [&](std::string& name, absl::string_view what) -> absl::Status {
    if (name.empty() || !absl::ascii_isdigit(name[0])) return absl::OkStatus();
    absl::StatusOr<uint32_t> ip = topology::ParseIpv4(name);
    if (!ip.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("job '", spec.id, "': ", what, ": ", ip.status().message()));
    }
    std::optional<topology::NodeId> nic = fabric_->FindNicByIpv4(*ip);
    if (!nic) nic = state_->hosts->FindByIpv4(*ip);
    if (!nic) {
      return absl::InvalidArgumentError(absl::StrCat("job '", spec.id, "': ", what, ": no NIC has ",
                                                     name, " (in the intent or learned)"));
    }
    name = fabric_->node(*nic).name;
    return absl::OkStatus();
  };
  for (size_t i = 0; i < spec.endpoints.size(); ++i) {
    if (absl::Status s = resolve(spec.endpoints[i], absl::StrCat("endpoints[", i, "]")); !s.ok()) {
      return s;
    }
  }
  for (size_t i = 0; i < spec.explicit_flows.size(); ++i) {
    ExplicitFlow& f = spec.explicit_flows[i];
    if (absl::Status s = resolve(f.src, absl::StrCat("flows[", i, "].src")); !s.ok()) return s;
    if (absl::Status s = resolve(f.dst, absl::StrCat("flows[", i, "].dst")); !s.ok()) return s;
  }
  return absl::OkStatus();
}

void Controller::OnHostSeen(topology::NodeId nic, uint32_t ipv4, uint64_t mac) {
  PostCommand([this, nic, ipv4, mac] {
    if (nic < 0 || nic >= static_cast<topology::NodeId>(fabric_->nodes().size()) ||
        !fabric_->node(nic).is_nic() || ipv4 == 0 || mac == 0) {
      return;
    }
    const int64_t now_ms = WallClockMs();
    // Steady state (a known host ARPing again within a second): nothing to copy or publish.
    if (const HostEntry* known = state_->hosts->Find(nic);
        known != nullptr && known->conflict.empty() && now_ms - known->last_seen_ms < 1000 &&
        ServedIpv4(*fabric_, state_->hosts.get(), nic) == ipv4 &&
        ServedMac(*fabric_, state_->hosts.get(), nic) == mac) {
      return;
    }
    auto table = std::make_shared<HostTable>(*state_->hosts);
    HostOutcome outcome = table->Observe(*fabric_, nic, ipv4, mac, now_ms);
    state_->hosts = table;
    const std::string& name = fabric_->node(nic).name;
    switch (outcome.change) {
      case HostChange::kRefreshed:
      case HostChange::kConflictRepeated:
        if (now_ms - last_host_refresh_publish_ms_ >= 1000) {
          last_host_refresh_publish_ms_ = now_ms;
          Publish(false);
        }
        return;
      case HostChange::kConflict:
        Log(LogLevel::kWarning, "host conflict: ", outcome.detail);
        events_.Append(EventType::kHostConflict, name, outcome.detail);
        Publish(false);
        return;
      case HostChange::kLearned:
      case HostChange::kMoved:
        break;
    }
    if (options_.store != nullptr) {
      WriteBatch batch;
      if (const HostEntry* entry = table->Find(nic)) {
        batch.Put(absl::StrCat(kHostKeyPrefix, name), EncodeHostEntry(*entry));
      }
      if (outcome.moved_from != topology::kNoNode) {
        batch.Delete(absl::StrCat(kHostKeyPrefix, fabric_->node(outcome.moved_from).name));
      }
      // Served either way (the traffic is real); a follower's leader writes its own copy.
      if (absl::Status status = Persist(batch); !status.ok()) {
        Log(LogLevel::kWarning, "host ", name, " not persisted: ", status.message());
      }
    }
    Log(LogLevel::kInfo,
        outcome.change == HostChange::kMoved ? "host moved: " : "host learned: ", outcome.detail);
    events_.Append(
        outcome.change == HostChange::kMoved ? EventType::kHostMoved : EventType::kHostLearned,
        name, outcome.detail);
    bool resteered = SyncLearnedAddress(nic);
    if (outcome.moved_from != topology::kNoNode)
      resteered |= SyncLearnedAddress(outcome.moved_from);
    if (resteered) EmitJobMoves({}, absl::StrCat("address of ", name, " ", outcome.detail));
    Publish(true);
  });
}

std::future<void> Controller::Sync() {
  auto promise = std::make_shared<std::promise<void>>();
  auto future = promise->get_future();
  boost::asio::post(io_, [promise] { promise->set_value(); });
  return future;
}

}  // namespace pulse::controller
