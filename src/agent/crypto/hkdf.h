// HKDF-SHA256 (RFC 5869) through OpenSSL's EVP_KDF "HKDF".
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "agent/crypto/secret_buffer.h"

namespace sdp {

// Extract-then-expand: *out = HKDF-SHA256(ikm, salt, info) of out_len bytes
// (1..8160 = 255 * 32). An empty salt means HashLen zero bytes (RFC 5869 2.2).
bool HkdfSha256(const SecretBuffer& ikm, std::string_view salt, std::string_view info,
                size_t out_len, SecretBuffer* out, std::string* err);

// Extract only: *prk = HMAC-SHA256(salt, ikm), 32 bytes.
bool HkdfSha256Extract(const SecretBuffer& ikm, std::string_view salt, SecretBuffer* prk,
                       std::string* err);

}  // namespace sdp
