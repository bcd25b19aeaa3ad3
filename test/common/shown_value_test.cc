#include "common/shown_value.h"

#include <gtest/gtest.h>

#include <string>

namespace sdp {
namespace {

TEST(ShownValueTest, PrintableAsciiIsKept) { EXPECT_EQ(ShownValue("demo_v1 0.5"), "demo_v1 0.5"); }

// A line break cannot forge a second log line, a bidi override (U+202E, 3 bytes) cannot reorder
// the terminal, and a NUL or escape cannot reach it.
TEST(ShownValueTest, ControlAndNonAsciiBytesBecomeQuestionMarks) {
  EXPECT_EQ(ShownValue("a\nb\r\tc"), "a?b??c");
  EXPECT_EQ(ShownValue("x\xE2\x80\xAEy"), "x???y");
  EXPECT_EQ(ShownValue(std::string("\0\x1b[31m", 6)), "??[31m");
}

TEST(ShownValueTest, LongValuesAreCut) {
  EXPECT_EQ(ShownValue(std::string(1 << 20, 'z'), 8), "zzzzzzzz...");
  EXPECT_EQ(ShownValue("12345678", 8), "12345678");
  EXPECT_EQ(ShownValue("", 8), "");
}

}  // namespace
}  // namespace sdp
