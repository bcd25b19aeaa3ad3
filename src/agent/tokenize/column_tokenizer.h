// One column's tokenization rule, ready to run: keys derived, ciphers initialised.
//
// Token formats (all ASCII, never starting with a spreadsheet formula character):
// HASH and RANDOM tokens of key version v >= 2 have the base62 digit of v after the type letter
// ("h" + V + 24, "r" + V + 22; crypto_keys.h); version 1 tokens have none, as before key rings.
//   HASH    "h" + 24 base64url chars: the first 144 bits of HMAC-SHA256 under a per-domain key
//           (HKDF-style: HMAC(hash subkey, "sdp/hash-domain/v1" 0x00 domain)), over the
//           normalised value. Same value + key + domain -> same token on every machine.
//   RANDOM  "r" + 22 base64url chars (128 bits from the CSPRNG); the original only in the vault.
//   FPE     the value encrypted with FF1 or FF3-1 over the rule's alphabet; characters outside
//           it stay in place, so the shape (length, dashes, spaces) is kept. The tweak is derived
//           from the domain, so equal values in different domains encrypt differently.
//   MASKED  see masking.h; irreversible.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/crypto/crypto_keys.h"
#include "agent/crypto/fpe_alphabet.h"
#include "agent/crypto/hmac_sha256.h"
#include "agent/tokenize/tokenization_config.h"
#include "agent/vault/vault.h"

namespace sdp {

class ColumnTokenizer {
 public:
  ColumnTokenizer() = default;
  ColumnTokenizer(const ColumnTokenizer&) = delete;
  ColumnTokenizer& operator=(const ColumnTokenizer&) = delete;

  bool Init(const ColumnRule& rule, const TokenizationConfig& config, const KeyRing& keys,
            std::string* err);

  // Tokenizes one cell. *store_in_vault tells whether (domain, token) -> value must be written
  // to the vault. Errors (a value too short for FPE) name the column, never the value.
  bool Tokenize(std::string_view value, std::string* token, bool* store_in_vault, std::string* err);

  // Restores one cell: from the vault (HASH, RANDOM, FPE short-value fallback) or by
  // decryption (FPE). MASKED cells are returned unchanged. `vault` may be null when the rule
  // needs none.
  bool Detokenize(std::string_view token, Vault* vault, std::string* original, std::string* err);

  const ColumnRule& rule() const { return rule_; }
  // True when the last Tokenize() produced a fresh 128-bit random token (RANDOM, or the FPE
  // short-value fallback): such a token cannot already be in the vault.
  bool last_token_random() const { return last_random_; }
  // True when tokens of this column may have vault entries.
  bool uses_vault() const;

 private:
  bool RandomToken(std::string* token, std::string* err);

  ColumnRule rule_;
  EmptyValues empty_values_ = EmptyValues::kKeep;
  ShortFpeValues short_fpe_ = ShortFpeValues::kError;
  std::unique_ptr<HmacSha256Key> hash_key_;
  FpeStringCipher fpe_;
  std::string tweak_;
  std::string normalized_;  // scratch
  bool last_random_ = false;
  char version_char_ = '\0';  // the key version's base62 digit, none for version 1
};

// The key version a HASH or RANDOM token names (1 for "h" + 24 / "r" + 22 characters, v for
// "h" + V + 24 / "r" + V + 22), or 0 when `token` has neither shape.
int TokenKeyVersion(std::string_view token);

// Appends base64url (no padding) of `n` bytes to *out.
void AppendBase64UrlNoPad(const uint8_t* p, size_t n, std::string* out);

}  // namespace sdp
