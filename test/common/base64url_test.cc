#include "common/base64url.h"

#include <gtest/gtest.h>

#include <random>

#include "agent/crypto/secret_buffer.h"  // the buffer the agent decodes keys into

namespace sdp {
namespace {

std::string Decode(std::string_view in) {
  std::vector<uint8_t> out;
  std::string err;
  EXPECT_TRUE(Base64UrlDecode(in, &out, &err)) << in << ": " << err;
  return std::string(out.begin(), out.end());
}

std::string DecodeError(std::string_view in) {
  std::vector<uint8_t> out = {1};
  std::string err;
  EXPECT_FALSE(Base64UrlDecode(in, &out, &err)) << in;
  EXPECT_TRUE(out.empty());
  SecretBuffer secret(3);
  std::string err2;
  EXPECT_FALSE(Base64UrlDecode(in, &secret, &err2)) << in;
  EXPECT_TRUE(secret.empty());
  EXPECT_EQ(err, err2);
  return err;
}

TEST(Base64Url, Rfc4648Vectors) {
  // RFC 4648 section 10 (the alphabets agree on these).
  const std::pair<std::string, std::string> cases[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : cases) {
    EXPECT_EQ(Base64UrlEncode(plain), encoded);
    EXPECT_EQ(Decode(encoded), plain);
    std::string unpadded = encoded.substr(0, encoded.find('='));
    EXPECT_EQ(Decode(unpadded), plain);
  }
}

TEST(Base64Url, UsesUrlSafeAlphabet) {
  const uint8_t bytes[] = {0xfb, 0xff, 0xbf};
  EXPECT_EQ(Base64UrlEncode(bytes, 3), "-_-_");
  EXPECT_EQ(Decode("-_-_"), std::string("\xfb\xff\xbf"));
}

TEST(Base64Url, RandomRoundTrip) {
  std::mt19937 rng(42);
  for (int len = 0; len < 200; ++len) {
    std::vector<uint8_t> data(len);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    std::string enc = Base64UrlEncode(data.data(), data.size());
    EXPECT_EQ(enc.size() % 4, 0u);
    std::vector<uint8_t> back;
    std::string err;
    ASSERT_TRUE(Base64UrlDecode(enc, &back, &err)) << err;
    EXPECT_EQ(back, data);
    SecretBuffer sb;
    ASSERT_TRUE(Base64UrlDecode(enc.substr(0, enc.find('=')), &sb, &err)) << err;
    ASSERT_EQ(sb.size(), data.size());
    EXPECT_TRUE(std::equal(data.begin(), data.end(), sb.data()));
  }
}

TEST(Base64Url, RejectsStandardAlphabetAndJunkNamingTheOffset) {
  std::string err = DecodeError("ab+d");
  EXPECT_NE(err.find("offset 2"), std::string::npos) << err;
  err = DecodeError("abc/");
  EXPECT_NE(err.find("offset 3"), std::string::npos) << err;
  err = DecodeError("Zm9v Ygo");
  EXPECT_NE(err.find("offset 4"), std::string::npos) << err;
  DecodeError("Zm9v\n");
  DecodeError(std::string("Zm\0v", 4));
  DecodeError("Zm9\xc3\xa9");
}

TEST(Base64Url, RejectsBadPaddingAndLengths) {
  DecodeError("Z");      // 6 bits cannot hold a byte
  DecodeError("Zm9vY");  // same after a full group
  DecodeError("Zg=");    // padded but not 4-aligned
  DecodeError("Zg===");  // too much padding
  DecodeError("Z===");   // too much padding
  DecodeError("====");
  DecodeError("Zg==Zg==");  // '=' in the middle
  DecodeError("=Zg=");
  DecodeError("Zh==");  // non-zero unused bits: a second spelling of "f"
  DecodeError("Zm9=");  // non-zero unused bits
}

TEST(Base64Url, DemoKeyDecodesTo32Bytes) {
  SecretBuffer key;
  std::string err;
  ASSERT_TRUE(Base64UrlDecode("Miql-SH11OTpm4rFOh5QF7iNG2fPolSwwvvb1YceREw=", &key, &err)) << err;
  EXPECT_EQ(key.size(), 32u);
  EXPECT_EQ(Base64UrlEncode(key.data(), key.size()),
            "Miql-SH11OTpm4rFOh5QF7iNG2fPolSwwvvb1YceREw=");
}

// Unpadded encoding (the server's API keys): the same characters without the '=', and the
// strict decoder takes it back.
TEST(Base64Url, UnpaddedEncodingDropsOnlyThePadding) {
  for (const std::string in : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    const std::string padded = Base64UrlEncode(in);
    std::string unpadded =
        Base64UrlEncode(reinterpret_cast<const uint8_t*>(in.data()), in.size(), /*pad=*/false);
    EXPECT_EQ(unpadded, padded.substr(0, padded.find('='))) << in;
    std::vector<uint8_t> back;
    std::string err;
    ASSERT_TRUE(Base64UrlDecode(unpadded, &back, &err)) << err;
    EXPECT_EQ(std::string(back.begin(), back.end()), in);
  }
}

}  // namespace
}  // namespace sdp
