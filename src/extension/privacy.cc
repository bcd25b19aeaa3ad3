// The computation of the privacy analytics (80_privacy.sql, docs/privacy_analytics.md):
//
//   sdp._dp_tally(unit, row_id, grp, val, key, max_rows, lower, upper, scale)   aggregate
//       sdp._dp_tally_step / sdp._dp_tally_final
//   sdp._dp_release(tally, kind, epsilon, delta, max_rows, lower, upper, scale, public_keys,
//                   quantile_nums, bins) RETURNS TABLE(group_key, value, ci_low, ci_high)
//
// The aggregate does the per-row work of one scan in C: it bounds every privacy unit's
// contribution to at most max_rows rows and clamps values into [lower, upper] in fixed point.
// Which rows of a unit count is decided by a keyed hash priority, HMAC-SHA256(key, unit || row):
// the max_rows smallest priorities win, the same rows on every run, and nobody without the key
// can tell which. The priority is only computed once a unit has more than max_rows rows, so the
// common case (a unit within its bound) costs one hash-table probe per row. Its result is the
// bounded per-group count and int128 sum, never shown: sdp._dp_release adds integer noise from
// src/common/dp (discrete Laplace, permute-and-flip) and computes the 95% intervals.
//
// The aggregate state is a C++ object owned by the aggregate's memory context: a reset
// callback deletes it when that context goes, on success and on abort (docs/style.md,
// extension 5).
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/dp/exact_sampler.h"
#include "common/dp/mechanisms.h"
// Backend headers last (pg.h rule).
#include "pg_datum.h"

namespace {

using int128 = __int128;
using sdp::dp::uint128;

constexpr uint32_t kNone = UINT32_MAX;

// 64-bit hash of a unit's bytes for the unit table (MurmurHash64A's mixing). A collision merges
// two units, which only lowers their joint contribution: the bound still holds for each.
uint64_t HashBytes(const uint8_t* p, size_t n, uint64_t seed) {
  const uint64_t m = 0xc6a4a7935bd1e995ULL;
  uint64_t h = seed ^ (n * m);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t k;
    std::memcpy(&k, p + i, 8);
    k *= m;
    k ^= k >> 47;
    k *= m;
    h ^= k;
    h *= m;
  }
  uint64_t tail = 0;
  for (size_t j = 0; i + j < n; ++j) tail |= static_cast<uint64_t>(p[i + j]) << (8 * j);
  if (n % 8 != 0) {
    h ^= tail;
    h *= m;
  }
  h ^= h >> 47;
  h *= m;
  h ^= h >> 47;
  return h;
}

// Open addressing, linear probing: unit hash -> unit index. Power-of-two capacity, at most half
// full.
class UnitTable {
 public:
  UnitTable() : keys_(1024), values_(1024, kNone) {}
  // The index of `key`, inserting `next_index` when it is new (*inserted says which).
  uint32_t FindOrInsert(uint64_t key, uint32_t next_index, bool* inserted) {
    if ((size_ + 1) * 2 > keys_.size()) Grow();
    size_t mask = keys_.size() - 1;
    size_t i = static_cast<size_t>(key * 0x9E3779B97F4A7C15ULL >> 20) & mask;
    while (values_[i] != kNone) {
      if (keys_[i] == key) {
        *inserted = false;
        return values_[i];
      }
      i = (i + 1) & mask;
    }
    keys_[i] = key;
    values_[i] = next_index;
    ++size_;
    *inserted = true;
    return next_index;
  }

 private:
  void Grow() {
    std::vector<uint64_t> keys(keys_.size() * 2);
    std::vector<uint32_t> values(keys_.size() * 2, kNone);
    size_t mask = keys.size() - 1;
    for (size_t j = 0; j < keys_.size(); ++j) {
      if (values_[j] == kNone) continue;
      size_t i = static_cast<size_t>(keys_[j] * 0x9E3779B97F4A7C15ULL >> 20) & mask;
      while (values[i] != kNone) i = (i + 1) & mask;
      keys[i] = keys_[j];
      values[i] = values_[j];
    }
    keys_.swap(keys);
    values_.swap(values);
  }

  std::vector<uint64_t> keys_;
  std::vector<uint32_t> values_;
  size_t size_ = 0;
};

// A row a unit keeps (at most max_rows per unit), linked per unit.
struct Kept {
  int64_t row_id;
  uint64_t priority;  // valid once has_priority
  int64_t value;      // fixed point, clamped
  uint32_t group;
  uint32_t next;
  bool has_priority;
};

struct Unit {
  uint64_t hash;
  uint32_t rows;  // rows seen (saturates)
  uint32_t head;  // first kept row
};

class Tally {
 public:
  Tally(std::string key, int max_rows, int64_t lower, int64_t upper, int scale, bool tid_rows)
      : key_(std::move(key)),
        max_rows_(static_cast<uint32_t>(max_rows)),
        lower_(lower),
        upper_(upper),
        multiplier_(std::pow(10.0, scale)),
        tid_rows_(tid_rows) {
    uint64_t seed = 0;
    std::memcpy(&seed, key_.data(), std::min<size_t>(8, key_.size()));
    seed_ = seed;
  }

  bool tid_rows() const { return tid_rows_; }

  void Add(const uint8_t* unit, size_t unit_len, bool unit_null, int64_t row_id, const char* grp,
           size_t grp_len, bool grp_null, bool val_null, double val) {
    // Rows without a unit are treated as one unit: they may all be one person's.
    const uint64_t h =
        unit_null ? seed_ * 0x9E3779B97F4A7C15ULL + 1 : HashBytes(unit, unit_len, seed_);
    bool inserted = false;
    const uint32_t index =
        units_table_.FindOrInsert(h, static_cast<uint32_t>(units_.size()), &inserted);
    if (inserted) units_.push_back(Unit{h, 0, kNone});
    Unit& u = units_[index];
    const int64_t value = val_null ? 0 : Fixed(val);
    if (u.rows < max_rows_) {
      ++u.rows;
      kept_.push_back(Kept{row_id, 0, value, GroupId(grp, grp_len, grp_null), u.head, false});
      u.head = static_cast<uint32_t>(kept_.size() - 1);
      return;
    }
    if (u.rows < UINT32_MAX) ++u.rows;
    // Over the bound: the max_rows smallest priorities stay.
    const uint64_t p = Priority(u.hash, row_id);
    Kept* worst = nullptr;
    for (uint32_t k = u.head; k != kNone; k = kept_[k].next) {
      Kept& r = kept_[k];
      if (!r.has_priority) {
        r.priority = Priority(u.hash, r.row_id);
        r.has_priority = true;
      }
      if (worst == nullptr || r.priority > worst->priority ||
          (r.priority == worst->priority && r.row_id > worst->row_id)) {
        worst = &r;
      }
    }
    if (p < worst->priority || (p == worst->priority && row_id < worst->row_id)) {
      worst->row_id = row_id;
      worst->priority = p;
      worst->value = value;
      worst->group = GroupId(grp, grp_len, grp_null);
    }
  }

  // count (8) and sum (16) per group, after the group key: [null u8][len u32][bytes].
  std::string Serialize() const {
    std::vector<int64_t> counts(group_keys_.size(), 0);
    std::vector<int128> sums(group_keys_.size(), 0);
    for (size_t i = 0; i < kept_.size(); ++i) {
      counts[kept_[i].group] += 1;
      sums[kept_[i].group] += kept_[i].value;
      if (i % sdp::pg::kRowsBetweenInterruptChecks == 0) sdp::pg::CheckForInterrupts();
    }
    std::string out;
    for (size_t g = 0; g < group_keys_.size(); ++g) {
      const uint8_t is_null = g == null_group_ ? 1 : 0;
      const uint32_t len = static_cast<uint32_t>(group_keys_[g].size());
      out.append(reinterpret_cast<const char*>(&is_null), 1);
      out.append(reinterpret_cast<const char*>(&len), 4);
      out.append(group_keys_[g]);
      out.append(reinterpret_cast<const char*>(&counts[g]), 8);
      out.append(reinterpret_cast<const char*>(&sums[g]), 16);
    }
    return out;
  }

 private:
  int64_t Fixed(double v) const {
    double x = v * multiplier_;
    // NaN compares false: it becomes lower, like any value below the range.
    if (!(x >= static_cast<double>(lower_))) return lower_;
    if (x >= static_cast<double>(upper_)) return upper_;
    const int64_t f = std::llround(x);
    return std::clamp(f, lower_, upper_);
  }

  uint32_t GroupId(const char* grp, size_t len, bool is_null) {
    if (is_null) {
      if (null_group_ == kNone) {
        null_group_ = static_cast<uint32_t>(group_keys_.size());
        group_keys_.emplace_back();
      }
      return null_group_;
    }
    if (last_group_ != kNone && group_keys_[last_group_].size() == len &&
        std::memcmp(group_keys_[last_group_].data(), grp, len) == 0) {
      return last_group_;
    }
    std::string key(grp, len);
    auto it = group_ids_.find(key);
    if (it == group_ids_.end()) {
      it = group_ids_.emplace(key, static_cast<uint32_t>(group_keys_.size())).first;
      group_keys_.push_back(std::move(key));
    }
    last_group_ = it->second;
    return last_group_;
  }

  // The first 8 bytes of HMAC-SHA256(key, unit hash || row id), big-endian.
  uint64_t Priority(uint64_t unit_hash, int64_t row_id) const {
    uint8_t msg[16];
    std::memcpy(msg, &unit_hash, 8);
    std::memcpy(msg + 8, &row_id, 8);
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), msg, sizeof msg, mac,
             &mac_len) == nullptr) {
      throw sdp::Error(sdp::sqlstate::kInternal, "HMAC-SHA256 failed in contribution bounding");
    }
    uint64_t p = 0;
    for (int i = 0; i < 8; ++i) p = (p << 8) | mac[i];
    return p;
  }

  std::string key_;
  uint64_t seed_ = 0;
  uint32_t max_rows_;
  int64_t lower_;
  int64_t upper_;
  double multiplier_;
  bool tid_rows_;
  UnitTable units_table_;
  std::vector<Unit> units_;
  std::vector<Kept> kept_;
  std::unordered_map<std::string, uint32_t> group_ids_;
  std::vector<std::string> group_keys_;
  uint32_t null_group_ = kNone;
  uint32_t last_group_ = kNone;
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
    if (key.size < 16 || max_rows < 1) {
      throw sdp::Error(sdp::sqlstate::kInvalidParameter, "bad contribution-bounding parameters");
    }
    const bool tid_rows = get_fn_expr_argtype(fcinfo->flinfo, 2) == TIDOID;
    auto* callback = sdp::pg::PgCall([&] {
      return static_cast<MemoryContextCallback*>(
          MemoryContextAllocZero(aggctx, sizeof(MemoryContextCallback)));
    });
    tally = new Tally(std::string(key.chars()), max_rows, PG_GETARG_INT64(7), PG_GETARG_INT64(8),
                      PG_GETARG_INT32(9), tid_rows);
    callback->func = DeleteTally;
    callback->arg = tally;
    MemoryContextRegisterResetCallback(aggctx, callback);
  }
  int64_t row_id = 0;
  if (!PG_ARGISNULL(2)) {
    if (tally->tid_rows()) {
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
  tally->Add(reinterpret_cast<const uint8_t*>(unit.data()), unit.size(), PG_ARGISNULL(1), row_id,
             grp.data(), grp.size(), PG_ARGISNULL(3), PG_ARGISNULL(4),
             PG_ARGISNULL(4) ? 0.0 : PG_GETARG_FLOAT8(4));
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
      size_t chosen = 0;
      if (!sdp::dp::QuantileIndex(rank_below, n, static_cast<uint64_t>(DatumGetInt64(elems[i])),
                                  1000000000ULL, each, m, noise.sampler(), &chosen, &err)) {
        throw sdp::Error(sdp::sqlstate::kInternal, "quantile selection failed: " + err);
      }
      ReleasedRow r{false, std::to_string(i), true, std::to_string(chosen), "", ""};
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
