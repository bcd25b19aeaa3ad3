// Streams a CSV file through the tokenizer (or back through the detokenizer).
//
// The output is written to a temporary file beside the target and renamed into place only when
// every row succeeded: on any error (malformed CSV, a value FPE cannot take, a full disk,
// SIGINT) no output file exists. Quoting, line endings and a BOM are mirrored from the input,
// so tokenize -> detokenize gives the original file byte for byte for reversible columns.
// Vault entries are written in large transactions and committed before the output is renamed,
// so a token that reached the output always has its vault entry.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/crypto/crypto_keys.h"
#include "agent/tokenize/tokenization_config.h"

namespace sdp {

struct TokenizeJob {
  std::string input;
  std::string output;
  std::string vault_path = "token_vault.db";  // opened only if a column needs it
  TokenizationConfig config;
};

struct DetokenizeJob {
  std::string input;
  std::string output;
  std::string vault_path = "token_vault.db";
  TokenizationConfig config;
  std::vector<std::string> only_columns;  // empty: every configured column present
};

struct FileReport {
  uint64_t rows = 0;
  uint64_t cells = 0;       // tokenized / restored cells
  uint64_t vault_puts = 0;  // vault entries written (before de-duplication)
  double seconds = 0;
};

bool TokenizeCsvFile(const TokenizeJob& job, const KeyRing& keys, FileReport* report,
                     std::string* err);
bool DetokenizeCsvFile(const DetokenizeJob& job, const KeyRing& keys, FileReport* report,
                       std::string* err);

}  // namespace sdp
