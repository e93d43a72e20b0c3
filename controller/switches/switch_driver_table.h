// Which SwitchDriver serves each switch of the fabric: the intent names a driver per switch
// (`driver:`, default openflow, topology::Node::driver); the daemon registers one driver object
// per protocol under that name, and FabricSync asks the table for the driver of a node. One daemon
// thus serves a mixed fabric (Open vSwitch over OpenFlow beside SONiC switches) through one
// FabricSync.
#ifndef PULSE_CONTROLLER_SWITCHES_SWITCH_DRIVER_TABLE_H_
#define PULSE_CONTROLLER_SWITCHES_SWITCH_DRIVER_TABLE_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "controller/switches/switch_driver.h"
#include "topology/fabric.h"

namespace pulse::switches {

class SwitchDriverTable {
 public:
  // A table with `driver` serving every switch (tests, benches, single-protocol fabrics).
  static SwitchDriverTable Single(SwitchDriver* driver) {
    SwitchDriverTable t;
    t.drivers_.push_back(driver);
    t.default_ = driver;
    return t;
  }
  SwitchDriverTable() = default;

  // Registers the driver of protocol `name` ("openflow", "sonic"); it must outlive the table.
  void Add(std::string name, SwitchDriver* driver) {
    by_name_[std::move(name)] = driver;
    drivers_.push_back(driver);
  }

  // Routes every switch of `fabric` to the driver its intent names. A switch whose driver was not
  // added is left without one (no forwarding, its events ignored) when `allow_missing`, else it is
  // InvalidArgument naming the switch and the driver.
  absl::Status Route(const topology::Fabric& fabric, bool allow_missing) {
    for (topology::NodeId sw : fabric.switches()) {
      const topology::Node& n = fabric.node(sw);
      const std::string& name =
          n.driver.empty() ? std::string(topology::kDefaultSwitchDriver) : n.driver;
      auto it = by_name_.find(name);
      if (it == by_name_.end()) {
        if (allow_missing) continue;
        return absl::InvalidArgumentError(
            absl::StrCat("switch '", n.name, "': driver '", name, "' is not running"));
      }
      by_node_[sw] = it->second;
    }
    return absl::OkStatus();
  }

  // The driver of `node`; nullptr when none serves it.
  SwitchDriver* For(SwitchId node) const {
    if (default_ != nullptr) return default_;
    auto it = by_node_.find(node);
    return it == by_node_.end() ? nullptr : it->second;
  }
  // Every registered driver, once each (Start, Stop, probes, address book, mastership).
  const std::vector<SwitchDriver*>& drivers() const { return drivers_; }

 private:
  std::map<std::string, SwitchDriver*> by_name_;
  std::map<SwitchId, SwitchDriver*> by_node_;
  std::vector<SwitchDriver*> drivers_;
  SwitchDriver* default_ = nullptr;
};

}  // namespace pulse::switches

#endif  // PULSE_CONTROLLER_SWITCHES_SWITCH_DRIVER_TABLE_H_
