#include "common/yaml_fields.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pulse::yaml {
namespace {

using ::testing::HasSubstr;

std::string Message(const absl::Status& s) { return std::string(s.message()); }

TEST(YamlFieldsTest, ReadsTypedScalars) {
  const YAML::Node root = YAML::Load("name: leaf-0\nk: 8\nratio: 1.5\nflag: Yes\noff: off\n");
  YamlFields f("a.yaml");
  absl::StatusOr<std::string> name = f.String(root["name"], "name");
  ASSERT_TRUE(name.ok()) << name.status();
  EXPECT_EQ(*name, "leaf-0");
  absl::StatusOr<int64_t> k = f.Int(root["k"], "k", 2, 64);
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(*k, 8);
  absl::StatusOr<double> ratio = f.Double(root["ratio"], "ratio");
  ASSERT_TRUE(ratio.ok()) << ratio.status();
  EXPECT_DOUBLE_EQ(*ratio, 1.5);
  absl::StatusOr<bool> flag = f.Bool(root["flag"], "flag");
  ASSERT_TRUE(flag.ok()) << flag.status();
  EXPECT_TRUE(*flag);
  absl::StatusOr<bool> off = f.Bool(root["off"], "off");
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_FALSE(*off);
}

TEST(YamlFieldsTest, WrongTypesNameFileLineAndField) {
  const YAML::Node root =
      YAML::Load("a: 1\nlist: [1, 2]\nk: twelve\nbig: 65\nx: nan\nb: maybe\ni: 3000000000\n");
  YamlFields f("a.yaml");
  EXPECT_EQ(Message(f.String(root["list"], "list").status()), "a.yaml:2: list: expected a string");
  EXPECT_EQ(Message(f.Int(root["k"], "k", 0, 10).status()),
            "a.yaml:3: k: expected an integer, got 'twelve'");
  EXPECT_EQ(Message(f.Int(root["list"], "list", 0, 10).status()),
            "a.yaml:2: list: expected an integer, got a non-scalar");
  EXPECT_EQ(Message(f.Int(root["big"], "big", 2, 64).status()),
            "a.yaml:4: big: must be between 2 and 64, got 65");
  EXPECT_EQ(Message(f.Double(root["x"], "x").status()),
            "a.yaml:5: x: expected a number, got 'nan'");
  EXPECT_EQ(Message(f.Bool(root["b"], "b").status()),
            "a.yaml:6: b: expected true or false, got 'maybe'");
  EXPECT_THAT(Message(f.Int32(root["i"], "i").status()), HasSubstr("a.yaml:7: i: must be between"));
}

TEST(YamlFieldsTest, AbsentNodeHasNoLine) {
  const YAML::Node root = YAML::Load("a: 1\n");
  YamlFields f("a.yaml");
  EXPECT_EQ(Message(f.String(root["missing"], "missing").status()),
            "a.yaml: missing: expected a string");
  EXPECT_EQ(Message(f.ErrorAtLine(1, "intent", "empty file")), "a.yaml:1: intent: empty file");
}

TEST(YamlFieldsTest, CheckKeysRefusesUnknownRepeatedAndOddKeys) {
  YamlFields f("a.yaml");
  const std::vector<std::string> allowed = {"k", "type"};
  EXPECT_TRUE(f.CheckKeys(YAML::Load("type: x\nk: 4\n"), "builder", allowed).ok());
  EXPECT_EQ(Message(f.CheckKeys(YAML::Load("type: x\npods: 4\n"), "builder", allowed)),
            "a.yaml:2: builder.pods: unknown key (expected one of: k, type)");
  EXPECT_EQ(Message(f.CheckKeys(YAML::Load("k: 4\nk: 6\n"), "", allowed)),
            "a.yaml:2: k: key given twice");
  EXPECT_EQ(Message(f.CheckKeys(YAML::Load("[a]: 1\n"), "top", allowed)),
            "a.yaml:1: top: keys must be plain names");
  EXPECT_EQ(Message(f.CheckKeys(YAML::Load("- a\n- b\n"), "builder", allowed)),
            "a.yaml:1: builder: expected a mapping");
}

TEST(YamlFieldsTest, ReadMapVisitsEntriesInOrderWithFieldPaths) {
  YamlFields f("a.yaml");
  std::vector<std::string> seen;
  absl::Status s = f.ReadMap(YAML::Load("b: 1\na: 2\n"), "top", {"a", "b"},
                             [&](const std::string& key, const std::string& field,
                                 const YAML::Node& value) -> absl::Status {
                               seen.push_back(absl::StrCat(key, "=", field, "=", value.Scalar()));
                               return absl::OkStatus();
                             });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_THAT(seen, ::testing::ElementsAre("b=top.b=1", "a=top.a=2"));

  // The first reader error stops the walk and is returned as is.
  int calls = 0;
  s = f.ReadMap(YAML::Load("a: x\nb: 2\n"), "", {"a", "b"},
                [&](const std::string&, const std::string& field, const YAML::Node& value) {
                  ++calls;
                  return f.Int(value, field, 0, 9).status();
                });
  EXPECT_EQ(Message(s), "a.yaml:1: a: expected an integer, got 'x'");
  EXPECT_EQ(calls, 1);
}

TEST(YamlFieldsTest, ReadSlotsFillsTargetsByTypeAndHandsOtherKeysOn) {
  YamlFields f("a.yaml");
  bool flag = false;
  int count = 0;
  int64_t bytes = 0;
  double ratio = 0;
  std::string name;
  std::vector<std::string> others;
  const std::vector<YamlFields::Slot> slots = {
      {"name", &name}, {"flag", &flag}, {"count", &count}, {"bytes", &bytes}, {"ratio", &ratio}};
  auto other = [&](const std::string&, const std::string& field, const YAML::Node& v) {
    others.push_back(absl::StrCat(field, "=", v.Scalar()));
    return absl::OkStatus();
  };
  absl::Status s = f.ReadSlots(
      YAML::Load("name: x\nflag: on\ncount: -3\nbytes: 8589934592\nratio: 2.5\nmode: fast\n"), "p",
      slots, {"mode"}, other);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(name, "x");
  EXPECT_TRUE(flag);
  EXPECT_EQ(count, -3);
  EXPECT_EQ(bytes, int64_t{8589934592});
  EXPECT_DOUBLE_EQ(ratio, 2.5);
  EXPECT_THAT(others, ::testing::ElementsAre("p.mode=fast"));

  EXPECT_THAT(Message(f.ReadSlots(YAML::Load("ratio: 1\ncount: 3000000000\n"), "p", slots)),
              HasSubstr("a.yaml:2: p.count: must be between -2147483648 and 2147483647"));
  EXPECT_EQ(
      Message(f.ReadSlots(YAML::Load("nope: 1\n"), "p", {{"count", &count}}, {"mode"}, other)),
      "a.yaml:1: p.nope: unknown key (expected one of: count, mode)");
}

TEST(YamlFieldsTest, ReadListNamesItems) {
  YamlFields f("a.yaml");
  std::vector<int64_t> values;
  absl::Status s = f.ReadList(YAML::Load("[3, 4, x]"), "prio",
                              [&](size_t, const std::string& field, const YAML::Node& item) {
                                absl::StatusOr<int64_t> v = f.Int(item, field, 0, 7);
                                if (!v.ok()) return v.status();
                                values.push_back(*v);
                                return absl::OkStatus();
                              });
  EXPECT_EQ(Message(s), "a.yaml:1: prio[2]: expected an integer, got 'x'");
  EXPECT_THAT(values, ::testing::ElementsAre(3, 4));
  EXPECT_EQ(Message(f.ReadList(
                YAML::Load("a: 1"), "prio",
                [](size_t, const std::string&, const YAML::Node&) { return absl::OkStatus(); })),
            "a.yaml:1: prio: expected a list");
}

TEST(YamlFieldsTest, OwnFormatterWordsErrors) {
  YamlFields f([](int line, absl::string_view field, absl::string_view problem) {
    return absl::StrCat("policy key '", field, "' (line ", line, "): ", problem);
  });
  const YAML::Node root = YAML::Load("x: 1\ny: z\n");
  EXPECT_EQ(Message(f.Int(root["y"], "y", 0, 1).status()),
            "policy key 'y' (line 2): expected an integer, got 'z'");
}

TEST(YamlFieldsTest, FieldPaths) {
  EXPECT_EQ(Field("", "k"), "k");
  EXPECT_EQ(Field("builder", "k"), "builder.k");
  EXPECT_EQ(Item("links", 3), "links[3]");
}

}  // namespace
}  // namespace pulse::yaml
