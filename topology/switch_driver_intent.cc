#include "topology/switch_driver_intent.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace pulse::topology {
namespace {

bool IsRedisAddress(const std::string& a) {
  if (absl::StartsWith(a, "unix:/")) return true;
  const size_t colon = a.rfind(':');
  int port = 0;
  return colon != std::string::npos && colon > 0 && absl::SimpleAtoi(a.substr(colon + 1), &port) &&
         port > 0 && port <= 65535;
}

}  // namespace

const std::vector<std::string>& SwitchDriverKeys() {
  static const std::vector<std::string> keys = {"driver", "redis", "redis_password",
                                                "port_name_stride", "port_names"};
  return keys;
}

absl::StatusOr<SwitchDriverIntent> ParseSwitchDriver(const yaml::YamlFields& fields,
                                                     const YAML::Node& entry,
                                                     const std::string& field) {
  SwitchDriverIntent out;
  if (entry["driver"]) {
    absl::StatusOr<std::string> d = fields.String(entry["driver"], yaml::Field(field, "driver"));
    if (!d.ok()) return d.status();
    if (*d != "openflow" && *d != "sonic") {
      return fields.Error(entry["driver"], yaml::Field(field, "driver"),
                          absl::StrCat("'", *d, "' is not one of openflow, sonic"));
    }
    out.driver = *d;
  }
  const bool sonic = out.driver == "sonic";
  for (const char* key : {"redis", "redis_password", "port_name_stride", "port_names"}) {
    if (entry[key] && !sonic) {
      return fields.Error(entry[key], yaml::Field(field, key), "only for driver: sonic");
    }
  }
  if (!sonic) return out;
  if (!entry["redis"]) {
    return fields.Error(entry, yaml::Field(field, "redis"),
                        "driver: sonic needs redis: host:port or unix:/path/redis.sock");
  }
  absl::StatusOr<std::string> redis = fields.String(entry["redis"], yaml::Field(field, "redis"));
  if (!redis.ok()) return redis.status();
  if (!IsRedisAddress(*redis)) {
    return fields.Error(entry["redis"], yaml::Field(field, "redis"),
                        absl::StrCat("'", *redis, "' is not host:port or unix:/path"));
  }
  out.redis = *redis;
  if (entry["redis_password"]) {
    absl::StatusOr<std::string> p =
        fields.String(entry["redis_password"], yaml::Field(field, "redis_password"));
    if (!p.ok()) return p.status();
    out.redis_password = *p;
  }
  if (entry["port_name_stride"]) {
    absl::StatusOr<int64_t> s =
        fields.Int(entry["port_name_stride"], yaml::Field(field, "port_name_stride"), 1, 64);
    if (!s.ok()) return s.status();
    out.port_name_stride = static_cast<int>(*s);
  }
  if (const YAML::Node names = entry["port_names"]; names) {
    const std::string names_field = yaml::Field(field, "port_names");
    if (!names.IsMap()) return fields.Error(names, names_field, "expected {port: EthernetN}");
    std::set<std::string> seen;
    for (const auto& kv : names) {
      const std::string key_field =
          yaml::Field(names_field, kv.first.IsScalar() ? kv.first.Scalar() : "?");
      absl::StatusOr<int64_t> port = fields.Int(kv.first, key_field, 1, 65535);
      if (!port.ok()) return port.status();
      absl::StatusOr<std::string> name = fields.String(kv.second, key_field);
      if (!name.ok()) return name.status();
      if (!absl::StartsWith(*name, "Ethernet")) {
        return fields.Error(kv.second, key_field,
                            absl::StrCat("'", *name, "' is not a SONiC port name (EthernetN)"));
      }
      if (!seen.insert(*name).second) {
        return fields.Error(kv.second, key_field, absl::StrCat("'", *name, "' is used twice"));
      }
      if (!out.port_names.emplace(static_cast<int32_t>(*port), *name).second) {
        return fields.Error(kv.first, key_field, "port named twice");
      }
    }
  }
  return out;
}

}  // namespace pulse::topology
