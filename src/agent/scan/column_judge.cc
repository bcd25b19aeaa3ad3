// Column verdicts from sampled cells; see column_judge.h.
#include "agent/scan/column_judge.h"

#include <algorithm>

#include "agent/scan/normalize.h"
#include "agent/tokenize/masking.h"

namespace sdp::scan {
namespace {

// A cell class whose share of a column reaches this decides the column.
constexpr double kMajority = 0.6;
// With a header that names the class, less suffices.
constexpr double kHinted = 0.3;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool Has(const std::string& h, const char* word) { return h.find(word) != std::string::npos; }

}  // namespace

PiiClass HeaderHint(std::string_view header) {
  const std::string h = Lower(header);
  if (h.empty()) return PiiClass::kNotPii;
  if (Has(h, "mail")) return PiiClass::kEmail;
  if (Has(h, "iban")) return PiiClass::kIban;
  if (Has(h, "card") || h == "pan" || Has(h, "credit")) return PiiClass::kPaymentCard;
  if (Has(h, "ssn") || Has(h, "social")) return PiiClass::kUsSsn;
  if (Has(h, "phone") || Has(h, "mobile") || Has(h, "tel") || Has(h, "fax")) {
    return PiiClass::kPhone;
  }
  if (Has(h, "birth") || h == "dob" || Has(h, "born")) return PiiClass::kDateOfBirth;
  if (Has(h, "address") || Has(h, "street")) return PiiClass::kPostalAddress;
  if (Has(h, "ipv6")) return PiiClass::kIpv6;
  if (h == "ip" || Has(h, "ipv4") || Has(h, "ip_addr") || Has(h, "ip address")) {
    return PiiClass::kIpv4;
  }
  if (Has(h, "bsn")) return PiiClass::kNlBsn;
  if (Has(h, "nir") || Has(h, "insee")) return PiiClass::kFrNir;
  if (Has(h, "pesel")) return PiiClass::kPlPesel;
  if (Has(h, "dni") || Has(h, "nie")) return PiiClass::kEsDni;
  if (Has(h, "fiscal")) return PiiClass::kItCodiceFiscale;
  if (Has(h, "steuer") || Has(h, "idnr") || Has(h, "tax_id")) return PiiClass::kDeTaxId;
  if (Has(h, "name") && !Has(h, "file") && !Has(h, "product") && !Has(h, "user")) {
    return PiiClass::kPersonName;
  }
  if (Has(h, "comment") || Has(h, "note") || Has(h, "message") || Has(h, "text")) {
    return PiiClass::kFreeTextPii;
  }
  return PiiClass::kNotPii;
}

ColumnJudge::ColumnJudge(std::string header, int current_year)
    : header_(std::move(header)), current_year_(current_year), hint_(HeaderHint(header_)) {}

void ColumnJudge::Remember(PiiClass c, std::string_view cell) {
  std::string& e = example_[static_cast<int>(c)];
  if (e.empty()) e = std::string(cell.substr(0, 80));
}

void ColumnJudge::Add(std::string_view raw_cell, const CellClassifier& classifier) {
  const std::string_view cell = NormalizedView(raw_cell, &scratch_);
  if (cell.empty()) return;
  ++cells_;
  CellMatch m;
  classifier.Classify(cell, &m);
  bool matched = m.classes != 0;
  for (ClassMask bits = m.classes; bits != 0; bits &= bits - 1) {
    const int i = __builtin_ctz(bits);
    const auto c = static_cast<PiiClass>(i);
    if (c == PiiClass::kDateOfBirth) {
      const int age = current_year_ - m.date_year;
      if (age >= 14 && age <= 110) ++birth_years_;
    }
    ++count_[i];
    if (example_[i].empty()) Remember(c, cell);
  }
  if (m.phone_shape) {
    ++phone_shapes_;
    if (phone_checked_ < kMaxPhoneChecks) {
      ++phone_checked_;
      if (classifier.CheckPhone(cell)) {
        ++phone_valid_;
        matched = true;
        Remember(PiiClass::kPhone, cell);
      }
    }
  }
  if (m.name_shape) {
    ++name_shapes_;
    if (m.name_known) ++name_known_;
    Remember(PiiClass::kPersonName, cell);
  }
  if (m.text) {
    ++text_;
    if (m.embedded != 0) {
      ++text_with_pii_;
      matched = true;
      Remember(PiiClass::kFreeTextPii, cell);
    }
  }
  if (matched) ++matched_any_;
  if (example_[static_cast<int>(PiiClass::kNotPii)].empty()) Remember(PiiClass::kNotPii, cell);
}

ColumnVerdict ColumnJudge::Verdict() const {
  ColumnVerdict v;
  v.cells = cells_;
  if (cells_ == 0) return v;
  const double n = static_cast<double>(cells_);
  auto share_of = [&](PiiClass c) -> double {
    if (c == PiiClass::kPhone) {
      return phone_checked_ == 0
                 ? 0
                 : static_cast<double>(phone_shapes_) * phone_valid_ / phone_checked_ / n;
    }
    if (c == PiiClass::kDateOfBirth) return birth_years_ / n;
    if (c == PiiClass::kPersonName) return name_shapes_ / n;
    if (c == PiiClass::kFreeTextPii) return text_with_pii_ / n;
    return count_[static_cast<int>(c)] / n;
  };
  auto decide = [&](PiiClass c, double share, double certainty) {
    v.cls = c;
    v.share = share;
    double conf = share * certainty;
    if (hint_ == c) conf += 0.05;
    v.confidence = std::min(0.99, conf);
    std::string masked;
    MaskValue(example_[static_cast<int>(c)], MaskStyle::kAuto, &masked);
    v.example = masked;
    return v;
  };

  // 1. The value classes, the most specific first among equal shares.
  PiiClass best = PiiClass::kNotPii;
  double best_share = 0;
  for (int i = 0; i <= static_cast<int>(PiiClass::kPostalAddress); ++i) {
    const auto c = static_cast<PiiClass>(i);
    const double s = share_of(c);
    if (s > best_share + 1e-9) {
      best = c;
      best_share = s;
    }
  }
  const double all_dates = count_[static_cast<int>(PiiClass::kDateOfBirth)] / n;
  if (best != PiiClass::kNotPii &&
      (best_share >= kMajority || (hint_ == best && best_share >= kHinted))) {
    return decide(best, best_share, HasCheckDigits(best) ? 0.99 : 0.95);
  }
  // Dates outside the birth window: a birth-date header still makes them birth dates.
  if (hint_ == PiiClass::kDateOfBirth && all_dates >= kMajority) {
    return decide(PiiClass::kDateOfBirth, all_dates, 0.8);
  }
  // 2. People's names: capitalised words, many of them known names.
  const double names = name_shapes_ / n;
  const double known = name_known_ / n;
  if (names >= 0.8 && (known >= 0.4 || (hint_ == PiiClass::kPersonName && known >= 0.1))) {
    return decide(PiiClass::kPersonName, names, 0.6 + 0.4 * std::min(1.0, known / 0.8));
  }
  // 3. Prose that embeds a validated value: one such cell in the sample is enough.
  if (text_ >= 0.3 * n && text_with_pii_ > 0) {
    const double s = text_with_pii_ / n;
    v = decide(PiiClass::kFreeTextPii, s, 1.0);
    v.confidence = std::min(0.99, 0.7 + 0.3 * std::min(1.0, s / 0.1));
    return v;
  }
  // 4. Values that never match by chance, even when few: an e-mail address, an IBAN.
  for (PiiClass c : {PiiClass::kEmail, PiiClass::kIban, PiiClass::kItCodiceFiscale}) {
    if (count_[static_cast<int>(c)] > 0 && share_of(c) >= 0.01) {
      return decide(c, share_of(c), 0.6);
    }
  }
  // Not PII: the share of cells that matched no value class, the example any cell.
  v.cls = PiiClass::kNotPii;
  v.share = 1.0 - matched_any_ / n;
  v.confidence = std::min(0.99, std::max(0.5, 1.0 - best_share));
  std::string masked;
  MaskValue(example_[static_cast<int>(PiiClass::kNotPii)], MaskStyle::kFull, &masked);
  v.example = masked;
  return v;
}

}  // namespace sdp::scan
