// The computation of the privacy analytics (80_privacy.sql, docs/privacy_analytics.md):
//
//   sdp._dp_tally(unit, row_id, grp, val, key, max_rows, lower, upper, scale)   aggregate
//       sdp._dp_tally_step / sdp._dp_tally_final
//   sdp._dp_release(tally, kind, epsilon, delta, max_rows, lower, upper, scale, public_keys,
//                   quantile_nums, bins) RETURNS TABLE(group_key, value, ci_low, ci_high)
//
// The aggregate does the per-row work of one scan in C: it bounds every privacy unit's
// contribution to at most max_rows rows and clamps values into [lower, upper] in fixed point.
// Which rows of a unit count is decided by a keyed priority (src/common/dp/contribution_bounding.h,
// which also says how one pass over millions of rows stays cheap). Its result is the
// bounded per-group count and int128 sum, never shown: sdp._dp_release adds integer noise from
// src/common/dp (discrete Laplace, permute-and-flip) and computes the 95% intervals.
//
// The aggregate state is a C++ object owned by the aggregate's memory context: a reset
// callback deletes it when that context goes, on success and on abort (docs/style.md,
// extension 5).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/dp/contribution_bounding.h"
#include "common/dp/exact_sampler.h"
#include "common/dp/fixed_point.h"
#include "common/dp/mechanisms.h"
// Backend headers last (pg.h rule).
#include "pg_datum.h"

namespace {

using int128 = __int128;
using sdp::dp::uint128;

// The aggregate's state: the bounding (common/dp/contribution_bounding.h) and how this call
// spells row ids.
struct Tally {
  Tally(std::string_view key, int max_rows, int64_t lower, int64_t upper, int scale, bool tid,
        Oid value_type)
      : bounding(key, static_cast<uint32_t>(max_rows), lower, upper, scale),
        tid_rows(tid),
        value_type(value_type) {}
  sdp::dp::ContributionTally bounding;
  bool tid_rows;
  Oid value_type;

  // A row's value at the granularity, clamped: integers and numeric exactly, floats rounded.
  int64_t FixedValue(Datum value) const {
    switch (value_type) {
      case INT2OID:
        return bounding.FixedInteger(DatumGetInt16(value));
      case INT4OID:
        return bounding.FixedInteger(DatumGetInt32(value));
      case INT8OID:
        return bounding.FixedInteger(DatumGetInt64(value));
      case FLOAT4OID:
        return bounding.Fixed(DatumGetFloat4(value));
      case FLOAT8OID:
        return bounding.Fixed(DatumGetFloat8(value));
      default: {  // NUMERICOID, checked when the state was made
        struct varlena* v = reinterpret_cast<struct varlena*>(DatumGetPointer(value));
        if (VARATT_IS_COMPRESSED(v) || VARATT_IS_EXTERNAL(v)) {
          v = sdp::pg::PgCall([&] { return pg_detoast_datum_packed(v); });
        }
        int64_t fixed = 0;
        if (!sdp::dp::NumericToFixed(reinterpret_cast<const uint8_t*>(VARDATA_ANY(v)),
                                     VARSIZE_ANY_EXHDR(v), bounding.scale(), bounding.lower(),
                                     bounding.upper(), &fixed)) {
          throw sdp::Error(sdp::sqlstate::kInternal, "malformed numeric value in a privacy tally");
        }
        return fixed;
      }
    }
  }

  // count (8) and sum (16) per group, after the group key: [null u8][len u32][bytes].
  std::string Serialize() {
    std::string out;
    for (const sdp::dp::BoundedGroup& g : bounding.Finish([] { sdp::pg::CheckForInterrupts(); })) {
      const uint8_t is_null = g.is_null ? 1 : 0;
      const uint32_t len = static_cast<uint32_t>(g.key.size());
      out.append(reinterpret_cast<const char*>(&is_null), 1);
      out.append(reinterpret_cast<const char*>(&len), 4);
      out.append(g.key);
      out.append(reinterpret_cast<const char*>(&g.count), 8);
      out.append(reinterpret_cast<const char*>(&g.sum), 16);
    }
    return out;
  }
};

void DeleteTally(void* arg) { delete static_cast<Tally*>(arg); }

// A text argument's bytes, detoasted only when compressed or out of line (in the per-row
// context).
std::string_view VarlenaArg(FunctionCallInfo fcinfo, int i) {
  struct varlena* v = reinterpret_cast<struct varlena*>(DatumGetPointer(PG_GETARG_DATUM(i)));
  if (VARATT_IS_COMPRESSED(v) || VARATT_IS_EXTERNAL(v)) {
    v = sdp::pg::PgCall([&] { return pg_detoast_datum_packed(v); });
  }
  return {VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v)};
}

struct TallyGroup {
  bool is_null;
  std::string key;
  int64_t count;
  int128 sum;
};

std::vector<TallyGroup> Deserialize(std::string_view s) {
  std::vector<TallyGroup> out;
  size_t i = 0;
  auto need = [&](size_t n) {
    if (s.size() - i < n) throw sdp::Error(sdp::sqlstate::kInternal, "malformed privacy tally");
  };
  while (i < s.size()) {
    TallyGroup g;
    uint32_t len;
    need(5);
    g.is_null = s[i] != 0;
    std::memcpy(&len, s.data() + i + 1, 4);
    i += 5;
    need(len);
    g.key.assign(s.data() + i, len);
    i += len;
    need(24);
    std::memcpy(&g.count, s.data() + i, 8);
    std::memcpy(&g.sum, s.data() + i + 8, 16);
    i += 24;
    out.push_back(std::move(g));
  }
  return out;
}

std::string Int128Text(int128 v) {
  if (v == 0) return "0";
  const bool negative = v < 0;
  uint128 u = negative ? static_cast<uint128>(-(v + 1)) + 1 : static_cast<uint128>(v);
  std::string digits;
  while (u != 0) {
    digits.push_back(static_cast<char>('0' + static_cast<int>(u % 10)));
    u /= 10;
  }
  if (negative) digits.push_back('-');
  std::reverse(digits.begin(), digits.end());
  return digits;
}

// The decimal text of v / 10^scale, exactly.
std::string FixedText(int128 v, int scale) {
  std::string s = Int128Text(v < 0 ? -v : v);
  if (scale > 0) {
    if (s.size() <= static_cast<size_t>(scale)) s.insert(0, scale + 1 - s.size(), '0');
    s.insert(s.size() - scale, ".");
  }
  return v < 0 ? "-" + s : s;
}

Datum NumericDatum(const std::string& text) {
  return sdp::pg::PgCall([&] {
    return DirectFunctionCall3(numeric_in, CStringGetDatum(text.c_str()),
                               ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
  });
}

sdp::dp::LaplaceScale ScaleFor(uint64_t sensitivity, const sdp::dp::Rational& epsilon) {
  sdp::dp::LaplaceScale scale;
  std::string err;
  if (!sdp::dp::LaplaceScaleFor(sensitivity, epsilon, &scale, &err)) {
    throw sdp::Error(sdp::sqlstate::kInvalidParameter, err);
  }
  return scale;
}

sdp::dp::Rational Half(sdp::dp::Rational r) {
  r.den *= 2;
  return r;
}

class Noise {
 public:
  Noise() : sampler_(&bits_) {}
  int64_t Draw(const sdp::dp::LaplaceScale& scale) {
    int64_t z = 0;
    if (!sampler_.DiscreteLaplace(scale.s, scale.t, &z)) {
      throw sdp::Error(sdp::sqlstate::kInternal, "noise sampling failed: " + sampler_.error());
    }
    return z;
  }
  sdp::dp::ExactSampler* sampler() { return &sampler_; }

 private:
  sdp::dp::OpenSslRandomBits bits_;
  sdp::dp::ExactSampler sampler_;
};

struct ReleasedRow {
  bool key_null;
  std::string key;
  bool has_value = true;
  std::string value, low, high;
};

}  // namespace

// sdp._dp_tally_step(state internal, unit text, row_id bigint|tid, grp text, val float8,
//                    key bytea, max_rows int, lower bigint, upper bigint, scale int)
SDP_PG_FUNCTION(sdp_dp_tally_step) {
  MemoryContext aggctx = nullptr;
  if (AggCheckCallContext(fcinfo, &aggctx) == 0) {
    throw sdp::Error(sdp::sqlstate::kInternal, "sdp._dp_tally_step outside an aggregate");
  }
  Tally* tally = PG_ARGISNULL(0) ? nullptr : reinterpret_cast<Tally*>(PG_GETARG_POINTER(0));
  if (tally == nullptr) {
    sdp::pg::RequireArgs(fcinfo, {nullptr, nullptr, nullptr, nullptr, nullptr, "bounding_key",
                                  "max_rows", "lower", "upper", "scale"});
    const sdp::pg::Bytes key = sdp::pg::ByteaArg(fcinfo, 5);
    const int max_rows = PG_GETARG_INT32(6);
    const int64_t lower = PG_GETARG_INT64(7), upper = PG_GETARG_INT64(8);
    const int scale = PG_GETARG_INT32(9);
    if (key.size < 16 || max_rows < 1 || lower > upper || scale < 0 || scale > 18) {
      throw sdp::Error(sdp::sqlstate::kInvalidParameter, "bad contribution-bounding parameters");
    }
    const bool tid_rows = get_fn_expr_argtype(fcinfo->flinfo, 2) == TIDOID;
    auto* callback = sdp::pg::PgCall([&] {
      return static_cast<MemoryContextCallback*>(
          MemoryContextAllocZero(aggctx, sizeof(MemoryContextCallback)));
    });
    const Oid value_type = get_fn_expr_argtype(fcinfo->flinfo, 4);
    if (value_type != INT2OID && value_type != INT4OID && value_type != INT8OID &&
        value_type != FLOAT4OID && value_type != FLOAT8OID && value_type != NUMERICOID) {
      throw sdp::Error(sdp::sqlstate::kInvalidParameter,
                       "a privacy tally's values must be smallint, integer, bigint, real, double "
                       "precision or numeric");
    }
    tally = new Tally(key.chars(), max_rows, lower, upper, scale, tid_rows, value_type);
    callback->func = DeleteTally;
    callback->arg = tally;
    MemoryContextRegisterResetCallback(aggctx, callback);
  }
  int64_t row_id = 0;
  if (!PG_ARGISNULL(2)) {
    if (tally->tid_rows) {
      const ItemPointer tid = reinterpret_cast<ItemPointer>(PG_GETARG_POINTER(2));
      row_id = (static_cast<int64_t>(ItemPointerGetBlockNumberNoCheck(tid)) << 16) |
               ItemPointerGetOffsetNumberNoCheck(tid);
    } else {
      row_id = PG_GETARG_INT64(2);
    }
  }
  std::string_view unit, grp;
  if (!PG_ARGISNULL(1)) unit = VarlenaArg(fcinfo, 1);
  if (!PG_ARGISNULL(3)) grp = VarlenaArg(fcinfo, 3);
  const uint32_t group = tally->bounding.GroupId(grp, PG_ARGISNULL(3));
  tally->bounding.Add(unit, PG_ARGISNULL(1), row_id, group,
                      PG_ARGISNULL(4) ? 0 : tally->FixedValue(PG_GETARG_DATUM(4)));
  PG_RETURN_POINTER(tally);
}

// sdp._dp_tally_final(state internal) RETURNS bytea: the bounded tally, serialised.
SDP_PG_FUNCTION(sdp_dp_tally_final) {
  if (PG_ARGISNULL(0)) return sdp::pg::ByteaDatum("", 0);
  const std::string out = reinterpret_cast<Tally*>(PG_GETARG_POINTER(0))->Serialize();
  return sdp::pg::ByteaDatum(out.data(), out.size());
}

// sdp._dp_release(tally bytea, kind text, epsilon text, delta text, max_rows int,
//                 lower bigint, upper bigint, scale int, public_keys text[], quantile_nums
//                 bigint[], bins int)
//   RETURNS TABLE(group_key text, value numeric, ci_low numeric, ci_high numeric)
SDP_PG_FUNCTION(sdp_dp_release) {
  sdp::pg::RequireArgs(fcinfo, {"tally", "kind", "epsilon", nullptr, "max_rows", "lower", "upper",
                                "scale", nullptr, nullptr, "bins"});
  const std::vector<TallyGroup> tally = Deserialize(sdp::pg::ByteaArg(fcinfo, 0).chars());
  const std::string kind = sdp::pg::TextArg(fcinfo, 1);
  sdp::dp::Rational epsilon;
  std::string err;
  if (!sdp::dp::ParsePrivacyParameter(sdp::pg::TextArgView(fcinfo, 2), &epsilon, &err)) {
    throw sdp::Error(sdp::sqlstate::kInvalidParameter, "epsilon: " + err);
  }
  const bool threshold = !PG_ARGISNULL(3);
  const double delta = threshold ? std::strtod(sdp::pg::TextArg(fcinfo, 3).c_str(), nullptr) : 0;
  const uint64_t m = static_cast<uint64_t>(PG_GETARG_INT32(4));
  const int64_t lower = PG_GETARG_INT64(5);
  const int64_t upper = PG_GETARG_INT64(6);
  // Sum sensitivity per row; SQL keeps max_rows * bound within 10^18.
  const uint64_t bound = std::max<uint64_t>(
      std::max(static_cast<uint64_t>(std::llabs(lower)), static_cast<uint64_t>(std::llabs(upper))),
      1);
  const int scale = PG_GETARG_INT32(7);
  const int bins = PG_GETARG_INT32(10);

  // The groups released: the declared public ones (absent = zero), else those in the data.
  std::vector<TallyGroup> groups;
  if (!PG_ARGISNULL(8)) {
    const sdp::pg::TextArray keys = sdp::pg::TextArrayArg(fcinfo, 8);
    std::unordered_map<std::string, size_t> index;
    for (size_t i = 0; i < tally.size(); ++i) {
      if (!tally[i].is_null) index.emplace(tally[i].key, i);
    }
    for (size_t k = 0; k < keys.size(); ++k) {
      if (keys.lens[k] < 0) continue;
      TallyGroup g{false, std::string(keys[k]), 0, 0};
      auto it = index.find(g.key);
      if (it != index.end()) {
        g.count = tally[it->second].count;
        g.sum = tally[it->second].sum;
      }
      groups.push_back(std::move(g));
    }
  } else {
    groups = tally;
    if (groups.empty() && !threshold)
      groups.push_back(TallyGroup{true, "", 0, 0});  // no rows at all
    // In key order (NULL first): the output order must not tell which group was seen first.
    std::sort(groups.begin(), groups.end(), [](const TallyGroup& a, const TallyGroup& b) {
      return a.is_null != b.is_null ? a.is_null : a.key < b.key;
    });
  }

  Noise noise;
  std::vector<ReleasedRow> rows;
  const double unit = std::pow(10.0, scale);
  if (kind == "count" || kind == "sum") {
    const bool is_sum = kind == "sum";
    // A sum over data groups spends half of ε on the count that decides the threshold.
    const sdp::dp::Rational eps_value = is_sum && threshold ? Half(epsilon) : epsilon;
    const auto count_scale = ScaleFor(m, is_sum ? Half(epsilon) : epsilon);
    const auto value_scale = is_sum ? ScaleFor(m * bound, eps_value) : count_scale;
    const int64_t half = sdp::dp::ConfidenceHalfWidth(value_scale, 0.05);
    const int64_t cut = threshold ? sdp::dp::ReleaseThreshold(m, count_scale, delta) : 0;
    for (const TallyGroup& g : groups) {
      if (threshold) {
        const int64_t noisy_count = g.count + noise.Draw(count_scale);
        if (noisy_count < cut) continue;
      }
      const int128 noisy = (is_sum ? g.sum : g.count) + noise.Draw(value_scale);
      ReleasedRow r{g.is_null, g.key, true, "", "", ""};
      r.value = is_sum ? FixedText(noisy, scale) : Int128Text(noisy);
      r.low = is_sum ? FixedText(noisy - half, scale) : Int128Text(noisy - half);
      r.high = is_sum ? FixedText(noisy + half, scale) : Int128Text(noisy + half);
      rows.push_back(std::move(r));
    }
  } else if (kind == "avg") {
    // Noisy sum / noisy count, ε split in half. The interval: each of the two at 97.5%, so both
    // hold at once with probability >= 95% (union bound); the mean over that box of (sum, count)
    // with count >= 1 is at a corner; then clamped to [lower, upper].
    const auto count_scale = ScaleFor(m, Half(epsilon));
    const auto sum_scale = ScaleFor(m * bound, Half(epsilon));
    const int64_t count_half = sdp::dp::ConfidenceHalfWidth(count_scale, 0.025);
    const int64_t sum_half = sdp::dp::ConfidenceHalfWidth(sum_scale, 0.025);
    const int64_t cut = threshold ? sdp::dp::ReleaseThreshold(m, count_scale, delta) : 0;
    const long double lo = static_cast<long double>(lower) / unit;
    const long double hi = static_cast<long double>(upper) / unit;
    for (const TallyGroup& g : groups) {
      const int64_t c = g.count + noise.Draw(count_scale);
      const int128 s = g.sum + noise.Draw(sum_scale);
      if (threshold && c < cut) continue;
      auto mean = [&](int128 sum, int64_t count) {
        const long double v = static_cast<long double>(sum) / unit / std::max<int64_t>(count, 1);
        return std::clamp(v, lo, hi);
      };
      const long double corners[] = {
          mean(s - sum_half, c - count_half), mean(s - sum_half, c + count_half),
          mean(s + sum_half, c - count_half), mean(s + sum_half, c + count_half)};
      char buf[3][96];
      std::snprintf(buf[0], sizeof buf[0], "%.*Lf", scale + 4, mean(s, c));
      std::snprintf(buf[1], sizeof buf[1], "%.*Lf", scale + 4,
                    *std::min_element(std::begin(corners), std::end(corners)));
      std::snprintf(buf[2], sizeof buf[2], "%.*Lf", scale + 4,
                    *std::max_element(std::begin(corners), std::end(corners)));
      rows.push_back(ReleasedRow{g.is_null, g.key, true, buf[0], buf[1], buf[2]});
    }
  } else if (kind == "quantiles") {
    if (PG_ARGISNULL(9) || bins < 1 || bins > 100000) {
      throw sdp::Error(sdp::sqlstate::kInvalidParameter, "quantiles need levels and bins");
    }
    std::vector<uint64_t> per_bin(static_cast<size_t>(bins), 0);
    uint64_t n = 0;
    for (const TallyGroup& g : tally) {
      if (g.is_null) continue;
      const long b = std::strtol(g.key.c_str(), nullptr, 10);
      if (b < 0 || b >= bins) continue;
      per_bin[static_cast<size_t>(b)] += static_cast<uint64_t>(g.count);
      n += static_cast<uint64_t>(g.count);
    }
    std::vector<uint64_t> rank_below(static_cast<size_t>(bins) + 1, 0);
    for (int r = 1; r <= bins; ++r) rank_below[r] = rank_below[r - 1] + per_bin[r - 1];
    ArrayType* levels = sdp::pg::PgCall([&] { return PG_GETARG_ARRAYTYPE_P(9); });
    Datum* elems = nullptr;
    bool* nulls = nullptr;
    int count = 0;
    sdp::pg::PgCall([&] {
      deconstruct_array(levels, INT8OID, 8, true, TYPALIGN_DOUBLE, &elems, &nulls, &count);
    });
    sdp::dp::Rational each = epsilon;
    each.den *= static_cast<uint128>(std::max(count, 1));
    for (int i = 0; i < count; ++i) {
      if (nulls[i]) throw sdp::Error(sdp::sqlstate::kInvalidParameter, "a quantile level is NULL");
      sdp::dp::QuantileRelease chosen;
      if (!sdp::dp::QuantileWithInterval(rank_below, n,
                                         static_cast<uint64_t>(DatumGetInt64(elems[i])),
                                         1000000000ULL, each, m, noise.sampler(), &chosen, &err)) {
        throw sdp::Error(sdp::sqlstate::kInvalidParameter, "quantile release failed: " + err);
      }
      // Candidate indexes; 80_privacy.sql maps them onto [lower, upper].
      ReleasedRow r{false,
                    std::to_string(i),
                    true,
                    std::to_string(chosen.point),
                    std::to_string(chosen.low),
                    std::to_string(chosen.high)};
      rows.push_back(std::move(r));
    }
  } else {
    throw sdp::Error(sdp::sqlstate::kInvalidParameter, "unknown release kind " + kind);
  }

  // The rows, materialised (few: one per group).
  ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  sdp::pg::PgCall([&] { InitMaterializedSRF(fcinfo, 0); });
  for (const ReleasedRow& r : rows) {
    Datum values[4];
    bool nulls[4] = {r.key_null, false, r.low.empty(), r.high.empty()};
    values[0] = r.key_null ? Datum(0) : sdp::pg::TextDatum(r.key);
    values[1] = NumericDatum(r.value);
    values[2] = r.low.empty() ? Datum(0) : NumericDatum(r.low);
    values[3] = r.high.empty() ? Datum(0) : NumericDatum(r.high);
    sdp::pg::PgCall(
        [&] { tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls); });
  }
  return Datum(0);
}
