// FabricSync: the bridge between the controller core and the switch drivers.
//
// Drivers: each switch is served by the driver its intent names (switch_driver_table.h: openflow
// by default, sonic), so one FabricSync serves a mixed fabric. Switches are named by fabric node
// on both sides; each driver maps nodes to its own ids (datapath ids, Redis addresses).
//
// Southbound to core: switch, port and discovery events from the drivers (any thread) are mapped
// from nodes and port numbers to the fabric's links and posted to the Controller
// (OnLinkStatus, OnSwitchConnected, OnSwitchLost). A link is physically up when neither of its
// ends has reported its port down.
//
// Core to southbound: on every forwarding change the Controller publishes, FabricSync computes
// the desired tables of the switches the change can reach (forwarding.h
// ForwardingAffectedSwitches: the delta between the snapshot it computed last and the latest one;
// every switch after a change of usability or addresses) and hands each switch's driver (the one
// the intent names for it) those that differ from what it last confirmed. The computation runs on
// FabricSync's own thread, never on the controller's, without the lock the driver's callbacks
// take, and coalesces: changes that arrive while a push waits are served by one computation from
// the latest snapshot. A switch that
// (re)connects is always given its full tables (the driver reconciles against what the switch
// holds, so nothing is duplicated after a controller restart).
//
// Addresses: forwarding and the driver's proxy-ARP book follow the snapshot's learned hosts as
// well as the intent's addresses; the book is handed to the driver whenever the table changes.
//
// Discovery: a periodic probe (LLDP through the driver) collects observed switch-to-switch links;
// the diff against the intent (missing, unexpected, miswired) is logged when it changes and
// readable at any time.
//
// Repair time: from a port-down report to the barrier reply of the last switch fixed because of
// it, logged and kept as last_repair_ms().
#ifndef PULSE_CONTROLLER_FABRIC_SYNC_FABRIC_SYNC_H_
#define PULSE_CONTROLLER_FABRIC_SYNC_FABRIC_SYNC_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/steady_timer.hpp"
#include "controller/controller.h"
#include "controller/fabric_sync/forwarding.h"
#include "controller/paths/ecmp_groups.h"
#include "controller/switches/switch_driver.h"
#include "controller/switches/switch_driver_table.h"
#include "topology/diff.h"

namespace pulse::controller {

struct FabricSyncOptions {
  std::chrono::milliseconds probe_interval{2000};  // LLDP probes; 0: never probe
  std::chrono::milliseconds stats_interval{1000};  // port counter polls; 0: never poll
  ForwardingOptions forwarding;
};

// What discovery has seen, and how it differs from the intent.
struct DiscoveryReport {
  std::vector<topology::ObservedLink> observed;
  topology::FabricDiff diff;
  std::string description;  // DescribeDiff() of `diff`
  int probe_rounds = 0;     // probes sent so far
};

class FabricSync : public southbound::FabricEventSink {
 public:
  // `controller` and the drivers in `drivers` must outlive this object.
  FabricSync(Controller* controller, switches::SwitchDriverTable drivers,
             FabricSyncOptions options = {});
  // Every switch served by `driver` (tests, benches, an OpenFlow-only fabric).
  FabricSync(Controller* controller, southbound::SwitchDriver* driver,
             FabricSyncOptions options = {})
      : FabricSync(controller, switches::SwitchDriverTable::Single(driver), options) {}
  ~FabricSync() override;

  // Registers with the controller, starts the drivers and the probe/poll timers.
  absl::Status Start();
  // Stops timers and the drivers; no callback into the controller after it returns.
  void Stop();

  // Where port counters go (telemetry); set before Start.
  using CountersHandler =
      std::function<void(switches::SwitchId, const std::vector<southbound::PortCounters>&)>;
  void SetCountersHandler(CountersHandler handler) { counters_handler_ = std::move(handler); }
  // Where path-oracle probe sightings go (controller/oracle/probe_transport.h
  // DriverProbeTransport::OnProbeSeen); set before Start. The probe-catching rules themselves come
  // with the forwarding (FabricSyncOptions::forwarding.probe_marker_dscp).
  using ProbeHandler =
      std::function<void(switches::SwitchId, southbound::PortNo, const southbound::ProbePacket&)>;
  void SetProbeHandler(ProbeHandler handler) { probe_handler_ = std::move(handler); }

  DiscoveryReport Discovery() const;
  // Resolves once every push requested before it has been computed and handed to the driver
  // (a barrier for tests and shutdown).
  std::future<void> Sync();
  // Milliseconds from the last port-down report to the barrier of its last fix; -1 if none yet.
  double last_repair_ms() const { return last_repair_ms_.load(); }
  // Switches whose desired tables were confirmed by the driver, and apply errors seen.
  uint64_t applies_confirmed() const { return applies_confirmed_.load(); }
  uint64_t apply_errors() const { return apply_errors_.load(); }
  // Switches whose tables the last push computed (all of them after a change of usability or
  // addresses; else only those on changed jobs' paths, plus reconnected ones).
  size_t last_switches_computed() const { return last_switches_computed_.load(); }

  // --- southbound::FabricEventSink ---
  void OnSwitchConnected(switches::SwitchId sw,
                         const std::vector<southbound::SwitchPort>& ports) override;
  void OnSwitchLost(switches::SwitchId sw) override;
  void OnPortStatus(switches::SwitchId sw, southbound::PortNo port, bool up) override;
  void OnLinkObserved(switches::SwitchId sw_a, southbound::PortNo port_a, switches::SwitchId sw_b,
                      southbound::PortNo port_b) override;
  void OnPortCounters(switches::SwitchId sw,
                      const std::vector<southbound::PortCounters>& counters) override;
  // Host discovery: a sighting on a leaf port the intent cables to a NIC goes to the controller
  // (Controller::OnHostSeen); sightings on any other port (uplinks, unknown ports) are dropped.
  void OnHostSeen(switches::SwitchId sw, southbound::PortNo port, uint32_t ipv4,
                  uint64_t mac) override;
  void OnProbeSeen(switches::SwitchId sw, southbound::PortNo port,
                   const southbound::ProbePacket& probe) override;

 private:
  using Clock = std::chrono::steady_clock;
  struct PendingApply {
    southbound::SwitchForwarding table;
    bool counts_for_repair = false;
  };
  // The tables of the switches a change since the last computation can reach (forwarding.h
  // ForwardingAffectedSwitches), of those in `force` and `unknown`, or of every switch when the
  // change is not one of jobs only. Runs on the sync thread without mu_ (the state it uses is
  // that thread's alone).
  std::vector<southbound::SwitchForwarding> Compute(const SnapshotPtr& snapshot,
                                                    const std::set<switches::SwitchId>& force,
                                                    const std::set<switches::SwitchId>& unknown);
  void Dispatch(std::vector<PendingApply> pending);
  // Asks for a push from the latest snapshot on the sync thread (`force`: also resend that
  // switch's full tables). Pushes already queued absorb the request.
  void RequestPush(std::optional<switches::SwitchId> force);
  void RunPush();
  void ReportLinkEnd(topology::NodeId node, southbound::PortNo port, bool up);
  void ScheduleProbe();
  void ScheduleStats();
  void UpdateDiscovery();

  Controller* const controller_;
  // Whether `sw` is a fabric switch (drivers report only those; a bad id is dropped, not trusted).
  bool IsSwitch(switches::SwitchId sw) const;

  const switches::SwitchDriverTable drivers_;
  const FabricSyncOptions options_;
  const std::shared_ptr<const Fabric> fabric_;
  CountersHandler counters_handler_;
  ProbeHandler probe_handler_;

  // Sync thread only (Compute): the ECMP groups and the usability they reflect, the learned
  // table the driver's book reflects, and the snapshot the last tables were computed from.
  EcmpGroups groups_;
  LinkStatus groups_status_;
  std::shared_ptr<const HostTable> book_hosts_;
  SnapshotPtr last_computed_;

  mutable std::mutex mu_;
  std::map<switches::SwitchId, southbound::SwitchForwarding> applied_;  // confirmed or in flight
  std::set<switches::SwitchId> connected_;
  std::set<std::pair<topology::NodeId, southbound::PortNo>> ends_down_;
  bool push_scheduled_ = false;                 // a RunPush is queued on timer_io_
  std::set<switches::SwitchId> force_pending_;  // switches the queued push resends in full
  std::optional<Clock::time_point> repair_started_;
  int repair_pending_ = 0;
  std::map<topology::ObservedLink, Clock::time_point,
           bool (*)(const topology::ObservedLink&, const topology::ObservedLink&)>
      observed_;
  DiscoveryReport discovery_;

  std::atomic<double> last_repair_ms_{-1};
  std::atomic<uint64_t> applies_confirmed_{0};
  std::atomic<uint64_t> apply_errors_{0};
  std::atomic<size_t> last_switches_computed_{0};

  // Table pushes and timers run on their own small event loop.
  boost::asio::io_context timer_io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> timer_work_;
  boost::asio::steady_timer probe_timer_;
  boost::asio::steady_timer stats_timer_;
  std::thread timer_thread_;
  std::atomic<bool> stopped_{false};
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
};

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_FABRIC_SYNC_FABRIC_SYNC_H_
