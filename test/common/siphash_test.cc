// SipHash-2-4: the paper's worked example, the reference implementation's test vectors, and every
// length from 0 to 100 bytes against OpenSSL's independent implementation (EVP_MAC "SIPHASH").
#include "common/siphash.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <cstring>
#include <vector>

namespace sdp {
namespace {

std::vector<uint8_t> Counting(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i);
  return v;
}

uint64_t OpenSslSipHash(const uint8_t* key, const uint8_t* msg, size_t len) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "SIPHASH", nullptr);
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  unsigned int size = 8;
  OSSL_PARAM params[] = {OSSL_PARAM_construct_uint(OSSL_MAC_PARAM_SIZE, &size),
                         OSSL_PARAM_construct_end()};
  uint8_t out[8] = {};
  size_t out_len = 0;
  EXPECT_EQ(EVP_MAC_init(ctx, key, kSipHashKeyBytes, params), 1);
  EXPECT_EQ(EVP_MAC_update(ctx, msg, len), 1);
  EXPECT_EQ(EVP_MAC_final(ctx, out, &out_len, sizeof out), 1);
  EXPECT_EQ(out_len, 8u);
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | out[i];
  return v;
}

// Appendix A of "SipHash: a fast short-input PRF": key 00..0f, message 00..0e.
TEST(SipHashTest, PaperWorkedExample) {
  const std::vector<uint8_t> key = Counting(16);
  const std::vector<uint8_t> msg = Counting(15);
  EXPECT_EQ(SipHash24(key.data(), msg.data(), msg.size()), 0xa129ca6149be45e5ULL);
}

// The first vectors of the reference implementation's vectors.h (key 00..0f, message of length
// i holding 00..i-1), output bytes read little-endian.
TEST(SipHashTest, ReferenceVectors) {
  const std::vector<uint8_t> key = Counting(16);
  const std::vector<uint8_t> msg = Counting(2);
  EXPECT_EQ(SipHash24(key.data(), msg.data(), 0), 0x726fdb47dd0e0e31ULL);
  EXPECT_EQ(SipHash24(key.data(), msg.data(), 1), 0x74f839c593dc67fdULL);
}

TEST(SipHashTest, AgreesWithOpenSslAtEveryLengthAndKey) {
  for (uint8_t key_byte : {0x00, 0x5a, 0xff}) {
    std::vector<uint8_t> key = Counting(16);
    for (auto& b : key) b ^= key_byte;
    const std::vector<uint8_t> msg = Counting(100);
    for (size_t len = 0; len <= msg.size(); ++len) {
      EXPECT_EQ(SipHash24(key.data(), msg.data(), len), OpenSslSipHash(key.data(), msg.data(), len))
          << "length " << len;
    }
  }
}

TEST(SipHashTest, EveryKeyBitAndMessageBitMatters) {
  const std::vector<uint8_t> key = Counting(16);
  const std::vector<uint8_t> msg = Counting(16);
  const uint64_t base = SipHash24(key.data(), msg.data(), msg.size());
  for (size_t bit = 0; bit < 128; ++bit) {
    std::vector<uint8_t> k = key, m = msg;
    k[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    m[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_NE(SipHash24(k.data(), msg.data(), msg.size()), base) << "key bit " << bit;
    EXPECT_NE(SipHash24(key.data(), m.data(), m.size()), base) << "message bit " << bit;
  }
}

}  // namespace
}  // namespace sdp
