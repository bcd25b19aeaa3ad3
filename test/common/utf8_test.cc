#include "common/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace sdp {
namespace {

TEST(Utf8, EveryScalarValueRoundTrips) {
  // Encode every code point but the surrogates; each encoding is one well-formed sequence of the
  // length RFC 3629 gives it.
  for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    std::string s;
    AppendUtf8(cp, &s);
    const size_t want = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    ASSERT_EQ(s.size(), want) << cp;
    ASSERT_EQ(Utf8SequenceLength(s, 0), want) << cp;
  }
}

TEST(Utf8, IllFormedSequencesAreRefused) {
  const char* const bad[] = {
      "\x80",              // stray continuation byte
      "\xC0\xAF",          // overlong '/'
      "\xC1\xBF",          // overlong
      "\xE0\x80\xAF",      // overlong, 3 bytes
      "\xF0\x80\x80\xAF",  // overlong, 4 bytes
      "\xED\xA0\x80",      // U+D800, a surrogate
      "\xED\xBF\xBF",      // U+DFFF
      "\xF4\x90\x80\x80",  // U+110000
      "\xF5\x80\x80\x80",  // lead byte beyond U+10FFFF
      "\xFF",
      "\xC3",          // cut off
      "\xE2\x82",      // cut off
      "\xE2\x28\xA1",  // bad continuation
  };
  for (const char* b : bad) EXPECT_EQ(Utf8SequenceLength(b, 0), 0u) << b;
  EXPECT_EQ(Utf8SequenceLength("a\xC3\xA9", 1), 2u);
  EXPECT_EQ(Utf8SequenceLength("\xEF\xBF\xBF", 0), 3u);      // U+FFFF is a scalar value
  EXPECT_EQ(Utf8SequenceLength("\xF4\x8F\xBF\xBF", 0), 4u);  // U+10FFFF
}

}  // namespace
}  // namespace sdp
