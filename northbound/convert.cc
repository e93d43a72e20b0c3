#include "northbound/convert.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "controller/paths/addressing.h"

namespace pulse::northbound {
namespace {

using controller::ControllerSnapshot;
using topology::Fabric;
using topology::Node;
using topology::NodeId;

pulse::v1::SwitchRole ToProtoRole(topology::SwitchRole role) {
  switch (role) {
    case topology::SwitchRole::kLeaf:
      return pulse::v1::SWITCH_ROLE_LEAF;
    case topology::SwitchRole::kSpine:
      return pulse::v1::SWITCH_ROLE_SPINE;
    case topology::SwitchRole::kSuperSpine:
      return pulse::v1::SWITCH_ROLE_SUPER_SPINE;
  }
  return pulse::v1::SWITCH_ROLE_UNSPECIFIED;
}

void FillPorts(const Fabric& fabric, NodeId id,
               google::protobuf::RepeatedPtrField<pulse::v1::Port>* out) {
  for (const topology::Port& port : fabric.node(id).ports) {
    auto* p = out->Add();
    p->set_number(port.number);
    p->set_speed_bps(port.speed_bps);
    if (port.link != topology::kNoLink) {
      const topology::Link& link = fabric.link(port.link);
      const topology::LinkEnd& peer =
          link.a.node == id && link.a.port == port.number ? link.b : link.a;
      p->set_peer(fabric.node(peer.node).name);
      p->set_peer_port(peer.port);
    }
  }
}

// A NIC's line rate: all its ports (one per plane) together.
int64_t NicLineRateBps(const Fabric& fabric, NodeId nic) {
  int64_t total = 0;
  for (const topology::Port& port : fabric.node(nic).ports) total += port.speed_bps;
  return total;
}

// The line rate of the fabric's fastest NIC (the bound for an endpoint not yet resolved).
int64_t MaxNicLineRateBps(const Fabric& fabric) {
  int64_t best = 0;
  for (NodeId nic : fabric.nics()) best = std::max(best, NicLineRateBps(fabric, nic));
  return best;
}

// A rate (bit/s) a flow may ask for: finite, >= 0 and at most the line rate of the NIC it
// leaves from; a larger one would only overflow link loads (1e300 once corrupted them).
absl::Status CheckRate(double rate_bps, int64_t line_rate_bps, const std::string& field,
                       absl::string_view nic_name) {
  if (!(rate_bps >= 0) || std::isinf(rate_bps)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": must be a finite number >= 0"));
  }
  if (rate_bps > static_cast<double>(line_rate_bps)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", rate_bps,
                                                   " bit/s exceeds the line rate of ", nic_name,
                                                   " (", line_rate_bps, " bit/s)"));
  }
  return absl::OkStatus();
}

// A known endpoint name: GPU or NIC, or a NIC's IPv4 address (one the intent lacks may have been
// learned: the controller resolves it).
absl::Status CheckEndpoint(const Fabric& fabric, const std::string& name,
                           const std::string& field) {
  absl::StatusOr<NodeId> nic = fabric.ResolveEndpoint(name);
  if (!nic.ok() && nic.status().code() == absl::StatusCode::kNotFound &&
      topology::ParseIpv4(name).ok()) {
    return absl::OkStatus();
  }
  if (!nic.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", nic.status().message()));
  }
  return absl::OkStatus();
}

struct PatternValue {
  controller::CollectivePattern pattern;
  pulse::v1::CollectivePattern proto;
};
constexpr PatternValue kPatterns[] = {
    {controller::CollectivePattern::kExplicit, pulse::v1::COLLECTIVE_PATTERN_EXPLICIT},
    {controller::CollectivePattern::kRing, pulse::v1::COLLECTIVE_PATTERN_RING},
    {controller::CollectivePattern::kDoubleBinaryTree,
     pulse::v1::COLLECTIVE_PATTERN_DOUBLE_BINARY_TREE},
    {controller::CollectivePattern::kAllToAll, pulse::v1::COLLECTIVE_PATTERN_ALL_TO_ALL},
    {controller::CollectivePattern::kHalvingDoubling,
     pulse::v1::COLLECTIVE_PATTERN_HALVING_DOUBLING},
    {controller::CollectivePattern::kRailAligned, pulse::v1::COLLECTIVE_PATTERN_RAIL_ALIGNED},
};

}  // namespace

void JobSpecToProto(const controller::JobSpec& spec, pulse::v1::JobSpec* out) {
  out->Clear();
  out->set_id(spec.id);
  for (const auto& endpoint : spec.endpoints) out->add_endpoints(endpoint);
  for (const auto& p : kPatterns) {
    if (p.pattern == spec.pattern) out->set_pattern(p.proto);
  }
  for (const auto& flow : spec.explicit_flows) {
    auto* f = out->add_flows();
    f->set_src(flow.src);
    f->set_dst(flow.dst);
    f->set_rate_bps(flow.rate_bps);
  }
  out->set_rate_bps(spec.rate_bps);
  out->set_traffic_class(spec.traffic_class);
  out->set_strict(spec.strict);
  out->set_max_subflows(spec.max_subflows);
  out->set_enforcement(
      spec.enforcement == controller::Enforcement::kSteer ? pulse::v1::ENFORCEMENT_STEER
      : spec.enforcement == controller::Enforcement::kPin ? pulse::v1::ENFORCEMENT_PIN
                                                          : pulse::v1::ENFORCEMENT_UNSPECIFIED);
}

absl::StatusOr<controller::JobSpec> JobSpecFromProto(const pulse::v1::JobSpec& proto,
                                                     const controller::JobSpecLimits& limits) {
  controller::JobSpec spec;
  spec.id = proto.id();
  spec.endpoints.assign(proto.endpoints().begin(), proto.endpoints().end());
  if (proto.pattern() == pulse::v1::COLLECTIVE_PATTERN_UNSPECIFIED) {
    spec.pattern = controller::CollectivePattern::kRing;
  } else {
    bool known = false;
    for (const auto& p : kPatterns) {
      if (p.proto == proto.pattern()) {
        spec.pattern = p.pattern;
        known = true;
      }
    }
    if (!known) {
      return absl::InvalidArgumentError(
          absl::StrCat("job.pattern: unknown collective pattern value ", proto.pattern()));
    }
  }
  for (const auto& f : proto.flows()) {
    spec.explicit_flows.push_back({f.src(), f.dst(), f.rate_bps()});
  }
  spec.rate_bps = proto.rate_bps();
  spec.traffic_class =
      proto.has_traffic_class() ? proto.traffic_class() : controller::kDefaultTrafficClass;
  spec.strict = proto.strict();
  spec.max_subflows = proto.max_subflows() == 0 ? 1 : proto.max_subflows();
  switch (proto.enforcement()) {
    case pulse::v1::ENFORCEMENT_UNSPECIFIED:
      spec.enforcement = controller::Enforcement::kDefault;
      break;
    case pulse::v1::ENFORCEMENT_PIN:
      spec.enforcement = controller::Enforcement::kPin;
      break;
    case pulse::v1::ENFORCEMENT_STEER:
      spec.enforcement = controller::Enforcement::kSteer;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("job.enforcement: unknown value ", proto.enforcement()));
  }
  if (absl::Status valid = controller::ValidateJobSpec(spec, limits); !valid.ok()) return valid;
  return spec;
}

std::string CapEcho(absl::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t keep = max_bytes;
  while (keep > 0 && (static_cast<unsigned char>(text[keep]) & 0xc0) == 0x80) --keep;  // UTF-8
  return absl::StrCat(text.substr(0, keep), "... (", text.size() - keep, " more bytes)");
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      CapEcho(status.message(), kMaxStatusMessageBytes));
}

void FillTopology(const ControllerSnapshot& snapshot, pulse::v1::Topology* out) {
  const Fabric& fabric = *snapshot.fabric;
  std::set<int> rails, planes;
  for (NodeId id : fabric.switches()) {
    const Node& node = fabric.node(id);
    auto* s = out->add_switches();
    s->set_name(node.name);
    s->set_role(ToProtoRole(node.role));
    s->set_level(node.level);
    s->set_pod(node.pod);
    s->set_rail(node.rail);
    s->set_plane(node.plane);
    s->set_datapath_id(node.datapath_id);
    FillPorts(fabric, id, s->mutable_ports());
    s->set_connected(snapshot.switch_connected[id]);
    s->set_drained(snapshot.switch_drained[id]);
    if (node.rail >= 0) rails.insert(node.rail);
    planes.insert(node.plane);
  }
  for (topology::LinkId id = 0; id < static_cast<topology::LinkId>(fabric.links().size()); ++id) {
    const topology::Link& link = fabric.link(id);
    auto* l = out->add_links();
    l->set_id(id);
    l->set_a_node(fabric.node(link.a.node).name);
    l->set_a_port(link.a.port);
    l->set_b_node(fabric.node(link.b.node).name);
    l->set_b_port(link.b.port);
    l->set_capacity_bps(link.capacity_bps);
    l->set_cable_length_m(link.cable_length_m);
    l->set_up(snapshot.link_up[id]);
    l->set_usable(snapshot.LinkUsable(id));
  }
  for (const topology::Server& server : fabric.servers()) {
    auto* s = out->add_servers();
    s->set_name(server.name);
    s->set_pod(server.pod);
    for (NodeId nic : server.nics) s->add_nics(fabric.node(nic).name);
    for (topology::GpuId gpu : server.gpus) s->add_gpus(fabric.gpus()[gpu].name);
  }
  for (NodeId id : fabric.nics()) {
    const Node& node = fabric.node(id);
    auto* n = out->add_nics();
    n->set_name(node.name);
    n->set_server(node.server >= 0 ? fabric.servers()[node.server].name : "");
    n->set_rail(node.rail);
    n->set_pod(node.pod);
    FillPorts(fabric, id, n->mutable_ports());
    if (node.rail >= 0) rails.insert(node.rail);
  }
  // The scheduler view, keyed by (kind, key) and sorted so replies are deterministic.
  std::map<std::pair<int, std::string>, std::set<std::string>> groups;
  for (const topology::Gpu& gpu : fabric.gpus()) {
    auto* g = out->add_gpus();
    g->set_name(gpu.name);
    g->set_server(gpu.server >= 0 ? fabric.servers()[gpu.server].name : "");
    g->set_index(gpu.index);
    if (gpu.nic == topology::kNoNode) continue;
    const Node& nic = fabric.node(gpu.nic);
    g->set_nic(nic.name);
    for (topology::LinkId link : fabric.LinksOf(gpu.nic)) {
      const Node& peer = fabric.node(fabric.Peer(link, gpu.nic));
      if (!peer.is_switch()) continue;
      groups[{pulse::v1::GROUP_KIND_LEAF, peer.name}].insert(gpu.name);
      groups[{pulse::v1::GROUP_KIND_PLANE, absl::StrCat("plane-", peer.plane)}].insert(gpu.name);
    }
    if (nic.rail >= 0) {
      groups[{pulse::v1::GROUP_KIND_RAIL, absl::StrCat("rail-", nic.rail)}].insert(gpu.name);
    }
    int pod = gpu.server >= 0 ? fabric.servers()[gpu.server].pod : -1;
    if (pod >= 0) groups[{pulse::v1::GROUP_KIND_POD, absl::StrCat("pod-", pod)}].insert(gpu.name);
  }
  for (const auto& [kind_key, gpus] : groups) {
    auto* g = out->add_groups();
    g->set_kind(static_cast<pulse::v1::GroupKind>(kind_key.first));
    g->set_key(kind_key.second);
    for (const auto& name : gpus) g->add_gpus(name);
  }
  for (int rail : rails) out->add_rails(rail);
  for (int plane : planes) out->add_planes(plane);
  out->set_event_sequence(snapshot.event_sequence);
}

void FillMeasuredBandwidth(const controller::JobBandwidthMap* measured, int64_t now_unix_ms,
                           pulse::v1::Job* out) {
  if (measured == nullptr) return;
  auto it = measured->find(out->spec().id());
  if (it == measured->end() || !it->second.measured) return;
  const controller::MeasuredJobBandwidth& m = it->second;
  out->set_bandwidth_measured(true);
  out->set_delivered_fraction(m.delivered_fraction);
  out->set_measured_busbw_fraction(m.measured_busbw_fraction);
  out->set_planned_rate_bps(m.planned_bps);
  out->set_delivered_rate_bps(m.delivered_bps);
  out->set_flows_measured(static_cast<uint32_t>(m.flows_measured));
  out->set_flows_on_fabric(static_cast<uint32_t>(m.flows));
  out->set_measured_age_seconds(std::max<int64_t>(0, now_unix_ms - m.time_ms) / 1000.0);
}

void FillJob(const Fabric& fabric, const controller::JobPlacement& job, bool include_flows,
             pulse::v1::Job* out) {
  JobSpecToProto(job.spec, out->mutable_spec());
  out->set_max_link_load(job.max_link_load);
  out->set_lower_bound(job.lower_bound);
  if (job.bandwidth.computed) {
    out->set_bandwidth_predicted(true);
    out->set_predicted_busbw_fraction(job.bandwidth.predicted_busbw_fraction);
    out->set_ecmp_busbw_fraction(job.bandwidth.ecmp_busbw_fraction);
    out->set_ecmp_qps(job.bandwidth.ecmp_qps);
    out->set_ideal_completion_seconds(job.bandwidth.ideal_seconds);
    out->set_predicted_completion_seconds(job.bandwidth.predicted_seconds);
    out->set_ecmp_completion_seconds(job.bandwidth.ecmp_seconds);
  }
  if (!include_flows) return;
  for (const controller::PlacedFlow& flow : job.flows) {
    auto* f = out->add_flows();
    f->set_src(fabric.node(flow.src).name);
    f->set_dst(fabric.node(flow.dst).name);
    f->set_rate_bps(flow.rate_bps);
    f->set_subflow(flow.subflow);
    f->set_phase(flow.phase);
    f->set_udp_src_port(flow.udp_src_port);
    const auto& hops = flow.path.hops;
    for (size_t i = 0; i < hops.size(); ++i) {
      f->add_links(fabric.DescribeDirected(hops[i]));
      if (i + 1 < hops.size()) {
        auto* hop = f->add_hops();
        hop->set_switch_name(fabric.node(fabric.Head(hops[i])).name);
        hop->set_in_port(fabric.HeadPort(hops[i]));
        hop->set_out_port(fabric.TailPort(hops[i + 1]));
      }
    }
  }
}

void FillLinkLoad(const ControllerSnapshot& snapshot, controller::DirectedLinkId d,
                  const std::vector<double>* measured_load_bps, pulse::v1::LinkLoad* out) {
  const Fabric& fabric = *snapshot.fabric;
  topology::LinkId link = Fabric::LinkOf(d);
  out->set_name(fabric.DescribeDirected(d));
  out->set_link_id(link);
  out->set_from_node(fabric.node(fabric.Tail(d)).name);
  out->set_from_port(fabric.TailPort(d));
  out->set_to_node(fabric.node(fabric.Head(d)).name);
  out->set_to_port(fabric.HeadPort(d));
  out->set_capacity_bps(fabric.link(link).capacity_bps);
  out->set_planned_load_bps(snapshot.placement.LoadBps(d));
  out->set_planned_utilisation(snapshot.placement.Utilisation(d));
  out->set_up(snapshot.link_up[link]);
  out->set_usable(snapshot.LinkUsable(link));
  if (measured_load_bps != nullptr && d >= 0 &&
      static_cast<size_t>(d) < measured_load_bps->size() && !std::isnan((*measured_load_bps)[d])) {
    const double load_bps = (*measured_load_bps)[d];
    out->set_measured_load_bps(load_bps);
    const int64_t capacity_bps = fabric.link(link).capacity_bps;
    out->set_measured_utilisation(capacity_bps > 0 ? load_bps / static_cast<double>(capacity_bps)
                                                   : 0.0);
  }
}

namespace {

void FillDiscoveredLink(const Fabric& fabric, const topology::ObservedLink& link,
                        pulse::v1::DiscoveredLink* out) {
  auto fill_end = [&fabric](uint64_t dpid, uint32_t port, pulse::v1::DiscoveredEnd* end) {
    if (std::optional<NodeId> node = fabric.FindByDatapathId(dpid)) {
      end->set_switch_name(fabric.node(*node).name);
    }
    end->set_datapath_id(dpid);
    end->set_port(port);
  };
  fill_end(link.dpid_a, link.port_a, out->mutable_a());
  fill_end(link.dpid_b, link.port_b, out->mutable_b());
}

// Ids come from the controller's own diff, but a report built for another fabric must not crash.
void FillIntentLink(const Fabric& fabric, topology::LinkId id, pulse::v1::IntentLink* out) {
  out->set_link_id(id);
  if (id < 0 || id >= static_cast<topology::LinkId>(fabric.links().size())) return;
  const topology::Link& link = fabric.link(id);
  out->set_a_node(fabric.node(link.a.node).name);
  out->set_a_port(link.a.port);
  out->set_b_node(fabric.node(link.b.node).name);
  out->set_b_port(link.b.port);
}

}  // namespace

void FillDiscovery(const Fabric& fabric, const controller::DiscoveryReport& report,
                   pulse::v1::GetDiscoveryResponse* out) {
  for (const topology::ObservedLink& link : report.observed) {
    FillDiscoveredLink(fabric, link, out->add_observed());
  }
  for (topology::LinkId id : report.diff.missing) FillIntentLink(fabric, id, out->add_missing());
  for (const topology::ObservedLink& link : report.diff.unexpected) {
    FillDiscoveredLink(fabric, link, out->add_unexpected());
  }
  for (const topology::MiswiredLink& m : report.diff.miswired) {
    pulse::v1::MiswiredLink* miswired = out->add_miswired();
    FillDiscoveredLink(fabric, m.actual, miswired->mutable_actual());
    for (topology::LinkId id : m.expected) FillIntentLink(fabric, id, miswired->add_expected());
  }
  out->set_description(report.description);
  out->set_probe_rounds(report.probe_rounds);
  // An empty description means discovery has not judged yet (see FabricSync::Discovery).
  out->set_matches_intent(!report.description.empty() && report.diff.empty());
}

void FillEvent(const controller::Event& event, pulse::v1::Event* out) {
  out->set_sequence(event.sequence);
  out->set_time_unix_ms(event.time_unix_ms);
  pulse::v1::EventType type = pulse::v1::EVENT_TYPE_UNSPECIFIED;
  switch (event.type) {
    case controller::EventType::kLinkDown:
      type = pulse::v1::EVENT_TYPE_LINK_DOWN;
      break;
    case controller::EventType::kLinkUp:
      type = pulse::v1::EVENT_TYPE_LINK_UP;
      break;
    case controller::EventType::kSwitchConnected:
      type = pulse::v1::EVENT_TYPE_SWITCH_CONNECTED;
      break;
    case controller::EventType::kSwitchLost:
      type = pulse::v1::EVENT_TYPE_SWITCH_LOST;
      break;
    case controller::EventType::kJobPlaced:
      type = pulse::v1::EVENT_TYPE_JOB_PLACED;
      break;
    case controller::EventType::kJobMoved:
      type = pulse::v1::EVENT_TYPE_JOB_MOVED;
      break;
    case controller::EventType::kJobDeleted:
      type = pulse::v1::EVENT_TYPE_JOB_DELETED;
      break;
    case controller::EventType::kSwitchDrained:
      type = pulse::v1::EVENT_TYPE_SWITCH_DRAINED;
      break;
    case controller::EventType::kSwitchUndrained:
      type = pulse::v1::EVENT_TYPE_SWITCH_UNDRAINED;
      break;
    case controller::EventType::kDiscoveryMismatch:
      type = pulse::v1::EVENT_TYPE_DISCOVERY_MISMATCH;
      break;
    case controller::EventType::kHostLearned:
      type = pulse::v1::EVENT_TYPE_HOST_LEARNED;
      break;
    case controller::EventType::kHostMoved:
      type = pulse::v1::EVENT_TYPE_HOST_MOVED;
      break;
    case controller::EventType::kHostConflict:
      type = pulse::v1::EVENT_TYPE_HOST_CONFLICT;
      break;
    case controller::EventType::kLinkIsolated:
      type = pulse::v1::EVENT_TYPE_LINK_ISOLATED;
      break;
    case controller::EventType::kLinkReturned:
      type = pulse::v1::EVENT_TYPE_LINK_RETURNED;
      break;
    case controller::EventType::kHealthIncident:
      type = pulse::v1::EVENT_TYPE_HEALTH_INCIDENT;
      break;
    case controller::EventType::kSwitchNotSteerable:
      type = pulse::v1::EVENT_TYPE_SWITCH_NOT_STEERABLE;
      break;
    case controller::EventType::kSwitchSteerable:
      type = pulse::v1::EVENT_TYPE_SWITCH_STEERABLE;
      break;
  }
  out->set_type(type);
  out->set_subject(event.subject);
  out->set_detail(event.detail);
  out->set_flows_moved(event.flows_moved);
  for (const controller::FlowPortChange& change : event.port_changes) {
    pulse::v1::FlowPortChange* c = out->add_port_changes();
    c->set_flow_index(static_cast<int32_t>(change.flow_index));
    c->set_src(change.src);
    c->set_dst(change.dst);
    if (change.src_ip != 0) c->set_src_ip(controller::FormatIpv4(change.src_ip));
    if (change.dst_ip != 0) c->set_dst_ip(controller::FormatIpv4(change.dst_ip));
    c->set_old_udp_src_port(change.old_udp_src_port);
    c->set_new_udp_src_port(change.new_udp_src_port);
  }
}

absl::StatusOr<controller::JobSpec> JobSpecFromRequest(const pulse::v1::PlaceJobRequest& request,
                                                       const Fabric& fabric,
                                                       const ApiLimits& limits) {
  if (!request.has_job()) return absl::InvalidArgumentError("job: missing");
  const pulse::v1::JobSpec& job = request.job();
  // The rules every entry shares (id, sizes, duplicates, classes, rates), then the fabric's.
  controller::JobSpecLimits job_limits;
  job_limits.max_endpoints = static_cast<size_t>(std::max(0, limits.max_endpoints_per_job));
  job_limits.max_explicit_flows =
      static_cast<size_t>(std::max(0, limits.max_explicit_flows_per_job));
  absl::StatusOr<controller::JobSpec> spec = JobSpecFromProto(job, job_limits);
  if (!spec.ok()) return spec.status();
  for (int i = 0; i < job.endpoints_size(); ++i) {
    std::string field = absl::StrCat("job.endpoints[", i, "]");
    if (absl::Status status = CheckEndpoint(fabric, job.endpoints(i), field); !status.ok()) {
      return status;
    }
  }
  for (int i = 0; i < job.flows_size(); ++i) {
    const auto& flow = job.flows(i);
    std::string field = absl::StrCat("job.flows[", i, "]");
    if (absl::Status s = CheckEndpoint(fabric, flow.src(), field + ".src"); !s.ok()) return s;
    if (absl::Status s = CheckEndpoint(fabric, flow.dst(), field + ".dst"); !s.ok()) return s;
    // A learned address is resolved by the controller: its NIC's line rate is checked there.
    absl::StatusOr<NodeId> src = fabric.ResolveEndpoint(flow.src());
    if (absl::Status s = src.ok() ? CheckRate(flow.rate_bps(), NicLineRateBps(fabric, *src),
                                              field + ".rate_bps", fabric.node(*src).name)
                                  : CheckRate(flow.rate_bps(), MaxNicLineRateBps(fabric),
                                              field + ".rate_bps", "any NIC of the fabric");
        !s.ok()) {
      return s;
    }
  }
  {
    // The collective's per-flow rate: no faster than the fastest NIC among its endpoints.
    NodeId fastest = topology::kNoNode;
    bool unresolved = false;  // a learned address: the controller resolves it
    for (const std::string& endpoint : job.endpoints()) {
      absl::StatusOr<NodeId> resolved = fabric.ResolveEndpoint(endpoint);
      if (!resolved.ok()) {
        unresolved = true;
        continue;
      }
      NodeId nic = *resolved;
      if (fastest == topology::kNoNode ||
          NicLineRateBps(fabric, nic) > NicLineRateBps(fabric, fastest)) {
        fastest = nic;
      }
    }
    if (fastest == topology::kNoNode) {  // explicit flows only: their sources
      for (const auto& flow : job.flows()) {
        absl::StatusOr<NodeId> resolved = fabric.ResolveEndpoint(flow.src());
        if (!resolved.ok()) {
          unresolved = true;
          continue;
        }
        NodeId nic = *resolved;
        if (fastest == topology::kNoNode ||
            NicLineRateBps(fabric, nic) > NicLineRateBps(fabric, fastest)) {
          fastest = nic;
        }
      }
    }
    if (unresolved && (fastest == topology::kNoNode ||
                       NicLineRateBps(fabric, fastest) < MaxNicLineRateBps(fabric))) {
      fastest = topology::kNoNode;  // bound by the fastest NIC of the fabric instead
    }
    if (absl::Status s = CheckRate(
            job.rate_bps(),
            fastest == topology::kNoNode ? MaxNicLineRateBps(fabric)
                                         : NicLineRateBps(fabric, fastest),
            "job.rate_bps",
            fastest == topology::kNoNode ? "any NIC of the fabric" : fabric.node(fastest).name);
        !s.ok()) {
      return s;
    }
  }
  return spec;
}

}  // namespace pulse::northbound
