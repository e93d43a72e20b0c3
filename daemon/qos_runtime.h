// Daemon wiring of QoS in one call: the policy (from a file, else the defaults), the QosService,
// and, when an OVSDB endpoint is given, the OVS driver that pushes every accepted plan, answers
// AuditQos and repairs drift (southbound/ovsdb/ovs_qos_driver.h).
#ifndef PULSE_DAEMON_QOS_RUNTIME_H_
#define PULSE_DAEMON_QOS_RUNTIME_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "northbound/qos_service.h"
#include "southbound/ovsdb/ovs_qos_driver.h"

namespace pulse::northbound {

struct QosRuntimeOptions {
  std::string policy_file;     // "" : DefaultQosPolicy()
  std::string ovsdb_endpoint;  // "" : no switch push (e.g. "unix:/var/run/openvswitch/db.sock")
  std::vector<Token> tokens;
  controller::StateStore* store = nullptr;  // policy persisted under "qos/policy"
};

struct QosRuntime {
  std::unique_ptr<southbound::ovsdb::OvsQosDriver> driver;  // null without ovsdb_endpoint
  std::unique_ptr<QosServiceImpl> service;                  // register with the API server
  // Follows "qos/policy" in the store, so a policy set on the cluster leader is put in force on
  // every replica (and pushed by the new leader after a failover). Declared last: stopped first.
  std::unique_ptr<controller::StoreWatch> policy_watch;
};

// Errors name the file or the endpoint. A policy stored under "qos/policy" wins over the file
// (it is the last one an admin set).
absl::StatusOr<std::unique_ptr<QosRuntime>> StartQos(const topology::Fabric* fabric,
                                                     QosRuntimeOptions options);

}  // namespace pulse::northbound

#endif  // PULSE_DAEMON_QOS_RUNTIME_H_
