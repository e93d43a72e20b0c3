// The path oracle: asks a switch where its ECMP hashing sends RoCEv2 flows, by probing it.
//
// Steering (controller/paths/steering.h) needs each switch's hash model. A switch whose model is
// not declared, or whose declared model must be verified first, is probed: RoCEv2-shaped UDP
// probes (destination port 4791, a chosen UDP source port, the oracle's marker DSCP) are injected
// into the switch's own forwarding tables as if they arrived from below, so the switch's hashing
// picks the egress; the next hop's probe-catching rule (ProbeCatchRules) hands the probe back to
// the controller, which gives the link the probe left by. Two uses:
//  - Verify(model): probes a switch's groups with a few source ports per member and compares
//    every egress with the model's choice. Any disagreement fails the switch, naming it and the
//    probe.
//  - Learn(pairs): for each RoCEv2 pair (source NIC, destination NIC) Pulse will steer through
//    the switch, probes ascending source ports of the steering range until every member of the
//    switch's group towards that destination has been seen (or the pair's cap is hit), then
//    probes the lowest port found for each member once more: a switch whose choice is not a
//    function of the 5-tuple fails there. The result is a LearnedEcmpTable (ecmp_hash.h), used as
//    the switch's model: the steering port search looks the table up instead of hashing.
// Budget: at most max_probes_per_uplink probes per (switch, group member), over the whole run
// for that switch; a learn run that hits it leaves the remaining pairs unlearned (their flows
// are pinned rather than steered) and says so in the report.
// A switch that fails is given a model with a failure (LearnedEcmpTable::failure): steering
// refuses it by name and the flows through it fall back to pins.
//
// The oracle is protocol-free: it speaks fabric nodes and links through a ProbeTransport
// (probe_transport.h implements one over controller/switches/switch_driver.h) and is a
// synchronous function of what the transport answers, so tests drive it with fake switches.
#ifndef PULSE_CONTROLLER_ORACLE_PATH_ORACLE_H_
#define PULSE_CONTROLLER_ORACLE_PATH_ORACLE_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "controller/paths/ecmp_groups.h"
#include "controller/paths/ecmp_hash.h"
#include "controller/switches/switch_driver.h"
#include "topology/fabric.h"

namespace pulse::controller {

struct OracleOptions {
  // DSCP of probes; the probe-catching rules match it. Pick one no traffic class uses (ECMP
  // hashes do not cover DSCP, so the probes hash exactly like the traffic they stand for).
  uint8_t marker_dscp = 63;
  // The source ports probed: the steering range (SteeringOptions).
  uint16_t port_min = 49152;
  uint16_t port_max = 65535;
  // Budget per (switch, group member) for one verification or learning run.
  size_t max_probes_per_uplink = 64;
  // Verify: probes per member of each probed group (capped by the budget).
  size_t verify_probes_per_uplink = 16;
  // Learn: source ports tried per pair before giving up on members not yet seen.
  size_t max_ports_per_pair = 32;
};

// One probe: `tuple` enters switch `at` over `ingress` (a channel into `at`).
struct OracleProbe {
  NodeId at = -1;
  DirectedLinkId ingress = -1;
  FiveTuple tuple;
};

// The switch side of the oracle.
class ProbeTransport {
 public:
  virtual ~ProbeTransport() = default;
  // Sends `probes` and returns, for each, the channel by which it left its switch (the next hop
  // caught it there), or -1 if it was not seen back in time. An error means the switch could not
  // be probed at all (not connected, the driver cannot inject).
  virtual absl::StatusOr<std::vector<DirectedLinkId>> Run(
      const std::vector<OracleProbe>& probes) = 0;
};

// What probing one switch did and found.
struct OracleSwitchReport {
  NodeId node = -1;
  std::string name;
  bool verified = false;            // Verify run (else Learn)
  size_t probes = 0;                // probes sent
  size_t lost = 0;                  // probes not seen back
  size_t max_probes_on_uplink = 0;  // most probes that left by one member
  size_t pairs = 0;                 // Learn: pairs asked for
  size_t pairs_complete = 0;        // Learn: pairs with every member of their group seen
  absl::Status status;              // OK, or why the switch is not steered
};

// The rules that catch probes at `sw`: for every port of `sw` facing another switch, a packet
// arriving there that is UDP to 4791 with the marker DSCP goes to the controller, at `priority`
// (above every forwarding rule). Probes injected at `sw` itself enter on a NIC port and pass.
std::vector<switches::ForwardingRule> ProbeCatchRules(const Fabric& fabric, NodeId sw,
                                                      uint8_t marker_dscp, uint16_t priority = 400);

class PathOracle {
 public:
  // `groups` and `transport` must outlive the oracle.
  PathOracle(EcmpGroups& groups, ProbeTransport* transport, OracleOptions options = {});

  // Verifies `model` at switch `sw` with pairs chosen by the oracle: each NIC below `sw`
  // (attached to it) towards one NIC of every other leaf whose group at `sw` has several
  // members. FailedPrecondition in report.status naming the switch and the first disagreeing
  // probe; OK if there is nothing to verify (no multi-member group).
  OracleSwitchReport Verify(NodeId sw, const EcmpHashModel& model);

  // Learns `sw`'s choices for the RoCEv2 pairs (source NIC, destination NIC) given, adding them
  // to `table` (created if null). Pairs that do not cross `sw` with a choice to make are ignored.
  OracleSwitchReport Learn(NodeId sw, const std::vector<std::pair<NodeId, NodeId>>& pairs,
                           std::shared_ptr<LearnedEcmpTable>* table);

  // Probes every switch in `switches`: those with a model in `declared` are verified, the others
  // learned for `pairs`. `models` gets, per switch, its verified model, its learned table, or a
  // failure (steering then refuses the switch and its flows are pinned). Returns the reports.
  std::vector<OracleSwitchReport> Run(const std::vector<NodeId>& switches,
                                      const std::map<NodeId, EcmpHashModel>& declared,
                                      const std::vector<std::pair<NodeId, NodeId>>& pairs,
                                      HashModels* models);

 private:
  // The channel into `sw` a probe from `src_nic` to `dst_nic` arrives on (its up-down path
  // through `sw`), and the members of sw's group towards dst_nic; NotFound when sw is on no
  // such path or has one member only.
  struct Crossing {
    DirectedLinkId ingress = -1;
    std::vector<EcmpMember> members;
  };
  absl::StatusOr<Crossing> CrossingAt(NodeId sw, NodeId src_nic, NodeId dst_nic);

  EcmpGroups& groups_;
  ProbeTransport* transport_;
  OracleOptions options_;
};

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_ORACLE_PATH_ORACLE_H_
