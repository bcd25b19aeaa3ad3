// Tokenization config: which CSV columns are tokenized and how, read from YAML
// (schema in configs/README.md, example configs/customers_tokenization.yml).
//
// Validation is strict on purpose: an unknown key, a key that does not apply
// to the column's token type, or a bad value is an error naming the file, the
// line, the column and the fix, because a typo ("normalise", "vualt") must
// never silently weaken protection.
//
// yaml-cpp reports errors by throwing; YAML::Exception is caught inside
// tokenization_config.cc and turned into bool + err, so nothing escapes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/crypto/fpe_alphabet.h"  // FpeAlgorithm, FpeAlphabet
#include "agent/tokenize/masking.h"     // MaskStyle
#include "agent/tokenize/token_type.h"  // TokenType and what each type allows

namespace YAML {
class Node;
}

namespace sdp {

// Applied before HASH so equal values in different spellings join.
enum class Normalize {
  kNone,
  kLowercase,      // ASCII letters only; UTF-8 bytes are left as they are
  kTrim,           // leading/trailing ASCII whitespace
  kLowercaseTrim,  // both (the usual choice for e-mail addresses)
  kDigitsOnly,     // keep 0-9 only ("+1 (555) 010-0001" -> "15550100001")
};

// What to do with an empty cell.
enum class EmptyValues {
  kKeep,      // stays empty (an empty value carries no PII; default)
  kTokenize,  // tokenized like any value (hides which cells were empty)
};

// What to do with a value too short for FPE (fewer alphabet characters than
// FF1/FF3-1 allow, e.g. fewer than 6 digits).
enum class ShortFpeValues {
  kError,   // fail the run (default: the data is not what the config expects)
  kRandom,  // fall back to a RANDOM token stored in the vault
};

struct ColumnRule {
  std::string column;
  TokenType type = TokenType::kHash;
  /// Key-separation domain; the same domain in two tables makes HASH tokens
  /// join. Defaults to source_table + "." + column.
  std::string domain;
  // One field per column option; the type's row in kTokenTypes says which options it takes,
  // the others keep these defaults.
  Normalize normalize = Normalize::kNone;
  MaskStyle mask = MaskStyle::kAuto;
  FpeAlgorithm algorithm = FpeAlgorithm::kFf1;
  std::string alphabet = "digits";  // FpeAlphabet::FromSpec syntax
  /// Store the original in the vault. Defaults to the type's vault_default
  /// (token_type.h); always false for a type that does not take `vault`.
  bool vault = true;
  /// What the column holds (`class:`, e.g. email, payment_card; `sdp-agent scan` proposes it),
  /// sent with every upload of the column in its manifest so the server classifies it; empty:
  /// the server's default. Never a value, only the class.
  std::string pii_class;
  /// Line of the column in the config (0 if not from a file), for messages.
  int line = 0;
};

struct TokenizationConfig {
  int version = 1;
  /// File path (or other name) the config was read from, for messages.
  std::string source_name;
  /// Default domain prefix.
  std::string source_table;
  /// Join key for results (integrate-results --key-column).
  std::string key_column = "customer_id";
  /// In config order.
  std::vector<ColumnRule> columns;
  EmptyValues empty_values = EmptyValues::kKeep;
  ShortFpeValues short_fpe_values = ShortFpeValues::kError;

  /// Rule for `column`, or nullptr if the column is left as it is.
  const ColumnRule* Find(std::string_view column) const;
};

/// Reads and validates a config file (at most 1 MiB).
bool LoadTokenizationConfig(const std::string& path, TokenizationConfig* out, std::string* err);
/// Parses and validates YAML text; `source_name` prefixes error messages.
bool ParseTokenizationConfig(std::string_view yaml_text, const std::string& source_name,
                             TokenizationConfig* out, std::string* err);

/// Where a rule mapping (`{ token_type: ..., <options> }`) comes from, for ParseRuleSpec.
struct RuleSpecContext {
  std::string source;  // file name, first in every message
  std::string label;   // prefix naming the rule: "column 'email': "
  int line = 0;        // line of the rule, for messages about it as a whole
  // The default domain is source_table.column (DefaultRule); `column` also names the rule in
  // the tokenizers' messages.
  std::string source_table;
  std::string column;
  // Keys of the caller's own (e.g. `path` in JSON rules): skipped here, and listed in the
  // unknown-key message.
  std::vector<std::string> extra_keys;
};

/// Reads one rule mapping exactly as a column of a tokenization config is read: `token_type`
/// and the options its type takes, every other key an error. Other rule files (the JSON
/// pseudonymization rules, src/agent/json/json_rules.h) use it so that both accept and refuse the
/// same keys and values with the same messages. Cross-rule checks are the caller's.
bool ParseRuleSpec(const YAML::Node& spec, const RuleSpecContext& context, ColumnRule* rule,
                   std::string* err);

/// Rules that share a domain must tokenize alike (type, normalize, FPE algorithm and alphabet),
/// or their tokens would not join; the error names both by `noun` ("column", "rule").
bool CheckSharedDomains(const std::vector<ColumnRule>& rules, const std::string& source,
                        const char* noun, std::string* err);

/// "none", "lowercase", "trim", "lowercase_trim", "digits_only".
bool ParseNormalize(std::string_view text, Normalize* out);
const char* NormalizeName(Normalize normalize);
/// "auto", "email", "last4", "initial", "full".
bool ParseMaskStyle(std::string_view text, MaskStyle* out);
const char* MaskStyleName(MaskStyle mask);

/// The rule the CLI uses for `--column X --token-type T` without a config:
/// domain source_table.column, the type's vault_default, and every other option
/// at its default (FPE FF1 over digits, MASKED auto).
ColumnRule DefaultRule(const std::string& source_table, const std::string& column, TokenType type);

/// Applies `normalize` to `value`.
void NormalizeValue(Normalize normalize, std::string_view value, std::string* out);

/// Checks that every configured column (and the key column, if tokenized)
/// exists in a CSV header; the error lists the available columns.
bool CheckConfigAgainstHeader(const TokenizationConfig& config,
                              const std::vector<std::string>& header, std::string* err);

}  // namespace sdp
