// Pseudonymization of one JSON document by its rules, and the reverse, with no storage of its own
// (the caller keeps the pseudonym record, e.g. in the vault: vault.h, PutPseudonym).
//
// Every string, number and boolean a rule's path selects is replaced by its rule's token
// (the CSV tokenizers, ColumnTokenizer, with the rule's domain and options); every other byte of
// the document is copied as it is. A string becomes a JSON string token; a number stays a number
// under FPE when the encrypted digits still read as a JSON number that a double can hold (no
// leading zero, no exponent past 308), and becomes a string otherwise; a boolean becomes a string
// token. null, objects and arrays at a path are left alone, and so is "" while empty_values is
// keep.
//
// The record ("originals") holds, per replaced value in document order, the value's original
// bytes when its rule is reversible (HASH and RANDOM with vault: true, FPE always, since the key
// alone reverses it anyway) and nothing otherwise (MASKED, or vault: false): restoring splices
// the original bytes back, so repersonalize(pseudonymize(d)) == d byte for byte when every rule is
// reversible. The record is sealed by the vault; it never leaves this process unsealed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/crypto/crypto_keys.h"
#include "agent/crypto/hmac_sha256.h"
#include "agent/json/json_rules.h"
#include "agent/json/json_scan.h"
#include "agent/tokenize/column_tokenizer.h"

namespace sdp {

class JsonPseudonymizer {
 public:
  static constexpr size_t kMacSize = kHmacSha256Size;

  JsonPseudonymizer() = default;
  JsonPseudonymizer(const JsonPseudonymizer&) = delete;
  JsonPseudonymizer& operator=(const JsonPseudonymizer&) = delete;

  // `rules` must outlive the pseudonymizer. `max_depth` bounds the documents' nesting.
  bool Init(const JsonRules& rules, const KeyRing& keys, std::string* err,
            size_t max_depth = JsonScanner::kDefaultMaxDepth);

  // *out = `doc` pseudonymized; *originals = the record restoring needs; *fields = values
  // replaced. Errors name the byte or the rule's path, never a value.
  bool Pseudonymize(std::string_view doc, std::string* out, std::string* originals, size_t* fields,
                    std::string* err);
  // *out = `doc` (a pseudonymized document) with the values of `originals` put back. Fails when
  // the record does not fit the document (another document, or one changed since).
  bool Repersonalize(std::string_view doc, std::string_view originals, std::string* out,
                     std::string* err);
  // The pointers (RFC 6901) of values in `doc` that are still in clear: a selected value equal to
  // the original `originals` holds for it (with a record), or, without one (`originals` null),
  // a selected string that is not shaped like its rule's token (HASH "h"+24, RANDOM "r"+22).
  bool FindPlaintext(std::string_view doc, const std::string* originals,
                     std::vector<std::string>* pointers, std::string* err);

  // MAC of a pseudonymized document's bytes: HMAC-SHA256 under a subkey of the hash key. The CLI
  // finds a file's records by it (files come back unchanged).
  std::string Mac(std::string_view doc) const;
  // MAC of its RFC 8785 canonical form, for the service: clients parse and re-serialize the
  // pseudonymized_data they got (white space, escapes, number spellings change), which must not
  // count as tampering. False when `doc` is not JSON.
  bool CanonicalMac(std::string_view doc, std::string* mac, std::string* err) const;
  // Whether `doc` is the document a record's MAC was made of, by either form: the CLI stores the
  // MAC of the bytes, the service that of the canonical form, and one vault may hold both. The
  // bytes are tried first (the cheap, common case); constant-time comparisons.
  bool MatchesMac(std::string_view doc, std::string_view record_mac) const;

  const JsonRules& rules() const { return *rules_; }

 private:
  bool Skipped(const JsonScalar& s) const;
  bool Keeps(size_t rule) const;

  const JsonRules* rules_ = nullptr;
  std::vector<std::unique_ptr<ColumnTokenizer>> tokenizers_;
  std::unique_ptr<HmacSha256Key> mac_key_;
  std::unique_ptr<JsonScanner> scanner_;
  std::string token_, original_;  // scratch
};

// The id of a pseudonym record: a UUID version 7 (RFC 9562), 48 bits of Unix milliseconds then 74
// random bits. Time-ordered ids land at the right edge of the vault's primary-key index instead of
// at random pages of it, which halves the cost of storing a record; the 74 random bits keep ids
// unguessable. The time they show is also stored in the record (created_at).
bool NewPseudonymId(std::string* id, std::string* err);
// Whether `id` is shaped like NewPseudonymId's ids (36 characters, lowercase hex and dashes).
bool IsPseudonymId(std::string_view id);

}  // namespace sdp
