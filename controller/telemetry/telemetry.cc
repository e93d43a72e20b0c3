#include "controller/telemetry/telemetry.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"

namespace pulse::controller {
namespace {

// Smallest Ethernet frame: bounds the packet rate a port can plausibly carry.
constexpr double kMinFrameBits = 64 * 8;

// True when `node` is a switch of `fabric` (keys come from drivers: checked, never trusted).
bool IsSwitchOf(const topology::Fabric& fabric, switches::SwitchId node) {
  return node >= 0 && static_cast<size_t>(node) < fabric.nodes().size() &&
         fabric.node(node).is_switch();
}

// "leaf-0 port 3" when the fabric knows the switch, else "switch node 7 port 3".
std::string DescribePort(const topology::Fabric* fabric, const PortKey& key) {
  if (fabric != nullptr && IsSwitchOf(*fabric, key.node)) {
    return absl::StrCat(fabric->node(key.node).name, " port ", key.port);
  }
  return absl::StrCat("switch node ", key.node, " port ", key.port);
}

bool FitsIn(uint64_t value, int bits) {
  return bits == 64 || value <= std::numeric_limits<uint32_t>::max();
}

}  // namespace

std::optional<uint64_t> CounterDelta(uint64_t previous, uint64_t current, int bits) {
  if (bits != 32 && bits != 64) return std::nullopt;
  if (!FitsIn(previous, bits) || !FitsIn(current, bits)) return std::nullopt;
  if (current >= previous) return current - previous;
  if (bits == 64) return current - previous;  // unsigned arithmetic wraps modulo 2^64
  return (uint64_t{1} << 32) - previous + current;
}

Telemetry::Telemetry(TelemetryOptions options, std::shared_ptr<const topology::Fabric> fabric)
    : options_(options), fabric_(std::move(fabric)) {}

Telemetry::PortState& Telemetry::StateFor(const PortCounterSample& sample) {
  auto [it, inserted] = ports_.try_emplace(sample.key);
  PortState& state = it->second;
  if (inserted) {
    state.history = RingBuffer<PortRates>(options_.history_samples);
    if (fabric_ != nullptr) {
      const topology::NodeId node = sample.key.node;
      if (IsSwitchOf(*fabric_, node)) {
        std::optional<topology::LinkId> link =
            fabric_->LinkAtPort(node, static_cast<int32_t>(sample.key.port));
        if (link.has_value()) {
          state.tx_link = fabric_->DirectedFrom(*link, node);
          state.rx_link = state.tx_link ^ 1;
          state.capacity_bps = fabric_->link(*link).capacity_bps;
        }
      }
    }
  }
  if (state.tx_link < 0 && sample.speed_bps > 0) state.capacity_bps = sample.speed_bps;
  return state;
}

absl::StatusOr<IngestOutcome> Telemetry::Ingest(const PortCounterSample& s) {
  for (int bits : {s.byte_counter_bits, s.packet_counter_bits}) {
    if (bits != 32 && bits != 64) {
      return absl::InvalidArgumentError(
          absl::StrCat("telemetry: ", DescribePort(fabric_.get(), s.key), ": counter width ", bits,
                       " bits, expected 32 or 64"));
    }
  }
  if (!FitsIn(s.rx_bytes, s.byte_counter_bits) || !FitsIn(s.tx_bytes, s.byte_counter_bits) ||
      !FitsIn(s.rx_packets, s.packet_counter_bits) ||
      !FitsIn(s.tx_packets, s.packet_counter_bits) || !FitsIn(s.rx_drops, s.packet_counter_bits) ||
      !FitsIn(s.tx_drops, s.packet_counter_bits) || !FitsIn(s.rx_errors, s.packet_counter_bits) ||
      !FitsIn(s.tx_errors, s.packet_counter_bits)) {
    return absl::InvalidArgumentError(
        absl::StrCat("telemetry: ", DescribePort(fabric_.get(), s.key),
                     ": counter value exceeds its declared width"));
  }
  auto found = ports_.find(s.key);
  if (found != ports_.end() && s.time_ms <= found->second.last.time_ms) {
    return absl::InvalidArgumentError(
        absl::StrCat("telemetry: ", DescribePort(fabric_.get(), s.key), ": sample time ", s.time_ms,
                     " ms is not after the previous sample's ", found->second.last.time_ms, " ms"));
  }
  const bool first = found == ports_.end();
  PortState& state = StateFor(s);
  if (first) {
    state.last = s;
    return IngestOutcome::kFirst;
  }
  const PortCounterSample& p = state.last;
  const double dt_s = static_cast<double>(s.time_ms - p.time_ms) / 1000.0;
  const double max_bps =
      static_cast<double>(state.capacity_bps > 0 ? state.capacity_bps : options_.default_max_bps) *
      options_.wrap_plausibility_factor;
  const double max_pps = max_bps / kMinFrameBits;

  // Each counter's per-second rate, or a reset verdict when a decrease is implausible as a wrap.
  bool reset = false;
  auto rate = [&](uint64_t prev, uint64_t cur, int bits, double scale, double limit) -> double {
    const std::optional<uint64_t> delta = CounterDelta(prev, cur, bits);
    if (!delta.has_value()) {
      reset = true;
      return 0;
    }
    const double per_s = static_cast<double>(*delta) * scale / dt_s;
    if (cur < prev && per_s > limit) reset = true;
    return per_s;
  };
  PortRates r;
  r.time_ms = s.time_ms;
  r.rx_bps = rate(p.rx_bytes, s.rx_bytes, s.byte_counter_bits, 8, max_bps);
  r.tx_bps = rate(p.tx_bytes, s.tx_bytes, s.byte_counter_bits, 8, max_bps);
  r.rx_pps = rate(p.rx_packets, s.rx_packets, s.packet_counter_bits, 1, max_pps);
  r.tx_pps = rate(p.tx_packets, s.tx_packets, s.packet_counter_bits, 1, max_pps);
  r.rx_drops_per_s = rate(p.rx_drops, s.rx_drops, s.packet_counter_bits, 1, max_pps);
  r.tx_drops_per_s = rate(p.tx_drops, s.tx_drops, s.packet_counter_bits, 1, max_pps);
  r.rx_errors_per_s = rate(p.rx_errors, s.rx_errors, s.packet_counter_bits, 1, max_pps);
  r.tx_errors_per_s = rate(p.tx_errors, s.tx_errors, s.packet_counter_bits, 1, max_pps);
  state.last = s;
  if (reset) {
    ++resets_;
    return IngestOutcome::kReset;
  }
  if (state.capacity_bps > 0) {
    r.rx_utilisation = r.rx_bps / static_cast<double>(state.capacity_bps);
    r.tx_utilisation = r.tx_bps / static_cast<double>(state.capacity_bps);
  }
  state.latest = r;
  state.has_rates = true;
  state.history.Push(r);
  return IngestOutcome::kRate;
}

const PortRates* Telemetry::LatestRates(const PortKey& key) const {
  auto it = ports_.find(key);
  if (it == ports_.end() || !it->second.has_rates) return nullptr;
  return &it->second.latest;
}

const RingBuffer<PortRates>* Telemetry::History(const PortKey& key) const {
  auto it = ports_.find(key);
  return it == ports_.end() ? nullptr : &it->second.history;
}

int64_t Telemetry::CapacityBps(const PortKey& key) const {
  auto it = ports_.find(key);
  return it == ports_.end() ? 0 : it->second.capacity_bps;
}

std::vector<double> Telemetry::DirectedLinkLoadBps() const {
  if (fabric_ == nullptr) return {};
  std::vector<double> load(fabric_->num_directed_links(), 0.0);
  // rx first, then tx overwrites: the sender's count is the one that includes what the receiver
  // may have dropped.
  for (const auto& [key, state] : ports_) {
    if (state.has_rates && state.rx_link >= 0) load[state.rx_link] = state.latest.rx_bps;
  }
  for (const auto& [key, state] : ports_) {
    if (state.has_rates && state.tx_link >= 0) load[state.tx_link] = state.latest.tx_bps;
  }
  return load;
}

std::vector<bool> Telemetry::DirectedLinkMeasured() const {
  if (fabric_ == nullptr) return {};
  std::vector<bool> measured(fabric_->num_directed_links(), false);
  for (const auto& [key, state] : ports_) {
    if (!state.has_rates) continue;
    if (state.rx_link >= 0) measured[state.rx_link] = true;
    if (state.tx_link >= 0) measured[state.tx_link] = true;
  }
  return measured;
}

std::vector<double> Telemetry::DirectedLinkUtilisation() const {
  std::vector<double> load = DirectedLinkLoadBps();
  for (size_t d = 0; d < load.size(); ++d) {
    const int64_t capacity =
        fabric_->link(topology::Fabric::LinkOf(static_cast<topology::DirectedLinkId>(d)))
            .capacity_bps;
    load[d] = capacity > 0 ? load[d] / static_cast<double>(capacity) : 0.0;
  }
  return load;
}

absl::StatusOr<LoadAttribution> AttributeLoad(const topology::Fabric& fabric,
                                              const std::vector<MeasuredFlowRate>& flows) {
  LoadAttribution out;
  out.link_load_bps.assign(fabric.num_directed_links(), 0.0);
  for (size_t i = 0; i < flows.size(); ++i) {
    const MeasuredFlowRate& f = flows[i];
    if (!(f.rate_bps >= 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("attribution: flow ", i, " of job '", f.job_id, "' has rate ", f.rate_bps));
    }
    for (topology::DirectedLinkId hop : f.path.hops) {
      if (hop < 0 || hop >= fabric.num_directed_links()) {
        return absl::InvalidArgumentError(absl::StrCat("attribution: flow ", i, " of job '",
                                                       f.job_id, "' crosses unknown link ", hop));
      }
    }
    for (topology::DirectedLinkId hop : f.path.hops) {
      out.link_load_bps[hop] += f.rate_bps;
      out.job_link_load_bps[f.job_id][hop] += f.rate_bps;
    }
    out.job_rate_bps[f.job_id] += f.rate_bps;
  }
  return out;
}

FlowRateEstimator::FlowRateEstimator(int64_t window_ms, int64_t bucket_ms)
    : window_ms_(std::max<int64_t>(window_ms, 1)),
      bucket_ms_(std::clamp<int64_t>(bucket_ms, 1, std::max<int64_t>(window_ms, 1))) {}

void FlowRateEstimator::AddSample(const FlowKey& flow, uint32_t frame_bytes, uint32_t sampling_rate,
                                  int64_t now_ms) {
  const int64_t start = now_ms - ((now_ms % bucket_ms_) + bucket_ms_) % bucket_ms_;
  std::vector<Bucket>& buckets = flows_[flow];
  const double bytes = static_cast<double>(frame_bytes) * std::max<uint32_t>(sampling_rate, 1);
  if (!buckets.empty() && buckets.back().start_ms == start) {
    buckets.back().bytes += bytes;
  } else {
    buckets.push_back({start, bytes});
  }
  // Keep the vector bounded even if RatesBps is never called.
  const int64_t oldest = now_ms - window_ms_;
  auto keep = std::find_if(buckets.begin(), buckets.end(),
                           [&](const Bucket& b) { return b.start_ms + bucket_ms_ > oldest; });
  buckets.erase(buckets.begin(), keep);
}

absl::flat_hash_map<FlowKey, double> FlowRateEstimator::RatesBps(int64_t now_ms) {
  absl::flat_hash_map<FlowKey, double> rates;
  const int64_t oldest = now_ms - window_ms_;
  for (auto it = flows_.begin(); it != flows_.end();) {
    double bytes = 0;
    for (const Bucket& b : it->second) {
      if (b.start_ms > oldest && b.start_ms <= now_ms) bytes += b.bytes;
    }
    if (bytes == 0) {
      flows_.erase(it++);
      continue;
    }
    rates[it->first] = bytes * 8.0 * 1000.0 / static_cast<double>(window_ms_);
    ++it;
  }
  return rates;
}

}  // namespace pulse::controller
