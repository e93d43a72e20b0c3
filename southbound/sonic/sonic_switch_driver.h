// The SwitchDriver (controller/switches/switch_driver.h) of SONiC switches, so that FabricSync
// serves them beside OpenFlow switches: a switch whose Redis answers is reported connected, with
// the ports the fabric gives it; one whose Redis is lost is reported lost. The driver names a
// switch by its fabric node and reaches it through its own SonicSwitch (the switch's Redis).
//
// What it does not do, and why:
//  - forwarding: SONiC switches route by their own control plane (BGP, ECMP hashing as the
//    SWITCH_HASH entry of the QoS push sets it), so ProgramsForwarding() is false and FabricSync
//    hands it no tables;
//  - port state: STATE_DB's oper status is not read yet, so every planned port is reported up
//    (the far end's own report still takes a link down);
//  - counters: they reach the core through the SONiC runtime's COUNTERS_DB polls (which carry the
//    PFC/ECN counters too), so RequestPortStats asks nothing more; ProbeLinks sends nothing.
#ifndef PULSE_SOUTHBOUND_SONIC_SONIC_SWITCH_DRIVER_H_
#define PULSE_SOUTHBOUND_SONIC_SONIC_SWITCH_DRIVER_H_

#include <map>
#include <mutex>
#include <vector>

#include "absl/status/status.h"
#include "controller/switches/switch_driver.h"

namespace pulse::southbound::sonic {

class SonicSwitchDriver : public switches::SwitchDriver {
 public:
  // The switches served, each with the ports it is reported with on connect.
  explicit SonicSwitchDriver(std::map<switches::SwitchId, std::vector<switches::SwitchPort>> ports)
      : ports_(std::move(ports)) {}

  // A switch's Redis connection went up or down: called from its SonicSwitch connection callback
  // (any thread). Only changes are reported, and only while started; a switch that came up before
  // Start is reported by Start.
  void OnConnection(switches::SwitchId sw, bool up);

  bool ProgramsForwarding() const override { return false; }
  absl::Status Start(switches::FabricEventSink* sink) override;
  void Stop() override;
  // Never called by FabricSync (ProgramsForwarding is false); Unimplemented if it is.
  void ApplyForwarding(const switches::SwitchForwarding& desired,
                       switches::DoneCallback done) override;
  void RequestPortStats(switches::SwitchId) override {}
  void ProbeLinks() override {}

 private:
  const std::map<switches::SwitchId, std::vector<switches::SwitchPort>> ports_;
  std::mutex mu_;                              // serializes reports to the sink with Start/Stop
  switches::FabricEventSink* sink_ = nullptr;  // guarded by mu_
  std::map<switches::SwitchId, bool> up_;      // guarded by mu_
};

}  // namespace pulse::southbound::sonic

#endif  // PULSE_SOUTHBOUND_SONIC_SONIC_SWITCH_DRIVER_H_
