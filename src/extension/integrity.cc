// SQL-callable integrity MACs (src/extension/sql/77_integrity.sql). The bulk loader computes the
// same MACs in bulk_insert.cc; these recompute them for verification (sdp_verify_integrity, API
// reads) and for rows changed through sdp_update_record. Owner only: they take the key.
#include <cstring>
#include <string_view>
#include <vector>

#include "integrity_crypto.h"
#include "pg_datum.h"

namespace {

namespace integrity = sdp::integrity;

std::string_view TextView(FunctionCallInfo fcinfo, int i) {
  text* value = sdp::pg::PgCall([&] { return PG_GETARG_TEXT_PP(i); });
  return std::string_view(VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value));
}

// The keyed states for the key argument, cached in fn_extra for the rest of the query: a
// verification calls these once per row with the same key, and deriving the states costs two
// SHA-256 compressions.
struct CachedKey {
  uint8_t secret[integrity::kKeyBytes];
  integrity::IntegrityKey key;
};

const integrity::IntegrityKey& KeyArg(FunctionCallInfo fcinfo, int i,
                                      integrity::IntegrityKey* scratch) {
  bytea* value = sdp::pg::PgCall([&] { return PG_GETARG_BYTEA_PP(i); });
  const auto* data = reinterpret_cast<const uint8_t*>(VARDATA_ANY(value));
  const size_t len = static_cast<size_t>(VARSIZE_ANY_EXHDR(value));
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

Datum MacResult(const uint8_t* mac) {
  return sdp::pg::PgCall([&] {
    bytea* out = static_cast<bytea*>(palloc(integrity::kMacBytes + VARHDRSZ));
    SET_VARSIZE(out, integrity::kMacBytes + VARHDRSZ);
    std::memcpy(VARDATA(out), mac, integrity::kMacBytes);
    return PointerGetDatum(out);
  });
}

}  // namespace

// sdp._record_mac(key bytea, batch_id uuid, row_no bigint, client_id text, record_key text,
//                 fields text[]) RETURNS bytea   (STRICT)
SDP_PG_FUNCTION(sdp_record_mac) {
  integrity::IntegrityKey scratch;
  const integrity::IntegrityKey& key = KeyArg(fcinfo, 0, &scratch);
  pg_uuid_t* batch = sdp::pg::PgCall([&] { return PG_GETARG_UUID_P(1); });
  const int64 row_no = PG_GETARG_INT64(2);
  std::string_view client = TextView(fcinfo, 3);
  std::string_view record_key = TextView(fcinfo, 4);
  ArrayType* array = sdp::pg::PgCall([&] { return PG_GETARG_ARRAYTYPE_P(5); });
  Datum* elems = nullptr;
  bool* nulls = nullptr;
  int n = 0;
  sdp::pg::PgCall(
      [&] { deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n); });
  std::vector<const char*> ptrs(n);
  std::vector<int> lens(n);
  for (int i = 0; i < n; ++i) {
    if (nulls[i]) {
      ptrs[i] = nullptr;
      lens[i] = -1;
    } else {
      text* t = reinterpret_cast<text*>(DatumGetPointer(elems[i]));
      ptrs[i] = VARDATA_ANY(t);
      lens[i] = static_cast<int>(VARSIZE_ANY_EXHDR(t));
    }
  }
  uint8_t mac[integrity::kMacBytes];
  integrity::RecordMac(key, batch->data, row_no, client, record_key, n, ptrs.data(), lens.data(),
                       mac);
  integrity::Wipe(&scratch);
  return MacResult(mac);
}

// sdp._result_mac(key bytea, batch_id uuid, row_no bigint, client_id text, record_key text,
//                 score float8, risk_band text, model_version text, defaulted_features integer)
//   RETURNS bytea   (STRICT)
SDP_PG_FUNCTION(sdp_result_mac) {
  integrity::IntegrityKey scratch;
  const integrity::IntegrityKey& key = KeyArg(fcinfo, 0, &scratch);
  pg_uuid_t* batch = sdp::pg::PgCall([&] { return PG_GETARG_UUID_P(1); });
  const int64 row_no = PG_GETARG_INT64(2);
  std::string_view client = TextView(fcinfo, 3);
  std::string_view record_key = TextView(fcinfo, 4);
  const double score = PG_GETARG_FLOAT8(5);
  std::string_view band = TextView(fcinfo, 6);
  std::string_view model = TextView(fcinfo, 7);
  const int32 defaulted = PG_GETARG_INT32(8);
  uint8_t mac[integrity::kMacBytes];
  integrity::ResultMac(key, batch->data, row_no, client, record_key, score, band, model, defaulted,
                       mac);
  integrity::Wipe(&scratch);
  return MacResult(mac);
}
