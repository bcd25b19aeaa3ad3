// What one normalized cell (normalize.h) can be: the classes it matches, checked by content only.
// The column's class is decided from many cells together (column_judge.h).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "agent/scan/pii_class.h"

namespace sdp::scan {

struct CellMatch {
  ClassMask classes = 0;     // every class the whole cell is a value of
  int date_year = 0;         // the year of a date cell (kDateOfBirth set), else 0
  bool phone_shape = false;  // phone-shaped (validity left to CheckPhone: it is costly)
  bool name_shape = false;   // 1-4 capitalised words of letters
  bool name_known = false;   // ... of which one is a common given name or surname
  bool text = false;         // prose: 4+ words with lower-case letters
  ClassMask embedded = 0;    // classes found inside prose (email, card, IBAN, SSN, phone)
};

class CellClassifier {
 public:
  CellClassifier();
  ~CellClassifier();
  CellClassifier(const CellClassifier&) = delete;
  CellClassifier& operator=(const CellClassifier&) = delete;

  // Matches `cell` (already normalized, non-empty) into *out. A phone-shaped cell gets
  // phone_shape; CheckPhone says whether libphonenumber accepts it.
  void Classify(std::string_view cell, CellMatch* out) const;

  // True if libphonenumber parses `cell` as a valid number: E.164 with '+' or "00", or a
  // national number of the United States (no trunk '0') or of GB, FR, DE, NL, IT, BE, AT, CH,
  // IE, SE, AU (trunk '0'), first that validates. About 90 µs per call.
  bool CheckPhone(std::string_view cell) const;

 private:
  struct Patterns;
  std::unique_ptr<Patterns> patterns_;
  void FindEmbedded(std::string_view cell, CellMatch* out) const;
};

// The date in `s` if it is one of YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD, DD/MM/YYYY, MM/DD/YYYY,
// DD.MM.YYYY, DD-MM-YYYY (a real calendar date, year 1880..2100): its year, else 0.
int DateYear(std::string_view s);

}  // namespace sdp::scan
