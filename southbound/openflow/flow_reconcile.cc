#include "southbound/openflow/flow_reconcile.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <tuple>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "southbound/openflow/codec.h"

namespace pulse::southbound::openflow {

namespace of = ::pulse::openflow;

namespace {

constexpr uint32_t kMaxSelectGroupId = 0xffff;  // shares reg0 with the slot number
constexpr uint32_t kFailoverBase = 0x80000000u;
constexpr uint32_t kNxmReg0 = 0x00010004;

uint64_t FullMask(of::OxmField field) {
  switch (field) {
    case of::OxmField::kInPort:
    case of::OxmField::kIpv4Src:
    case of::OxmField::kIpv4Dst:
    case of::OxmField::kNxmReg0:
      return 0xffffffffull;
    case of::OxmField::kMetadata:
      return ~0ull;
    case of::OxmField::kEthDst:
    case of::OxmField::kEthSrc:
      return 0xffffffffffffull;
    case of::OxmField::kVlanVid:
      return 0x1fff;
    case of::OxmField::kVlanPcp:
      return 0x7;
    case of::OxmField::kIpDscp:
      return 0x3f;
    case of::OxmField::kIpEcn:
      return 0x3;
    case of::OxmField::kIpProto:
      return 0xff;
    default:
      return 0xffff;  // eth_type, tcp/udp ports
  }
}

void NormalizeActions(of::ActionList* actions) {
  for (auto& action : *actions) {
    if (auto* output = std::get_if<of::OutputAction>(&action)) {
      if (output->port != of::kPortController) output->max_len = 0;
    }
  }
}

void NormalizeInstructions(std::vector<of::Instruction>* instructions) {
  for (auto& instruction : *instructions) {
    if (auto* apply = std::get_if<of::ApplyActionsInstruction>(&instruction))
      NormalizeActions(&apply->actions);
    if (auto* write = std::get_if<of::WriteActionsInstruction>(&instruction))
      NormalizeActions(&write->actions);
  }
}

std::string Bytes(const of::Message& message) {
  auto bytes = Encode(message);
  if (!bytes.ok()) return absl::StrCat("unencodable:", bytes.status().message());
  return std::string(bytes->begin(), bytes->end());
}

std::string CanonicalInstructions(std::vector<of::Instruction> instructions) {
  NormalizeInstructions(&instructions);
  of::FlowMod mod;
  mod.instructions = std::move(instructions);
  return Bytes(of::Message{0, mod});
}

std::string CanonicalGroup(uint8_t type, std::vector<of::Bucket> buckets) {
  for (auto& bucket : buckets) {
    if (type != static_cast<uint8_t>(of::GroupType::kSelect)) bucket.weight = 0;
    NormalizeActions(&bucket.actions);
  }
  of::GroupMod mod;
  mod.type = type;
  mod.buckets = std::move(buckets);
  return Bytes(of::Message{0, mod});
}

std::string FlowKey(uint8_t table, uint16_t priority, const of::Match& match) {
  return absl::StrCat(table, "/", priority, "/", CanonicalMatch(match));
}

of::Match TranslateMatch(const RuleMatch& m) {
  of::Match match;
  if (m.in_port) match.Add(of::OxmField::kInPort, *m.in_port);
  bool ip = m.ipv4_src || m.ipv4_dst || m.ip_proto || m.dscp || m.udp_src || m.udp_dst;
  if (m.eth_type) {
    match.Add(of::OxmField::kEthType, *m.eth_type);
  } else if (ip) {
    match.Add(of::OxmField::kEthType, 0x0800);  // prerequisite of the IPv4 fields
  }
  auto add_ip = [&](of::OxmField field, uint32_t value, uint32_t mask) {
    if (mask == 0) return;
    if (mask == 0xffffffffu) {
      match.Add(field, value);
    } else {
      match.AddMasked(field, value & mask, mask);
    }
  };
  if (m.ipv4_src) add_ip(of::OxmField::kIpv4Src, *m.ipv4_src, m.ipv4_src_mask);
  if (m.ipv4_dst) add_ip(of::OxmField::kIpv4Dst, *m.ipv4_dst, m.ipv4_dst_mask);
  if (m.dscp) match.Add(of::OxmField::kIpDscp, *m.dscp);
  if (m.ip_proto) {
    match.Add(of::OxmField::kIpProto, *m.ip_proto);
  } else if (m.udp_src || m.udp_dst) {
    match.Add(of::OxmField::kIpProto, 17);  // prerequisite of the UDP ports
  }
  if (m.udp_src) match.Add(of::OxmField::kUdpSrc, *m.udp_src);
  if (m.udp_dst) match.Add(of::OxmField::kUdpDst, *m.udp_dst);
  return match;
}

of::OutputAction Output(uint32_t port) {
  return of::OutputAction{
      port, port == of::kPortController ? of::kControllerMaxLenNoBuffer : uint16_t{0}};
}

}  // namespace

uint32_t FailoverGroupId(uint32_t group, uint32_t bucket) {
  return kFailoverBase | (group << 8) | (bucket & 0xff);
}

std::string CanonicalMatch(const of::Match& match) {
  std::vector<std::tuple<int, uint64_t, uint64_t, std::string>> fields;
  for (const auto& f : match.fields) {
    if (f.field == of::OxmField::kRaw) {
      fields.emplace_back(static_cast<int>(f.field), 0, 0, std::string(f.raw.begin(), f.raw.end()));
      continue;
    }
    uint64_t full = FullMask(f.field);
    uint64_t mask = f.has_mask ? (f.mask & full) : full;
    if (mask == 0) continue;  // wildcard
    fields.emplace_back(static_cast<int>(f.field), f.value & mask, mask, std::string());
  }
  std::sort(fields.begin(), fields.end());
  std::string out;
  for (const auto& [field, value, mask, raw] : fields)
    absl::StrAppend(&out, field, "=", absl::Hex(value), "/", absl::Hex(mask),
                    raw.empty() ? "" : ":", absl::CHexEscape(raw), ";");
  return out;
}

absl::StatusOr<OpenFlowState> TranslateForwarding(const SwitchForwarding& desired) {
  OpenFlowState state;
  std::map<uint32_t, const ForwardingGroup*> groups;
  for (const auto& group : desired.groups) {
    if (!groups.emplace(group.id, &group).second)
      return absl::InvalidArgumentError(
          absl::StrCat("switch node ", desired.node, ": group ", group.id, " listed twice"));
  }
  std::map<uint32_t, uint32_t> select_slots;  // select group -> slot count
  for (const auto& group : desired.groups) {
    std::string where = absl::StrCat("switch node ", desired.node, " group ", group.id);
    if (group.buckets.empty()) return absl::InvalidArgumentError(where + ": no bucket");
    if (group.kind == GroupKind::kFastFailover) {
      if (group.id >= kFailoverBase)
        return absl::InvalidArgumentError(where + ": fast-failover id must be < 0x80000000");
      GroupEntry entry{group.id, static_cast<uint8_t>(of::GroupType::kFastFailover), {}};
      for (const auto& b : group.buckets) {
        uint32_t watch = b.watch_port != 0 ? b.watch_port : b.output_port;
        entry.buckets.push_back(of::Bucket{0, watch, of::kGroupAny, {Output(b.output_port)}});
      }
      state.groups.push_back(std::move(entry));
      continue;
    }
    if (group.id == 0 || group.id > kMaxSelectGroupId)
      return absl::InvalidArgumentError(where + ": select group id must be in 1..65535");
    if (group.buckets.size() > 255)
      return absl::InvalidArgumentError(where + ": more than 255 buckets");
    size_t n = group.buckets.size();
    for (size_t b = 0; b < n; ++b) {
      GroupEntry entry{FailoverGroupId(group.id, static_cast<uint32_t>(b)),
                       static_cast<uint8_t>(of::GroupType::kFastFailover),
                       {}};
      for (size_t k = 0; k < n; ++k) {
        const GroupBucket& bucket = group.buckets[(b + k) % n];
        uint32_t watch = bucket.watch_port != 0 ? bucket.watch_port : bucket.output_port;
        entry.buckets.push_back(of::Bucket{0, watch, of::kGroupAny, {Output(bucket.output_port)}});
      }
      state.groups.push_back(std::move(entry));
    }
    std::vector<uint32_t> weights;
    for (const auto& b : group.buckets) weights.push_back(b.weight);
    std::vector<uint32_t> slots = ::pulse::SlotsForWeights(weights);
    uint32_t slot = 0;
    for (size_t b = 0; b < n; ++b) {
      for (uint32_t k = 0; k < slots[b]; ++k, ++slot) {
        FlowEntry leg;
        leg.table_id = kMultipathTable;
        leg.priority = kMultipathLegPriority;
        leg.match.Add(of::OxmField::kNxmReg0, (uint64_t{group.id} << 16) | slot);
        leg.instructions.push_back(of::ApplyActionsInstruction{
            {of::GroupAction{FailoverGroupId(group.id, static_cast<uint32_t>(b))}}});
        state.flows.push_back(std::move(leg));
      }
    }
    select_slots[group.id] = slot;
  }

  for (size_t i = 0; i < desired.rules.size(); ++i) {
    const ForwardingRule& rule = desired.rules[i];
    FlowEntry flow;
    flow.table_id = kRuleTable;
    flow.priority = rule.priority;
    flow.match = TranslateMatch(rule.match);
    of::ActionList actions;
    if (rule.action.set_queue) actions.push_back(of::SetQueueAction{*rule.action.set_queue});
    if (rule.action.output_port) actions.push_back(Output(*rule.action.output_port));
    if (rule.action.group_id) {
      uint32_t g = *rule.action.group_id;
      auto it = groups.find(g);
      if (it == groups.end())
        return absl::InvalidArgumentError(absl::StrCat("switch node ", desired.node, " rule ", i,
                                                       " (priority ", rule.priority,
                                                       "): unknown group ", g));
      if (it->second->kind == GroupKind::kFastFailover) {
        actions.push_back(of::GroupAction{g});
      } else {
        of::NxRegLoadAction load;
        load.ofs = 16;
        load.n_bits = 16;
        load.dst_header = kNxmReg0;
        load.value = g;
        of::NxMultipathAction multipath;
        multipath.fields = 3;     // symmetric_l3l4+udp: RoCEv2 source ports spread
        multipath.algorithm = 2;  // hrw: few flows move when a bucket set changes
        multipath.basis = it->second->hash_basis;
        multipath.n_links = select_slots[g];
        multipath.ofs = 0;
        multipath.n_bits = 16;
        multipath.dst_header = kNxmReg0;
        actions.push_back(load);
        actions.push_back(multipath);
        actions.push_back(of::NxResubmitTableAction{0xfff8, kMultipathTable});
      }
    }
    if (!actions.empty()) flow.instructions.push_back(of::ApplyActionsInstruction{actions});
    state.flows.push_back(std::move(flow));
  }
  return state;
}

ReconcilePlan PlanReconcile(const OpenFlowState& desired,
                            const std::vector<of::FlowStats>& actual_flows,
                            const std::vector<of::GroupDesc>& actual_groups) {
  ReconcilePlan plan;
  // Groups.
  std::map<uint32_t, const of::GroupDesc*> have_groups;
  for (const auto& g : actual_groups) have_groups[g.group_id] = &g;
  std::map<uint32_t, bool> wanted_groups;
  for (const auto& g : desired.groups) {
    wanted_groups[g.group_id] = true;
    auto it = have_groups.find(g.group_id);
    of::GroupMod mod;
    mod.type = g.type;
    mod.group_id = g.group_id;
    mod.buckets = g.buckets;
    if (it == have_groups.end()) {
      mod.command = static_cast<uint16_t>(of::GroupModCommand::kAdd);
    } else if (it->second->type != g.type ||
               CanonicalGroup(g.type, g.buckets) !=
                   CanonicalGroup(it->second->type, it->second->buckets)) {
      mod.command = static_cast<uint16_t>(of::GroupModCommand::kModify);
    } else {
      continue;
    }
    plan.group_writes.push_back(std::move(mod));
  }
  for (const auto& g : actual_groups) {
    if (wanted_groups.count(g.group_id)) continue;
    of::GroupMod mod;
    mod.command = static_cast<uint16_t>(of::GroupModCommand::kDelete);
    mod.type = g.type;
    mod.group_id = g.group_id;
    plan.group_deletes.push_back(std::move(mod));
  }

  // Flows.
  std::map<std::string, const of::FlowStats*> have_flows;
  for (const auto& f : actual_flows) have_flows[FlowKey(f.table_id, f.priority, f.match)] = &f;
  std::map<std::string, bool> wanted_flows;
  for (const auto& f : desired.flows) {
    std::string key = FlowKey(f.table_id, f.priority, f.match);
    if (!wanted_flows.emplace(key, true).second) continue;  // duplicate rule in the input
    auto it = have_flows.find(key);
    of::FlowMod mod;
    mod.cookie = kForwardingCookie;
    mod.table_id = f.table_id;
    mod.priority = f.priority;
    mod.match = f.match;
    mod.instructions = f.instructions;
    if (it == have_flows.end()) {
      mod.command = static_cast<uint8_t>(of::FlowModCommand::kAdd);
    } else if (CanonicalInstructions(f.instructions) !=
               CanonicalInstructions(it->second->instructions)) {
      mod.command = static_cast<uint8_t>(of::FlowModCommand::kModifyStrict);
    } else {
      continue;
    }
    plan.flow_mods.push_back(std::move(mod));
  }
  for (const auto& f : actual_flows) {
    if (wanted_flows.count(FlowKey(f.table_id, f.priority, f.match))) continue;
    of::FlowMod mod;
    mod.command = static_cast<uint8_t>(of::FlowModCommand::kDeleteStrict);
    mod.cookie = kForwardingCookie;
    mod.cookie_mask = ~0ull;
    mod.table_id = f.table_id;
    mod.priority = f.priority;
    mod.match = f.match;
    plan.flow_mods.push_back(std::move(mod));
  }
  return plan;
}

}  // namespace pulse::southbound::openflow
