#include "agent/tokenize/column_tokenizer.h"

#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <set>

#include "agent/crypto/fpe_alphabet.h"
#include "test/support/test_util.h"

namespace sdp {
namespace {

using testing::Keys;

std::unique_ptr<ColumnTokenizer> Make(const ColumnRule& rule, const TokenizationConfig& config = {},
                                      const KeyRing& keys = Keys()) {
  auto t = std::make_unique<ColumnTokenizer>();
  std::string err;
  EXPECT_TRUE(t->Init(rule, config, keys, &err)) << err;
  return t;
}

std::string Tok(ColumnTokenizer* t, std::string_view v, bool* store = nullptr) {
  std::string out, err;
  bool s = false;
  EXPECT_TRUE(t->Tokenize(v, &out, &s, &err)) << err;
  if (store) *store = s;
  return out;
}

TEST(ColumnTokenizerTest, HashIsDeterministicNormalisedAndDomainSeparated) {
  ColumnRule rule = DefaultRule("customers", "email", TokenType::kHash);
  rule.normalize = Normalize::kLowercaseTrim;
  auto a = Make(rule);
  bool store = false;
  const std::string t1 = Tok(a.get(), "Ann@Example.COM ", &store);
  EXPECT_TRUE(store);
  EXPECT_EQ(t1, Tok(a.get(), "ann@example.com"));
  EXPECT_EQ(t1.size(), 25u);
  EXPECT_EQ(t1[0], 'h');
  rule.domain = "accounts.email";
  auto b = Make(rule);
  EXPECT_NE(Tok(b.get(), "ann@example.com"), t1);
  auto c = Make(DefaultRule("customers", "email", TokenType::kHash), {}, Keys(testing::kOtherKey));
  EXPECT_NE(Tok(c.get(), "ann@example.com"), Tok(a.get(), "ann@example.com"));
}

TEST(ColumnTokenizerTest, RandomTokensAreFreshAndVaulted) {
  auto t = Make(DefaultRule("customers", "address", TokenType::kRandom));
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    bool store = false;
    const std::string tok = Tok(t.get(), "1 High St", &store);
    EXPECT_TRUE(store);
    EXPECT_TRUE(t->last_token_random());
    EXPECT_EQ(tok.size(), 23u);
    EXPECT_EQ(tok[0], 'r');
    seen.insert(tok);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(ColumnTokenizerTest, FpeKeepsFormatAndReversesWithTheKeyAlone) {
  for (FpeAlgorithm algorithm : {FpeAlgorithm::kFf1, FpeAlgorithm::kFf3_1}) {
    ColumnRule rule = DefaultRule("customers", "card_number", TokenType::kFpe);
    rule.algorithm = algorithm;
    rule.alphabet = "digits";
    auto t = Make(rule);
    const std::string card = "4111-1111-1111-1111";
    const std::string tok = Tok(t.get(), card);
    ASSERT_EQ(tok.size(), card.size());
    for (size_t i = 0; i < card.size(); ++i) {
      EXPECT_EQ(card[i] == '-', tok[i] == '-') << i;
      if (card[i] != '-') {
        EXPECT_TRUE(tok[i] >= '0' && tok[i] <= '9');
      }
    }
    EXPECT_NE(tok, card);
    std::string back, err;
    ASSERT_TRUE(t->Detokenize(tok, nullptr, &back, &err)) << err;
    EXPECT_EQ(back, card);
  }
}

// FF1 and FF3-1 each encrypt under their own subkey (a break of FF3-1 must not expose FF1 data):
// an FPE token is the cipher's output under its algorithm's subkey, never under the other's.
TEST(ColumnTokenizerTest, FpeAlgorithmsUseSeparateSubkeys) {
  const KeyRing keys = Keys();
  FpeAlphabet digits;
  std::string err;
  ASSERT_TRUE(FpeAlphabet::FromSpec("digits", &digits, &err)) << err;
  const std::string value = "4111111111111111";
  for (FpeAlgorithm algorithm : {FpeAlgorithm::kFf1, FpeAlgorithm::kFf3_1}) {
    SCOPED_TRACE(FpeAlgorithmName(algorithm));
    ColumnRule rule = DefaultRule("customers", "card_number", TokenType::kFpe);
    rule.algorithm = algorithm;
    rule.alphabet = "digits";
    const std::string token = Tok(Make(rule).get(), value);
    // The tweak as the tokenizer derives it: SHA-256("sdp/fpe-tweak/v1" 0x00 domain), 8 or 7 bytes.
    const std::string tweak_input = std::string("sdp/fpe-tweak/v1", 16) + '\0' + rule.domain;
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const uint8_t*>(tweak_input.data()), tweak_input.size(), digest);
    const std::string tweak(reinterpret_cast<const char*>(digest),
                            algorithm == FpeAlgorithm::kFf3_1 ? 7 : 8);
    const bool ff3 = algorithm == FpeAlgorithm::kFf3_1;
    FpeStringCipher own, other;
    ASSERT_TRUE(own.Init(ff3 ? keys.ff3_1_key() : keys.ff1_key(), algorithm, digits, &err)) << err;
    ASSERT_TRUE(other.Init(ff3 ? keys.ff1_key() : keys.ff3_1_key(), algorithm, digits, &err))
        << err;
    std::string with_own, with_other;
    ASSERT_TRUE(own.Encrypt(value, tweak, &with_own, &err)) << err;
    ASSERT_TRUE(other.Encrypt(value, tweak, &with_other, &err)) << err;
    EXPECT_EQ(token, with_own);
    EXPECT_NE(token, with_other);
  }
}

TEST(ColumnTokenizerTest, MaskedAndEmptyValues) {
  ColumnRule rule = DefaultRule("customers", "phone", TokenType::kMasked);
  rule.mask = MaskStyle::kLast4;
  auto t = Make(rule);
  bool store = true;
  EXPECT_EQ(Tok(t.get(), "555-010-9999", &store), "***-***-9999");
  EXPECT_FALSE(store);
  EXPECT_EQ(Tok(t.get(), ""), "");
  TokenizationConfig tokenize_empty;
  tokenize_empty.empty_values = EmptyValues::kTokenize;
  auto h = Make(DefaultRule("t", "c", TokenType::kHash), tokenize_empty);
  EXPECT_EQ(Tok(h.get(), "").size(), 25u);
}

TEST(ColumnTokenizerTest, TokensNeverStartWithAFormulaCharacter) {
  for (TokenType type : {TokenType::kHash, TokenType::kRandom, TokenType::kMasked}) {
    auto t = Make(DefaultRule("t", "c", type));
    for (const char* v : {"=SUM(A1)", "+1 555", "-2", "@cmd", "=1+2"}) {
      const std::string tok = Tok(t.get(), v);
      ASSERT_FALSE(tok.empty());
      EXPECT_EQ(std::string("=+-@").find(tok[0]), std::string::npos) << v << " -> " << tok;
    }
  }
}

TEST(ColumnTokenizerTest, Base64UrlWithoutPadding) {
  const uint8_t bytes[] = {0xfb, 0xff, 0x00};
  const char* expected[] = {"", "-w", "-_8", "-_8A"};
  for (size_t n = 0; n <= 3; ++n) {
    std::string out;
    AppendBase64UrlNoPad(bytes, n, &out);
    EXPECT_EQ(out, expected[n]) << n;
  }
}

// Version 1 tokens are what the agent made before key rings: these were computed with the
// tokenizer of the commit before versioned tokens (df24c8e) and the demo key. Upgrading the
// agent must not change them, or new uploads would stop joining with history.
TEST(ColumnTokenizerTest, VersionOneTokensAreByteIdenticalToBeforeKeyRings) {
  ColumnRule email = DefaultRule("customers", "email", TokenType::kHash);
  email.normalize = Normalize::kLowercaseTrim;
  EXPECT_EQ(Tok(Make(email).get(), "Ann@Example.COM"), "hGzHforLW9qKju7rM2XEsaFfX");
  // A version 1 token may start with "h2": its length (25) is what says it has no version.
  const std::string id =
      Tok(Make(DefaultRule("customers", "customer_id", TokenType::kHash)).get(), "C000123");
  EXPECT_EQ(id, "h2VDE8Djvl9HyY7P1vnaQd3Wf");
  EXPECT_EQ(TokenKeyVersion(id), 1);
}

TEST(ColumnTokenizerTest, LaterKeyVersionsCarryTheirBase62DigitAfterTheTypeLetter) {
  const ColumnRule hash = DefaultRule("customers", "customer_id", TokenType::kHash);
  const ColumnRule random = DefaultRule("customers", "address", TokenType::kRandom);
  for (int version : {2, 9, 10, 35, 36, 61}) {
    KeyRing keys = Keys(testing::kOtherKey);
    keys.set_version(version);
    const char v = KeyVersionChar(version);
    const std::string h = Tok(Make(hash, {}, keys).get(), "C000123");
    ASSERT_EQ(h.size(), 26u);
    EXPECT_EQ(h[0], 'h');
    EXPECT_EQ(h[1], v);
    EXPECT_EQ(TokenKeyVersion(h), version);
    const std::string r = Tok(Make(random, {}, keys).get(), "1 High St");
    ASSERT_EQ(r.size(), 24u);
    EXPECT_EQ(r[0], 'r');
    EXPECT_EQ(r[1], v);
    EXPECT_EQ(TokenKeyVersion(r), version);
    // The HMAC part is the key's alone: the version does not change it.
    KeyRing v1 = Keys(testing::kOtherKey);
    EXPECT_EQ(h.substr(2), Tok(Make(hash, {}, v1).get(), "C000123").substr(1));
  }
  EXPECT_EQ(TokenKeyVersion("h"), 0);
  EXPECT_EQ(TokenKeyVersion("h1AAAAAAAAAAAAAAAAAAAAAAAA"), 0);  // '1' is never a version digit
  EXPECT_EQ(TokenKeyVersion("x2AAAAAAAAAAAAAAAAAAAAAAAA"), 0);
  EXPECT_EQ(TokenKeyVersion("h2AAAAAAAAAAAAAAAAAAAAAA=A"), 0);
  EXPECT_EQ(TokenKeyVersion("123-45-6789"), 0);
}

TEST(ColumnTokenizerTest, FpeRoundTripsUnderEachKeyOfARing) {
  ColumnRule ssn = DefaultRule("customers", "ssn", TokenType::kFpe);
  ssn.algorithm = FpeAlgorithm::kFf1;
  ssn.alphabet = "digits";
  std::set<std::string> tokens;
  for (const char* key : {testing::kDemoKey, testing::kOtherKey}) {
    for (int version : {1, 2}) {
      KeyRing keys = Keys(key);
      keys.set_version(version);
      auto t = Make(ssn, {}, keys);
      const std::string token = Tok(t.get(), "123-45-6789");
      EXPECT_EQ(token.size(), 11u);  // FPE has no room for a version: the manifest says it
      std::string back, err;
      ASSERT_TRUE(t->Detokenize(token, nullptr, &back, &err)) << err;
      EXPECT_EQ(back, "123-45-6789");
      tokens.insert(token);
    }
  }
  EXPECT_EQ(tokens.size(), 2u);  // one per key: the version number does not enter FPE
}

}  // namespace
}  // namespace sdp
