// NumericToFixed against numeric's storage format, built here the way numeric.c builds it (short
// and long headers, base-10000 digits aligned on the decimal point), and against a decimal-string
// reference: exact rounding, clamping, special values, hostile bytes.
#include "common/dp/fixed_point.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace sdp::dp {
namespace {

// The storage image (after the varlena header) of a decimal like "-123.4500", in short or long
// form.
std::vector<uint8_t> Image(const std::string& text, bool short_form) {
  bool negative = text[0] == '-';
  std::string s = negative ? text.substr(1) : text;
  const size_t point = s.find('.');
  std::string ip = point == std::string::npos ? s : s.substr(0, point);
  std::string fp = point == std::string::npos ? "" : s.substr(point + 1);
  const int dscale = static_cast<int>(fp.size());
  while (ip.size() % 4 != 0) ip.insert(0, "0");
  while (fp.size() % 4 != 0) fp.push_back('0');
  std::vector<uint16_t> digits;
  for (size_t i = 0; i < ip.size(); i += 4)
    digits.push_back(static_cast<uint16_t>(std::stoi(ip.substr(i, 4))));
  for (size_t i = 0; i < fp.size(); i += 4)
    digits.push_back(static_cast<uint16_t>(std::stoi(fp.substr(i, 4))));
  int weight = static_cast<int>(ip.size() / 4) - 1;
  while (!digits.empty() && digits.front() == 0) {
    digits.erase(digits.begin());
    --weight;
  }
  while (!digits.empty() && digits.back() == 0) digits.pop_back();
  if (digits.empty()) {
    weight = 0;
    negative = false;
  }
  std::vector<uint8_t> out;
  auto put16 = [&](uint16_t v) {
    uint8_t b[2];
    std::memcpy(b, &v, 2);
    out.insert(out.end(), b, b + 2);
  };
  if (short_form) {
    uint16_t h = 0x8000 | (negative ? 0x2000 : 0) | static_cast<uint16_t>(dscale << 7) |
                 (weight < 0 ? 0x0040 : 0) | static_cast<uint16_t>(weight & 0x003F);
    put16(h);
  } else {
    put16(static_cast<uint16_t>((negative ? 0x4000 : 0) | dscale));
    put16(static_cast<uint16_t>(static_cast<int16_t>(weight)));
  }
  for (uint16_t d : digits) put16(d);
  return out;
}

// round(text * 10^scale) half away from zero, by decimal string arithmetic; text has at most 30
// integer digits.
__int128 Reference(const std::string& text, int scale) {
  const bool negative = text[0] == '-';
  std::string s = negative ? text.substr(1) : text;
  const size_t point = s.find('.');
  std::string ip = point == std::string::npos ? s : s.substr(0, point);
  std::string fp = point == std::string::npos ? "" : s.substr(point + 1);
  while (fp.size() < static_cast<size_t>(scale) + 1) fp.push_back('0');
  __int128 v = 0;
  for (char c : ip + fp.substr(0, scale)) v = v * 10 + (c - '0');
  if (fp[scale] >= '5') v += 1;
  return negative ? -v : v;
}

int64_t Fixed(const std::string& text, int scale, bool short_form, int64_t lower = INT64_MIN,
              int64_t upper = INT64_MAX) {
  const std::vector<uint8_t> img = Image(text, short_form);
  int64_t out = 12345;
  EXPECT_TRUE(NumericToFixed(img.data(), img.size(), scale, lower, upper, &out)) << text;
  return out;
}

TEST(NumericToFixedTest, ExactValuesAtTheGranularity) {
  for (bool short_form : {true, false}) {
    EXPECT_EQ(Fixed("12345.67", 2, short_form), 1234567);
    EXPECT_EQ(Fixed("-12345.67", 2, short_form), -1234567);
    EXPECT_EQ(Fixed("0", 2, short_form), 0);
    EXPECT_EQ(Fixed("0.01", 2, short_form), 1);
    EXPECT_EQ(Fixed("100000000", 0, short_form), 100000000);
    EXPECT_EQ(Fixed("99999999999999.99", 2, short_form), 9999999999999999);
    // 17 significant digits: exact here, not through a double.
    EXPECT_EQ(Fixed("12345678901234.567", 3, short_form), 12345678901234567);
    EXPECT_EQ(Fixed("0.000000000000000001", 18, short_form), 1);
  }
}

TEST(NumericToFixedTest, RoundsHalvesAwayFromZeroLikeNumericRound) {
  for (bool short_form : {true, false}) {
    EXPECT_EQ(Fixed("2.345", 2, short_form), 235);
    EXPECT_EQ(Fixed("-2.345", 2, short_form), -235);
    EXPECT_EQ(Fixed("2.3449999", 2, short_form), 234);
    EXPECT_EQ(Fixed("0.5", 0, short_form), 1);
    EXPECT_EQ(Fixed("0.49999999", 0, short_form), 0);
    EXPECT_EQ(Fixed("1.00005", 4, short_form),
              10001);  // the half sits in the next base-10000 digit
    EXPECT_EQ(Fixed("1.00004999", 4, short_form), 10000);
    EXPECT_EQ(Fixed("0.00001", 0, short_form), 0);
    EXPECT_EQ(Fixed("9999.9999", 0, short_form), 10000);
  }
}

TEST(NumericToFixedTest, ClampsAndSaturatesWithoutOverflow) {
  EXPECT_EQ(Fixed("500", 2, true, 0, 20000), 20000);
  EXPECT_EQ(Fixed("-5", 2, true, 0, 20000), 0);
  EXPECT_EQ(Fixed("123456789012345678901234567890", 2, false, -100, 100), 100);
  EXPECT_EQ(Fixed("-123456789012345678901234567890", 18, false, -100, 100), -100);
  // 10^400: far beyond int128, saturates to the upper bound.
  std::vector<uint8_t> huge = Image("1", false);
  int16_t w = 100;
  std::memcpy(huge.data() + 2, &w, 2);
  int64_t out = 0;
  ASSERT_TRUE(NumericToFixed(huge.data(), huge.size(), 18, -7, 7, &out));
  EXPECT_EQ(out, 7);
  w = -100;  // 10^-400: rounds to zero
  std::memcpy(huge.data() + 2, &w, 2);
  ASSERT_TRUE(NumericToFixed(huge.data(), huge.size(), 18, -7, 7, &out));
  EXPECT_EQ(out, 0);
}

TEST(NumericToFixedTest, SpecialValues) {
  const uint16_t nan = 0xC000, pinf = 0xD000, ninf = 0xF000, bogus = 0xE000;
  int64_t out = 0;
  ASSERT_TRUE(NumericToFixed(reinterpret_cast<const uint8_t*>(&nan), 2, 2, -5, 5, &out));
  EXPECT_EQ(out, -5);
  ASSERT_TRUE(NumericToFixed(reinterpret_cast<const uint8_t*>(&pinf), 2, 2, -5, 5, &out));
  EXPECT_EQ(out, 5);
  ASSERT_TRUE(NumericToFixed(reinterpret_cast<const uint8_t*>(&ninf), 2, 2, -5, 5, &out));
  EXPECT_EQ(out, -5);
  EXPECT_FALSE(NumericToFixed(reinterpret_cast<const uint8_t*>(&bogus), 2, 2, -5, 5, &out));
}

TEST(NumericToFixedTest, RefusesMalformedBytes) {
  int64_t out = 99;
  const uint8_t empty[1] = {0};
  EXPECT_FALSE(NumericToFixed(empty, 0, 2, 0, 1, &out));
  EXPECT_FALSE(NumericToFixed(empty, 1, 2, 0, 1, &out));
  std::vector<uint8_t> odd = Image("12.5", true);
  odd.push_back(0);
  EXPECT_FALSE(NumericToFixed(odd.data(), odd.size(), 2, 0, 1000, &out));
  std::vector<uint8_t> big_digit = Image("1", true);
  big_digit[2] = 0x10;  // digit 10000
  big_digit[3] = 0x27;
  EXPECT_FALSE(NumericToFixed(big_digit.data(), big_digit.size(), 2, 0, 1000, &out));
  std::vector<uint8_t> truncated_long = {0x00, 0x00, 0x01};
  EXPECT_FALSE(NumericToFixed(truncated_long.data(), truncated_long.size(), 2, 0, 1, &out));
  EXPECT_FALSE(NumericToFixed(Image("1", true).data(), 4, 19, 0, 1, &out));  // scale out of range
  EXPECT_EQ(out, 99);
}

// Random decimals of up to 14 integer and 12 fractional digits, every scale: both forms agree
// with the decimal-string reference.
TEST(NumericToFixedTest, AgreesWithDecimalReference) {
  std::mt19937_64 rng(20261207);
  for (int n = 0; n < 20000; ++n) {
    std::string text = (rng() % 2) ? "-" : "";
    const int int_digits = 1 + static_cast<int>(rng() % 14);
    const int frac_digits = static_cast<int>(rng() % 13);
    for (int i = 0; i < int_digits; ++i) text.push_back(static_cast<char>('0' + rng() % 10));
    if (frac_digits > 0) {
      text.push_back('.');
      for (int i = 0; i < frac_digits; ++i) text.push_back(static_cast<char>('0' + rng() % 10));
    }
    const int scale = static_cast<int>(rng() % 5);
    const __int128 expected = Reference(text, scale);
    EXPECT_EQ(Fixed(text, scale, true), static_cast<int64_t>(expected))
        << text << " scale " << scale;
    EXPECT_EQ(Fixed(text, scale, false), static_cast<int64_t>(expected))
        << text << " scale " << scale;
  }
}

}  // namespace
}  // namespace sdp::dp
