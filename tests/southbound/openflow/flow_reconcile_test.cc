#include "southbound/openflow/flow_reconcile.h"

#include <algorithm>
#include <numeric>

#include "gtest/gtest.h"

namespace pulse::southbound::openflow {
namespace {

namespace of = ::pulse::openflow;

SwitchForwarding Sample() {
  SwitchForwarding f;
  f.node = 5;
  f.groups.push_back(ForwardingGroup{3, GroupKind::kSelect, {{1, 10, 10}, {1, 0, 11}}});
  ForwardingRule local;
  local.priority = 200;
  local.match.ipv4_dst = 0x0a000001;
  local.action.output_port = 1;
  ForwardingRule remote;
  remote.priority = 200;
  remote.match.ipv4_dst = 0x0a000002;
  remote.action.set_queue = 3;
  remote.action.group_id = 3;
  ForwardingRule pin;
  pin.priority = 300;
  pin.match.eth_type = 0x0800;
  pin.match.ipv4_src = 0x0a000001;
  pin.match.ipv4_dst = 0x0a000002;
  pin.match.udp_src = 49152;
  pin.action.output_port = 11;
  f.rules = {local, remote, pin};
  return f;
}

// The flows as Open vSwitch reports them back: fields in another order, exact masks spelled out,
// output max_len rewritten.
std::vector<of::FlowStats> AsSwitchReports(const OpenFlowState& state) {
  std::vector<of::FlowStats> out;
  for (const auto& f : state.flows) {
    of::FlowStats s;
    s.table_id = f.table_id;
    s.priority = f.priority;
    s.cookie = kForwardingCookie;
    s.match = f.match;
    std::reverse(s.match.fields.begin(), s.match.fields.end());
    for (auto& field : s.match.fields) {
      if (field.field == of::OxmField::kIpv4Dst && !field.has_mask) {
        field.has_mask = true;
        field.mask = 0xffffffff;
      }
    }
    s.instructions = f.instructions;
    for (auto& i : s.instructions)
      if (auto* apply = std::get_if<of::ApplyActionsInstruction>(&i))
        for (auto& a : apply->actions)
          if (auto* o = std::get_if<of::OutputAction>(&a)) o->max_len = 0xffe5;
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<of::GroupDesc> GroupsOf(const OpenFlowState& state) {
  std::vector<of::GroupDesc> out;
  for (const auto& g : state.groups) out.push_back(of::GroupDesc{g.type, g.group_id, g.buckets});
  return out;
}

TEST(FlowReconcileTest, SelectGroupBecomesMultipathLegsAndRotatedFailoverGroups) {
  auto state = TranslateForwarding(Sample());
  ASSERT_TRUE(state.ok()) << state.status();
  ASSERT_EQ(state->groups.size(), 2u);
  for (uint32_t b = 0; b < 2; ++b) {
    const GroupEntry& g = state->groups[b];
    EXPECT_EQ(g.group_id, FailoverGroupId(3, b));
    EXPECT_EQ(g.type, static_cast<uint8_t>(of::GroupType::kFastFailover));
    ASSERT_EQ(g.buckets.size(), 2u);
    // Bucket b first, the other as backup; watch port defaults to the output port.
    EXPECT_EQ(g.buckets[0].watch_port, b == 0 ? 10u : 11u);
    EXPECT_EQ(g.buckets[1].watch_port, b == 0 ? 11u : 10u);
  }
  // 2 table-1 legs + 3 rules.
  ASSERT_EQ(state->flows.size(), 5u);
  int legs = 0;
  for (const auto& f : state->flows) {
    if (f.table_id != kMultipathTable) continue;
    ++legs;
    const of::MatchField* reg = f.match.Find(of::OxmField::kNxmReg0);
    ASSERT_NE(reg, nullptr);
    EXPECT_EQ(reg->value >> 16, 3u);
  }
  EXPECT_EQ(legs, 2);
  const FlowEntry* remote = nullptr;
  for (const auto& f : state->flows) {
    const of::MatchField* dst = f.match.Find(of::OxmField::kIpv4Dst);
    if (f.table_id == kRuleTable && f.priority == 200 && dst && dst->value == 0x0a000002)
      remote = &f;
  }
  ASSERT_NE(remote, nullptr);
  ASSERT_NE(remote->match.Find(of::OxmField::kEthType), nullptr) << "IPv4 prerequisite missing";
  const auto& actions = std::get<of::ApplyActionsInstruction>(remote->instructions[0]).actions;
  ASSERT_EQ(actions.size(), 4u);
  EXPECT_EQ(std::get<of::SetQueueAction>(actions[0]).queue_id, 3u);
  EXPECT_EQ(std::get<of::NxRegLoadAction>(actions[1]).value, 3u);
  EXPECT_EQ(std::get<of::NxRegLoadAction>(actions[1]).ofs, 16);
  EXPECT_EQ(std::get<of::NxMultipathAction>(actions[2]).n_links, 2u);
  EXPECT_EQ(std::get<of::NxResubmitTableAction>(actions[3]).table_id, kMultipathTable);
}

TEST(FlowReconcileTest, UdpMatchGetsItsPrerequisites) {
  SwitchForwarding f;
  f.node = 1;
  ForwardingRule r;
  r.match.udp_src = 7;
  r.action.output_port = 2;
  f.rules = {r};
  auto state = TranslateForwarding(f);
  ASSERT_TRUE(state.ok());
  const of::Match& m = state->flows[0].match;
  ASSERT_NE(m.Find(of::OxmField::kEthType), nullptr);
  EXPECT_EQ(m.Find(of::OxmField::kEthType)->value, 0x0800u);
  ASSERT_NE(m.Find(of::OxmField::kIpProto), nullptr);
  EXPECT_EQ(m.Find(of::OxmField::kIpProto)->value, 17u);
}

TEST(FlowReconcileTest, WeightsBecomeSlots) {
  EXPECT_EQ(SlotsForWeights({1, 1}), (std::vector<uint32_t>{1, 1}));
  EXPECT_EQ(SlotsForWeights({2, 1}), (std::vector<uint32_t>{2, 1}));
  EXPECT_EQ(SlotsForWeights({30, 60}), (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(SlotsForWeights({0, 0}), (std::vector<uint32_t>{1, 1}));
  EXPECT_EQ(SlotsForWeights({0, 5}), (std::vector<uint32_t>{0, 1}));
  std::vector<uint32_t> big = SlotsForWeights({1000, 1, 999});
  EXPECT_LE(std::accumulate(big.begin(), big.end(), 0u), kMaxSlots);
  EXPECT_GE(big[1], 1u);
  EXPECT_GT(big[0], big[1]);
}

TEST(FlowReconcileTest, BadInputIsAnError) {
  SwitchForwarding f = Sample();
  f.rules[1].action.group_id = 99;
  EXPECT_EQ(TranslateForwarding(f).status().code(), absl::StatusCode::kInvalidArgument);
  f = Sample();
  f.groups[0].id = 70000;
  f.rules[1].action.group_id = 70000;
  EXPECT_EQ(TranslateForwarding(f).status().code(), absl::StatusCode::kInvalidArgument);
  f = Sample();
  f.groups[0].buckets.clear();
  EXPECT_EQ(TranslateForwarding(f).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FlowReconcileTest, EmptySwitchGetsEverythingAdded) {
  auto state = TranslateForwarding(Sample());
  ASSERT_TRUE(state.ok());
  ReconcilePlan plan = PlanReconcile(*state, {}, {});
  EXPECT_EQ(plan.group_writes.size(), state->groups.size());
  EXPECT_EQ(plan.flow_mods.size(), state->flows.size());
  EXPECT_TRUE(plan.group_deletes.empty());
  for (const auto& m : plan.flow_mods) {
    EXPECT_EQ(m.command, static_cast<uint8_t>(of::FlowModCommand::kAdd));
    EXPECT_EQ(m.cookie, kForwardingCookie);
  }
}

TEST(FlowReconcileTest, SwitchNormalisedStateMatchesSoNothingIsSent) {
  auto state = TranslateForwarding(Sample());
  ASSERT_TRUE(state.ok());
  ReconcilePlan plan = PlanReconcile(*state, AsSwitchReports(*state), GroupsOf(*state));
  EXPECT_TRUE(plan.empty()) << plan.flow_mods.size() << " flow mods, " << plan.group_writes.size()
                            << " group writes, " << plan.group_deletes.size() << " deletes";
}

TEST(FlowReconcileTest, DifferencesBecomeModifiesAndDeletes) {
  auto state = TranslateForwarding(Sample());
  ASSERT_TRUE(state.ok());
  std::vector<of::FlowStats> actual = AsSwitchReports(*state);
  std::vector<of::GroupDesc> groups = GroupsOf(*state);
  // A stale flow, a flow with another action, a stale group, a group with another bucket.
  of::FlowStats stale;
  stale.priority = 300;
  stale.match.Add(of::OxmField::kEthType, 0x0800).Add(of::OxmField::kIpv4Src, 0x0a0000ff);
  actual.push_back(stale);
  for (auto& f : actual)
    if (f.table_id == kRuleTable && f.priority == 300)
      if (const auto* src = f.match.Find(of::OxmField::kIpv4Src); src && src->value == 0x0a000001)
        f.instructions = {of::ApplyActionsInstruction{{of::OutputAction{10, 0}}}};
  groups.push_back(of::GroupDesc{static_cast<uint8_t>(of::GroupType::kFastFailover), 42, {}});
  groups[0].buckets.pop_back();

  ReconcilePlan plan = PlanReconcile(*state, actual, groups);
  ASSERT_EQ(plan.flow_mods.size(), 2u);
  EXPECT_EQ(plan.flow_mods[0].command, static_cast<uint8_t>(of::FlowModCommand::kModifyStrict));
  EXPECT_EQ(plan.flow_mods[1].command, static_cast<uint8_t>(of::FlowModCommand::kDeleteStrict));
  EXPECT_EQ(plan.flow_mods[1].match.Find(of::OxmField::kIpv4Src)->value, 0x0a0000ffu);
  EXPECT_EQ(plan.flow_mods[1].cookie_mask, ~0ull);
  ASSERT_EQ(plan.group_writes.size(), 1u);
  EXPECT_EQ(plan.group_writes[0].command, static_cast<uint16_t>(of::GroupModCommand::kModify));
  EXPECT_EQ(plan.group_writes[0].group_id, FailoverGroupId(3, 0));
  ASSERT_EQ(plan.group_deletes.size(), 1u);
  EXPECT_EQ(plan.group_deletes[0].group_id, 42u);
}

TEST(FlowReconcileTest, CanonicalMatchIgnoresOrderAndExactMasks) {
  of::Match a, b, c;
  a.Add(of::OxmField::kEthType, 0x0800).AddMasked(of::OxmField::kIpv4Dst, 0x0a000005, 0xffffff00);
  b.AddMasked(of::OxmField::kIpv4Dst, 0x0a000000, 0xffffff00).Add(of::OxmField::kEthType, 0x0800);
  c.Add(of::OxmField::kEthType, 0x0800).Add(of::OxmField::kIpv4Dst, 0x0a000000);
  EXPECT_EQ(CanonicalMatch(a), CanonicalMatch(b));
  EXPECT_NE(CanonicalMatch(a), CanonicalMatch(c));
  of::Match d;
  d.Add(of::OxmField::kEthType, 0x0800).AddMasked(of::OxmField::kIpv4Dst, 0x0a000000, 0xffffffff);
  EXPECT_EQ(CanonicalMatch(c), CanonicalMatch(d));
}

}  // namespace
}  // namespace pulse::southbound::openflow
