// Tokenizing one column's values by its token type (HASH, MASKED, RANDOM, FPE) and reversing where
// possible.
#include "agent/tokenize/column_tokenizer.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <array>
#include <cstring>

#include "agent/crypto/random.h"
#include "agent/tokenize/masking.h"

namespace sdp {
namespace {

constexpr size_t kHashTokenBytes = 18;    // 144 bits
constexpr size_t kRandomTokenBytes = 16;  // 128 bits
constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::array<uint8_t, SHA256_DIGEST_LENGTH> Sha256(std::string_view a, std::string_view b) {
  std::array<uint8_t, SHA256_DIGEST_LENGTH> out{};
  std::string data(a);
  data.push_back('\0');
  data.append(b);
  SHA256(reinterpret_cast<const uint8_t*>(data.data()), data.size(), out.data());
  return out;
}

}  // namespace

void AppendBase64UrlNoPad(const uint8_t* p, size_t n, std::string* out) {
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    const char chunk[4] = {kBase64Url[v >> 18], kBase64Url[(v >> 12) & 63],
                           kBase64Url[(v >> 6) & 63], kBase64Url[v & 63]};
    out->append(chunk, 4);
  }
  if (n - i == 1) {
    const uint32_t v = uint32_t{p[i]} << 16;
    out->push_back(kBase64Url[v >> 18]);
    out->push_back(kBase64Url[(v >> 12) & 63]);
  } else if (n - i == 2) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8);
    out->push_back(kBase64Url[v >> 18]);
    out->push_back(kBase64Url[(v >> 12) & 63]);
    out->push_back(kBase64Url[(v >> 6) & 63]);
  }
}

bool ColumnTokenizer::Init(const ColumnRule& rule, const TokenizationConfig& config,
                           const KeyRing& keys, std::string* err) {
  rule_ = rule;
  version_char_ = KeyVersionChar(keys.version());
  empty_values_ = config.empty_values;
  short_fpe_ = config.short_fpe_values;
  if (rule.type == TokenType::kHash) {
    // A key per domain: the per-call MAC then covers only the value, and tokens of different
    // domains are unrelated even for equal values.
    HmacSha256Key master(keys.hash_key());
    uint8_t domain_key[kHmacSha256Size];
    master.Mac2(std::string_view("sdp/hash-domain/v1\0", 19), rule.domain, domain_key);
    hash_key_ = std::make_unique<HmacSha256Key>(domain_key, sizeof domain_key);
    OPENSSL_cleanse(domain_key, sizeof domain_key);
  } else if (rule.type == TokenType::kFpe) {
    FpeAlphabet alphabet;
    if (!FpeAlphabet::FromSpec(rule.alphabet, &alphabet, err) ||
        !fpe_.Init(rule.algorithm == FpeAlgorithm::kFf3_1 ? keys.ff3_1_key() : keys.ff1_key(),
                   rule.algorithm, alphabet, err)) {
      *err = "column '" + rule.column + "': " + *err;
      return false;
    }
    // FF3-1 takes a 56-bit tweak; FF1 any length: 8 bytes of a domain digest for both.
    const auto digest = Sha256("sdp/fpe-tweak/v1", rule.domain);
    const size_t tweak_len = rule.algorithm == FpeAlgorithm::kFf3_1 ? 7 : 8;
    tweak_.assign(reinterpret_cast<const char*>(digest.data()), tweak_len);
  }
  return true;
}

bool ColumnTokenizer::uses_vault() const {
  if (rule_.type == TokenType::kMasked) return false;
  // FPE values too short for the cipher fall back to RANDOM tokens kept in the vault.
  return rule_.vault || (rule_.type == TokenType::kFpe && short_fpe_ == ShortFpeValues::kRandom);
}

bool ColumnTokenizer::RandomToken(std::string* token, std::string* err) {
  // From the thread's RandomPool: one DRBG call per block, each byte handed out once and wiped.
  uint8_t bytes[kRandomTokenBytes];
  if (!ThreadRandomBytes(bytes, sizeof bytes, err)) return false;
  token->assign("r");
  if (version_char_ != '\0') token->push_back(version_char_);
  AppendBase64UrlNoPad(bytes, sizeof bytes, token);
  OPENSSL_cleanse(bytes, sizeof bytes);
  last_random_ = true;
  return true;
}

bool ColumnTokenizer::Tokenize(std::string_view value, std::string* token, bool* store_in_vault,
                               std::string* err) {
  *store_in_vault = false;
  last_random_ = false;
  if (value.empty() && empty_values_ == EmptyValues::kKeep) {
    token->clear();
    return true;
  }
  switch (rule_.type) {
    case TokenType::kHash: {
      std::string_view input = value;
      if (rule_.normalize != Normalize::kNone) {
        NormalizeValue(rule_.normalize, value, &normalized_);
        input = normalized_;
      }
      uint8_t mac[kHmacSha256Size];
      hash_key_->Mac(input, mac);
      token->assign("h");
      if (version_char_ != '\0') token->push_back(version_char_);
      AppendBase64UrlNoPad(mac, kHashTokenBytes, token);
      *store_in_vault = rule_.vault;
      return true;
    }
    case TokenType::kRandom:
      if (!RandomToken(token, err)) return false;
      *store_in_vault = rule_.vault;
      return true;
    case TokenType::kMasked:
      MaskValue(value, rule_.mask, token);
      return true;
    case TokenType::kFpe: {
      std::string fpe_err;
      if (fpe_.Encrypt(value, tweak_, token, &fpe_err)) {
        *store_in_vault = rule_.vault;
        return true;
      }
      if (short_fpe_ == ShortFpeValues::kRandom) {
        if (!RandomToken(token, err)) return false;
        *store_in_vault = true;
        return true;
      }
      *err = "column '" + rule_.column + "': " + fpe_err +
             "; fix: check the column's data, or set short_fpe_values: random in the config";
      return false;
    }
  }
  *err = "column '" + rule_.column + "': unknown token type";
  return false;
}

bool ColumnTokenizer::Detokenize(std::string_view token, Vault* vault, std::string* original,
                                 std::string* err) {
  if (token.empty() && empty_values_ == EmptyValues::kKeep) {
    original->clear();
    return true;
  }
  if (rule_.type == TokenType::kMasked) {
    original->assign(token);
    return true;
  }
  bool found = false;
  if (vault != nullptr && uses_vault()) {
    if (!vault->Get(rule_.domain, token, original, &found, err)) return false;
    if (found) return true;
  }
  if (rule_.type == TokenType::kFpe) {
    if (fpe_.Decrypt(token, tweak_, original, err)) return true;
    *err = "column '" + rule_.column + "': cannot decrypt token: " + *err;
    return false;
  }
  *err = "column '" + rule_.column + "': token " + std::string(token) + " is not in the vault " +
         (vault ? vault->path() : std::string("(none given)")) +
         "; fix: pass --vault with the vault written when this file was tokenized";
  return false;
}

int TokenKeyVersion(std::string_view token) {
  if (token.empty() || (token[0] != 'h' && token[0] != 'r')) return 0;
  const size_t body = token[0] == 'h' ? 24 : 22;
  size_t start = 1;
  int version = 1;
  if (token.size() == body + 2) {
    version = KeyVersionOfChar(token[1]);
    if (version == 0) return 0;
    start = 2;
  } else if (token.size() != body + 1) {
    return 0;
  }
  for (size_t i = start; i < token.size(); ++i) {
    const char c = token[i];
    const bool b64 = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '_';
    if (!b64) return 0;
  }
  return version;
}

}  // namespace sdp
