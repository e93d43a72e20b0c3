// Encode/decode throughput of a typical fabric FLOW_MOD (5-tuple RoCEv2 match, set_queue,
// Nicira multipath + resubmit, group). Prints messages per second; no assertions.
//   usage: pulse_openflow_bench [iterations]

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/bench_args.h"
#include "southbound/openflow/codec.h"

using namespace pulse::openflow;

namespace {

Message FabricFlowMod(uint32_t i) {
  FlowMod f;
  f.priority = 2000;
  f.cookie = 0x5055'4c53'0000'0000ull | i;
  f.match.Add(OxmField::kInPort, 1 + i % 8)
      .Add(OxmField::kEthType, 0x0800)
      .AddMasked(OxmField::kIpv4Src, 0x0a000000 | (i & 0xffff), 0xffffffff)
      .AddMasked(OxmField::kIpv4Dst, 0x0a010000 | (i & 0xff00), 0xffffff00)
      .Add(OxmField::kIpProto, 17)
      .Add(OxmField::kUdpSrc, 49152 + i % 16384)
      .Add(OxmField::kUdpDst, 4791)
      .Add(OxmField::kIpDscp, 26);
  NxMultipathAction mp;
  mp.n_links = 4;
  f.instructions.push_back(ApplyActionsInstruction{
      {SetQueueAction{3}, mp, NxResubmitTableAction{0xfff8, 1}, GroupAction{10 + i % 4}}});
  return Message{i, f};
}

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (auto exit_code =
          pulse::bench::CheckArgs(argc, argv, {}, 1, "[ITERATIONS]   (default 1000000)")) {
    return *exit_code;
  }
  long iterations = argc > 1 ? std::atol(argv[1]) : 1000000;
  if (iterations <= 0) iterations = 1000000;
  constexpr uint32_t kDistinct = 1024;
  std::vector<Message> messages;
  for (uint32_t i = 0; i < kDistinct; ++i) messages.push_back(FabricFlowMod(i));

  size_t bytes = 0;
  std::vector<std::vector<uint8_t>> wire(kDistinct);
  auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < iterations; ++i) {
    auto encoded = Encode(messages[i % kDistinct]);
    if (!encoded.ok()) {
      std::fprintf(stderr, "encode failed: %s\n", std::string(encoded.status().message()).c_str());
      return 1;
    }
    bytes += encoded->size();
    if (i < kDistinct) wire[i] = std::move(*encoded);
  }
  double encode_s = Seconds(std::chrono::steady_clock::now() - start);

  size_t fields = 0;
  start = std::chrono::steady_clock::now();
  for (long i = 0; i < iterations; ++i) {
    auto decoded = Decode(wire[i % kDistinct]);
    if (!decoded.ok()) {
      std::fprintf(stderr, "decode failed: %s\n", std::string(decoded.status().message()).c_str());
      return 1;
    }
    fields += std::get<FlowMod>(decoded->body).match.fields.size();
  }
  double decode_s = Seconds(std::chrono::steady_clock::now() - start);

  std::printf("openflow_bench: FLOW_MOD of %zu bytes, %ld iterations (%zu match fields seen)\n",
              wire[0].size(), iterations, fields);
  std::printf("encode: %.0f messages/s (%.1f MB/s)\n", iterations / encode_s,
              bytes / encode_s / 1e6);
  std::printf("decode: %.0f messages/s (%.1f MB/s)\n", iterations / decode_s,
              bytes / decode_s / 1e6);
  return 0;
}
