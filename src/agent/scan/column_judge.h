// A column's class from its sampled cells (content first, the header only as a hint), with a
// confidence, the share of cells that matched and a masked example.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "agent/scan/cell_classifier.h"
#include "agent/scan/pii_class.h"

namespace sdp::scan {

struct ColumnVerdict {
  PiiClass cls = PiiClass::kNotPii;
  double confidence = 0;  // 0..1
  double share = 0;       // of the sampled non-empty cells, those that matched cls
  size_t cells = 0;       // sampled non-empty cells
  std::string example;    // a matching cell, masked (never the raw value)
};

// Phones: libphonenumber costs ~90 µs a cell, so at most this many phone-shaped cells of a
// column are checked; the share of valid ones among them stands for the rest.
constexpr size_t kMaxPhoneChecks = 500;

class ColumnJudge {
 public:
  // `header` is the column's name ("" for a headerless file), used only as a hint;
  // `current_year` bounds the plausible birth years.
  ColumnJudge(std::string header, int current_year);

  // Adds one sampled cell (raw; normalized here).
  void Add(std::string_view raw_cell, const CellClassifier& classifier);

  ColumnVerdict Verdict() const;
  const std::string& header() const { return header_; }

 private:
  void Remember(PiiClass c, std::string_view cell);

  std::string header_;
  int current_year_;
  PiiClass hint_;  // kNotPii when the header says nothing
  std::string scratch_;
  size_t cells_ = 0;
  std::array<size_t, kPiiClassCount> count_{};
  std::array<std::string, kPiiClassCount> example_;
  size_t birth_years_ = 0;  // dates in the birth window
  size_t phone_shapes_ = 0, phone_checked_ = 0, phone_valid_ = 0;
  size_t name_shapes_ = 0, name_known_ = 0;
  size_t text_ = 0, text_with_pii_ = 0;
  size_t matched_any_ = 0;  // cells that matched a value class, a valid phone or embedded PII
};

// The class a header names, if any ("e_mail" -> email, "dob" -> date_of_birth, "col_7" ->
// not_pii).
PiiClass HeaderHint(std::string_view header);

}  // namespace sdp::scan
