// SonicSwitchDriver alone: connection changes become FabricSync events by fabric node, only while
// started and only on change; forwarding is refused (SONiC routes by itself).
#include "southbound/sonic/sonic_switch_driver.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace pulse::southbound::sonic {
namespace {

using switches::PortCounters;
using switches::PortNo;
using switches::SwitchId;
using switches::SwitchPort;

class RecordingSink : public switches::FabricEventSink {
 public:
  void OnSwitchConnected(SwitchId sw, const std::vector<SwitchPort>& ports) override {
    events.push_back("up " + std::to_string(sw) + " ports " + std::to_string(ports.size()));
  }
  void OnSwitchLost(SwitchId sw) override { events.push_back("down " + std::to_string(sw)); }
  void OnPortStatus(SwitchId, PortNo, bool) override {}
  void OnLinkObserved(SwitchId, PortNo, SwitchId, PortNo) override {}
  void OnPortCounters(SwitchId, const std::vector<PortCounters>&) override {}
  std::vector<std::string> events;
};

TEST(SonicSwitchDriverTest, ReportsConnectionChangesByNodeWhileStarted) {
  std::map<SwitchId, std::vector<SwitchPort>> ports;
  ports[3] = {{1, "Ethernet0", 0, true, 100000000}, {2, "Ethernet8", 0, true, 100000000}};
  ports[5] = {{1, "Ethernet0", 0, true, 100000000}};
  SonicSwitchDriver driver(std::move(ports));
  EXPECT_FALSE(driver.ProgramsForwarding());
  RecordingSink sink;
  driver.OnConnection(3, true);  // before Start: remembered, reported by Start
  ASSERT_TRUE(driver.Start(&sink).ok());
  EXPECT_EQ(sink.events, (std::vector<std::string>{"up 3 ports 2"}));
  driver.OnConnection(3, true);  // no change: nothing
  driver.OnConnection(5, true);
  driver.OnConnection(5, false);
  driver.OnConnection(7, true);  // not a switch of this driver
  EXPECT_EQ(sink.events, (std::vector<std::string>{"up 3 ports 2", "up 5 ports 1", "down 5"}));
  driver.Stop();
  driver.OnConnection(3, false);  // after Stop nothing reaches the sink
  EXPECT_EQ(sink.events.size(), 3u);

  absl::Status applied;
  switches::SwitchForwarding forwarding;
  forwarding.node = 3;
  driver.ApplyForwarding(forwarding, [&](absl::Status s) { applied = s; });
  EXPECT_EQ(applied.code(), absl::StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace pulse::southbound::sonic
