// The JSON documents of the web view's read-only HTTP API (northbound/web_api.h), built from one
// controller snapshot. Pure functions: no I/O, no clocks, no locks beyond the event log's own, so
// they are unit-tested on a built fabric and give scripts the same answer as the page.
//
// Shapes (every rate in bits per second, utilisation as a fraction of capacity, names as in the
// intent):
//   TopologyJson  {switches: [{id, name, role, level, pod, rail, plane, dpid, connected, drained,
//                  servers, nics, nic_links_down}], links: [{id, a, a_port, b, b_port,
//                  capacity_bps}], servers, nics, gpus, planes: [..], rails: [..],
//                  event_sequence}
//                 Links are the switch-to-switch links; NIC links are summarised per leaf.
//   SwitchesJson  {switches: [...as in topology...], event_sequence}
//   LinksJson     {links: [{id, a, a_port, b, b_port, capacity_bps, up, usable, drained,
//                  planned_bps: [a->b, b->a], planned_utilisation: [..], measured_bps: [..],
//                  measured_utilisation: [..], discovery}], measured, discovery: {available,
//                  probe_rounds, description, missing, miswired, unexpected: [...]},
//                  event_sequence}
//                 measured_* are present only for measured channels (null for the other
//                 direction); discovery is "ok", "missing", "miswired" or "unknown" (planning
//                 mode or no probe yet).
//   JobsJson      {jobs: [{id, pattern, endpoints, flows, traffic_class, strict, rate_bps,
//                  predicted_bps, max_link_load, lower_bound}], event_sequence}
//   JobJson       the summary plus endpoint_names, flows_listed (the first max_flows: src, dst,
//                 rate_bps, subflow, phase, udp_src_port, path: [directed link ids],
//                 links: [link ids]), flows_truncated, links (every link the job crosses, with
//                 the job's own load per direction and the link's planned and measured
//                 utilisation), measured {available, max_path_utilisation, bottleneck}
//   EventsJson    {events: [{sequence, time_unix_ms, type, subject, detail, flows_moved}],
//                  last_sequence, oldest_sequence, gap}
#ifndef PULSE_NORTHBOUND_WEB_JSON_H_
#define PULSE_NORTHBOUND_WEB_JSON_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/controller.h"
#include "controller/events.h"
#include "controller/fabric_sync/fabric_sync.h"
#include "nlohmann/json.hpp"

namespace pulse::northbound {

// Run-time inputs besides the snapshot; either may be absent (null).
struct WebLiveInputs {
  // Measured load per directed link (TelemetryLoop::MeasuredLinkLoadBps, NaN = not measured).
  const std::vector<double>* measured_load_bps = nullptr;
  // LLDP discovery against the intent (FabricSync::Discovery); null in planning mode.
  const controller::DiscoveryReport* discovery = nullptr;
};

nlohmann::json TopologyJson(const controller::ControllerSnapshot& snapshot);
nlohmann::json SwitchesJson(const controller::ControllerSnapshot& snapshot);
// `include_nic_links`: also the NIC-to-leaf links (many on a large fabric).
nlohmann::json LinksJson(const controller::ControllerSnapshot& snapshot, const WebLiveInputs& live,
                         bool include_nic_links);
nlohmann::json JobsJson(const controller::ControllerSnapshot& snapshot);
// NotFound naming the job for an unknown id.
absl::StatusOr<nlohmann::json> JobJson(const controller::ControllerSnapshot& snapshot,
                                       const std::string& job_id, const WebLiveInputs& live,
                                       size_t max_flows);
// Up to `max_events` events with sequence > `after`. When some were already forgotten, starts
// at the oldest held and sets gap: true (the reader should re-read state).
nlohmann::json EventsJson(const controller::EventLog& events, uint64_t after, size_t max_events);

}  // namespace pulse::northbound

#endif  // PULSE_NORTHBOUND_WEB_JSON_H_
