// SQL-callable cryptography for staff sign-in (src/extension/sql/86_dashboard.sql): the scrypt
// password hash and the HS256 JSON Web Token PostgREST verifies (docs/dashboard.md, "Server
// side: sign-in, roles and endpoints").
//
// All four functions are owner-only (the blanket revoke of 90_privileges.sql): the SECURITY
// DEFINER sign-in functions pass them the stored hash and the JWT secret, which no caller can read.
// No error message ever contains a password, a hash, a secret or a token.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/base64url.h"
#include "pg_datum.h"

namespace {

constexpr size_t kDerivedKeyBytes = 32;
// scrypt cost bounds: N = 2^log_n with log_n in [14, 20] (16 MiB to 1 GiB of memory at r = 8),
// r in [8, 32], p in [1, 4]. The lower bounds are what the stored parameters must at least hold
// (OWASP's minimum for scrypt); the upper bounds keep a malformed row from exhausting memory.
constexpr int kMinLogN = 14, kMaxLogN = 20;
constexpr int kMinR = 8, kMaxR = 32;
constexpr int kMinP = 1, kMaxP = 4;
constexpr size_t kMinSaltBytes = 8;
// The password is limited before it is hashed: scrypt's cost does not depend on its length, but
// a megabyte "password" is never a password.
constexpr size_t kMaxPasswordBytes = 1024;
constexpr size_t kMinJwtSecretBytes = 32;  // PostgREST refuses a shorter jwt-secret

std::vector<uint8_t> Scrypt(std::string_view password, const sdp::pg::Bytes& salt, int log_n, int r,
                            int p) {
  if (log_n < kMinLogN || log_n > kMaxLogN || r < kMinR || r > kMaxR || p < kMinP || p > kMaxP) {
    throw sdp::Error(sdp::sqlstate::kInvalidParameter,
                     "scrypt parameters out of range: log2(N) 14..20, r 8..32, p 1..4");
  }
  if (salt.size < kMinSaltBytes) {
    throw sdp::Error(sdp::sqlstate::kInvalidParameter, "an scrypt salt needs at least 8 bytes");
  }
  if (password.size() > kMaxPasswordBytes) {
    throw sdp::Error(sdp::sqlstate::kInvalidParameter, "a password has at most 1024 bytes");
  }
  const uint64_t n = uint64_t{1} << log_n;
  // scrypt needs 128 * N * r bytes (plus 128 * r * p); allow twice that.
  const uint64_t maxmem = 2 * 128 * n * static_cast<uint64_t>(r) + 128 * 64 * 4 + (1u << 20);
  std::vector<uint8_t> out(kDerivedKeyBytes);
  if (EVP_PBE_scrypt(password.data(), password.size(), salt.data, salt.size, n,
                     static_cast<uint64_t>(r), static_cast<uint64_t>(p), maxmem, out.data(),
                     out.size()) != 1) {
    throw sdp::Error(sdp::sqlstate::kOutOfMemory, "scrypt failed (OpenSSL EVP_PBE_scrypt)");
  }
  return out;
}

std::string Base64UrlNoPad(const void* data, size_t size) {
  return sdp::Base64UrlEncode(static_cast<const uint8_t*>(data), size, /*pad=*/false);
}

std::vector<uint8_t> HmacSha256(std::string_view key, std::string_view message) {
  if (key.size() < kMinJwtSecretBytes) {
    throw sdp::Error(sdp::sqlstate::kObjectNotInPrerequisiteState,
                     "the JWT secret is missing or shorter than 32 characters", "",
                     "an admin sets it with sdp.sdp_set_jwt_secret(secret), the value of "
                     "PostgREST's jwt-secret");
  }
  std::vector<uint8_t> mac(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac.data(),
           &len) == nullptr) {
    throw sdp::Error(sdp::sqlstate::kInternal, "HMAC-SHA-256 failed (OpenSSL)");
  }
  mac.resize(len);
  return mac;
}

// The fixed JOSE header of every token signed here; verification accepts exactly this header's
// algorithm and nothing else (no "none", no algorithm chosen by the token).
constexpr std::string_view kJwtHeader = R"({"alg":"HS256","typ":"JWT"})";

}  // namespace

// sdp.sdp_staff_scrypt(password text, salt bytea, log_n int, r int, p int) RETURNS bytea: the
// 32-byte scrypt key of the password (the stored hash).
SDP_PG_FUNCTION(sdp_staff_scrypt) {
  std::string password = sdp::pg::TextArg(fcinfo, 0);
  const sdp::pg::Bytes salt = sdp::pg::ByteaArg(fcinfo, 1);
  std::vector<uint8_t> key;
  try {
    key = Scrypt(password, salt, PG_GETARG_INT32(2), PG_GETARG_INT32(3), PG_GETARG_INT32(4));
  } catch (...) {
    OPENSSL_cleanse(password.data(), password.size());
    throw;
  }
  OPENSSL_cleanse(password.data(), password.size());
  return sdp::pg::ByteaDatum(key.data(), key.size());
}

// sdp.sdp_staff_scrypt_match(password text, salt bytea, log_n int, r int, p int, expected bytea)
// RETURNS boolean: scrypt(password) equals `expected`, compared in constant time. A stored hash
// of the wrong size never matches (the comparison still runs over a full-size buffer).
SDP_PG_FUNCTION(sdp_staff_scrypt_match) {
  std::string password = sdp::pg::TextArg(fcinfo, 0);
  const sdp::pg::Bytes salt = sdp::pg::ByteaArg(fcinfo, 1);
  const sdp::pg::Bytes expected = sdp::pg::ByteaArg(fcinfo, 5);
  std::vector<uint8_t> key;
  try {
    key = Scrypt(password, salt, PG_GETARG_INT32(2), PG_GETARG_INT32(3), PG_GETARG_INT32(4));
  } catch (...) {
    OPENSSL_cleanse(password.data(), password.size());
    throw;
  }
  OPENSSL_cleanse(password.data(), password.size());
  std::vector<uint8_t> stored(kDerivedKeyBytes, 0);
  const bool size_ok = expected.size == kDerivedKeyBytes;
  if (size_ok) std::copy(expected.data, expected.data + kDerivedKeyBytes, stored.begin());
  const bool equal = CRYPTO_memcmp(key.data(), stored.data(), kDerivedKeyBytes) == 0;
  return BoolGetDatum(size_ok && equal);
}

// sdp.sdp_jwt_sign(secret text, claims text) RETURNS text: the compact HS256 JWS of the claims
// (a JSON object's text), as PostgREST verifies it with its jwt-secret.
SDP_PG_FUNCTION(sdp_jwt_sign) {
  std::string secret = sdp::pg::TextArg(fcinfo, 0);
  const std::string_view claims = sdp::pg::TextArgView(fcinfo, 1);
  const std::string signing_input = Base64UrlNoPad(kJwtHeader.data(), kJwtHeader.size()) + "." +
                                    Base64UrlNoPad(claims.data(), claims.size());
  std::vector<uint8_t> mac;
  try {
    mac = HmacSha256(secret, signing_input);
  } catch (...) {
    OPENSSL_cleanse(secret.data(), secret.size());
    throw;
  }
  OPENSSL_cleanse(secret.data(), secret.size());
  return sdp::pg::TextDatum(signing_input + "." + Base64UrlNoPad(mac.data(), mac.size()));
}

// sdp.sdp_jwt_verify(secret text, token text) RETURNS text: the claims text of a compact JWS
// whose header says HS256 and whose signature verifies with `secret` (constant-time compare),
// else NULL. Only the signature: the claims (exp, aud, role) are the caller's to check.
SDP_PG_FUNCTION(sdp_jwt_verify) {
  std::string secret = sdp::pg::TextArg(fcinfo, 0);
  const std::string_view token = sdp::pg::TextArgView(fcinfo, 1);
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    OPENSSL_cleanse(secret.data(), secret.size());
    PG_RETURN_NULL();
  }
  std::vector<uint8_t> header, payload, signature;
  std::string err;
  const bool decoded =
      sdp::Base64UrlDecode(token.substr(0, dot1), &header, &err) &&
      sdp::Base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1), &payload, &err) &&
      sdp::Base64UrlDecode(token.substr(dot2 + 1), &signature, &err);
  std::vector<uint8_t> mac;
  try {
    mac = HmacSha256(secret, token.substr(0, dot2));
  } catch (...) {
    OPENSSL_cleanse(secret.data(), secret.size());
    throw;
  }
  OPENSSL_cleanse(secret.data(), secret.size());
  // The header must be the one this file writes: an "alg" of the token's choosing is how
  // alg=none and key-confusion forgeries get in.
  const bool header_ok = decoded && std::string_view(reinterpret_cast<const char*>(header.data()),
                                                     header.size()) == kJwtHeader;
  const bool sig_ok = decoded && signature.size() == mac.size() &&
                      CRYPTO_memcmp(signature.data(), mac.data(), mac.size()) == 0;
  if (!header_ok || !sig_ok) PG_RETURN_NULL();
  return sdp::pg::TextDatum(
      std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size()));
}
