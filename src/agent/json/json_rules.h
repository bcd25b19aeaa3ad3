// The pseudonymization rules of JSON documents (YAML, docs/json_pseudonymization.md):
//
//   version: 1
//   rules:
//     - { path: "$.customer_id", token_type: HASH, domain: customer_id }
//     - { path: "$.transactions[*].iban", token_type: FPE, alphabet: digits }
//     - { path: "/contact/email", token_type: HASH, normalize: lowercase_trim }
//   ttl: 30d                 # optional: how long pseudonym records live (s, m, h, d; none)
//   empty_values: keep       # optional, as in tokenization configs
//   short_fpe_values: error  # optional, as in tokenization configs
//
// Besides `path`, a rule has exactly the keys of a column of a tokenization config (token types,
// domain, options, vault), read by the same code (ParseRuleSpec), so a key is accepted or refused
// the same way in both files. Unknown keys are errors naming the file, the line, the key and the
// fix: a typo must never leave a value unprotected.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/json/json_path.h"
#include "agent/tokenize/tokenization_config.h"

namespace sdp {

struct JsonRules {
  std::string source_name;
  // One ColumnRule per rule, in file order (`column` is the path as written, for messages); also
  // the tokenizers' config (empty_values, short_fpe_values).
  TokenizationConfig config;
  // The rules' paths, in the same order: path i belongs to config.columns[i].
  JsonPathSet paths;
  // Lifetime of a pseudonym record in seconds; 0: records never expire.
  int64_t ttl_seconds = 0;
};

// Reads and validates a rules file (at most 1 MiB).
bool LoadJsonRules(const std::string& path, JsonRules* out, std::string* err);
// Parses and validates YAML text; `source_name` starts every error message.
bool ParseJsonRules(std::string_view yaml_text, const std::string& source_name, JsonRules* out,
                    std::string* err);

// "30d", "12h", "90m", "3600s", "3600" (seconds) or "none" (0); false on anything else.
bool ParseTtl(std::string_view text, int64_t* seconds);

// The domain of a rule that names none: "json" and the path's steps joined by '.', each member
// name with the characters a domain cannot hold as '_', an index as its digits, a wildcard as
// '_', a descendant step prefixed by '_' (at most 128 characters). "$.customer.email",
// "$['customer']['email']" and "/customer/email" all give "json.customer.email".
std::string DefaultJsonDomain(const JsonPath& path);

}  // namespace sdp
