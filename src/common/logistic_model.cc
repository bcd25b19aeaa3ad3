// The logistic scoring model, PostgreSQL-free, shared by the extension and the tests.
#include "common/logistic_model.h"

#include <charconv>
#include <cmath>

namespace sdp {

bool ParseFeatureValue(std::string_view text, double* out) {
  size_t b = 0;
  size_t e = text.size();
  while (b < e && (text[b] == ' ' || text[b] == '\t')) ++b;
  while (e > b && (text[e - 1] == ' ' || text[e - 1] == '\t')) --e;
  if (b < e && text[b] == '+') ++b;
  if (b == e) return false;
  // from_chars accepts "inf"/"nan" (rejected below) but no leading '+' or spaces (handled above).
  const char first = text[b];
  if (!((first >= '0' && first <= '9') || first == '-' || first == '.')) return false;
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data() + b, text.data() + e, value);
  if (ec != std::errc() || ptr != text.data() + e || !std::isfinite(value)) return false;
  *out = value;
  return true;
}

double Sigmoid(double z) {
  if (std::isnan(z)) return z;
  if (z >= 0) return 1.0 / (1.0 + std::exp(-z));
  const double ez = std::exp(z);
  return ez / (1.0 + ez);
}

bool LogisticModel::Validate(std::string* err) const {
  const size_t n = weights.size();
  if (n > 64) {
    *err = "a logistic model may use at most 64 features";
    return false;
  }
  if (center.size() != n || scale.size() != n || defaults.size() != n) {
    *err = "weights, center, scale and defaults must have one entry per feature";
    return false;
  }
  auto finite = [](double v) { return std::isfinite(v); };
  for (size_t i = 0; i < n; ++i) {
    if (!finite(weights[i]) || !finite(center[i]) || !finite(scale[i]) || !finite(defaults[i])) {
      *err = "model parameters must be finite numbers (feature " + std::to_string(i + 1) + ")";
      return false;
    }
    if (scale[i] == 0) {
      *err = "scale of feature " + std::to_string(i + 1) + " is zero";
      return false;
    }
  }
  if (!finite(bias) || !finite(clip) || clip <= 0) {
    *err = "bias must be finite and clip positive";
    return false;
  }
  if (!(band_medium >= 0 && band_medium <= band_high && band_high <= 1)) {
    *err = "band thresholds must satisfy 0 <= medium <= high <= 1";
    return false;
  }
  return true;
}

double LogisticModel::ScoreValues(const double* x) const {
  double logit = bias;
  for (size_t i = 0; i < weights.size(); ++i) {
    double z = (x[i] - center[i]) / scale[i];
    if (z > clip) z = clip;
    if (z < -clip) z = -clip;
    logit += weights[i] * z;
  }
  double s = Sigmoid(logit);
  if (!(s >= 0)) s = 0;  // NaN cannot happen with validated parameters; never store one
  if (s > 1) s = 1;
  return s;
}

double LogisticModel::Score(const std::string_view* texts, const bool* present,
                            int* defaulted) const {
  constexpr size_t kStack = 64;
  double x[kStack];
  const size_t n = weights.size() < kStack ? weights.size() : kStack;
  for (size_t i = 0; i < n; ++i) {
    if (!present[i] || !ParseFeatureValue(texts[i], &x[i])) {
      x[i] = defaults[i];
      ++*defaulted;
    }
  }
  return ScoreValues(x);
}

const char* LogisticModel::Band(double score) const {
  if (score >= band_high) return "high";
  if (score >= band_medium) return "medium";
  return "low";
}

}  // namespace sdp
