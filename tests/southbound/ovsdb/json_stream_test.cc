#include "southbound/ovsdb/json_stream.h"

#include <string>

#include "gtest/gtest.h"

namespace pulse::southbound::ovsdb {
namespace {

std::vector<nlohmann::json> DrainAll(JsonStreamSplitter& s) {
  std::vector<nlohmann::json> out;
  while (true) {
    absl::StatusOr<std::optional<nlohmann::json>> next = s.Next();
    EXPECT_TRUE(next.ok()) << next.status();
    if (!next.ok() || !next->has_value()) return out;
    out.push_back(**next);
  }
}

TEST(JsonStreamTest, SplitsConcatenatedMessages) {
  JsonStreamSplitter s;
  s.Append(R"({"id":1,"result":[]}{"id":2,"result":{"a":"}{]["}} [1,2,{"x":[3]}])");
  std::vector<nlohmann::json> msgs = DrainAll(s);
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[0]["id"], 1);
  EXPECT_EQ(msgs[1]["result"]["a"], "}{][");
  EXPECT_EQ(msgs[2][2]["x"][0], 3);
  EXPECT_EQ(s.buffered_bytes(), 0u);
}

TEST(JsonStreamTest, ReassemblesMessagesSplitAtEveryByte) {
  const std::string text =
      R"({"method":"update","params":["m",{"QoS":{"u":{"new":{"type":"linux-htb","q":"a\"}b\\"}}}}]})"
      "\n"
      R"({"id":7,"error":null,"result":[{"count":1}]})";
  JsonStreamSplitter s;
  std::vector<nlohmann::json> msgs;
  for (char c : text) {
    s.Append(absl::string_view(&c, 1));
    for (nlohmann::json& m : DrainAll(s)) msgs.push_back(std::move(m));
  }
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0]["params"][1]["QoS"]["u"]["new"]["q"], "a\"}b\\");
  EXPECT_EQ(msgs[1]["id"], 7);
}

TEST(JsonStreamTest, IncompleteMessageWaits) {
  JsonStreamSplitter s;
  s.Append(R"({"id":1,"result":[)");
  absl::StatusOr<std::optional<nlohmann::json>> next = s.Next();
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->has_value());
  s.Append("]}");
  next = s.Next();
  ASSERT_TRUE(next.ok());
  ASSERT_TRUE(next->has_value());
  EXPECT_TRUE((**next)["result"].is_array());
}

TEST(JsonStreamTest, GarbageIsAnErrorAndSticky) {
  JsonStreamSplitter s;
  s.Append("{\"id\":1}  hello {\"id\":2}");
  absl::StatusOr<std::optional<nlohmann::json>> first = s.Next();
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(first->has_value());
  absl::StatusOr<std::optional<nlohmann::json>> second = s.Next();
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("0x68"), absl::string_view::npos) << second.status();
  EXPECT_FALSE(s.Next().ok());
}

TEST(JsonStreamTest, BalancedButMalformedIsAnError) {
  JsonStreamSplitter s;
  s.Append("{\"id\":1,,}");
  absl::StatusOr<std::optional<nlohmann::json>> next = s.Next();
  ASSERT_FALSE(next.ok());
  EXPECT_NE(next.status().message().find("malformed"), absl::string_view::npos);
  JsonStreamSplitter mismatched;
  mismatched.Append("[1}");
  EXPECT_FALSE(mismatched.Next().ok());
}

TEST(JsonStreamTest, LimitsSizeAndDepth) {
  JsonStreamSplitter small(16);
  small.Append("{\"a\":\"0123456789012345678901234567890");
  EXPECT_EQ(small.Next().status().code(), absl::StatusCode::kResourceExhausted);
  JsonStreamSplitter deep;
  deep.Append(std::string(1000, '['));
  EXPECT_FALSE(deep.Next().ok());
}

}  // namespace
}  // namespace pulse::southbound::ovsdb
