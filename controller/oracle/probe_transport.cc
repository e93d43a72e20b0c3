#include "controller/oracle/probe_transport.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace pulse::controller {

DriverProbeTransport::DriverProbeTransport(const Fabric& fabric, switches::SwitchDriver* driver,
                                           DriverProbeTransportOptions options)
    : fabric_(fabric), driver_(driver), options_(options) {}

absl::StatusOr<std::vector<DirectedLinkId>> DriverProbeTransport::Run(
    const std::vector<OracleProbe>& probes) {
  std::vector<DirectedLinkId> out(probes.size(), -1);
  const size_t batch = std::max<size_t>(options_.batch_size, 1);
  for (size_t start = 0; start < probes.size(); start += batch) {
    const size_t end = std::min(probes.size(), start + batch);
    {
      std::lock_guard<std::mutex> lock(mu_);
      in_flight_.clear();
      answers_.assign(end - start, -1);
      unanswered_ = 0;
      for (size_t i = start; i < end; ++i) {
        const FiveTuple& t = probes[i].tuple;
        if (in_flight_
                .emplace(Key{t.src_ip, t.dst_ip, t.src_port},
                         std::make_pair(probes[i].at, i - start))
                .second)
          ++unanswered_;
      }
    }
    for (size_t i = start; i < end; ++i) {
      const OracleProbe& p = probes[i];
      if (p.at < 0 || p.at >= static_cast<NodeId>(fabric_.nodes().size()) ||
          !fabric_.node(p.at).is_switch() || p.ingress < 0 ||
          p.ingress >= fabric_.num_directed_links() || fabric_.Head(p.ingress) != p.at) {
        return absl::InvalidArgumentError(absl::StrCat("probe ", i, ": bad switch or ingress"));
      }
      switches::ProbePacket packet;
      packet.ipv4_src = p.tuple.src_ip;
      packet.ipv4_dst = p.tuple.dst_ip;
      packet.udp_src = p.tuple.src_port;
      packet.udp_dst = p.tuple.dst_port;
      packet.dscp = options_.marker_dscp;
      absl::Status sent = driver_->InjectProbe(
          p.at, static_cast<switches::PortNo>(fabric_.HeadPort(p.ingress)), packet);
      if (!sent.ok()) return sent;
    }
    std::unique_lock<std::mutex> lock(mu_);
    seen_cv_.wait_for(lock, options_.timeout, [&] { return unanswered_ == 0; });
    std::copy(answers_.begin(), answers_.end(), out.begin() + static_cast<ptrdiff_t>(start));
    in_flight_.clear();
  }
  return out;
}

void DriverProbeTransport::OnProbeSeen(switches::SwitchId sw, switches::PortNo port,
                                       const switches::ProbePacket& probe) {
  if (sw < 0 || sw >= static_cast<NodeId>(fabric_.nodes().size())) return;
  const std::optional<NodeId> at = sw;
  std::optional<LinkId> link = fabric_.LinkAtPort(*at, static_cast<int32_t>(port));
  if (!link) return;
  const NodeId from = fabric_.Peer(*link, *at);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = in_flight_.find(Key{probe.ipv4_src, probe.ipv4_dst, probe.udp_src});
  if (it == in_flight_.end() || it->second.first != from) return;
  DirectedLinkId& answer = answers_[it->second.second];
  if (answer < 0) --unanswered_;
  answer = fabric_.DirectedFrom(*link, from);
  if (unanswered_ == 0) seen_cv_.notify_all();
}

}  // namespace pulse::controller
