// Typed reads of YAML fields for the files Pulse loads (intent, job, QoS policy),
// so all of them word their errors the same way and refuse the same mistakes: a wrong type, a
// number out of range, an unknown or repeated key. Each error names the file, the 1-based line of
// the offending node and the dotted field path: "fabric.yaml:7: builder.k: must be between 2 and
// 64, got 65". A file that words its errors otherwise (the QoS policy) passes its own formatter.
//
// yaml-cpp throws on misuse of a node; these readers check the node's kind first and never throw,
// but callers still wrap YAML::Load and their walk in a catch for YAML::Exception at the edge.
#ifndef PULSE_COMMON_YAML_FIELDS_H_
#define PULSE_COMMON_YAML_FIELDS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "yaml-cpp/yaml.h"

namespace pulse::yaml {

// "parent.key", or "key" at the top (parent empty).
std::string Field(absl::string_view parent, absl::string_view key);

// "parent[index]".
std::string Item(absl::string_view parent, size_t index);

// Reads the fields of one YAML document and words every problem the same way.
class YamlFields {
 public:
  // Words one error. `line` is 1-based, or 0 when the node has no position (not in the file).
  using Formatter =
      std::function<std::string(int line, absl::string_view field, absl::string_view problem)>;

  // Errors read "<source>:<line>: <field>: <problem>" ("<source>: <field>: <problem>" without a
  // line).
  explicit YamlFields(absl::string_view source);
  // Errors worded by `format`.
  explicit YamlFields(Formatter format);

  // InvalidArgument about `field`, at the line of `at` (no line when `at` is not in the file).
  absl::Status Error(const YAML::Node& at, absl::string_view field,
                     absl::string_view problem) const;
  // InvalidArgument about `field` at a 1-based line (0: no line).
  absl::Status ErrorAtLine(int line, absl::string_view field, absl::string_view problem) const;

  // A scalar as text ("expected a string" otherwise).
  absl::StatusOr<std::string> String(const YAML::Node& node, absl::string_view field) const;
  // A decimal integer in [min, max].
  absl::StatusOr<int64_t> Int(const YAML::Node& node, absl::string_view field, int64_t min,
                              int64_t max) const;
  // Any int (the full range of int).
  absl::StatusOr<int> Int32(const YAML::Node& node, absl::string_view field) const;
  // A finite number.
  absl::StatusOr<double> Double(const YAML::Node& node, absl::string_view field) const;
  // true/false (also yes/no, on/off, any case: YAML 1.1 spellings operators still write).
  absl::StatusOr<bool> Bool(const YAML::Node& node, absl::string_view field) const;

  // `node` must be a mapping whose keys are plain names, each in `allowed` and given once
  // (yaml-cpp keeps both entries of a repeated key, so the last would silently win otherwise).
  // `field` names the mapping ("" at the top); key errors name "field.key".
  absl::Status CheckKeys(const YAML::Node& node, absl::string_view field,
                         const std::vector<std::string>& allowed) const;

  // Called with each key, its field path ("field.key") and its value.
  using EntryReader = std::function<absl::Status(const std::string& key, const std::string& field,
                                                 const YAML::Node& value)>;
  // CheckKeys, then `read` on each entry in file order; stops at the first error.
  absl::Status ReadMap(const YAML::Node& node, absl::string_view field,
                       const std::vector<std::string>& allowed, const EntryReader& read) const;

  // Where one key's value goes, read by the pointer's type: bool as Bool, int as Int32, int64_t
  // as Int over its whole range, double as Double, std::string as String.
  using Target = std::variant<bool*, int*, int64_t*, double*, std::string*>;
  struct Slot {
    std::string key;
    Target target;
  };
  // Reads one value into `target`.
  absl::Status ReadInto(const YAML::Node& value, absl::string_view field, Target target) const;
  // ReadMap for a mapping whose keys are those of `slots` and `other_keys`: a slot's value is read
  // into its target, the other keys are handed to `other` (may be empty when `other_keys` is).
  absl::Status ReadSlots(const YAML::Node& node, absl::string_view field,
                         const std::vector<Slot>& slots,
                         const std::vector<std::string>& other_keys = {},
                         const EntryReader& other = nullptr) const;

  // Called with each item's index, field path ("field[i]") and value.
  using ItemReader =
      std::function<absl::Status(size_t index, const std::string& field, const YAML::Node& item)>;
  // `node` must be a sequence ("expected a list"); `read` on each item; stops at the first error.
  absl::Status ReadList(const YAML::Node& node, absl::string_view field,
                        const ItemReader& read) const;

 private:
  Formatter format_;
};

}  // namespace pulse::yaml

#endif  // PULSE_COMMON_YAML_FIELDS_H_
