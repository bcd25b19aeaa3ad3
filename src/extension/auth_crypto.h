// API-key cryptography for the sdp extension: key generation, the stored key hash and the
// constant-time match. PostgreSQL-free (plain C++ over OpenSSL), so it could also be unit-tested
// or fuzzed outside the backend; the SQL shims are in auth.cc.
//
// Design (docs/security.md, "API keys"):
//  * A generated key is "sdp_" + 32 URL-safe base64 characters = 24 bytes (192 bits) from
//    RAND_bytes, shown once.
//  * A key is stored only as HMAC-SHA-256(server pepper, key). The 32-byte pepper is generated at
//    CREATE EXTENSION and lives in sdp.auth_secret, readable only by the extension owner. A copy
//    of sdp.api_client alone (replica, export, backup of one table, a leaked query result) is then
//    useless for guessing keys offline, even a low-entropy key registered by an operator.
//  * Verification compares the computed HMAC with every stored hash using CRYPTO_memcmp and never
//    stops early, so the time taken does not depend on which client (if any) matches.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sdp::auth {

inline constexpr size_t kHashBytes = 32;       // HMAC-SHA-256 output
inline constexpr size_t kSecretBytes = 32;     // server pepper
inline constexpr size_t kKeyRandomBytes = 24;  // 192 bits -> 32 base64url characters
inline constexpr const char* kKeyPrefix = "sdp_";

// Fills `out` with `n` bytes from OpenSSL's CSPRNG. Throws sdp::Error (XX000) if it fails.
std::vector<uint8_t> RandomBytes(size_t n);

// A new API key: "sdp_" + base64url(24 random bytes).
std::string NewApiKey();

// HMAC-SHA-256(secret, key). Throws sdp::Error if the secret has the wrong size.
std::vector<uint8_t> KeyHash(const uint8_t* secret, size_t secret_len, std::string_view key);

// Returns the 1-based position of the single stored hash equal to `computed`, or 0 when none is.
// Every element is compared in full with CRYPTO_memcmp; hashes of the wrong length never match.
// `hashes[i]` points to `lens[i]` bytes (nullptr for NULL elements).
int MatchIndex(const std::vector<uint8_t>& computed, const std::vector<const uint8_t*>& hashes,
               const std::vector<size_t>& lens);

}  // namespace sdp::auth
