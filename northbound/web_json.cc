#include "northbound/web_json.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "controller/placement/collectives.h"

namespace pulse::northbound {
namespace {

using controller::ControllerSnapshot;
using nlohmann::json;
using topology::Fabric;
using topology::LinkId;
using topology::Node;
using topology::NodeId;

bool IsSwitchLink(const Fabric& fabric, LinkId link) {
  return fabric.node(fabric.link(link).a.node).is_switch() &&
         fabric.node(fabric.link(link).b.node).is_switch();
}

// Per switch: servers and NICs attached, and how many of those NIC links are down.
struct Attachments {
  std::vector<int> nics, servers, nic_links_down;
};

Attachments CountAttachments(const ControllerSnapshot& snapshot) {
  const Fabric& fabric = *snapshot.fabric;
  Attachments out;
  out.nics.assign(fabric.nodes().size(), 0);
  out.servers.assign(fabric.nodes().size(), 0);
  out.nic_links_down.assign(fabric.nodes().size(), 0);
  std::vector<std::set<topology::ServerId>> servers(fabric.nodes().size());
  for (LinkId l = 0; l < static_cast<LinkId>(fabric.links().size()); ++l) {
    const topology::Link& link = fabric.link(l);
    NodeId nic = link.a.node, sw = link.b.node;
    if (fabric.node(sw).is_nic()) std::swap(nic, sw);
    if (!fabric.node(nic).is_nic() || !fabric.node(sw).is_switch()) continue;
    ++out.nics[sw];
    servers[sw].insert(fabric.node(nic).server);
    if (static_cast<size_t>(l) < snapshot.link_up.size() && !snapshot.link_up[l]) {
      ++out.nic_links_down[sw];
    }
  }
  for (size_t n = 0; n < servers.size(); ++n) out.servers[n] = static_cast<int>(servers[n].size());
  return out;
}

bool Flag(const std::vector<bool>& flags, NodeId id) {
  return id >= 0 && static_cast<size_t>(id) < flags.size() && flags[id];
}

json SwitchList(const ControllerSnapshot& snapshot) {
  const Fabric& fabric = *snapshot.fabric;
  const Attachments attached = CountAttachments(snapshot);
  json list = json::array();
  for (NodeId id : fabric.switches()) {
    const Node& node = fabric.node(id);
    list.push_back({{"id", id},
                    {"name", node.name},
                    {"role", std::string(topology::SwitchRoleName(node.role))},
                    {"level", node.level},
                    {"pod", node.pod},
                    {"rail", node.rail},
                    {"plane", node.plane},
                    {"dpid", absl::StrFormat("%016x", node.datapath_id)},
                    {"connected", Flag(snapshot.switch_connected, id)},
                    {"drained", Flag(snapshot.switch_drained, id)},
                    {"servers", attached.servers[id]},
                    {"nics", attached.nics[id]},
                    {"nic_links_down", attached.nic_links_down[id]}});
  }
  return list;
}

json LinkEnds(const Fabric& fabric, LinkId l) {
  const topology::Link& link = fabric.link(l);
  return {{"id", l},
          {"a", fabric.node(link.a.node).name},
          {"a_port", link.a.port},
          {"b", fabric.node(link.b.node).name},
          {"b_port", link.b.port},
          {"capacity_bps", link.capacity_bps}};
}

// NaN (not measured) and out-of-range channels read as "no value".
bool Measured(const WebLiveInputs& live, topology::DirectedLinkId d, double* bps) {
  if (live.measured_load_bps == nullptr || d < 0 ||
      static_cast<size_t>(d) >= live.measured_load_bps->size() ||
      std::isnan((*live.measured_load_bps)[d])) {
    return false;
  }
  *bps = (*live.measured_load_bps)[d];
  return true;
}

double Ratio(double bps, int64_t capacity_bps) {
  return capacity_bps > 0 ? bps / static_cast<double>(capacity_bps) : 0.0;
}

// The discovery verdict of every link: "ok", "missing", "miswired" or "unknown".
std::vector<std::string> DiscoveryVerdicts(const Fabric& fabric, const WebLiveInputs& live) {
  const bool known = live.discovery != nullptr && live.discovery->probe_rounds > 0;
  std::vector<std::string> verdict(fabric.links().size(), known ? "ok" : "unknown");
  if (!known) return verdict;
  auto valid = [&fabric](LinkId l) {
    return l >= 0 && static_cast<size_t>(l) < fabric.links().size();
  };
  for (LinkId l : live.discovery->diff.missing) {
    if (valid(l)) verdict[l] = "missing";
  }
  for (const topology::MiswiredLink& m : live.discovery->diff.miswired) {
    for (LinkId l : m.expected) {
      if (valid(l)) verdict[l] = "miswired";
    }
  }
  // NIC links are not discovered by LLDP.
  for (LinkId l = 0; l < static_cast<LinkId>(fabric.links().size()); ++l) {
    if (!IsSwitchLink(fabric, l)) verdict[l] = "unknown";
  }
  return verdict;
}

std::string EndName(const Fabric& fabric, uint64_t dpid, uint32_t port) {
  if (std::optional<NodeId> node = fabric.FindByDatapathId(dpid)) {
    return absl::StrCat(fabric.node(*node).name, ":", port);
  }
  return absl::StrFormat("dpid %016x:%u", dpid, port);
}

json DiscoverySummary(const Fabric& fabric, const WebLiveInputs& live) {
  if (live.discovery == nullptr) {
    return {{"available", false}, {"probe_rounds", 0}, {"description", "planning mode"}};
  }
  const controller::DiscoveryReport& report = *live.discovery;
  json unexpected = json::array();
  for (const topology::ObservedLink& o : report.diff.unexpected) {
    unexpected.push_back(
        {{"a", EndName(fabric, o.dpid_a, o.port_a)}, {"b", EndName(fabric, o.dpid_b, o.port_b)}});
  }
  json miswired = json::array();
  for (const topology::MiswiredLink& m : report.diff.miswired) {
    json expected = json::array();
    for (LinkId l : m.expected) expected.push_back(l);
    miswired.push_back({{"a", EndName(fabric, m.actual.dpid_a, m.actual.port_a)},
                        {"b", EndName(fabric, m.actual.dpid_b, m.actual.port_b)},
                        {"expected_links", expected}});
  }
  json missing = json::array();
  for (LinkId l : report.diff.missing) missing.push_back(l);
  return {{"available", report.probe_rounds > 0},
          {"probe_rounds", report.probe_rounds},
          {"description", report.description},
          {"missing", missing},
          {"miswired", miswired},
          {"unexpected", unexpected}};
}

json JobSummary(const controller::JobPlacement& job) {
  double predicted_bps = 0;
  for (const controller::PlacedFlow& flow : job.flows) predicted_bps += flow.rate_bps;
  return {{"id", job.spec.id},
          {"pattern", std::string(controller::CollectivePatternName(job.spec.pattern))},
          {"endpoints", job.spec.endpoints.size()},
          {"flows", job.flows.size()},
          {"traffic_class", job.spec.traffic_class},
          {"strict", job.spec.strict},
          {"rate_bps", job.spec.rate_bps},
          {"predicted_bps", predicted_bps},
          {"max_link_load", job.max_link_load},
          {"lower_bound", job.lower_bound}};
}

}  // namespace

json TopologyJson(const ControllerSnapshot& snapshot) {
  const Fabric& fabric = *snapshot.fabric;
  json links = json::array();
  std::set<int> planes, rails;
  for (LinkId l = 0; l < static_cast<LinkId>(fabric.links().size()); ++l) {
    if (IsSwitchLink(fabric, l)) links.push_back(LinkEnds(fabric, l));
  }
  for (NodeId id : fabric.switches()) {
    planes.insert(fabric.node(id).plane);
    if (fabric.node(id).rail >= 0) rails.insert(fabric.node(id).rail);
  }
  return {{"switches", SwitchList(snapshot)},
          {"links", links},
          {"servers", fabric.servers().size()},
          {"nics", fabric.nics().size()},
          {"gpus", fabric.gpus().size()},
          {"planes", planes},
          {"rails", rails},
          {"event_sequence", snapshot.event_sequence}};
}

json SwitchesJson(const ControllerSnapshot& snapshot) {
  return {{"switches", SwitchList(snapshot)}, {"event_sequence", snapshot.event_sequence}};
}

json LinksJson(const ControllerSnapshot& snapshot, const WebLiveInputs& live,
               bool include_nic_links) {
  const Fabric& fabric = *snapshot.fabric;
  const std::vector<std::string> verdicts = DiscoveryVerdicts(fabric, live);
  bool any_measured = false;
  json links = json::array();
  for (LinkId l = 0; l < static_cast<LinkId>(fabric.links().size()); ++l) {
    if (!include_nic_links && !IsSwitchLink(fabric, l)) continue;
    json entry = LinkEnds(fabric, l);
    const bool up = static_cast<size_t>(l) < snapshot.link_up.size() && snapshot.link_up[l];
    const bool usable = snapshot.LinkUsable(l);
    const int64_t capacity = fabric.link(l).capacity_bps;
    entry["up"] = up;
    entry["usable"] = usable;
    // Up but not usable: an end is drained (the only other reason a link is unusable).
    entry["drained"] = up && !usable;
    json planned = json::array(), planned_util = json::array();
    json measured = json::array(), measured_util = json::array();
    bool measured_here = false;
    for (int dir = 0; dir < 2; ++dir) {
      const topology::DirectedLinkId d = Fabric::Directed(l, dir);
      planned.push_back(snapshot.placement.LoadBps(d));
      planned_util.push_back(snapshot.placement.Utilisation(d));
      double bps = 0;
      if (Measured(live, d, &bps)) {
        measured.push_back(bps);
        measured_util.push_back(Ratio(bps, capacity));
        measured_here = true;
      } else {
        measured.push_back(nullptr);
        measured_util.push_back(nullptr);
      }
    }
    entry["planned_bps"] = planned;
    entry["planned_utilisation"] = planned_util;
    if (measured_here) {
      entry["measured_bps"] = measured;
      entry["measured_utilisation"] = measured_util;
      any_measured = true;
    }
    entry["discovery"] = verdicts[l];
    links.push_back(std::move(entry));
  }
  return {{"links", links},
          {"measured", any_measured},
          {"discovery", DiscoverySummary(fabric, live)},
          {"event_sequence", snapshot.event_sequence}};
}

json JobsJson(const ControllerSnapshot& snapshot) {
  json jobs = json::array();
  for (const auto& [id, job] : snapshot.placement.jobs()) jobs.push_back(JobSummary(job));
  return {{"jobs", jobs}, {"event_sequence", snapshot.event_sequence}};
}

absl::StatusOr<json> JobJson(const ControllerSnapshot& snapshot, const std::string& job_id,
                             const WebLiveInputs& live, size_t max_flows) {
  const controller::JobPlacement* job = snapshot.placement.FindJob(job_id);
  if (job == nullptr) return absl::NotFoundError(absl::StrCat("job '", job_id, "' not found"));
  const Fabric& fabric = *snapshot.fabric;
  json out = JobSummary(*job);
  out["endpoint_names"] = job->spec.endpoints;
  // The job's own load per directed channel, over every flow (not only those listed).
  std::map<topology::DirectedLinkId, double> own_bps;
  json flows = json::array();
  for (size_t i = 0; i < job->flows.size(); ++i) {
    const controller::PlacedFlow& flow = job->flows[i];
    for (topology::DirectedLinkId d : flow.path.hops) own_bps[d] += flow.rate_bps;
    if (i >= max_flows) continue;
    json path = json::array(), links = json::array();
    for (topology::DirectedLinkId d : flow.path.hops) {
      path.push_back(d);
      links.push_back(Fabric::LinkOf(d));
    }
    flows.push_back({{"src", fabric.node(flow.src).name},
                     {"dst", fabric.node(flow.dst).name},
                     {"rate_bps", flow.rate_bps},
                     {"subflow", flow.subflow},
                     {"phase", flow.phase},
                     {"udp_src_port", flow.udp_src_port},
                     {"path", path},
                     {"links", links}});
  }
  out["flows_listed"] = flows;
  out["flows_truncated"] = job->flows.size() > max_flows;
  // One entry per link, both directions.
  std::map<LinkId, std::pair<double, double>> per_link;
  for (const auto& [d, bps] : own_bps) {
    std::pair<double, double>& entry = per_link[Fabric::LinkOf(d)];
    (d % 2 == 0 ? entry.first : entry.second) += bps;
  }
  json links = json::array();
  double max_measured = -1;
  std::string bottleneck;
  for (const auto& [l, bps] : per_link) {
    json entry = LinkEnds(fabric, l);
    entry["job_bps"] = {bps.first, bps.second};
    double util = 0;
    json measured_util = json::array();
    for (int dir = 0; dir < 2; ++dir) {
      const topology::DirectedLinkId d = Fabric::Directed(l, dir);
      util = std::max(util, snapshot.placement.Utilisation(d));
      double measured_bps = 0;
      if (Measured(live, d, &measured_bps) && (dir == 0 ? bps.first : bps.second) > 0) {
        const double u = Ratio(measured_bps, fabric.link(l).capacity_bps);
        measured_util.push_back(u);
        if (u > max_measured) {
          max_measured = u;
          bottleneck = fabric.DescribeDirected(d);
        }
      } else {
        measured_util.push_back(nullptr);
      }
    }
    entry["planned_utilisation"] = util;
    entry["measured_utilisation"] = measured_util;
    links.push_back(std::move(entry));
  }
  out["links"] = links;
  // Pulse measures links, not jobs: the measured figure is the busiest channel the job uses.
  if (max_measured >= 0) {
    out["measured"] = {
        {"available", true}, {"max_path_utilisation", max_measured}, {"bottleneck", bottleneck}};
  } else {
    out["measured"] = {{"available", false}};
  }
  return out;
}

json EventsJson(const controller::EventLog& events, uint64_t after, size_t max_events) {
  uint64_t from = after + 1;
  bool gap = false;
  if (from < events.oldest_sequence() && after < events.last_sequence()) {
    gap = after != 0 || events.oldest_sequence() > 1;
    from = events.oldest_sequence();
  }
  json list = json::array();
  absl::StatusOr<std::vector<controller::Event>> read = events.ReadFrom(from, max_events);
  if (read.ok()) {
    for (const controller::Event& e : *read) {
      list.push_back({{"sequence", e.sequence},
                      {"time_unix_ms", e.time_unix_ms},
                      {"type", std::string(controller::EventTypeName(e.type))},
                      {"subject", e.subject},
                      {"detail", e.detail},
                      {"flows_moved", e.flows_moved}});
    }
  }
  return {{"events", list},
          {"last_sequence", events.last_sequence()},
          {"oldest_sequence", events.oldest_sequence()},
          {"gap", gap}};
}

}  // namespace pulse::northbound
