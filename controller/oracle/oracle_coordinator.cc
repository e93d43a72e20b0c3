#include "controller/oracle/oracle_coordinator.h"

#include <algorithm>

namespace pulse::controller {

OracleCoordinator::OracleCoordinator(std::shared_ptr<const Fabric> fabric,
                                     ProbeTransport* transport, HashModels base,
                                     OracleCoordinatorOptions options)
    : fabric_(fabric),
      groups_(fabric),
      oracle_(groups_, transport, options.oracle),
      options_(std::move(options)),
      models_(std::move(base)) {
  for (NodeId sw : options_.switches) {
    if (sw < 0 || sw >= static_cast<NodeId>(fabric_->nodes().size()) ||
        !fabric_->node(sw).is_switch())
      continue;
    probed_.insert(sw);
    pending_.insert(sw);
  }
}

void OracleCoordinator::OnSwitchConnected(NodeId sw) {
  if (probed_.count(sw) > 0) pending_.insert(sw);
}

void OracleCoordinator::SetLinkUp(LinkId link, bool up) {
  if (link < 0 || link >= static_cast<LinkId>(fabric_->links().size())) return;
  groups_.SetLinkUp(link, up);
  for (NodeId sw : probed_) {
    auto it = prints_.find(sw);
    if (it == prints_.end() || it->second != GroupPrint(sw)) pending_.insert(sw);
  }
}

void OracleCoordinator::SetPairs(std::vector<std::pair<NodeId, NodeId>> pairs) {
  pairs_ = std::move(pairs);
  const bool any_new = std::any_of(pairs_.begin(), pairs_.end(),
                                   [&](const auto& p) { return pairs_probed_.count(p) == 0; });
  if (!any_new) return;
  for (NodeId sw : probed_)
    if (options_.declared.count(sw) == 0) pending_.insert(sw);
}

std::vector<std::vector<DirectedLinkId>> OracleCoordinator::GroupPrint(NodeId sw) {
  const Fabric& f = *fabric_;
  std::map<NodeId, NodeId> one_nic_per_leaf;
  for (NodeId nic : f.nics())
    for (LinkId l : f.LinksOf(nic)) one_nic_per_leaf.emplace(f.Peer(l, nic), nic);
  std::vector<std::vector<DirectedLinkId>> print;
  for (const auto& [leaf, nic] : one_nic_per_leaf) {
    std::vector<DirectedLinkId> links;
    if (leaf != sw) {
      auto members = groups_.NextHops(sw, nic);
      if (members.ok())
        for (const EcmpMember& m : *members) links.push_back(m.link);
    }
    print.push_back(std::move(links));
  }
  return print;
}

std::vector<OracleSwitchReport> OracleCoordinator::RunPending() {
  std::vector<OracleSwitchReport> reports;
  const std::set<NodeId> run = std::move(pending_);
  pending_.clear();
  for (NodeId sw : run) {
    auto declared = options_.declared.find(sw);
    OracleSwitchReport report;
    if (declared != options_.declared.end()) {
      report = oracle_.Verify(sw, declared->second);
      models_.per_switch[sw] =
          report.status.ok()
              ? declared->second
              : EcmpHashModel(HashAlgorithm::kLearned, 0, kHashAllFields,
                              std::make_shared<const LearnedEcmpTable>(
                                  LearnedEcmpTable{{}, {}, std::string(report.status.message())}));
    } else {
      // A fresh table: the switch reconnected, its groups changed, or pairs were added (the
      // old entries may no longer hold, and relearning costs no more than the budget).
      std::shared_ptr<LearnedEcmpTable> table;
      report = oracle_.Learn(sw, pairs_, &table);
      if (!report.status.ok() && table->failure.empty())
        table->failure = std::string(report.status.message());
      models_.per_switch[sw] = EcmpHashModel(HashAlgorithm::kLearned, 0, kHashAllFields, table);
    }
    prints_[sw] = GroupPrint(sw);
    ++counters_.runs;
    counters_.probes += report.probes;
    counters_.probes_lost += report.lost;
    if (!report.status.ok()) ++counters_.failures;
    last_[sw] = report;
    reports.push_back(std::move(report));
  }
  for (const auto& p : pairs_) pairs_probed_.insert(p);
  counters_.failed_switches = 0;
  for (const auto& [sw, r] : last_)
    if (!r.status.ok()) ++counters_.failed_switches;
  return reports;
}

}  // namespace pulse::controller
