#include "common/pii/fold.h"

#include <gtest/gtest.h>

#include <string>

namespace sdp::pii {
namespace {

TEST(FoldObfuscation, AsciiIsUnchanged) {
  EXPECT_EQ(FoldObfuscation(""), "");
  EXPECT_EQ(FoldObfuscation("jane.doe@example.com, 4111 1111 1111 1111"),
            "jane.doe@example.com, 4111 1111 1111 1111");
}

TEST(FoldObfuscation, FullWidthFormsBecomeAscii) {
  // "４１１１－１１１１" and "ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ", "＋４４"
  EXPECT_EQ(FoldObfuscation("\uFF14\uFF11\uFF11\uFF11\uFF0D\uFF11\uFF11\uFF11\uFF11"), "4111-1111");
  EXPECT_EQ(FoldObfuscation("\uFF4A\uFF41\uFF4E\uFF45\uFF20\uFF45\uFF58\uFF41\uFF4D\uFF50\uFF4C"
                            "\uFF45\uFF0E\uFF43\uFF4F\uFF4D"),
            "jane@example.com");
  EXPECT_EQ(FoldObfuscation("\uFF0B\uFF14\uFF14"), "+44");
  // The ends of the block: U+FF01 '!' and U+FF5E '~'; U+FF5F is outside it.
  EXPECT_EQ(FoldObfuscation("\uFF01\uFF5E"), "!~");
  EXPECT_EQ(FoldObfuscation("\uFF5F"), "\uFF5F");
  // Ideographic and half-width full stops, small commercial at.
  EXPECT_EQ(FoldObfuscation("a\uFE6Bb\u3002c\uFF61d"), "a@b.c.d");
}

TEST(FoldObfuscation, UnicodeSpacesBecomeSpaces) {
  EXPECT_EQ(
      FoldObfuscation("4111\u00A01111\u20071111\u202F1111\u30001\u205F2\u16803\u20004\u200A5"),
      "4111 1111 1111 1111 1 2 3 4 5");
}

TEST(FoldObfuscation, InvisibleCharactersAreRemoved) {
  EXPECT_EQ(FoldObfuscation("jane\u200B.doe\u200C@\u200Dexample\u2060.\uFEFFcom\u00AD"),
            "jane.doe@example.com");
  EXPECT_EQ(FoldObfuscation("12\u20613\u2064-45\u180E-6789"), "123-45-6789");
}

TEST(FoldObfuscation, DashesBecomeHyphenMinus) {
  EXPECT_EQ(FoldObfuscation("123\u201045\u20116789"), "123-45-6789");
  EXPECT_EQ(FoldObfuscation("a\u2012b\u2013c\u2014d\u2015e\u2212f\u2043g\uFE58h\uFE63i"),
            "a-b-c-d-e-f-g-h-i");
}

TEST(FoldObfuscation, OtherUnicodeIsKept) {
  EXPECT_EQ(FoldObfuscation("Ren\u00E9e M\u00FCller \u4E2D\u6587 \U0001F600"),
            "Ren\u00E9e M\u00FCller \u4E2D\u6587 \U0001F600");
}

TEST(FoldObfuscation, IllFormedUtf8IsCopiedByteForByte) {
  const std::string cases[] = {
      std::string("\xC0\xAF"),          // overlong '/'
      std::string("\xE0\x80\xAF"),      // overlong, 3 bytes
      std::string("\xED\xA0\x80"),      // a surrogate
      std::string("\xF4\x90\x80\x80"),  // above U+10FFFF
      std::string("\xE2\x80"),          // truncated U+200B
      std::string("\xEF\xBC"),          // truncated full-width form
      std::string("\xFF\xFE\x80"),      // never valid
      std::string("a\0b", 3),           // NUL inside
  };
  for (const std::string& c : cases) {
    EXPECT_EQ(FoldObfuscation(c), c) << testing::PrintToString(c);
  }
  // A stray byte before a real full-width digit does not swallow it.
  EXPECT_EQ(FoldObfuscation(std::string("\xE2") + "\uFF11"), std::string("\xE2") + "1");
}

TEST(FoldObfuscation, HugeInputIsLinearAndExact) {
  std::string big;
  for (int i = 0; i < 200000; ++i) big += "\uFF11\u200B ";  // 7 bytes -> "1 "
  const std::string folded = FoldObfuscation(big);
  ASSERT_EQ(folded.size(), 400000u);
  EXPECT_EQ(folded.substr(0, 6), "1 1 1 ");
}

}  // namespace
}  // namespace sdp::pii

namespace sdp::pii {
namespace {
// Found by the pii_scan fuzzer: an ill-formed byte next to a removed zero-width space joined the
// bytes after it into a new zero-width space; folding must still be idempotent and never longer.
TEST(FoldObfuscationTest, IdempotentOnIllFormedBytesAroundInvisibles) {
  const std::string in(
      "\xEF\xBC\x94"
      "111111"
      "\xE2\x80\xE2\x80\x8B\x8B"
      "1111",
      19);
  const std::string once = FoldObfuscation(in);
  EXPECT_EQ(FoldObfuscation(once), once);
  EXPECT_LE(once.size(), in.size());
}
}  // namespace
}  // namespace sdp::pii
