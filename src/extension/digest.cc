// SHA-256 for the SQL layer (src/extension/sql/20_ingest.sql): the content hash of a whole body,
// and the resumable state that chunked uploads (sdp_batch_append / sdp_batch_seal) carry in
// sdp.processing_batch.hash_state from one chunk to the next.
//
//   sdp._sha256_hex(data text) RETURNS text
//   sdp._sha256_update(state bytea, data text) RETURNS bytea
//   sdp._sha256_final(state bytea) RETURNS text
#include <string>

#include "sha256.h"
// Backend headers last (pg.h rule).
#include "pg_datum.h"

namespace {

// The hash saved in argument `i`, or a fresh one when it is NULL.
sdp::Sha256 RestoredHash(FunctionCallInfo fcinfo, int i) {
  sdp::Sha256 hash;
  if (sdp::pg::ArgIsNull(fcinfo, i)) return hash;
  std::string err;
  if (!hash.RestoreState(sdp::pg::ByteaArg(fcinfo, i).chars(), &err)) {
    throw sdp::Error(sdp::sqlstate::kObjectNotInPrerequisiteState, err);
  }
  return hash;
}

}  // namespace

// sdp._sha256_hex(data text) RETURNS text: lowercase hex SHA-256 of the text's bytes.
SDP_PG_FUNCTION(sdp_sha256_hex) {
  return sdp::pg::TextDatum(sdp::Sha256::Hex(sdp::pg::TextArgView(fcinfo, 0)));
}

// sdp._sha256_update(state bytea, data text) RETURNS bytea: state NULL = a fresh hash.
SDP_PG_FUNCTION(sdp_sha256_update) {
  sdp::pg::RequireArgs(fcinfo, {nullptr, "data"});
  sdp::Sha256 hash = RestoredHash(fcinfo, 0);
  hash.Update(sdp::pg::TextArgView(fcinfo, 1));
  const std::string saved = hash.SaveState();
  return sdp::pg::ByteaDatum(saved.data(), saved.size());
}

// sdp._sha256_final(state bytea) RETURNS text: the hex digest of a saved state (NULL = empty).
SDP_PG_FUNCTION(sdp_sha256_final) {
  return sdp::pg::TextDatum(RestoredHash(fcinfo, 0).HexDigest());
}
