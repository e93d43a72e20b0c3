#include "daemon/openflow_runtime.h"

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/log.h"

namespace pulse::northbound {

void ConfigureOpenFlowListener(const OpenFlowConfig& config, const topology::Fabric& fabric,
                               southbound::openflow::OpenFlowDriverOptions* options) {
  options->handshake_timeout = std::chrono::milliseconds(config.handshake_timeout_ms);
  options->max_connections_per_peer = static_cast<size_t>(config.max_connections_per_peer);
  options->max_multipart_reply_bytes = static_cast<size_t>(config.max_multipart_reply_bytes);
  options->tls_cert_file = config.tls.cert_file;
  options->tls_key_file = config.tls.key_file;
  options->tls_client_ca_file = config.tls.client_ca_file;
  if (!config.tls.cert_file.empty()) {
    Log(LogLevel::kInfo, "OpenFlow over TLS: switches need a client certificate signed by ",
        config.tls.client_ca_file);
  } else {
    Log(LogLevel::kWarning,
        "openflow: plain TCP; any host that reaches the port can claim a switch's datapath id "
        "(openflow.tls with client certificates prevents it)");
  }
  // The switches OpenFlow serves (intent `driver: openflow`, the default), node <-> datapath id.
  options->datapaths = southbound::openflow::OpenFlowDatapaths(fabric);
  if (config.allow_unknown_dpids) {
    options->allowed_dpids.reset();
    Log(LogLevel::kWarning,
        "openflow.allow_unknown_dpids: true: any switch that connects is admitted and "
        "programmed, whatever datapath id it claims");
    return;
  }
  std::vector<uint64_t> dpids;
  for (topology::NodeId id : fabric.switches()) dpids.push_back(fabric.node(id).datapath_id);
  Log(LogLevel::kInfo, "OpenFlow: admitting the ", dpids.size(),
      " datapath ids of the fabric intent; others are refused (openflow.allow_unknown_dpids)");
  options->allowed_dpids = std::move(dpids);
}

std::function<void()> OpenFlowRefusalsScrapeHook(const southbound::openflow::OpenFlowDriver* driver,
                                                 controller::MetricsRegistry* registry) {
  auto reported = std::make_shared<std::map<std::string, uint64_t>>();
  return [driver, registry, reported] {
    for (const auto& [reason, count] : driver->stats().refusals) {
      uint64_t& seen = (*reported)[reason];
      if (count > seen) {
        (void)controller::PulseMetrics(registry).AddOpenflowRefusals(
            reason, static_cast<double>(count - seen));
      }
      seen = count;
    }
  };
}

}  // namespace pulse::northbound
