// HMAC-SHA256 (RFC 2104) with a precomputed key, for the tokenization hot
// path (deterministic pseudonyms of short values such as e-mails and card
// numbers).
//
// HmacSha256Key hashes the ipad/opad key blocks once; each MAC then clones the
// two keyed SHA-256 states, so a short message costs two SHA-256 compressions
// and no allocation. Mac() is const and touches only stack copies, so one key
// object may be shared by any number of threads.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "agent/crypto/secret_buffer.h"

namespace sdp {

constexpr size_t kHmacSha256Size = 32;

class HmacSha256Key {
 public:
  // Any key length is valid (RFC 2104: keys longer than 64 bytes are hashed
  // first, shorter ones zero-padded).
  explicit HmacSha256Key(const SecretBuffer& key);
  HmacSha256Key(const uint8_t* key, size_t key_len);
  ~HmacSha256Key();  // wipes the keyed states

  HmacSha256Key(HmacSha256Key&&) noexcept;
  HmacSha256Key& operator=(HmacSha256Key&&) noexcept;
  HmacSha256Key(const HmacSha256Key&) = delete;
  HmacSha256Key& operator=(const HmacSha256Key&) = delete;

  // out = HMAC(key, data[0..n)).
  void Mac(const uint8_t* data, size_t n, uint8_t out[kHmacSha256Size]) const;
  void Mac(std::string_view data, uint8_t out[kHmacSha256Size]) const {
    Mac(reinterpret_cast<const uint8_t*>(data.data()), data.size(), out);
  }
  // out = HMAC(key, prefix || data) without building the concatenation, for
  // domain-separated MACs such as "email\0" || value.
  void Mac2(std::string_view prefix, std::string_view data, uint8_t out[kHmacSha256Size]) const;
  // out = HMAC(key, parts[0] || ... || parts[count-1]).
  void MacParts(const std::string_view* parts, size_t count, uint8_t out[kHmacSha256Size]) const;

 private:
  struct State;  // the two keyed SHA256_CTX; kept out of the header so that
                 // no caller sees the deprecated low-level API
  std::unique_ptr<State> state_;
};

// One-shot HMAC-SHA256 for cold paths (sets up the key on every call).
std::array<uint8_t, kHmacSha256Size> HmacSha256(const uint8_t* key, size_t key_len,
                                                const uint8_t* data, size_t n);
std::array<uint8_t, kHmacSha256Size> HmacSha256(const SecretBuffer& key, std::string_view data);

}  // namespace sdp
