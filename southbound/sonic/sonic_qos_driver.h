// The QosDriver (controller/switches/qos.h) of SONiC switches: ApplyQos turns the plan into each
// switch's CONFIG_DB entries (config_db.h PlanConfigDbEntries, plus SWITCH_HASH when a hash model
// is given) and hands them to that switch's SonicSwitch, whose own thread writes and repairs them;
// AuditQos reports the switches that are not connected or not in sync with the plan.
//
// Switches are the fabric's nodes; each is mapped here to its SonicSwitch (its Redis) and its port
// naming. The SonicSwitch objects belong to the caller and must outlive this driver.
#ifndef PULSE_SOUTHBOUND_SONIC_SONIC_QOS_DRIVER_H_
#define PULSE_SOUTHBOUND_SONIC_SONIC_QOS_DRIVER_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/switches/ecmp_hash_model.h"
#include "controller/switches/qos.h"
#include "southbound/sonic/config_db.h"
#include "southbound/sonic/sonic_switch.h"
#include "topology/fabric.h"

namespace pulse::southbound::sonic {

struct SonicQosTarget {
  topology::NodeId node = topology::kNoNode;
  std::string name;  // the fabric's switch name (the plan's SwitchQosPlan::name)
  PortNaming naming;
  SonicSwitch* sonic = nullptr;
};

class SonicQosDriver : public switches::QosDriver {
 public:
  SonicQosDriver(std::vector<SonicQosTarget> targets, std::optional<switches::EcmpHashModel> hash)
      : targets_(std::move(targets)), hash_(hash) {}

  // Every target gets its entries even when another one fails (each failure is logged); the
  // result is the number of planned ports handed over, or the first failure.
  absl::StatusOr<int> ApplyQos(const switches::QosPlan& plan) override;
  // One finding (port 0) per switch that is disconnected or whose last reconcile changed
  // something; empty when every switch holds the plan.
  absl::StatusOr<std::vector<switches::QosFinding>> AuditQos() override;

 private:
  std::vector<SonicQosTarget> targets_;
  std::optional<switches::EcmpHashModel> hash_;
};

}  // namespace pulse::southbound::sonic

#endif  // PULSE_SOUTHBOUND_SONIC_SONIC_QOS_DRIVER_H_
