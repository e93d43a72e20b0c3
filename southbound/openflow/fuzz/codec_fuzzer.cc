// libFuzzer target for the OpenFlow codec: arbitrary bytes go through framing and decoding;
// anything that decodes must re-encode, re-decode, and re-encode to the same bytes.
// Built only with -DPULSE_FUZZ=ON and clang (see tests/southbound/openflow/run_fuzzer.sh).

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "southbound/openflow/codec.h"

using pulse::openflow::Decode;
using pulse::openflow::Encode;
using pulse::openflow::NextMessageLength;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::Span<const uint8_t> input(data, size);
  // Framing over the whole stream, then each framed message.
  size_t offset = 0;
  while (offset < size) {
    auto len = NextMessageLength(input.subspan(offset));
    if (!len.ok() || *len == 0) break;
    (void)Decode(input.subspan(offset, *len));
    offset += *len;
  }
  // The whole input as one message.
  auto decoded = Decode(input);
  if (!decoded.ok()) return 0;
  auto encoded = Encode(*decoded);
  if (!encoded.ok()) std::abort();  // what decoded must encode
  auto again = Decode(*encoded);
  if (!again.ok()) std::abort();  // and what we encode must decode
  auto encoded_again = Encode(*again);
  if (!encoded_again.ok() || *encoded_again != *encoded) std::abort();  // stable
  return 0;
}
