// What the agent accepts from the server as a result cell before it is written next to raw PII.
#include "agent/pipeline/result_cells.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "common/shown_value.h"

namespace sdp {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

bool IsValidScore(std::string_view score) {
  if (score.empty() || score.size() > 32 || !IsDigit(score[0])) return false;
  // Shape first (strtod alone would take hex, "inf", leading blanks), then the value.
  size_t i = 0;
  while (i < score.size() && IsDigit(score[i])) ++i;
  if (i < score.size() && score[i] == '.') {
    ++i;
    while (i < score.size() && IsDigit(score[i])) ++i;
  }
  if (i < score.size() && (score[i] == 'e' || score[i] == 'E')) {
    ++i;
    if (i < score.size() && (score[i] == '+' || score[i] == '-')) ++i;
    const size_t digits = i;
    while (i < score.size() && IsDigit(score[i])) ++i;
    if (i == digits) return false;
  }
  if (i != score.size()) return false;
  const std::string copy(score);
  errno = 0;
  const double value = std::strtod(copy.c_str(), nullptr);
  return errno == 0 && std::isfinite(value) && value >= 0.0 && value <= 1.0;
}

bool IsValidRiskBand(std::string_view band) {
  for (const char* known : kRiskBands) {
    if (band == known) return true;
  }
  return false;
}

bool IsValidModelVersion(std::string_view version) {
  if (version.empty() || version.size() > 64) return false;
  for (size_t i = 0; i < version.size(); ++i) {
    const char c = version[i];
    const bool alnum = IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alnum && (i == 0 || (c != '.' && c != '_' && c != ':' && c != '-'))) return false;
  }
  return true;
}

bool ValidateResultCells(std::string_view score, std::string_view risk_band,
                         std::string_view model_version, std::string* err) {
  if (!IsValidScore(score)) {
    *err = "score " + QuotedValue(score) + " is not a number in [0, 1]";
  } else if (!IsValidRiskBand(risk_band)) {
    *err = "risk_band " + QuotedValue(risk_band) + " is not one of low, medium, high";
  } else if (!IsValidModelVersion(model_version)) {
    *err = "model_version " + QuotedValue(model_version) +
           " is not 1-64 characters of letters, digits and . _ : -";
  } else {
    return true;
  }
  return false;
}

}  // namespace sdp
