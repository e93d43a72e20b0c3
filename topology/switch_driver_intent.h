// Which driver speaks to a switch, read from the switch's entry of an intent file. Kept apart from
// intent.cc so that drivers add their keys here, not in the main parser.
//
//   switches:
//     - {name: leaf-0, role: leaf}                        # driver: openflow (default)
//     - name: leaf-1
//       role: leaf
//       driver: sonic
//       redis: 10.0.0.11:6379                          # or unix:/var/run/redis/redis.sock
//       redis_password: secret                         # optional
//       port_name_stride: 4                            # optional: Ethernet0, Ethernet4 ... (8)
//       port_names: {1: Ethernet0, 2: Ethernet2}       # optional per-port aliases
#ifndef PULSE_TOPOLOGY_SWITCH_DRIVER_INTENT_H_
#define PULSE_TOPOLOGY_SWITCH_DRIVER_INTENT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/yaml_fields.h"
#include "yaml-cpp/yaml.h"

namespace pulse::topology {

struct SwitchDriverIntent {
  std::string driver = "openflow";  // "openflow" | "sonic"
  // driver: sonic
  std::string redis;  // "host:port" or "unix:/absolute/path"
  std::string redis_password;
  int port_name_stride = 8;
  std::map<int32_t, std::string> port_names;  // fabric port -> the switch's port name
};

// The switch-entry keys read here (the main parser accepts them on a switch).
const std::vector<std::string>& SwitchDriverKeys();

// Reads the driver keys of one switch entry (`field` is its path, e.g. "switches[2]"). Errors name
// the key and line: an unknown driver, sonic without redis, a malformed address, a stride outside
// 1..64, a port name used twice or not starting with "Ethernet".
absl::StatusOr<SwitchDriverIntent> ParseSwitchDriver(const yaml::YamlFields& fields,
                                                     const YAML::Node& entry,
                                                     const std::string& field);

}  // namespace pulse::topology

#endif  // PULSE_TOPOLOGY_SWITCH_DRIVER_INTENT_H_
