#include "controller/placement/channel_flows.h"

#include <vector>

#include <gtest/gtest.h>

namespace pulse::controller {
namespace {

std::vector<double> RatesOn(const ChannelFlows& flows, DirectedLinkId d) {
  std::vector<double> out;
  for (const ChannelFlows::Entry& e : flows.channel(d).entries) out.push_back(e.rate_bps);
  return out;
}

TEST(ChannelFlowsTest, KeepsEachChannelsRatesSortedWithPrefixSums) {
  ChannelFlows flows({100, 100, 100});
  const std::vector<DirectedLinkId> p01 = {0, 1}, p12 = {1, 2}, p2 = {2};
  flows.AddJob("a", {&p01, &p12}, {30, 10});
  flows.AddJob("b", {&p2}, {20});
  EXPECT_EQ(RatesOn(flows, 0), (std::vector<double>{30}));
  EXPECT_EQ(RatesOn(flows, 1), (std::vector<double>{10, 30}));
  EXPECT_EQ(RatesOn(flows, 2), (std::vector<double>{10, 20}));
  EXPECT_EQ(flows.channel(1).prefix_bps, (std::vector<double>{0, 10, 40}));
  EXPECT_EQ(flows.channel(2).prefix_bps, (std::vector<double>{0, 10, 30}));
  ASSERT_NE(flows.FlowsOf("a"), nullptr);
  ASSERT_EQ(flows.FlowsOf("a")->size(), 2u);
  const ChannelFlows::FlowHandle second = (*flows.FlowsOf("a"))[1];
  EXPECT_EQ(flows.Hops(second), p12);
  EXPECT_EQ(flows.Rate(second), 10);
  EXPECT_EQ(flows.FlowsOf("c"), nullptr);

  // A moved flow leaves its old channels; a removed job leaves every channel.
  flows.SetFlowPath("a", 1, {0});
  EXPECT_EQ(RatesOn(flows, 0), (std::vector<double>{10, 30}));
  EXPECT_EQ(RatesOn(flows, 1), (std::vector<double>{30}));
  EXPECT_EQ(RatesOn(flows, 2), (std::vector<double>{20}));
  flows.RemoveJob("a");
  EXPECT_TRUE(RatesOn(flows, 0).empty());
  EXPECT_TRUE(RatesOn(flows, 1).empty());
  EXPECT_EQ(flows.channel(0).prefix_bps, (std::vector<double>{0}));
  EXPECT_EQ(flows.FlowsOf("a"), nullptr);
  // Unknown ids and indexes change nothing.
  flows.RemoveJob("a");
  flows.SetFlowPath("b", 5, {0});
  flows.SetFlowPath("zz", 0, {0});
  EXPECT_EQ(RatesOn(flows, 2), (std::vector<double>{20}));
}

TEST(ChannelFlowsTest, ReportsChannelsOverCapacity) {
  ChannelFlows flows({100, 50});
  const std::vector<DirectedLinkId> p0 = {0}, p01 = {0, 1};
  flows.AddJob("a", {&p0, &p01}, {60, 40});
  EXPECT_TRUE(flows.Overloaded().empty());  // exactly at capacity is not over it
  flows.AddJob("b", {&p01}, {20});
  EXPECT_EQ(flows.Overloaded().size(), 2u);
  flows.RemoveJob("b");
  EXPECT_TRUE(flows.Overloaded().empty());
}

TEST(ChannelFlowsTest, FlowsWithoutRateOrHopsAreOnNoChannel) {
  ChannelFlows flows({100});
  const std::vector<DirectedLinkId> p0 = {0}, none = {}, bad = {7, -1};
  flows.AddJob("a", {&p0, &none, &bad}, {0, 10, 10});
  EXPECT_TRUE(RatesOn(flows, 0).empty());
  ASSERT_NE(flows.FlowsOf("a"), nullptr);
  EXPECT_EQ(flows.FlowsOf("a")->size(), 3u);
  EXPECT_TRUE(flows.Hops((*flows.FlowsOf("a"))[2]).empty());  // ids out of range dropped
  flows.SetFlowPath("a", 1, {0});
  EXPECT_EQ(RatesOn(flows, 0), (std::vector<double>{10}));
}

}  // namespace
}  // namespace pulse::controller
