#include "controller/fabric_sync/fabric_sync.h"

#include "controller/paths/addressing.h"

#include <algorithm>
#include <tuple>

#include "boost/asio/post.hpp"
#include "common/log.h"
#include "common/thread_name.h"

namespace pulse::controller {
namespace {

using southbound::PortNo;
using switches::SwitchId;
using topology::ObservedLink;

bool ObservedLess(const ObservedLink& x, const ObservedLink& y) {
  return std::tie(x.dpid_a, x.port_a, x.dpid_b, x.port_b) <
         std::tie(y.dpid_a, y.port_a, y.dpid_b, y.port_b);
}

// LLDP reports each link from both ends; keep one orientation.
ObservedLink Canonical(ObservedLink l) {
  if (std::tie(l.dpid_b, l.port_b) < std::tie(l.dpid_a, l.port_a)) {
    std::swap(l.dpid_a, l.dpid_b);
    std::swap(l.port_a, l.port_b);
  }
  return l;
}

bool SameMatch(const southbound::RuleMatch& a, const southbound::RuleMatch& b) {
  return a.in_port == b.in_port && a.eth_type == b.eth_type && a.ipv4_src == b.ipv4_src &&
         a.ipv4_src_mask == b.ipv4_src_mask && a.ipv4_dst == b.ipv4_dst &&
         a.ipv4_dst_mask == b.ipv4_dst_mask && a.ip_proto == b.ip_proto && a.udp_src == b.udp_src &&
         a.udp_dst == b.udp_dst && a.dscp == b.dscp;
}

bool SameTables(const southbound::SwitchForwarding& a, const southbound::SwitchForwarding& b) {
  if (a.rules.size() != b.rules.size() || a.groups.size() != b.groups.size()) return false;
  for (size_t i = 0; i < a.rules.size(); ++i) {
    const auto& x = a.rules[i];
    const auto& y = b.rules[i];
    if (x.priority != y.priority || !SameMatch(x.match, y.match) ||
        x.action.set_queue != y.action.set_queue || x.action.output_port != y.action.output_port ||
        x.action.group_id != y.action.group_id) {
      return false;
    }
  }
  for (size_t i = 0; i < a.groups.size(); ++i) {
    const auto& x = a.groups[i];
    const auto& y = b.groups[i];
    if (x.id != y.id || x.kind != y.kind || x.buckets.size() != y.buckets.size()) return false;
    for (size_t j = 0; j < x.buckets.size(); ++j) {
      if (x.buckets[j].weight != y.buckets[j].weight ||
          x.buckets[j].watch_port != y.buckets[j].watch_port ||
          x.buckets[j].output_port != y.buckets[j].output_port) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace

FabricSync::FabricSync(Controller* controller, switches::SwitchDriverTable drivers,
                       FabricSyncOptions options)
    : controller_(controller),
      drivers_(std::move(drivers)),
      options_(options),
      fabric_(controller->snapshot()->fabric),
      groups_(fabric_),
      groups_status_(*fabric_),
      observed_(&ObservedLess),
      timer_work_(boost::asio::make_work_guard(timer_io_)),
      probe_timer_(timer_io_),
      stats_timer_(timer_io_) {}

FabricSync::~FabricSync() { Stop(); }

absl::Status FabricSync::Start() {
  std::weak_ptr<std::atomic<bool>> alive = alive_;
  controller_->AddForwardingObserver(
      [this, alive](const SnapshotPtr& /*before*/, const SnapshotPtr& /*after*/) {
        auto live = alive.lock();
        if (!live || !*live) return;
        RequestPush(std::nullopt);
      });
  for (southbound::SwitchDriver* driver : drivers_.drivers()) {
    if (absl::Status s = driver->Start(this); !s.ok()) return s;
  }
  ScheduleProbe();
  ScheduleStats();
  timer_thread_ = std::thread([this] {
    pulse::NameThisThread("pulse-fab-sync");
    timer_io_.run();
  });
  return absl::OkStatus();
}

void FabricSync::Stop() {
  if (stopped_.exchange(true)) return;
  *alive_ = false;
  boost::asio::post(timer_io_, [this] {
    probe_timer_.cancel();
    stats_timer_.cancel();
  });
  timer_work_.reset();
  timer_io_.stop();
  if (timer_thread_.joinable()) timer_thread_.join();
  for (southbound::SwitchDriver* driver : drivers_.drivers()) driver->Stop();
}

bool FabricSync::IsSwitch(SwitchId sw) const {
  return sw >= 0 && sw < static_cast<SwitchId>(fabric_->nodes().size()) &&
         fabric_->node(sw).is_switch();
}

void FabricSync::RequestPush(std::optional<SwitchId> force) {
  bool post;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (force) force_pending_.insert(*force);
    post = !push_scheduled_;
    push_scheduled_ = true;
  }
  if (post) boost::asio::post(timer_io_, [this] { RunPush(); });
}

void FabricSync::RunPush() {
  std::set<SwitchId> force;
  std::set<SwitchId> unknown;  // connected switches with nothing confirmed or in flight
  {
    std::lock_guard<std::mutex> lock(mu_);
    push_scheduled_ = false;
    force = std::move(force_pending_);
    force_pending_.clear();
    for (SwitchId sw : connected_) {
      if (!applied_.count(sw)) unknown.insert(sw);
    }
  }
  // The latest published state: changes that arrived while this push waited are folded in. The
  // tables are computed without mu_, which the driver's callbacks take.
  std::vector<southbound::SwitchForwarding> tables =
      Compute(controller_->snapshot(), force, unknown);
  std::vector<PendingApply> pending;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& table : tables) {
      if (!connected_.count(table.node)) continue;
      // Switches whose driver routes by the switch's own control plane get no tables.
      southbound::SwitchDriver* driver = drivers_.For(table.node);
      if (driver == nullptr || !driver->ProgramsForwarding()) continue;
      auto it = applied_.find(table.node);
      if (!force.count(table.node) && it != applied_.end() && SameTables(it->second, table)) {
        continue;
      }
      applied_[table.node] = table;
      const bool counts_for_repair = repair_started_.has_value();
      if (counts_for_repair) ++repair_pending_;
      pending.push_back(PendingApply{std::move(table), counts_for_repair});
    }
  }
  Dispatch(std::move(pending));
}

std::future<void> FabricSync::Sync() {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> result = done->get_future();
  boost::asio::post(timer_io_, [done] { done->set_value(); });
  return result;
}

std::vector<southbound::SwitchForwarding> FabricSync::Compute(const SnapshotPtr& snapshot,
                                                              const std::set<SwitchId>& force,
                                                              const std::set<SwitchId>& unknown) {
  // Bring the ECMP groups in line with the usability the snapshot's placement uses.
  const LinkStatus& usable = snapshot->placement.link_status();
  for (size_t l = 0; l < usable.size(); ++l) {
    auto link = static_cast<topology::LinkId>(l);
    if (usable.IsUp(link) != groups_status_.IsUp(link)) {
      groups_.SetLinkUp(link, usable.IsUp(link));
      groups_status_.SetUp(link, usable.IsUp(link));
    }
  }
  const bool hosts_changed = snapshot->hosts != book_hosts_;
  if (hosts_changed) {
    book_hosts_ = snapshot->hosts;
    std::vector<std::pair<uint32_t, uint64_t>> book;
    for (topology::NodeId nic : fabric_->nics()) {
      const uint32_t ip = ServedIpv4(*fabric_, book_hosts_.get(), nic);
      const uint64_t mac = ServedMac(*fabric_, book_hosts_.get(), nic);
      if (ip != 0 && mac != 0) book.emplace_back(ip, mac);
    }
    for (southbound::SwitchDriver* driver : drivers_.drivers()) driver->SetHostAddresses(book);
  }
  // Only the switches the change can reach (on the paths of changed jobs), plus those that must
  // get everything: forced (reconnected) and unknown (an apply failed). A change of usability,
  // hash models or addresses, or the first push, recomputes every switch.
  std::optional<std::vector<topology::NodeId>> only;
  if (last_computed_ != nullptr && !hosts_changed) {
    only = ForwardingAffectedSwitches(*fabric_, last_computed_->placement, snapshot->placement);
  }
  if (only) {
    for (const std::set<SwitchId>* switches : {&force, &unknown}) {
      only->insert(only->end(), switches->begin(), switches->end());
    }
    std::sort(only->begin(), only->end());
    only->erase(std::unique(only->begin(), only->end()), only->end());
  }
  last_computed_ = snapshot;
  last_switches_computed_ = only ? only->size() : fabric_->switches().size();
  return ComputeForwarding(*fabric_, snapshot->placement, groups_, options_.forwarding,
                           snapshot->hosts.get(), only ? &*only : nullptr);
}

// Runs without mu_ held: a driver may call `done` before ApplyForwarding returns.
void FabricSync::Dispatch(std::vector<PendingApply> pending) {
  std::weak_ptr<std::atomic<bool>> alive = alive_;
  for (PendingApply& p : pending) {
    const SwitchId sw = p.table.node;
    const bool counts_for_repair = p.counts_for_repair;
    southbound::SwitchDriver* driver = drivers_.For(sw);  // not null: RunPush checked
    driver->ApplyForwarding(p.table, [this, alive, sw, counts_for_repair](absl::Status status) {
      auto live = alive.lock();
      if (!live || !*live) return;
      std::lock_guard<std::mutex> lock(mu_);
      if (status.ok()) {
        ++applies_confirmed_;
      } else {
        ++apply_errors_;
        Log(LogLevel::kWarning, "forwarding of switch ", fabric_->node(sw).name,
            " not confirmed: ", status.ToString());
        applied_.erase(sw);  // unknown state: the next push sends everything again
      }
      if (!counts_for_repair) return;
      if (--repair_pending_ == 0 && repair_started_) {
        double ms =
            std::chrono::duration<double, std::milli>(Clock::now() - *repair_started_).count();
        last_repair_ms_ = ms;
        repair_started_.reset();
        Log(LogLevel::kInfo, "repair: port-down to last barrier reply in ", ms, " ms");
      }
    });
  }
}

void FabricSync::OnSwitchConnected(SwitchId sw, const std::vector<southbound::SwitchPort>& ports) {
  if (!IsSwitch(sw)) {
    Log(LogLevel::kWarning, "a driver reported node ", sw,
        " connected, which is not a switch of the fabric; ignoring it");
    return;
  }
  const std::optional<topology::NodeId> node = sw;
  Log(LogLevel::kInfo, "switch ", fabric_->node(*node).name, " connected with ", ports.size(),
      " ports");
  {
    std::lock_guard<std::mutex> lock(mu_);
    connected_.insert(sw);
    applied_.erase(sw);
  }
  // Ports the intent expects but the switch does not report count as down.
  std::set<PortNo> reported;
  for (const auto& p : ports) {
    reported.insert(p.port);
    ReportLinkEnd(*node, p.port, p.up);
  }
  for (const topology::Port& p : fabric_->node(*node).ports) {
    if (!reported.count(static_cast<PortNo>(p.number))) {
      ReportLinkEnd(*node, static_cast<PortNo>(p.number), false);
    }
  }
  controller_->OnSwitchConnected(*node);
  // The controller publishes only if it did not already count this switch as connected (a
  // reconnect it never saw lost): give the switch its tables now either way.
  RequestPush(sw);
}

void FabricSync::OnSwitchLost(SwitchId sw) {
  if (!IsSwitch(sw)) return;
  const std::optional<topology::NodeId> node = sw;
  Log(LogLevel::kWarning, "switch ", fabric_->node(*node).name, " lost");
  {
    std::lock_guard<std::mutex> lock(mu_);
    connected_.erase(sw);
    applied_.erase(sw);
  }
  controller_->OnSwitchLost(*node);
}

void FabricSync::OnPortStatus(SwitchId sw, PortNo port, bool up) {
  if (!IsSwitch(sw)) return;
  const std::optional<topology::NodeId> node = sw;
  if (!up) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!repair_started_) repair_started_ = Clock::now();
  }
  Log(LogLevel::kInfo, "port ", fabric_->node(*node).name, ":", port, up ? " up" : " down");
  ReportLinkEnd(*node, port, up);
}

void FabricSync::ReportLinkEnd(topology::NodeId node, PortNo port, bool up) {
  auto link = fabric_->LinkAtPort(node, static_cast<int32_t>(port));
  if (!link) return;  // a port with no link in the intent (or the local port)
  const topology::Link& l = fabric_->link(*link);
  bool link_up;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (up) {
      ends_down_.erase({node, port});
    } else {
      ends_down_.insert({node, port});
    }
    link_up = !ends_down_.count({l.a.node, static_cast<PortNo>(l.a.port)}) &&
              !ends_down_.count({l.b.node, static_cast<PortNo>(l.b.port)});
  }
  controller_->OnLinkStatus(*link, link_up);
}

void FabricSync::OnHostSeen(SwitchId sw_id, PortNo port, uint32_t ipv4, uint64_t mac) {
  // Only unicast senders with a usable address: no multicast MAC, no 0/loopback/multicast/bcast.
  if (mac == 0 || ((mac >> 40) & 1) || ipv4 == 0 || (ipv4 >> 24) == 127 || ipv4 >= 0xE0000000) {
    return;
  }
  if (!IsSwitch(sw_id)) return;
  const std::optional<topology::NodeId> sw = sw_id;
  std::optional<topology::LinkId> link = fabric_->LinkAtPort(*sw, static_cast<int32_t>(port));
  if (!link) return;
  const topology::NodeId peer = fabric_->Peer(*link, *sw);
  if (!fabric_->node(peer).is_nic()) return;  // an uplink: not a host port
  controller_->OnHostSeen(peer, ipv4, mac);
}

void FabricSync::OnLinkObserved(SwitchId sw_a, PortNo port_a, SwitchId sw_b, PortNo port_b) {
  if (!IsSwitch(sw_a) || !IsSwitch(sw_b)) return;
  // Discovery compares with the intent by its datapath ids (topology/diff.h).
  const ObservedLink link{fabric_->node(sw_a).datapath_id, port_a, fabric_->node(sw_b).datapath_id,
                          port_b};
  std::lock_guard<std::mutex> lock(mu_);
  observed_[Canonical(link)] = Clock::now();
}

void FabricSync::OnProbeSeen(SwitchId sw, southbound::PortNo port,
                             const southbound::ProbePacket& probe) {
  if (!IsSwitch(sw)) return;
  if (probe_handler_) probe_handler_(sw, port, probe);
}

void FabricSync::OnPortCounters(SwitchId sw,
                                const std::vector<southbound::PortCounters>& counters) {
  if (!IsSwitch(sw)) return;
  if (counters_handler_) counters_handler_(sw, counters);
}

DiscoveryReport FabricSync::Discovery() const {
  std::lock_guard<std::mutex> lock(mu_);
  return discovery_;
}

void FabricSync::UpdateDiscovery() {
  std::lock_guard<std::mutex> lock(mu_);
  // A link counts as present while it was seen within the last three probe rounds.
  const auto horizon = Clock::now() - 3 * options_.probe_interval;
  std::vector<ObservedLink> present;
  for (auto it = observed_.begin(); it != observed_.end();) {
    if (it->second < horizon) {
      it = observed_.erase(it);
    } else {
      present.push_back(it->first);
      ++it;
    }
  }
  ++discovery_.probe_rounds;
  // Judge only once every connected switch had a chance to answer at least one probe.
  if (discovery_.probe_rounds < 2) return;
  topology::FabricDiff diff = topology::DiffLinks(*fabric_, present);
  std::string description = topology::DescribeDiff(*fabric_, diff);
  if (description != discovery_.description || discovery_.probe_rounds == 2) {
    if (diff.empty()) {
      Log(LogLevel::kInfo, "discovery: ", present.size(), " links, all as the intent says");
    } else {
      Log(LogLevel::kWarning, "discovery differs from the intent:\n", description);
    }
  }
  // The controller turns changes of verdict into DISCOVERY_MISMATCH events (it only posts).
  controller_->OnDiscoveryResult(diff.empty(), description);
  discovery_.observed = std::move(present);
  discovery_.diff = std::move(diff);
  discovery_.description = std::move(description);
}

void FabricSync::ScheduleProbe() {
  if (options_.probe_interval.count() <= 0) return;
  probe_timer_.expires_after(options_.probe_interval);
  probe_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    UpdateDiscovery();
    for (southbound::SwitchDriver* driver : drivers_.drivers()) driver->ProbeLinks();
    ScheduleProbe();
  });
}

void FabricSync::ScheduleStats() {
  if (options_.stats_interval.count() <= 0) return;
  stats_timer_.expires_after(options_.stats_interval);
  stats_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    std::vector<SwitchId> switches;
    {
      std::lock_guard<std::mutex> lock(mu_);
      switches.assign(connected_.begin(), connected_.end());
    }
    for (SwitchId sw : switches) {
      if (southbound::SwitchDriver* driver = drivers_.For(sw)) driver->RequestPortStats(sw);
    }
    ScheduleStats();
  });
}

}  // namespace pulse::controller
