#include "agent/crypto/hkdf.h"

#include <gtest/gtest.h>

#include "test/support/test_vectors.h"

namespace sdp {
namespace {

using testing_vectors::LoadVectors;
using testing_vectors::Unhex;
using testing_vectors::UnhexString;

SecretBuffer Secret(const std::vector<uint8_t>& v) { return SecretBuffer(v.data(), v.size()); }

TEST(Hkdf, EveryRfc5869Vector) {
  nlohmann::json file = LoadVectors("crypto_vectors.json");
  const auto& vectors = file["hkdf_sha256"];
  ASSERT_TRUE(vectors.is_array());
  EXPECT_GE(vectors.size(), 3u);
  size_t checked = 0;
  for (const auto& v : vectors) {
    SCOPED_TRACE(v.at("id").get<std::string>());
    SecretBuffer ikm = Secret(Unhex(v.at("ikm").get<std::string>()));
    const std::string salt = UnhexString(v.at("salt").get<std::string>());
    const std::string info = UnhexString(v.at("info").get<std::string>());
    const auto length = v.at("length").get<size_t>();
    std::string err;
    SecretBuffer okm;
    ASSERT_TRUE(HkdfSha256(ikm, salt, info, length, &okm, &err)) << err;
    EXPECT_EQ(HexEncode(okm.data(), okm.size()), v.at("okm").get<std::string>());
    SecretBuffer prk;
    ASSERT_TRUE(HkdfSha256Extract(ikm, salt, &prk, &err)) << err;
    EXPECT_EQ(HexEncode(prk.data(), prk.size()), v.at("prk").get<std::string>());
    ++checked;
  }
  EXPECT_EQ(checked, vectors.size());
}

TEST(Hkdf, PrefixPropertyAndBadLengths) {
  SecretBuffer ikm(reinterpret_cast<const uint8_t*>("input key material"), 18);
  std::string err;
  SecretBuffer long_out, short_out;
  ASSERT_TRUE(HkdfSha256(ikm, "salt", "info", 64, &long_out, &err)) << err;
  ASSERT_TRUE(HkdfSha256(ikm, "salt", "info", 4, &short_out, &err)) << err;
  EXPECT_EQ(HexEncode(long_out.data(), 4), HexEncode(short_out.data(), 4));
  SecretBuffer other;
  ASSERT_TRUE(HkdfSha256(ikm, "salt", "info2", 64, &other, &err)) << err;
  EXPECT_FALSE(SecretEquals(long_out, other));

  SecretBuffer out;
  EXPECT_FALSE(HkdfSha256(ikm, "salt", "info", 0, &out, &err));
  EXPECT_NE(err.find("1..8160"), std::string::npos) << err;
  EXPECT_FALSE(HkdfSha256(ikm, "salt", "info", 8161, &out, &err));
  ASSERT_TRUE(HkdfSha256(ikm, "salt", "info", 8160, &out, &err)) << err;
  EXPECT_EQ(out.size(), 8160u);
}

}  // namespace
}  // namespace sdp
