// The shared text helpers (common/text.h).
#include "common/text.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sdp {
namespace {

TEST(TextTest, EqualsIgnoreCaseFoldsAsciiOnly) {
  EXPECT_TRUE(EqualsIgnoreCase("FF3-1", "ff3-1"));
  EXPECT_TRUE(EqualsIgnoreCase("", ""));
  EXPECT_FALSE(EqualsIgnoreCase("keep", "kee"));
  EXPECT_FALSE(EqualsIgnoreCase("a", "b"));
  // Bytes outside A-Z are compared as they are (no locale, no UTF-8 case folding).
  EXPECT_FALSE(EqualsIgnoreCase("\xC3\x84", "\xC3\xA4"));
  EXPECT_FALSE(EqualsIgnoreCase("[", "{"));  // 0x5B and 0x7B differ by the case bit only
}

TEST(TextTest, StartsWithIgnoreCase) {
  EXPECT_TRUE(StartsWithIgnoreCase("HTTPS://host", "https://"));
  EXPECT_TRUE(StartsWithIgnoreCase("text/CSV; charset=utf-8", "text/csv"));
  EXPECT_TRUE(StartsWithIgnoreCase("x", ""));
  EXPECT_FALSE(StartsWithIgnoreCase("http", "https://"));
}

TEST(TextTest, TrimAsciiSpace) {
  EXPECT_EQ(TrimAsciiSpace(" \t\r\n\v\f a b \r\n"), "a b");
  EXPECT_EQ(TrimAsciiSpace("   "), "");
  EXPECT_EQ(TrimAsciiSpace(""), "");
  EXPECT_EQ(TrimAsciiSpace("\xC2\xA0x"), "\xC2\xA0x");  // no-break space is not ASCII
}

TEST(TextTest, CanonicalUuid) {
  EXPECT_TRUE(IsCanonicalUuid("0812d48d-bab6-49d2-a5ec-77177acca612"));
  EXPECT_TRUE(IsCanonicalUuid("0812D48D-BAB6-49D2-A5EC-77177ACCA612"));
  EXPECT_FALSE(IsCanonicalUuid("0812d48dbab649d2a5ec77177acca612"));        // no dashes
  EXPECT_FALSE(IsCanonicalUuid("{0812d48d-bab6-49d2-a5ec-77177acca612}"));  // braces
  EXPECT_FALSE(IsCanonicalUuid("0812d48d-bab6-49d2-a5ec-77177acca61g"));
  EXPECT_FALSE(IsCanonicalUuid("0812d48d-bab6-49d2-a5ec-77177acca612 "));
  EXPECT_FALSE(IsCanonicalUuid("0812d48d-bab6-49d2-a5ec-77177acca6'"));
  EXPECT_FALSE(IsCanonicalUuid(""));
}

TEST(TextTest, SplitOnKeepsEmptyPieces) {
  EXPECT_EQ(SplitOn("a,,b", ','), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(SplitOn("", ','), (std::vector<std::string>{""}));
  EXPECT_EQ(SplitOn("a,", ','), (std::vector<std::string>{"a", ""}));
}

TEST(TextTest, ColumnListIsCut) {
  EXPECT_EQ(ColumnList({}), "");
  EXPECT_EQ(ColumnList({"id", "email"}), "id, email");
  EXPECT_EQ(ColumnList({"a", "b", "c", "d"}, 2), "a, b, ... (2 more)");
  EXPECT_EQ(ColumnList({"a", "b"}, 2), "a, b");
}

}  // namespace
}  // namespace sdp
