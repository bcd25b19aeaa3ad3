// Scoring: the sdp_score_logistic UDF and the batch scorer behind sdp_process_batch
// (sql/30_process.sql). The model itself is PostgreSQL-free (src/common/logistic_model.h).
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "logistic_model.h"
// Backend headers last (pg.h rule).
#include "bulk_insert.h"
#include "pg_datum.h"

namespace {

using sdp::Error;
namespace sqlstate = sdp::sqlstate;

constexpr int kInterruptEvery = 4096;

// A one-dimensional (or empty) array argument of a fixed-width element type without NULLs,
// copied out. `what` names the argument in errors.
template <typename T>
std::vector<T> FixedArrayArg(FunctionCallInfo fcinfo, int i, Oid elemtype, const char* what) {
  ArrayType* array = sdp::pg::PgCall([&] { return PG_GETARG_ARRAYTYPE_P(i); });
  if (ARR_ELEMTYPE(array) != elemtype) {
    throw Error(sqlstate::kInvalidParameter, std::string(what) + " has the wrong element type");
  }
  if (ARR_NDIM(array) > 1) {
    throw Error(sqlstate::kInvalidParameter,
                std::string(what) + " must be a one-dimensional array");
  }
  if (ARR_HASNULL(array)) {
    throw Error("22004", std::string(what) + " contains NULL", "",
                "replace missing values before scoring (sdp_process_batch uses the model's "
                "documented defaults)");
  }
  const int n = ARR_NDIM(array) == 0 ? 0 : ARR_DIMS(array)[0];
  std::vector<T> out(static_cast<size_t>(n));
  if (n > 0) std::memcpy(out.data(), ARR_DATA_PTR(array), sizeof(T) * static_cast<size_t>(n));
  return out;
}

}  // namespace

// sdp.sdp_score_logistic(features float8[], weights float8[], bias float8) RETURNS float8
//   1 / (1 + exp(-(bias + features . weights))). IMMUTABLE STRICT PARALLEL SAFE.
//   Lengths must match (22023); NULL elements are refused (22004); NaN propagates.
SDP_PG_FUNCTION(sdp_score_logistic) {
  const std::vector<double> x = FixedArrayArg<double>(fcinfo, 0, FLOAT8OID, "features");
  const std::vector<double> w = FixedArrayArg<double>(fcinfo, 1, FLOAT8OID, "weights");
  const double bias = PG_GETARG_FLOAT8(2);
  if (x.size() != w.size()) {
    throw Error(sqlstate::kInvalidParameter,
                "features has " + std::to_string(x.size()) + " elements but weights has " +
                    std::to_string(w.size()),
                "", "pass one weight per feature");
  }
  double logit = bias;
  for (size_t i = 0; i < x.size(); ++i) logit += x[i] * w[i];
  return Float8GetDatum(sdp::Sigmoid(logit));
}

// sdp._score_batch(batch_id uuid, client_id text, model_version text, feature_idx int[],
//                  weights float8[], bias float8, center float8[], scale float8[],
//                  defaults float8[], clip float8, band_medium float8, band_high float8)
//   RETURNS bigint[]  -- {rows scored, features defaulted in total}
// Reads the batch's rows in row order, scores each in C++ and bulk-inserts processed_result.
// feature_idx[i] is the 0-based position of feature i in the batch's columns, or -1 if absent.
SDP_PG_FUNCTION(sdp_score_batch) {
  static const char* const kArgs[] = {"batch_id", "client_id", "model_version", "feature_idx",
                                      "weights",  "bias",      "center",        "scale",
                                      "defaults", "clip",      "bands.medium",  "bands.high"};
  for (int i = 0; i < 12; ++i) {
    if (PG_ARGISNULL(i)) {
      throw Error(sqlstate::kInvalidParameter,
                  std::string("invalid model: parameter ") + kArgs[i] + " is missing");
    }
  }
  pg_uuid_t batch = *sdp::pg::PgCall([&] { return PG_GETARG_UUID_P(0); });
  const std::string client = sdp::pg::TextArg(fcinfo, 1);
  const std::string model_version = sdp::pg::TextArg(fcinfo, 2);
  const std::vector<int32_t> feature_idx =
      FixedArrayArg<int32_t>(fcinfo, 3, INT4OID, "feature_idx");
  sdp::LogisticModel model;
  model.weights = FixedArrayArg<double>(fcinfo, 4, FLOAT8OID, "weights");
  model.bias = PG_GETARG_FLOAT8(5);
  model.center = FixedArrayArg<double>(fcinfo, 6, FLOAT8OID, "center");
  model.scale = FixedArrayArg<double>(fcinfo, 7, FLOAT8OID, "scale");
  model.defaults = FixedArrayArg<double>(fcinfo, 8, FLOAT8OID, "defaults");
  model.clip = PG_GETARG_FLOAT8(9);
  model.band_medium = PG_GETARG_FLOAT8(10);
  model.band_high = PG_GETARG_FLOAT8(11);
  std::string err;
  if (!model.Validate(&err)) throw Error(sqlstate::kInvalidParameter, "invalid model: " + err);
  if (feature_idx.size() != model.weights.size()) {
    throw Error(sqlstate::kInvalidParameter, "feature_idx must have one entry per weight");
  }

  // Only the features present in the batch are fetched from each row.
  const size_t nf = feature_idx.size();
  std::vector<int> wanted;           // field positions to fetch
  std::vector<int> slot_of(nf, -1);  // feature -> index into wanted, or -1 (column absent)
  for (size_t i = 0; i < nf; ++i) {
    if (feature_idx[i] >= 0) {
      slot_of[i] = static_cast<int>(wanted.size());
      wanted.push_back(feature_idx[i]);
    }
  }
  const int nwanted = static_cast<int>(wanted.size());
  sdp::pg::RecordScan* scan =
      sdp::pg::PgCall([&] { return sdp::pg::RecordScanOpen(&batch, nwanted, wanted.data()); });
  sdp::pg::BulkInserter* out = sdp::pg::PgCall([&] {
    return sdp::pg::BulkOpen(sdp::pg::BulkTable::kProcessedResult, &batch, client.c_str(),
                             model_version.c_str());
  });

  std::vector<const char*> values(static_cast<size_t>(nwanted) + 1);
  std::vector<int> lens(static_cast<size_t>(nwanted) + 1);
  std::string_view texts[64];  // Validate() caps a model at 64 features
  bool present[64];
  int64_t rows = 0;
  int64_t defaulted_total = 0;
  for (;;) {
    int64 row_no = 0;
    const char* key = nullptr;
    int key_len = 0;
    const bool more = sdp::pg::PgCall([&] {
      return sdp::pg::RecordScanNext(scan, &row_no, &key, &key_len, values.data(), lens.data());
    });
    if (!more) break;
    for (size_t i = 0; i < nf; ++i) {
      const int s = slot_of[i];
      present[i] = s >= 0 && lens[s] >= 0;
      texts[i] = present[i] ? std::string_view(values[s], static_cast<size_t>(lens[s]))
                            : std::string_view();
    }
    int defaulted = 0;
    const double score = model.Score(texts, present, &defaulted);
    const char* band = model.Band(score);
    defaulted_total += defaulted;
    sdp::pg::PgCall(
        [&] { sdp::pg::BulkAddResult(out, row_no, key, key_len, score, band, defaulted); });
    if ((++rows % kInterruptEvery) == 0) sdp::pg::CheckForInterrupts();
  }
  sdp::pg::PgCall([&] {
    sdp::pg::BulkFinish(out);
    sdp::pg::RecordScanClose(scan);
  });
  return sdp::pg::PgCall([&] {
    Datum elems[2] = {Int64GetDatum(rows), Int64GetDatum(defaulted_total)};
    return PointerGetDatum(construct_array(elems, 2, INT8OID, 8, true, TYPALIGN_DOUBLE));
  });
}
