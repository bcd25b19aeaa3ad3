// Scoring: the sdp_score_logistic UDF and the batch scorer behind sdp_process_batch
// (sql/30_process.sql). The model itself is PostgreSQL-free (src/common/logistic_model.h).
//
// sdp._score_batch takes a registry row's kind and params (sdp.model) as they are stored: a new
// model kind is a parser and a scorer here, not a new C symbol with one argument per parameter.
#include <optional>
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

constexpr const char* kNullHint =
    "replace missing values before scoring (sdp_process_batch uses the model's documented "
    "defaults)";

// Where the results of one _score_batch call go and what they are labelled with.
struct ScoreTarget {
  pg_uuid_t batch;
  std::string client;
  std::string model_version;
  // feature_idx[i]: the 0-based position of the model's feature i in the batch's columns, or -1.
  std::vector<int32_t> feature_idx;
};

[[noreturn]] void ThrowMissing(const char* parameter) {
  throw Error(sqlstate::kInvalidParameter,
              std::string("invalid model: parameter ") + parameter + " is missing");
}

// A logistic model's parameters from its registry params, {"weights": [...], "bias": x,
// "center": [...], "scale": [...], "defaults": [...], "clip": x, "bands": {"medium": x,
// "high": y}}, read with the semantics of the SQL that passed them one by one up to 0.1.0
// (`(params ->> 'bias')::float8`, jsonb_array_elements_text): every value is converted first,
// then a missing one is named; clip defaults to 10.
sdp::LogisticModel LogisticModelFromParams(const sdp::pg::JsonbObject& params) {
  std::optional<std::vector<double>> weights = params.Float8Array("weights", "weights", kNullHint);
  const std::optional<double> bias = params.Float8("bias");
  std::optional<std::vector<double>> center = params.Float8Array("center", "center", kNullHint);
  std::optional<std::vector<double>> scale = params.Float8Array("scale", "scale", kNullHint);
  std::optional<std::vector<double>> defaults =
      params.Float8Array("defaults", "defaults", kNullHint);
  const std::optional<double> clip = params.Float8("clip");
  const std::optional<sdp::pg::JsonbObject> bands = params.Object("bands");
  const std::optional<double> medium = bands ? bands->Float8("medium") : std::nullopt;
  const std::optional<double> high = bands ? bands->Float8("high") : std::nullopt;
  if (!weights) ThrowMissing("weights");
  if (!bias) ThrowMissing("bias");
  if (!center) ThrowMissing("center");
  if (!scale) ThrowMissing("scale");
  if (!defaults) ThrowMissing("defaults");
  if (!medium) ThrowMissing("bands.medium");
  if (!high) ThrowMissing("bands.high");
  sdp::LogisticModel model;
  model.weights = std::move(*weights);
  model.bias = *bias;
  model.center = std::move(*center);
  model.scale = std::move(*scale);
  model.defaults = std::move(*defaults);
  model.clip = clip.value_or(10);
  model.band_medium = *medium;
  model.band_high = *high;
  return model;
}

// Reads the batch's rows in row order, scores each in C++ and bulk-inserts processed_result.
// Returns {rows scored, features defaulted in total}.
Datum ScoreLogistic(const ScoreTarget& target, const sdp::LogisticModel& model) {
  std::string err;
  if (!model.Validate(&err)) throw Error(sqlstate::kInvalidParameter, "invalid model: " + err);
  const std::vector<int32_t>& feature_idx = target.feature_idx;
  if (feature_idx.size() != model.weights.size()) {
    throw Error(sqlstate::kInvalidParameter, "feature_idx must have one entry per weight");
  }
  const pg_uuid_t* batch = &target.batch;

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
  sdp::pg::RecordScan* scan = sdp::pg::PgCall([&] {
    return sdp::pg::RecordScanOpen(batch, target.client.c_str(), nwanted, wanted.data());
  });
  sdp::pg::BulkInserter* out = sdp::pg::PgCall([&] {
    return sdp::pg::BulkOpen(sdp::pg::BulkTable::kProcessedResult, batch, target.client.c_str(),
                             target.model_version.c_str());
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
    if ((++rows % sdp::pg::kRowsBetweenInterruptChecks) == 0) sdp::pg::CheckForInterrupts();
  }
  sdp::pg::PgCall([&] {
    sdp::pg::BulkFinish(out);
    sdp::pg::RecordScanClose(scan);
  });
  return sdp::pg::Int8ArrayDatum({rows, defaulted_total});
}

}  // namespace

// sdp.sdp_score_logistic(features float8[], weights float8[], bias float8) RETURNS float8
//   1 / (1 + exp(-(bias + features . weights))). IMMUTABLE STRICT PARALLEL SAFE.
//   Lengths must match (22023); NULL elements are refused (22004); NaN propagates.
SDP_PG_FUNCTION(sdp_score_logistic) {
  const std::vector<double> x = sdp::pg::Float8ArrayArg(fcinfo, 0, "features", kNullHint);
  const std::vector<double> w = sdp::pg::Float8ArrayArg(fcinfo, 1, "weights", kNullHint);
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
//                  kind text, params jsonb) RETURNS bigint[]  -- {rows scored, features defaulted}
// Scores every row of the batch with the registry model of that kind and params (sdp.model).
SDP_PG_FUNCTION(sdp_score_batch_model) {
  sdp::pg::RequireArgs(fcinfo,
                       {"batch_id", "client_id", "model_version", "feature_idx", "kind", "params"});
  const ScoreTarget target{sdp::pg::UuidArg(fcinfo, 0), sdp::pg::TextArg(fcinfo, 1),
                           sdp::pg::TextArg(fcinfo, 2),
                           sdp::pg::Int4ArrayArg(fcinfo, 3, "feature_idx", kNullHint)};
  const std::string_view kind = sdp::pg::TextArgView(fcinfo, 4);
  const sdp::pg::JsonbObject params = sdp::pg::JsonbObject::Of(sdp::pg::JsonbArg(fcinfo, 5));
  if (kind == "logistic") return ScoreLogistic(target, LogisticModelFromParams(params));
  throw Error(sqlstate::kInvalidParameter,
              "invalid model: unknown kind \"" + std::string(kind) + "\"", "",
              "sdp.model.kind is one of: logistic");
}

// The 0.1.0 declaration, releases/sdp--0.1.0.sql: sdp._score_batch(batch_id uuid, client_id
// text, model_version text, feature_idx int[], weights float8[], bias float8, center float8[],
// scale float8[], defaults float8[], clip float8, band_medium float8, band_high float8). A
// database stays at 0.1.0 on this library until ALTER EXTENSION sdp UPDATE, so the symbol stays
// (docs/releases.md): its arguments are packed into the model the 0.2.0 function builds.
SDP_PG_FUNCTION(sdp_score_batch) {
  static const char* const kArgs[] = {"batch_id", "client_id", "model_version", "feature_idx",
                                      "weights",  "bias",      "center",        "scale",
                                      "defaults", "clip",      "bands.medium",  "bands.high"};
  for (int i = 0; i < 12; ++i) {
    if (sdp::pg::ArgIsNull(fcinfo, i)) ThrowMissing(kArgs[i]);
  }
  const ScoreTarget target{sdp::pg::UuidArg(fcinfo, 0), sdp::pg::TextArg(fcinfo, 1),
                           sdp::pg::TextArg(fcinfo, 2),
                           sdp::pg::Int4ArrayArg(fcinfo, 3, "feature_idx", kNullHint)};
  sdp::LogisticModel model;
  model.weights = sdp::pg::Float8ArrayArg(fcinfo, 4, "weights", kNullHint);
  model.bias = PG_GETARG_FLOAT8(5);
  model.center = sdp::pg::Float8ArrayArg(fcinfo, 6, "center", kNullHint);
  model.scale = sdp::pg::Float8ArrayArg(fcinfo, 7, "scale", kNullHint);
  model.defaults = sdp::pg::Float8ArrayArg(fcinfo, 8, "defaults", kNullHint);
  model.clip = PG_GETARG_FLOAT8(9);
  model.band_medium = PG_GETARG_FLOAT8(10);
  model.band_high = PG_GETARG_FLOAT8(11);
  return ScoreLogistic(target, model);
}
