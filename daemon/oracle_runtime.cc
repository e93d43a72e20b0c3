#include "daemon/oracle_runtime.h"

#include <algorithm>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/thread_name.h"

namespace pulse::daemon {

using controller::EventType;
using controller::OracleSwitchReport;
using topology::NodeId;

controller::OracleCoordinatorOptions OracleSwitches(const topology::Fabric& fabric,
                                                    const topology::EcmpHashIntent& intent,
                                                    const controller::HashModels& intent_models,
                                                    const northbound::OracleConfig& config) {
  controller::OracleCoordinatorOptions out;
  for (NodeId sw : fabric.switches()) {
    const topology::Node& node = fabric.node(sw);
    const bool declared =
        intent.fabric_default.has_value() || intent.by_switch.count(node.name) > 0 ||
        intent.by_role.count(std::string(topology::SwitchRoleName(node.role))) > 0;
    if (declared && config.verify) {
      out.switches.push_back(sw);
      out.declared.emplace(sw, intent_models.For(sw));
    } else if (!declared && config.learn) {
      out.switches.push_back(sw);
    }
  }
  return out;
}

absl::StatusOr<std::unique_ptr<OracleRuntime>> OracleRuntime::Start(
    controller::Controller* controller, std::shared_ptr<const topology::Fabric> fabric,
    switches::SwitchDriver* driver, const topology::EcmpHashIntent& intent,
    const controller::HashModels& intent_models, OracleRuntimeOptions options,
    controller::MetricsRegistry* metrics) {
  if (options.port_min > options.port_max)
    return absl::InvalidArgumentError("oracle: steering port range is empty");
  if (metrics != nullptr) {
    if (absl::Status s = metrics->RegisterGauge(
            kOracleSwitches, "Switches probed by the path oracle, by outcome of their last probing",
            {"state"});
        !s.ok())
      return s;
    if (absl::Status s =
            metrics->RegisterCounter(kOracleProbesTotal, "Path oracle probes sent to switches");
        !s.ok())
      return s;
    for (const char* state : {"verified", "learned", "idle", "failed"})
      (void)metrics->SetGauge(kOracleSwitches, {state}, 0);
    (void)metrics->IncrementCounter(kOracleProbesTotal, {}, 0);
  }
  controller::OracleCoordinatorOptions coordinator_options =
      OracleSwitches(*fabric, intent, intent_models, options.config);
  coordinator_options.oracle.marker_dscp = static_cast<uint8_t>(options.config.marker_dscp);
  coordinator_options.oracle.port_min = options.port_min;
  coordinator_options.oracle.port_max = options.port_max;
  coordinator_options.oracle.max_probes_per_uplink =
      static_cast<size_t>(options.config.probes_per_uplink);
  coordinator_options.oracle.verify_probes_per_uplink =
      std::min<size_t>(coordinator_options.oracle.verify_probes_per_uplink,
                       coordinator_options.oracle.max_probes_per_uplink);
  std::unique_ptr<OracleRuntime> runtime(
      new OracleRuntime(controller, std::move(fabric), driver, intent_models,
                        std::move(coordinator_options), std::move(options), metrics));
  OracleRuntime* self = runtime.get();
  // Runs on the controller thread: only records the snapshot and wakes the oracle thread.
  controller->AddForwardingObserver(
      [inbox = self->inbox_](const controller::SnapshotPtr&, const controller::SnapshotPtr& after) {
        OnSnapshot(*inbox, after);
      });
  OnSnapshot(*self->inbox_, controller->snapshot());
  self->thread_ = std::thread([self] {
    pulse::NameThisThread("pulse-oracle");
    self->Loop();
  });
  return runtime;
}

namespace {
controller::DriverProbeTransportOptions TransportOptions(const northbound::OracleConfig& config) {
  controller::DriverProbeTransportOptions t;
  t.marker_dscp = static_cast<uint8_t>(config.marker_dscp);
  t.timeout = std::chrono::milliseconds(config.probe_timeout_ms);
  return t;
}
}  // namespace

OracleRuntime::OracleRuntime(controller::Controller* controller,
                             std::shared_ptr<const topology::Fabric> fabric,
                             switches::SwitchDriver* driver, controller::HashModels base,
                             controller::OracleCoordinatorOptions coordinator_options,
                             OracleRuntimeOptions options, controller::MetricsRegistry* metrics)
    : controller_(controller),
      fabric_(fabric),
      options_(std::move(options)),
      metrics_(metrics),
      transport_(*fabric_, driver, TransportOptions(options_.config)),
      probed_(coordinator_options.switches.begin(), coordinator_options.switches.end()),
      coordinator_(fabric_, &transport_, std::move(base), std::move(coordinator_options)) {}

OracleRuntime::~OracleRuntime() { Stop(); }

void OracleRuntime::Stop() {
  {
    std::lock_guard<std::mutex> lock(inbox_->mu);
    inbox_->stop = true;
    inbox_->latest = nullptr;
  }
  inbox_->cv.notify_all();
  if (thread_.joinable()) thread_.join();
}

void OracleRuntime::OnSnapshot(Inbox& inbox, const controller::SnapshotPtr& after) {
  {
    std::lock_guard<std::mutex> lock(inbox.mu);
    if (inbox.stop) return;
    inbox.latest = after;
  }
  inbox.cv.notify_all();
}

controller::OracleCounters OracleRuntime::counters() const {
  std::lock_guard<std::mutex> lock(inbox_->mu);
  return inbox_->counters;
}

uint64_t OracleRuntime::probings() const {
  std::lock_guard<std::mutex> lock(inbox_->mu);
  return inbox_->probings;
}

void OracleRuntime::Follow(const controller::SnapshotPtr& snap) {
  const controller::SnapshotPtr before = followed_;
  followed_ = snap;
  for (NodeId sw : probed_) {
    const bool now =
        sw < static_cast<NodeId>(snap->switch_connected.size()) && snap->switch_connected[sw];
    const bool was = before != nullptr &&
                     sw < static_cast<NodeId>(before->switch_connected.size()) &&
                     before->switch_connected[sw];
    if (now && !was) coordinator_.OnSwitchConnected(sw);
  }
  for (topology::LinkId l = 0; l < static_cast<topology::LinkId>(fabric_->links().size()); ++l) {
    const bool usable = snap->LinkUsable(l);
    const bool was = before == nullptr ? true : before->LinkUsable(l);
    if (usable != was) coordinator_.SetLinkUp(l, usable);
  }
  // The steered jobs' pairs, sorted and unique (the coordinator probes only new ones).
  std::set<std::pair<NodeId, NodeId>> pairs;
  for (const auto& [id, job] : snap->placement.jobs()) {
    if (job.enforcement != controller::Enforcement::kSteer) continue;
    for (const controller::PlacedFlow& flow : job.flows) pairs.insert({flow.src, flow.dst});
  }
  coordinator_.SetPairs({pairs.begin(), pairs.end()});
}

void OracleRuntime::Loop() {
  Inbox& in = *inbox_;
  std::unique_lock<std::mutex> lock(in.mu);
  while (!in.stop) {
    if (in.latest != nullptr && in.latest != followed_) {
      controller::SnapshotPtr snap = in.latest;
      lock.unlock();
      Follow(snap);
      last_change_ = std::chrono::steady_clock::now();
      lock.lock();
      continue;
    }
    const std::set<NodeId> pending = coordinator_.pending();
    if (pending.empty() || followed_ == nullptr) {
      waiting_since_ = {};
      in.cv.wait(lock);
      continue;
    }
    // Probe once every pending switch is connected, or when one has held the others back long
    // enough (it is probed again when it connects).
    const auto now = std::chrono::steady_clock::now();
    if (waiting_since_ == std::chrono::steady_clock::time_point{}) waiting_since_ = now;
    const bool all_connected = std::all_of(pending.begin(), pending.end(), [&](NodeId sw) {
      return sw < static_cast<NodeId>(followed_->switch_connected.size()) &&
             followed_->switch_connected[sw];
    });
    if (!all_connected && now - waiting_since_ < options_.connect_wait) {
      in.cv.wait_until(lock, waiting_since_ + options_.connect_wait);
      continue;
    }
    if (now - last_change_ < options_.settle) {
      in.cv.wait_until(lock, last_change_ + options_.settle);
      continue;
    }
    waiting_since_ = {};
    lock.unlock();
    if (options_.forwarding_barrier) options_.forwarding_barrier();
    const auto start = std::chrono::steady_clock::now();
    std::vector<OracleSwitchReport> reports = coordinator_.RunPending();
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    size_t probes = 0;
    for (const OracleSwitchReport& r : reports) probes += r.probes;
    Log(LogLevel::kInfo, "path oracle: probed ", reports.size(), " switches with ", probes,
        " probes in ", static_cast<int64_t>(ms), " ms");
    Publish(reports);
    lock.lock();
    in.counters = coordinator_.counters();
    ++in.probings;
  }
}

void OracleRuntime::Publish(const std::vector<OracleSwitchReport>& reports) {
  std::vector<controller::Controller::SwitchEvent> events;
  for (const OracleSwitchReport& r : reports) {
    const bool failed = !r.status.ok();
    auto it = failed_.find(r.node);
    const bool was_failed = it != failed_.end() && it->second;
    failed_[r.node] = failed;
    if (failed) {
      Log(LogLevel::kWarning, "path oracle: switch ", r.name,
          " is not steered (its flows are pinned): ", r.status.message());
      if (!was_failed)
        events.push_back({EventType::kSwitchNotSteerable, r.name,
                          absl::StrCat(r.verified ? "verification" : "learning",
                                       " failed: ", r.status.message())});
    } else if (was_failed) {
      events.push_back({EventType::kSwitchSteerable, r.name,
                        r.verified ? "declared model verified" : "table learned"});
    }
  }
  if (metrics_ != nullptr) {
    int verified = 0, learned = 0, idle = 0, failed = 0;
    for (const auto& [sw, report] : coordinator_.last_reports()) {
      if (!report.status.ok()) {
        ++failed;
      } else if (report.verified) {
        ++verified;
      } else if (report.probes == 0) {
        ++idle;  // nothing to learn yet: counting it as learned would overstate the oracle
      } else {
        ++learned;
      }
    }
    (void)metrics_->SetGauge(kOracleSwitches, {"verified"}, verified);
    (void)metrics_->SetGauge(kOracleSwitches, {"learned"}, learned);
    (void)metrics_->SetGauge(kOracleSwitches, {"idle"}, idle);
    (void)metrics_->SetGauge(kOracleSwitches, {"failed"}, failed);
    size_t probes = 0;
    for (const OracleSwitchReport& r : reports) probes += r.probes;
    (void)metrics_->IncrementCounter(kOracleProbesTotal, {}, static_cast<double>(probes));
  }
  controller_->SetHashModels(coordinator_.models(), "path oracle: switch hash models changed",
                             std::move(events));
}

}  // namespace pulse::daemon
