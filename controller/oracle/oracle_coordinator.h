// OracleCoordinator: when to probe which switch, and the hash models that result.
//
// The path oracle (path_oracle.h) answers one question about one switch. The coordinator keeps
// the answers current: a switch to be probed (declared model to verify, or none declared, so its
// table is learned) is probed again when
//  - it (re)connects: a replaced or reconfigured switch may hash differently;
//  - its ECMP groups change (a link of the fabric went down or came back and the switch's
//    members towards some leaf differ from those it was probed with);
//  - new pairs are to be steered through it (a learned table covers only the pairs it was
//    probed for).
// RunPending probes the marked switches and rebuilds the models: the base models (the intent's)
// with each probed switch's verified model, learned table, or failure in place. Counters say what
// probing cost and how many switches failed (for /metrics and logs). Not thread-safe: one owner
// thread (the daemon's oracle thread) calls everything.
#ifndef PULSE_CONTROLLER_ORACLE_ORACLE_COORDINATOR_H_
#define PULSE_CONTROLLER_ORACLE_ORACLE_COORDINATOR_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "controller/oracle/path_oracle.h"
#include "controller/paths/ecmp_groups.h"
#include "controller/paths/ecmp_hash.h"

namespace pulse::controller {

struct OracleCoordinatorOptions {
  OracleOptions oracle;
  // The switches probed, and among them those whose declared model is verified (the others
  // are learned).
  std::vector<NodeId> switches;
  std::map<NodeId, EcmpHashModel> declared;
};

struct OracleCounters {
  uint64_t runs = 0;             // switch probings done
  uint64_t probes = 0;           // probes sent
  uint64_t probes_lost = 0;      // probes not seen back
  uint64_t failures = 0;         // probings that failed (switch not steered)
  uint64_t failed_switches = 0;  // switches failed as of the last probing of each
};

class OracleCoordinator {
 public:
  // `transport` must outlive the coordinator. Every switch in options.switches starts pending.
  OracleCoordinator(std::shared_ptr<const Fabric> fabric, ProbeTransport* transport,
                    HashModels base, OracleCoordinatorOptions options);

  // A switch (re)connected: probe it again (ignored for switches not probed).
  void OnSwitchConnected(NodeId sw);
  // A link went down or came back: switches whose groups changed are probed again.
  void SetLinkUp(LinkId link, bool up);
  // The RoCEv2 pairs (source NIC, destination NIC) Pulse steers; switches crossed by pairs not
  // yet probed are probed again (learned switches only: a verified model covers every pair).
  void SetPairs(std::vector<std::pair<NodeId, NodeId>> pairs);

  std::set<NodeId> pending() const { return pending_; }
  // Probes every pending switch (fabric order) and returns their reports; models() reflects
  // them afterwards.
  std::vector<OracleSwitchReport> RunPending();

  const HashModels& models() const { return models_; }
  const OracleCounters& counters() const { return counters_; }
  // The last report of each probed switch.
  const std::map<NodeId, OracleSwitchReport>& last_reports() const { return last_; }

 private:
  // Members of each of sw's groups (one per leaf), for change detection.
  std::vector<std::vector<DirectedLinkId>> GroupPrint(NodeId sw);

  std::shared_ptr<const Fabric> fabric_;
  EcmpGroups groups_;
  PathOracle oracle_;
  OracleCoordinatorOptions options_;
  HashModels models_;
  std::set<NodeId> probed_;  // options_.switches
  std::set<NodeId> pending_;
  std::vector<std::pair<NodeId, NodeId>> pairs_;
  std::set<std::pair<NodeId, NodeId>> pairs_probed_;  // pairs covered by the current tables
  std::map<NodeId, std::vector<std::vector<DirectedLinkId>>> prints_;  // at last probing
  std::map<NodeId, OracleSwitchReport> last_;
  OracleCounters counters_;
};

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_ORACLE_ORACLE_COORDINATOR_H_
