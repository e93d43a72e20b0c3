// A FabricEventSink for the tests that run a switch driver against real Open vSwitch: it records
// which switches connected and the latest port counters each switch reported, and polls every
// switch's counters on demand. Tests that need more events (probe sightings) derive from it.
#ifndef PULSE_TESTS_SOUTHBOUND_OPENFLOW_COUNTERS_SINK_H_
#define PULSE_TESTS_SOUTHBOUND_OPENFLOW_COUNTERS_SINK_H_

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "controller/switches/switch_driver.h"
#include "gtest/gtest.h"

namespace pulse::testing {

class CountersSink : public switches::FabricEventSink {
 public:
  void OnSwitchConnected(switches::SwitchId sw, const std::vector<switches::SwitchPort>&) override {
    std::lock_guard<std::mutex> lock(mu_);
    connected_.insert(sw);
  }
  void OnSwitchLost(switches::SwitchId) override {}
  void OnPortStatus(switches::SwitchId, switches::PortNo, bool) override {}
  void OnLinkObserved(switches::SwitchId, switches::PortNo, switches::SwitchId,
                      switches::PortNo) override {}
  void OnPortCounters(switches::SwitchId sw,
                      const std::vector<switches::PortCounters>& counters) override {
    std::lock_guard<std::mutex> lock(mu_);
    replies_[sw] = counters;
  }

  size_t connected() {
    std::lock_guard<std::mutex> lock(mu_);
    return connected_.size();
  }

  // Asks every switch in `switches` for its counters and waits until all have answered (a test
  // failure after `timeout`); each switch's counters as it answered.
  std::map<switches::SwitchId, std::vector<switches::PortCounters>> Poll(
      switches::SwitchDriver& driver, const std::vector<switches::SwitchId>& switches,
      std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      replies_.clear();
    }
    for (switches::SwitchId sw : switches) driver.RequestPortStats(sw);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (replies_.size() == switches.size()) return replies_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "port counters did not come from every switch";
    std::lock_guard<std::mutex> lock(mu_);
    return replies_;
  }

 private:
  std::mutex mu_;
  std::set<switches::SwitchId> connected_;
  std::map<switches::SwitchId, std::vector<switches::PortCounters>> replies_;
};

}  // namespace pulse::testing

#endif  // PULSE_TESTS_SOUTHBOUND_OPENFLOW_COUNTERS_SINK_H_
