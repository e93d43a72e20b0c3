#include "northbound/host_service.h"

#include "controller/paths/addressing.h"

namespace pulse::northbound {

pulse::v1::ListHostsResponse ListHosts(const controller::ControllerSnapshot& snapshot,
                                       bool include_unknown) {
  const topology::Fabric& fabric = *snapshot.fabric;
  const controller::HostTable& table = *snapshot.hosts;
  pulse::v1::ListHostsResponse out;
  int intent = 0, learned = 0, unknown = 0, conflicts = 0;
  for (topology::NodeId nic : fabric.nics()) {
    const topology::Node& node = fabric.node(nic);
    const controller::HostEntry* entry = table.Find(nic);
    pulse::v1::Host host;
    host.set_nic(node.name);
    if (node.server >= 0) host.set_server(fabric.servers()[node.server].name);
    const uint32_t ip = controller::ServedIpv4(fabric, &table, nic);
    const uint64_t mac = controller::ServedMac(fabric, &table, nic);
    if (node.ipv4 != 0) {
      host.set_source(pulse::v1::HOST_SOURCE_INTENT);
      host.set_prefix_length(node.ipv4_prefix_length);
      host.set_mac_learned(node.mac == 0 && mac != 0);
      ++intent;
    } else if (ip != 0) {
      host.set_source(pulse::v1::HOST_SOURCE_LEARNED);
      host.set_prefix_length(32);
      ++learned;
    } else {
      host.set_source(pulse::v1::HOST_SOURCE_NONE);
      ++unknown;
    }
    if (ip != 0) host.set_ipv4(controller::FormatIpv4(ip));
    if (mac != 0) host.set_mac(controller::FormatMac(mac));
    if (!fabric.LinksOf(nic).empty()) {
      const topology::LinkId l = fabric.LinksOf(nic)[0];
      const topology::NodeId leaf = fabric.Peer(l, nic);
      host.set_switch_name(fabric.node(leaf).name);
      host.set_port(fabric.TailPort(fabric.DirectedFrom(l, leaf)));
    }
    if (entry != nullptr) {
      host.set_first_seen_unix_ms(entry->first_seen_ms);
      host.set_last_seen_unix_ms(entry->last_seen_ms);
      host.set_conflict(entry->conflict);
      if (!entry->conflict.empty()) ++conflicts;
    }
    if (ip == 0 && !include_unknown && host.conflict().empty()) continue;
    *out.add_hosts() = std::move(host);
  }
  out.set_intent(intent);
  out.set_learned(learned);
  out.set_unknown(unknown);
  out.set_conflicts(conflicts);
  return out;
}

grpc::ServerUnaryReactor* HostServiceImpl::ListHosts(grpc::CallbackServerContext* context,
                                                     const pulse::v1::ListHostsRequest* request,
                                                     pulse::v1::ListHostsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  grpc::Status auth = auth_.Check(*context, "/pulse.v1.HostService/ListHosts");
  if (!auth.ok()) {
    reactor->Finish(auth);
    return reactor;
  }
  *response = northbound::ListHosts(*controller_->snapshot(), request->include_unknown());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace pulse::northbound
