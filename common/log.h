// The one logger of the tree: one line per message to stderr, with a UTC timestamp and the level.
//
//   pulse::Log(pulse::LogLevel::kInfo, "placed job ", id, " on ", n, " paths");
//
// Arguments are joined with absl::StrCat, so anything StrCat takes works. Messages below the
// process-wide level are dropped before formatting. Thread-safe: each line is written whole.
#ifndef PULSE_COMMON_LOG_H_
#define PULSE_COMMON_LOG_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace pulse {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// The process-wide threshold (default kInfo).
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();

// "debug", "info", "warning" (or "warn"), "error"; InvalidArgument otherwise.
absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name);
absl::string_view LogLevelName(LogLevel level);

// Writes one formatted line ("2026-11-28T15:30:00.123Z INFO  message") to stderr.
void WriteLogLine(LogLevel level, absl::string_view message);

template <typename... Args>
void Log(LogLevel level, const Args&... args) {
  if (level < GetLogLevel()) return;
  WriteLogLine(level, absl::StrCat(args...));
}

}  // namespace pulse

#endif  // PULSE_COMMON_LOG_H_
