// Exact conversion of a stored PostgreSQL numeric to the privacy analytics' fixed-point integers.
//
// The sums of sdp_dp_sum/sdp_dp_avg are computed on integers at a declared granularity 10^-scale
// (docs/privacy_analytics.md). A numeric column used to reach them through float8, which both
// rounds (a numeric of 17 significant digits is not a double) and, in PostgreSQL 15, costs a
// decimal print and parse per row. This reads numeric's on-disk representation instead: it is
// part of PostgreSQL's stable storage format (pg_upgrade keeps data files), documented in
// src/backend/utils/adt/numeric.c, and needs no backend call.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sdp::dp {

// `payload` / `size`: a numeric datum's bytes after its varlena header (VARDATA_ANY /
// VARSIZE_ANY_EXHDR), any alignment. Returns round(value * 10^scale), halves away from zero,
// clamped to [lower, upper]; NaN and -Infinity give lower, +Infinity upper; scale in 0..18.
// false (and *out untouched) when the bytes are not a well-formed numeric.
bool NumericToFixed(const uint8_t* payload, size_t size, int scale, int64_t lower, int64_t upper,
                    int64_t* out);

}  // namespace sdp::dp
