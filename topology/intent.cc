#include "topology/intent.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/yaml_fields.h"
#include "topology/units.h"
#include "yaml-cpp/yaml.h"

namespace pulse::topology {

absl::StatusOr<int64_t> ParseSpeedBps(absl::string_view text) {
  absl::StatusOr<double> bps = ParseBitsPerSecond(text);
  if (!bps.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected a speed such as 100G or a number of bits per second, got '", text, "'"));
  }
  if (!(*bps >= 1) || *bps > 1e15) {
    return absl::InvalidArgumentError(
        absl::StrCat("speed '", text, "' is out of range (1 bps to 1000T)"));
  }
  return static_cast<int64_t>(std::llround(*bps));
}

namespace {

using yaml::Field;

// Highest switch port an explicit link may name: room for any real switch, and no overflow when
// the next free port is counted up from it.
constexpr int32_t kMaxPort = 65535;

// Walks the YAML tree and turns every problem into "source:line: field: what".
class IntentParser {
 public:
  explicit IntentParser(absl::string_view source) : source_(source), fields_(source) {}

  absl::StatusOr<Intent> Parse(const YAML::Node& root);

 private:
  absl::StatusOr<double> GetMetres(const YAML::Node& n, absl::string_view field) const {
    absl::StatusOr<double> v = fields_.Double(n, field);
    if (v.ok() && (*v < 0 || *v > 100'000)) {
      return fields_.Error(n, field, absl::StrCat("cable length must be 0..100000 m, got ", *v));
    }
    return v;
  }

  absl::StatusOr<int64_t> GetSpeed(const YAML::Node& n, absl::string_view field) const {
    if (!n.IsScalar()) return fields_.Error(n, field, "expected a speed such as 100G");
    absl::StatusOr<int64_t> v = ParseSpeedBps(n.Scalar());
    if (!v.ok()) return fields_.Error(n, field, v.status().message());
    return v;
  }

  // 3, 1.5 or "3:1".
  absl::StatusOr<double> GetRatio(const YAML::Node& n, absl::string_view field) const {
    if (n.IsScalar()) {
      std::vector<std::string> parts = absl::StrSplit(n.Scalar(), ':');
      double num = 0, den = 1;
      bool ok = absl::SimpleAtod(parts[0], &num);
      if (parts.size() == 2) ok = ok && absl::SimpleAtod(parts[1], &den);
      if (ok && parts.size() <= 2 && num > 0 && den > 0 && std::isfinite(num) &&
          std::isfinite(den)) {
        return num / den;
      }
    }
    return fields_.Error(n, field, "expected a positive ratio such as 1, 3 or \"3:1\"");
  }

  absl::StatusOr<uint64_t> GetDpid(const YAML::Node& n, absl::string_view field) const {
    uint64_t v = 0;
    bool ok = false;
    if (n.IsScalar()) {
      absl::string_view s = n.Scalar();
      if (absl::ConsumePrefix(&s, "0x") || absl::ConsumePrefix(&s, "0X")) {
        ok = absl::SimpleHexAtoi(s, &v);
      } else {
        ok = absl::SimpleAtoi(s, &v);
      }
    }
    if (!ok || v == 0) {
      return fields_.Error(n, field, "expected a non-zero datapath id (decimal or 0x hex)");
    }
    return v;
  }

  absl::Status ParseCables(const YAML::Node& n, CableLengths& cables);
  absl::Status ParseAddressPlan(const YAML::Node& n, AddressPlan& plan);
  // One NIC object of a server's `nics:` list: {ip: 10.1.2.3/24, mac: "0c:42:a1:00:00:01"}.
  absl::Status ParseNicAddress(const YAML::Node& n, const std::string& field, Ipv4Prefix& ip,
                               uint64_t& mac);
  // Points a FabricBuilder "address of '<NIC>': what" error at the line that gave the address.
  absl::Status AddressError(const YAML::Node& root, absl::string_view message) const;
  absl::Status ParseController(const YAML::Node& n, ControllerSettings& settings);
  absl::StatusOr<EcmpHashSpec> ParseEcmpHashSpec(const YAML::Node& n,
                                                 const std::string& field) const;
  absl::Status ParseEcmpHash(const YAML::Node& n, EcmpHashIntent& out) const;
  absl::StatusOr<Fabric> ParseBuilder(const YAML::Node& n, const CableLengths& cables);
  absl::StatusOr<Fabric> ParseExplicit(const YAML::Node& root, const CableLengths& cables);
  absl::Status ParseNodeNames(const YAML::Node& n, Intent& intent);
  // Points a builder's "param: what" error at the param's line.
  absl::Status BuilderError(const YAML::Node& builder, const absl::Status& status) const;

  std::string source_;
  yaml::YamlFields fields_;
  std::map<std::string, SwitchDriverIntent> switch_drivers_;  // filled by ParseExplicit
  YAML::Node cables_node_;
  YAML::Node address_plan_node_;
  AddressPlan address_plan_;
  bool address_plan_given_ = false;
  // NIC name -> the node and field of its listed ip (for errors found when the fabric is built).
  std::map<std::string, std::pair<YAML::Node, std::string>> nic_address_nodes_;
};

absl::Status IntentParser::ParseAddressPlan(const YAML::Node& n, AddressPlan& plan) {
  if (n.IsScalar()) {
    absl::StatusOr<AddressPlanKind> kind = ParseAddressPlanKind(n.Scalar());
    if (!kind.ok()) return fields_.Error(n, "address_plan", kind.status().message());
    if (*kind == AddressPlanKind::kPerLeaf) {
      return fields_.Error(n, "address_plan",
                           "per-leaf needs a base and a block: {type: per-leaf, base: "
                           "10.1.0.0/16, block: 24}");
    }
    plan.kind = *kind;
    return absl::OkStatus();
  }
  if (!n.IsMap()) {
    return fields_.Error(n, "address_plan",
                         "expected none, mininet or {type: per-leaf, base: ..., block: ...}");
  }
  if (!n["type"])
    return fields_.Error(n, "address_plan.type", "required (none, mininet, per-leaf)");
  bool has_base = false;
  absl::Status s = fields_.ReadMap(
      n, "address_plan", {"type", "base", "block"},
      [&](const std::string& key, const std::string& field, const YAML::Node& v) -> absl::Status {
        if (key == "type") {
          absl::StatusOr<std::string> text = fields_.String(v, field);
          if (!text.ok()) return text.status();
          absl::StatusOr<AddressPlanKind> kind = ParseAddressPlanKind(*text);
          if (!kind.ok()) return fields_.Error(v, field, kind.status().message());
          plan.kind = *kind;
          return absl::OkStatus();
        }
        if (key == "base") {
          absl::StatusOr<std::string> text = fields_.String(v, field);
          if (!text.ok()) return text.status();
          absl::StatusOr<Ipv4Prefix> base = ParseIpv4Prefix(*text);
          if (!base.ok()) return fields_.Error(v, field, base.status().message());
          if (!absl::StrContains(*text, '/')) {
            return fields_.Error(v, field, "expected a prefix such as 10.1.0.0/16");
          }
          plan.base = *base;
          has_base = true;
          return absl::OkStatus();
        }
        // block: 24 or "/24"
        std::string text = v.IsScalar() ? v.Scalar() : "";
        absl::string_view t = text;
        absl::ConsumePrefix(&t, "/");
        int length = 0;
        if (!absl::SimpleAtoi(t, &length) || length < 1 || length > 30) {
          return fields_.Error(v, field, "expected a block prefix length from 1 to 30, such as 24");
        }
        plan.block_length = length;
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  if (plan.kind == AddressPlanKind::kPerLeaf) {
    if (!has_base) return fields_.Error(n, "address_plan.base", "required for per-leaf");
    if (!n["block"]) return fields_.Error(n, "address_plan.block", "required for per-leaf");
    if (plan.block_length <= plan.base.length) {
      return fields_.Error(n["block"], "address_plan.block",
                           absl::StrCat("/", plan.block_length, " must be longer than the base /",
                                        plan.base.length));
    }
  } else if (has_base || n["block"]) {
    return fields_.Error(n, "address_plan", "base and block belong to the per-leaf plan only");
  }
  return absl::OkStatus();
}

absl::Status IntentParser::ParseNicAddress(const YAML::Node& n, const std::string& field,
                                           Ipv4Prefix& ip, uint64_t& mac) {
  return fields_.ReadMap(
      n, field, {"ip", "mac"},
      [&](const std::string& key, const std::string& f, const YAML::Node& v) -> absl::Status {
        absl::StatusOr<std::string> text = fields_.String(v, f);
        if (!text.ok()) return text.status();
        if (key == "ip") {
          absl::StatusOr<Ipv4Prefix> p = ParseIpv4Prefix(*text);
          if (!p.ok()) return fields_.Error(v, f, p.status().message());
          if (p->address == 0 || p->address >= 0xE0000000 || (p->address >> 24) == 127 ||
              (p->length < 31 && (p->address == p->Network() ||
                                  p->address == (p->Network() | ~Ipv4Prefix::Mask(p->length))))) {
            return fields_.Error(v, f,
                                 absl::StrCat("'", *text,
                                              "' is not a usable host address (zero, "
                                              "loopback, multicast, or its subnet's network or "
                                              "broadcast address)"));
          }
          ip = *p;
          return absl::OkStatus();
        }
        absl::StatusOr<uint64_t> m = ParseMac(*text);
        if (!m.ok()) return fields_.Error(v, f, m.status().message());
        mac = *m;
        return absl::OkStatus();
      });
}

absl::Status IntentParser::AddressError(const YAML::Node& root, absl::string_view message) const {
  absl::string_view msg = message;
  const size_t at = msg.find("address of '");
  if (at != absl::string_view::npos) {
    absl::string_view rest = msg.substr(at + 12);
    const size_t quote = rest.find("': ");
    if (quote != absl::string_view::npos) {
      const std::string nic(rest.substr(0, quote));
      absl::string_view what = rest.substr(quote + 3);
      if (size_t end = what.find("; "); end != absl::string_view::npos) what = what.substr(0, end);
      if (auto it = nic_address_nodes_.find(nic); it != nic_address_nodes_.end()) {
        return fields_.Error(it->second.first, it->second.second,
                             absl::StrCat("NIC '", nic, "': ", what));
      }
      if (address_plan_node_) {
        return fields_.Error(address_plan_node_, "address_plan",
                             absl::StrCat("NIC '", nic, "': ", what));
      }
    }
  }
  if (absl::StartsWith(msg, "address_plan: ") && address_plan_node_) {
    return fields_.Error(address_plan_node_, "address_plan", msg.substr(14));
  }
  return fields_.Error(root, "fabric", msg);
}

absl::Status IntentParser::ParseCables(const YAML::Node& n, CableLengths& cables) {
  return fields_.ReadMap(
      n, "cables", {"host_m", "leaf_spine_m", "spine_super_spine_m", "overrides"},
      [&](const std::string& key, const std::string& field, const YAML::Node& v) -> absl::Status {
        if (key == "overrides") {
          if (!v.IsMap())
            return fields_.Error(v, field, "expected a mapping of \"switch:port\": metres");
          for (const auto& kv : v) {
            if (!kv.first.IsScalar())
              return fields_.Error(kv.first, field, "keys must be \"switch:port\"");
            const std::string port = kv.first.Scalar();
            const std::string f = absl::StrCat(field, ".", port);
            if (!absl::StrContains(port, ':')) {
              return fields_.Error(kv.first, f,
                                   "expected \"switch:port\" (for example \"leaf-0:3\")");
            }
            absl::StatusOr<double> m = GetMetres(kv.second, f);
            if (!m.ok()) return m.status();
            if (!cables.overrides_m.emplace(port, *m).second) {
              return fields_.Error(kv.first, f, "override given twice");
            }
          }
          return absl::OkStatus();
        }
        absl::StatusOr<double> m = GetMetres(v, field);
        if (!m.ok()) return m.status();
        if (key == "host_m") cables.host_m = *m;
        if (key == "leaf_spine_m") cables.leaf_spine_m = *m;
        if (key == "spine_super_spine_m") cables.spine_super_spine_m = *m;
        return absl::OkStatus();
      });
}

absl::StatusOr<EcmpHashSpec> IntentParser::ParseEcmpHashSpec(const YAML::Node& n,
                                                             const std::string& field) const {
  EcmpHashSpec spec;
  spec.where = n.Mark().line >= 0 ? absl::StrCat(source_, ":", n.Mark().line + 1, ": ", field)
                                  : absl::StrCat(source_, ": ", field);
  absl::Status status = fields_.ReadMap(
      n, field, {"algorithm", "seed", "fields"},
      [&](const std::string& key, const std::string& sub, const YAML::Node& v) -> absl::Status {
        if (key == "algorithm") {
          absl::StatusOr<std::string> a = fields_.String(v, sub);
          if (!a.ok()) return a.status();
          spec.algorithm = *a;
          return absl::OkStatus();
        }
        if (key == "seed") {
          absl::StatusOr<int64_t> seed = fields_.Int(v, sub, 0, 0xffffffffll);
          if (!seed.ok()) return seed.status();
          spec.seed = static_cast<uint32_t>(*seed);
          return absl::OkStatus();
        }
        return fields_.ReadList(
            v, sub,
            [&](size_t, const std::string& item_field, const YAML::Node& item) -> absl::Status {
              absl::StatusOr<std::string> f = fields_.String(item, item_field);
              if (!f.ok()) return f.status();
              spec.fields.push_back(*f);
              return absl::OkStatus();
            });
      });
  if (!status.ok()) return status;
  if (spec.algorithm.empty()) return fields_.Error(n, field, "algorithm is required");
  return spec;
}

absl::Status IntentParser::ParseEcmpHash(const YAML::Node& n, EcmpHashIntent& out) const {
  return fields_.ReadMap(
      n, "ecmp_hash", {"default", "roles", "switches"},
      [&](const std::string& key, const std::string& field, const YAML::Node& v) -> absl::Status {
        if (key == "default") {
          absl::StatusOr<EcmpHashSpec> spec = ParseEcmpHashSpec(v, field);
          if (!spec.ok()) return spec.status();
          out.fabric_default = *spec;
          return absl::OkStatus();
        }
        if (!v.IsMap()) return fields_.Error(v, field, "expected a mapping");
        std::map<std::string, EcmpHashSpec>& target = key == "roles" ? out.by_role : out.by_switch;
        for (const auto& entry : v) {
          std::string name = entry.first.Scalar();
          std::string sub = absl::StrCat(field, ".", name);
          if (key == "roles" && name != "leaf" && name != "spine" && name != "super-spine")
            return fields_.Error(entry.first, sub,
                                 "unknown role (expected leaf, spine or super-spine)");
          absl::StatusOr<EcmpHashSpec> spec = ParseEcmpHashSpec(entry.second, sub);
          if (!spec.ok()) return spec.status();
          if (!target.emplace(name, *spec).second)
            return fields_.Error(entry.first, sub, "given twice");
        }
        return absl::OkStatus();
      });
}

absl::Status IntentParser::ParseController(const YAML::Node& n, ControllerSettings& settings) {
  return fields_.ReadMap(
      n, "controller", {"openflow_address", "northbound_address", "lossless_priority", "max_paths"},
      [&](const std::string& key, const std::string& field, const YAML::Node& v) -> absl::Status {
        if (key == "openflow_address" || key == "northbound_address") {
          absl::StatusOr<std::string> addr = fields_.String(v, field);
          if (!addr.ok()) return addr.status();
          // Bracketed IPv6 ("[::1]:6653") keeps its colons inside the brackets.
          size_t colon = addr->rfind(':');
          int port = 0;
          if (colon == std::string::npos || colon == 0 ||
              !absl::SimpleAtoi(absl::string_view(*addr).substr(colon + 1), &port) || port < 0 ||
              port > 65535) {
            return fields_.Error(v, field, absl::StrCat("expected host:port, got '", *addr, "'"));
          }
          (key == "openflow_address" ? settings.openflow_address : settings.northbound_address) =
              *addr;
          return absl::OkStatus();
        }
        if (key == "lossless_priority") {
          absl::StatusOr<int64_t> p = fields_.Int(v, field, 0, 7);
          if (!p.ok()) return p.status();
          settings.lossless_priority = static_cast<int>(*p);
          return absl::OkStatus();
        }
        absl::StatusOr<int64_t> p = fields_.Int(v, field, 1, 1'000'000);
        if (!p.ok()) return p.status();
        settings.max_paths = static_cast<int>(*p);
        return absl::OkStatus();
      });
}

absl::Status IntentParser::BuilderError(const YAML::Node& builder,
                                        const absl::Status& status) const {
  absl::string_view msg = status.message();
  size_t colon = msg.find(':');
  std::string param(msg.substr(0, colon == absl::string_view::npos ? 0 : colon));
  absl::string_view what = colon == absl::string_view::npos ? msg : msg.substr(colon + 2);
  if (param == "cables" && cables_node_) {
    // Point at the first override the builder names, else at the cables block.
    const YAML::Node cables = cables_node_;
    for (const auto& kv : cables["overrides"]) {
      if (absl::StrContains(msg, absl::StrCat("'", kv.first.Scalar(), "'"))) {
        return fields_.Error(kv.first, absl::StrCat("cables.overrides.", kv.first.Scalar()), what);
      }
    }
    return fields_.Error(cables_node_, "cables", what);
  }
  for (const auto& kv : builder) {
    if (kv.first.Scalar() == param) return fields_.Error(kv.second, Field("builder", param), what);
  }
  // A parameter left out (so at its default) is reported at the builder itself.
  if (!param.empty()) return fields_.Error(builder, Field("builder", param), what);
  return fields_.Error(builder, "builder", msg);
}

absl::StatusOr<Fabric> IntentParser::ParseBuilder(const YAML::Node& n, const CableLengths& cables) {
  if (!n.IsMap()) return fields_.Error(n, "builder", "expected a mapping with a type");
  const YAML::Node type_node = n["type"];
  if (!type_node)
    return fields_.Error(n, "builder.type", "required (leaf-spine, fat-tree or rail-optimized)");
  absl::StatusOr<std::string> type = fields_.String(type_node, "builder.type");
  if (!type.ok()) return type.status();

  // Where one builder's keys go: its counts straight into the params; type, host_speed and
  // fabric_speed (every builder) and oversubscription and spine_mode (some) are read here.
  struct BuilderKeys {
    std::vector<yaml::YamlFields::Slot> counts;
    int64_t* host_speed_bps;
    int64_t* fabric_speed_bps;
    double* oversubscription = nullptr;  // null: the builder has none
    RailSpineMode* spine_mode = nullptr;
  };
  auto read = [&](const BuilderKeys& b) -> absl::Status {
    std::vector<std::string> others = {"type", "host_speed", "fabric_speed"};
    if (b.oversubscription) others.push_back("oversubscription");
    if (b.spine_mode) others.push_back("spine_mode");
    return fields_.ReadSlots(
        n, "builder", b.counts, others,
        [&](const std::string& key, const std::string& field, const YAML::Node& v) -> absl::Status {
          if (key == "host_speed" || key == "fabric_speed") {
            absl::StatusOr<int64_t> bps = GetSpeed(v, field);
            if (!bps.ok()) return bps.status();
            *(key == "host_speed" ? b.host_speed_bps : b.fabric_speed_bps) = *bps;
          } else if (key == "oversubscription") {
            absl::StatusOr<double> r = GetRatio(v, field);
            if (!r.ok()) return r.status();
            *b.oversubscription = *r;
          } else if (key == "spine_mode") {
            absl::StatusOr<RailSpineMode> mode =
                v.IsScalar() ? ParseRailSpineMode(v.Scalar())
                             : absl::InvalidArgumentError("expected all or per-rail");
            if (!mode.ok()) return fields_.Error(v, field, mode.status().message());
            *b.spine_mode = *mode;
          }
          return absl::OkStatus();
        });
  };

  absl::StatusOr<Fabric> fabric;
  if (*type == "leaf-spine") {
    LeafSpineParams p;
    p.cables = cables;
    p.address_plan = address_plan_;
    BuilderKeys keys{{{"leaves", &p.leaves},
                      {"spines", &p.spines},
                      {"servers_per_leaf", &p.servers_per_leaf},
                      {"nics_per_server", &p.nics_per_server},
                      {"gpus_per_server", &p.gpus_per_server},
                      {"uplinks_per_spine", &p.uplinks_per_spine},
                      {"planes", &p.planes}},
                     &p.host_speed_bps,
                     &p.fabric_speed_bps,
                     &p.oversubscription};
    if (absl::Status s = read(keys); !s.ok()) return s;
    fabric = LeafSpine(p);
  } else if (*type == "fat-tree") {
    FatTreeParams p;
    p.cables = cables;
    p.address_plan = address_plan_;
    BuilderKeys keys{{{"k", &p.k},
                      {"nics_per_server", &p.nics_per_server},
                      {"gpus_per_server", &p.gpus_per_server}},
                     &p.host_speed_bps,
                     &p.fabric_speed_bps};
    if (absl::Status s = read(keys); !s.ok()) return s;
    fabric = FatTree(p);
  } else if (*type == "rail-optimized") {
    RailOptimizedParams p;
    p.cables = cables;
    p.address_plan = address_plan_;
    BuilderKeys keys{{{"groups", &p.groups},
                      {"servers_per_group", &p.servers_per_group},
                      {"rails", &p.rails},
                      {"gpus_per_server", &p.gpus_per_server},
                      {"spines", &p.spines},
                      {"uplinks_per_spine", &p.uplinks_per_spine},
                      {"planes", &p.planes}},
                     &p.host_speed_bps,
                     &p.fabric_speed_bps,
                     &p.oversubscription,
                     &p.spine_mode};
    if (absl::Status s = read(keys); !s.ok()) return s;
    fabric = RailOptimized(p);
  } else {
    return fields_.Error(type_node, "builder.type",
                         absl::StrCat("unknown builder '", *type,
                                      "' (expected leaf-spine, fat-tree or rail-optimized)"));
  }
  if (!fabric.ok()) {
    if (absl::StartsWith(fabric.status().message(), "address")) {
      return AddressError(n, fabric.status().message());
    }
    return BuilderError(n, fabric.status());
  }
  return fabric;
}

absl::StatusOr<Fabric> IntentParser::ParseExplicit(const YAML::Node& root,
                                                   const CableLengths& cables) {
  struct Known {
    NodeId id;
    int level;
  };
  FabricBuilder builder;
  absl::flat_hash_map<std::string, Known> nodes;  // switch and NIC names
  absl::flat_hash_map<uint64_t, std::string> dpids;
  std::vector<absl::flat_hash_set<int32_t>> used_ports;  // by NodeId
  std::vector<int> nic_links;                            // by NodeId
  auto add_node = [&](const std::string& name, NodeId id, int level) {
    nodes[name] = Known{id, level};
    used_ports.resize(id + 1);
    nic_links.resize(id + 1, 0);
  };

  const YAML::Node switches = root["switches"];
  if (!switches || !switches.IsSequence() || switches.size() == 0) {
    return fields_.Error(switches ? switches : root, "switches",
                         "expected a non-empty list of switches");
  }
  // Explicit ids first, so ids given to switches without one never collide with a later switch.
  absl::flat_hash_set<uint64_t> explicit_dpids;
  for (size_t i = 0; i < switches.size(); ++i) {
    if (switches[i].IsMap() && switches[i]["dpid"]) {
      if (auto d = GetDpid(switches[i]["dpid"], ""); d.ok()) explicit_dpids.insert(*d);
    }
  }
  uint64_t next_auto_dpid = 1;
  for (size_t i = 0; i < switches.size(); ++i) {
    const YAML::Node sw = switches[i];
    const std::string field = absl::StrCat("switches[", i, "]");
    std::vector<std::string> switch_keys = {"name", "role", "dpid", "pod", "rail", "plane"};
    switch_keys.insert(switch_keys.end(), SwitchDriverKeys().begin(), SwitchDriverKeys().end());
    if (auto s = fields_.CheckKeys(sw, field, switch_keys); !s.ok()) return s;
    if (!sw["name"]) return fields_.Error(sw, Field(field, "name"), "required");
    if (!sw["role"]) return fields_.Error(sw, Field(field, "role"), "required");
    absl::StatusOr<std::string> name = fields_.String(sw["name"], Field(field, "name"));
    if (!name.ok()) return name.status();
    if (name->empty() || absl::StrContains(*name, ':')) {
      return fields_.Error(sw["name"], Field(field, "name"), "must be non-empty and have no ':'");
    }
    if (nodes.contains(*name)) {
      return fields_.Error(sw["name"], Field(field, "name"),
                           absl::StrCat("'", *name, "' is used twice"));
    }
    absl::StatusOr<std::string> role_name = fields_.String(sw["role"], Field(field, "role"));
    if (!role_name.ok()) return role_name.status();
    absl::StatusOr<SwitchRole> role = ParseSwitchRole(*role_name);
    if (!role.ok()) return fields_.Error(sw["role"], Field(field, "role"), role.status().message());
    uint64_t dpid = 0;
    if (sw["dpid"]) {
      absl::StatusOr<uint64_t> d = GetDpid(sw["dpid"], Field(field, "dpid"));
      if (!d.ok()) return d.status();
      dpid = *d;
    } else {
      while (explicit_dpids.contains(next_auto_dpid)) ++next_auto_dpid;
      dpid = next_auto_dpid++;
    }
    {
      if (auto [it, fresh] = dpids.emplace(dpid, *name); !fresh) {
        return fields_.Error(
            sw["dpid"], Field(field, "dpid"),
            absl::StrCat("datapath id ", dpid, " is already used by '", it->second, "'"));
      }
    }
    int attrs[3] = {-1, -1, 0};  // pod, rail, plane
    const char* attr_names[3] = {"pod", "rail", "plane"};
    for (int a = 0; a < 3; ++a) {
      if (!sw[attr_names[a]]) continue;
      absl::StatusOr<int64_t> v =
          fields_.Int(sw[attr_names[a]], Field(field, attr_names[a]), a == 2 ? 0 : -1, 1'000'000);
      if (!v.ok()) return v.status();
      attrs[a] = static_cast<int>(*v);
    }
    const NodeId node = builder.AddSwitch(*name, *role, attrs[0], attrs[1], attrs[2], dpid);
    add_node(*name, node, LevelOf(*role));
    // Driver keys (driver: sonic, redis: ...): a block of their own, switch_driver_intent.h.
    absl::StatusOr<SwitchDriverIntent> driver = ParseSwitchDriver(fields_, sw, field);
    if (!driver.ok()) return driver.status();
    builder.SetSwitchDriver(node, driver->driver);
    if (driver->driver != kDefaultSwitchDriver) switch_drivers_[*name] = *std::move(driver);
  }

  const YAML::Node servers = root["servers"];
  if (servers && !servers.IsSequence()) return fields_.Error(servers, "servers", "expected a list");
  std::map<NodeId, std::pair<std::string, YAML::Node>> nic_owner;  // ordered: stable errors
  absl::flat_hash_map<uint32_t, std::string> listed_ips;  // listed NIC addresses -> NIC name
  absl::flat_hash_map<uint64_t, std::string> listed_macs;
  // Explicit fabrics are the operator's own: without a plan every NIC is listed or learned.
  AddressPlan plan = address_plan_;
  if (!address_plan_given_) plan.kind = AddressPlanKind::kNone;
  builder.SetAddressPlan(plan);
  for (size_t i = 0; servers && i < servers.size(); ++i) {
    const YAML::Node sv = servers[i];
    const std::string field = absl::StrCat("servers[", i, "]");
    if (auto s = fields_.CheckKeys(sv, field, {"name", "nics", "gpus", "pod"}); !s.ok()) return s;
    if (!sv["name"]) return fields_.Error(sv, Field(field, "name"), "required");
    absl::StatusOr<std::string> name = fields_.String(sv["name"], Field(field, "name"));
    if (!name.ok()) return name.status();
    if (name->empty() || absl::StrContains(*name, ':') || absl::StrContains(*name, '/')) {
      return fields_.Error(sv["name"], Field(field, "name"),
                           "must be non-empty and have no ':' or '/'");
    }
    int64_t nics = 1, pod = -1;
    // `nics:` is a count, or a list of NIC objects with their addresses.
    std::vector<std::pair<Ipv4Prefix, uint64_t>> nic_addresses;
    if (sv["nics"] && sv["nics"].IsSequence()) {
      const YAML::Node list = sv["nics"];
      if (list.size() < 1 || list.size() > 64) {
        return fields_.Error(list, Field(field, "nics"), "expected 1 to 64 NICs");
      }
      for (size_t j = 0; j < list.size(); ++j) {
        const std::string f = absl::StrCat(Field(field, "nics"), "[", j, "]");
        Ipv4Prefix ip{0, 32};
        uint64_t mac = 0;
        if (!list[j].IsMap()) {
          return fields_.Error(
              list[j], f, "expected a NIC such as {ip: 10.1.2.3/24, mac: \"0c:42:a1:00:00:01\"}");
        }
        if (auto st = ParseNicAddress(list[j], f, ip, mac); !st.ok()) return st;
        const std::string nic_name = absl::StrCat(*name, "/nic-", j);
        if (ip.address != 0) {
          if (auto [it, fresh] = listed_ips.emplace(ip.address, nic_name); !fresh) {
            return fields_.Error(
                list[j]["ip"], Field(f, "ip"),
                absl::StrCat(FormatIpv4(ip.address), " is also the address of '", it->second, "'"));
          }
          nic_address_nodes_[nic_name] = {list[j]["ip"], Field(f, "ip")};
        }
        if (mac != 0) {
          if (auto [it, fresh] = listed_macs.emplace(mac, nic_name); !fresh) {
            return fields_.Error(
                list[j]["mac"], Field(f, "mac"),
                absl::StrCat(FormatMac(mac), " is also the MAC of '", it->second, "'"));
          }
          if (ip.address == 0) nic_address_nodes_[nic_name] = {list[j]["mac"], Field(f, "mac")};
        }
        nic_addresses.emplace_back(ip, mac);
      }
      nics = static_cast<int64_t>(list.size());
    } else if (sv["nics"]) {
      absl::StatusOr<int64_t> v = fields_.Int(sv["nics"], Field(field, "nics"), 1, 64);
      if (!v.ok()) return v.status();
      nics = *v;
    }
    int64_t gpus = nics;
    if (sv["gpus"]) {
      absl::StatusOr<int64_t> v = fields_.Int(sv["gpus"], Field(field, "gpus"), 0, 1024);
      if (!v.ok()) return v.status();
      gpus = *v;
    }
    if (sv["pod"]) {
      absl::StatusOr<int64_t> v = fields_.Int(sv["pod"], Field(field, "pod"), -1, 1'000'000);
      if (!v.ok()) return v.status();
      pod = *v;
    }
    ServerId server = builder.AddServer(*name, static_cast<int>(pod));
    std::vector<NodeId> ids;
    for (int r = 0; r < nics; ++r) {
      std::string nic_name = absl::StrCat(*name, "/nic-", r);
      if (nodes.contains(nic_name)) {
        return fields_.Error(sv["name"], Field(field, "name"),
                             absl::StrCat("'", nic_name, "' is already a node name"));
      }
      NodeId id = builder.AddNic(server, r);
      if (r < static_cast<int>(nic_addresses.size()) &&
          (nic_addresses[r].first.address != 0 || nic_addresses[r].second != 0)) {
        builder.SetNicAddress(id, nic_addresses[r].first, nic_addresses[r].second);
      }
      add_node(nic_name, id, kNicLevel);
      nic_owner[id] = {field, sv};
      ids.push_back(id);
    }
    for (int g = 0; g < gpus; ++g) builder.AddGpu(server, ids[g % ids.size()]);
  }

  const YAML::Node links = root["links"];
  if (!links || !links.IsSequence()) {
    return fields_.Error(links ? links : root, "links", "expected a list of links");
  }
  absl::flat_hash_set<std::string> used_overrides;
  for (size_t i = 0; i < links.size(); ++i) {
    const YAML::Node ln = links[i];
    const std::string field = absl::StrCat("links[", i, "]");
    if (auto s = fields_.CheckKeys(ln, field, {"a", "b", "speed", "cable_m"}); !s.ok()) return s;
    for (const char* req : {"a", "b", "speed"}) {
      if (!ln[req]) return fields_.Error(ln, Field(field, req), "required");
    }
    struct EndSpec {
      Known node;
      int32_t port;
      std::string name;
    };
    EndSpec ends[2];
    const char* keys[2] = {"a", "b"};
    for (int e = 0; e < 2; ++e) {
      const std::string f = Field(field, keys[e]);
      absl::StatusOr<std::string> text = fields_.String(ln[keys[e]], f);
      if (!text.ok()) return text.status();
      std::string name = *text;
      int32_t port = 0;
      if (size_t colon = text->rfind(':'); colon != std::string::npos) {
        name = text->substr(0, colon);
        if (!absl::SimpleAtoi(absl::string_view(*text).substr(colon + 1), &port) || port < 1 ||
            port > kMaxPort) {
          return fields_.Error(ln[keys[e]], f,
                               absl::StrCat("expected \"node:port\" with a port from 1 to ",
                                            kMaxPort, ", got '", *text, "'"));
        }
      }
      auto it = nodes.find(name);
      if (it == nodes.end()) {
        return fields_.Error(ln[keys[e]], f, absl::StrCat("no switch or NIC named '", name, "'"));
      }
      auto& used = used_ports[it->second.id];
      if (port == 0) {
        for (int32_t p : used) port = std::max(port, p);
        ++port;
      }
      if (!used.insert(port).second) {
        return fields_.Error(
            ln[keys[e]], f,
            absl::StrCat("port ", port, " of '", name, "' is already used by another link"));
      }
      ends[e] = EndSpec{it->second, port, name};
    }
    if (ends[0].node.id == ends[1].node.id) {
      return fields_.Error(ln, field, absl::StrCat("link from '", ends[0].name, "' to itself"));
    }
    const int low = std::min(ends[0].node.level, ends[1].node.level);
    const int high = std::max(ends[0].node.level, ends[1].node.level);
    if (high - low != 1) {
      return fields_.Error(ln, field,
                           absl::StrCat("'", ends[0].name, "' and '", ends[1].name,
                                        "' are not in adjacent tiers (levels ", ends[0].node.level,
                                        " and ", ends[1].node.level, ")"));
    }
    absl::StatusOr<int64_t> speed = GetSpeed(ln["speed"], Field(field, "speed"));
    if (!speed.ok()) return speed.status();
    double cable_m =
        low == 0 ? cables.host_m : (low == 1 ? cables.leaf_spine_m : cables.spine_super_spine_m);
    for (const EndSpec& e : ends) {
      std::string key = absl::StrCat(e.name, ":", e.port);
      if (auto it = cables.overrides_m.find(key); it != cables.overrides_m.end()) {
        cable_m = it->second;
        used_overrides.insert(key);
      }
    }
    if (ln["cable_m"]) {
      absl::StatusOr<double> m = GetMetres(ln["cable_m"], Field(field, "cable_m"));
      if (!m.ok()) return m.status();
      cable_m = *m;
    }
    for (const EndSpec& e : ends) {
      if (e.node.level == kNicLevel) ++nic_links[e.node.id];
    }
    builder.AddLink(ends[0].node.id, ends[1].node.id, *speed, cable_m, ends[0].port, ends[1].port);
  }
  for (const auto& [id, owner] : nic_owner) {
    if (nic_links[id] == 0) {
      std::string nic_name;
      for (const auto& [name, known] : nodes) {
        if (known.id == id) nic_name = name;
      }
      return fields_.Error(owner.second, owner.first,
                           absl::StrCat("NIC '", nic_name, "' has no link"));
    }
  }
  if (cables_node_) {
    const YAML::Node cables_node = cables_node_;
    const YAML::Node overrides = cables_node["overrides"];
    for (const auto& kv : overrides) {
      if (!used_overrides.contains(kv.first.Scalar())) {
        return fields_.Error(kv.first, absl::StrCat("cables.overrides.", kv.first.Scalar()),
                             "names no link of this fabric");
      }
    }
  }
  absl::StatusOr<Fabric> fabric = std::move(builder).Build();
  if (!fabric.ok()) return AddressError(root, fabric.status().message());
  return fabric;
}

absl::StatusOr<Intent> IntentParser::Parse(const YAML::Node& root) {
  if (!root || root.IsNull()) {
    return fields_.ErrorAtLine(1, "intent",
                               "empty file (expected a mapping with builder or switches)");
  }
  if (auto s =
          fields_.CheckKeys(root, "",
                            {"name", "description", "builder", "switches", "servers", "links",
                             "cables", "controller", "ecmp_hash", "node_names", "address_plan"});
      !s.ok()) {
    return s;
  }
  Intent intent;
  intent.source = source_;
  intent.name = source_;
  if (root["name"]) {
    absl::StatusOr<std::string> name = fields_.String(root["name"], "name");
    if (!name.ok()) return name.status();
    intent.name = *name;
  }
  if (root["description"]) {
    absl::StatusOr<std::string> d = fields_.String(root["description"], "description");
    if (!d.ok()) return d.status();
    intent.description = *d;
  }
  if (root["cables"]) {
    cables_node_ = root["cables"];
    if (auto s = ParseCables(cables_node_, intent.cables); !s.ok()) return s;
  }
  if (root["ecmp_hash"]) {
    if (auto s = ParseEcmpHash(root["ecmp_hash"], intent.ecmp_hash); !s.ok()) return s;
  }
  if (root["controller"]) {
    if (auto s = ParseController(root["controller"], intent.controller); !s.ok()) return s;
  }
  if (root["address_plan"]) {
    address_plan_node_ = root["address_plan"];
    address_plan_given_ = true;
    if (auto s = ParseAddressPlan(address_plan_node_, address_plan_); !s.ok()) return s;
  }
  const bool has_builder = static_cast<bool>(root["builder"]);
  const bool has_explicit = root["switches"] || root["servers"] || root["links"];
  if (has_builder && has_explicit) {
    const YAML::Node other =
        root["switches"] ? root["switches"] : (root["servers"] ? root["servers"] : root["links"]);
    return fields_.Error(other, "builder",
                         "give either builder or switches/servers/links, not both");
  }
  if (!has_builder && !has_explicit) {
    return fields_.Error(root, "builder",
                         "required (or an explicit switches/servers/links fabric)");
  }
  absl::StatusOr<Fabric> fabric = has_builder ? ParseBuilder(root["builder"], intent.cables)
                                              : ParseExplicit(root, intent.cables);
  if (!fabric.ok()) return fabric.status();
  intent.fabric = *std::move(fabric);
  intent.switch_drivers = std::move(switch_drivers_);
  if (root["node_names"]) {
    if (auto s = ParseNodeNames(root["node_names"], intent); !s.ok()) return s;
  }
  return intent;
}

// The scheduler's name for each server, checked against the fabric just built: every key a
// server, every name a valid host name used once (Slurm and Kubernetes both need that).
absl::Status IntentParser::ParseNodeNames(const YAML::Node& n, Intent& intent) {
  if (!n.IsMap()) return fields_.Error(n, "node_names", "expected a mapping server: node-name");
  absl::flat_hash_map<std::string, std::string> server_of_node;
  for (const auto& kv : n) {
    if (!kv.first.IsScalar()) return fields_.Error(kv.first, "node_names", "keys must be servers");
    const std::string server = kv.first.Scalar();
    const std::string field = absl::StrCat("node_names.", server);
    if (!intent.fabric.FindServer(server).ok()) {
      return fields_.Error(kv.first, field, "names no server of this fabric");
    }
    absl::StatusOr<std::string> node = fields_.String(kv.second, field);
    if (!node.ok()) return node.status();
    if (node->empty() || node->size() > 63 || !std::all_of(node->begin(), node->end(), [](char c) {
          return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ||
                 c == '_';
        })) {
      return fields_.Error(kv.second, field,
                           absl::StrCat("'", *node,
                                        "' is not a node name (1-63 letters, digits, '-', '.', "
                                        "'_')"));
    }
    if (intent.node_names.count(server) > 0) {
      return fields_.Error(kv.first, field, "server given twice");
    }
    auto [it, fresh] = server_of_node.emplace(*node, server);
    if (!fresh) {
      return fields_.Error(kv.second, field,
                           absl::StrCat("node name '", *node, "' already given to ", it->second));
    }
    intent.node_names.emplace(server, *node);
  }
  for (const Server& server : intent.fabric.servers()) {
    // An unmapped server keeps its name: that must not collide with a mapped one.
    if (intent.node_names.count(server.name) == 0 && server_of_node.contains(server.name)) {
      return fields_.Error(
          n, "node_names",
          absl::StrCat("node name '", server.name, "' of ", server_of_node[server.name],
                       " is also the name of unmapped server ", server.name));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Intent> ParseIntent(absl::string_view yaml_text, absl::string_view source_name) {
  IntentParser parser(source_name);
  try {
    YAML::Node root = YAML::Load(std::string(yaml_text));
    return parser.Parse(root);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name, ":", e.mark.line + 1, ": syntax error: ", e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": ", e.what()));
  }
}

absl::StatusOr<Intent> LoadIntentFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read intent file '", path, "'"));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::NotFoundError(absl::StrCat("error reading intent file '", path, "'"));
  return ParseIntent(text.str(), path);
}

}  // namespace pulse::topology
