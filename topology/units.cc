#include "topology/units.h"

#include <cmath>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace pulse::topology {

absl::StatusOr<double> ParseBitsPerSecond(absl::string_view text) {
  std::string lower = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  absl::string_view rest = lower;
  if (!absl::ConsumeSuffix(&rest, "bps")) absl::ConsumeSuffix(&rest, "b/s");
  double scale = 1;
  if (!rest.empty()) {
    switch (rest.back()) {
      case 'k':
        scale = 1e3;
        break;
      case 'm':
        scale = 1e6;
        break;
      case 'g':
        scale = 1e9;
        break;
      case 't':
        scale = 1e12;
        break;
      default:
        break;
    }
    if (scale != 1) rest.remove_suffix(1);
  }
  double value = 0;
  if (rest.empty() || !absl::SimpleAtod(rest, &value) || !std::isfinite(value)) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not a bit rate"));
  }
  return value * scale;
}

}  // namespace pulse::topology
