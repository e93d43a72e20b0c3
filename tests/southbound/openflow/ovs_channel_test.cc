// Integration test against a real Open vSwitch bridge (userspace datapath): the channel's
// handshake and PORT_DESC, a FLOW_MOD with the Nicira ECMP actions, a GROUP_MOD, a barrier, and
// FLOW_STATS / GROUP_DESC read back, also checked from the switch side with ovs-ofctl.
// Starts OVS if it is not running; skips with a message if that is impossible.

#include <sys/wait.h>
#include <array>

#include <cstdio>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/southbound/openflow/channel_harness.h"
#include "tests/southbound/openflow/ovs_shell.h"

namespace pulse::openflow {
namespace {

using ::pulse::testing::EnsureOvs;
using ::pulse::testing::RunShell;

using std::chrono::milliseconds;
using testing::ChannelHarness;

constexpr char kBridge[] = "pulseof0";
constexpr uint64_t kDpid = 0xa1;

// Runs a shell command; returns its exit code and stdout+stderr.
class OvsChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!EnsureOvs(&why)) GTEST_SKIP() << why;
  }
  void TearDown() override { RunShell(absl::StrCat("ovs-vsctl --if-exists del-br ", kBridge)); }
};

TEST_F(OvsChannelTest, HandshakeFlowModBarrierAndFlowStatsReadBack) {
  ChannelOptions options;
  options.echo_interval = milliseconds(1000);
  options.echo_timeout = milliseconds(5000);
  ChannelHarness h(options);
  std::string br = kBridge;
  auto [rc, out] = RunShell(
      absl::StrCat("ovs-vsctl --if-exists del-br ", br, " -- add-br ", br, " -- set bridge ", br,
                   " datapath_type=netdev protocols=OpenFlow13 fail_mode=secure",
                   " other-config:datapath-id=00000000000000a1", " -- add-port ", br, " ", br,
                   "p1 -- set interface ", br, "p1 type=internal ofport_request=1", " -- add-port ",
                   br, " ", br, "p2 -- set interface ", br, "p2 type=internal ofport_request=2",
                   " -- set-controller ", br, " tcp:127.0.0.1:", h.port()));
  ASSERT_EQ(rc, 0) << out;

  // Handshake + PORT_DESC.
  ASSERT_TRUE(h.WaitFor([&] { return h.ready_count() >= 1; }, milliseconds(15000)))
      << "OVS never completed the handshake";
  auto ports = h.RunOnIo([&] {
    auto c = h.channel().Find(kDpid);
    return c ? c->ports() : std::vector<PortInfo>{};
  });
  std::set<uint32_t> numbers;
  for (const auto& p : ports) numbers.insert(p.port_no);
  EXPECT_TRUE(numbers.count(1) && numbers.count(2) && numbers.count(kPortLocal))
      << "ports seen: " << numbers.size();

  // GROUP_MOD: select group 10 over ports 1 and 2.
  GroupMod group;
  group.type = static_cast<uint8_t>(GroupType::kSelect);
  group.group_id = 10;
  group.buckets.push_back(Bucket{1, kPortAny, kGroupAny, {OutputAction{1, 0}}});
  group.buckets.push_back(Bucket{1, kPortAny, kGroupAny, {OutputAction{2, 0}}});
  ASSERT_TRUE(h.SendTo(kDpid, Message{0, group}).ok());

  // Table 0: RoCEv2 to 10.1/16 hashed by multipath into reg0, then table 1.
  FlowMod ecmp;
  ecmp.table_id = 0;
  ecmp.priority = 1234;
  ecmp.cookie = 0x7075'6c73'65ull;
  ecmp.match.Add(OxmField::kEthType, 0x0800)
      .AddMasked(OxmField::kIpv4Dst, 0x0a010000, 0xffff0000)
      .Add(OxmField::kIpProto, 17)
      .Add(OxmField::kUdpDst, 4791);
  ecmp.instructions.push_back(
      ApplyActionsInstruction{{NxMultipathAction{}, NxResubmitTableAction{0xfff8, 1}}});
  ASSERT_TRUE(h.SendTo(kDpid, Message{0, ecmp}).ok());
  // Table 1: reg0 == 1 -> group 10 after setting queue 1.
  FlowMod leg;
  leg.table_id = 1;
  leg.priority = 100;
  leg.match.Add(OxmField::kNxmReg0, 1);
  leg.instructions.push_back(ApplyActionsInstruction{{SetQueueAction{1}, GroupAction{10}}});
  ASSERT_TRUE(h.SendTo(kDpid, Message{0, leg}).ok());

  absl::Status barrier = h.BarrierTo(kDpid);
  ASSERT_TRUE(barrier.ok()) << barrier;
  for (const auto& e : h.errors())
    ADD_FAILURE() << "switch ERROR type " << e.type << " code " << e.code;

  // FLOW_STATS read back through the channel.
  auto reply = h.RequestTo(kDpid, Message{0, MultipartRequest{0, FlowStatsRequest{}}});
  ASSERT_TRUE(reply.ok()) << reply.status();
  const auto& flows = std::get<FlowStatsReply>(std::get<MultipartReply>(reply->body).body).flows;
  const FlowStats* found = nullptr;
  for (const auto& f : flows)
    if (f.table_id == 0 && f.priority == 1234) found = &f;
  ASSERT_NE(found, nullptr) << flows.size() << " flows read back, ours missing";
  EXPECT_EQ(found->cookie, 0x7075'6c73'65ull);
  ASSERT_NE(found->match.Find(OxmField::kUdpDst), nullptr);
  EXPECT_EQ(found->match.Find(OxmField::kUdpDst)->value, 4791u);
  EXPECT_EQ(found->match.Find(OxmField::kIpv4Dst)->mask, 0xffff0000u);
  ASSERT_EQ(found->instructions.size(), 1u);
  const auto& actions = std::get<ApplyActionsInstruction>(found->instructions[0]).actions;
  ASSERT_EQ(actions.size(), 2u);
  EXPECT_EQ(std::get<NxMultipathAction>(actions[0]).n_links, 2u);
  EXPECT_EQ(std::get<NxResubmitTableAction>(actions[1]).table_id, 1);
  bool leg_found = false;
  for (const auto& f : flows)
    if (f.table_id == 1 && f.priority == 100 && f.match.Find(OxmField::kNxmReg0)) leg_found = true;
  EXPECT_TRUE(leg_found);

  auto groups = h.RequestTo(kDpid, Message{0, MultipartRequest{0, GroupDescRequest{}}});
  ASSERT_TRUE(groups.ok()) << groups.status();
  const auto& descs = std::get<GroupDescReply>(std::get<MultipartReply>(groups->body).body).groups;
  ASSERT_EQ(descs.size(), 1u);
  EXPECT_EQ(descs[0].group_id, 10u);
  EXPECT_EQ(descs[0].buckets.size(), 2u);

  // The switch's own view.
  auto [frc, dump] = RunShell(absl::StrCat("ovs-ofctl -O OpenFlow13 dump-flows ", br));
  ASSERT_EQ(frc, 0) << dump;
  EXPECT_NE(dump.find("tp_dst=4791"), std::string::npos) << dump;
  EXPECT_NE(dump.find("multipath(symmetric_l3l4+udp,0,hrw,2,0,NXM_NX_REG0[])"), std::string::npos)
      << dump;
  EXPECT_NE(dump.find("resubmit(,1)"), std::string::npos) << dump;
  EXPECT_NE(dump.find("set_queue:1,group:10"), std::string::npos) << dump;
  auto [grc, gdump] = RunShell(absl::StrCat("ovs-ofctl -O OpenFlow13 dump-groups ", br));
  EXPECT_NE(gdump.find("group_id=10,type=select"), std::string::npos) << gdump;
  EXPECT_TRUE(h.lost().empty());
}

}  // namespace
}  // namespace pulse::openflow
