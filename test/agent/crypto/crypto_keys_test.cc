#include "agent/crypto/crypto_keys.h"

#include <gtest/gtest.h>

#include <set>

#include "common/base64url.h"
#include "common/hex.h"

namespace sdp {
namespace {

constexpr char kDemoKey[] = "Miql-SH11OTpm4rFOh5QF7iNG2fPolSwwvvb1YceREw=";

std::string Hex(const SecretBuffer& b) { return HexEncode(b.data(), b.size()); }

TEST(KeyRing, DemoKeyDerivesKnownSubkeys) {
  KeyRing ring;
  std::string err;
  ASSERT_TRUE(KeyRing::FromEnvValue(kDemoKey, &ring, &err)) << err;
  // Expected values computed independently with Python's hmac/hashlib
  // (RFC 5869 by hand), salt "sdp-key-derivation-v1".
  EXPECT_EQ(Hex(ring.vault_key()),
            "70a13b718588ef860d0fce43da3fad5c6faa378e4573b97c362afdca251492a1");
  EXPECT_EQ(Hex(ring.hash_key()),
            "c54d32f5c9b61783fa684135ed1bc9a785162fd8f3e6baa7ab51382102b7b1e4");
  // FF1's subkey is the one FF1 and FF3-1 used to share ("sdp/fpe/v1"): FF1 tokens unchanged.
  EXPECT_EQ(Hex(ring.ff1_key()),
            "55e59ea2d38727fdc7c8d647651d3bac01d7a16798ee3027fd17fa57f6936c57");
  EXPECT_EQ(Hex(ring.ff3_1_key()),
            "64231987271052731c45c76f9799e8f0b76d261d33d0fef76ac1e102f9339c85");
  EXPECT_EQ(ring.key_id(), "6ed97193");
}

TEST(KeyRing, AcceptsUnpaddedAndSurroundingWhitespace) {
  KeyRing a, b;
  std::string err;
  ASSERT_TRUE(KeyRing::FromEnvValue("Miql-SH11OTpm4rFOh5QF7iNG2fPolSwwvvb1YceREw", &a, &err))
      << err;
  ASSERT_TRUE(KeyRing::FromEnvValue(std::string(" ") + kDemoKey + "\r\n", &b, &err)) << err;
  EXPECT_EQ(a.key_id(), "6ed97193");
  EXPECT_EQ(b.key_id(), "6ed97193");
}

TEST(KeyRing, ErrorsExplainAndNeverLeakTheKey) {
  const std::string fix = "; fix: generate one with `sdp-agent keygen`";
  struct Case {
    std::string value;
    std::string want;
  };
  const std::string too_long = std::string(kDemoKey).substr(0, 43) + "AAAAAAAA";
  const Case cases[] = {
      {"", "SDP_CRYPTO_KEY must be URL-safe base64 of exactly 32 bytes (got 0 bytes)" + fix},
      {"c2hvcnQ", "SDP_CRYPTO_KEY must be URL-safe base64 of exactly 32 bytes (got 5 bytes)" + fix},
      {Base64UrlEncode(std::string(33, 'k')),
       "SDP_CRYPTO_KEY must be URL-safe base64 of exactly 32 bytes (got 33 bytes)" + fix},
      {"Miql+SH11OTpm4rFOh5QF7iNG2fPolSwwvvb1YceREw=",
       "SDP_CRYPTO_KEY must be URL-safe base64 of exactly 32 bytes (invalid base64url character "
       "at offset 4"},
      {"Miql-SH11OTpm4rFOh5QF7iNG2fPolSwwvvb1YceREw=garbage", "exactly 32 bytes ("},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.value);
    KeyRing ring;
    std::string err;
    EXPECT_FALSE(KeyRing::FromEnvValue(c.value, &ring, &err));
    EXPECT_NE(err.find(c.want), std::string::npos) << err;
    EXPECT_NE(err.find(fix), std::string::npos) << err;
    if (c.value.size() >= 6) {
      // No 6-character window of the value appears in the message.
      for (size_t i = 0; i + 6 <= c.value.size(); ++i) {
        ASSERT_EQ(err.find(c.value.substr(i, 6)), std::string::npos) << err;
      }
    }
  }
}

TEST(KeyRing, FromMasterKeyChecksLength) {
  KeyRing ring;
  std::string err;
  EXPECT_FALSE(KeyRing::FromMasterKey(SecretBuffer(16), &ring, &err));
  EXPECT_NE(err.find("got 16 bytes"), std::string::npos) << err;
  ASSERT_TRUE(KeyRing::FromMasterKey(SecretBuffer(32), &ring, &err)) << err;
  EXPECT_EQ(ring.key_id().size(), 8u);
  EXPECT_EQ(ring.vault_key().size(), 32u);
  EXPECT_FALSE(SecretEquals(ring.vault_key(), ring.hash_key()));
  EXPECT_FALSE(SecretEquals(ring.hash_key(), ring.ff1_key()));
  EXPECT_FALSE(SecretEquals(ring.ff1_key(), ring.ff3_1_key()));
}

TEST(GenerateKeyString, ProducesFreshUsableKeys) {
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i) {
    const std::string k = GenerateKeyString();
    ASSERT_EQ(k.size(), 44u);
    EXPECT_EQ(k.back(), '=');
    KeyRing ring;
    std::string err;
    ASSERT_TRUE(KeyRing::FromEnvValue(k, &ring, &err)) << err;
    EXPECT_TRUE(seen.insert(k).second);
  }
  SecretBuffer text;
  std::string err;
  ASSERT_TRUE(GenerateKeyString(&text, &err)) << err;
  KeyRing ring;
  ASSERT_TRUE(KeyRing::FromEnvValue(
      std::string_view(reinterpret_cast<const char*>(text.data()), text.size()), &ring, &err))
      << err;
}

}  // namespace
}  // namespace sdp
