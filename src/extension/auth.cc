// SQL-callable shims for API keys and the tenant context (src/extension/sql/15_tenant.sql and
// 40_auth.sql). The cryptography itself is PostgreSQL-free in auth_crypto.cc.
//
// None of these functions ever puts key material into an error message: failures name what is
// wrong (size, missing secret), never the value.
#include <openssl/crypto.h>

#include <string>
#include <vector>

#include "auth_crypto.h"
#include "pg_datum.h"

namespace {

// The current value of a registered sdp.* setting, or "" when unset. Being C, calling this loads
// sdp.so, whose _PG_init defines the settings: a placeholder value a non-superuser may have SET
// before the library was loaded is then discarded by PostgreSQL (PGC_SUSET), never trusted.
std::string SettingValue(const char* name) {
  const char* value = sdp::pg::PgCall([&] { return GetConfigOption(name, true, false); });
  return value == nullptr ? std::string() : std::string(value);
}

}  // namespace

// sdp.sdp_auth_new_key() RETURNS text: a fresh API key ("sdp_" + 32 base64url characters).
SDP_PG_FUNCTION(sdp_auth_new_key) {
  std::string key = sdp::auth::NewApiKey();
  Datum out = sdp::pg::TextDatum(key);
  OPENSSL_cleanse(key.data(), key.size());
  return out;
}

// sdp.sdp_auth_new_secret() RETURNS bytea: 32 random bytes for the server pepper.
SDP_PG_FUNCTION(sdp_auth_new_secret) {
  std::vector<uint8_t> secret = sdp::auth::RandomBytes(sdp::auth::kSecretBytes);
  Datum out = sdp::pg::ByteaDatum(secret.data(), secret.size());
  OPENSSL_cleanse(secret.data(), secret.size());
  return out;
}

// sdp.sdp_auth_key_hash(secret bytea, api_key text) RETURNS bytea: HMAC-SHA-256(secret, key).
SDP_PG_FUNCTION(sdp_auth_key_hash) {
  const sdp::pg::Bytes secret = sdp::pg::ByteaArg(fcinfo, 0);
  std::string key = sdp::pg::TextArg(fcinfo, 1);
  std::vector<uint8_t> hash = sdp::auth::KeyHash(secret.data, secret.size, key);
  OPENSSL_cleanse(key.data(), key.size());
  return sdp::pg::ByteaDatum(hash.data(), hash.size());
}

// sdp.sdp_auth_match(secret bytea, api_key text, hashes bytea) RETURNS int: `hashes` is the
// concatenation of the stored 32-byte hashes of the candidate clients; the answer is the 1-based
// position of the one equal to HMAC(secret, api_key), or 0. Every candidate is compared in full
// with CRYPTO_memcmp, so the time does not depend on where (or whether) the key matches.
SDP_PG_FUNCTION(sdp_auth_match) {
  const sdp::pg::Bytes secret = sdp::pg::ByteaArg(fcinfo, 0);
  std::string key = sdp::pg::TextArg(fcinfo, 1);
  const sdp::pg::Bytes hashes = sdp::pg::ByteaArg(fcinfo, 2);
  if (hashes.size % sdp::auth::kHashBytes != 0) {
    OPENSSL_cleanse(key.data(), key.size());
    throw sdp::Error(sdp::sqlstate::kInvalidParameter,
                     "stored key hashes must be a concatenation of 32-byte values");
  }
  const std::vector<uint8_t> computed = sdp::auth::KeyHash(secret.data, secret.size, key);
  OPENSSL_cleanse(key.data(), key.size());
  const size_t n = hashes.size / sdp::auth::kHashBytes;
  std::vector<const uint8_t*> ptrs(n);
  std::vector<size_t> lens(n, sdp::auth::kHashBytes);
  for (size_t i = 0; i < n; ++i) ptrs[i] = hashes.data + i * sdp::auth::kHashBytes;
  return Int32GetDatum(sdp::auth::MatchIndex(computed, ptrs, lens));
}

// sdp.sdp_auth_tenant() RETURNS text: the authenticated client (setting sdp.client_id), NULL if
// none. Only sdp.sdp_current_client() should interpret it.
SDP_PG_FUNCTION(sdp_auth_tenant) {
  const std::string value = SettingValue("sdp.client_id");
  if (value.empty()) PG_RETURN_NULL();
  return sdp::pg::TextDatum(value);
}

// sdp.sdp_auth_is_dev() RETURNS boolean: sdp.env = 'dev' (the setting is superuser-only).
SDP_PG_FUNCTION(sdp_auth_is_dev) { return BoolGetDatum(SettingValue("sdp.env") == "dev"); }
