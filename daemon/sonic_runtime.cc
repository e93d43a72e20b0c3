#include "daemon/sonic_runtime.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/thread_name.h"
#include "southbound/sonic/qos_export.h"
#include "southbound/sonic/telemetry_adapter.h"

namespace pulse::northbound {
namespace {

using pulse::Log;
using pulse::LogLevel;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

absl::StatusOr<std::unique_ptr<SonicRuntime>> SonicRuntime::Start(SonicRuntimeOptions options) {
  std::unique_ptr<SonicRuntime> rt(new SonicRuntime(std::move(options)));
  const topology::Fabric& fabric = *rt->options_.fabric;
  rt->health_ =
      std::make_unique<controller::LosslessHealth>(rt->options_.fabric, rt->options_.health);
  if (rt->options_.metrics != nullptr) {
    (void)controller::RegisterHealthMetrics(*rt->options_.metrics);
    (void)controller::RegisterHealthActionMetrics(*rt->options_.metrics);
  }
  if (rt->options_.plan_from_controller && rt->options_.controller == nullptr) {
    return absl::InvalidArgumentError("sonic runtime: plan_from_controller needs a controller");
  }
  if (rt->options_.controller != nullptr && !rt->options_.health.dry_run) {
    rt->actuator_ = std::make_unique<controller::HealthActuator>(rt->options_.controller);
  }
  std::map<switches::SwitchId, std::vector<switches::SwitchPort>> switch_ports;
  for (const auto& [name, intent] : rt->options_.drivers) {
    if (intent.driver != "sonic") continue;
    absl::StatusOr<topology::NodeId> node = fabric.FindNode(name);
    if (!node.ok())
      return absl::InvalidArgumentError(
          absl::StrCat("sonic switch '", name, "' is not in the fabric"));
    absl::StatusOr<southbound::sonic::RedisAddress> address =
        southbound::sonic::ParseRedisAddress(intent.redis);
    if (!address.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("sonic switch ", name, ": ", address.status().message()));
    }
    Switch sw;
    sw.name = name;
    sw.redis = intent.redis;
    sw.node = *node;
    sw.naming.stride = intent.port_name_stride;
    sw.naming.aliases = intent.port_names;
    southbound::sonic::SonicSwitchOptions o;
    o.name = name;
    o.address = *address;
    o.password = intent.redis_password;
    o.audit_interval = std::chrono::milliseconds(rt->options_.audit_interval_ms);
    o.counters_interval = std::chrono::milliseconds(rt->options_.counters_interval_ms);
    for (const topology::Port& p : fabric.node(*node).ports) {
      if (p.link == topology::kNoLink) continue;
      auto alias = intent.port_names.find(p.number);
      o.counter_ports[alias != intent.port_names.end()
                          ? alias->second
                          : southbound::sonic::SonicPortName(p.number, intent.port_name_stride)] =
          p.number;
    }
    sw.driver = std::make_unique<southbound::sonic::SonicSwitch>(std::move(o));
    SonicRuntime* self = rt.get();
    // Each driver serves one intent switch: its counters are that node's.
    sw.driver->SetCountersCallback(
        [self, node = *node](const southbound::sonic::SonicCounterSnapshot& s) {
          self->OnCounters(node, s);
        });
    sw.driver->SetConnectionCallback([self, name = name, node = *node](bool up) {
      Log(up ? LogLevel::kInfo : LogLevel::kWarning, "sonic switch ", name,
          up ? ": connected" : ": disconnected (retrying)");
      self->switch_driver_->OnConnection(node, up);
    });
    std::vector<switches::SwitchPort>& ports = switch_ports[*node];
    for (const topology::Port& p : fabric.node(*node).ports) {
      if (p.link == topology::kNoLink) continue;
      auto alias = intent.port_names.find(p.number);
      ports.push_back({static_cast<switches::PortNo>(p.number),
                       alias != intent.port_names.end()
                           ? alias->second
                           : southbound::sonic::SonicPortName(p.number, intent.port_name_stride),
                       0, true, static_cast<uint64_t>(p.speed_bps / 1000)});
    }
    rt->switches_.push_back(std::move(sw));
  }
  rt->switch_driver_ =
      std::make_unique<southbound::sonic::SonicSwitchDriver>(std::move(switch_ports));
  std::vector<southbound::sonic::SonicQosTarget> qos_targets;
  for (Switch& sw : rt->switches_) {
    qos_targets.push_back({sw.node, sw.name, sw.naming, sw.driver.get()});
  }
  rt->qos_ = std::make_unique<southbound::sonic::SonicQosDriver>(std::move(qos_targets),
                                                                 rt->options_.hash);
  SonicRuntime* self = rt.get();
  rt->service_ = std::make_unique<LosslessHealthServiceImpl>([self] { return self->Snapshot(); });
  if (rt->options_.plan_from_controller) {
    // The observer runs on the controller thread: it only hands the plan to the runtime's thread.
    rt->inbox_->owner = self;
    rt->options_.controller->AddQosObserver(
        [inbox = rt->inbox_](const controller::QosStatePtr& qos) {
          std::lock_guard<std::mutex> inbox_lock(inbox->mu);
          SonicRuntime* owner = inbox->owner;
          if (owner == nullptr || qos == nullptr || qos->plan == nullptr) return;
          {
            std::lock_guard<std::mutex> lock(owner->mu_);
            owner->next_plan_ = qos->plan;
            owner->plan_waiting_ = true;
          }
          owner->wake_.notify_all();
        });
  } else if (rt->options_.current_plan) {
    if (auto plan = rt->options_.current_plan()) rt->PushPlan(*plan);
    rt->pushed_plan_ = rt->options_.current_plan();
  }
  for (Switch& sw : rt->switches_) sw.driver->Start();
  rt->thread_ = std::thread([self] {
    pulse::NameThisThread("pulse-sonic-sup");
    self->Supervise();
  });
  Log(LogLevel::kInfo, "SONiC: ", rt->switches_.size(), " switches over Redis; health supervisor ",
      rt->options_.health.dry_run ? "in dry-run" : "acting");
  return rt;
}

SonicRuntime::~SonicRuntime() {
  if (qos_audit_ != nullptr) qos_audit_->Set(nullptr);
  {
    std::lock_guard<std::mutex> inbox_lock(inbox_->mu);
    inbox_->owner = nullptr;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (Switch& sw : switches_) sw.driver->Stop();
}

void SonicRuntime::PushPlan(const controller::QosPlan& plan) {
  (void)qos_->ApplyQos(plan);  // each switch that cannot take it is logged by the driver
}

void SonicRuntime::OnCounters(topology::NodeId node,
                              const southbound::sonic::SonicCounterSnapshot& snapshot) {
  const topology::Fabric& fabric = *options_.fabric;
  southbound::sonic::SonicTelemetrySamples samples =
      southbound::sonic::ToTelemetrySamples(snapshot, node, NowMs());
  if (options_.telemetry != nullptr && !samples.ports.empty()) {
    options_.telemetry->OnPortCounterSamples(samples.ports);
  }
  std::vector<controller::LosslessPortDelta> deltas;
  {
    std::lock_guard<std::mutex> lock(mu_);
    link_counters_.resize(static_cast<size_t>(fabric.num_directed_links()));
    for (const controller::LosslessCounterSample& l : samples.lossless) {
      absl::StatusOr<std::optional<controller::LosslessPortDelta>> d = counters_.Ingest(l);
      if (!d.ok() || !d->has_value()) continue;
      pending_.push_back(**d);
      deltas.push_back(**d);
      std::optional<topology::LinkId> link =
          fabric.LinkAtPort(node, static_cast<int32_t>((*d)->key.port));
      if (!link) continue;
      const topology::DirectedLinkId out = fabric.DirectedFrom(*link, node);
      uint64_t rx = 0, tx = 0, ecn = 0;
      for (int p = 0; p < controller::kLosslessPriorities; ++p) {
        rx += (*d)->pfc_rx_frames[p];
        tx += (*d)->pfc_tx_frames[p];
        ecn += (*d)->ecn_marked_packets[p];
      }
      controller::LinkLosslessCounters& o = link_counters_[static_cast<size_t>(out)];
      o.reported = true;
      o.pfc_pause_rx_frames += rx;
      o.pfc_pause_tx_frames += tx;
      o.ecn_marked_packets += ecn;
      if (fabric.node(fabric.Head(out)).is_nic()) {
        // A NIC reports nothing: what it received is what this port sent, and the reverse.
        controller::LinkLosslessCounters& in = link_counters_[static_cast<size_t>(out ^ 1)];
        in.reported = true;
        in.pfc_pause_rx_frames += tx;
        in.pfc_pause_tx_frames += rx;
      }
    }
  }
  if (options_.metrics == nullptr) return;
  controller::PulseMetrics metrics(options_.metrics);
  for (const controller::LosslessPortDelta& d : deltas) {
    std::optional<topology::LinkId> link =
        fabric.LinkAtPort(node, static_cast<int32_t>(d.key.port));
    if (!link) continue;
    const topology::DirectedLinkId out = fabric.DirectedFrom(*link, node);
    const topology::DirectedLinkId in = out ^ 1;
    uint64_t ecn = 0;
    for (int p = 0; p < controller::kLosslessPriorities; ++p) {
      // A PAUSE received travels peer -> switch; one sent, switch -> peer.
      if (d.pfc_rx_frames[p] > 0) {
        (void)metrics.AddPfcPauseFrames(fabric.DescribeDirected(in), p, d.pfc_rx_frames[p]);
      }
      if (d.pfc_tx_frames[p] > 0) {
        (void)metrics.AddPfcPauseFrames(fabric.DescribeDirected(out), p, d.pfc_tx_frames[p]);
      }
      ecn += d.ecn_marked_packets[p];
    }
    if (ecn > 0) (void)metrics.AddEcnMarkedPackets(fabric.DescribeDirected(out), ecn);
  }
}

void SonicRuntime::Supervise() {
  const auto interval =
      std::chrono::milliseconds(std::max<int64_t>(options_.counters_interval_ms, 100));
  auto next_step = std::chrono::steady_clock::now() + interval;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    wake_.wait_until(lock, next_step, [this] { return stop_ || plan_waiting_; });
    if (stop_) break;
    // A plan the controller put in force: pushed now, not at the next step.
    std::shared_ptr<const controller::QosPlan> plan;
    if (plan_waiting_) {
      plan_waiting_ = false;
      plan = std::move(next_plan_);
    }
    const bool step = std::chrono::steady_clock::now() >= next_step;
    lock.unlock();
    if (plan != nullptr && plan != pushed_plan_) {
      PushPlan(*plan);
      pushed_plan_ = plan;
    }
    if (step) {
      next_step = std::chrono::steady_clock::now() + interval;
      StepHealth();
      if (!options_.plan_from_controller && options_.current_plan) {
        std::shared_ptr<const controller::QosPlan> polled = options_.current_plan();
        if (polled != nullptr && polled != pushed_plan_) {
          PushPlan(*polled);
          pushed_plan_ = polled;
        }
      }
    }
    lock.lock();
  }
}

void SonicRuntime::StepHealth() {
  std::vector<controller::HealthEvent> events;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<controller::LosslessPortDelta> deltas;
    deltas.swap(pending_);
    events = health_->Step(deltas, NowMs());
  }
  for (const controller::HealthEvent& e : events) {
    const std::string description = e.Describe(*options_.fabric);
    Log(LogLevel::kWarning, "lossless health: ", description);
    // Carried out outside the lock: the controller answers on its own thread.
    std::optional<controller::HealthActionOutcome> outcome;
    if (actuator_ != nullptr) outcome = actuator_->Apply(e);
    std::string metric_outcome;
    if (e.type == controller::HealthEvent::Type::kOpened) {
      metric_outcome = e.incident.outcome;  // dry_run, cap_reached, or pending until applied
      if (outcome) metric_outcome = outcome->applied ? "applied" : "refused";
    } else if (outcome && outcome->applied) {
      metric_outcome = "returned";
    }
    if (outcome) {
      Log(outcome->applied ? LogLevel::kInfo : LogLevel::kError, "lossless health: incident ",
          e.incident.id, ": ", outcome->detail);
      std::lock_guard<std::mutex> lock(mu_);
      health_->RecordOutcome(e.incident.id, outcome->applied, outcome->detail);
    }
    if (options_.controller != nullptr) {
      options_.controller->ReportHealthIncident(
          absl::StrCat("incident ", e.incident.id),
          outcome ? absl::StrCat(description, "; ", outcome->detail) : description);
    }
    if (options_.metrics != nullptr && !metric_outcome.empty() && metric_outcome != "pending" &&
        (e.incident.action != controller::HealthAction::kNone || e.incident.cap_reached)) {
      controller::RecordHealthAction(*options_.metrics, e.incident, metric_outcome);
    }
  }
  if (options_.metrics != nullptr) {
    std::lock_guard<std::mutex> lock(mu_);
    controller::RecordHealthMetrics(*options_.metrics, *health_, events);
  }
}

std::vector<controller::LinkLosslessCounters> SonicRuntime::LinkCounters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return link_counters_;
}

pulse::v1::ListIncidentsResponse SonicRuntime::Snapshot() const {
  pulse::v1::ListIncidentsResponse r;
  std::lock_guard<std::mutex> lock(mu_);
  r.set_dry_run(options_.health.dry_run);
  for (const controller::Incident& i : health_->incidents()) {
    pulse::v1::HealthIncident* out = r.add_incidents();
    out->set_id(i.id);
    out->set_kind(std::string(controller::IncidentKindName(i.kind)));
    out->set_root_switch(i.root_switch);
    out->set_root_port(i.root_port);
    if (i.root_link != topology::kNoLink) {
      out->set_root_link(options_.fabric->DescribeLink(i.root_link));
    }
    out->set_origin(i.origin);
    out->set_opened_ms(i.opened_ms);
    out->set_closed_ms(i.closed_ms);
    out->set_polls_to_open(static_cast<uint32_t>(i.polls_to_open));
    out->set_action(std::string(controller::HealthActionName(i.action)));
    out->set_applied(i.applied);
    out->set_cap_reached(i.cap_reached);
    out->set_detail(i.detail);
    out->set_outcome(i.outcome);
    out->set_outcome_detail(i.outcome_detail);
  }
  for (const Switch& sw : switches_) {
    const southbound::sonic::SonicSwitchStatus s = sw.driver->status();
    pulse::v1::SonicSwitchHealth* out = r.add_sonic_switches();
    out->set_name(sw.name);
    out->set_redis(sw.redis);
    out->set_connected(s.connected);
    out->set_in_sync(s.in_sync);
    out->set_repairs(s.repairs);
    out->set_owned_keys(s.owned_keys);
    out->set_malformed_counters(s.malformed_counters);
    out->set_last_error(s.last_error);
    if (!s.hash_seed_difference.key.empty()) {
      out->set_hash_seed_warning(s.hash_seed_difference.ToString());
    }
  }
  return r;
}

void SonicRuntime::JoinQosAudit(std::shared_ptr<QosExtraAudit> audit) {
  qos_audit_ = std::move(audit);
  qos_audit_->Set([driver = qos_.get()] {
    std::vector<QosAuditFinding> out;
    absl::StatusOr<std::vector<switches::QosFinding>> findings = driver->AuditQos();
    if (!findings.ok()) {
      out.push_back({"", 0, std::string(findings.status().message())});
      return out;
    }
    for (switches::QosFinding& f : *findings) {
      out.push_back({std::move(f.switch_name), f.port, std::move(f.difference)});
    }
    return out;
  });
}

absl::StatusOr<std::unique_ptr<SonicRuntime>> StartSonicFromConfig(
    std::shared_ptr<const topology::Fabric> fabric,
    const std::map<std::string, topology::SwitchDriverIntent>& drivers,
    const LosslessHealthConfig& config, controller::Controller* controller, QosRuntime* qos,
    controller::TelemetryLoop* telemetry, controller::MetricsRegistry* metrics) {
  SonicRuntimeOptions options;
  options.fabric = std::move(fabric);
  options.drivers = drivers;
  options.controller = controller;
  // QoS on (its runtime runs): the controller's plan, as it changes.
  options.plan_from_controller = controller != nullptr && qos != nullptr && qos->service != nullptr;
  options.telemetry = telemetry;
  options.metrics = metrics;
  options.health.dry_run = config.dry_run;
  options.health.max_isolated_links = static_cast<int>(config.max_isolated_links);
  options.health.clean_window_ms = config.clean_window_ms;
  options.counters_interval_ms = config.counters_interval_ms;
  options.audit_interval_ms = config.audit_interval_ms;
  absl::StatusOr<std::unique_ptr<SonicRuntime>> runtime = SonicRuntime::Start(std::move(options));
  if (runtime.ok() && qos != nullptr && qos->service != nullptr) {
    (*runtime)->JoinQosAudit(qos->extra_audit);
  }
  return runtime;
}

}  // namespace pulse::northbound
