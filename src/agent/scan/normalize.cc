// NFKC + ASCII folding of one cell; see normalize.h.
#include "agent/scan/normalize.h"

#include <unicode/bytestream.h>
#include <unicode/errorcode.h>
#include <unicode/normalizer2.h>
#include <unicode/utf8.h>

#include "common/pii/fold.h"
#include "common/text.h"

namespace sdp::scan {
namespace {

bool IsAscii(std::string_view s) {
  unsigned char any = 0;
  for (char c : s) any |= static_cast<unsigned char>(c);
  return any < 0x80;
}

bool IsWellFormedUtf8(std::string_view s) {
  int32_t i = 0;
  const auto n = static_cast<int32_t>(s.size());
  while (i < n) {
    UChar32 c;
    U8_NEXT(reinterpret_cast<const uint8_t*>(s.data()), i, n, c);
    if (c < 0) return false;
  }
  return true;
}

}  // namespace

std::string_view NormalizedView(std::string_view cell, std::string* scratch) {
  const std::string_view trimmed = TrimAsciiSpace(cell);
  if (IsAscii(trimmed)) return trimmed;
  NormalizeCell(trimmed, scratch);
  return *scratch;
}

void NormalizeCell(std::string_view cell, std::string* out) {
  out->clear();
  const std::string_view trimmed = TrimAsciiSpace(cell);
  if (IsAscii(trimmed)) {
    out->assign(trimmed.data(), trimmed.size());
    return;
  }
  // Folding first removes the invisible characters that would otherwise sit between a letter
  // and its combining mark and keep NFKC from composing them; folding again after NFKC turns
  // what NFKC produces (U+2011 becomes U+2010, a dash) into ASCII. So a normalized cell
  // normalizes to itself.
  std::string folded = pii::FoldObfuscation(trimmed);
  if (!IsAscii(folded) && folded.size() < (size_t{1} << 24) && IsWellFormedUtf8(folded)) {
    std::string nfkc;
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* nfkc_form = icu::Normalizer2::getNFKCInstance(status);
    if (U_SUCCESS(status)) {
      icu::StringByteSink<std::string> sink(&nfkc);
      nfkc_form->normalizeUTF8(0,
                               icu::StringPiece(folded.data(), static_cast<int32_t>(folded.size())),
                               sink, nullptr, status);
    }
    if (U_SUCCESS(status)) folded = pii::FoldObfuscation(nfkc);
  }
  const std::string_view t = TrimAsciiSpace(folded);
  out->assign(t.data(), t.size());
}

}  // namespace sdp::scan
