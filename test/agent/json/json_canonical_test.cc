#include "agent/json/json_canonical.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace sdp {
namespace {

double Bits(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

TEST(JsonCanonicalTest, Rfc8785NumberExamples) {
  // RFC 8785 Appendix B (IEEE 754 bit patterns -> ECMAScript text).
  EXPECT_EQ(CanonicalNumber(Bits(0x0000000000000000)), "0");
  EXPECT_EQ(CanonicalNumber(Bits(0x8000000000000000)), "0");
  EXPECT_EQ(CanonicalNumber(Bits(0x0000000000000001)), "5e-324");
  EXPECT_EQ(CanonicalNumber(Bits(0x8000000000000001)), "-5e-324");
  EXPECT_EQ(CanonicalNumber(Bits(0x7fefffffffffffff)), "1.7976931348623157e+308");
  EXPECT_EQ(CanonicalNumber(Bits(0xffefffffffffffff)), "-1.7976931348623157e+308");
  EXPECT_EQ(CanonicalNumber(Bits(0x4340000000000000)), "9007199254740992");
  EXPECT_EQ(CanonicalNumber(Bits(0xc340000000000000)), "-9007199254740992");
  EXPECT_EQ(CanonicalNumber(Bits(0x4430000000000000)), "295147905179352830000");
  EXPECT_EQ(CanonicalNumber(Bits(0x44b52d02c7e14af5)), "9.999999999999997e+22");
  EXPECT_EQ(CanonicalNumber(Bits(0x44b52d02c7e14af6)), "1e+23");
  EXPECT_EQ(CanonicalNumber(Bits(0x44b52d02c7e14af7)), "1.0000000000000001e+23");
  EXPECT_EQ(CanonicalNumber(Bits(0x444b1ae4d6e2ef4e)), "999999999999999700000");
  EXPECT_EQ(CanonicalNumber(Bits(0x444b1ae4d6e2ef4f)), "999999999999999900000");
  EXPECT_EQ(CanonicalNumber(Bits(0x444b1ae4d6e2ef50)), "1e+21");
  EXPECT_EQ(CanonicalNumber(Bits(0x3eb0c6f7a0b5ed8c)), "9.999999999999997e-7");
  EXPECT_EQ(CanonicalNumber(Bits(0x3eb0c6f7a0b5ed8d)), "0.000001");
  EXPECT_EQ(CanonicalNumber(Bits(0x41b3de4355555553)), "333333333.3333332");
  EXPECT_EQ(CanonicalNumber(Bits(0x41b3de4355555554)), "333333333.33333325");
  EXPECT_EQ(CanonicalNumber(Bits(0x41b3de4355555555)), "333333333.3333333");
  EXPECT_EQ(CanonicalNumber(Bits(0x41b3de4355555556)), "333333333.3333334");
  EXPECT_EQ(CanonicalNumber(Bits(0x41b3de4355555557)), "333333333.33333343");
  EXPECT_EQ(CanonicalNumber(Bits(0xbecbf647612f3696)), "-0.0000033333333333333333");
  EXPECT_EQ(CanonicalNumber(Bits(0x43143ff3c1cb0959)), "1424953923781206.2");
}

TEST(JsonCanonicalTest, Rfc8785SortingAndStrings) {
  std::string out, err;
  // RFC 8785 3.2.3: sorting by UTF-16 code units puts U+1F600 (surrogates D83D DE00) before
  // U+FB33, although its UTF-8 bytes sort after.
  ASSERT_TRUE(CanonicalJson(
      "{\"\\ufb33\": 1, \"\\ud83d\\ude00\": 2, \"\\u20ac\": 3, \"1\": 4, \"\\u0080\": 5, "
      "\"\\r\": 6}",
      &out, &err));
  EXPECT_EQ(out,
            "{\"\\r\":6,\"1\":4,\"\xC2\x80\":5,\"\xE2\x82\xAC\":3,\"\xF0\x9F\x98\x80\":2,"
            "\"\xEF\xAC\xB3\":1}");
  ASSERT_TRUE(
      CanonicalJson(" [ 1.0 , \"\\u0041\\u001f\\/\" , {\"b\":null,\"a\":[]} ] ", &out, &err));
  EXPECT_EQ(out, "[1,\"A\\u001f/\",{\"a\":[],\"b\":null}]");
  EXPECT_FALSE(CanonicalJson("{", &out, &err));
}

}  // namespace
}  // namespace sdp
