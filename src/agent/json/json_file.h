// `sdp-agent pseudonymize` / `repersonalize` over files: one JSON document, or NDJSON streamed a
// line at a time (memory bounded by the longest line, at most kMaxLineBytes). Output is all or
// nothing (AtomicOutputFile), and the vault's records are committed, durably, in one transaction
// just before the output is renamed into place: an error or an interrupt leaves neither an output
// nor records.
#pragma once

#include <cstdint>
#include <string>

#include "agent/crypto/crypto_keys.h"
#include "agent/json/json_rules.h"

namespace sdp {

enum class JsonFormat { kAuto, kDocument, kNdjson };

struct JsonFileJob {
  std::string input;
  std::string output;
  std::string vault_path;
  // Pseudonymize only: one record id per document, in order ("" = not written).
  std::string ids_output;
  JsonFormat format = JsonFormat::kAuto;  // auto: .ndjson / .jsonl are NDJSON
  int64_t ttl_seconds = 0;                // 0: the rules' ttl
};

struct JsonFileReport {
  uint64_t documents = 0;
  uint64_t fields = 0;
  double seconds = 0;
};

inline constexpr size_t kMaxJsonDocumentBytes = size_t{256} << 20;
inline constexpr size_t kMaxLineBytes = size_t{64} << 20;

bool PseudonymizeJsonFile(const JsonFileJob& job, const JsonRules& rules, const KeyRing& keys,
                          JsonFileReport* report, std::string* err);
// Finds each document's record by its MAC: a document changed since it was pseudonymized (or
// whose record expired or was cleaned up) has none, and fails naming its line.
bool RepersonalizeJsonFile(const JsonFileJob& job, const JsonRules& rules, const KeyRing& keys,
                           JsonFileReport* report, std::string* err);

}  // namespace sdp
