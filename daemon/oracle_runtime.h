// The path oracle in the daemon (config section `oracle:`, issue #14).
//
// Host steering needs each switch's ECMP choices. The oracle library (controller/oracle/) probes
// switches: it learns the source-port-to-uplink table of a switch the intent's ecmp_hash section
// declares no model for, and verifies the declared model of the others. This runtime keeps those
// answers current and hands them to the controller:
//  - probes go out through the switch driver (DriverProbeTransport) and come back through
//    FabricSync's probe handler (OnProbeSeen); the catching rules come with the forwarding
//    (FabricSyncOptions::forwarding.probe_marker_dscp, set by the caller from the config);
//  - it follows the controller's snapshots (a forwarding observer that only records the latest
//    one): the pairs (source NIC, destination NIC) of steered jobs, switches that (re)connect and
//    links whose usability changed are fed to the OracleCoordinator, which marks switches to probe;
//  - probing runs on the runtime's own thread (it blocks on probe sightings for up to a timeout
//    per batch), never on the controller's or a gRPC thread; it waits until the switches to probe
//    are connected and FabricSync's pushes are done (so the catching rules are in place);
//  - after each probing the coordinator's models go to the controller (Controller::SetHashModels:
//    steered flows are re-steered; flows through a failed switch fall back to pins), with
//    SWITCH_NOT_STEERABLE when a switch fails (SWITCH_STEERABLE when it passes again);
//  - metrics: pulse_oracle_switches{state="verified|learned|idle|failed"} (idle: the last probing
//    had nothing to learn there, no steered pair crosses a choice of that switch) and
//    pulse_oracle_probes_total.
#ifndef PULSE_DAEMON_ORACLE_RUNTIME_H_
#define PULSE_DAEMON_ORACLE_RUNTIME_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/controller.h"
#include "controller/oracle/oracle_coordinator.h"
#include "controller/oracle/probe_transport.h"
#include "controller/telemetry/metrics.h"
#include "daemon/config.h"
#include "topology/intent.h"

namespace pulse::daemon {

inline constexpr char kOracleSwitches[] = "pulse_oracle_switches";         // gauge {state}
inline constexpr char kOracleProbesTotal[] = "pulse_oracle_probes_total";  // counter

struct OracleRuntimeOptions {
  northbound::OracleConfig config;
  // The steering port range (placement.steering_ports): the ports probed.
  uint16_t port_min = 49152;
  uint16_t port_max = 65535;
  // Returns once the switches' tables requested so far are pushed (FabricSync::Sync); probing
  // waits for it so the probe-catching rules are in place. Empty: no wait.
  std::function<void()> forwarding_barrier;
  // A switch to probe that is not connected holds probing back at most this long (the others
  // are then probed; it is probed again when it connects).
  std::chrono::milliseconds connect_wait{10000};
  // Probing starts once the snapshots have been quiet this long (switches connecting bring their
  // links up one by one: each would otherwise change the groups mid-probing).
  std::chrono::milliseconds settle{200};
};

// The switches the config asks to probe, and the declared models of those to verify: a switch
// has a declared model when the intent's ecmp_hash names it, its role, or a default.
controller::OracleCoordinatorOptions OracleSwitches(const topology::Fabric& fabric,
                                                    const topology::EcmpHashIntent& intent,
                                                    const controller::HashModels& intent_models,
                                                    const northbound::OracleConfig& config);

class OracleRuntime {
 public:
  // `controller`, `driver` and `metrics` (may be null) must outlive the runtime. Route
  // FabricSync's probe handler to OnProbeSeen. Registers a forwarding observer with the
  // controller and starts the oracle thread.
  static absl::StatusOr<std::unique_ptr<OracleRuntime>> Start(
      controller::Controller* controller, std::shared_ptr<const topology::Fabric> fabric,
      switches::SwitchDriver* driver, const topology::EcmpHashIntent& intent,
      const controller::HashModels& intent_models, OracleRuntimeOptions options,
      controller::MetricsRegistry* metrics);
  ~OracleRuntime();
  OracleRuntime(const OracleRuntime&) = delete;
  OracleRuntime& operator=(const OracleRuntime&) = delete;

  // Stops the oracle thread (a probing in progress finishes first). Idempotent.
  void Stop();

  // FabricSync::SetProbeHandler target. Any thread.
  void OnProbeSeen(switches::SwitchId sw, switches::PortNo port,
                   const switches::ProbePacket& probe) {
    transport_.OnProbeSeen(sw, port, probe);
  }

  // The coordinator's counters as of the last probing (any thread).
  controller::OracleCounters counters() const;
  // Probings completed (any thread).
  uint64_t probings() const;

 private:
  // Shared with the controller's observer, which outlives the runtime (observers are never
  // removed): after Stop it records nothing.
  struct Inbox {
    std::mutex mu;
    std::condition_variable cv;
    controller::SnapshotPtr latest;
    bool stop = false;
    controller::OracleCounters counters;
    uint64_t probings = 0;
  };

  OracleRuntime(controller::Controller* controller, std::shared_ptr<const topology::Fabric> fabric,
                switches::SwitchDriver* driver, controller::HashModels base,
                controller::OracleCoordinatorOptions coordinator_options,
                OracleRuntimeOptions options, controller::MetricsRegistry* metrics);
  static void OnSnapshot(Inbox& inbox, const controller::SnapshotPtr& after);
  void Loop();
  // Feeds the coordinator what changed between the last snapshot followed and `snap`.
  void Follow(const controller::SnapshotPtr& snap);
  void Publish(const std::vector<controller::OracleSwitchReport>& reports);

  controller::Controller* const controller_;
  const std::shared_ptr<const topology::Fabric> fabric_;
  const OracleRuntimeOptions options_;
  controller::MetricsRegistry* const metrics_;
  controller::DriverProbeTransport transport_;
  const std::set<topology::NodeId> probed_;

  // Oracle thread only.
  controller::OracleCoordinator coordinator_;
  controller::SnapshotPtr followed_;
  std::map<topology::NodeId, bool> failed_;  // by switch, as last reported
  std::chrono::steady_clock::time_point waiting_since_{};
  std::chrono::steady_clock::time_point last_change_{};  // last snapshot followed

  const std::shared_ptr<Inbox> inbox_ = std::make_shared<Inbox>();
  std::thread thread_;
};

}  // namespace pulse::daemon

#endif  // PULSE_DAEMON_ORACLE_RUNTIME_H_
