// Daemon wiring of the SONiC southbound and the lossless health supervisor in one object: one
// SonicSwitch driver per intent switch with `driver: sonic`, the QoS plan in force pushed to each
// through the SONiC QosDriver (re-pushed when the plan changes), their connections reported to
// FabricSync through the SONiC SwitchDriver (switch_driver()), their COUNTERS_DB polls fed into the
// telemetry loop (link load) and the PFC/ECN metric families, and the health supervisor stepped
// once per counters interval over the whole fabric. Also the LosslessHealthService to register with
// the API.
//
// With a Controller: the runtime is a QoS observer of it (plan_from_controller), so a plan put in
// force reaches the SONiC switches when it happens, pushed on the runtime's own thread (the
// observer only hands the plan over; no controller or gRPC thread talks to Redis). Every incident
// opened or closed is a HEALTH_INCIDENT event, and unless health.dry_run the supervisor's actions
// are carried out through the controller (controller/health/health_actions.h): once per incident,
// under the cap on isolated links, the link returned after the clean window.
#ifndef PULSE_DAEMON_SONIC_RUNTIME_H_
#define PULSE_DAEMON_SONIC_RUNTIME_H_

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/controller.h"
#include "controller/health/health_actions.h"
#include "controller/health/lossless_counters.h"
#include "controller/health/lossless_health.h"
#include "controller/paths/ecmp_hash.h"
#include "controller/qos/qos_plan.h"
#include "controller/telemetry/metrics.h"
#include "controller/telemetry/telemetry_loop.h"
#include "daemon/config.h"
#include "daemon/qos_runtime.h"
#include "northbound/lossless_health_service.h"
#include "southbound/sonic/sonic_qos_driver.h"
#include "southbound/sonic/sonic_switch.h"
#include "southbound/sonic/sonic_switch_driver.h"
#include "topology/switch_driver_intent.h"

namespace pulse::northbound {

struct SonicRuntimeOptions {
  std::shared_ptr<const topology::Fabric> fabric;
  std::map<std::string, topology::SwitchDriverIntent> drivers;  // the intent's switch_drivers
  // The QoS plan in force (e.g. QosServiceImpl::plan); null or returning null: no QoS pushed.
  std::function<std::shared_ptr<const controller::QosPlan>()> current_plan;
  controller::EcmpHashModel hash;                  // what the steering model assumes
  controller::TelemetryLoop* telemetry = nullptr;  // link load from SONiC counters; optional
  controller::MetricsRegistry* metrics = nullptr;  // PFC/ECN and health families; optional
  controller::HealthOptions health;
  // Not owned; must outlive the runtime. Health events and (unless health.dry_run) actions go
  // through it.
  controller::Controller* controller = nullptr;
  // Push the controller's QoS plan as it changes (a QoS observer) instead of polling
  // current_plan. Needs `controller`.
  bool plan_from_controller = false;
  int64_t counters_interval_ms = 10000;
  int64_t audit_interval_ms = 10000;
};

class SonicRuntime {
 public:
  // Starts a driver per SONiC switch and the supervisor thread. Errors: a switch name not in the
  // fabric, a malformed redis address.
  static absl::StatusOr<std::unique_ptr<SonicRuntime>> Start(SonicRuntimeOptions options);
  ~SonicRuntime();

  LosslessHealthServiceImpl* service() { return service_.get(); }
  // The SONiC switches as FabricSync sees them (connection events; no forwarding), to register
  // in its SwitchDriverTable under "sonic". FabricSync starts and stops it.
  switches::SwitchDriver* switch_driver() { return switch_driver_.get(); }
  // PFC/ECN totals by DirectedLinkId (ApiServerOptions::lossless_link_counters). Directions whose
  // tail is a SONiC switch count from its port; a NIC's direction from the switch port facing it.
  std::vector<controller::LinkLosslessCounters> LinkCounters() const;
  pulse::v1::ListIncidentsResponse Snapshot() const;
  size_t num_switches() const { return switches_.size(); }
  // Joins the SONiC switches to the QosService's AuditQos (a switch disconnected, CONFIG_DB
  // repaired at the last reconcile, an ECMP hash seed other than the model's); undone when the
  // runtime goes.
  void JoinQosAudit(std::shared_ptr<QosExtraAudit> audit);

 private:
  explicit SonicRuntime(SonicRuntimeOptions options) : options_(std::move(options)) {}
  // Counters polled by the driver of intent switch `node`.
  void OnCounters(topology::NodeId node, const southbound::sonic::SonicCounterSnapshot& snapshot);
  void Supervise();
  void PushPlan(const controller::QosPlan& plan);
  // Steps the supervisor over the pending deltas and carries out what it decided.
  void StepHealth();

  // What the controller's QoS observer hands over; outlives the runtime (observers are never
  // removed), so a late call after the runtime went finds owner == nullptr.
  struct PlanInbox {
    std::mutex mu;
    SonicRuntime* owner = nullptr;  // guarded by mu
  };
  std::shared_ptr<PlanInbox> inbox_ = std::make_shared<PlanInbox>();
  std::shared_ptr<const controller::QosPlan> next_plan_;  // guarded by mu_
  bool plan_waiting_ = false;                             // guarded by mu_
  std::unique_ptr<controller::HealthActuator> actuator_;  // supervisor thread only

  SonicRuntimeOptions options_;
  struct Switch {
    std::string name;
    std::string redis;
    topology::NodeId node = topology::kNoNode;
    southbound::sonic::PortNaming naming;
    std::unique_ptr<southbound::sonic::SonicSwitch> driver;
  };
  std::vector<Switch> switches_;
  std::unique_ptr<southbound::sonic::SonicQosDriver> qos_;  // over switches_
  std::shared_ptr<QosExtraAudit> qos_audit_;                // JoinQosAudit's, cleared on exit
  std::unique_ptr<southbound::sonic::SonicSwitchDriver> switch_driver_;
  std::unique_ptr<LosslessHealthServiceImpl> service_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  controller::LosslessCounters counters_;                        // guarded by mu_
  std::vector<controller::LinkLosslessCounters> link_counters_;  // guarded by mu_
  std::vector<controller::LosslessPortDelta> pending_;           // guarded by mu_
  std::unique_ptr<controller::LosslessHealth> health_;           // guarded by mu_
  std::shared_ptr<const controller::QosPlan> pushed_plan_;       // supervisor thread only
  std::thread thread_;
};

// The daemon's call: options from the config section, the controller's plan when the QoS runtime
// runs (null: no QoS pushed), health actions through `controller`, metrics and telemetry when
// present.
absl::StatusOr<std::unique_ptr<SonicRuntime>> StartSonicFromConfig(
    std::shared_ptr<const topology::Fabric> fabric,
    const std::map<std::string, topology::SwitchDriverIntent>& drivers,
    const LosslessHealthConfig& config, controller::Controller* controller, QosRuntime* qos,
    controller::TelemetryLoop* telemetry, controller::MetricsRegistry* metrics);

}  // namespace pulse::northbound

#endif  // PULSE_DAEMON_SONIC_RUNTIME_H_
