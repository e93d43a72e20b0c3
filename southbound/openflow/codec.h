#ifndef PULSE_SOUTHBOUND_OPENFLOW_CODEC_H_
#define PULSE_SOUTHBOUND_OPENFLOW_CODEC_H_

// OpenFlow 1.3 wire codec: pure functions between bytes and the typed messages of messages.h.
// No I/O. Every read is bounds-checked against the span it was given and every length field is
// validated; malformed input yields an absl::Status naming the field and its byte offset.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "southbound/openflow/messages.h"

namespace pulse::openflow {

inline constexpr size_t kHeaderBytes = 8;

// Framing: given the start of a byte stream, the length of the first complete message, 0 if
// more bytes are needed, or an error if the header cannot start a message (version outside
// 1..6 or length < 8). Versions other than 1.3 are framed so a HELLO can be answered.
absl::StatusOr<size_t> NextMessageLength(absl::Span<const uint8_t> stream);

// Decodes exactly one message occupying all of `bytes`. Messages of types the codec does not
// model are rejected with kUnimplemented; malformed ones with kInvalidArgument.
absl::StatusOr<Message> Decode(absl::Span<const uint8_t> bytes);

// Encodes a message (OpenFlow 1.3 header; HELLO uses its header_version). Fails only if a length
// does not fit its wire field.
absl::StatusOr<std::vector<uint8_t>> Encode(const Message& message);

// Helpers for building the messages the controller sends most.
Message MakeHello(uint32_t xid);
Message MakeHelloFailed(uint32_t xid, const std::string& why);

}  // namespace pulse::openflow

#endif  // PULSE_SOUTHBOUND_OPENFLOW_CODEC_H_
