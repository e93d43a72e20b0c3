// The path oracle's probes over the switch contract (controller/switches/switch_driver.h): each
// probe is injected with SwitchDriver::InjectProbe at its switch's ingress port, and the
// sightings the driver reports (FabricEventSink::OnProbeSeen, forwarded here by whoever owns the
// sink) are mapped back to the fabric channel the probe left by. Probes go out in batches (at
// most batch_size in flight, so a switch's packet-in queue is not flooded) and a batch waits at
// most `timeout` for its sightings; those not seen count as lost (-1).
#ifndef PULSE_CONTROLLER_ORACLE_PROBE_TRANSPORT_H_
#define PULSE_CONTROLLER_ORACLE_PROBE_TRANSPORT_H_

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "controller/oracle/path_oracle.h"
#include "controller/switches/switch_driver.h"
#include "topology/fabric.h"

namespace pulse::controller {

struct DriverProbeTransportOptions {
  uint8_t marker_dscp = 63;  // OracleOptions::marker_dscp
  size_t batch_size = 64;
  std::chrono::milliseconds timeout{1000};
};

class DriverProbeTransport : public ProbeTransport {
 public:
  // `fabric` and `driver` must outlive the transport. Switches are addressed by fabric node (the
  // driver maps nodes to its own ids).
  DriverProbeTransport(const Fabric& fabric, switches::SwitchDriver* driver,
                       DriverProbeTransportOptions options = {});

  absl::StatusOr<std::vector<DirectedLinkId>> Run(const std::vector<OracleProbe>& probes) override;

  // A probe came back to the controller at `port` of switch `sw` (FabricEventSink::OnProbeSeen).
  // Any thread. Sightings of no probe in flight are ignored.
  void OnProbeSeen(switches::SwitchId sw, switches::PortNo port,
                   const switches::ProbePacket& probe);

 private:
  using Key = std::tuple<uint32_t, uint32_t, uint16_t>;  // src, dst, UDP source port

  const Fabric& fabric_;
  switches::SwitchDriver* driver_;
  DriverProbeTransportOptions options_;
  std::mutex mu_;
  std::condition_variable seen_cv_;
  // Probes in flight: key -> (switch injected at, index in the batch).
  std::map<Key, std::pair<NodeId, size_t>> in_flight_;
  std::vector<DirectedLinkId> answers_;  // of the batch in flight
  size_t unanswered_ = 0;
};

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_ORACLE_PROBE_TRANSPORT_H_
