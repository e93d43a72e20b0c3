#include "southbound/openflow/openflow_driver.h"

#include <atomic>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include <boost/asio.hpp>

#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"
#include "common/log.h"
#include "common/thread_name.h"
#include "southbound/openflow/arp.h"
#include "southbound/openflow/channel.h"
#include "southbound/openflow/flow_reconcile.h"
#include "southbound/openflow/lldp.h"
#include "southbound/openflow/probe.h"

namespace pulse::southbound::openflow {

namespace of = ::pulse::openflow;

namespace {

constexpr uint16_t kControlPriority = 65000;  // LLDP and ARP to the controller

// Through the tree's one logger (common/log.h).
void LogLine(const std::string& text) { pulse::Log(pulse::LogLevel::kInfo, "openflow: ", text); }

of::FlowMod BaseFlow(uint8_t table, uint16_t priority, of::Match match,
                     std::vector<of::Instruction> instructions) {
  of::FlowMod mod;
  mod.cookie = kBasePipelineCookie;
  mod.table_id = table;
  mod.command = static_cast<uint8_t>(of::FlowModCommand::kAdd);
  mod.priority = priority;
  mod.match = std::move(match);
  mod.instructions = std::move(instructions);
  return mod;
}

// Table 0: LLDP and ARP to the controller, miss drops; table 1 miss drops.
std::vector<of::FlowMod> BasePipeline() {
  std::vector<of::FlowMod> flows;
  of::ActionList to_controller{
      of::OutputAction{of::kPortController, of::kControllerMaxLenNoBuffer}};
  for (uint16_t eth_type : {kEthTypeLldp, kEthTypeArp}) {
    of::Match match;
    match.Add(of::OxmField::kEthType, eth_type);
    flows.push_back(BaseFlow(kRuleTable, kControlPriority, match,
                             {of::ApplyActionsInstruction{to_controller}}));
  }
  flows.push_back(BaseFlow(kRuleTable, 0, of::Match{}, {}));
  flows.push_back(BaseFlow(kMultipathTable, 0, of::Match{}, {}));
  return flows;
}

std::string ErrorText(const of::Error& e) {
  return absl::StrCat("OFPT_ERROR type ", e.type, " code ", e.code);
}

}  // namespace

struct OpenFlowDriver::Impl {
  struct PendingApply {
    SwitchForwarding desired;
    DoneCallback done;
  };
  struct SwitchState {
    of::ConnectionPtr connection;
    std::map<uint32_t, of::PortInfo> ports;
    std::deque<PendingApply> applies;
    bool applying = false;
    absl::Status apply_error;  // first switch ERROR seen while an apply is in flight
  };

  explicit Impl(OpenFlowDriverOptions opts)
      : options(std::move(opts)), datapaths(options.datapaths) {
    for (const auto& [ip, mac] : options.address_book) address_book[ip] = mac;
  }

  // The fabric node of a datapath; nullopt for a datapath the fabric does not list, whose events
  // are not reported (the core names switches by node only).
  absl::optional<SwitchId> NodeOf(Dpid dpid) const {
    std::optional<SwitchId> node = datapaths.NodeOf(dpid);
    if (!node) return absl::nullopt;
    return *node;
  }

  OpenFlowDriverOptions options;
  std::unordered_map<uint32_t, uint64_t> address_book;
  const DatapathMap datapaths;  // options.datapaths, both ways
  FabricEventSink* sink = nullptr;

  boost::asio::io_context io;
  absl::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::thread thread;
  std::unique_ptr<of::Channel> channel;
  std::atomic<uint16_t> bound_port{0};
  bool started = false;
  std::atomic<bool> running{false};  // calls after Stop fail fast instead of being lost
  std::mutex lifecycle_mu;

  // Driver thread only.
  std::map<Dpid, SwitchState> switches;
  absl::optional<std::pair<bool, uint64_t>> role;

  // Counters (read from any thread).
  std::atomic<uint64_t> flow_mods_sent{0}, group_mods_sent{0}, barriers_confirmed{0},
      switch_errors{0}, arp_replies{0}, lldp_sent{0}, lldp_received{0}, connected_switches{0},
      probes_sent{0}, probes_seen{0};
  mutable std::mutex refusals_mu;
  std::map<std::string, uint64_t> refusals;  // guarded by refusals_mu

  // ---- driver thread ----

  void SendRole(const of::ConnectionPtr& c) {
    if (!role) return;
    of::RoleRequest request;
    request.role = static_cast<uint32_t>(role->first ? of::ControllerRole::kMaster
                                                     : of::ControllerRole::kSlave);
    request.generation_id = role->second;
    uint64_t dpid = c->dpid();
    c->Request(of::Message{0, request}, [dpid](absl::StatusOr<of::Message> reply) {
      if (!reply.ok())
        LogLine(absl::StrCat("switch ", dpid, ": ROLE_REQUEST failed: ", reply.status().message()));
    });
  }

  void OnReady(const of::ConnectionPtr& c) {
    Dpid dpid = c->dpid();
    SwitchState& s = switches[dpid];
    // A reconnect replaces the old session: queued applies of the old one fail.
    FailApplies(&s, absl::UnavailableError(absl::StrCat("switch ", dpid, " reconnected")));
    s.connection = c;
    s.ports.clear();
    for (const auto& p : c->ports()) s.ports[p.port_no] = p;
    connected_switches = channel->ready_count();
    SendRole(c);
    for (auto& flow : BasePipeline()) {
      if (c->Send(of::Message{0, flow}).ok()) ++flow_mods_sent;
    }
    std::vector<SwitchPort> ports;
    for (const auto& [no, p] : s.ports) {
      if (no >= of::kPortMax) continue;
      ports.push_back(SwitchPort{no, p.name, p.hw_addr, p.IsUp(), p.curr_speed_kbps});
    }
    const absl::optional<SwitchId> node = NodeOf(dpid);
    LogLine(absl::StrCat("switch ", dpid, " connected from ", c->peer(), " with ", ports.size(),
                         " ports", node ? "" : " (not in the fabric intent: not reported)"));
    if (sink && node) sink->OnSwitchConnected(*node, ports);
  }

  void FailApplies(SwitchState* s, const absl::Status& status) {
    // The one in flight fails through its own request callbacks.
    std::deque<PendingApply> queued;
    queued.swap(s->applies);
    if (s->applying && !queued.empty()) {
      s->applies.push_back(std::move(queued.front()));
      queued.pop_front();
    }
    for (auto& p : queued)
      if (p.done) p.done(status);
  }

  void OnLost(uint64_t dpid, const std::string& reason) {
    LogLine(absl::StrCat("switch ", dpid, " lost: ", reason));
    auto it = switches.find(dpid);
    if (it != switches.end()) {
      it->second.connection.reset();
      FailApplies(&it->second,
                  absl::UnavailableError(absl::StrCat("switch ", dpid, " lost: ", reason)));
      if (!it->second.applying) switches.erase(it);
    }
    connected_switches = channel->ready_count();
    if (auto node = NodeOf(dpid); sink && node) sink->OnSwitchLost(*node);
  }

  void OnMessage(const of::ConnectionPtr& c, const of::Message& message) {
    Dpid dpid = c->dpid();
    if (const auto* status = std::get_if<of::PortStatus>(&message.body)) {
      auto it = switches.find(dpid);
      if (it == switches.end()) return;
      const of::PortInfo& port = status->port;
      const absl::optional<SwitchId> node = NodeOf(dpid);
      const bool report = sink && node && port.port_no < of::kPortMax;
      if (status->reason == static_cast<uint8_t>(of::PortReason::kDelete)) {
        it->second.ports.erase(port.port_no);
        if (report) sink->OnPortStatus(*node, port.port_no, false);
        return;
      }
      it->second.ports[port.port_no] = port;
      if (report) sink->OnPortStatus(*node, port.port_no, port.IsUp());
      return;
    }
    if (const auto* packet_in = std::get_if<of::PacketIn>(&message.body)) {
      OnPacketIn(c, *packet_in);
      return;
    }
    if (const auto* error = std::get_if<of::Error>(&message.body)) {
      ++switch_errors;
      LogLine(absl::StrCat("switch ", dpid, ": ", ErrorText(*error), " for xid ", message.xid));
      auto it = switches.find(dpid);
      if (it != switches.end() && it->second.applying && it->second.apply_error.ok())
        it->second.apply_error = absl::FailedPreconditionError(absl::StrCat(
            "switch ", dpid, " rejected a change (xid ", message.xid, "): ", ErrorText(*error)));
    }
  }

  void OnPacketIn(const of::ConnectionPtr& c, const of::PacketIn& packet_in) {
    const of::MatchField* in_port_field = packet_in.match.Find(of::OxmField::kInPort);
    if (in_port_field == nullptr) return;
    uint32_t in_port = static_cast<uint32_t>(in_port_field->value);
    absl::Span<const uint8_t> frame(packet_in.data);
    if (frame.size() < 14) return;
    auto lldp = ParseLldpFrame(frame);
    if (lldp.ok()) {
      ++lldp_received;
      const absl::optional<SwitchId> from = NodeOf(lldp->dpid), to = NodeOf(c->dpid());
      if (sink && from && to) sink->OnLinkObserved(*from, lldp->port, *to, in_port);
      return;
    }
    if (lldp.status().code() == absl::StatusCode::kNotFound) return;  // someone else's LLDP
    const absl::optional<SwitchId> node = NodeOf(c->dpid());
    // A path probe caught by a probe-catching rule: reported as such, never as a host.
    if (auto probe = ParseProbeFrame(frame); probe.ok()) {
      ++probes_seen;
      if (sink && node) sink->OnProbeSeen(*node, in_port, *probe);
      return;
    }
    auto arp = ParseArpFrame(frame);
    if (!arp.ok()) {
      auto ipv4 = ParseIpv4Sender(frame);
      if (ipv4.ok() && sink && node) sink->OnHostSeen(*node, in_port, ipv4->first, ipv4->second);
      return;
    }
    // Probes (sender 0.0.0.0) say nothing about the sender's address.
    if (sink && node && arp->sender_ip != 0) {
      sink->OnHostSeen(*node, in_port, arp->sender_ip, arp->sender_mac);
    }
    if (arp->op != 1) return;
    auto it = address_book.find(arp->target_ip);
    if (it == address_book.end()) return;  // unknown address: never flooded
    of::PacketOut out;
    out.in_port = of::kPortController;
    out.actions.push_back(of::OutputAction{in_port, 0});
    out.data = BuildArpReply(*arp, it->second);
    if (c->Send(of::Message{0, out}).ok()) ++arp_replies;
  }

  void EnqueueApply(SwitchForwarding desired, DoneCallback done) {
    std::optional<Dpid> node = datapaths.DpidOf(desired.node);
    if (!node) {
      if (done) {
        done(absl::NotFoundError(
            absl::StrCat("node ", desired.node, " is not a switch of this openflow driver")));
      }
      return;
    }
    Dpid dpid = *node;
    auto it = switches.find(dpid);
    if (it == switches.end() || !it->second.connection) {
      if (done) done(absl::UnavailableError(absl::StrCat("switch ", dpid, " is not connected")));
      return;
    }
    it->second.applies.push_back(PendingApply{std::move(desired), std::move(done)});
    if (!it->second.applying) StartNextApply(dpid);
  }

  void StartNextApply(Dpid dpid) {
    auto it = switches.find(dpid);
    if (it == switches.end()) return;
    SwitchState& s = it->second;
    if (s.applies.empty() || !s.connection) {
      s.applying = false;
      if (!s.connection) switches.erase(it);
      return;
    }
    s.applying = true;
    s.apply_error = absl::OkStatus();
    auto translated = TranslateForwarding(s.applies.front().desired);
    if (!translated.ok()) {
      FinishApply(dpid, translated.status());
      return;
    }
    auto state = std::make_shared<OpenFlowState>(std::move(*translated));
    of::ConnectionPtr c = s.connection;
    of::FlowStatsRequest flows_request;
    flows_request.cookie = kForwardingCookie;
    flows_request.cookie_mask = ~0ull;
    c->Request(of::Message{0, of::MultipartRequest{0, flows_request}},
               [this, dpid, c, state](absl::StatusOr<of::Message> flows) {
                 if (!flows.ok()) {
                   FinishApply(dpid, Where(dpid, "FLOW_STATS", flows.status()));
                   return;
                 }
                 auto flow_stats = std::make_shared<std::vector<of::FlowStats>>();
                 if (const auto* r = std::get_if<of::MultipartReply>(&flows->body))
                   if (const auto* f = std::get_if<of::FlowStatsReply>(&r->body))
                     *flow_stats = f->flows;
                 c->Request(of::Message{0, of::MultipartRequest{0, of::GroupDescRequest{}}},
                            [this, dpid, c, state, flow_stats](absl::StatusOr<of::Message> groups) {
                              if (!groups.ok()) {
                                FinishApply(dpid, Where(dpid, "GROUP_DESC", groups.status()));
                                return;
                              }
                              std::vector<of::GroupDesc> descs;
                              if (const auto* r = std::get_if<of::MultipartReply>(&groups->body))
                                if (const auto* g = std::get_if<of::GroupDescReply>(&r->body))
                                  descs = g->groups;
                              SendPlan(dpid, c, PlanReconcile(*state, *flow_stats, descs));
                            });
               });
  }

  static absl::Status Where(Dpid dpid, const char* what, const absl::Status& status) {
    return absl::Status(status.code(),
                        absl::StrCat("switch ", dpid, ": ", what, ": ", status.message()));
  }

  void SendPlan(Dpid dpid, const of::ConnectionPtr& c, const ReconcilePlan& plan) {
    absl::Status sent;
    auto send = [&](of::MessageBody body, std::atomic<uint64_t>* counter) {
      if (!sent.ok()) return;
      sent = c->Send(of::Message{0, std::move(body)});
      if (sent.ok()) ++*counter;
    };
    for (const auto& g : plan.group_writes) send(g, &group_mods_sent);
    for (const auto& f : plan.flow_mods) send(f, &flow_mods_sent);
    for (const auto& g : plan.group_deletes) send(g, &group_mods_sent);
    if (!sent.ok()) {
      FinishApply(dpid, Where(dpid, "send", sent));
      return;
    }
    c->Barrier([this, dpid](absl::Status status) {
      if (status.ok()) ++barriers_confirmed;
      FinishApply(dpid, status.ok() ? absl::OkStatus() : Where(dpid, "BARRIER", status));
    });
  }

  void FinishApply(Dpid dpid, absl::Status status) {
    auto it = switches.find(dpid);
    if (it == switches.end() || it->second.applies.empty()) return;
    SwitchState& s = it->second;
    if (status.ok()) status = s.apply_error;
    PendingApply done = std::move(s.applies.front());
    s.applies.pop_front();
    s.applying = false;
    if (!status.ok()) LogLine(absl::StrCat("apply: ", status.message()));
    if (done.done) done.done(status);
    StartNextApply(dpid);
  }

  void Probe() {
    for (const auto& [dpid, s] : switches) {
      if (!s.connection) continue;
      for (const auto& [no, port] : s.ports) {
        if (no >= of::kPortMax || !port.IsUp()) continue;
        of::PacketOut out;
        out.in_port = of::kPortController;
        out.actions.push_back(of::OutputAction{no, 0});
        out.data = BuildLldpFrame(dpid, no, port.hw_addr);
        if (s.connection->Send(of::Message{0, std::move(out)}).ok()) ++lldp_sent;
      }
    }
  }

  void InjectProbe(Dpid dpid, PortNo in_port, const ProbePacket& probe) {
    auto it = switches.find(dpid);
    if (it == switches.end() || !it->second.connection) return;  // the oracle counts it lost
    of::PacketOut out;
    out.in_port = in_port;
    out.actions.push_back(of::OutputAction{of::kPortTable, 0});
    out.data = BuildProbeFrame(probe);
    if (it->second.connection->Send(of::Message{0, std::move(out)}).ok()) ++probes_sent;
  }

  void PortStats(Dpid dpid) {
    auto it = switches.find(dpid);
    if (it == switches.end() || !it->second.connection) return;
    it->second.connection->Request(
        of::Message{0, of::MultipartRequest{0, of::PortStatsRequest{of::kPortAny}}},
        [this, dpid](absl::StatusOr<of::Message> reply) {
          if (!reply.ok()) {
            LogLine(absl::StrCat("switch ", dpid, ": PORT_STATS: ", reply.status().message()));
            return;
          }
          const auto* r = std::get_if<of::MultipartReply>(&reply->body);
          const auto* stats = r ? std::get_if<of::PortStatsReply>(&r->body) : nullptr;
          if (stats == nullptr) return;
          std::vector<PortCounters> counters;
          for (const auto& p : stats->ports) {
            if (p.port_no >= of::kPortMax) continue;
            counters.push_back(PortCounters{p.port_no, p.rx_bytes, p.tx_bytes, p.rx_packets,
                                            p.tx_packets, p.rx_dropped, p.tx_dropped, p.rx_errors,
                                            p.tx_errors});
          }
          // Only switches the map lists are ever asked (RequestPortStats takes a node).
          if (auto node = NodeOf(dpid); sink && node) sink->OnPortCounters(*node, counters);
        });
  }

  void Role(bool master, uint64_t generation_id) {
    role = std::make_pair(master, generation_id);
    for (const auto& [dpid, s] : switches)
      if (s.connection) SendRole(s.connection);
  }
};

OpenFlowDriver::OpenFlowDriver(OpenFlowDriverOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

OpenFlowDriver::~OpenFlowDriver() { Stop(); }

absl::Status OpenFlowDriver::Start(FabricEventSink* sink) {
  std::lock_guard<std::mutex> lock(impl_->lifecycle_mu);
  if (impl_->started) return absl::FailedPreconditionError("openflow driver already started");
  Impl* impl = impl_.get();
  impl->sink = sink;
  of::ChannelOptions channel_options;
  channel_options.listen_address = impl->options.listen_address;
  channel_options.port = impl->options.listen_port;
  channel_options.echo_interval = impl->options.echo_interval;
  channel_options.echo_timeout = impl->options.echo_timeout;
  channel_options.request_timeout = impl->options.request_timeout;
  channel_options.handshake_timeout = impl->options.handshake_timeout;
  channel_options.max_message_bytes = impl->options.max_message_bytes;
  channel_options.max_buffered_bytes = impl->options.max_buffered_bytes;
  channel_options.max_multipart_reply_bytes = impl->options.max_multipart_reply_bytes;
  channel_options.max_handshake_bytes = impl->options.max_handshake_bytes;
  channel_options.max_connections_per_peer = impl->options.max_connections_per_peer;
  channel_options.max_connections = impl->options.max_connections;
  if (!impl->options.tls_cert_file.empty() || !impl->options.tls_key_file.empty() ||
      !impl->options.tls_client_ca_file.empty()) {
    auto tls = of::MakeServerTlsContext(impl->options.tls_cert_file, impl->options.tls_key_file,
                                        impl->options.tls_client_ca_file);
    if (!tls.ok()) {
      return absl::Status(tls.status().code(), absl::StrCat("openflow.", tls.status().message()));
    }
    channel_options.tls = *std::move(tls);
  }
  if (impl->options.allowed_dpids.has_value()) {
    std::set<uint64_t> allowed(impl->options.allowed_dpids->begin(),
                               impl->options.allowed_dpids->end());
    channel_options.dpid_allowed = [allowed = std::move(allowed)](uint64_t dpid) {
      return allowed.count(dpid) > 0;
    };
  }
  of::ChannelHandlers handlers;
  handlers.on_ready = [impl](const of::ConnectionPtr& c) { impl->OnReady(c); };
  handlers.on_lost = [impl](uint64_t dpid, const std::string& reason) {
    impl->OnLost(dpid, reason);
  };
  handlers.on_message = [impl](const of::ConnectionPtr& c, const of::Message& m) {
    impl->OnMessage(c, m);
  };
  handlers.on_refused = [impl](const std::string& kind, const std::string&, const std::string&) {
    std::lock_guard<std::mutex> lock(impl->refusals_mu);
    ++impl->refusals[kind];
  };
  impl->channel = std::make_unique<of::Channel>(impl->io, channel_options, std::move(handlers));
  if (absl::Status status = impl->channel->Start(); !status.ok()) {
    impl->channel.reset();
    return status;
  }
  impl->bound_port = impl->channel->port();
  impl->io.restart();
  impl->work.emplace(impl->io.get_executor());
  impl->thread = std::thread([impl] {
    pulse::NameThisThread("pulse-openflow");
    impl->io.run();
  });
  impl->started = true;
  impl->running = true;
  return absl::OkStatus();
}

void OpenFlowDriver::Stop() {
  std::lock_guard<std::mutex> lock(impl_->lifecycle_mu);
  if (!impl_->started) return;
  Impl* impl = impl_.get();
  impl->running = false;
  boost::asio::post(impl->io, [impl] {
    impl->channel->Stop();
    for (auto& [dpid, s] : impl->switches)
      impl->FailApplies(&s, absl::UnavailableError("openflow driver stopping"));
    impl->sink = nullptr;  // nothing reaches the sink after Stop
    impl->work.reset();
    impl->io.stop();
  });
  impl->thread.join();
  impl->channel.reset();
  impl->switches.clear();
  impl->connected_switches = 0;
  impl->started = false;
}

void OpenFlowDriver::ApplyForwarding(const SwitchForwarding& desired, DoneCallback done) {
  Impl* impl = impl_.get();
  if (!impl->running) {
    if (done) done(absl::UnavailableError("openflow driver is not running"));
    return;
  }
  boost::asio::post(impl->io, [impl, desired, done = std::move(done)]() mutable {
    impl->EnqueueApply(std::move(desired), std::move(done));
  });
}

absl::Status OpenFlowDriver::InjectProbe(SwitchId sw, PortNo in_port, const ProbePacket& probe) {
  Impl* impl = impl_.get();
  if (!impl->running) return absl::UnavailableError("openflow driver is not running");
  std::optional<Dpid> dpid = impl->datapaths.DpidOf(sw);
  if (!dpid) {
    return absl::NotFoundError(absl::StrCat("openflow driver: switch node ", sw, " is not served"));
  }
  boost::asio::post(
      impl->io, [impl, dpid = *dpid, in_port, probe] { impl->InjectProbe(dpid, in_port, probe); });
  return absl::OkStatus();
}

void OpenFlowDriver::RequestPortStats(SwitchId sw) {
  Impl* impl = impl_.get();
  std::optional<Dpid> dpid = impl->datapaths.DpidOf(sw);
  if (!dpid) return;
  boost::asio::post(impl->io, [impl, dpid = *dpid] { impl->PortStats(dpid); });
}

void OpenFlowDriver::SetHostAddresses(std::vector<std::pair<uint32_t, uint64_t>> book) {
  Impl* impl = impl_.get();
  boost::asio::post(impl->io, [impl, book = std::move(book)] {
    impl->address_book.clear();
    for (const auto& [ip, mac] : book) impl->address_book[ip] = mac;
  });
}

void OpenFlowDriver::ProbeLinks() {
  Impl* impl = impl_.get();
  boost::asio::post(impl->io, [impl] { impl->Probe(); });
}

void OpenFlowDriver::SetRole(bool master, uint64_t generation_id) {
  Impl* impl = impl_.get();
  boost::asio::post(impl->io, [impl, master, generation_id] { impl->Role(master, generation_id); });
}

uint16_t OpenFlowDriver::port() const { return impl_->bound_port; }

OpenFlowDriverStats OpenFlowDriver::stats() const {
  OpenFlowDriverStats s;
  s.flow_mods_sent = impl_->flow_mods_sent;
  s.group_mods_sent = impl_->group_mods_sent;
  s.barriers_confirmed = impl_->barriers_confirmed;
  s.switch_errors = impl_->switch_errors;
  s.arp_replies = impl_->arp_replies;
  s.lldp_sent = impl_->lldp_sent;
  s.lldp_received = impl_->lldp_received;
  s.connected_switches = impl_->connected_switches;
  s.probes_sent = impl_->probes_sent;
  s.probes_seen = impl_->probes_seen;
  std::lock_guard<std::mutex> lock(impl_->refusals_mu);
  s.refusals = impl_->refusals;
  return s;
}

}  // namespace pulse::southbound::openflow
