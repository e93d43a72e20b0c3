// Daemon wiring of QoS: the QosService over the controller's policy and, when an OVSDB endpoint
// is given, the OVS driver that programs every plan the controller puts in force, answers
// AuditQos and repairs drift (southbound/ovsdb/ovs_qos_driver.h).
//
// The controller owns the policy (controller/qos_state.h): a QoS observer hands each new plan to
// the runtime's own worker thread, which pushes it (an OVSDB transaction per port and a forked
// tc each); plans queued behind a newer one are skipped. Audits run on that worker too. So no
// gRPC, etcd-watch or controller thread ever talks to a switch.
#ifndef PULSE_DAEMON_QOS_RUNTIME_H_
#define PULSE_DAEMON_QOS_RUNTIME_H_

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/controller.h"
#include "northbound/auth_gate.h"
#include "northbound/qos_service.h"
#include "southbound/ovsdb/ovs_qos_driver.h"

namespace pulse::northbound {

struct QosRuntimeOptions {
  std::string ovsdb_endpoint;  // "" : no switch push (e.g. "unix:/var/run/openvswitch/db.sock")
  std::function<std::string()> forward_writes_to;  // see QosServiceOptions
};

class QosWorker;

// Switches another southbound's runtime keeps (the SONiC switches, daemon/sonic_runtime.h), joined
// to AuditQos after start-up: their findings follow the OVS driver's. Thread-safe; the runtime
// that set an audit clears it before it goes.
class QosExtraAudit {
 public:
  using Audit = std::function<std::vector<QosAuditFinding>()>;
  void Set(Audit audit) {
    std::lock_guard<std::mutex> lock(mu_);
    audit_ = std::move(audit);
  }
  bool empty() const {
    std::lock_guard<std::mutex> lock(mu_);
    return audit_ == nullptr;
  }
  // Appends the findings (nothing when no audit is set).
  void AddTo(QosAuditReport& report) const {
    std::lock_guard<std::mutex> lock(mu_);
    if (audit_ == nullptr) return;
    for (QosAuditFinding& f : audit_()) report.differences.push_back(std::move(f));
  }

 private:
  mutable std::mutex mu_;
  Audit audit_;
};

struct QosRuntime {
  ~QosRuntime();  // stops the worker before the driver goes

  std::unique_ptr<southbound::ovsdb::OvsQosDriver> driver;  // null without ovsdb_endpoint
  std::shared_ptr<QosWorker> worker;                        // null without ovsdb_endpoint
  std::unique_ptr<QosServiceImpl> service;
  std::shared_ptr<QosExtraAudit> extra_audit = std::make_shared<QosExtraAudit>();
  std::unique_ptr<GatedService> gated;  // `service` as the API server registers it
};

// The policy file's text for ControllerOptions::qos_policy_yaml; NotFound naming the file.
absl::StatusOr<std::string> ReadQosPolicyFile(const std::string& path);

// `controller` must outlive the runtime. Errors: QoS off in the controller (its default policy
// does not fit the fabric), an endpoint that does not answer, or a first push that fails (each
// names the endpoint or the switch and port).
absl::StatusOr<std::unique_ptr<QosRuntime>> StartQos(controller::Controller* controller,
                                                     QosRuntimeOptions options);

}  // namespace pulse::northbound

#endif  // PULSE_DAEMON_QOS_RUNTIME_H_
