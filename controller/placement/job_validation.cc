#include "controller/placement/job_validation.h"

#include <cmath>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace pulse::controller {
namespace {

bool IsJobIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == ':';
}

}  // namespace

absl::Status ValidateTrafficClass(int traffic_class, absl::string_view field) {
  if (traffic_class < kMinTrafficClass || traffic_class > kMaxTrafficClass) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": must be ", kMinTrafficClass, "..",
                                                   kMaxTrafficClass, ", got ", traffic_class));
  }
  return absl::OkStatus();
}

absl::Status ValidateRateBps(double rate_bps, absl::string_view field) {
  if (!std::isfinite(rate_bps) || rate_bps < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be a finite number >= 0, got ", rate_bps));
  }
  if (rate_bps > kMaxRateBps) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be a finite number >= 0, got ", rate_bps,
                     ": above any NIC's line rate (at most ", kMaxRateBps, " bit/s)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateJobSpec(const JobSpec& spec, const JobSpecLimits& limits,
                             absl::string_view field_prefix) {
  auto field = [field_prefix](auto&&... parts) { return absl::StrCat(field_prefix, parts...); };
  auto bad = [&](const std::string& name, auto&&... problem) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": ", problem...));
  };

  if (spec.id.empty()) return bad(field("id"), "must not be empty");
  if (limits.plain_ids && spec.id.size() > kMaxJobIdBytes) {
    return bad(field("id"), "longer than ", kMaxJobIdBytes, " characters (", spec.id.size(), ")");
  }
  for (char c : spec.id) {
    if (limits.plain_ids && !IsJobIdChar(c)) {
      return bad(field("id"), "'", spec.id, "' has a character outside [A-Za-z0-9._:-]");
    }
  }

  if (spec.endpoints.size() > limits.max_endpoints) {
    return bad(field("endpoints"), spec.endpoints.size(), " endpoints exceed the limit of ",
               limits.max_endpoints);
  }
  if (spec.explicit_flows.size() > limits.max_explicit_flows) {
    return bad(field("flows"), spec.explicit_flows.size(), " flows exceed the limit of ",
               limits.max_explicit_flows);
  }
  absl::flat_hash_map<absl::string_view, size_t> seen;
  for (size_t i = 0; i < spec.endpoints.size(); ++i) {
    // The field's name is built only for an error: a 65,536-GPU job validates on every place.
    if (spec.endpoints[i].empty()) return bad(field("endpoints[", i, "]"), "empty name");
    auto [it, inserted] = seen.emplace(spec.endpoints[i], i);
    if (!inserted) {
      return bad(field("endpoints[", i, "]"), "duplicate of ", field("endpoints[", it->second, "]"),
                 " ('", spec.endpoints[i], "' is listed twice)");
    }
  }

  switch (spec.pattern) {
    case CollectivePattern::kExplicit:
    case CollectivePattern::kRing:
    case CollectivePattern::kDoubleBinaryTree:
    case CollectivePattern::kAllToAll:
    case CollectivePattern::kHalvingDoubling:
    case CollectivePattern::kRailAligned:
      break;
    default:
      return bad(field("pattern"), "unknown value ", static_cast<int>(spec.pattern));
  }
  if (spec.pattern == CollectivePattern::kExplicit) {
    if (spec.explicit_flows.empty()) {
      return bad(field("flows"), "empty job: pattern explicit needs at least one flow");
    }
  } else {
    if (!spec.explicit_flows.empty()) {
      return bad(field("flows"), "explicit flows need pattern explicit");
    }
    if (spec.endpoints.empty()) return bad(field("endpoints"), "empty job: no endpoints");
    if (spec.endpoints.size() < limits.min_collective_endpoints) {
      return bad(field("endpoints"), "a collective needs at least ",
                 limits.min_collective_endpoints, " endpoints, got ", spec.endpoints.size());
    }
  }
  for (size_t i = 0; i < spec.explicit_flows.size(); ++i) {
    const ExplicitFlow& f = spec.explicit_flows[i];
    if (f.src.empty()) return bad(field("flows[", i, "].src"), "empty name");
    if (f.dst.empty()) return bad(field("flows[", i, "].dst"), "empty name");
    if (f.src == f.dst) {
      return bad(field("flows[", i, "]"), "from '", f.src, "' to '", f.dst,
                 "' is a flow to itself");
    }
    if (absl::Status s = ValidateRateBps(f.rate_bps, field("flows[", i, "].rate_bps")); !s.ok()) {
      return s;
    }
  }

  if (absl::Status s = ValidateRateBps(spec.rate_bps, field("rate_bps")); !s.ok()) return s;
  if (absl::Status s = ValidateTrafficClass(spec.traffic_class, field("traffic_class")); !s.ok()) {
    return s;
  }
  if (spec.max_subflows < kMinSubflows || spec.max_subflows > kMaxSubflows) {
    return bad(field("max_subflows"), "must be ", kMinSubflows, "..", kMaxSubflows, ", got ",
               spec.max_subflows);
  }
  switch (spec.enforcement) {
    case Enforcement::kDefault:
    case Enforcement::kPin:
    case Enforcement::kSteer:
      break;
    default:
      return bad(field("enforcement"), "unknown value ", static_cast<int>(spec.enforcement));
  }
  return absl::OkStatus();
}

}  // namespace pulse::controller
