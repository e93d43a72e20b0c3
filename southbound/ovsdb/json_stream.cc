#include "southbound/ovsdb/json_stream.h"

#include "absl/strings/str_cat.h"

namespace pulse::southbound::ovsdb {

absl::StatusOr<std::optional<nlohmann::json>> JsonStreamSplitter::Next() {
  if (!error_.ok()) return error_;
  // Skip whitespace between values.
  if (depth_ == 0 && scan_ == 0) {
    while (start_ < buffer_.size() && (buffer_[start_] == ' ' || buffer_[start_] == '\n' ||
                                       buffer_[start_] == '\r' || buffer_[start_] == '\t')) {
      ++start_;
    }
    if (start_ == buffer_.size()) {
      buffer_.clear();
      start_ = 0;
      return std::optional<nlohmann::json>();
    }
    const char c = buffer_[start_];
    if (c != '{' && c != '[') {
      error_ = absl::DataLossError(
          absl::StrCat("ovsdb stream: expected '{' or '[' at the start of a message, got byte 0x",
                       absl::Hex(static_cast<unsigned char>(c))));
      return error_;
    }
  }
  size_t i = start_ + scan_;
  for (; i < buffer_.size(); ++i) {
    const char c = buffer_[i];
    if (in_string_) {
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
      continue;
    }
    if (c == '"') {
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      if (++depth_ > kMaxDepth) {
        error_ = absl::DataLossError(
            absl::StrCat("ovsdb stream: message nested deeper than ", kMaxDepth, " levels"));
        return error_;
      }
    } else if (c == '}' || c == ']') {
      if (--depth_ == 0) {
        ++i;
        break;
      }
    }
  }
  if (depth_ != 0 || in_string_) {
    scan_ = i - start_;
    if (scan_ > max_message_bytes_) {
      error_ = absl::ResourceExhaustedError(
          absl::StrCat("ovsdb stream: message larger than ", max_message_bytes_, " bytes"));
      return error_;
    }
    return std::optional<nlohmann::json>();
  }
  const absl::string_view text(buffer_.data() + start_, i - start_);
  nlohmann::json value = nlohmann::json::parse(text.begin(), text.end(), nullptr,
                                               /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    error_ = absl::DataLossError(absl::StrCat("ovsdb stream: malformed JSON message of ",
                                              text.size(), " bytes: ", text.substr(0, 80)));
    return error_;
  }
  start_ = i;
  scan_ = 0;
  // Compact once the consumed prefix dominates, so the buffer does not grow without bound.
  if (start_ > 4096 && start_ * 2 > buffer_.size()) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
  return std::optional<nlohmann::json>(std::move(value));
}

}  // namespace pulse::southbound::ovsdb
