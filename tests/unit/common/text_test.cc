#include "agent/common/text.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

namespace leakwatch::internal {
namespace {

TEST(TextParseU64, ParsesWholeDecimalNumbers) {
  EXPECT_EQ(ParseU64("0"), 0u);
  EXPECT_EQ(ParseU64("123"), 123u);
  EXPECT_EQ(ParseU64("18446744073709551615"), std::numeric_limits<uint64_t>::max());
}

TEST(TextParseU64, RejectsEverythingElse) {
  EXPECT_EQ(ParseU64(""), std::nullopt);
  EXPECT_EQ(ParseU64("18446744073709551616"), std::nullopt);  // overflow
  EXPECT_EQ(ParseU64("-1"), std::nullopt);
  EXPECT_EQ(ParseU64("+1"), std::nullopt);
  EXPECT_EQ(ParseU64(" 1"), std::nullopt);
  EXPECT_EQ(ParseU64("1 "), std::nullopt);
  EXPECT_EQ(ParseU64("12a"), std::nullopt);
  EXPECT_EQ(ParseU64("0x10"), std::nullopt);
  EXPECT_EQ(ParseU64("1.5"), std::nullopt);
}

TEST(TextParseI64, ParsesSignedNumbers) {
  EXPECT_EQ(ParseI64("-12"), -12);
  EXPECT_EQ(ParseI64("42"), 42);
  EXPECT_EQ(ParseI64("9223372036854775807"), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(ParseI64("-9223372036854775808"), std::numeric_limits<int64_t>::min());
}

TEST(TextParseI64, RejectsEverythingElse) {
  EXPECT_EQ(ParseI64(""), std::nullopt);
  EXPECT_EQ(ParseI64("-"), std::nullopt);
  EXPECT_EQ(ParseI64("9223372036854775808"), std::nullopt);
  EXPECT_EQ(ParseI64("1.5"), std::nullopt);
  EXPECT_EQ(ParseI64("7x"), std::nullopt);
}

TEST(TextParseDecimal, ParsesFixedPointNumbers) {
  EXPECT_EQ(ParseDecimal("0.25"), 0.25);
  EXPECT_EQ(ParseDecimal("12"), 12.0);
  EXPECT_EQ(ParseDecimal("0.00"), 0.0);
  EXPECT_EQ(ParseDecimal("1234.5"), 1234.5);
}

TEST(TextParseDecimal, RejectsJunk) {
  EXPECT_EQ(ParseDecimal(""), std::nullopt);
  EXPECT_EQ(ParseDecimal("abc"), std::nullopt);
  EXPECT_EQ(ParseDecimal("1.2.3"), std::nullopt);
  EXPECT_EQ(ParseDecimal("1e5"), std::nullopt);  // fixed format only
  EXPECT_EQ(ParseDecimal("nan"), std::nullopt);
  EXPECT_EQ(ParseDecimal("inf"), std::nullopt);
  EXPECT_EQ(ParseDecimal("-0.5"), std::nullopt);
  EXPECT_EQ(ParseDecimal(".5"), std::nullopt);
  EXPECT_EQ(ParseDecimal("0.5 "), std::nullopt);
}

TEST(TextTrimSpace, TrimsSpacesTabsAndNewlinesAtBothEnds) {
  EXPECT_EQ(TrimSpace("  a b \t\r\n"), "a b");
  EXPECT_EQ(TrimSpace("a"), "a");
  EXPECT_EQ(TrimSpace(""), "");
  EXPECT_EQ(TrimSpace(" \t\n "), "");
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::string_view line;
  while (NextLine(&text, &line)) lines.push_back(line);
  return lines;
}

std::vector<std::string_view> Fields(std::string_view text) {
  std::vector<std::string_view> fields;
  std::string_view field;
  while (NextField(&text, &field)) fields.push_back(field);
  return fields;
}

TEST(TextNextLine, SplitsLinesAndCountsALastLineWithoutNewline) {
  EXPECT_EQ(Lines("a\nb"), (std::vector<std::string_view>{"a", "b"}));
  EXPECT_EQ(Lines("a\n"), (std::vector<std::string_view>{"a"}));
  EXPECT_EQ(Lines("\n\nc\n"), (std::vector<std::string_view>{"", "", "c"}));
  EXPECT_TRUE(Lines("").empty());
}

TEST(TextNextField, SplitsOnRunsOfWhitespace) {
  EXPECT_EQ(Fields("  a\tb\n c  "), (std::vector<std::string_view>{"a", "b", "c"}));
  EXPECT_EQ(Fields("Max open files   1024"), (std::vector<std::string_view>{"Max", "open", "files", "1024"}));
  EXPECT_TRUE(Fields("").empty());
  EXPECT_TRUE(Fields(" \t\n").empty());
}

TEST(TextNextField, LeavesTheRestOfTheText) {
  std::string_view text = "one two  three";
  std::string_view field;
  ASSERT_TRUE(NextField(&text, &field));
  EXPECT_EQ(field, "one");
  EXPECT_EQ(text, " two  three");
}

}  // namespace
}  // namespace leakwatch::internal
