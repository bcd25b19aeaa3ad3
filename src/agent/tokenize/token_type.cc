// The token-type table: one row per type, and the name and option look-ups derived from it.
#include "agent/tokenize/token_type.h"

#include <cstring>

#include "common/text.h"

namespace sdp {

namespace {

using O = TokenOption;

constexpr const char* kOptionKeys[kTokenOptionCount] = {
    "domain", "normalize", "mask", "algorithm", "alphabet", "vault",
};

}  // namespace

// Per column option, the types that take it follow from `allowed`; configs/README.md documents
// the same table for users.
constexpr TokenTypeTraits kTokenTypes[kTokenTypeCount] = {
    {TokenType::kHash,
     "HASH",
     "keyed HMAC in the column's domain: deterministic, joinable",
     /*deterministic=*/true,
     /*reversible_by_key=*/false,
     /*vault_default=*/true,
     /*join_key=*/true,
     {O::kDomain, O::kNormalize, O::kVault},
     {},
     ""},
    {TokenType::kMasked,
     "MASKED",
     "irreversible mask keeping a hint (e.g. the last 4 digits)",
     /*deterministic=*/true,
     /*reversible_by_key=*/false,
     /*vault_default=*/false,
     /*join_key=*/false,
     {O::kMask},
     {},
     "a mask is irreversible and many values share one, so there is nothing to look up"},
    {TokenType::kRandom,
     "RANDOM",
     "random token; the original only in the vault",
     /*deterministic=*/false,
     /*reversible_by_key=*/false,
     /*vault_default=*/true,
     /*join_key=*/false,
     {O::kDomain, O::kVault},
     {},
     ""},
    {TokenType::kFpe,
     "FPE",
     "FF1/FF3-1 encryption keeping the format; reversible by key",
     /*deterministic=*/true,
     /*reversible_by_key=*/true,
     /*vault_default=*/false,
     /*join_key=*/true,
     {O::kDomain, O::kAlgorithm, O::kAlphabet, O::kVault},
     {},
     ""},
};

namespace {

// TraitsOf indexes the table by the enum: a row out of place (or missing after a new
// enumerator) fails the build instead of describing the wrong type.
constexpr bool RowsInEnumOrder() {
  for (size_t i = 0; i < kTokenTypeCount; ++i) {
    const TokenTypeTraits& row = kTokenTypes[i];
    if (static_cast<size_t>(row.type) != i || row.name == nullptr || row.name[0] == '\0' ||
        row.description == nullptr || !row.allowed.Includes(row.required)) {
      return false;
    }
    // A join key is re-derived from the raw value, which only a deterministic type allows.
    if (row.join_key && !row.deterministic) return false;
    // A type that refuses `vault` says why, and never defaults to it.
    const bool takes_vault = row.allowed.Has(TokenOption::kVault);
    if (takes_vault != (row.vault_refused_because[0] == '\0')) return false;
    if (row.vault_default && !takes_vault) return false;
  }
  return true;
}
static_assert(RowsInEnumOrder(), "kTokenTypes: one consistent row per TokenType, in enum order");

std::string JoinList(const char* const* names, size_t n, std::string_view last) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out += i + 1 == n ? std::string(last) : std::string(", ");
    out += names[i];
  }
  return out;
}

}  // namespace

const TokenTypeTraits& TraitsOf(TokenType type) { return kTokenTypes[static_cast<size_t>(type)]; }

bool ParseTokenType(std::string_view text, TokenType* out) {
  for (const TokenTypeTraits& row : kTokenTypes) {
    if (EqualsIgnoreCase(text, row.name)) {  // compares lengths: a NUL never matches a name
      *out = row.type;
      return true;
    }
  }
  return false;
}

const char* TokenTypeName(TokenType type) { return TraitsOf(type).name; }

std::string ListTokenTypes(const std::function<bool(const TokenTypeTraits&)>& keep,
                           std::string_view last) {
  const char* names[kTokenTypeCount];
  size_t n = 0;
  for (const TokenTypeTraits& row : kTokenTypes) {
    if (keep(row)) names[n++] = row.name;
  }
  return JoinList(names, n, last);
}

const char* TokenOptionKey(TokenOption option) { return kOptionKeys[static_cast<size_t>(option)]; }

bool ParseTokenOption(std::string_view key, TokenOption* out) {
  for (size_t i = 0; i < kTokenOptionCount; ++i) {
    if (key == kOptionKeys[i]) {
      *out = static_cast<TokenOption>(i);
      return true;
    }
  }
  return false;
}

std::string ListTokenOptions(std::string_view last) {
  return JoinList(kOptionKeys, kTokenOptionCount, last);
}

}  // namespace sdp
