// FF1 properties and hostile inputs (the NIST vectors are in
// fpe_vectors_test.cc).
#include "agent/crypto/fpe_ff1.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace sdp {
namespace {

std::vector<uint16_t> RandomNumerals(std::mt19937_64& rng, uint32_t radix, size_t n) {
  std::vector<uint16_t> v(n);
  for (auto& x : v) x = static_cast<uint16_t>(rng() % radix);
  return v;
}

TEST(Ff1, RoundTripsAndBothPathsAgreeAcrossRadicesAndLengths) {
  std::mt19937_64 rng(1);
  const uint8_t key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  for (uint32_t radix = 2; radix <= 62; ++radix) {
    Ff1 fast, big;
    std::string err;
    const size_t key_len = 16 + 8 * (radix % 3);
    ASSERT_TRUE(fast.Init(key, key_len, radix, &err)) << err;
    ASSERT_TRUE(big.Init(key, key_len, radix, &err)) << err;
    big.SetForceBignumPathForTesting(true);
    const size_t min = fast.min_length();
    for (size_t n : {min, min + 1, min + 2, size_t{19}, size_t{20}, size_t{31}, size_t{40},
                     size_t{129}, min + rng() % 60}) {
      if (n < min) continue;
      SCOPED_TRACE("radix " + std::to_string(radix) + " n " + std::to_string(n));
      const std::vector<uint16_t> pt = RandomNumerals(rng, radix, n);
      std::string tweak(rng() % 20, '\0');
      for (char& c : tweak) c = static_cast<char>(rng());
      std::vector<uint16_t> ct, ct_big, back;
      ASSERT_TRUE(fast.Encrypt(pt, tweak, &ct, &err)) << err;
      ASSERT_TRUE(big.Encrypt(pt, tweak, &ct_big, &err)) << err;
      EXPECT_EQ(ct, ct_big);
      ASSERT_EQ(ct.size(), n);
      for (uint16_t x : ct) ASSERT_LT(x, radix);
      ASSERT_TRUE(fast.Decrypt(ct, tweak, &back, &err)) << err;
      EXPECT_EQ(back, pt);
      ASSERT_TRUE(big.Decrypt(ct, tweak, &back, &err)) << err;
      EXPECT_EQ(back, pt);
    }
  }
}

TEST(Ff1, FastPathBoundaryAndLargeRadices) {
  // radix^v == 2^64 exactly (radix 2, n = 128; radix 16, n = 32; radix 65536,
  // n = 8) sits on the fast/bignum boundary.
  std::mt19937_64 rng(2);
  const uint8_t key[16] = {0x2b, 0x7e};
  for (auto [radix, n] : {std::pair<uint32_t, size_t>{2, 127},
                          {2, 128},
                          {2, 129},
                          {16, 31},
                          {16, 32},
                          {16, 33},
                          {10, 38},
                          {10, 39},
                          {10, 40},
                          {65536, 2},
                          {65536, 7},
                          {65536, 8},
                          {65536, 9},
                          {65536, 50},
                          {1000, 13}}) {
    SCOPED_TRACE("radix " + std::to_string(radix) + " n " + std::to_string(n));
    Ff1 fast, big;
    std::string err;
    ASSERT_TRUE(fast.Init(key, 16, radix, &err)) << err;
    ASSERT_TRUE(big.Init(key, 16, radix, &err)) << err;
    big.SetForceBignumPathForTesting(true);
    for (int rep = 0; rep < 5; ++rep) {
      const auto pt = RandomNumerals(rng, radix, n);
      std::vector<uint16_t> ct, ct_big, back;
      ASSERT_TRUE(fast.Encrypt(pt, "tw", &ct, &err)) << err;
      ASSERT_TRUE(big.Encrypt(pt, "tw", &ct_big, &err)) << err;
      EXPECT_EQ(ct, ct_big);
      ASSERT_TRUE(fast.Decrypt(ct, "tw", &back, &err)) << err;
      EXPECT_EQ(back, pt);
    }
    // Extremes of the domain.
    std::vector<uint16_t> zeros(n, 0), maxes(n, static_cast<uint16_t>(radix - 1)), out, back;
    for (const auto& pt : {zeros, maxes}) {
      ASSERT_TRUE(fast.Encrypt(pt, "", &out, &err)) << err;
      ASSERT_TRUE(big.Decrypt(out, "", &back, &err)) << err;
      EXPECT_EQ(back, pt);
    }
  }
}

TEST(Ff1, TweakAndKeyChangeTheCiphertext) {
  const uint8_t key1[16] = {1}, key2[16] = {2};
  Ff1 a, b;
  std::string err;
  ASSERT_TRUE(a.Init(key1, 16, 10, &err));
  ASSERT_TRUE(b.Init(key2, 16, 10, &err));
  const std::vector<uint16_t> pt = {4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  std::vector<uint16_t> c1, c2, c3;
  ASSERT_TRUE(a.Encrypt(pt, "t1", &c1, &err));
  ASSERT_TRUE(a.Encrypt(pt, "t2", &c2, &err));
  ASSERT_TRUE(b.Encrypt(pt, "t1", &c3, &err));
  EXPECT_NE(c1, c2);
  EXPECT_NE(c1, c3);
  // Long tweaks (several blocks of Q) work too.
  std::string long_tweak(100, 'x');
  ASSERT_TRUE(a.Encrypt(pt, long_tweak, &c2, &err)) << err;
  ASSERT_TRUE(a.Decrypt(c2, long_tweak, &c3, &err)) << err;
  EXPECT_EQ(c3, pt);
}

TEST(Ff1, IsAPermutationOnASmallDomain) {
  // radix 1000, n = 2: 10^6 values, exactly the minimum domain. Sample
  // distinct inputs and check the outputs are distinct.
  const uint8_t key[16] = {9};
  Ff1 f;
  std::string err;
  ASSERT_TRUE(f.Init(key, 16, 1000, &err));
  ASSERT_EQ(f.min_length(), 2u);
  std::set<std::vector<uint16_t>> seen;
  for (uint16_t i = 0; i < 1000; i += 3) {
    std::vector<uint16_t> out;
    ASSERT_TRUE(f.Encrypt({i, 7}, "", &out, &err)) << err;
    EXPECT_TRUE(seen.insert(out).second);
  }
}

TEST(Ff1, HostileInputs) {
  Ff1 f;
  std::string err;
  std::vector<uint16_t> out = {1};
  EXPECT_FALSE(f.Encrypt({1, 2, 3, 4, 5, 6}, "", &out, &err));
  EXPECT_NE(err.find("before Init"), std::string::npos) << err;

  const uint8_t key[33] = {0};
  for (size_t len : {0, 1, 15, 17, 23, 31, 33}) {
    EXPECT_FALSE(f.Init(key, len, 10, &err)) << len;
    EXPECT_NE(err.find("16, 24 or 32 bytes, got " + std::to_string(len)), std::string::npos);
  }
  for (uint32_t radix : {0u, 1u, 65537u, 1000000u}) {
    EXPECT_FALSE(f.Init(key, 16, radix, &err)) << radix;
    EXPECT_NE(err.find("radix must be 2..65536"), std::string::npos) << err;
  }
  ASSERT_TRUE(f.Init(key, 16, 10, &err));
  EXPECT_EQ(f.min_length(), 6u);
  EXPECT_FALSE(f.Encrypt({}, "", &out, &err));
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(f.Encrypt({1, 2, 3, 4, 5}, "", &out, &err));
  EXPECT_EQ(err,
            "input has 5 numerals; FF1 over radix 10 needs at least 6 (NIST SP 800-38G minimum "
            "domain radix^n >= 1000000)");
  EXPECT_FALSE(f.Decrypt({1, 2, 3, 4, 5}, "", &out, &err));
  EXPECT_FALSE(f.Encrypt({1, 2, 3, 10, 5, 6}, "", &out, &err));
  EXPECT_EQ(err, "numeral at position 3 is not below the radix 10");
  EXPECT_TRUE(out.empty());

  Ff1 binary;
  ASSERT_TRUE(binary.Init(key, 32, 2, &err));
  EXPECT_EQ(binary.min_length(), 20u);  // 2^20 = 1048576
  Ff1 wide;
  ASSERT_TRUE(wide.Init(key, 24, 65536, &err));
  EXPECT_EQ(wide.min_length(), 2u);
}

TEST(FpeMinLength, MatchesTheDefinition) {
  EXPECT_EQ(FpeMinLength(2), 20u);
  EXPECT_EQ(FpeMinLength(10), 6u);
  EXPECT_EQ(FpeMinLength(26), 5u);   // 26^5 = 11881376, 26^4 = 456976
  EXPECT_EQ(FpeMinLength(36), 4u);   // 36^4 = 1679616
  EXPECT_EQ(FpeMinLength(62), 4u);   // 62^3 = 238328
  EXPECT_EQ(FpeMinLength(100), 3u);  // 100^3 = 10^6 exactly
  EXPECT_EQ(FpeMinLength(1000), 2u);
  EXPECT_EQ(FpeMinLength(999), 3u);
  EXPECT_EQ(FpeMinLength(65536), 2u);
}

}  // namespace
}  // namespace sdp
