// Token types (HASH, MASKED, RANDOM, FPE): one row per type says what it is and which column
// options it takes. The config parser, the CLI's flags and help, the key-column checks and the
// integrate join rule read the table instead of naming types, so a new type is one row here plus
// its code in ColumnTokenizer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

namespace sdp {

enum class TokenType {
  kHash,    // keyed HMAC-SHA256 in a domain: deterministic, joinable
  kMasked,  // irreversible, shape-keeping mask (no vault)
  kRandom,  // CSPRNG token; the original only in the vault
  kFpe,     // FF1 / FF3-1 format-preserving encryption, reversible with the key
};
// Rows in kTokenTypes; token_type.cc checks at compile time that row i is the i-th enumerator.
inline constexpr size_t kTokenTypeCount = 4;

// The keys a column rule may have besides token_type, in the order messages list them.
enum class TokenOption : uint8_t {
  kDomain,
  kNormalize,
  kMask,
  kAlgorithm,
  kAlphabet,
  kVault,
};
inline constexpr size_t kTokenOptionCount = 6;

// A set of column options, one bit each.
class TokenOptions {
 public:
  constexpr TokenOptions() = default;
  constexpr TokenOptions(std::initializer_list<TokenOption> options) {
    for (TokenOption option : options) Add(option);
  }
  constexpr void Add(TokenOption option) { bits_ |= Bit(option); }
  constexpr bool Has(TokenOption option) const { return (bits_ & Bit(option)) != 0; }
  constexpr bool Includes(TokenOptions other) const { return (bits_ & other.bits_) == other.bits_; }

 private:
  static constexpr uint32_t Bit(TokenOption option) {
    return uint32_t{1} << static_cast<unsigned>(option);
  }
  uint32_t bits_ = 0;
};

struct TokenTypeTraits {
  TokenType type;
  // As written in configs and --token-type (read in any case).
  const char* name;
  // One line for --help.
  const char* description;
  // Equal values (same key and domain) always give equal tokens.
  bool deterministic;
  // Detokenizes with SDP_CRYPTO_KEY alone, without the vault.
  bool reversible_by_key;
  // `vault:` when the rule does not say (the CLI's rules never say).
  bool vault_default;
  // May be the key_column: results are joined back onto the raw file by re-deriving the key's
  // token, so the token must be deterministic and tell keys apart.
  bool join_key;
  // Column options the type takes; any other is an error naming the types it applies to.
  TokenOptions allowed;
  // Of those, the ones a rule must give.
  TokenOptions required;
  // Said when a rule of this type sets `vault` (empty when the type takes it).
  const char* vault_refused_because;
};

// Every token type, in enum order, which is also the order messages and help list them; a
// message suggesting a type names the first.
extern const TokenTypeTraits kTokenTypes[kTokenTypeCount];

const TokenTypeTraits& TraitsOf(TokenType type);

// A type's name as in kTokenTypes, matched in any case ("HASH", "hash", "Hash"), for configs and
// --token-type.
bool ParseTokenType(std::string_view text, TokenType* out);
const char* TokenTypeName(TokenType type);

// The names of the types `keep` accepts, in table order, as "A, B or C" (`last` = " or ") or
// "A, B and C"; empty when it accepts none.
std::string ListTokenTypes(const std::function<bool(const TokenTypeTraits&)>& keep,
                           std::string_view last);
inline std::string ListTokenTypes(std::string_view last) {
  return ListTokenTypes([](const TokenTypeTraits&) { return true; }, last);
}

// A column option's key as written in configs ("domain", ...); ParseTokenOption matches it
// exactly, as YAML keys are.
const char* TokenOptionKey(TokenOption option);
bool ParseTokenOption(std::string_view key, TokenOption* out);
// "domain, normalize, mask, algorithm, alphabet or vault".
std::string ListTokenOptions(std::string_view last);

}  // namespace sdp
