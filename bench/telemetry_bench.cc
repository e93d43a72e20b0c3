// Telemetry throughput on one core: counter samples ingested per second (target >= 1 million) and
// sFlow datagrams decoded per second. Prints one line per case: `case=<name> <figure>=<n> ...`.
//
// usage: pulse_telemetry_bench [samples (default 5000000)]
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "bench/bench_args.h"
#include "controller/telemetry/telemetry.h"
#include "southbound/sflow/decoder.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Round-robin over `ports` ports of 100 switches, each polled once per simulated second, with
// counters growing at about 40 Gb/s so every sample after the first computes a rate.
void BenchCounterIngest(int64_t samples, uint32_t ports) {
  pulse::controller::Telemetry telemetry;
  pulse::controller::PortCounterSample s;
  s.speed_bps = 100'000'000'000;
  int64_t rates = 0;
  const auto start = Clock::now();
  for (int64_t i = 0; i < samples; ++i) {
    const int64_t round = i / ports;
    const uint32_t port = static_cast<uint32_t>(i % ports);
    s.key = {static_cast<pulse::switches::SwitchId>(1 + port % 100), port / 100 + 1};
    s.time_ms = round * 1000;
    s.tx_bytes = static_cast<uint64_t>(round) * 5'000'000'000ull + port;
    s.rx_bytes = s.tx_bytes / 2;
    s.tx_packets = s.tx_bytes / 1000;
    s.rx_packets = s.rx_bytes / 1000;
    absl::StatusOr<pulse::controller::IngestOutcome> outcome = telemetry.Ingest(s);
    if (outcome.ok() && *outcome == pulse::controller::IngestOutcome::kRate) ++rates;
  }
  const double elapsed = Seconds(start);
  std::printf(
      "case=counter_ingest samples_per_s=%.0f samples=%lld ports=%u rates=%lld seconds=%.3f\n",
      static_cast<double>(samples) / elapsed, static_cast<long long>(samples), ports,
      static_cast<long long>(rates), elapsed);
}

// A datagram shaped like Open vSwitch's: 4 interface counter samples and 4 flow samples with
// 128-byte headers.
std::vector<uint8_t> TypicalDatagram() {
  using namespace pulse::southbound::sflow;
  Datagram d;
  d.agent_address = {10, 0, 0, 1};
  for (uint32_t i = 0; i < 4; ++i) {
    CounterSample c;
    c.source_id_index = i + 1;
    InterfaceCounters ic;
    ic.if_index = i + 1;
    ic.in_octets = 1'000'000ull * i;
    c.interface = ic;
    d.counter_samples.push_back(c);
    FlowSample f;
    f.source_id_index = i + 1;
    f.sampling_rate = 64;
    SampledHeader h;
    h.header_protocol = kHeaderProtocolEthernet;
    h.frame_length_bytes = 1500;
    h.header.assign(128, 0);
    h.header[12] = 0x08;
    h.header[14] = 0x45;
    h.header[23] = 17;
    f.header = h;
    d.flow_samples.push_back(f);
  }
  return EncodeDatagram(d);
}

void BenchSflowDecode(int64_t datagrams) {
  const std::vector<uint8_t> bytes = TypicalDatagram();
  int64_t samples = 0;
  const auto start = Clock::now();
  for (int64_t i = 0; i < datagrams; ++i) {
    absl::StatusOr<pulse::southbound::sflow::Datagram> d =
        pulse::southbound::sflow::DecodeDatagram(bytes.data(), bytes.size());
    if (!d.ok()) {
      std::fprintf(stderr, "decode failed: %s\n", d.status().ToString().c_str());
      std::exit(1);
    }
    samples += static_cast<int64_t>(d->counter_samples.size() + d->flow_samples.size());
  }
  const double elapsed = Seconds(start);
  std::printf(
      "case=sflow_decode datagrams_per_s=%.0f samples_per_s=%.0f datagram_bytes=%zu "
      "datagrams=%lld seconds=%.3f\n",
      static_cast<double>(datagrams) / elapsed, static_cast<double>(samples) / elapsed,
      bytes.size(), static_cast<long long>(datagrams), elapsed);
}

}  // namespace

int main(int argc, char** argv) {
  if (auto exit_code =
          pulse::bench::CheckArgs(argc, argv, {}, 1, "[SAMPLES]   (default 5000000)")) {
    return *exit_code;
  }
  const int64_t samples = argc > 1 ? std::atoll(argv[1]) : 5'000'000;
  if (samples <= 0) {
    std::fprintf(stderr, "usage: %s [samples > 0]\n", argv[0]);
    return 2;
  }
  BenchCounterIngest(samples, 1000);
  BenchCounterIngest(samples, 10'000);
  BenchSflowDecode(samples / 10);
  return 0;
}
