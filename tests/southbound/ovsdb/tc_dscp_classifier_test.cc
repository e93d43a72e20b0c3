#include "southbound/ovsdb/tc_dscp_classifier.h"

#include <string>

#include "absl/strings/str_join.h"
#include "gtest/gtest.h"

namespace pulse::southbound::ovsdb {
namespace {

// Captured from `tc filter show dev qsv0 parent 1:` on this machine (iproute2 6.1) after
// adding DSCP 26 -> 1:2 and DSCP 48 -> 1:1.
constexpr absl::string_view kShow = R"(filter protocol ip pref 1 u32 chain 0 
filter protocol ip pref 1 u32 chain 0 fh 800: ht divisor 1 
filter protocol ip pref 1 u32 chain 0 fh 800::800 order 2048 key ht 800 bkt 0 *flowid 1:2 not_in_hw 
  match 00680000/00fc0000 at 0
filter protocol ip pref 1 u32 chain 0 fh 800::801 order 2049 key ht 800 bkt 0 *flowid 1:1 not_in_hw 
  match 00c00000/00fc0000 at 0
)";

TEST(TcDscpClassifierTest, ParsesCapturedOutput) {
  absl::StatusOr<std::vector<DscpFilter>> f = ParseTcFilterShow(kShow);
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_EQ(f->size(), 2u);
  EXPECT_EQ((*f)[0], (DscpFilter{26, 2}));
  EXPECT_EQ((*f)[1], (DscpFilter{48, 1}));
}

TEST(TcDscpClassifierTest, IgnoresOtherFiltersAndHexMinors) {
  absl::StatusOr<std::vector<DscpFilter>> f = ParseTcFilterShow(
      "filter parent 1: protocol ip pref 1 u32 chain 0 fh 800::800 order 2048 key ht 800 bkt 0 "
      "flowid 1:a\n  match 00680000/00fc0000 at 0\n"
      "filter parent 1: protocol ip pref 2 u32 chain 0 fh 801::800 order 2048 key ht 801 bkt 0 "
      "flowid 1:3\n  match 0a000001/ffffffff at 16\n");
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_EQ(f->size(), 1u);
  EXPECT_EQ((*f)[0], (DscpFilter{26, 10}));
  EXPECT_TRUE(ParseTcFilterShow("").ok());
}

TEST(TcDscpClassifierTest, MalformedOutputIsAnError) {
  EXPECT_FALSE(ParseTcFilterShow("filter parent 1: u32 flowid zz:q\n").ok());
  EXPECT_FALSE(ParseTcFilterShow("filter parent 1: u32 flowid 1:2\n  match nonsense\n").ok());
}

TEST(TcDscpClassifierTest, InstallRunsTheDocumentedCommands) {
  std::vector<std::string> calls;
  std::string show = std::string(kShow);
  TcDscpClassifier tc([&](const std::vector<std::string>& argv) -> absl::StatusOr<std::string> {
    calls.push_back(absl::StrJoin(argv, " "));
    return argv[2] == "show" ? show : std::string();
  });
  ASSERT_TRUE(tc.Install("p0", {{26, HtbClassMinorOfQueue(1)}, {48, 11}}).ok());
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[0], "tc filter show dev p0 parent 1:");
  EXPECT_EQ(calls[1], "tc filter del dev p0 parent 1: protocol ip prio 1");
  EXPECT_EQ(calls[2],
            "tc filter add dev p0 parent 1: protocol ip prio 1 u32 match ip dsfield 0x68 0xfc "
            "flowid 1:2");
  EXPECT_EQ(calls[3],
            "tc filter add dev p0 parent 1: protocol ip prio 1 u32 match ip dsfield 0xc0 0xfc "
            "flowid 1:b");
}

TEST(TcDscpClassifierTest, AuditReportsDifferences) {
  TcDscpClassifier tc([&](const std::vector<std::string>&) -> absl::StatusOr<std::string> {
    return std::string(kShow);
  });
  absl::StatusOr<std::vector<std::string>> same = tc.Audit("p0", {{26, 2}, {48, 1}});
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(same->empty());
  absl::StatusOr<std::vector<std::string>> diff = tc.Audit("p0", {{26, 3}, {24, 2}});
  ASSERT_TRUE(diff.ok());
  ASSERT_EQ(diff->size(), 3u);
  EXPECT_EQ((*diff)[0], "dev p0 dscp 24: want class 1:2, have none");
  EXPECT_EQ((*diff)[1], "dev p0 dscp 26: want class 1:3, have 1:2");
  EXPECT_EQ((*diff)[2], "dev p0 dscp 48: want class none, have 1:1");
}

TEST(TcDscpClassifierTest, RefusesBadInputWithoutRunningAnything) {
  int runs = 0;
  TcDscpClassifier tc([&](const std::vector<std::string>&) -> absl::StatusOr<std::string> {
    ++runs;
    return std::string();
  });
  EXPECT_FALSE(tc.Install("p0; rm -rf /", {{26, 2}}).ok());
  EXPECT_FALSE(tc.Install("p0", {{64, 2}}).ok());
  EXPECT_FALSE(tc.Install("p0", {{26, 0}}).ok());
  EXPECT_EQ(runs, 0);
}

TEST(TcDscpClassifierTest, SystemRunnerReportsFailures) {
  CommandRunner run = SystemCommandRunner();
  absl::StatusOr<std::string> ok = run({"echo", "hello"});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(*ok, "hello\n");
  absl::StatusOr<std::string> bad = run({"sh", "-c", "echo oops >&2; exit 3"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("oops"), absl::string_view::npos) << bad.status();
  EXPECT_FALSE(run({"/nonexistent/binary"}).ok());
}

}  // namespace
}  // namespace pulse::southbound::ovsdb
