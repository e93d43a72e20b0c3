#include "controller/placement/job_file.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/yaml_fields.h"
#include "controller/placement/job_validation.h"
#include "topology/units.h"
#include "yaml-cpp/yaml.h"

namespace pulse::controller {
namespace {

absl::StatusOr<double> RateOf(const yaml::YamlFields& fields, const YAML::Node& node,
                              absl::string_view field) {
  auto text = fields.String(node, field);
  if (!text.ok()) return text.status();
  auto rate = ParseRateBps(*text);
  if (!rate.ok()) return fields.Error(node, field, rate.status().message());
  return *rate;
}

absl::StatusOr<JobSpec> ParseJobNode(absl::string_view source, const YAML::Node& root) {
  const yaml::YamlFields fields(source);
  if (!root.IsMap()) return fields.Error(root, "job", "expected a mapping at the top");
  if (auto s = fields.CheckKeys(root, "",
                                {"id", "pattern", "endpoints", "rate", "strict", "max_subflows",
                                 "traffic_class", "flows", "enforcement"});
      !s.ok()) {
    return s;
  }
  JobSpec spec;
  if (!root["id"]) return fields.Error(root, "id", "missing (every job needs an id)");
  auto id = fields.String(root["id"], "id");
  if (!id.ok()) return id.status();
  if (id->empty()) return fields.Error(root["id"], "id", "must not be empty");
  spec.id = *id;
  if (root["pattern"]) {
    auto name = fields.String(root["pattern"], "pattern");
    if (!name.ok()) return name.status();
    auto pattern = ParseCollectivePattern(*name);
    if (!pattern.ok()) return fields.Error(root["pattern"], "pattern", pattern.status().message());
    spec.pattern = *pattern;
  }
  if (const YAML::Node eps = root["endpoints"]) {
    std::vector<YAML::Node> items;
    if (eps.IsScalar()) {
      items.push_back(eps);
    } else if (eps.IsSequence()) {
      for (const auto& item : eps) items.push_back(item);
    } else {
      return fields.Error(eps, "endpoints", "expected a list of names or a range");
    }
    for (size_t i = 0; i < items.size(); ++i) {
      const std::string field = yaml::Item("endpoints", i);
      auto text = fields.String(items[i], field);
      if (!text.ok()) return text.status();
      auto names = ExpandEndpointRange(*text);
      if (!names.ok()) return fields.Error(items[i], field, names.status().message());
      if (spec.endpoints.size() + names->size() > kMaxJobEndpoints) {
        return fields.Error(items[i], field, "too many endpoints");
      }
      spec.endpoints.insert(spec.endpoints.end(), names->begin(), names->end());
    }
  }
  if (root["rate"]) {
    auto rate = RateOf(fields, root["rate"], "rate");
    if (!rate.ok()) return rate.status();
    spec.rate_bps = *rate;
  }
  if (root["strict"]) {
    auto strict = fields.Bool(root["strict"], "strict");
    if (!strict.ok()) return strict.status();
    spec.strict = *strict;
  }
  if (root["max_subflows"]) {
    auto n = fields.Int(root["max_subflows"], "max_subflows", kMinSubflows, kMaxSubflows);
    if (!n.ok()) return n.status();
    spec.max_subflows = static_cast<int>(*n);
  }
  if (root["enforcement"]) {
    auto name = fields.String(root["enforcement"], "enforcement");
    if (!name.ok()) return name.status();
    auto enforcement = ParseEnforcement(*name);
    if (!enforcement.ok())
      return fields.Error(root["enforcement"], "enforcement", enforcement.status().message());
    spec.enforcement = *enforcement;
  }
  if (root["traffic_class"]) {
    auto tc =
        fields.Int(root["traffic_class"], "traffic_class", kMinTrafficClass, kMaxTrafficClass);
    if (!tc.ok()) return tc.status();
    spec.traffic_class = static_cast<int>(*tc);
  }
  if (const YAML::Node flows = root["flows"]) {
    if (spec.pattern != CollectivePattern::kExplicit) {
      return fields.Error(flows, "flows", "only allowed with pattern: explicit");
    }
    if (!flows.IsSequence()) return fields.Error(flows, "flows", "expected a list");
    for (size_t i = 0; i < flows.size(); ++i) {
      const YAML::Node f = flows[i];
      const std::string where = yaml::Item("flows", i);
      if (!f.IsMap()) return fields.Error(f, where, "expected {src, dst, rate}");
      if (auto s = fields.CheckKeys(f, where, {"src", "dst", "rate"}); !s.ok()) return s;
      ExplicitFlow flow;
      for (const char* key : {"src", "dst"}) {
        if (!f[key]) return fields.Error(f, yaml::Field(where, key), "missing");
        auto name = fields.String(f[key], yaml::Field(where, key));
        if (!name.ok()) return name.status();
        (std::string(key) == "src" ? flow.src : flow.dst) = *name;
      }
      if (f["rate"]) {
        auto rate = RateOf(fields, f["rate"], yaml::Field(where, "rate"));
        if (!rate.ok()) return rate.status();
        flow.rate_bps = *rate;
      }
      spec.explicit_flows.push_back(std::move(flow));
    }
  }
  if (spec.pattern == CollectivePattern::kExplicit && spec.explicit_flows.empty()) {
    return fields.Error(root, "flows", "pattern explicit needs a non-empty flows list");
  }
  // The rules every entry shares (id characters, endpoint count, duplicates...): fields are named
  // as in the file.
  if (absl::Status valid = ValidateJobSpec(spec, {}, ""); !valid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", valid.message()));
  }
  return spec;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ExpandEndpointRange(absl::string_view pattern) {
  std::vector<std::string> out{""};
  size_t i = 0;
  while (i < pattern.size()) {
    char c = pattern[i];
    if (c == ']')
      return absl::InvalidArgumentError(absl::StrCat("unbalanced ']' in '", pattern, "'"));
    if (c != '[') {
      for (auto& s : out) s.push_back(c);
      ++i;
      continue;
    }
    size_t close = pattern.find(']', i);
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("unbalanced '[' in '", pattern, "'"));
    }
    absl::string_view body = pattern.substr(i + 1, close - i - 1);
    size_t dash = body.find('-');
    int lo = 0, hi = 0;
    if (dash == absl::string_view::npos || !absl::SimpleAtoi(body.substr(0, dash), &lo) ||
        !absl::SimpleAtoi(body.substr(dash + 1), &hi) || lo < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("range '[", body, "]' in '", pattern, "' is not [lo-hi]"));
    }
    if (lo > hi) {
      return absl::InvalidArgumentError(
          absl::StrCat("range '[", body, "]' in '", pattern, "' has lo > hi"));
    }
    if (out.size() * static_cast<size_t>(hi - lo + 1) > kMaxJobEndpoints) {
      return absl::InvalidArgumentError(absl::StrCat("'", pattern, "' expands to too many names"));
    }
    std::vector<std::string> next;
    next.reserve(out.size() * (hi - lo + 1));
    for (const auto& s : out) {
      for (int v = lo; v <= hi; ++v) next.push_back(absl::StrCat(s, v));
    }
    out = std::move(next);
    i = close + 1;
  }
  if (out.size() == 1 && out[0].empty()) {
    return absl::InvalidArgumentError("empty endpoint name");
  }
  return out;
}

absl::StatusOr<double> ParseRateBps(absl::string_view text) {
  absl::StatusOr<double> value = topology::ParseBitsPerSecond(text);
  if (!value.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("rate '", text, "' is not a number of bps (e.g. 100G, 400Gbps, 1e11)"));
  }
  if (*value <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("rate '", text, "' must be > 0 (omit the rate for the NIC's line rate)"));
  }
  return *value;
}

absl::StatusOr<JobSpec> ParseJobYaml(absl::string_view yaml_text, absl::string_view source) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
    return ParseJobNode(source, root);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":", e.mark.line + 1, ": malformed YAML: ", e.msg));
  }
}

absl::StatusOr<JobSpec> LoadJobFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read job file '", path, "'"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseJobYaml(buffer.str(), path);
}

}  // namespace pulse::controller
