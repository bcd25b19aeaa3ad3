#include "agent/tokenize/masking.h"

#include <gtest/gtest.h>

namespace sdp {
namespace {

std::string Mask(std::string_view v, MaskStyle s) {
  std::string out;
  MaskValue(v, s, &out);
  return out;
}

TEST(MaskingTest, EmailKeepsFirstCharacterAndDomain) {
  EXPECT_EQ(Mask("john.doe@example.com", MaskStyle::kEmail), "j***@example.com");
  EXPECT_EQ(Mask("é@exämple.org", MaskStyle::kEmail), "é***@exämple.org");
  EXPECT_EQ(Mask("not-an-email", MaskStyle::kEmail), "***-**-*****");
}

TEST(MaskingTest, NumbersKeepLastFourDigitsAndSeparators) {
  EXPECT_EQ(Mask("123-45-6789", MaskStyle::kLast4), "***-**-6789");
  EXPECT_EQ(Mask("4111 1111 1111 1234", MaskStyle::kLast4), "**** **** **** 1234");
  EXPECT_EQ(Mask("(555) 010-9999", MaskStyle::kLast4), "(***) ***-9999");
}

// Attack: a short value (PIN, CVV) masked with last4 used to come back whole ("1234" -> "1234").
TEST(MaskingTest, Last4NeverRevealsMoreThanHalfOfTheDigits) {
  EXPECT_EQ(Mask("1234", MaskStyle::kLast4), "**34");
  EXPECT_EQ(Mask("123", MaskStyle::kLast4), "**3");
  EXPECT_EQ(Mask("12", MaskStyle::kLast4), "*2");
  EXPECT_EQ(Mask("7", MaskStyle::kLast4), "*");
  EXPECT_EQ(Mask("12-345", MaskStyle::kLast4), "**-*45");
  EXPECT_EQ(Mask("1234567", MaskStyle::kLast4), "****567");
  EXPECT_EQ(Mask("12345678", MaskStyle::kLast4), "****5678");
  EXPECT_EQ(Mask("0042", MaskStyle::kAuto), "**42");
}

// Attack: a mask starting with TAB or CR is read as a formula by spreadsheets that strip them.
TEST(MaskingTest, TabAndCarriageReturnLeadInsAreGuarded) {
  EXPECT_EQ(Mask("\t555 0100", MaskStyle::kLast4), "**** *100");
  EXPECT_EQ(Mask("\r555 0100", MaskStyle::kLast4), "**** *100");
  EXPECT_EQ(Mask("\tAnn", MaskStyle::kInitial), "*A**");
  EXPECT_EQ(Mask("\rx@evil.example", MaskStyle::kEmail), "****@evil.example");
  EXPECT_EQ(Mask("\t=1+1", MaskStyle::kFull), "*=*+*");
  for (const char* lead : {"=", "+", "-", "@", "\t", "\r"}) {
    for (MaskStyle style : {MaskStyle::kAuto, MaskStyle::kEmail, MaskStyle::kLast4,
                            MaskStyle::kInitial, MaskStyle::kFull}) {
      const std::string mask = Mask(std::string(lead) + "12 34", style);
      ASSERT_FALSE(mask.empty());
      EXPECT_NE(mask[0], lead[0]) << "lead-in " << static_cast<int>(lead[0]);
    }
  }
}

TEST(MaskingTest, NamesKeepInitialsInAnyScript) {
  EXPECT_EQ(Mask("Mary Ann", MaskStyle::kInitial), "M*** A**");
  EXPECT_EQ(Mask("Zoë", MaskStyle::kInitial), "Z**");
  EXPECT_EQ(Mask("山田 太郎", MaskStyle::kInitial), "山* 太*");
}

TEST(MaskingTest, AutoPicksByShapeAndNeverStartsWithAFormula) {
  EXPECT_EQ(Mask("a@b.c", MaskStyle::kAuto), "a***@b.c");
  EXPECT_EQ(Mask("+1 555 010 9999", MaskStyle::kAuto), "** *** *** 9999");
  EXPECT_EQ(Mask("Alice", MaskStyle::kAuto), "A****");
  EXPECT_EQ(Mask("=cmd()", MaskStyle::kFull), "****()");
  EXPECT_EQ(Mask("@home", MaskStyle::kInitial), "*h***");
  EXPECT_EQ(Mask("", MaskStyle::kAuto), "");
}

}  // namespace
}  // namespace sdp
