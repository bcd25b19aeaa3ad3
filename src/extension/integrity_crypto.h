// Integrity MACs of stored rows (docs/governance.md, "Integrity"). PostgreSQL-free.
//
// Every sdp.tokenized_record and sdp.processed_result row carries
//   integrity_hmac = HMAC-SHA-256(integrity key, canonical content)
// where the 32-byte integrity key lives in sdp.integrity_secret (extension owner only).
//
// Canonical content: a domain tag ("sdp.record.v1" / "sdp.result.v1"), then every column in a
// fixed order, each length-prefixed (u32 big-endian) so that no two different rows share an
// encoding; integers are big-endian, the score is its IEEE-754 bit pattern, big-endian.
//
// Speed: IntegrityKey holds the two keyed SHA-256 states (key^ipad, key^opad), computed once per
// bulk load; each row then costs a struct copy and two short SHA-256 runs, no allocation and no
// OpenSSL context setup. The struct is plain data, so the bulk loader can keep it in palloc'ed
// memory (it wipes it with Wipe() when done).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sdp::integrity {

inline constexpr size_t kMacBytes = 32;
inline constexpr size_t kKeyBytes = 32;

struct IntegrityKey {
  alignas(8) unsigned char inner[128];  // SHA256_CTX after key ^ ipad
  alignas(8) unsigned char outer[128];  // SHA256_CTX after key ^ opad
};

// Derives the keyed states. Throws sdp::Error (XX000) unless key_len == kKeyBytes.
void InitKey(IntegrityKey* k, const uint8_t* key, size_t key_len);
// Overwrites the keyed states.
void Wipe(IntegrityKey* k);

// MAC of one sdp.tokenized_record row. `fields[i]` has `lens[i]` bytes; a negative length
// stands for a NULL element (never written by the loader, but encoded distinctly).
void RecordMac(const IntegrityKey& k, const uint8_t batch_id[16], int64_t row_no,
               std::string_view client_id, std::string_view record_key, int nfields,
               const char* const* fields, const int* lens, uint8_t out[kMacBytes]);

// MAC of one sdp.processed_result row.
void ResultMac(const IntegrityKey& k, const uint8_t batch_id[16], int64_t row_no,
               std::string_view client_id, std::string_view record_key, double score,
               std::string_view risk_band, std::string_view model_version,
               int32_t defaulted_features, uint8_t out[kMacBytes]);

}  // namespace sdp::integrity
