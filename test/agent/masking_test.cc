#include "masking.h"

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
  EXPECT_EQ(Mask("123", MaskStyle::kLast4), "123");
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
