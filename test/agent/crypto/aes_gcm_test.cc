#include "agent/crypto/aes_gcm.h"

#include <gtest/gtest.h>

#include <random>

#include "agent/crypto/random.h"
#include "test/support/test_vectors.h"

namespace sdp {
namespace {

using testing_vectors::LoadVectors;
using testing_vectors::Unhex;
using testing_vectors::UnhexString;

TEST(AesGcm256, EveryVector) {
  nlohmann::json file = LoadVectors("crypto_vectors.json");
  const auto& vectors = file["aes_256_gcm"];
  ASSERT_TRUE(vectors.is_array());
  EXPECT_GE(vectors.size(), 4u);
  size_t checked = 0;
  for (const auto& v : vectors) {
    SCOPED_TRACE(v.at("id").get<std::string>());
    const std::vector<uint8_t> key = Unhex(v.at("key").get<std::string>());
    // All vectors in the file are AES-256; a shorter key would need a
    // generic path, so flag it rather than skip it.
    ASSERT_EQ(key.size(), 32u) << "vector uses a non-256-bit key";
    const std::vector<uint8_t> iv = Unhex(v.at("iv").get<std::string>());
    ASSERT_EQ(iv.size(), AesGcm256::kNonceSize);
    const std::string pt = UnhexString(v.at("plaintext").get<std::string>());
    const std::string aad = UnhexString(v.at("aad").get<std::string>());
    const std::string want =
        UnhexString(v.at("ciphertext").get<std::string>() + v.at("tag").get<std::string>());

    AesGcm256 gcm;
    std::string err, sealed, opened;
    ASSERT_TRUE(gcm.Init(key.data(), key.size(), &err)) << err;
    ASSERT_TRUE(gcm.Seal(iv.data(), aad, pt, &sealed, &err)) << err;
    EXPECT_EQ(HexEncode(sealed), HexEncode(want));
    ASSERT_TRUE(gcm.Open(iv.data(), aad, want, &opened, &err)) << err;
    EXPECT_EQ(HexEncode(opened), HexEncode(pt));
    // Reusing the context in either order gives the same answers.
    ASSERT_TRUE(gcm.Seal(iv.data(), aad, pt, &sealed, &err)) << err;
    EXPECT_EQ(HexEncode(sealed), HexEncode(want));
    ++checked;
  }
  EXPECT_EQ(checked, vectors.size());
}

class AesGcmTamper : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    uint8_t key[32];
    ASSERT_TRUE(RandomBytes(key, sizeof(key), &err)) << err;
    ASSERT_TRUE(gcm_.Init(key, sizeof(key), &err)) << err;
    ASSERT_TRUE(RandomBytes(nonce_, sizeof(nonce_), &err)) << err;
    ASSERT_TRUE(gcm_.Seal(nonce_, "aad", "secret value", &sealed_, &err)) << err;
  }
  void ExpectAuthFailure(const uint8_t* nonce, std::string_view aad, std::string_view ct) {
    std::string pt = "stale", err;
    EXPECT_FALSE(gcm_.Open(nonce, aad, ct, &pt, &err));
    EXPECT_TRUE(pt.empty());
    EXPECT_NE(err.find("authentication failed"), std::string::npos) << err;
  }
  AesGcm256 gcm_;
  uint8_t nonce_[12];
  std::string sealed_;
};

TEST_F(AesGcmTamper, EveryFlippedBitIsDetected) {
  for (size_t i = 0; i < sealed_.size() * 8; ++i) {
    std::string bad = sealed_;
    bad[i / 8] = static_cast<char>(bad[i / 8] ^ (1 << (i % 8)));
    ExpectAuthFailure(nonce_, "aad", bad);
  }
  std::string pt, err;
  ASSERT_TRUE(gcm_.Open(nonce_, "aad", sealed_, &pt, &err)) << err;
  EXPECT_EQ(pt, "secret value");
}

TEST_F(AesGcmTamper, WrongAadNonceKeyLengthAreDetected) {
  ExpectAuthFailure(nonce_, "aaD", sealed_);
  ExpectAuthFailure(nonce_, "", sealed_);
  uint8_t other[12];
  std::copy(nonce_, nonce_ + 12, other);
  other[11] ^= 1;
  ExpectAuthFailure(other, "aad", sealed_);
  ExpectAuthFailure(nonce_, "aad", sealed_.substr(0, sealed_.size() - 1));  // short tag
  ExpectAuthFailure(nonce_, "aad", sealed_.substr(1));
  ExpectAuthFailure(nonce_, "aad", sealed_ + "x");
  ExpectAuthFailure(nonce_, "aad", "");
  ExpectAuthFailure(nonce_, "aad", sealed_.substr(0, 15));

  AesGcm256 other_key;
  std::string err, pt;
  uint8_t key[32] = {1};
  ASSERT_TRUE(other_key.Init(key, 32, &err));
  EXPECT_FALSE(other_key.Open(nonce_, "aad", sealed_, &pt, &err));
  EXPECT_NE(err.find("authentication failed"), std::string::npos) << err;
}

TEST(AesGcm256, RejectsWrongKeyLengthsAndUseBeforeInit) {
  AesGcm256 gcm;
  std::string err, out;
  uint8_t nonce[12] = {0};
  EXPECT_FALSE(gcm.Seal(nonce, "", "x", &out, &err));
  EXPECT_NE(err.find("before Init"), std::string::npos);
  uint8_t key[33] = {0};
  for (size_t len : {0, 16, 24, 31, 33}) {
    EXPECT_FALSE(gcm.Init(key, len, &err)) << len;
    EXPECT_NE(err.find("must be 32 bytes, got " + std::to_string(len)), std::string::npos) << err;
  }
  EXPECT_FALSE(gcm.Open(nonce, "", std::string(20, 'x'), &out, &err));
}

TEST(AesGcm256, RandomRoundTripsReuseOneContext) {
  std::mt19937 rng(3);
  AesGcm256 gcm;
  std::string err;
  SecretBuffer key(32);
  ASSERT_TRUE(RandomBytes(key.data(), key.size(), &err)) << err;
  ASSERT_TRUE(gcm.Init(key, &err)) << err;
  for (int i = 0; i < 300; ++i) {
    std::string pt(rng() % 100, '\0'), aad(rng() % 40, '\0');
    for (char& c : pt) c = static_cast<char>(rng());
    for (char& c : aad) c = static_cast<char>(rng());
    uint8_t nonce[12];
    ASSERT_TRUE(RandomBytes(nonce, 12, &err)) << err;
    std::string sealed, opened;
    ASSERT_TRUE(gcm.Seal(nonce, aad, pt, &sealed, &err)) << err;
    ASSERT_EQ(sealed.size(), pt.size() + 16);
    ASSERT_TRUE(gcm.Open(nonce, aad, sealed, &opened, &err)) << err;
    ASSERT_EQ(opened, pt);
  }
}

TEST(RandomBytes, FillsAndDiffers) {
  uint8_t a[32] = {0}, b[32] = {0};
  std::string err;
  ASSERT_TRUE(RandomBytes(a, 32, &err)) << err;
  ASSERT_TRUE(RandomBytes(b, 32, &err)) << err;
  EXPECT_NE(HexEncode(a, 32), HexEncode(b, 32));
  EXPECT_TRUE(RandomBytes(nullptr, 0, &err));
}

}  // namespace
}  // namespace sdp
