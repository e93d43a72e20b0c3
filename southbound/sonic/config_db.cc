#include "southbound/sonic/config_db.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "southbound/sonic/qos_export.h"

namespace pulse::southbound::sonic {
namespace {

std::string Rename(absl::string_view part, const std::map<std::string, std::string>& names) {
  auto it = names.find(std::string(part));
  return it == names.end() ? std::string(part) : it->second;
}

}  // namespace

absl::StatusOr<ConfigDbEntries> EntriesFromConfigDbJson(const nlohmann::json& tables) {
  if (!tables.is_object()) return absl::InvalidArgumentError("config_db: expected an object");
  ConfigDbEntries out;
  for (const auto& [table, entries] : tables.items()) {
    if (!entries.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat("config_db ", table, ": expected an object"));
    }
    for (const auto& [key, fields] : entries.items()) {
      const std::string where = absl::StrCat("config_db ", table, "|", key);
      if (!fields.is_object()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": expected an object of fields"));
      }
      Fields& hash = out[absl::StrCat(table, "|", key)];
      for (const auto& [field, value] : fields.items()) {
        if (value.is_string()) {
          hash[field] = value.get<std::string>();
        } else if (value.is_array()) {
          std::vector<std::string> items;
          for (const nlohmann::json& v : value) {
            if (!v.is_string()) {
              return absl::InvalidArgumentError(
                  absl::StrCat(where, " field ", field, ": list items must be strings"));
            }
            items.push_back(v.get<std::string>());
          }
          hash[absl::StrCat(field, "@")] = absl::StrJoin(items, ",");
        } else {
          return absl::InvalidArgumentError(absl::StrCat(
              where, " field ", field, ": values must be strings (", value.dump(), ")"));
        }
      }
      if (hash.empty()) hash["NULL"] = "NULL";  // SONiC's marker for a key with no fields
    }
  }
  return out;
}

Fields EcmpHashFields(const switches::EcmpHashModel& model) {
  std::vector<std::string> fields;
  if (model.fields & switches::kHashSrcIp) fields.push_back("SRC_IP");
  if (model.fields & switches::kHashDstIp) fields.push_back("DST_IP");
  if (model.fields & switches::kHashProto) fields.push_back("IP_PROTOCOL");
  if (model.fields & switches::kHashSrcPort) fields.push_back("L4_SRC_PORT");
  if (model.fields & switches::kHashDstPort) fields.push_back("L4_DST_PORT");
  std::string algorithm = "CRC";
  switch (model.algorithm) {
    case switches::HashAlgorithm::kCrc32:
      algorithm = "CRC";
      break;
    case switches::HashAlgorithm::kCrc16Ccitt:
      algorithm = "CRC_CCITT";
      break;
    case switches::HashAlgorithm::kXorFold:
      algorithm = "XOR";
      break;
    case switches::HashAlgorithm::kOvsMultipath:
      // Open vSwitch's own hash; a SONiC switch is modelled as CRC unless the intent says
      // otherwise (controller/paths/ecmp_hash.h HashModelsFromIntent).
      algorithm = "CRC";
      break;
    case switches::HashAlgorithm::kLearned:
      // Probed choices, not a configuration: the switch keeps the CRC hash it was probed with.
      algorithm = "CRC";
      break;
  }
  return {{"ecmp_hash@", absl::StrJoin(fields, ",")}, {"ecmp_hash_algorithm", algorithm}};
}

absl::StatusOr<ConfigDbEntries> PlanConfigDbEntries(const switches::QosPlan& plan,
                                                    absl::string_view switch_name,
                                                    const PortNaming& naming,
                                                    const switches::EcmpHashModel* hash) {
  absl::StatusOr<nlohmann::json> json = ExportSonicConfigDb(plan, switch_name, naming.stride);
  if (!json.ok()) return json.status();
  absl::StatusOr<ConfigDbEntries> exported = EntriesFromConfigDbJson(*json);
  if (!exported.ok()) return exported.status();
  // Stride name -> the switch's own name, for the ports the plan has.
  std::map<std::string, std::string> names;
  std::set<std::string> taken;
  const switches::SwitchQosPlan* sw = plan.FindSwitch(switch_name);
  for (const switches::PortQosPlan& p : sw->ports) {
    const std::string stride_name = SonicPortName(p.port, naming.stride);
    auto alias = naming.aliases.find(p.port);
    const std::string name = alias == naming.aliases.end() ? stride_name : alias->second;
    if (!taken.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat("switch ", switch_name, ": port name '", name,
                                                     "' given to two ports (port_names)"));
    }
    names[stride_name] = name;
  }
  ConfigDbEntries out;
  for (auto& [key, fields] : *exported) {
    std::vector<std::string> parts = absl::StrSplit(key, '|');
    for (size_t i = 1; i < parts.size(); ++i) parts[i] = Rename(parts[i], names);
    Fields renamed;
    const bool port_fields = absl::StartsWith(key, "CABLE_LENGTH|");
    for (auto& [field, value] : fields) {
      renamed[port_fields ? Rename(field, names) : field] = value;
    }
    out[absl::StrJoin(parts, "|")] = std::move(renamed);
  }
  if (hash != nullptr) out["SWITCH_HASH|GLOBAL"] = EcmpHashFields(*hash);
  return out;
}

std::string EntryDifference::ToString() const {
  if (field.empty()) return absl::StrCat(key, ": missing");
  if (want.empty()) return absl::StrCat(key, " ", field, ": not Pulse's, have '", have, "'");
  if (have.empty()) return absl::StrCat(key, " ", field, ": missing, want '", want, "'");
  return absl::StrCat(key, " ", field, ": want '", want, "', have '", have, "'");
}

std::vector<EntryDifference> DiffEntries(const ConfigDbEntries& want, const ConfigDbEntries& have) {
  std::vector<EntryDifference> out;
  for (const auto& [key, fields] : want) {
    auto h = have.find(key);
    if (h == have.end() || h->second.empty()) {
      out.push_back({key, "", "", ""});
      continue;
    }
    for (const auto& [field, value] : fields) {
      auto f = h->second.find(field);
      if (f == h->second.end()) {
        out.push_back({key, field, value, ""});
      } else if (f->second != value) {
        out.push_back({key, field, value, f->second});
      }
    }
  }
  return out;
}

}  // namespace pulse::southbound::sonic
