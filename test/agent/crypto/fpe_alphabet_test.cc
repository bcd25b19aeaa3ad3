#include "agent/crypto/fpe_alphabet.h"

#include <gtest/gtest.h>

#include <random>

namespace sdp {
namespace {

const uint8_t kKey[32] = {0x55, 0xe5, 0x9e, 0xa2, 0xd3, 0x87, 0x27, 0xfd};

FpeStringCipher Cipher(FpeAlgorithm alg, const char* spec) {
  FpeAlphabet alphabet;
  std::string err;
  EXPECT_TRUE(FpeAlphabet::FromSpec(spec, &alphabet, &err)) << err;
  FpeStringCipher c;
  EXPECT_TRUE(c.Init(kKey, 32, alg, alphabet, &err)) << err;
  return c;
}

TEST(FpeAlphabet, NamedAlphabets) {
  FpeAlphabet a;
  std::string err;
  ASSERT_TRUE(FpeAlphabet::Named("digits", &a, &err));
  EXPECT_EQ(a.chars(), "0123456789");
  ASSERT_TRUE(FpeAlphabet::Named("alnum", &a, &err));
  EXPECT_EQ(a.radix(), 62u);
  EXPECT_EQ(a.chars().substr(0, 12), "0123456789ab");
  EXPECT_EQ(a.NumeralOf('a'), 10);
  EXPECT_EQ(a.NumeralOf('A'), 36);
  EXPECT_EQ(a.NumeralOf('-'), -1);
  EXPECT_EQ(a.CharOf(61), 'Z');
  ASSERT_TRUE(FpeAlphabet::Named("lower", &a, &err));
  EXPECT_EQ(a.radix(), 26u);
  ASSERT_TRUE(FpeAlphabet::FromSpec("upper", &a, &err));
  EXPECT_EQ(a.chars().front(), 'A');
  ASSERT_TRUE(FpeAlphabet::FromSpec("custom:01", &a, &err));
  EXPECT_EQ(a.radix(), 2u);
  EXPECT_FALSE(FpeAlphabet::Named("hex", &a, &err));
  EXPECT_NE(err.find("unknown FPE alphabet 'hex'"), std::string::npos) << err;
  EXPECT_FALSE(FpeAlphabet::FromSpec("", &a, &err));
}

TEST(FpeAlphabet, CustomAlphabetRules) {
  FpeAlphabet a;
  std::string err;
  EXPECT_FALSE(FpeAlphabet::Custom("", &a, &err));
  EXPECT_FALSE(FpeAlphabet::Custom("x", &a, &err));
  EXPECT_NE(err.find("at least 2"), std::string::npos) << err;
  EXPECT_FALSE(FpeAlphabet::Custom("abca", &a, &err));
  EXPECT_NE(err.find("'a' at offset 3 repeats offset 0"), std::string::npos) << err;
  EXPECT_FALSE(FpeAlphabet::Custom("ab\tc", &a, &err));
  EXPECT_NE(err.find("offset 2 is not printable ASCII"), std::string::npos) << err;
  EXPECT_FALSE(FpeAlphabet::Custom("ab\xc3\xa9", &a, &err));
  EXPECT_FALSE(FpeAlphabet::Custom(std::string("a\0b", 3), &a, &err));
  ASSERT_TRUE(FpeAlphabet::Custom(" !~", &a, &err)) << err;
}

TEST(FpeStringCipher, CardNumberKeepsDashesAndLength) {
  for (FpeAlgorithm alg : {FpeAlgorithm::kFf1, FpeAlgorithm::kFf3_1}) {
    FpeStringCipher c = Cipher(alg, "digits");
    const std::string tweak = alg == FpeAlgorithm::kFf1 ? "card" : "card-01";
    std::string ct, back, err;
    ASSERT_TRUE(c.Encrypt("4111-1111-1111-1111", tweak, &ct, &err)) << err;
    ASSERT_EQ(ct.size(), 19u);
    for (size_t i : {4, 9, 14}) EXPECT_EQ(ct[i], '-') << ct;
    EXPECT_NE(ct, "4111-1111-1111-1111");
    for (char ch : ct) EXPECT_TRUE(ch == '-' || (ch >= '0' && ch <= '9')) << ct;
    ASSERT_TRUE(c.Decrypt(ct, tweak, &back, &err)) << err;
    EXPECT_EQ(back, "4111-1111-1111-1111");
    // Same digits without separators encrypt to the same digits.
    std::string plain_ct;
    ASSERT_TRUE(c.Encrypt("4111111111111111", tweak, &plain_ct, &err)) << err;
    std::string digits;
    for (char ch : ct) {
      if (ch != '-') digits.push_back(ch);
    }
    EXPECT_EQ(plain_ct, digits);
  }
}

TEST(FpeStringCipher, RandomStringsRoundTripKeepingSeparatorsAndAlphabet) {
  std::mt19937 rng(11);
  const char* specs[] = {"digits", "alnum", "lower", "upper", "custom:01", "custom:abcdefg"};
  const std::string separators[] = {"-", " ", ".", "\xc3\xa9", "/", "@"};
  for (FpeAlgorithm alg : {FpeAlgorithm::kFf1, FpeAlgorithm::kFf3_1}) {
    for (const char* spec : specs) {
      FpeStringCipher c = Cipher(alg, spec);
      const std::string& chars = c.alphabet().chars();
      for (int rep = 0; rep < 40; ++rep) {
        const size_t n = c.min_length() + rng() % 20;
        if (n > c.max_length()) continue;
        std::string in;
        for (size_t i = 0; i < n; ++i) {
          if (rng() % 4 == 0) {
            const std::string& sep = separators[rng() % 6];
            if (sep.size() == 1 && c.alphabet().NumeralOf(sep[0]) >= 0) continue;
            in += sep;
          }
          in.push_back(chars[rng() % chars.size()]);
        }
        const std::string tweak = alg == FpeAlgorithm::kFf1 ? "t" : "1234567";
        std::string ct, back, err;
        ASSERT_TRUE(c.Encrypt(in, tweak, &ct, &err)) << spec << ": " << err;
        ASSERT_EQ(ct.size(), in.size());
        for (size_t i = 0; i < in.size(); ++i) {
          const bool in_alpha = c.alphabet().NumeralOf(in[i]) >= 0;
          ASSERT_EQ(c.alphabet().NumeralOf(ct[i]) >= 0, in_alpha) << in << " -> " << ct;
          if (!in_alpha) {
            ASSERT_EQ(ct[i], in[i]);
          }
        }
        ASSERT_TRUE(c.Decrypt(ct, tweak, &back, &err)) << err;
        ASSERT_EQ(back, in);
      }
    }
  }
}

TEST(FpeStringCipher, TooShortTooLongAndUnusableInputs) {
  FpeStringCipher ff1 = Cipher(FpeAlgorithm::kFf1, "digits");
  std::string out = "x", err;
  EXPECT_FALSE(ff1.Encrypt("12-345", "", &out, &err));
  EXPECT_EQ(err, "value has 5 alphabet characters; FF1 over radix 10 needs at least 6");
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(ff1.Encrypt("", "", &out, &err));
  EXPECT_EQ(err, "value has 0 alphabet characters; FF1 over radix 10 needs at least 6");
  // Characters outside a custom alphabet are not encrypted; if that leaves
  // too few, it is an error rather than a silent pass-through.
  FpeStringCipher ab = Cipher(FpeAlgorithm::kFf1, "custom:ab");
  EXPECT_FALSE(ab.Encrypt("abcdefghijklmnopqrstuvwxyz", "", &out, &err));
  EXPECT_EQ(err, "value has 2 alphabet characters; FF1 over radix 2 needs at least 20");

  FpeStringCipher ff3 = Cipher(FpeAlgorithm::kFf3_1, "digits");
  EXPECT_FALSE(ff3.Encrypt(std::string(57, '1'), "1234567", &out, &err));
  EXPECT_EQ(err, "value has 57 alphabet characters; FF3-1 over radix 10 allows at most 56");
  EXPECT_FALSE(ff3.Encrypt("123456", "short", &out, &err));
  EXPECT_NE(err.find("tweak must be 7 bytes"), std::string::npos) << err;

  FpeStringCipher uninit;
  EXPECT_FALSE(uninit.Encrypt("123456", "", &out, &err));
  EXPECT_NE(err.find("before Init"), std::string::npos);
  FpeAlphabet digits;
  ASSERT_TRUE(FpeAlphabet::Named("digits", &digits, &err));
  EXPECT_FALSE(uninit.Init(kKey, 20, FpeAlgorithm::kFf1, digits, &err));
  EXPECT_NE(err.find("16, 24 or 32 bytes, got 20"), std::string::npos) << err;
  EXPECT_FALSE(uninit.Init(kKey, 32, FpeAlgorithm::kFf1, FpeAlphabet(), &err));
}

TEST(FpeAlgorithm, Parse) {
  FpeAlgorithm a;
  std::string err;
  ASSERT_TRUE(ParseFpeAlgorithm("FF1", &a, &err));
  EXPECT_EQ(a, FpeAlgorithm::kFf1);
  ASSERT_TRUE(ParseFpeAlgorithm("ff3-1", &a, &err));
  EXPECT_EQ(a, FpeAlgorithm::kFf3_1);
  EXPECT_FALSE(ParseFpeAlgorithm("ff3", &a, &err));
  EXPECT_NE(err.find("expected ff1 or ff3-1"), std::string::npos);
  EXPECT_STREQ(FpeAlgorithmName(FpeAlgorithm::kFf3_1), "FF3-1");
}

}  // namespace
}  // namespace sdp
