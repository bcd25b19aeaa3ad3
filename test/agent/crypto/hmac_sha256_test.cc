#include "agent/crypto/hmac_sha256.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <atomic>
#include <random>
#include <thread>

#include "test/support/test_vectors.h"

namespace sdp {
namespace {

using testing_vectors::LoadVectors;
using testing_vectors::Unhex;

std::string Hex(const uint8_t* mac, size_t n = kHmacSha256Size) { return HexEncode(mac, n); }

TEST(HmacSha256, EveryRfc4231Vector) {
  nlohmann::json file = LoadVectors("crypto_vectors.json");
  const auto& vectors = file["hmac_sha256"];
  ASSERT_TRUE(vectors.is_array());
  EXPECT_GE(vectors.size(), 7u);
  size_t checked = 0;
  for (const auto& v : vectors) {
    SCOPED_TRACE(v.at("id").get<std::string>());
    const std::vector<uint8_t> key = Unhex(v.at("key").get<std::string>());
    const std::vector<uint8_t> data = Unhex(v.at("data").get<std::string>());
    const std::string want = v.at("mac").get<std::string>();
    const size_t bytes = v.contains("truncate_bits") ? v["truncate_bits"].get<size_t>() / 8 : 32;
    ASSERT_EQ(want.size(), 2 * bytes);

    uint8_t mac[kHmacSha256Size];
    HmacSha256Key k(key.data(), key.size());
    k.Mac(data.data(), data.size(), mac);
    EXPECT_EQ(Hex(mac, bytes), want) << "fast path";

    SecretBuffer secret(key.data(), key.size());
    auto one_shot = HmacSha256(
        secret, std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
    EXPECT_EQ(Hex(one_shot.data(), bytes), want) << "one-shot";

    // Split anywhere: Mac2 must equal the MAC of the concatenation.
    const std::string_view all(reinterpret_cast<const char*>(data.data()), data.size());
    for (size_t cut : {size_t{0}, data.size() / 3, data.size()}) {
      k.Mac2(all.substr(0, cut), all.substr(cut), mac);
      EXPECT_EQ(Hex(mac, bytes), want) << "Mac2 cut at " << cut;
    }
    ++checked;
  }
  EXPECT_EQ(checked, vectors.size());
}

TEST(HmacSha256, FastPathEqualsOpenSslHmacOnRandomInputs) {
  std::mt19937_64 rng(7);
  for (int iter = 0; iter < 2000; ++iter) {
    const size_t key_len = rng() % 150;  // covers empty, < 64, == 64, hashed (> 64)
    const size_t len = iter < 200 ? static_cast<size_t>(iter) : rng() % 300;
    std::vector<uint8_t> key(key_len), data(len);
    for (auto& b : key) b = static_cast<uint8_t>(rng());
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    uint8_t want[EVP_MAX_MD_SIZE];
    unsigned want_len = 0;
    static const uint8_t kDummy = 0;
    ASSERT_NE(HMAC(EVP_sha256(), key_len ? key.data() : &kDummy, static_cast<int>(key_len),
                   data.data(), data.size(), want, &want_len),
              nullptr);
    ASSERT_EQ(want_len, 32u);
    uint8_t got[kHmacSha256Size];
    HmacSha256Key k(key.data(), key.size());
    k.Mac(data.data(), data.size(), got);
    ASSERT_EQ(Hex(got), Hex(want)) << "key_len=" << key_len << " len=" << len;
    auto one_shot = HmacSha256(key.data(), key.size(), data.data(), data.size());
    ASSERT_EQ(Hex(one_shot.data()), Hex(want));
    const std::string_view s(reinterpret_cast<const char*>(data.data()), data.size());
    const size_t a = len ? rng() % (len + 1) : 0, b = a + (len - a) / 2;
    const std::string_view parts[3] = {s.substr(0, a), s.substr(a, b - a), s.substr(b)};
    k.MacParts(parts, 3, got);
    ASSERT_EQ(Hex(got), Hex(want));
  }
}

TEST(HmacSha256, KeyObjectIsReusableMovableAndThreadSafe) {
  SecretBuffer key(reinterpret_cast<const uint8_t*>("0123456789abcdef0123456789abcdef"), 32);
  HmacSha256Key k(key);
  uint8_t first[32], again[32];
  k.Mac("value", first);
  k.Mac("other", again);
  k.Mac("value", again);
  EXPECT_EQ(Hex(first), Hex(again));
  HmacSha256Key moved(std::move(k));
  moved.Mac("value", again);
  EXPECT_EQ(Hex(first), Hex(again));
  // Domain separation: prefix||value differs from value.
  moved.Mac2("email\0", "value", again);
  EXPECT_NE(Hex(first), Hex(again));

  const std::string want = Hex(first);
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      uint8_t mac[32];
      for (int i = 0; i < 20000; ++i) {
        moved.Mac("value", mac);
        if (Hex(mac) != want) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace sdp
