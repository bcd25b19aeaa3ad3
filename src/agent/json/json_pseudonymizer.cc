// Pseudonymizing a JSON document by splicing tokens into the spans the scanner reports.
#include "agent/json/json_pseudonymizer.h"

#include <openssl/crypto.h>

#include <chrono>
#include <cmath>
#include <cstdlib>

#include "agent/crypto/random.h"
#include "agent/json/json_canonical.h"

namespace sdp {
namespace {

// Record entries: varint(n) then n - 1 bytes of the original; 0 means "not kept".
void AppendVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(0x80 | (v & 0x7F)));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

bool ReadVarint(std::string_view s, size_t* pos, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && *pos < s.size(); shift += 7) {
    const auto b = static_cast<uint8_t>(s[(*pos)++]);
    *v |= uint64_t{b & 0x7Fu} << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

// Reads the next entry; *kept is false for a value whose original is not kept.
bool NextEntry(std::string_view record, size_t* pos, bool* kept, std::string_view* original) {
  uint64_t n;
  if (!ReadVarint(record, pos, &n)) return false;
  *kept = n != 0;
  if (n == 0) return true;
  if (n - 1 > record.size() - *pos) return false;
  *original = record.substr(*pos, n - 1);
  *pos += n - 1;
  return true;
}

// A JSON number that a double can hold: encrypted exponent digits may give 1e947, which RFC 8259
// allows but I-JSON readers (and RFC 8785) refuse, so such a token is written as a string.
bool IsFiniteJsonNumber(const std::string& token) {
  return IsJsonNumber(token) && std::isfinite(std::strtod(token.c_str(), nullptr));
}

bool IsBase64Url(std::string_view s) {
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

bool JsonPseudonymizer::Init(const JsonRules& rules, const KeyRing& keys, std::string* err,
                             size_t max_depth) {
  rules_ = &rules;
  tokenizers_.clear();
  for (const ColumnRule& rule : rules.config.columns) {
    tokenizers_.push_back(std::make_unique<ColumnTokenizer>());
    if (!tokenizers_.back()->Init(rule, rules.config, keys, err)) return false;
  }
  // A subkey of its own, so a document MAC can never equal a HASH token of the same bytes.
  HmacSha256Key hash(keys.hash_key());
  uint8_t key[kHmacSha256Size];
  hash.Mac(std::string_view("sdp/json-document-mac/v1"), key);
  mac_key_ = std::make_unique<HmacSha256Key>(key, sizeof key);
  OPENSSL_cleanse(key, sizeof key);
  scanner_ = std::make_unique<JsonScanner>(rules.paths, max_depth);
  return true;
}

bool JsonPseudonymizer::Skipped(const JsonScalar& s) const {
  return s.kind == JsonScalarKind::kString && s.value.empty() &&
         rules_->config.empty_values == EmptyValues::kKeep;
}

bool JsonPseudonymizer::Keeps(size_t rule) const {
  const ColumnRule& r = rules_->config.columns[rule];
  return r.type != TokenType::kMasked && (r.vault || r.type == TokenType::kFpe);
}

bool JsonPseudonymizer::Pseudonymize(std::string_view doc, std::string* out, std::string* originals,
                                     size_t* fields, std::string* err) {
  out->clear();
  originals->clear();
  *fields = 0;
  size_t copied = 0;
  const bool ok = scanner_->Scan(
      doc,
      [&](const JsonScalar& s, std::string* e) {
        if (Skipped(s)) return true;
        bool store = false;
        if (!tokenizers_[s.rule]->Tokenize(s.value, &token_, &store, e)) {
          *e += " (at " + JsonPointerOf(scanner_->location()) + ")";
          return false;
        }
        out->append(doc.substr(copied, s.begin - copied));
        const ColumnRule& rule = rules_->config.columns[s.rule];
        if (s.kind == JsonScalarKind::kNumber && rule.type == TokenType::kFpe &&
            !tokenizers_[s.rule]->last_token_random() && IsFiniteJsonNumber(token_)) {
          out->append(token_);
        } else {
          AppendJsonString(token_, out);
        }
        copied = s.end;
        if (Keeps(s.rule)) {
          AppendVarint(s.end - s.begin + 1, originals);
          originals->append(doc.substr(s.begin, s.end - s.begin));
        } else {
          AppendVarint(0, originals);
        }
        ++*fields;
        return true;
      },
      err);
  if (!ok) {
    if (!originals->empty()) OPENSSL_cleanse(&(*originals)[0], originals->size());
    originals->clear();
    out->clear();
    return false;
  }
  out->append(doc.substr(copied));
  return true;
}

bool JsonPseudonymizer::Repersonalize(std::string_view doc, std::string_view originals,
                                      std::string* out, std::string* err) {
  out->clear();
  size_t copied = 0, pos = 0;
  const bool ok = scanner_->Scan(
      doc,
      [&](const JsonScalar& s, std::string* e) {
        if (Skipped(s)) return true;
        bool kept = false;
        std::string_view original;
        if (!NextEntry(originals, &pos, &kept, &original)) {
          *e = "the document has more pseudonymized values than its record (at " +
               JsonPointerOf(scanner_->location()) + ")";
          return false;
        }
        if (!kept) return true;
        out->append(doc.substr(copied, s.begin - copied));
        out->append(original);
        copied = s.end;
        return true;
      },
      err);
  if (ok && pos != originals.size()) {
    *err = "the document has fewer pseudonymized values than its record";
  }
  if (!ok || pos != originals.size()) {
    if (!out->empty()) OPENSSL_cleanse(&(*out)[0], out->size());
    out->clear();
    return false;
  }
  out->append(doc.substr(copied));
  return true;
}

bool JsonPseudonymizer::FindPlaintext(std::string_view doc, const std::string* originals,
                                      std::vector<std::string>* pointers, std::string* err) {
  pointers->clear();
  size_t pos = 0;
  bool exhausted = false;
  return scanner_->Scan(
      doc,
      [&](const JsonScalar& s, std::string*) {
        if (Skipped(s)) return true;
        const ColumnRule& rule = rules_->config.columns[s.rule];
        bool clear = false;
        if (originals != nullptr) {
          bool kept = false;
          std::string_view original;
          if (exhausted || !NextEntry(*originals, &pos, &kept, &original)) {
            exhausted = true;
          } else if (kept) {
            if (original.size() >= 2 && original.front() == '"') {
              DecodeJsonString(original.substr(1, original.size() - 2), &original_);
              clear = original_ == s.value;
            } else {
              clear = original == s.value;
            }
          }
        }
        if (!clear && s.kind == JsonScalarKind::kString) {
          if (rule.type == TokenType::kHash) {
            clear = s.value.size() != 25 || s.value[0] != 'h' || !IsBase64Url(s.value.substr(1));
          } else if (rule.type == TokenType::kRandom) {
            clear = s.value.size() != 23 || s.value[0] != 'r' || !IsBase64Url(s.value.substr(1));
          }
        } else if (!clear && rule.type != TokenType::kFpe) {
          clear = true;  // a number or boolean where HASH, RANDOM or MASKED leave a string
        }
        if (clear) pointers->push_back(JsonPointerOf(scanner_->location()));
        return true;
      },
      err);
}

std::string JsonPseudonymizer::Mac(std::string_view doc) const {
  uint8_t mac[kHmacSha256Size];
  mac_key_->Mac(doc, mac);
  return std::string(reinterpret_cast<const char*>(mac), sizeof mac);
}

bool JsonPseudonymizer::CanonicalMac(std::string_view doc, std::string* mac,
                                     std::string* err) const {
  std::string canonical;
  if (!CanonicalJson(doc, &canonical, err)) return false;
  *mac = Mac(canonical);
  return true;
}

bool JsonPseudonymizer::MatchesMac(std::string_view doc, std::string_view record_mac) const {
  auto same = [&](const std::string& mac) {
    return mac.size() == record_mac.size() &&
           CRYPTO_memcmp(mac.data(), record_mac.data(), mac.size()) == 0;
  };
  if (same(Mac(doc))) return true;
  std::string canonical_mac, err;
  return CanonicalMac(doc, &canonical_mac, &err) && same(canonical_mac);
}

bool NewPseudonymId(std::string* id, std::string* err) {
  uint8_t b[16];
  if (!ThreadRandomBytes(b + 6, 10, err)) return false;
  const auto ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
  for (int i = 0; i < 6; ++i) b[i] = static_cast<uint8_t>(ms >> (8 * (5 - i)));
  b[6] = static_cast<uint8_t>((b[6] & 0x0F) | 0x70);  // version 7
  b[8] = static_cast<uint8_t>((b[8] & 0x3F) | 0x80);  // RFC 9562 variant
  static constexpr char kHex[] = "0123456789abcdef";
  id->clear();
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) id->push_back('-');
    id->push_back(kHex[b[i] >> 4]);
    id->push_back(kHex[b[i] & 15]);
  }
  OPENSSL_cleanse(b, sizeof b);
  return true;
}

bool IsPseudonymId(std::string_view id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

}  // namespace sdp
