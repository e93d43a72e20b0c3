#include "topology/diff.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "topology/builders.h"

namespace pulse::topology {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

class DiffTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LeafSpineParams p;
    p.leaves = 4;
    p.spines = 2;
    p.servers_per_leaf = 2;
    absl::StatusOr<Fabric> f = LeafSpine(p);
    ASSERT_TRUE(f.ok()) << f.status();
    fabric_ = *std::move(f);
    expected_ = ExpectedSwitchLinks(fabric_);
  }

  uint64_t Dpid(const std::string& name) {
    return fabric_.node(*fabric_.FindNode(name)).datapath_id;
  }
  LinkId LinkAt(const std::string& name, int32_t port) {
    return *fabric_.LinkAtPort(*fabric_.FindNode(name), port);
  }
  // Index in expected_ of the observation of the link at name:port.
  size_t ExpectedIndex(const std::string& name, uint32_t port) {
    for (size_t i = 0; i < expected_.size(); ++i) {
      const ObservedLink& l = expected_[i];
      if ((l.dpid_a == Dpid(name) && l.port_a == port) ||
          (l.dpid_b == Dpid(name) && l.port_b == port)) {
        return i;
      }
    }
    ADD_FAILURE() << "no link at " << name << ":" << port;
    return 0;
  }

  Fabric fabric_;
  std::vector<ObservedLink> expected_;
};

TEST_F(DiffTest, ExpectedLinksCoverEverySwitchLink) {
  EXPECT_EQ(expected_.size(), 8u);  // 4 leaves x 2 spines; NIC links are not discovered
  EXPECT_THAT(DiffLinks(fabric_, {}).missing.size(), 8u);
}

TEST_F(DiffTest, IdenticalListGivesEmptyDiff) {
  FabricDiff diff = DiffLinks(fabric_, expected_);
  EXPECT_TRUE(diff.empty());
  EXPECT_EQ(DescribeDiff(fabric_, diff), "no differences");
}

TEST_F(DiffTest, DirectionAndDuplicatesDoNotMatter) {
  std::vector<ObservedLink> seen;
  for (const ObservedLink& l : expected_) {
    seen.push_back(l);
    seen.push_back(ObservedLink{l.dpid_b, l.port_b, l.dpid_a, l.port_a});  // the other end's view
  }
  seen.push_back(expected_[0]);
  EXPECT_TRUE(DiffLinks(fabric_, seen).empty());
}

TEST_F(DiffTest, MissingLinkIsReported) {
  std::vector<ObservedLink> seen = expected_;
  const size_t gone = ExpectedIndex("leaf-2", 4);  // leaf-2 port 4: uplink to spine-1
  seen.erase(seen.begin() + gone);
  FabricDiff diff = DiffLinks(fabric_, seen);
  EXPECT_THAT(diff.missing, ElementsAre(LinkAt("leaf-2", 4)));
  EXPECT_THAT(diff.unexpected, IsEmpty());
  EXPECT_THAT(diff.miswired, IsEmpty());
  EXPECT_EQ(DescribeDiff(fabric_, diff), "missing: leaf-2:4 <-> spine-1:3");
}

TEST_F(DiffTest, UnexpectedLinksAreReported) {
  std::vector<ObservedLink> seen = expected_;
  // A cable between two ports the intent leaves free, and one to a switch it does not know.
  seen.push_back(ObservedLink{Dpid("leaf-0"), 9, Dpid("spine-0"), 9});
  seen.push_back(ObservedLink{0xabcdef, 1, Dpid("spine-1"), 10});
  FabricDiff diff = DiffLinks(fabric_, seen);
  EXPECT_THAT(diff.missing, IsEmpty());
  EXPECT_THAT(diff.miswired, IsEmpty());
  ASSERT_EQ(diff.unexpected.size(), 2u);
  std::string text = DescribeDiff(fabric_, diff);
  EXPECT_THAT(text, HasSubstr("unexpected: leaf-0:9 <-> spine-0:9"));
  EXPECT_THAT(text, HasSubstr("unexpected: dpid 0x0000000000abcdef:1 <-> spine-1:10"));
}

TEST_F(DiffTest, CableOnWrongPeerIsMiswired) {
  std::vector<ObservedLink> seen = expected_;
  // leaf-1:3 should go to spine-0:2; it lands on spine-0:7 (a free port) instead.
  const size_t i = ExpectedIndex("leaf-1", 3);
  seen[i] = ObservedLink{Dpid("spine-0"), 7, Dpid("leaf-1"), 3};
  FabricDiff diff = DiffLinks(fabric_, seen);
  EXPECT_THAT(diff.missing, IsEmpty());
  EXPECT_THAT(diff.unexpected, IsEmpty());
  ASSERT_EQ(diff.miswired.size(), 1u);
  EXPECT_THAT(diff.miswired[0].expected, ElementsAre(LinkAt("leaf-1", 3)));
  EXPECT_EQ(DescribeDiff(fabric_, diff),
            "miswired: leaf-1:3 is cabled to spine-0:7; intent: leaf-1:3 <-> spine-0:2");
}

TEST_F(DiffTest, SwappedCablesAreMiswiredWithBothExpectedLinks) {
  std::vector<ObservedLink> seen;
  const size_t i = ExpectedIndex("leaf-0", 3);  // leaf-0:3 <-> spine-0:1
  const size_t j = ExpectedIndex("leaf-1", 4);  // leaf-1:4 <-> spine-1:2
  for (size_t k = 0; k < expected_.size(); ++k) {
    if (k != i && k != j) seen.push_back(expected_[k]);
  }
  seen.push_back(ObservedLink{Dpid("leaf-0"), 3, Dpid("spine-1"), 2});
  seen.push_back(ObservedLink{Dpid("leaf-1"), 4, Dpid("spine-0"), 1});
  FabricDiff diff = DiffLinks(fabric_, seen);
  EXPECT_THAT(diff.missing, IsEmpty());
  EXPECT_THAT(diff.unexpected, IsEmpty());
  ASSERT_EQ(diff.miswired.size(), 2u);
  for (const MiswiredLink& m : diff.miswired) {
    EXPECT_THAT(m.expected, UnorderedElementsAre(LinkAt("leaf-0", 3), LinkAt("leaf-1", 4)));
  }
  EXPECT_THAT(DescribeDiff(fabric_, diff), HasSubstr("miswired: "));
}

TEST_F(DiffTest, MixedDifferencesAreEachClassified) {
  std::vector<ObservedLink> seen = expected_;
  seen[ExpectedIndex("leaf-0", 4)].port_b = 12;           // miswired (spine port)
  seen.erase(seen.begin() + ExpectedIndex("leaf-3", 3));  // missing (indices of seen unchanged
                                                          // until this erase)
  seen.push_back(ObservedLink{Dpid("leaf-2"), 20, Dpid("leaf-3"), 20});  // unexpected
  FabricDiff diff = DiffLinks(fabric_, seen);
  EXPECT_THAT(diff.missing, ElementsAre(LinkAt("leaf-3", 3)));
  ASSERT_EQ(diff.miswired.size(), 1u);
  EXPECT_THAT(diff.miswired[0].expected, ElementsAre(LinkAt("leaf-0", 4)));
  ASSERT_EQ(diff.unexpected.size(), 1u);
  EXPECT_FALSE(diff.empty());
}

TEST_F(DiffTest, LinkToHostPortIsNotASwitchLink) {
  // LLDP from a switch seen on a leaf's host-facing port: no intent switch link lives there.
  std::vector<ObservedLink> seen = expected_;
  seen.push_back(ObservedLink{Dpid("leaf-0"), 1, Dpid("leaf-1"), 1});
  FabricDiff diff = DiffLinks(fabric_, seen);
  EXPECT_EQ(diff.unexpected.size(), 1u);
  EXPECT_THAT(diff.miswired, IsEmpty());
}

}  // namespace
}  // namespace pulse::topology
