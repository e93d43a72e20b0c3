// Telemetry: port counters -> rates, utilisation, bounded history, and load attribution.
//
// Counter samples come from OpenFlow port stats, sFlow interface counters or SONiC's COUNTERS_DB,
// already translated by the southbound into (fabric node, fabric port number, counters, time).
// Everything here is a pure function of (state, sample): no I/O, no clock reads, so wrap and
// restart handling is unit tested and the daemon owns the thread.
//
// Counters are cumulative and may be 32-bit (sFlow packet counters, old agents) or 64-bit. A
// counter that goes backwards is a wrap only if the implied rate is plausible for the port;
// otherwise the switch (or the port) restarted and the sample only re-bases the counters. Either
// way no negative rate and no huge spike is ever produced.
#ifndef PULSE_CONTROLLER_TELEMETRY_TELEMETRY_H_
#define PULSE_CONTROLLER_TELEMETRY_TELEMETRY_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "controller/paths/paths.h"
#include "controller/switches/counters.h"
#include "topology/fabric.h"

namespace pulse::controller {

// Ports and counter samples in the switch contract's vocabulary (controller/switches/counters.h).
using switches::PortCounterSample;
using switches::PortKey;

// Rates over the interval ending at `time_ms`.
struct PortRates {
  int64_t time_ms = 0;
  double rx_bps = 0;
  double tx_bps = 0;
  double rx_pps = 0;
  double tx_pps = 0;
  double rx_drops_per_s = 0;
  double tx_drops_per_s = 0;
  double rx_errors_per_s = 0;
  double tx_errors_per_s = 0;
  double rx_utilisation = 0;  // rx_bps / capacity; 0 when the capacity is unknown
  double tx_utilisation = 0;
};

// What ingesting one sample did.
enum class IngestOutcome {
  kFirst,  // first sample of the port: counters recorded, no rate yet
  kRate,   // a rate was computed (possibly across a counter wrap)
  kReset,  // counters went backwards implausibly (restart): re-based, no rate this interval
};

// Fixed-capacity ring buffer keeping the newest `capacity` values.
template <typename T>
class RingBuffer {
 public:
  explicit RingBuffer(size_t capacity = 0) : items_(capacity) {}
  void Push(const T& value) {
    if (items_.empty()) return;
    items_[next_] = value;
    next_ = (next_ + 1) % items_.size();
    if (size_ < items_.size()) ++size_;
  }
  size_t size() const { return size_; }
  size_t capacity() const { return items_.size(); }
  // i = 0 is the oldest retained value, size() - 1 the newest.
  const T& at(size_t i) const {
    return items_[(next_ + items_.size() - size_ + i) % items_.size()];
  }
  const T& newest() const { return at(size_ - 1); }
  std::vector<T> ToVector() const {
    std::vector<T> out;
    out.reserve(size_);
    for (size_t i = 0; i < size_; ++i) out.push_back(at(i));
    return out;
  }

 private:
  std::vector<T> items_;
  size_t next_ = 0;
  size_t size_ = 0;
};

// Delta of a cumulative counter of `bits` width from `previous` to `current`, treating a decrease
// as one wrap. Returns nullopt when `bits` is not 32 or 64 or `current` does not fit in it.
std::optional<uint64_t> CounterDelta(uint64_t previous, uint64_t current, int bits);

struct TelemetryOptions {
  size_t history_samples = 120;  // rates kept per port (2 min at 1 s polling)
  // A wrap is believed only if it implies at most capacity * this factor; above, it is a reset.
  double wrap_plausibility_factor = 1.5;
  // Used as the capacity for wrap plausibility when neither the fabric nor the sample knows the
  // port speed.
  int64_t default_max_bps = 400'000'000'000;
};

// Per-port counter state and rate history, optionally mapped onto a fabric's directed links.
// Not thread-safe: owned by the controller's state thread; copy to snapshot.
class Telemetry {
 public:
  // With a fabric, ports of its switches resolve to directed links (for capacity, utilisation
  // per link and DirectedLinkUtilisation()); without one, capacity comes from samples only. A
  // key naming no switch of the fabric keeps rates but maps to no link.
  explicit Telemetry(TelemetryOptions options = {},
                     std::shared_ptr<const topology::Fabric> fabric = nullptr);

  // Ingests one sample. InvalidArgument (naming the port) when its time is not after the previous
  // sample's, or its counter widths are not 32/64; the state is then unchanged.
  absl::StatusOr<IngestOutcome> Ingest(const PortCounterSample& sample);

  // Latest rates of a port (nullptr until two samples arrived) and its history.
  const PortRates* LatestRates(const PortKey& key) const;
  const RingBuffer<PortRates>* History(const PortKey& key) const;
  // Capacity used for a port: the fabric link's, else the sample's speed, else 0.
  int64_t CapacityBps(const PortKey& key) const;

  // Measured load and utilisation per directed link of the fabric (indexed by DirectedLinkId),
  // from the switch ports' latest rates: a switch port's tx is the channel leaving the switch,
  // its rx the channel arriving. When both ends of a link are switches, the tx side wins.
  // Links without data are 0. Empty without a fabric.
  std::vector<double> DirectedLinkLoadBps() const;
  std::vector<double> DirectedLinkUtilisation() const;
  // Which directed links have data: a port at either end has reported rates. Empty without a
  // fabric. Lets readers tell "idle" (0 measured) from "not measured" (0 by default above).
  std::vector<bool> DirectedLinkMeasured() const;

  size_t num_ports() const { return ports_.size(); }
  uint64_t resets() const { return resets_; }  // restarts detected so far

 private:
  struct PortState {
    PortCounterSample last;
    bool has_rates = false;
    PortRates latest;
    RingBuffer<PortRates> history;
    int64_t capacity_bps = 0;
    topology::DirectedLinkId tx_link = -1;  // channel leaving the switch through this port
    topology::DirectedLinkId rx_link = -1;  // channel arriving at the switch on this port
  };
  PortState& StateFor(const PortCounterSample& sample);

  TelemetryOptions options_;
  std::shared_ptr<const topology::Fabric> fabric_;
  absl::flat_hash_map<PortKey, PortState> ports_;
  uint64_t resets_ = 0;
};

// ---- Attribution -------------------------------------------------------------------------------

// A flow with its path and measured rate (from flow stats, or sFlow samples via FlowRateEstimator).
struct MeasuredFlowRate {
  std::string job_id;  // empty for traffic Pulse did not place
  Path path;
  double rate_bps = 0;
};

// Load per directed link, in total and per job.
struct LoadAttribution {
  std::vector<double> link_load_bps;  // indexed by DirectedLinkId
  std::map<std::string, std::map<topology::DirectedLinkId, double>> job_link_load_bps;
  std::map<std::string, double> job_rate_bps;  // sum of the job's flow rates
};

// Sums flow rates onto the links of their paths. InvalidArgument for a hop outside the fabric or
// a negative rate (naming the flow's index).
absl::StatusOr<LoadAttribution> AttributeLoad(const topology::Fabric& fabric,
                                              const std::vector<MeasuredFlowRate>& flows);

// ---- Sampled flow rates ------------------------------------------------------------------------

using switches::FlowKey;  // controller/switches/counters.h

// Estimates per-flow rates from packet samples: each sample of a frame of B bytes taken at 1-in-N
// stands for N * B bytes. Rates are averaged over a sliding window of whole buckets. Samples of one
// packet seen by several switches must be fed from one observation point per flow (e.g. only the
// ingress leaf), or they are counted once per switch.
class FlowRateEstimator {
 public:
  explicit FlowRateEstimator(int64_t window_ms = 5000, int64_t bucket_ms = 500);
  void AddSample(const FlowKey& flow, uint32_t frame_bytes, uint32_t sampling_rate, int64_t now_ms);
  // Estimated rate of every flow seen within the window ending at `now_ms`; flows whose samples
  // are all older are forgotten.
  absl::flat_hash_map<FlowKey, double> RatesBps(int64_t now_ms);

 private:
  struct Bucket {
    int64_t start_ms = 0;
    double bytes = 0;
  };
  int64_t window_ms_;
  int64_t bucket_ms_;
  absl::flat_hash_map<FlowKey, std::vector<Bucket>> flows_;
};

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_TELEMETRY_TELEMETRY_H_
