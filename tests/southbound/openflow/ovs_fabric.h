// A fabric model's switches built as Open vSwitch bridges on this host, for the tests that run
// Pulse against real switches: one userspace-datapath bridge per switch (its datapath id, OpenFlow
// 1.3, fail-mode secure), an internal port per NIC link, a veth pair per switch link, every port at
// the number the fabric gives it.
#ifndef PULSE_TESTS_SOUTHBOUND_OPENFLOW_OVS_FABRIC_H_
#define PULSE_TESTS_SOUTHBOUND_OPENFLOW_OVS_FABRIC_H_

#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "tests/southbound/openflow/ovs_shell.h"
#include "topology/fabric.h"

namespace pulse::testing {

class OvsFabric {
 public:
  // `prefix` keeps two tests' bridges apart; names stay within 15 characters for short prefixes.
  OvsFabric(const topology::Fabric& fabric, std::string prefix)
      : fabric_(&fabric), prefix_(std::move(prefix)) {}

  std::string BridgeName(topology::NodeId sw) const {
    return absl::StrCat(prefix_, fabric_->node(sw).level == 1 ? "l" : "s",
                        fabric_->node(sw).datapath_id);
  }
  std::string VethName(topology::NodeId sw, int32_t port) const {
    return absl::StrCat(BridgeName(sw), "p", port);
  }

  // The shell command that builds every bridge, controlled by 127.0.0.1:`controller_port`.
  std::string BuildCommand(uint16_t controller_port) const {
    const topology::Fabric& f = *fabric_;
    std::string cmd;
    for (topology::NodeId sw : f.switches()) {
      const std::string br = BridgeName(sw);
      absl::StrAppend(
          &cmd, "ovs-vsctl add-br ", br, " -- set bridge ", br,
          " datapath_type=netdev protocols=OpenFlow13 fail_mode=secure",
          " other-config:datapath-id=", absl::Hex(f.node(sw).datapath_id, absl::kZeroPad16),
          " -- set-controller ", br, " tcp:127.0.0.1:", controller_port, " || exit 1; ");
    }
    for (const auto& link : f.links()) {
      const topology::NodeId a = link.a.node, b = link.b.node;
      if (f.node(a).is_nic()) {
        const std::string p = VethName(b, link.b.port);
        absl::StrAppend(&cmd, "ovs-vsctl add-port ", BridgeName(b), " ", p, " -- set interface ", p,
                        " type=internal ofport_request=", link.b.port, " && ip link set ", p,
                        " up || exit 1; ");
      } else {
        const std::string pa = VethName(a, link.a.port), pb = VethName(b, link.b.port);
        absl::StrAppend(&cmd, "ip link add ", pa, " type veth peer name ", pb, " && ip link set ",
                        pa, " up && ip link set ", pb, " up && ovs-vsctl add-port ", BridgeName(a),
                        " ", pa, " -- set interface ", pa, " ofport_request=", link.a.port,
                        " -- add-port ", BridgeName(b), " ", pb, " -- set interface ", pb,
                        " ofport_request=", link.b.port, " || exit 1; ");
      }
    }
    return cmd;
  }

  // Removes whatever BuildCommand made (nothing if it was never built).
  void Remove() const {
    const topology::Fabric& f = *fabric_;
    std::string cmd;
    for (topology::NodeId sw : f.switches())
      absl::StrAppend(&cmd, "ovs-vsctl --if-exists del-br ", BridgeName(sw), "; ");
    for (const auto& link : f.links()) {
      if (f.node(link.a.node).is_switch() && f.node(link.b.node).is_switch())
        absl::StrAppend(&cmd, "ip link del ", VethName(link.a.node, link.a.port), " 2>/dev/null; ");
    }
    RunShell(cmd);
  }

 private:
  const topology::Fabric* fabric_;
  std::string prefix_;
};

}  // namespace pulse::testing

#endif  // PULSE_TESTS_SOUTHBOUND_OPENFLOW_OVS_FABRIC_H_
