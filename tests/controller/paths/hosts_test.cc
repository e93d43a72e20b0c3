// HostTable: learning, moves and conflicts against the fabric model, and the persisted form.
#include "controller/paths/hosts.h"

#include "gtest/gtest.h"
#include "topology/fabric.h"

namespace pulse::controller {
namespace {

using topology::NodeId;

struct Lab {
  topology::Fabric fabric;
  std::vector<NodeId> nics;
};

// Two leaves, four NICs; NIC 0 has a full intent address, NIC 1 only an intent IPv4.
Lab MakeLab() {
  topology::FabricBuilder b;
  b.SetAddressPlan(topology::AddressPlan{topology::AddressPlanKind::kNone});
  NodeId leaf[2] = {b.AddSwitch("leaf-0", topology::SwitchRole::kLeaf),
                    b.AddSwitch("leaf-1", topology::SwitchRole::kLeaf)};
  std::vector<NodeId> nics;
  for (int s = 0; s < 4; ++s) {
    topology::ServerId server = b.AddServer("server-" + std::to_string(s));
    NodeId nic = b.AddNic(server, 0);
    b.AddLink(nic, leaf[s / 2], 100'000'000'000);
    nics.push_back(nic);
  }
  b.SetNicAddress(nics[0], topology::Ipv4Prefix{0x0A010001, 24}, 0x0c0000000001);
  b.SetNicAddress(nics[1], topology::Ipv4Prefix{0x0A010002, 24}, 0);
  return Lab{std::move(b).Build().value(), nics};
}

TEST(HostTableTest, LearnsRefreshesMovesAndReportsConflicts) {
  Lab lab = MakeLab();
  const auto& f = lab.fabric;
  HostTable t;
  // An intent NIC showing its own address: nothing to learn.
  EXPECT_EQ(t.Observe(f, lab.nics[0], 0x0A010001, 0x0c0000000001, 1).change,
            HostChange::kRefreshed);
  // The intent has the IPv4 only: the MAC is learned.
  EXPECT_EQ(t.Observe(f, lab.nics[1], 0x0A010002, 0x0c0000000002, 1).change, HostChange::kLearned);
  EXPECT_EQ(t.Find(lab.nics[1])->mac, 0x0c0000000002u);
  // A NIC without an intent address: learned, then refreshed.
  EXPECT_EQ(t.Observe(f, lab.nics[2], 0x0A020003, 0x0c0000000003, 2).change, HostChange::kLearned);
  EXPECT_EQ(t.Observe(f, lab.nics[2], 0x0A020003, 0x0c0000000003, 5).change,
            HostChange::kRefreshed);
  EXPECT_EQ(t.Find(lab.nics[2])->first_seen_ms, 2);
  EXPECT_EQ(t.Find(lab.nics[2])->last_seen_ms, 5);
  EXPECT_EQ(t.FindByIpv4(0x0A020003), lab.nics[2]);
  // Another port claims an intent address: conflict, once; the intent binding is untouched.
  EXPECT_EQ(t.Observe(f, lab.nics[3], 0x0A010001, 0x0c0000000009, 6).change, HostChange::kConflict);
  EXPECT_EQ(t.Observe(f, lab.nics[3], 0x0A010001, 0x0c0000000009, 7).change,
            HostChange::kConflictRepeated);
  EXPECT_FALSE(t.Find(lab.nics[3])->conflict.empty());
  EXPECT_EQ(t.Find(lab.nics[3])->ipv4, 0u);
  // A learned address with another MAC on another port: conflict, binding stays.
  EXPECT_EQ(t.Observe(f, lab.nics[3], 0x0A020003, 0x0c0000000009, 8).change, HostChange::kConflict);
  EXPECT_EQ(t.FindByIpv4(0x0A020003), lab.nics[2]);
  // An intent NIC showing another address: conflict.
  EXPECT_EQ(t.Observe(f, lab.nics[0], 0x0A010009, 0x0c0000000001, 9).change, HostChange::kConflict);
  // The same address and MAC on another port: the host moved.
  HostOutcome moved = t.Observe(f, lab.nics[3], 0x0A020003, 0x0c0000000003, 10);
  EXPECT_EQ(moved.change, HostChange::kMoved);
  EXPECT_EQ(moved.moved_from, lab.nics[2]);
  EXPECT_EQ(t.FindByIpv4(0x0A020003), lab.nics[3]);
  EXPECT_TRUE(t.Find(lab.nics[3])->conflict.empty());
  EXPECT_EQ(t.Find(lab.nics[2]), nullptr);
}

TEST(HostTableTest, PersistedFormRoundTripsAndRejectsJunk) {
  Lab lab = MakeLab();
  HostEntry e{lab.nics[2], 0x0A020003, 0x0c0000000003, 1234, 1234, "", 0, 0};
  const std::string text = EncodeHostEntry(e);
  EXPECT_EQ(text, "10.2.0.3 0c:00:00:00:00:03 1234");
  HostEntry back = DecodeHostEntry(lab.fabric, "server-2/nic-0", text).value();
  EXPECT_EQ(back.nic, lab.nics[2]);
  EXPECT_EQ(back.ipv4, e.ipv4);
  EXPECT_EQ(back.mac, e.mac);
  EXPECT_FALSE(DecodeHostEntry(lab.fabric, "server-9/nic-0", text).ok());
  EXPECT_FALSE(DecodeHostEntry(lab.fabric, "server-2/nic-0", "10.2.0.3").ok());
  EXPECT_FALSE(DecodeHostEntry(lab.fabric, "server-2/nic-0", "x y z").ok());
  HostTable t;
  t.Put(back);
  EXPECT_EQ(t.FindByIpv4(0x0A020003), lab.nics[2]);
}

}  // namespace
}  // namespace pulse::controller
