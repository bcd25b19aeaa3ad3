// Joins a batch's results back onto the raw (untokenized) file, locally.
//
// Output = every raw column, in the raw order and quoting, plus score, risk_band and
// model_version. Raw rows without a result keep empty result columns; every raw row whose key
// has a result gets it (duplicate keys included). A key with several results gets the last one
// in batch order, on every raw row and whatever the raw file's order. Every result cell is
// validated (result_cells.h) before anything is written. When the key column was tokenized, the raw
// key is re-tokenized with the same config and key to find its result; that needs a key column
// whose token type is a join_key in kTokenTypes (HASH, FPE).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/crypto/crypto_keys.h"
#include "agent/tokenize/tokenization_config.h"

namespace sdp {

struct IntegrateJob {
  std::string raw_input;
  std::string output;
  std::string key_column = "customer_id";
  std::string results_csv;                     // record_key,score,risk_band,model_version
  const TokenizationConfig* config = nullptr;  // to re-derive a tokenized key; may be null
  const KeyRing* keys = nullptr;               // needed when the key column is tokenized
  // The key ring's other keys (LoadOtherRingKeys): a result whose record_key an older key made
  // (a batch uploaded before a rotation that has not reached it yet) still joins.
  std::vector<const KeyRing*> other_keys;
  bool escape_formulas = false;  // guard raw cells against spreadsheet formulas
};

struct IntegrateReport {
  uint64_t raw_rows = 0;
  uint64_t matched_rows = 0;
  uint64_t results = 0;
  // Keys the server returned several results for (a record sent twice); each raw row of such a
  // key gets the last one in batch order. Of those, the keys whose results differ in score or
  // band (the duplicates carried different field values).
  uint64_t keys_with_several_results = 0;
  uint64_t disagreeing_keys = 0;
  double seconds = 0;
};

// The rule of `key_column` when `config` tokenizes it, so that the raw key can be re-derived into
// what the server holds; nullptr with *err empty when the key travels as it is. A rule whose
// type is not a join_key in kTokenTypes (RANDOM, MASKED) is nullptr with *err saying why and the
// fix.
const ColumnRule* JoinKeyRule(const TokenizationConfig& config, const std::string& key_column,
                              std::string* err);

bool IntegrateResults(const IntegrateJob& job, IntegrateReport* report, std::string* err);

}  // namespace sdp
