// The daemon's OpenFlow listener settings: the datapath-id allow-list bound to the fabric intent
// and the listener's limits from the config's openflow section, and the /metrics hook that
// exports the listener's refusals.
#ifndef PULSE_DAEMON_OPENFLOW_RUNTIME_H_
#define PULSE_DAEMON_OPENFLOW_RUNTIME_H_

#include <functional>

#include "controller/telemetry/metrics.h"
#include "daemon/config.h"
#include "southbound/openflow/openflow_driver.h"
#include "topology/fabric.h"

namespace pulse::northbound {

// Fills the listener part of `options`: unless config.allow_unknown_dpids, only the datapath
// ids of the fabric's switches are admitted (logged either way), and the configured limits; and
// the node <-> datapath id map of the switches OpenFlow serves (intent driver openflow).
void ConfigureOpenFlowListener(const OpenFlowConfig& config, const topology::Fabric& fabric,
                               southbound::openflow::OpenFlowDriverOptions* options);

// A scrape hook adding the driver's new refusals (by reason) to pulse_openflow_refusals_total.
// Call it on one thread only (the metrics thread).
std::function<void()> OpenFlowRefusalsScrapeHook(const southbound::openflow::OpenFlowDriver* driver,
                                                 controller::MetricsRegistry* registry);

}  // namespace pulse::northbound

#endif  // PULSE_DAEMON_OPENFLOW_RUNTIME_H_
