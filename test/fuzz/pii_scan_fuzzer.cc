// libFuzzer target for the PII scanner's cell path: folding, NFKC, every validator of
// src/common/pii and the cell classifier (RE2 searches, dates, names), on arbitrary bytes.
//
//   make fuzz-build && build-fuzz/fuzz/pii_scan_fuzzer -max_total_time=20 $(mktemp -d) \
//     test/fuzz/corpus/pii_scan
//
// Properties checked, besides "no crash / no sanitizer report":
//   1. Folding is idempotent and never lengthens a cell (every replacement is shorter than the
//      UTF-8 it replaces).
//   2. Normalization is idempotent on well-formed results (what the scanner matches is stable).
//   3. A cell the validators accept stays accepted with ASCII space around it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "agent/scan/cell_classifier.h"
#include "agent/scan/normalize.h"
#include "common/pii/fold.h"
#include "common/pii/national_ids.h"
#include "common/pii/validators.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "property violated: %s\n", what);
    abort();
  }
}

bool AnyValidator(const std::string& s) {
  using namespace sdp::pii;
  return LooksLikeEmail(s) || LooksLikeInternationalEmail(s) || IsPaymentCard(s) || IsIban(s) ||
         IsUsSsn(s) || LooksLikePhone(s) || IsDeTaxId(s) || IsFrNir(s) || IsNlBsn(s) ||
         IsEsDni(s) || IsItCodiceFiscale(s) || IsPlPesel(s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const sdp::scan::CellClassifier* classifier = new sdp::scan::CellClassifier();
  const std::string input(reinterpret_cast<const char*>(data), size);

  const std::string folded = sdp::pii::FoldObfuscation(input);
  Check(folded.size() <= input.size(), "folding never lengthens");
  Check(sdp::pii::FoldObfuscation(folded) == folded, "folding is idempotent");

  std::string normalized, again;
  sdp::scan::NormalizeCell(input, &normalized);
  sdp::scan::NormalizeCell(normalized, &again);
  Check(again == normalized, "normalization is idempotent");

  if (AnyValidator(normalized)) {
    Check(AnyValidator(" " + normalized + "\t"), "ASCII space around an accepted cell");
  }
  sdp::scan::CellMatch m;
  if (!normalized.empty()) classifier->Classify(normalized, &m);
  (void)sdp::scan::DateYear(normalized);
  return 0;
}
