// The firewall's matchers (see firewall_match.h).
#include "common/pii/firewall_match.h"

#include <cstdint>

#include "common/luhn.h"

namespace sdp::pii {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

// INTERIM until the shared validators land (h/scan "pii validators:"): replaced by calls to them.
void FoldForMatching(std::string_view value, std::string* out) {
  out->clear();
  const auto* p = reinterpret_cast<const unsigned char*>(value.data());
  const size_t n = value.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      out->push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    uint32_t cp = 0;
    size_t len = 1;
    if ((c & 0xE0) == 0xC0 && i + 1 < n) {
      cp = ((c & 0x1F) << 6) | (p[i + 1] & 0x3F);
      len = 2;
    } else if ((c & 0xF0) == 0xE0 && i + 2 < n) {
      cp = ((c & 0x0F) << 12) | ((p[i + 1] & 0x3F) << 6) | (p[i + 2] & 0x3F);
      len = 3;
    } else if ((c & 0xF8) == 0xF0 && i + 3 < n) {
      cp = ((c & 0x07) << 18) | ((p[i + 1] & 0x3F) << 12) | ((p[i + 2] & 0x3F) << 6) |
           (p[i + 3] & 0x3F);
      len = 4;
    }
    if (cp >= 0xFF01 && cp <= 0xFF5E) {
      out->push_back(static_cast<char>(cp - 0xFF01 + 0x21));
    } else if (cp == 0x00A0 || cp == 0x202F || cp == 0x3000 || (cp >= 0x2000 && cp <= 0x200A)) {
      out->push_back(' ');
    } else if (cp == 0x200B || cp == 0x200C || cp == 0x200D || cp == 0x2060 || cp == 0xFEFF ||
               cp == 0x00AD) {
      // removed
    } else if ((cp >= 0x2010 && cp <= 0x2015) || cp == 0x2212) {
      out->push_back('-');
    } else if (cp == 0xFE6B) {
      out->push_back('@');
    } else {
      out->append(value.data() + i, len);
    }
    i += len;
  }
}

bool ContainsEmail(std::string_view text) {
  for (size_t at = text.find('@'); at != std::string_view::npos; at = text.find('@', at + 1)) {
    auto local_char = [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c) ||
             std::string_view(".!#$%&'*+/=?^_`{|}~-").find(c) != std::string_view::npos;
    };
    auto domain_char = [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '-' || c == '.';
    };
    if (at == 0 || !local_char(text[at - 1])) continue;
    size_t end = at + 1;
    while (end < text.size() && domain_char(text[end])) ++end;
    std::string_view domain = text.substr(at + 1, end - at - 1);
    while (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
    const size_t dot = domain.rfind('.');
    if (dot == std::string_view::npos || dot == 0) continue;
    const std::string_view tld = domain.substr(dot + 1);
    bool alpha = tld.size() >= 2;
    for (char c : tld) alpha = alpha && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
    if (alpha) return true;
  }
  return false;
}

bool PaymentCardValid(std::string_view d) {
  if (!LuhnValid(d)) return false;
  const size_t n = d.size();
  auto prefix = [&](size_t k) {
    int v = 0;
    for (size_t i = 0; i < k; ++i) v = v * 10 + (d[i] - '0');
    return v;
  };
  if (d[0] == '4') return n == 13 || n == 16 || n == 19;  // Visa
  if ((prefix(2) >= 51 && prefix(2) <= 55) || (prefix(4) >= 2221 && prefix(4) <= 2720))
    return n == 16;                                        // Mastercard
  if (prefix(2) == 34 || prefix(2) == 37) return n == 15;  // Amex
  if (prefix(4) == 6011 || prefix(2) == 65 || (prefix(3) >= 644 && prefix(3) <= 649))
    return n >= 16 && n <= 19;                                            // Discover
  if (prefix(4) >= 3528 && prefix(4) <= 3589) return n >= 16 && n <= 19;  // JCB
  if (prefix(2) == 36 || (prefix(3) >= 300 && prefix(3) <= 305) || prefix(2) == 38 ||
      prefix(2) == 39)
    return n >= 14 && n <= 19;                     // Diners
  if (prefix(2) == 62) return n >= 16 && n <= 19;  // UnionPay
  if (prefix(2) == 50 || (prefix(2) >= 56 && prefix(2) <= 69))
    return n >= 12 && n <= 19;  // Maestro
  return false;
}

bool UsSsnValid(std::string_view d) {
  if (d.size() != 9) return false;
  const int area = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
  const int group = (d[3] - '0') * 10 + (d[4] - '0');
  const bool serial_zero = d.substr(5) == "0000";
  return area != 0 && area != 666 && area < 900 && group != 0 && !serial_zero;
}
// END INTERIM

bool PhoneShape(std::string_view digits, bool plus, const int* groups, int ngroups) {
  const size_t n = digits.size();
  if (plus) return n >= 8 && n <= 15 && digits[0] != '0';  // E.164: country code, no trunk 0
  if (n >= 2 && digits[0] == '0' && digits[1] == '0') {
    return ngroups > 1 && n >= 10 && n <= 17 && digits[2] != '0';  // "00 44 20 7946 0958"
  }
  // NANP: [1] NXX NXX XXXX, bare or grouped 3-3-4 (the "(415) 555-2671" forms included).
  std::string_view nanp = digits;
  int g0 = 0;
  if (n == 11 && digits[0] == '1') {
    nanp = digits.substr(1);
    if (ngroups > 1 && groups[0] != 1) nanp = {};
    g0 = ngroups > 1 ? 1 : 0;
  }
  if (nanp.size() == 10 && nanp[0] >= '2' && nanp[3] >= '2' &&
      !(nanp[1] == '1' && nanp[2] == '1')) {
    const int rest = ngroups - g0;
    if (rest == 1) return true;
    if (rest == 3 && groups[g0] == 3 && groups[g0 + 1] == 3 && groups[g0 + 2] == 4) return true;
  }
  // National numbers with a trunk 0 (UK 020 7946 0958, FR 06 12 34 56 78, DE 030 1234567).
  if (n >= 10 && n <= 11 && digits[0] == '0' && digits[1] != '0') return true;
  return false;
}

}  // namespace sdp::pii
