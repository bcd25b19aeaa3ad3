// SQL-callable integrity MACs (src/extension/sql/77_integrity.sql). The bulk loader computes the
// same MACs in bulk_insert.cc; these recompute them for verification (sdp_verify_integrity, API
// reads) and for rows changed through sdp_update_record. Owner only: they take the key.
#include <cstring>
#include <string_view>

#include "integrity_crypto.h"
#include "pg_datum.h"

namespace {

namespace integrity = sdp::integrity;

// The keyed states for the key argument, cached in fn_extra for the rest of the query: a
// verification calls these once per row with the same key, and deriving the states costs two
// SHA-256 compressions.
struct CachedKey {
  uint8_t secret[integrity::kKeyBytes];
  integrity::IntegrityKey key;
};

const integrity::IntegrityKey& KeyArg(FunctionCallInfo fcinfo, int i,
                                      integrity::IntegrityKey* scratch) {
  const sdp::pg::Bytes secret = sdp::pg::ByteaArg(fcinfo, i);
  const uint8_t* data = secret.data;
  const size_t len = secret.size;
  auto* cached = static_cast<CachedKey*>(fcinfo->flinfo->fn_extra);
  if (cached != nullptr && len == integrity::kKeyBytes &&
      std::memcmp(cached->secret, data, len) == 0) {
    return cached->key;
  }
  integrity::InitKey(scratch, data, len);  // throws on a wrong size
  if (cached == nullptr) {
    cached = static_cast<CachedKey*>(sdp::pg::PgCall(
        [&] { return MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(CachedKey)); }));
    fcinfo->flinfo->fn_extra = cached;
  }
  std::memcpy(cached->secret, data, len);
  cached->key = *scratch;
  return cached->key;
}

// Arguments 1-4 of both MAC functions: which row of which batch, whose, under which key.
struct RowIdentity {
  pg_uuid_t batch;
  int64 row_no;
  std::string_view client;
  std::string_view record_key;
};

// Runs `mac(key, row, out)` with the key of argument 0 and the row of arguments 1-4, wipes the
// derived key and returns the MAC as bytea.
template <typename ComputeMac>
Datum MacOf(FunctionCallInfo fcinfo, ComputeMac mac) {
  integrity::IntegrityKey scratch;
  const integrity::IntegrityKey& key = KeyArg(fcinfo, 0, &scratch);
  const RowIdentity row{sdp::pg::UuidArg(fcinfo, 1), PG_GETARG_INT64(2),
                        sdp::pg::TextArgView(fcinfo, 3), sdp::pg::TextArgView(fcinfo, 4)};
  uint8_t out[integrity::kMacBytes];
  mac(key, row, out);
  integrity::Wipe(&scratch);
  return sdp::pg::ByteaDatum(out, sizeof(out));
}

}  // namespace

// sdp._record_mac(key bytea, batch_id uuid, row_no bigint, client_id text, record_key text,
//                 fields text[]) RETURNS bytea   (STRICT)
SDP_PG_FUNCTION(sdp_record_mac) {
  const sdp::pg::TextArray fields = sdp::pg::TextArrayArg(fcinfo, 5);
  return MacOf(fcinfo,
               [&](const integrity::IntegrityKey& key, const RowIdentity& row, uint8_t* out) {
                 integrity::RecordMac(key, row.batch.data, row.row_no, row.client, row.record_key,
                                      static_cast<int>(fields.size()), fields.data.data(),
                                      fields.lens.data(), out);
               });
}

// sdp._result_mac(key bytea, batch_id uuid, row_no bigint, client_id text, record_key text,
//                 score float8, risk_band text, model_version text, defaulted_features integer)
//   RETURNS bytea   (STRICT)
SDP_PG_FUNCTION(sdp_result_mac) {
  const double score = PG_GETARG_FLOAT8(5);
  const std::string_view band = sdp::pg::TextArgView(fcinfo, 6);
  const std::string_view model = sdp::pg::TextArgView(fcinfo, 7);
  const int32 defaulted = PG_GETARG_INT32(8);
  return MacOf(fcinfo,
               [&](const integrity::IntegrityKey& key, const RowIdentity& row, uint8_t* out) {
                 integrity::ResultMac(key, row.batch.data, row.row_no, row.client, row.record_key,
                                      score, band, model, defaulted, out);
               });
}
