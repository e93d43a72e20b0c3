// Framing of RFC 7047 JSON-RPC on a byte stream: OVSDB sends JSON values back to back with no
// length prefix or delimiter, so the reader must find where each top-level value ends.
//
// JsonStreamSplitter tracks brace/bracket depth outside strings (with escapes) and hands each
// complete top-level object or array to nlohmann::json::parse. It is a pure codec: no I/O,
// every error is a Status (garbage between values, a value that does not parse, a message
// larger than the limit, nesting deeper than the limit); after an error the stream is unusable
// and the connection must be dropped.
#ifndef PULSE_SOUTHBOUND_OVSDB_JSON_STREAM_H_
#define PULSE_SOUTHBOUND_OVSDB_JSON_STREAM_H_

#include <cstddef>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace pulse::southbound::ovsdb {

class JsonStreamSplitter {
 public:
  static constexpr size_t kDefaultMaxMessageBytes = 64u << 20;
  static constexpr int kMaxDepth = 256;

  explicit JsonStreamSplitter(size_t max_message_bytes = kDefaultMaxMessageBytes)
      : max_message_bytes_(max_message_bytes) {}

  // Appends bytes read from the stream.
  void Append(absl::string_view bytes) { buffer_.append(bytes.data(), bytes.size()); }

  // The next complete value, nullopt if more bytes are needed, or an error (sticky).
  absl::StatusOr<std::optional<nlohmann::json>> Next();

  // Bytes buffered but not yet returned.
  size_t buffered_bytes() const { return buffer_.size() - start_; }

 private:
  std::string buffer_;
  size_t start_ = 0;  // start of the value being scanned
  size_t scan_ = 0;   // bytes of it already scanned (resumes across Append calls)
  int depth_ = 0;
  bool in_string_ = false;
  bool escape_ = false;
  absl::Status error_;
  size_t max_message_bytes_;
};

}  // namespace pulse::southbound::ovsdb

#endif  // PULSE_SOUTHBOUND_OVSDB_JSON_STREAM_H_
