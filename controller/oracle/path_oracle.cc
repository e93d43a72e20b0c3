#include "controller/oracle/path_oracle.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "controller/paths/addressing.h"
#include "controller/paths/paths.h"

namespace pulse::controller {
namespace {

std::string Ip(uint32_t a) {
  return absl::StrCat(a >> 24, ".", (a >> 16) & 255, ".", (a >> 8) & 255, ".", a & 255);
}

std::string DescribeProbe(const FiveTuple& t) {
  return absl::StrCat(Ip(t.src_ip), " -> ", Ip(t.dst_ip), " udp ", t.src_port, "->", t.dst_port);
}

// Where an egress channel goes, for messages.
std::string Towards(const Fabric& f, DirectedLinkId d) {
  if (d < 0) return "nowhere (not seen)";
  return absl::StrCat("'", f.node(f.Head(d)).name, "' (port ", f.TailPort(d), ")");
}

// Counts probes per egress and keeps the report's figures.
class Tally {
 public:
  explicit Tally(OracleSwitchReport* report) : report_(report) {}
  void Add(const std::vector<DirectedLinkId>& egress) {
    report_->probes += egress.size();
    for (DirectedLinkId d : egress) {
      if (d < 0) {
        ++report_->lost;
        continue;
      }
      report_->max_probes_on_uplink = std::max(report_->max_probes_on_uplink, ++per_egress_[d]);
    }
  }

 private:
  OracleSwitchReport* report_;
  std::map<DirectedLinkId, size_t> per_egress_;
};

std::shared_ptr<const LearnedEcmpTable> FailedTable(std::string why) {
  auto table = std::make_shared<LearnedEcmpTable>();
  table->failure = std::move(why);
  return table;
}

}  // namespace

std::vector<switches::ForwardingRule> ProbeCatchRules(const Fabric& fabric, NodeId sw,
                                                      uint8_t marker_dscp, uint16_t priority) {
  std::vector<switches::ForwardingRule> rules;
  for (LinkId l : fabric.LinksOf(sw)) {
    if (!fabric.node(fabric.Peer(l, sw)).is_switch()) continue;
    const DirectedLinkId in = fabric.DirectedFrom(l, fabric.Peer(l, sw));
    switches::ForwardingRule rule;
    rule.priority = priority;
    rule.match.in_port = static_cast<switches::PortNo>(fabric.HeadPort(in));
    rule.match.eth_type = 0x0800;
    rule.match.ip_proto = kUdpProto;
    rule.match.udp_dst = kRoceV2Port;
    rule.match.dscp = marker_dscp;
    rule.action.output_port = switches::kPortToController;
    rules.push_back(rule);
  }
  return rules;
}

PathOracle::PathOracle(EcmpGroups& groups, ProbeTransport* transport, OracleOptions options)
    : groups_(groups), transport_(transport), options_(options) {}

absl::StatusOr<PathOracle::Crossing> PathOracle::CrossingAt(NodeId sw, NodeId src_nic,
                                                            NodeId dst_nic) {
  const Fabric& f = groups_.fabric();
  auto paths = UpDownPaths(f, groups_.status(), src_nic, dst_nic);
  if (!paths.ok()) return paths.status();
  Crossing crossing;
  for (const Path& p : *paths) {
    for (DirectedLinkId hop : p.hops) {
      if (f.Head(hop) == sw) {
        crossing.ingress = hop;
        break;
      }
    }
    if (crossing.ingress >= 0) break;
  }
  if (crossing.ingress < 0) return absl::NotFoundError("not on the way");
  auto members = groups_.NextHops(sw, dst_nic);
  if (!members.ok()) return members.status();
  if (members->size() < 2) return absl::NotFoundError("no choice to make");
  crossing.members = *std::move(members);
  return crossing;
}

OracleSwitchReport PathOracle::Verify(NodeId sw, const EcmpHashModel& model) {
  const Fabric& f = groups_.fabric();
  OracleSwitchReport report;
  report.node = sw;
  report.name = f.node(sw).name;
  report.verified = true;
  Tally tally(&report);
  // Pairs: each NIC attached to sw towards one NIC of every other switch that has NICs.
  std::vector<NodeId> sources;
  std::map<NodeId, NodeId> one_nic_per_leaf;
  for (NodeId nic : f.nics()) {
    for (LinkId l : f.LinksOf(nic)) {
      const NodeId leaf = f.Peer(l, nic);
      if (leaf == sw) sources.push_back(nic);
      one_nic_per_leaf.emplace(leaf, nic);
    }
  }
  struct Question {
    Crossing crossing;
    NodeId src, dst;
  };
  std::vector<Question> questions;
  for (NodeId src : sources) {
    for (const auto& [leaf, dst] : one_nic_per_leaf) {
      if (leaf == sw) continue;
      auto crossing = CrossingAt(sw, src, dst);
      if (crossing.ok()) questions.push_back({*std::move(crossing), src, dst});
    }
  }
  if (questions.empty()) return report;
  size_t widest = 0;
  for (const Question& q : questions) widest = std::max(widest, q.crossing.members.size());
  const size_t count =
      std::min(options_.verify_probes_per_uplink, options_.max_probes_per_uplink) * widest;
  std::vector<OracleProbe> probes;
  std::vector<size_t> expected;
  const uint32_t span = uint32_t{options_.port_max} - options_.port_min + 1;
  for (size_t i = 0; i < count; ++i) {
    const Question& q = questions[i % questions.size()];
    auto tuple = RoceTuple(
        f, q.src, q.dst, static_cast<uint16_t>(options_.port_min + (i / questions.size()) % span));
    if (!tuple.ok()) {
      report.status = tuple.status();
      return report;
    }
    probes.push_back({sw, q.crossing.ingress, *tuple});
    expected.push_back(EcmpSelector(model, q.crossing.members).Select(*tuple));
  }
  auto egress = transport_->Run(probes);
  if (!egress.ok()) {
    report.status = absl::Status(
        egress.status().code(), absl::StrCat("oracle: switch '", report.name,
                                             "' could not be probed: ", egress.status().message()));
    return report;
  }
  tally.Add(*egress);
  size_t wrong = 0;
  std::string first;
  for (size_t i = 0; i < probes.size() && i < egress->size(); ++i) {
    const Question& q = questions[i % questions.size()];
    const DirectedLinkId want = q.crossing.members[expected[i]].link;
    if ((*egress)[i] == want) continue;
    if (wrong++ == 0)
      first = absl::StrCat("probe ", DescribeProbe(probes[i].tuple), " left by ",
                           Towards(f, (*egress)[i]), ", the model says ", Towards(f, want));
  }
  if (wrong > 0) {
    report.status = absl::FailedPreconditionError(
        absl::StrCat("oracle: switch '", report.name, "' disagrees with its ",
                     HashAlgorithmName(model.algorithm), " model (seed ", model.seed, ") on ",
                     wrong, " of ", probes.size(), " probes: ", first));
  }
  return report;
}

OracleSwitchReport PathOracle::Learn(NodeId sw, const std::vector<std::pair<NodeId, NodeId>>& pairs,
                                     std::shared_ptr<LearnedEcmpTable>* table) {
  const Fabric& f = groups_.fabric();
  OracleSwitchReport report;
  report.node = sw;
  report.name = f.node(sw).name;
  Tally tally(&report);
  if (*table == nullptr) *table = std::make_shared<LearnedEcmpTable>();
  struct Pair {
    Crossing crossing;
    FiveTuple tuple;
    uint32_t next_port;
    std::map<DirectedLinkId, uint16_t> lowest_port;  // per member seen
    bool done = false;
  };
  std::vector<Pair> open;
  std::set<std::pair<NodeId, NodeId>> asked;
  size_t widest = 0;
  for (const auto& [src, dst] : pairs) {
    if (!asked.insert({src, dst}).second) continue;
    auto crossing = CrossingAt(sw, src, dst);
    if (!crossing.ok()) continue;
    auto tuple = RoceTuple(f, src, dst, options_.port_min);
    if (!tuple.ok()) {
      report.status = tuple.status();
      return report;
    }
    widest = std::max(widest, crossing->members.size());
    open.push_back({*std::move(crossing), *tuple, options_.port_min, {}});
  }
  report.pairs = open.size();
  const size_t budget = options_.max_probes_per_uplink * widest;
  auto budget_left = [&] { return report.probes < budget; };
  // Rounds: one new port for every pair that has not yet seen all its members.
  for (size_t round = 0; round < options_.max_ports_per_pair && budget_left(); ++round) {
    std::vector<OracleProbe> probes;
    std::vector<Pair*> owners;
    for (Pair& p : open) {
      if (p.done || p.next_port > options_.port_max || probes.size() + report.probes >= budget)
        continue;
      FiveTuple t = p.tuple;
      t.src_port = static_cast<uint16_t>(p.next_port++);
      probes.push_back({sw, p.crossing.ingress, t});
      owners.push_back(&p);
    }
    if (probes.empty()) break;
    auto egress = transport_->Run(probes);
    if (!egress.ok()) {
      report.status =
          absl::Status(egress.status().code(),
                       absl::StrCat("oracle: switch '", report.name,
                                    "' could not be probed: ", egress.status().message()));
      return report;
    }
    tally.Add(*egress);
    for (size_t i = 0; i < probes.size() && i < egress->size(); ++i) {
      Pair& p = *owners[i];
      const DirectedLinkId out = (*egress)[i];
      if (out < 0) continue;
      const bool member = std::any_of(p.crossing.members.begin(), p.crossing.members.end(),
                                      [&](const EcmpMember& m) { return m.link == out; });
      if (!member) {
        report.status = absl::FailedPreconditionError(absl::StrCat(
            "oracle: switch '", report.name, "' sent probe ", DescribeProbe(probes[i].tuple),
            " to ", Towards(f, out), ", which is not in its ECMP group towards that address"));
        (*table)->failure = std::string(report.status.message());
        return report;
      }
      p.lowest_port.emplace(out, probes[i].tuple.src_port);
      (*table)->egress[{probes[i].tuple.src_ip, probes[i].tuple.dst_ip, probes[i].tuple.src_port}] =
          out;
      if (p.lowest_port.size() == p.crossing.members.size()) p.done = true;
    }
  }
  // Confirmation: the ports steering will pick first (the lowest per member) once more.
  std::vector<OracleProbe> again;
  for (const Pair& p : open) {
    for (const auto& [link, port] : p.lowest_port) {
      FiveTuple t = p.tuple;
      t.src_port = port;
      again.push_back({sw, p.crossing.ingress, t});
    }
  }
  if (!again.empty()) {
    auto egress = transport_->Run(again);
    if (!egress.ok()) {
      report.status =
          absl::Status(egress.status().code(),
                       absl::StrCat("oracle: switch '", report.name,
                                    "' could not be probed: ", egress.status().message()));
      return report;
    }
    tally.Add(*egress);
    for (size_t i = 0; i < again.size() && i < egress->size(); ++i) {
      const FiveTuple& t = again[i].tuple;
      const DirectedLinkId before = (*table)->egress[{t.src_ip, t.dst_ip, t.src_port}];
      if ((*egress)[i] != before) {
        report.status = absl::FailedPreconditionError(absl::StrCat(
            "oracle: switch '", report.name, "' is inconsistent: probe ", DescribeProbe(t),
            " left by ", Towards(f, before), ", then by ", Towards(f, (*egress)[i]),
            ": its choice is not a function of the 5-tuple"));
        (*table)->failure = std::string(report.status.message());
        return report;
      }
    }
  }
  for (const Pair& p : open) {
    if (p.done) ++report.pairs_complete;
    std::vector<DirectedLinkId> links;
    for (const EcmpMember& m : p.crossing.members) links.push_back(m.link);
    (*table)->members_by_dst[p.tuple.dst_ip] = std::move(links);
  }
  return report;
}

std::vector<OracleSwitchReport> PathOracle::Run(const std::vector<NodeId>& switches,
                                                const std::map<NodeId, EcmpHashModel>& declared,
                                                const std::vector<std::pair<NodeId, NodeId>>& pairs,
                                                HashModels* models) {
  std::vector<OracleSwitchReport> reports;
  for (NodeId sw : switches) {
    auto it = declared.find(sw);
    if (it != declared.end()) {
      reports.push_back(Verify(sw, it->second));
      models->per_switch[sw] =
          reports.back().status.ok()
              ? it->second
              : EcmpHashModel(HashAlgorithm::kLearned, 0, kHashAllFields,
                              FailedTable(std::string(reports.back().status.message())));
      continue;
    }
    std::shared_ptr<LearnedEcmpTable> table;
    reports.push_back(Learn(sw, pairs, &table));
    if (!reports.back().status.ok() && table->failure.empty())
      table->failure = std::string(reports.back().status.message());
    models->per_switch[sw] = EcmpHashModel(HashAlgorithm::kLearned, 0, kHashAllFields, table);
  }
  return reports;
}

}  // namespace pulse::controller
