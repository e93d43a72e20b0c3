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

namespace pulse::southbound::ovsdb {
namespace {

// Random bytes and random cuts of valid messages never crash the splitter: every call returns
// a value, "need more", or an error, and an error stays an error.
TEST(JsonStreamTest, RandomInputNeverCrashes) {
  uint32_t state = 12345;
  auto next = [&] {
    state = state * 1103515245u + 12345u;
    return state >> 16;
  };
  const std::string valid = R"({"id":1,"result":[{"rows":[{"name":"p\"0"}]}],"error":null})";
  int values = 0, errors = 0;
  for (int round = 0; round < 2000; ++round) {
    JsonStreamSplitter s(4096);
    bool failed = false;
    for (int chunk = 0; chunk < 8; ++chunk) {
      std::string bytes;
      if (next() % 2 == 0) {
        bytes = valid.substr(next() % valid.size());
      } else {
        for (uint32_t i = 0, n = next() % 32; i < n; ++i) {
          const char alphabet[] = "{}[]\",:\\ab1 \n";
          bytes.push_back(next() % 4 == 0 ? static_cast<char>(next() & 0xff)
                                          : alphabet[next() % (sizeof(alphabet) - 1)]);
        }
      }
      s.Append(bytes);
      while (true) {
        absl::StatusOr<std::optional<nlohmann::json>> v = s.Next();
        if (!v.ok()) {
          failed = true;
          ++errors;
          break;
        }
        EXPECT_FALSE(failed);
        if (!v->has_value()) break;
        ++values;
      }
      if (failed) {
        EXPECT_FALSE(s.Next().ok());
        break;
      }
    }
  }
  EXPECT_GT(values, 0);
  EXPECT_GT(errors, 0);
}

}  // namespace
}  // namespace pulse::southbound::ovsdb
