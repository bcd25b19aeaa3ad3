// The logistic scoring model (docs/model_demo_v1.md), PostgreSQL-free so the GoogleTests and
// the extension share one implementation.
//
//   x_i   = the row's value of feature i, or defaults[i] if missing or not a finite number
//   z_i   = clamp((x_i - center[i]) / scale[i], -clip, clip)
//   score = 1 / (1 + exp(-(bias + sum_i weights[i] * z_i)))      in [0, 1]
//   band  = "high" if score >= band_high, "medium" if score >= band_medium, else "low"
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sdp {

/// Parses a feature value: optional spaces/tabs around a finite decimal number ("42", "-1.5",
/// "+3", "2.5e3"). Empty, "NaN", "inf", "1,000", hex and anything else is not a number.
bool ParseFeatureValue(std::string_view text, double* out);

/// Numerically stable 1 / (1 + exp(-z)), exactly within [0, 1].
double Sigmoid(double z);

struct LogisticModel {
  std::vector<double> weights;
  std::vector<double> center;
  std::vector<double> scale;
  std::vector<double> defaults;
  double bias = 0;
  double clip = 10;
  double band_medium = 0.3;
  double band_high = 0.6;

  /// Checks sizes agree, values are finite, scales non-zero and 0 <= medium <= high <= 1.
  bool Validate(std::string* err) const;
  /// Scores one row given its raw feature texts (nullptr = column missing). Adds the number of
  /// features that fell back to their default to *defaulted.
  double Score(const std::string_view* texts, const bool* present, int* defaulted) const;
  /// The score given already-parsed values.
  double ScoreValues(const double* x) const;
  const char* Band(double score) const;
};

}  // namespace sdp
