// The SONiC form of a QoS plan (controller/switches/qos.h): the CONFIG_DB tables SONiC's own QoS
// templates write for one switch, as config_db.json holds them. Pure functions, no I/O; the
// SONiC driver writes them (config_db.h), pulsectl's export prints them.
#ifndef PULSE_SOUTHBOUND_SONIC_QOS_EXPORT_H_
#define PULSE_SOUTHBOUND_SONIC_QOS_EXPORT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/switches/qos.h"
#include "nlohmann/json.hpp"

namespace pulse::southbound::sonic {

// SONiC port name of a fabric port: "Ethernet" + (port - 1) x stride. Stride 8 matches 8-lane
// (400G/800G) Spectrum-4 front panels; use 4 for 4-lane platforms.
std::string SonicPortName(int32_t port, int stride = 8);

// The switch's CONFIG_DB tables as config_db.json holds them (all values are strings), the same
// set SONiC's own QoS templates write, so nothing is left to write by hand:
//  - maps (all named AZURE): DSCP_TO_TC_MAP, TC_TO_PRIORITY_GROUP_MAP, TC_TO_QUEUE_MAP,
//    MAP_PFC_PRIORITY_TO_QUEUE, PFC_PRIORITY_TO_PRIORITY_GROUP_MAP; PORT_QOS_MAP|global
//    (dscp_to_tc_map) and PORT_QOS_MAP|<port> (every map, pfc_enable "3,4", pfcwd_sw_enable);
//  - WRED_PROFILE|<name>: ecn_all, green/yellow/red thresholds and drop probability;
//  - SCHEDULER: scheduler.lossless / scheduler.lossy (DWRR) and scheduler.q<N>_shaped for each
//    queue in queue_shaping (pir in bytes/s, cir 1: YANG needs one); QUEUE|<port>|<queues>
//    (scheduler, and wred_profile on lossless queues), keyed by runs of equal queues ("0-2", "3-4",
//    "5-7");
//  - BUFFER_POOL: ingress_lossless/ingress_lossy/egress_lossless/egress_lossy_pool, `size` only
//    where the ASIC profile's platform_pools gives one; BUFFER_PROFILE: the four pool profiles
//    and pg_lossless_<speed Mb/s>_<exact cable>m_profile (size, xon, xoff, dynamic_th) named by
//    the exact length ("10.4m") so unequal cables never share headroom;
//    BUFFER_PG|<port>|0 (ingress_lossy_profile) and |<lossless PGs>; BUFFER_QUEUE|<port>|<queues>;
//    BUFFER_PORT_INGRESS_PROFILE_LIST / BUFFER_PORT_EGRESS_PROFILE_LIST|<port>;
//  - PFC_WD|<port> (action, detection_time, restoration_time), PFC_WD|GLOBAL (POLL_INTERVAL);
//  - CABLE_LENGTH|AZURE (<port>: whole metres rounded up, "11m" for 10.4 m).
// Ports are named by SonicPortName(port, port_name_stride). NotFound if the plan has no such
// switch.
absl::StatusOr<nlohmann::json> ExportSonicConfigDb(const switches::QosPlan& plan,
                                                   absl::string_view switch_name,
                                                   int port_name_stride = 8);

}  // namespace pulse::southbound::sonic

#endif  // PULSE_SOUTHBOUND_SONIC_QOS_EXPORT_H_
