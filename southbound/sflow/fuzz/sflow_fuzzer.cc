// libFuzzer entry point for the sFlow decoder: any byte string must decode or return an error,
// never crash or read out of bounds (run under ASan/UBSan). A decoded datagram must re-encode and
// decode to the same sample counts, which catches decoder/encoder disagreements.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "southbound/sflow/decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pulse::southbound::sflow;
  absl::StatusOr<Datagram> d = DecodeDatagram(data, size);
  if (!d.ok()) return 0;
  const std::vector<uint8_t> again = EncodeDatagram(*d, /*expanded=*/true);
  absl::StatusOr<Datagram> round = DecodeDatagram(again.data(), again.size());
  if (!round.ok() || round->flow_samples.size() != d->flow_samples.size() ||
      round->counter_samples.size() != d->counter_samples.size()) {
    abort();
  }
  return 0;
}
