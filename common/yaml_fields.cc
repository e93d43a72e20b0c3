#include "common/yaml_fields.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace pulse::yaml {
namespace {

// yaml-cpp throws when asked the kind of a node that was looked up but is absent.
bool IsScalar(const YAML::Node& node) { return node.IsDefined() && node.IsScalar(); }

}  // namespace

std::string Field(absl::string_view parent, absl::string_view key) {
  return parent.empty() ? std::string(key) : absl::StrCat(parent, ".", key);
}

std::string Item(absl::string_view parent, size_t index) {
  return absl::StrCat(parent, "[", index, "]");
}

YamlFields::YamlFields(absl::string_view source)
    : format_([source = std::string(source)](int line, absl::string_view field,
                                             absl::string_view problem) {
        return line > 0 ? absl::StrCat(source, ":", line, ": ", field, ": ", problem)
                        : absl::StrCat(source, ": ", field, ": ", problem);
      }) {}

YamlFields::YamlFields(Formatter format) : format_(std::move(format)) {}

absl::Status YamlFields::Error(const YAML::Node& at, absl::string_view field,
                               absl::string_view problem) const {
  // A node looked up but absent has no position (and Mark() on it would throw).
  const int line = at.IsDefined() ? at.Mark().line + 1 : 0;
  return ErrorAtLine(std::max(line, 0), field, problem);
}

absl::Status YamlFields::ErrorAtLine(int line, absl::string_view field,
                                     absl::string_view problem) const {
  return absl::InvalidArgumentError(format_(line, field, problem));
}

absl::StatusOr<std::string> YamlFields::String(const YAML::Node& node,
                                               absl::string_view field) const {
  if (!IsScalar(node)) return Error(node, field, "expected a string");
  return node.Scalar();
}

absl::StatusOr<int64_t> YamlFields::Int(const YAML::Node& node, absl::string_view field,
                                        int64_t min, int64_t max) const {
  int64_t value = 0;
  if (!IsScalar(node) || !absl::SimpleAtoi(node.Scalar(), &value)) {
    return Error(node, field,
                 absl::StrCat("expected an integer, got ",
                              IsScalar(node) ? absl::StrCat("'", node.Scalar(), "'")
                                             : std::string("a non-scalar")));
  }
  if (value < min || value > max) {
    return Error(node, field, absl::StrCat("must be between ", min, " and ", max, ", got ", value));
  }
  return value;
}

absl::StatusOr<int> YamlFields::Int32(const YAML::Node& node, absl::string_view field) const {
  absl::StatusOr<int64_t> value =
      Int(node, field, std::numeric_limits<int>::min(), std::numeric_limits<int>::max());
  if (!value.ok()) return value.status();
  return static_cast<int>(*value);
}

absl::StatusOr<double> YamlFields::Double(const YAML::Node& node, absl::string_view field) const {
  double value = 0;
  if (!IsScalar(node) || !absl::SimpleAtod(node.Scalar(), &value) || !std::isfinite(value)) {
    return Error(node, field,
                 IsScalar(node) ? absl::StrCat("expected a number, got '", node.Scalar(), "'")
                                : std::string("expected a number"));
  }
  return value;
}

absl::StatusOr<bool> YamlFields::Bool(const YAML::Node& node, absl::string_view field) const {
  if (!IsScalar(node)) return Error(node, field, "expected true or false");
  const std::string lower = absl::AsciiStrToLower(node.Scalar());
  if (lower == "true" || lower == "yes" || lower == "on") return true;
  if (lower == "false" || lower == "no" || lower == "off") return false;
  return Error(node, field, absl::StrCat("expected true or false, got '", node.Scalar(), "'"));
}

absl::Status YamlFields::CheckKeys(const YAML::Node& node, absl::string_view field,
                                   const std::vector<std::string>& allowed) const {
  if (!node.IsDefined() || !node.IsMap()) return Error(node, field, "expected a mapping");
  absl::flat_hash_set<std::string> seen;
  for (const auto& kv : node) {
    const YAML::Node& key = kv.first;
    if (!key.IsScalar()) return Error(key, field, "keys must be plain names");
    const std::string& name = key.Scalar();
    const std::string where = Field(field, name);
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      return Error(
          key, where,
          absl::StrCat("unknown key (expected one of: ", absl::StrJoin(allowed, ", "), ")"));
    }
    if (!seen.insert(name).second) return Error(key, where, "key given twice");
  }
  return absl::OkStatus();
}

absl::Status YamlFields::ReadMap(const YAML::Node& node, absl::string_view field,
                                 const std::vector<std::string>& allowed,
                                 const EntryReader& read) const {
  if (absl::Status s = CheckKeys(node, field, allowed); !s.ok()) return s;
  for (const auto& kv : node) {
    const std::string& key = kv.first.Scalar();
    if (absl::Status s = read(key, Field(field, key), kv.second); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status YamlFields::ReadInto(const YAML::Node& value, absl::string_view field,
                                  Target target) const {
  return std::visit(
      [&](auto* out) -> absl::Status {
        using T = std::remove_pointer_t<decltype(out)>;
        absl::StatusOr<T> read;
        if constexpr (std::is_same_v<T, bool>) {
          read = Bool(value, field);
        } else if constexpr (std::is_same_v<T, int>) {
          read = Int32(value, field);
        } else if constexpr (std::is_same_v<T, int64_t>) {
          read = Int(value, field, std::numeric_limits<int64_t>::min(),
                     std::numeric_limits<int64_t>::max());
        } else if constexpr (std::is_same_v<T, double>) {
          read = Double(value, field);
        } else {
          read = String(value, field);
        }
        if (!read.ok()) return read.status();
        *out = *std::move(read);
        return absl::OkStatus();
      },
      target);
}

absl::Status YamlFields::ReadSlots(const YAML::Node& node, absl::string_view field,
                                   const std::vector<Slot>& slots,
                                   const std::vector<std::string>& other_keys,
                                   const EntryReader& other) const {
  std::vector<std::string> allowed;
  for (const Slot& slot : slots) allowed.push_back(slot.key);
  allowed.insert(allowed.end(), other_keys.begin(), other_keys.end());
  return ReadMap(node, field, allowed,
                 [&](const std::string& key, const std::string& key_field,
                     const YAML::Node& value) -> absl::Status {
                   for (const Slot& slot : slots) {
                     if (slot.key == key) return ReadInto(value, key_field, slot.target);
                   }
                   if (!other) return Error(value, key_field, "no reader for this key");
                   return other(key, key_field, value);
                 });
}

absl::Status YamlFields::ReadList(const YAML::Node& node, absl::string_view field,
                                  const ItemReader& read) const {
  if (!node.IsDefined() || !node.IsSequence()) return Error(node, field, "expected a list");
  for (size_t i = 0; i < node.size(); ++i) {
    if (absl::Status s = read(i, Item(field, i), node[i]); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace pulse::yaml
