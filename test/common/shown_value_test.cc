// How outside values and server text are shown in errors (common/shown_value.h).
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

TEST(ShownValueTest, QuotedValueQuotesTheShownValue) {
  EXPECT_EQ(QuotedValue("up\nper"), "'up?per'");
  EXPECT_EQ(QuotedValue("abcdef", 3), "'abc...'");
}

// Server text keeps its words apart where a line broke, and never keeps a control or non-ASCII
// byte: a bidi override (U+202E) from a hostile server cannot reorder the terminal line.
TEST(ShownValueTest, ServerTextIsOneLineOfPrintableAscii) {
  EXPECT_EQ(ShownServerText("line 7:\nbad quote\n"), "line 7: bad quote");
  EXPECT_EQ(ShownServerText("a\r\n\tb  \n"), "a   b");
  EXPECT_EQ(ShownServerText("denied \xE2\x80\xAEgnp.exe"), "denied ???gnp.exe");
  EXPECT_EQ(ShownServerText(std::string("\x1b[31m\0", 6)), "?[31m?");
  EXPECT_EQ(ShownServerText(std::string(5000, 'x'), 10), "xxxxxxxxxx...");
  EXPECT_EQ(ShownServerText("\n"), "");
}

}  // namespace
}  // namespace sdp
