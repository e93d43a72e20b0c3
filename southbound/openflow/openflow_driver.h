// OpenFlowDriver: the SwitchDriver (controller/switches/switch_driver.h) for OpenFlow 1.3 switches,
// built for Open vSwitch and usable with any switch that speaks the same subset. The core names
// switches by fabric node; the driver maps them to datapath ids (options.datapaths, through the
// one DatapathMap of datapath_map.h).
//
// It owns a Channel (listener + sessions) on its own event-loop thread. Per switch it installs a
// fixed base pipeline on connect (LLDP and ARP to the controller, table-miss drop) and then
// reconciles the switch to each desired SwitchForwarding it is given: it reads back the flows
// and groups the switch holds (FLOW_STATS / GROUP_DESC, Pulse's own cookie), compares them by
// meaning, sends only the difference, and confirms with a barrier. Applying the same state twice
// sends nothing; after a controller restart the switch's rules are adopted, not duplicated.
//
// SELECT groups (ECMP) are realised so that they really spread flows on Open vSwitch, whose
// OpenFlow 1.3 select groups send every flow to one bucket: the Nicira multipath action hashes
// the 5-tuple including UDP ports (RoCEv2 is UDP) into a register and a second table maps the
// register to a bucket; buckets are fast-failover groups watching their port, so a dead link is
// bypassed by the switch itself before the controller reacts. Weights are honoured by repeating
// buckets in the hash space.
//
// Proxy ARP: ARP requests for any address in the address book are answered by the controller
// (PACKET_OUT), so ARP is never flooded around the Clos's loops. The book starts from the options
// and is replaced by SetHostAddresses (learned hosts). Every ARP packet, and any IPv4 packet that
// reaches the controller, is reported as OnHostSeen (sender address and MAC, ingress port).
// Discovery: ProbeLinks sends an LLDP frame (chassis = datapath id, port = port number) out of
// every port of every switch; LLDP frames coming back as PACKET_IN become OnLinkObserved.
// Path probes: InjectProbe sends a RoCEv2-shaped probe (probe.h) through a switch's tables;
// any UDP/4791 packet that comes back as PACKET_IN (a probe-catching rule) is OnProbeSeen.
// Roles: SetRole sends ROLE_REQUEST (MASTER or SLAVE with the election's generation id) to every
// switch, and to each switch that connects later.
#ifndef PULSE_SOUTHBOUND_OPENFLOW_OPENFLOW_DRIVER_H_
#define PULSE_SOUTHBOUND_OPENFLOW_OPENFLOW_DRIVER_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/optional.h"
#include "controller/switches/switch_driver.h"
#include "southbound/openflow/datapath_map.h"

namespace pulse::southbound::openflow {

struct OpenFlowDriverOptions {
  std::string listen_address = "0.0.0.0";
  uint16_t listen_port = 6653;  // 0: any free port (tests); see OpenFlowDriver::port()
  // Proxy ARP: IPv4 address (host order) -> MAC (low 48 bits) of every NIC.
  std::vector<std::pair<uint32_t, uint64_t>> address_book;
  std::chrono::milliseconds echo_interval{2000};
  std::chrono::milliseconds echo_timeout{6000};
  std::chrono::milliseconds request_timeout{5000};
  std::chrono::milliseconds handshake_timeout{10000};
  // Datapath ids admitted (the fabric intent's switches): any other dpid is refused at the
  // handshake; an empty list refuses every switch. Unset: every dpid is admitted (tests, benches;
  // the daemon sets it unless its config says openflow.allow_unknown_dpids).
  absl::optional<std::vector<uint64_t>> allowed_dpids;
  // The switches this driver serves: fabric node (the core's name for a switch) and datapath id.
  // Events of a datapath not listed are not reported (its connection is logged as "not in the
  // fabric intent"; its counters are never asked for, RequestPortStats taking a node), and
  // forwarding for a node not listed fails with NotFound. Datapath ids stay inside the driver.
  // The daemon: OpenFlowDatapaths(fabric).
  std::vector<std::pair<SwitchId, Dpid>> datapaths;
  // Caps on what one peer can make the driver hold (see ChannelOptions in connection.h).
  size_t max_message_bytes = 65535;
  size_t max_buffered_bytes = 256u << 10;
  size_t max_multipart_reply_bytes = 32u << 20;
  size_t max_handshake_bytes = 1u << 20;
  size_t max_connections_per_peer = 256;
  size_t max_connections = 4096;
  // TLS with client certificates (Open vSwitch: ovs-vsctl set-ssl KEY CERT CA, then
  // set-controller BR ssl:HOST:PORT): all three PEM files, or none for plain TCP.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
};

// Counters of what the driver did, for metrics and logs.
struct OpenFlowDriverStats {
  uint64_t flow_mods_sent = 0;
  uint64_t group_mods_sent = 0;
  uint64_t barriers_confirmed = 0;
  uint64_t switch_errors = 0;  // OFPT_ERROR replies
  uint64_t arp_replies = 0;
  uint64_t lldp_sent = 0;
  uint64_t lldp_received = 0;
  uint64_t connected_switches = 0;
  uint64_t probes_sent = 0;  // path-oracle probes injected (PACKET_OUT to the tables)
  uint64_t probes_seen = 0;  // RoCEv2 packets caught back (PACKET_IN), reported as OnProbeSeen
  // Peers refused or cut by the listener, by kind (connection.h's kRefused* names).
  std::map<std::string, uint64_t> refusals;
};

class OpenFlowDriver : public SwitchDriver {
 public:
  explicit OpenFlowDriver(OpenFlowDriverOptions options);
  ~OpenFlowDriver() override;

  // SwitchDriver. All may be called from any thread; work is posted to the driver's thread.
  // Stop joins that thread, so it must not be called from a FabricEventSink callback.
  // ApplyForwarding while stopped fails at once with Unavailable. Select group ids must be in
  // 1..65535 and fast-failover ids below 0x80000000 (see flow_reconcile.h); the driver owns every
  // group on the switch and every flow with its cookies.
  absl::Status Start(FabricEventSink* sink) override;
  void Stop() override;
  void ApplyForwarding(const SwitchForwarding& desired, DoneCallback done) override;
  void RequestPortStats(SwitchId sw) override;
  void ProbeLinks() override;
  void SetHostAddresses(std::vector<std::pair<uint32_t, uint64_t>> book) override;
  // PACKET_OUT of a RoCEv2-shaped probe (probe.h) with in_port `in_port` and output TABLE, so
  // the switch's own tables (and ECMP hashing) forward it. A switch not connected drops it.
  absl::Status InjectProbe(SwitchId sw, PortNo in_port, const ProbePacket& probe) override;

  // OpenFlow role of this controller towards every switch (HA). Before the first call the driver
  // sends no ROLE_REQUEST (switches treat it as EQUAL).
  void SetRole(bool master, uint64_t generation_id) override;

  // The bound listening port (after Start).
  uint16_t port() const;
  OpenFlowDriverStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pulse::southbound::openflow

#endif  // PULSE_SOUTHBOUND_OPENFLOW_OPENFLOW_DRIVER_H_
