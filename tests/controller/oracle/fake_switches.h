// A fake switch side for the path oracle's unit tests: a ProbeTransport whose probes leave each
// switch by the member a test-chosen function picks among the switch's ECMP group towards the
// probe's destination (as a real switch would, from its own tables).
#ifndef PULSE_TESTS_CONTROLLER_ORACLE_FAKE_SWITCHES_H_
#define PULSE_TESTS_CONTROLLER_ORACLE_FAKE_SWITCHES_H_

#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/oracle/path_oracle.h"
#include "controller/paths/ecmp_groups.h"
#include "gtest/gtest.h"

namespace pulse::controller::testing {

// A fake switch side: each probe leaves by the member `choose` picks among the switch's group
// towards the probe's destination (as the real switch would, from its own tables).
class FakeSwitches : public ProbeTransport {
 public:
  using Chooser =
      std::function<size_t(NodeId sw, const FiveTuple& t, const std::vector<EcmpMember>& members)>;
  FakeSwitches(EcmpGroups& groups, Chooser choose) : groups_(groups), choose_(std::move(choose)) {}

  absl::StatusOr<std::vector<DirectedLinkId>> Run(const std::vector<OracleProbe>& probes) override {
    const Fabric& f = groups_.fabric();
    std::vector<DirectedLinkId> out;
    for (const OracleProbe& p : probes) {
      EXPECT_EQ(f.Head(p.ingress), p.at);
      EXPECT_EQ(p.tuple.dst_port, kRoceV2Port);
      auto dst = f.FindNicByIpv4(p.tuple.dst_ip);
      if (!dst) return absl::InvalidArgumentError("probe to an unknown address");
      auto members = groups_.NextHops(p.at, *dst);
      if (!members.ok()) return members.status();
      out.push_back((*members)[choose_(p.at, p.tuple, *members) % members->size()].link);
      ++sent_;
    }
    return out;
  }
  size_t sent() const { return sent_; }

 private:
  EcmpGroups& groups_;
  Chooser choose_;
  size_t sent_ = 0;
};

}  // namespace pulse::controller::testing

#endif  // PULSE_TESTS_CONTROLLER_ORACLE_FAKE_SWITCHES_H_
