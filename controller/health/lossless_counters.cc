#include "controller/health/lossless_counters.h"

#include "absl/strings/str_cat.h"

namespace pulse::controller {
namespace {

// Subtracts a whole array; false if any counter went backwards.
bool Sub(const PerPriority& now, const PerPriority& before, PerPriority& out) {
  for (int i = 0; i < kLosslessPriorities; ++i) {
    if (now[i] < before[i]) return false;
    out[i] = now[i] - before[i];
  }
  return true;
}

}  // namespace

absl::StatusOr<std::optional<LosslessPortDelta>> LosslessCounters::Ingest(
    const LosslessCounterSample& sample) {
  auto it = last_.find(sample.key);
  if (it == last_.end()) {
    last_.emplace(sample.key, sample);
    return std::optional<LosslessPortDelta>();
  }
  const LosslessCounterSample& before = it->second;
  if (sample.time_ms <= before.time_ms) {
    return absl::InvalidArgumentError(absl::StrCat(
        "lossless counters of switch node ", sample.key.node, " port ", sample.key.port,
        ": sample time ", sample.time_ms, " ms is not after ", before.time_ms, " ms"));
  }
  LosslessPortDelta d;
  d.key = sample.key;
  d.time_ms = sample.time_ms;
  d.interval_ms = sample.time_ms - before.time_ms;
  d.watermark_bytes = sample.watermark_bytes;
  bool forward =
      Sub(sample.pfc_rx_frames, before.pfc_rx_frames, d.pfc_rx_frames) &&
      Sub(sample.pfc_tx_frames, before.pfc_tx_frames, d.pfc_tx_frames) &&
      Sub(sample.queue_tx_packets, before.queue_tx_packets, d.queue_tx_packets) &&
      Sub(sample.ecn_marked_packets, before.ecn_marked_packets, d.ecn_marked_packets) &&
      Sub(sample.wred_dropped_packets, before.wred_dropped_packets, d.wred_dropped_packets);
  const uint64_t packets = sample.rx_packets + sample.tx_packets;
  const uint64_t packets_before = before.rx_packets + before.tx_packets;
  const uint64_t drops = sample.rx_drops + sample.tx_drops;
  const uint64_t drops_before = before.rx_drops + before.tx_drops;
  const uint64_t errors = sample.rx_errors + sample.tx_errors;
  const uint64_t errors_before = before.rx_errors + before.tx_errors;
  forward = forward && sample.rx_packets >= before.rx_packets &&
            sample.tx_packets >= before.tx_packets && sample.rx_drops >= before.rx_drops &&
            sample.tx_drops >= before.tx_drops && sample.rx_errors >= before.rx_errors &&
            sample.tx_errors >= before.tx_errors;
  it->second = sample;
  if (!forward) {
    ++resets_;
    return std::optional<LosslessPortDelta>();
  }
  d.packets = packets - packets_before;
  d.drops = drops - drops_before;
  d.errors = errors - errors_before;
  return std::optional<LosslessPortDelta>(d);
}

}  // namespace pulse::controller
