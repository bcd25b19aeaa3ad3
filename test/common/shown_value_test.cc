// How outside values and server text are shown in errors (common/shown_value.h).
#include "common/shown_value.h"

#include <gtest/gtest.h>

#include <string>

#include "common/text.h"

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

// The server's rule (also sdp._echo in SQL): text in any script stays readable, anything that
// could forge a line or reorder the terminal does not.
TEST(EchoedValueTest, KeepsTextAndReplacesControlsSeparatorsAndBidi) {
  EXPECT_EQ(EchoedValue("customer_id"), "customer_id");
  EXPECT_EQ(EchoedValue("Müller-Łukasz 東京"), "Müller-Łukasz 東京");
  EXPECT_EQ(EchoedValue("a\nb\rc\td"), "a?b?c?d");
  EXPECT_EQ(EchoedValue("del\x7f"), "del?");
  EXPECT_EQ(EchoedValue("c1\xc2\x85"), "c1?");                        // U+0085 NEXT LINE
  EXPECT_EQ(EchoedValue("ls\xe2\x80\xa8ps\xe2\x80\xa9"), "ls?ps?");   // U+2028, U+2029
  EXPECT_EQ(EchoedValue("evil\xe2\x80\xaegnp.exe"), "evil?gnp.exe");  // U+202E RLO
  EXPECT_EQ(EchoedValue("\xe2\x81\xa6iso\xe2\x81\xa9"), "?iso?");     // U+2066, U+2069
  EXPECT_EQ(EchoedValue("\xe2\x80\x94"), "\xe2\x80\x94");             // U+2014 EM DASH stays
}

TEST(EchoedValueTest, CutsAtSixtyFourCharactersNotBytes) {
  std::string longer;
  for (int i = 0; i < 70; ++i) longer += "\xc3\xa9";  // é, two bytes each
  std::string expected;
  for (int i = 0; i < 64; ++i) expected += "\xc3\xa9";
  EXPECT_EQ(EchoedValue(longer), expected + "\xe2\x80\xa6");
  EXPECT_EQ(EchoedValue(std::string(64, 'x')), std::string(64, 'x'));
  EXPECT_EQ(EchoedValue(std::string(65, 'x')), std::string(64, 'x') + "\xe2\x80\xa6");
}

TEST(EchoedValueTest, TruncatedMultiByteSequenceNeverReadsPastTheEnd) {
  EXPECT_EQ(EchoedValue("ab\xe2\x80"), "ab\xe2\x80");  // kept as bytes, nothing read beyond
  EXPECT_EQ(EchoedValue("\xf0"), "\xf0");
  EXPECT_EQ(EchoedValue(""), "");
}

// Column lists in errors (agent and server) name header cells, which come from outside.
TEST(EchoedValueTest, ColumnListsEchoEveryName) {
  EXPECT_EQ(ColumnList({"id", "na\xe2\x80\xaeme", "x\ny"}), "id, na?me, x?y");
  std::vector<std::string> many(52, "c");
  EXPECT_EQ(ColumnList(many, 50).substr(ColumnList(many, 50).size() - 14), ", ... (2 more)");
}

}  // namespace
}  // namespace sdp
