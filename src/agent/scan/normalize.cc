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
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
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

void NormalizeCell(std::string_view cell, std::string* out) {
  out->clear();
  const std::string_view trimmed = TrimAsciiSpace(cell);
  if (IsAscii(trimmed)) {
    out->assign(trimmed.data(), trimmed.size());
    return;
  }
  std::string nfkc;
  if (trimmed.size() < (size_t{1} << 24) && IsWellFormedUtf8(trimmed)) {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* nfkc_form = icu::Normalizer2::getNFKCInstance(status);
    if (U_SUCCESS(status)) {
      icu::StringByteSink<std::string> sink(&nfkc);
      nfkc_form->normalizeUTF8(
          0, icu::StringPiece(trimmed.data(), static_cast<int32_t>(trimmed.size())), sink, nullptr,
          status);
    }
    if (U_FAILURE(status)) nfkc.assign(trimmed.data(), trimmed.size());
  } else {
    nfkc.assign(trimmed.data(), trimmed.size());
  }
  *out = pii::FoldObfuscation(nfkc);
  const std::string_view t = TrimAsciiSpace(*out);
  if (t.size() != out->size()) *out = std::string(t);
}

}  // namespace sdp::scan
