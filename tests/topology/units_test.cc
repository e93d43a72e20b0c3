#include "topology/units.h"

#include "gtest/gtest.h"

namespace pulse::topology {
namespace {

TEST(UnitsTest, SuffixesAndSpellings) {
  EXPECT_DOUBLE_EQ(*ParseBitsPerSecond("100G"), 100e9);
  EXPECT_DOUBLE_EQ(*ParseBitsPerSecond("400Gbps"), 400e9);
  EXPECT_DOUBLE_EQ(*ParseBitsPerSecond(" 1.6t "), 1.6e12);
  EXPECT_DOUBLE_EQ(*ParseBitsPerSecond("800Mb/s"), 800e6);
  EXPECT_DOUBLE_EQ(*ParseBitsPerSecond("25k"), 25e3);
  EXPECT_DOUBLE_EQ(*ParseBitsPerSecond("12345"), 12345);
  EXPECT_DOUBLE_EQ(*ParseBitsPerSecond("0"), 0);  // range is the caller's rule
}

TEST(UnitsTest, NotARate) {
  for (const char* bad : {"", "G", "bps", "fast", "nan", "inf", "10X", "1e400"}) {
    EXPECT_FALSE(ParseBitsPerSecond(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace pulse::topology
