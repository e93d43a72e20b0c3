// The QosDriver (controller/switches/qos.h) of Open vSwitch: pushes a QoS plan to its bridges
// through the local ovsdb-server: every fabric switch that is an OVS bridge of the same name gets,
// per planned port, one linux-htb QoS row with a Queue per egress queue of the policy (PFC/ECN
// numbers in external_ids, see qos_programmer.h) and the tc DSCP filters DSCP_TO_TC_MAP -> queue.
// It audits by reading back, and Watch() repairs drift (changes made with ovs-vsctl or tc) and logs
// every drift found and repaired.
//
// Port names are never assumed: the fabric port number is the Interface's ofport on the bridge,
// and the OVS Port/Interface name is looked up from it (Mininet calls it "<switch>-eth<port>").
#ifndef PULSE_SOUTHBOUND_OVSDB_OVS_QOS_DRIVER_H_
#define PULSE_SOUTHBOUND_OVSDB_OVS_QOS_DRIVER_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/switches/qos.h"
#include "southbound/ovsdb/ovsdb_client.h"
#include "southbound/ovsdb/qos_programmer.h"
#include "southbound/ovsdb/tc_dscp_classifier.h"

namespace pulse::southbound::ovsdb {

// Guaranteed share of the line rate: lossless queues split kLosslessMinShare evenly, the other
// queues split the rest evenly. Every queue may use the whole line rate (max-rate = speed), so
// the shares only matter under congestion, as with ETS on a hardware switch.
inline constexpr double kLosslessMinShare = 0.8;

// The OVS config of one planned port (`ovs_port` is its OVS Port name).
PortQosConfig PortQosConfigFromPlan(const switches::QosPolicy& policy,
                                    const switches::PortQosPlan& port, std::string ovs_port);
// The tc filters of the policy: each of the 64 DSCP values -> the HTB class of its queue
// (unmapped values follow default_tc).
std::vector<DscpFilter> DscpFiltersFromPolicy(const switches::QosPolicy& policy);

// One port's difference (or repair), for the QoS audit.
using OvsQosFinding = switches::QosFinding;

class OvsQosDriver : public switches::QosDriver {
 public:
  explicit OvsQosDriver(CommandRunner tc_runner = SystemCommandRunner())
      : tc_(std::move(tc_runner)) {}
  ~OvsQosDriver() override;  // stops the watch

  // switches::QosDriver: Apply and Audit below.
  absl::StatusOr<int> ApplyQos(const switches::QosPlan& plan) override { return Apply(plan); }
  absl::StatusOr<std::vector<switches::QosFinding>> AuditQos() override { return Audit(); }

  absl::Status Connect(absl::string_view endpoint);

  // OVS Port name of fabric port `ofport` on bridge `bridge`; NotFound naming both.
  absl::StatusOr<std::string> ResolvePort(absl::string_view bridge, int32_t ofport);

  // Programs every port of every switch of `plan` that has an OVS bridge (other switches are
  // skipped), one transaction per port, then its tc filters. Remembers the plan for audits.
  // Returns the number of ports programmed; the first error names switch and port.
  absl::StatusOr<int> Apply(const switches::QosPlan& plan);
  // Programs the switches of the last applied plan that had no OVS bridge then and have one now
  // (a lab started after the controller, a bridge re-created). Returns the ports programmed.
  // Watch() calls it when OVSDB reports new ports.
  absl::StatusOr<int> ApplyToNewBridges();
  // Reads back every port Apply programmed and lists the differences.
  absl::StatusOr<std::vector<OvsQosFinding>> Audit(int* ports_audited = nullptr);
  // Audits and reprograms drifted ports; returns what was repaired (each one logged).
  absl::StatusOr<std::vector<OvsQosFinding>> Repair();
  // Starts a thread that repairs on every OVSDB change of Port/QoS/Queue and every
  // `tc_poll` (tc filters have no change notification). Needs a second connection.
  absl::Status Watch(absl::string_view endpoint, absl::Duration tc_poll);
  int64_t repairs() const { return repairs_.load(); }

 private:
  struct Target {
    std::string switch_name;
    int32_t port = 0;
    PortQosConfig config;
    std::vector<DscpFilter> filters;
  };
  absl::StatusOr<std::vector<OvsQosFinding>> AuditOrRepair(bool repair, int* ports_audited);
  // Programs every port of `sw` into `targets`; false when `sw` has no OVS bridge. Holds mu_.
  absl::StatusOr<bool> ProgramSwitch(const switches::QosPlan& plan,
                                     const switches::SwitchQosPlan& sw,
                                     std::vector<Target>* targets);
  bool HasAbsentSwitches();
  // Deletes Pulse's QoS rows no Port uses, with their Queue rows (best effort: a failure is
  // logged, the push goes on). Holds mu_.
  void DeleteOrphanRows();

  std::mutex mu_;  // serializes OVSDB/tc work and guards targets_
  OvsdbClient client_;
  TcDscpClassifier tc_;
  std::vector<Target> targets_;
  std::optional<switches::QosPlan> plan_;  // the last applied plan
  std::set<std::string> absent_switches_;  // planned switches with no OVS bridge at Apply
  std::unique_ptr<OvsdbClient> watch_client_;
  QosChangeWatcher watcher_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> repairs_{0};
  std::thread watch_thread_;
};

}  // namespace pulse::southbound::ovsdb

#endif  // PULSE_SOUTHBOUND_OVSDB_OVS_QOS_DRIVER_H_
