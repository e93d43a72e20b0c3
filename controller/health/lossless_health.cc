#include "controller/health/lossless_health.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"

namespace pulse::controller {

using topology::LinkId;
using topology::NodeId;

absl::string_view IncidentKindName(IncidentKind kind) {
  return kind == IncidentKind::kPfcStorm ? "pfc_storm" : "gray_link";
}

absl::string_view HealthActionName(HealthAction action) {
  switch (action) {
    case HealthAction::kNone:
      return "none";
    case HealthAction::kIsolateLink:
      return "isolate_link";
    case HealthAction::kReplaceFlows:
      return "replace_flows";
  }
  return "none";
}

std::string HealthEvent::Describe(const topology::Fabric& fabric) const {
  const Incident& i = incident;
  const std::string link =
      i.root_link == topology::kNoLink ? std::string("?") : fabric.DescribeLink(i.root_link);
  if (type == Type::kClosed) {
    return absl::StrCat(
        "incident ", i.id, " ", IncidentKindName(i.kind), " on ", link,
        " closed after a clean window",
        i.applied && i.action == HealthAction::kIsolateLink ? ": link returned to service" : "");
  }
  std::string action = std::string(HealthActionName(i.action));
  if (i.cap_reached) action = "none (isolated-link cap reached)";
  return absl::StrCat("incident ", i.id, " ", IncidentKindName(i.kind), " root ", i.root_switch,
                      ":", i.root_port, " (", link, ", origin ", i.origin, ") after ",
                      i.polls_to_open, " polls: ", action,
                      i.action != HealthAction::kNone && !i.applied ? " (dry-run)" : "",
                      i.detail.empty() ? "" : "; ", i.detail);
}

LosslessHealth::LosslessHealth(std::shared_ptr<const topology::Fabric> fabric,
                               HealthOptions options)
    : fabric_(std::move(fabric)), options_(std::move(options)) {}

int LosslessHealth::isolated_links() const {
  int n = 0;
  for (const Incident& i : incidents_) {
    n += i.open() && i.action != HealthAction::kNone && (i.applied || options_.dry_run);
  }
  return n;
}

void LosslessHealth::RecordOutcome(uint64_t id, bool applied, std::string detail) {
  for (Incident& i : incidents_) {
    if (i.id != id) continue;
    if (!i.open()) {
      if (applied) i.outcome = "returned";
    } else {
      i.applied = applied;
      i.outcome = applied ? "applied" : "refused";
    }
    i.outcome_detail = std::move(detail);
    return;
  }
}

std::vector<HealthEvent> LosslessHealth::Step(const std::vector<LosslessPortDelta>& deltas,
                                              int64_t now_ms) {
  std::vector<HealthEvent> events;
  std::map<std::pair<NodeId, int32_t>, PortRate> rates;
  std::map<LinkId, std::pair<uint64_t, uint64_t>> link_losses;
  for (const LosslessPortDelta& d : deltas) {
    // Keys come from drivers: a node that is not a switch of this fabric is skipped, not trusted.
    std::optional<NodeId> node;
    if (d.key.node >= 0 && static_cast<size_t>(d.key.node) < fabric_->nodes().size() &&
        fabric_->node(d.key.node).is_switch()) {
      node = d.key.node;
    }
    if (!node || d.interval_ms <= 0) continue;
    const int32_t port = static_cast<int32_t>(d.key.port);
    const double seconds = static_cast<double>(d.interval_ms) / 1000.0;
    PortRate r;
    for (int p : options_.lossless_priorities) {
      if (p < 0 || p >= kLosslessPriorities) continue;
      r.pause_rx_per_s += static_cast<double>(d.pfc_rx_frames[p]) / seconds;
      r.queue_tx_pps += static_cast<double>(d.queue_tx_packets[p]) / seconds;
    }
    rates[{*node, port}] = r;
    if (std::optional<LinkId> link = fabric_->LinkAtPort(*node, port)) {
      auto& [packets, losses] = link_losses[*link];
      packets += d.packets;
      losses += d.drops + d.errors;
    }
  }
  TraceStorms(rates, now_ms, events);
  TrackGray(link_losses, now_ms, events);
  CloseClean(now_ms, events);
  return events;
}

void LosslessHealth::TraceStorms(const std::map<std::pair<NodeId, int32_t>, PortRate>& rates,
                                 int64_t now_ms, std::vector<HealthEvent>& events) {
  using PortRef = std::pair<NodeId, int32_t>;
  const topology::Fabric& f = *fabric_;
  auto paused = [&](const PortRef& p) {
    auto it = rates.find(p);
    return it != rates.end() && it->second.pause_rx_per_s >= options_.storm_pause_frames_per_s;
  };
  // How long each port has been paused without a break (for roots inside pause cycles).
  std::map<PortRef, int64_t> paused_since;
  for (const auto& [where, rate] : rates) {
    if (!paused(where)) continue;
    auto it = paused_since_.find(where);
    paused_since[where] = it == paused_since_.end() ? now_ms : it->second;
  }
  paused_since_ = paused_since;
  // Edges of the pause graph: a paused port -> the paused ports of its peer switch (other than
  // the one facing back). Pauses come from further along these edges.
  auto downstream = [&](const PortRef& p, NodeId* peer_out) {
    std::vector<PortRef> out;
    std::optional<LinkId> link = f.LinkAtPort(p.first, p.second);
    if (!link) return out;
    const NodeId peer = f.Peer(*link, p.first);
    *peer_out = peer;
    if (!f.node(peer).is_switch()) return out;
    const topology::Link& l = f.link(*link);
    const int32_t facing = l.a.node == peer ? l.a.port : l.b.port;
    for (const topology::Port& q : f.node(peer).ports) {
      if (q.number != facing && paused({peer, q.number})) out.push_back({peer, q.number});
    }
    return out;
  };
  // Roots already known: open storm incidents and current candidates.
  std::map<PortRef, LinkId> known;
  for (const Incident& i : incidents_) {
    if (!i.open() || i.kind != IncidentKind::kPfcStorm) continue;
    absl::StatusOr<NodeId> node = fabric_->FindNode(i.root_switch);
    if (node.ok()) known[{*node, i.root_port}] = i.root_link;
  }
  for (const auto& [link, c] : storm_candidates_) known[{c.root_node, c.root_port}] = link;

  struct Root {
    PortRef port;
    NodeId origin;
  };
  std::map<LinkId, Root> roots;
  std::set<PortRef> explained;
  for (const auto& [seed, rate] : rates) {
    if (!paused(seed) || explained.count(seed)) continue;
    // Everything this pause depends on, following the pause direction.
    std::set<PortRef> reach = {seed};
    std::vector<PortRef> stack = {seed};
    std::vector<std::pair<PortRef, NodeId>> sinks;  // ports whose pauses originate at the peer
    while (!stack.empty()) {
      const PortRef p = stack.back();
      stack.pop_back();
      NodeId peer = topology::kNoNode;
      std::vector<PortRef> next = downstream(p, &peer);
      if (next.empty() && peer != topology::kNoNode) sinks.push_back({p, peer});
      for (const PortRef& n : next) {
        if (reach.insert(n).second) stack.push_back(n);
      }
    }
    explained.insert(reach.begin(), reach.end());
    std::optional<Root> root;
    for (const PortRef& p : reach) {
      auto k = known.find(p);
      if (k != known.end()) {
        std::optional<LinkId> link = f.LinkAtPort(p.first, p.second);
        root = Root{p, f.Peer(*link, p.first)};
        break;
      }
    }
    auto better = [&](const PortRef& a, const PortRef& b) {  // earlier paused, then more paused
      if (paused_since.at(a) != paused_since.at(b)) return paused_since.at(a) < paused_since.at(b);
      return rates.at(a).pause_rx_per_s > rates.at(b).pause_rx_per_s;
    };
    if (!root && !sinks.empty()) {
      auto best = sinks.begin();
      for (auto it = sinks.begin(); it != sinks.end(); ++it) {
        if (better(it->first, best->first)) best = it;
      }
      root = Root{best->first, best->second};
    }
    if (!root) {  // a pure cycle of pauses: the port paused first
      PortRef best = *reach.begin();
      for (const PortRef& p : reach) {
        if (better(p, best)) best = p;
      }
      std::optional<LinkId> link = f.LinkAtPort(best.first, best.second);
      root = Root{best, f.Peer(*link, best.first)};
    }
    std::optional<LinkId> link = f.LinkAtPort(root->port.first, root->port.second);
    if (link) roots[*link] = *root;
  }
  // Keep the stalled roots (storms); drop candidates not seen this poll.
  std::map<LinkId, Candidate> seen;
  for (const auto& [link, root] : roots) {
    const PortRate& r = rates.at(root.port);
    if (r.queue_tx_pps >= options_.storm_max_queue_tx_pps) continue;  // draining: congestion
    Candidate c;
    auto before = storm_candidates_.find(link);
    if (before != storm_candidates_.end()) c = before->second;
    if (c.polls == 0) c.first_seen_ms = now_ms;
    ++c.polls;
    c.last_seen_ms = now_ms;
    c.root_node = root.port.first;
    c.root_port = root.port.second;
    c.origin = fabric_->node(root.origin).name;
    seen[link] = c;
  }
  storm_candidates_ = std::move(seen);
  for (const auto& [link, c] : storm_candidates_) {
    bool already = false;
    for (Incident& i : incidents_) {
      if (i.open() && i.kind == IncidentKind::kPfcStorm && i.root_link == link) {
        already = true;
        last_active_ms_[i.id] = now_ms;
      }
    }
    if (already || c.polls < options_.storm_confirm_polls) continue;
    Incident i;
    i.kind = IncidentKind::kPfcStorm;
    i.root_link = link;
    i.root_switch = fabric_->node(c.root_node).name;
    i.root_port = c.root_port;
    i.origin = c.origin;
    i.first_seen_ms = c.first_seen_ms;
    i.polls_to_open = c.polls;
    const PortRate& r = rates.at({c.root_node, c.root_port});
    i.detail = absl::StrCat(static_cast<int64_t>(r.pause_rx_per_s), " pause frames/s received, ",
                            static_cast<int64_t>(r.queue_tx_pps), " lossless packets/s sent");
    Open(std::move(i), events);
    last_active_ms_[incidents_.back().id] = now_ms;
  }
  // A storm incident whose root port is still paused stays active even if it no longer traces.
  for (Incident& i : incidents_) {
    if (!i.open() || i.kind != IncidentKind::kPfcStorm) continue;
    absl::StatusOr<NodeId> node = fabric_->FindNode(i.root_switch);
    if (node.ok() && paused({*node, i.root_port})) last_active_ms_[i.id] = now_ms;
  }
}

void LosslessHealth::TrackGray(const std::map<LinkId, std::pair<uint64_t, uint64_t>>& link_losses,
                               int64_t now_ms, std::vector<HealthEvent>& events) {
  for (const auto& [link, sample] : link_losses) {
    LinkWindow& w = gray_[link];
    w.polls.push_back(sample);
    while (static_cast<int>(w.polls.size()) > options_.gray_window_polls) w.polls.pop_front();
    uint64_t packets = 0, losses = 0;
    for (const auto& [p, l] : w.polls) {
      packets += p;
      losses += l;
    }
    const bool bad =
        packets >= options_.gray_min_packets &&
        static_cast<double>(losses) > options_.gray_loss_ratio * static_cast<double>(packets);
    if (!bad) {
      w.bad_polls = 0;
      continue;
    }
    if (w.bad_polls == 0) w.first_bad_ms = now_ms;
    ++w.bad_polls;
    w.last_bad_ms = now_ms;
    bool already = false;
    for (Incident& i : incidents_) {
      if (i.open() && i.kind == IncidentKind::kGrayLink && i.root_link == link) {
        already = true;
        last_active_ms_[i.id] = now_ms;
      }
    }
    if (already || w.bad_polls < options_.gray_confirm_polls) continue;
    const topology::Link& l = fabric_->link(link);
    // Name the switch end (a NIC end has no counters of its own).
    const topology::LinkEnd& sw = fabric_->node(l.a.node).is_switch() ? l.a : l.b;
    const topology::LinkEnd& other = &sw == &l.a ? l.b : l.a;
    Incident i;
    i.kind = IncidentKind::kGrayLink;
    i.root_link = link;
    i.root_switch = fabric_->node(sw.node).name;
    i.root_port = sw.port;
    i.origin = fabric_->node(other.node).name;
    i.first_seen_ms = w.first_bad_ms;
    i.polls_to_open = w.bad_polls;
    i.detail = absl::StrCat(losses, " of ", packets, " packets lost over the last ", w.polls.size(),
                            " polls");
    Open(std::move(i), events);
    last_active_ms_[incidents_.back().id] = now_ms;
  }
}

void LosslessHealth::Open(Incident incident, std::vector<HealthEvent>& events) {
  incident.id = next_id_++;
  incident.opened_ms = incident.first_seen_ms;
  const HealthAction action = incident.kind == IncidentKind::kPfcStorm
                                  ? HealthAction::kIsolateLink
                                  : HealthAction::kReplaceFlows;
  if (isolated_links() < options_.max_isolated_links) {
    incident.action = action;
    incident.applied = !options_.dry_run;
    incident.actions = 1;
    incident.outcome = options_.dry_run ? "dry_run" : "pending";
  } else {
    incident.cap_reached = true;
    incident.outcome = "cap_reached";
  }
  incidents_.push_back(incident);
  events.push_back(HealthEvent{HealthEvent::Type::kOpened, incident});
}

void LosslessHealth::CloseClean(int64_t now_ms, std::vector<HealthEvent>& events) {
  for (Incident& i : incidents_) {
    if (!i.open()) continue;
    if (now_ms - last_active_ms_[i.id] < options_.clean_window_ms) continue;
    i.closed_ms = now_ms;
    last_active_ms_.erase(i.id);
    events.push_back(HealthEvent{HealthEvent::Type::kClosed, i});
  }
}

absl::Status RegisterHealthMetrics(MetricsRegistry& registry) {
  if (absl::Status s = registry.RegisterCounter(
          kHealthIncidentsTotal,
          "Lossless health incidents opened, by kind and the action decided.", {"kind", "action"});
      !s.ok()) {
    return s;
  }
  return registry.RegisterGauge(kHealthIsolatedLinks,
                                "Links isolated by the health supervisor (in dry-run: would be).");
}

void RecordHealthMetrics(MetricsRegistry& registry, const LosslessHealth& health,
                         const std::vector<HealthEvent>& events) {
  for (const HealthEvent& e : events) {
    if (e.type != HealthEvent::Type::kOpened) continue;
    const std::string action = e.incident.cap_reached
                                   ? std::string("cap_reached")
                                   : std::string(HealthActionName(e.incident.action));
    (void)registry.IncrementCounter(kHealthIncidentsTotal,
                                    {std::string(IncidentKindName(e.incident.kind)), action});
  }
  (void)registry.SetGauge(kHealthIsolatedLinks, {}, health.isolated_links());
}

}  // namespace pulse::controller
