#include "agent/scan/normalize.h"

#include <gtest/gtest.h>

#include <string>

namespace sdp::scan {
namespace {

std::string N(const std::string& s) {
  std::string out;
  NormalizeCell(s, &out);
  return out;
}

TEST(NormalizeCell, AsciiIsTrimmedOnly) {
  EXPECT_EQ(N("  jane@example.com \t"), "jane@example.com");
  EXPECT_EQ(N(""), "");
}

TEST(NormalizeCell, NfkcThenFolding) {
  EXPECT_EQ(N("\uFF14\uFF11\uFF11\uFF11"), "4111");     // full-width digits
  EXPECT_EQ(N("\u2460\u2461\u2462"), "123");            // circled digits (NFKC)
  EXPECT_EQ(N("\U0001D7CF\U0001D7D0"), "12");           // mathematical digits (NFKC)
  EXPECT_EQ(N("a\u200Bb\u00ADc"), "abc");               // invisible characters
  EXPECT_EQ(N("\u00A0123\u2013456\u00A0"), "123-456");  // NBSP, en dash, trimmed
  EXPECT_EQ(N("Ren\u00E9e"), "Ren\u00E9e");             // composed letters stay
  EXPECT_EQ(N("Rene\u0301e"), "Ren\u00E9e");            // and decomposed ones compose
}

TEST(NormalizeCell, IllFormedUtf8IsFoldedButNotReplaced) {
  EXPECT_EQ(N(std::string("\xFF\uFF11", 4)), std::string("\xFF"
                                                         "1",
                                                         2));
}

}  // namespace
}  // namespace sdp::scan
