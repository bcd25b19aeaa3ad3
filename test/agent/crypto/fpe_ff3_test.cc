// FF3-1 properties and hostile inputs (the NIST vectors are in
// fpe_vectors_test.cc).
#include "agent/crypto/fpe_ff3.h"

#include <gtest/gtest.h>

#include <random>

namespace sdp {
namespace {

TEST(Ff3, MaxLengthIsTwiceFloorLogRadixOf2To96) {
  EXPECT_EQ(Ff3MaxLength(2), 192u);
  EXPECT_EQ(Ff3MaxLength(10), 56u);  // 10^28 < 2^96 < 10^29
  EXPECT_EQ(Ff3MaxLength(16), 48u);
  EXPECT_EQ(Ff3MaxLength(26), 40u);
  EXPECT_EQ(Ff3MaxLength(36), 36u);
  EXPECT_EQ(Ff3MaxLength(62), 32u);
  EXPECT_EQ(Ff3MaxLength(64), 32u);  // 64^16 == 2^96 exactly
  EXPECT_EQ(Ff3MaxLength(65536), 12u);
}

TEST(Ff3, RoundTripsAcrossRadicesAndLengths) {
  std::mt19937_64 rng(5);
  const uint8_t key[32] = {0xEF, 0x43, 0x59, 0xD8};
  for (uint32_t radix = 2; radix <= 62; ++radix) {
    Ff3 f;
    std::string err;
    ASSERT_TRUE(f.Init(key, 16 + 8 * (radix % 3), radix, &err)) << err;
    for (size_t n = f.min_length(); n <= f.max_length(); n += 1 + n / 8) {
      SCOPED_TRACE("radix " + std::to_string(radix) + " n " + std::to_string(n));
      std::vector<uint16_t> pt(n), ct, back;
      for (auto& x : pt) x = static_cast<uint16_t>(rng() % radix);
      std::string tweak(7, '\0');
      for (char& c : tweak) c = static_cast<char>(rng());
      ASSERT_TRUE(f.Encrypt(pt, tweak, &ct, &err)) << err;
      ASSERT_EQ(ct.size(), n);
      for (uint16_t x : ct) ASSERT_LT(x, radix);
      ASSERT_TRUE(f.Decrypt(ct, tweak, &back, &err)) << err;
      ASSERT_EQ(back, pt);
    }
    // The maximum length itself.
    std::vector<uint16_t> pt(f.max_length(), static_cast<uint16_t>(radix - 1)), ct, back;
    ASSERT_TRUE(f.Encrypt(pt, "1234567", &ct, &err)) << err;
    ASSERT_TRUE(f.Decrypt(ct, "1234567", &back, &err)) << err;
    ASSERT_EQ(back, pt);
  }
  // Large radices, where radix^u approaches 2^96.
  for (uint32_t radix : {256u, 1000u, 40000u, 65535u, 65536u}) {
    Ff3 f;
    std::string err;
    ASSERT_TRUE(f.Init(key, 32, radix, &err)) << err;
    for (size_t n = f.min_length(); n <= f.max_length(); ++n) {
      std::vector<uint16_t> pt(n), ct, back;
      for (auto& x : pt) x = static_cast<uint16_t>(rng() % radix);
      ASSERT_TRUE(f.Encrypt(pt, "abcdefg", &ct, &err)) << err;
      ASSERT_TRUE(f.Decrypt(ct, "abcdefg", &back, &err)) << err;
      ASSERT_EQ(back, pt) << radix << " " << n;
    }
  }
}

TEST(Ff3, TweakNibbleSplitMatters) {
  // FF3-1 uses all 56 tweak bits: flipping either nibble of t3 (which is
  // split between TL and TR) changes the ciphertext.
  const uint8_t key[16] = {1};
  Ff3 f;
  std::string err;
  ASSERT_TRUE(f.Init(key, 16, 10, &err));
  const std::vector<uint16_t> pt = {1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2};
  std::vector<uint16_t> base, hi, lo;
  ASSERT_TRUE(f.Encrypt(pt, std::string("\0\0\0\x00\0\0\0", 7), &base, &err));
  ASSERT_TRUE(f.Encrypt(pt, std::string("\0\0\0\x10\0\0\0", 7), &hi, &err));
  ASSERT_TRUE(f.Encrypt(pt, std::string("\0\0\0\x01\0\0\0", 7), &lo, &err));
  EXPECT_NE(base, hi);
  EXPECT_NE(base, lo);
  EXPECT_NE(hi, lo);
}

TEST(Ff3, HostileInputs) {
  const uint8_t key[33] = {0};
  Ff3 f;
  std::string err;
  std::vector<uint16_t> out = {1};
  EXPECT_FALSE(f.Encrypt({1, 2, 3, 4, 5, 6}, "1234567", &out, &err));
  EXPECT_NE(err.find("before Init"), std::string::npos);
  for (size_t len : {0, 8, 17, 33}) {
    EXPECT_FALSE(f.Init(key, len, 10, &err)) << len;
    EXPECT_NE(err.find("FF3-1 key must be 16, 24 or 32 bytes"), std::string::npos) << err;
  }
  EXPECT_FALSE(f.Init(key, 16, 1, &err));
  EXPECT_FALSE(f.Init(key, 16, 70000, &err));
  ASSERT_TRUE(f.Init(key, 16, 10, &err));
  EXPECT_EQ(f.tweak_size(), 7u);
  EXPECT_FALSE(f.Encrypt({1, 2, 3, 4, 5}, "1234567", &out, &err));
  EXPECT_NE(err.find("input has 5 numerals; FF3-1 over radix 10 needs at least 6"),
            std::string::npos)
      << err;
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(f.Encrypt(std::vector<uint16_t>(57, 1), "1234567", &out, &err));
  EXPECT_NE(err.find("input has 57 numerals; FF3-1 over radix 10 allows at most 56"),
            std::string::npos)
      << err;
  for (size_t t : {0, 6, 8, 16}) {
    EXPECT_FALSE(f.Encrypt({1, 2, 3, 4, 5, 6}, std::string(t, 'x'), &out, &err));
    EXPECT_NE(err.find("FF3-1 tweak must be 7 bytes (56 bits), got " + std::to_string(t)),
              std::string::npos)
        << err;
  }
  EXPECT_FALSE(f.Decrypt({1, 2, 3, 4, 5, 60}, "1234567", &out, &err));
  EXPECT_EQ(err, "numeral at position 5 is not below the radix 10");

  Ff3 old;
  ASSERT_TRUE(old.Init(key, 16, 10, &err, Ff3Variant::kWithdrawnFf3ForTestVectorsOnly));
  EXPECT_EQ(old.tweak_size(), 8u);
  EXPECT_FALSE(old.Encrypt({1, 2, 3, 4, 5, 6}, "1234567", &out, &err));
  EXPECT_NE(err.find("tweak must be 8 bytes"), std::string::npos) << err;
}

}  // namespace
}  // namespace sdp
