#include "common/hex.h"

#include <gtest/gtest.h>

namespace sdp {
namespace {

TEST(Hex, EncodesLowercase) {
  const uint8_t bytes[] = {0x00, 0x0f, 0xa5, 0xff};
  EXPECT_EQ(HexEncode(bytes, 4), "000fa5ff");
  EXPECT_EQ(HexEncode(nullptr, 0), "");
  EXPECT_EQ(HexEncode(std::string_view("AZ")), "415a");
}

TEST(Hex, DecodesBothCasesAndRoundTrips) {
  std::vector<uint8_t> out;
  std::string err;
  ASSERT_TRUE(HexDecode("000fA5Ff", &out, &err)) << err;
  EXPECT_EQ(out, (std::vector<uint8_t>{0x00, 0x0f, 0xa5, 0xff}));
  ASSERT_TRUE(HexDecode("", &out, &err));
  EXPECT_TRUE(out.empty());
  std::vector<uint8_t> all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<uint8_t>(i);
  ASSERT_TRUE(HexDecode(HexEncode(all.data(), all.size()), &out, &err));
  EXPECT_EQ(out, all);
}

TEST(Hex, RejectsBadInputWithoutEchoingIt) {
  std::vector<uint8_t> out = {1, 2};
  std::string err;
  EXPECT_FALSE(HexDecode("abc", &out, &err));
  EXPECT_NE(err.find("odd length 3"), std::string::npos) << err;
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(HexDecode("00zz", &out, &err));
  EXPECT_NE(err.find("offset 2"), std::string::npos) << err;
  EXPECT_EQ(err.find("zz"), std::string::npos) << err;
  EXPECT_FALSE(HexDecode("0x00", &out, &err));
  EXPECT_NE(err.find("offset 1"), std::string::npos) << err;
  EXPECT_FALSE(HexDecode("00 11", &out, &err));
  EXPECT_FALSE(HexDecode(std::string_view("0\0", 2), &out, &err));
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace sdp
