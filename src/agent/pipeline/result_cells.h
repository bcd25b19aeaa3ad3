// What the agent accepts from the server as a result row, before any of it is written next to
// raw PII. The merged file is opened by analysts in spreadsheets: a hostile or compromised server
// must not be able to place a formula (=WEBSERVICE(...)&A2), a line break or arbitrary text into
// it. So a result is accepted only in the shape the server's scoring produces, and anything else
// is refused as a whole (nothing written).
#pragma once

#include <string>
#include <string_view>

namespace sdp {

// The bands the server's models assign (sdp.processed_result.risk_band's CHECK constraint).
inline constexpr const char* kRiskBands[] = {"low", "medium", "high"};

// A score is a plain decimal number in [0, 1]: digits first (no sign, space or letter), an
// optional fraction and exponent ("0.25", "1", "3e-05"), at most 32 characters.
bool IsValidScore(std::string_view score);
// One of kRiskBands, exactly.
bool IsValidRiskBand(std::string_view band);
// 1-64 characters of [A-Za-z0-9._:-], starting with a letter or digit ("demo_v1", "v2.1").
bool IsValidModelVersion(std::string_view version);

// Checks the three cells of one result; on failure *err names the field and the value as shown
// by QuotedValue, e.g. "score '=1+1' is not a number in [0, 1]".
bool ValidateResultCells(std::string_view score, std::string_view risk_band,
                         std::string_view model_version, std::string* err);

}  // namespace sdp
