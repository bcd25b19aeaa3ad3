#include "agent/json/json_canonical.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace sdp {
namespace {

double Bits(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

TEST(JsonCanonicalTest, Rfc8785NumberExamples) {
  // RFC 8785 Appendix B (IEEE 754 bit patterns -> ECMAScript text).
  EXPECT_EQ(CanonicalNumber(Bits(0x0000000000000000)), "0");
  EXPECT_EQ(CanonicalNumber(Bits(0x8000000000000000)), "0");
  EXPECT_EQ(CanonicalNumber(Bits(0x0000000000000001)), "5e-324");
  EXPECT_EQ(CanonicalNumber(Bits(0x8000000000000001)), "-5e-324");
  EXPECT_EQ(CanonicalNumber(Bits(0x7fefffffffffffff)), "1.7976931348623157e+308");
  EXPECT_EQ(CanonicalNumber(Bits(0xffefffffffffffff)), "-1.7976931348623157e+308");
  EXPECT_EQ(CanonicalNumber(Bits(0x4340000000000000)), "9007199254740992");
  EXPECT_EQ(CanonicalNumber(Bits(0xc340000000000000)), "-9007199254740992");
  EXPECT_EQ(CanonicalNumber(Bits(0x4430000000000000)), "295147905179352830000");
  EXPECT_EQ(CanonicalNumber(Bits(0x44b52d02c7e14af5)), "9.999999999999997e+22");
  EXPECT_EQ(CanonicalNumber(Bits(0x44b52d02c7e14af6)), "1e+23");
  EXPECT_EQ(CanonicalNumber(Bits(0x44b52d02c7e14af7)), "1.0000000000000001e+23");
  EXPECT_EQ(CanonicalNumber(Bits(0x444b1ae4d6e2ef4e)), "999999999999999700000");
  EXPECT_EQ(CanonicalNumber(Bits(0x444b1ae4d6e2ef4f)), "999999999999999900000");
  EXPECT_EQ(CanonicalNumber(Bits(0x444b1ae4d6e2ef50)), "1e+21");
  EXPECT_EQ(CanonicalNumber(Bits(0x3eb0c6f7a0b5ed8c)), "9.999999999999997e-7");
  EXPECT_EQ(CanonicalNumber(Bits(0x3eb0c6f7a0b5ed8d)), "0.000001");
  EXPECT_EQ(CanonicalNumber(Bits(0x41b3de4355555553)), "333333333.3333332");
  EXPECT_EQ(CanonicalNumber(Bits(0x41b3de4355555554)), "333333333.33333325");
  EXPECT_EQ(CanonicalNumber(Bits(0x41b3de4355555555)), "333333333.3333333");
  EXPECT_EQ(CanonicalNumber(Bits(0x41b3de4355555556)), "333333333.3333334");
  EXPECT_EQ(CanonicalNumber(Bits(0x41b3de4355555557)), "333333333.33333343");
  EXPECT_EQ(CanonicalNumber(Bits(0xbecbf647612f3696)), "-0.0000033333333333333333");
  EXPECT_EQ(CanonicalNumber(Bits(0x43143ff3c1cb0959)), "1424953923781206.2");
}

TEST(JsonCanonicalTest, Rfc8785SortingAndStrings) {
  std::string out, err;
  // RFC 8785 3.2.3: sorting by UTF-16 code units puts U+1F600 (surrogates D83D DE00) before
  // U+FB33, although its UTF-8 bytes sort after.
  ASSERT_TRUE(CanonicalJson(
      "{\"\\ufb33\": 1, \"\\ud83d\\ude00\": 2, \"\\u20ac\": 3, \"1\": 4, \"\\u0080\": 5, "
      "\"\\r\": 6}",
      &out, &err));
  EXPECT_EQ(out,
            "{\"\\r\":6,\"1\":4,\"\xC2\x80\":5,\"\xE2\x82\xAC\":3,\"\xF0\x9F\x98\x80\":2,"
            "\"\xEF\xAC\xB3\":1}");
  ASSERT_TRUE(
      CanonicalJson(" [ 1.0 , \"\\u0041\\u001f\\/\" , {\"b\":null,\"a\":[]} ] ", &out, &err));
  EXPECT_EQ(out, "[1,\"A\\u001f/\",{\"a\":[],\"b\":null}]");
  EXPECT_FALSE(CanonicalJson("{", &out, &err));
}

// The reference: the same canonical form computed over nlohmann-json's DOM (sort by UTF-16 code
// units of the names, nlohmann's escaping rules replaced by RFC 8785's), an independent path to
// compare the one-pass canonicalizer against.
std::u16string Utf16(const std::string& s) {
  std::u16string out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<uint8_t>(s[i]);
    uint32_t cp;
    size_t n;
    if (c < 0x80) {
      cp = c;
      n = 1;
    } else if (c < 0xE0) {
      cp = c & 0x1F;
      n = 2;
    } else if (c < 0xF0) {
      cp = c & 0x0F;
      n = 3;
    } else {
      cp = c & 0x07;
      n = 4;
    }
    for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<uint8_t>(s[i + k]) & 0x3F);
    i += n;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xD800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + (cp & 0x3FF)));
    } else {
      out.push_back(static_cast<char16_t>(cp));
    }
  }
  return out;
}

void ReferenceString(const std::string& s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (char ch : s) {
    const auto c = static_cast<uint8_t>(ch);
    if (c == '"') {
      *out += "\\\"";
    } else if (c == '\\') {
      *out += "\\\\";
    } else if (c == '\b') {
      *out += "\\b";
    } else if (c == '\f') {
      *out += "\\f";
    } else if (c == '\n') {
      *out += "\\n";
    } else if (c == '\r') {
      *out += "\\r";
    } else if (c == '\t') {
      *out += "\\t";
    } else if (c < 0x20) {
      *out += "\\u00";
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    } else {
      out->push_back(ch);
    }
  }
  out->push_back('"');
}

void ReferenceValue(const nlohmann::json& v, std::string* out) {
  if (v.is_object()) {
    std::vector<std::pair<std::u16string, std::string>> keys;
    for (auto it = v.begin(); it != v.end(); ++it) keys.emplace_back(Utf16(it.key()), it.key());
    std::sort(keys.begin(), keys.end());
    out->push_back('{');
    for (size_t i = 0; i < keys.size(); ++i) {
      if (i > 0) out->push_back(',');
      ReferenceString(keys[i].second, out);
      out->push_back(':');
      ReferenceValue(v.at(keys[i].second), out);
    }
    out->push_back('}');
  } else if (v.is_array()) {
    out->push_back('[');
    for (size_t i = 0; i < v.size(); ++i) {
      if (i > 0) out->push_back(',');
      ReferenceValue(v[i], out);
    }
    out->push_back(']');
  } else if (v.is_string()) {
    ReferenceString(v.get<std::string>(), out);
  } else if (v.is_boolean()) {
    *out += v.get<bool>() ? "true" : "false";
  } else if (v.is_number_integer() && !v.is_number_unsigned()) {
    *out += CanonicalNumber(static_cast<double>(v.get<int64_t>()));
  } else if (v.is_number_unsigned()) {
    *out += CanonicalNumber(static_cast<double>(v.get<uint64_t>()));
  } else if (v.is_number_float()) {
    *out += CanonicalNumber(v.get<double>());
  } else {
    *out += "null";
  }
}

// Random JSON texts: nesting up to depth 8, member names and strings with escapes, raw and
// escaped non-ASCII (supplementary planes as surrogate pairs), numbers of every shape, varied
// white space, members in random order (names unique per object).
class TextGenerator {
 public:
  explicit TextGenerator(uint32_t seed) : rng_(seed) {}
  std::string Next() {
    std::string out;
    Value(&out, 0);
    return out;
  }

 private:
  size_t Pick(size_t n) { return rng_() % n; }
  void Space(std::string* out) {
    static const char* const kSpaces[] = {"", "", "", " ", "\n  ", "\t", "\r\n"};
    *out += kSpaces[Pick(7)];
  }
  void Text(std::string* out, size_t max_len) {
    static const char* const kPieces[] = {"a",
                                          "Z",
                                          "0",
                                          " ",
                                          "\\\"",
                                          "\\\\",
                                          "\\/",
                                          "\\n",
                                          "\\u0001",
                                          "\\u00e9",
                                          "\xc3\xa9",
                                          "\xe2\x82\xac",
                                          "\xf0\x9f\x98\x80",
                                          "\\ud83d\\ude00",
                                          "\\ufb33",
                                          "\xef\xac\xb3",
                                          "\\u001F",
                                          "\\t",
                                          "x-y"};
    out->push_back('"');
    const size_t n = Pick(max_len + 1);
    for (size_t i = 0; i < n; ++i) *out += kPieces[Pick(sizeof kPieces / sizeof kPieces[0])];
    out->push_back('"');
  }
  void Number(std::string* out) {
    static const char* const kNumbers[] = {"0",
                                           "-0",
                                           "1",
                                           "-1",
                                           "12345678901234567890",
                                           "1.5",
                                           "-2.25",
                                           "1e3",
                                           "1E-7",
                                           "0.000001",
                                           "123456789012345678901234567890",
                                           "1e21",
                                           "1e+21",
                                           "-0.0",
                                           "3.14159265358979323846",
                                           "5e-324",
                                           "1.7976931348623157e308",
                                           "100",
                                           "0.1",
                                           "9007199254740993",
                                           "-9223372036854775808",
                                           "18446744073709551615"};
    *out += kNumbers[Pick(sizeof kNumbers / sizeof kNumbers[0])];
  }
  void Value(std::string* out, int depth) {
    const size_t kind = depth >= 8 ? 2 + Pick(4) : Pick(6);
    if (kind == 0) {
      out->push_back('{');
      const size_t n = Pick(6);
      size_t members = 0;
      for (size_t i = 0; i < n; ++i) {
        std::string name;
        Text(&name, 3);
        // Names repeat now and then (short names from few pieces): the last one wins, in
        // both the reference (nlohmann) and ours.
        if (nlohmann::json::parse(name, nullptr, false).is_discarded()) continue;
        if (members++ > 0) out->push_back(',');
        Space(out);
        *out += name;
        Space(out);
        out->push_back(':');
        Space(out);
        Value(out, depth + 1);
        Space(out);
      }
      out->push_back('}');
    } else if (kind == 1) {
      out->push_back('[');
      const size_t n = Pick(5);
      for (size_t i = 0; i < n; ++i) {
        if (i > 0) out->push_back(',');
        Space(out);
        Value(out, depth + 1);
        Space(out);
      }
      out->push_back(']');
    } else if (kind == 2) {
      Text(out, 6);
    } else if (kind == 3) {
      Number(out);
    } else if (kind == 4) {
      *out += Pick(2) ? "true" : "false";
    } else {
      *out += "null";
    }
  }
  std::mt19937 rng_;
};

TEST(JsonCanonicalTest, AgreesWithTheDomReferenceOnRandomTexts) {
  TextGenerator gen(20261207);
  std::string ours, err;
  for (int i = 0; i < 20000; ++i) {
    const std::string text = gen.Next();
    const auto dom = nlohmann::json::parse(text, nullptr, false);
    ASSERT_FALSE(dom.is_discarded()) << text;
    std::string reference;
    ReferenceValue(dom, &reference);
    ASSERT_TRUE(CanonicalJson(text, &ours, &err)) << err << " in " << text;
    ASSERT_EQ(ours, reference) << text;
    // Idempotent: the canonical form is its own canonical form.
    std::string again;
    ASSERT_TRUE(CanonicalJson(ours, &again, &err)) << err;
    ASSERT_EQ(again, ours);
  }
}

TEST(JsonCanonicalTest, RefusesWhatIsNotIJson) {
  std::string out, err;
  const char* const bad[] = {"",
                             "{",
                             "[1,]",
                             "{\"a\":1,}",
                             "{\"a\" 1}",
                             "01",
                             "1.",
                             "-",
                             "1e",
                             "+1",
                             "nul",
                             "[1] x",
                             "\"\x01\"",
                             "\"\\x\"",
                             "\"\\u12\"",
                             "\"\\ud800\"",
                             "\"\\udc00\"",
                             "\"\xc0\xaf\"",
                             "\"\xed\xa0\x80\"",
                             "\"\xf4\x90\x80\x80\"",
                             "\"abc",

                             "1e400",
                             "[\"\xff\"]"};
  for (const char* text : bad) {
    EXPECT_FALSE(CanonicalJson(text, &out, &err)) << text;
    EXPECT_EQ(err.rfind("byte ", 0), 0u) << err;
  }
  // A name given twice, even spelled differently: the last wins (JSON.parse, nlohmann).
  EXPECT_TRUE(CanonicalJson("{\"b\":0,\"a\":1,\"\\u0061\":2,\"a\":[3]}", &out, &err)) << err;
  EXPECT_EQ(out, "{\"a\":[3],\"b\":0}");
  // Depth is bounded (no stack exhaustion from hostile nesting).
  EXPECT_FALSE(CanonicalJson(std::string(100000, '['), &out, &err));
  EXPECT_NE(err.find("nested too deeply"), std::string::npos) << err;
  std::string deep = std::string(400, '[') + std::string(400, ']');
  EXPECT_TRUE(CanonicalJson(deep, &out, &err)) << err;
  EXPECT_EQ(out, deep);
}

}  // namespace
}  // namespace sdp
