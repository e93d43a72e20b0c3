// What Pulse wants in one SONiC switch's CONFIG_DB, as Redis hashes, and how that compares with
// what the switch holds. Pure functions: no I/O.
//
// CONFIG_DB (database 4) keeps one hash per entry under "TABLE|key" (e.g.
// "BUFFER_PG|Ethernet0|3-4"); config_db.json's lists are stored as one field named "<name>@"
// holding the comma-joined values. The entries come from the QoS plan's SONiC export
// (qos_export.h ExportSonicConfigDb, the same tables config_db.json gets) plus the
// ECMP hash the steering model assumes (SWITCH_HASH|GLOBAL), with ports renamed by the switch's
// alias map.
//
// Core types used here, all from the switch contract: switches::QosPlan (controller/switches/qos.h)
// and switches::EcmpHashModel (controller/switches/ecmp_hash_model.h).
#ifndef PULSE_SOUTHBOUND_SONIC_CONFIG_DB_H_
#define PULSE_SOUTHBOUND_SONIC_CONFIG_DB_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/switches/ecmp_hash_model.h"
#include "controller/switches/qos.h"
#include "nlohmann/json.hpp"

namespace pulse::southbound::sonic {

inline constexpr int kApplDb = 0;
inline constexpr int kCountersDb = 2;
inline constexpr int kConfigDb = 4;
inline constexpr int kStateDb = 6;

using Fields = std::map<std::string, std::string>;
// Key "TABLE|key" -> hash fields.
using ConfigDbEntries = std::map<std::string, Fields>;

// How a switch names its ports: "Ethernet" + (port - 1) x stride, unless `aliases` names the
// fabric port number explicitly (intent `port_names: {1: Ethernet0, 2: Ethernet4}`).
struct PortNaming {
  int stride = 8;
  std::map<int32_t, std::string> aliases;
};

// config_db.json tables -> entries. Values must be strings or lists of strings (lists become a
// "<field>@" field, comma-joined). InvalidArgument naming the table and key otherwise.
absl::StatusOr<ConfigDbEntries> EntriesFromConfigDbJson(const nlohmann::json& tables);

// SWITCH_HASH|GLOBAL for the model: ecmp_hash@ (SRC_IP, DST_IP, IP_PROTOCOL, L4_SRC_PORT,
// L4_DST_PORT in that order, those selected) and ecmp_hash_algorithm (crc32 -> CRC,
// crc16-ccitt -> CRC_CCITT, xor-fold -> XOR). The seed is not in CONFIG_DB's schema (SONiC takes
// it from swss's switch.json into APPL_DB SWITCH_TABLE:switch) and is not written; the driver
// reads it and reports a mismatch (sonic_switch.h SetExpectedEcmpHashSeed).
Fields EcmpHashFields(const switches::EcmpHashModel& model);

// Everything Pulse wants in the switch's CONFIG_DB: the QoS export of `switch_name` with ports
// named by `naming`, plus SWITCH_HASH|GLOBAL when `hash` is given. Errors: no such switch, a bad
// stride, two ports given the same name.
absl::StatusOr<ConfigDbEntries> PlanConfigDbEntries(const switches::QosPlan& plan,
                                                    absl::string_view switch_name,
                                                    const PortNaming& naming,
                                                    const switches::EcmpHashModel* hash);

// One way the switch differs from the plan.
struct EntryDifference {
  std::string key;
  std::string field;  // empty: the whole key is missing
  std::string want;   // empty for a stray field in a key Pulse created
  std::string have;   // empty when the field is missing
  std::string ToString() const;
};

// The fields of `want` that `have` lacks or holds with another value. Fields `have` carries
// beyond `want` are not differences (a key Pulse adopted may hold the platform's own fields).
std::vector<EntryDifference> DiffEntries(const ConfigDbEntries& want, const ConfigDbEntries& have);

}  // namespace pulse::southbound::sonic

#endif  // PULSE_SOUTHBOUND_SONIC_CONFIG_DB_H_
