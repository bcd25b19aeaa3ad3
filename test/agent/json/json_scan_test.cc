#include "agent/json/json_scan.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sdp {
namespace {

// Scans `doc` with the path "$..*" (every scalar); returns the error, or "" when it is valid.
std::string ScanError(const std::string& doc, size_t max_depth = JsonScanner::kDefaultMaxDepth) {
  JsonPath path;
  std::string err;
  EXPECT_TRUE(ParseJsonPath("$..*", &path, &err));
  JsonPathSet paths;
  paths.Add(path);
  JsonScanner scanner(paths, max_depth);
  if (scanner.Scan(
          doc, [](const JsonScalar&, std::string*) { return true; }, &err))
    return "";
  return err.empty() ? "(no message)" : err;
}

TEST(JsonScanTest, ValidDocumentsPass) {
  for (const char* doc :
       {"0", "-0", "1.5e-7", "-12.0E+3", "\"\"", "true", "false", "null", "[]", "{}",
        " [ 1 , {\"a\" : [ ] } ] ", "{\"a\":{\"a\":{\"a\":null}}}",
        "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\\u00e9\\ud83d\\ude00\"", "\xEF\xBB\xBF{\"bom\": 1}",
        "{\"a\":1,\"a\":2}", "\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\""}) {
    EXPECT_EQ(ScanError(doc), "") << doc;
  }
}

TEST(JsonScanTest, HostileAndMalformedDocumentsAreRefusedWithTheByte) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "byte 1: no JSON value"},
      {"   ", "byte 4: no JSON value"},
      {"[1,]", "byte 4: expected a value"},
      {"{\"a\":1,}", "byte 8: expected a member name"},
      {"{'a':1}", "byte 2: expected a member name"},
      {"{\"a\" 1}", "byte 6: expected ':'"},
      {"[1 2]", "byte 4: expected ',' or ']'"},
      {"01", "byte 2: unexpected data after the JSON value"},
      {"1.", "byte 1: expected a value"},
      {".5", "byte 1: expected a value"},
      {"+1", "byte 1: expected a value"},
      {"1e", "byte 1: expected a value"},
      {"NaN", "byte 1: expected a value"},
      {"tru", "byte 1: invalid literal"},
      {"nul", "byte 1: invalid literal"},
      {"\"abc", "byte 1: unterminated string"},
      {"\"a\nb\"", "byte 3: raw control character"},
      {"\"\\x\"", "byte 2: invalid escape"},
      {"\"\\u12\"", "byte 2: \\u needs four hex digits"},
      {"\"\\ud800\"", "byte 2: high surrogate without its low half"},
      {"\"\\udc00\"", "byte 2: lone low surrogate"},
      {"\"\\ud800\\u0041\"", "byte 2: high surrogate without its low half"},
      {"\"\xC0\xAF\"", "byte 2: invalid UTF-8"},          // overlong '/'
      {"\"\xED\xA0\x80\"", "byte 2: invalid UTF-8"},      // UTF-8 surrogate
      {"\"\xF4\x90\x80\x80\"", "byte 2: invalid UTF-8"},  // above U+10FFFF
      {"\"\xE2\x82\"", "byte 2: invalid UTF-8"},          // truncated
      {"\"\xFF\"", "byte 2: invalid UTF-8"},
      {"[1] [2]", "byte 5: unexpected data"},
      {"{\"a\":1", "byte 7: unexpected end of the document inside an object"},
      {"[", "byte 2: unexpected end of the document: a value is missing"},
      {"// c\n1", "byte 1: expected a value"},
  };
  for (const auto& [doc, want] : cases) {
    const std::string err = ScanError(doc);
    EXPECT_EQ(err.rfind(want, 0), 0u)
        << "document: " << doc << "\nwant: " << want << "\nerror: " << err;
  }
  // A NUL inside a string is a raw control character.
  EXPECT_EQ(ScanError(std::string("\"a\0b\"", 5)).rfind("byte 3: raw control character", 0), 0u);
}

TEST(JsonScanTest, DepthIsLimited) {
  EXPECT_EQ(ScanError(std::string(12, '[') + std::string(12, ']'), 12), "");
  EXPECT_EQ(ScanError(std::string(13, '[') + std::string(13, ']'), 12),
            "byte 13: nesting deeper than 12 levels");
  // 100,000 levels fail at the limit without exhausting the stack.
  EXPECT_EQ(ScanError(std::string(100000, '[')).rfind("byte 513: nesting deeper than 512", 0), 0u);
  EXPECT_EQ(ScanError(std::string(100000, '{')).rfind("byte 2: expected a member name", 0), 0u);
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += "{\"a\":";
  EXPECT_NE(ScanError(objects).find("nesting deeper than 512"), std::string::npos);
}

TEST(JsonScanTest, SpansCoverTheValueTextExactly) {
  JsonPath path;
  std::string err;
  ASSERT_TRUE(ParseJsonPath("$..*", &path, &err));
  JsonPathSet paths;
  paths.Add(path);
  JsonScanner scanner(paths);
  const std::string doc = R"({"s": "a\"b", "n": -1.5e3, "t": true, "f": false, "z": null})";
  std::vector<std::string> raw, values;
  ASSERT_TRUE(scanner.Scan(
      doc,
      [&](const JsonScalar& s, std::string*) {
        raw.push_back(doc.substr(s.begin, s.end - s.begin));
        values.push_back(std::string(s.value));
        return true;
      },
      &err));
  EXPECT_EQ(raw, (std::vector<std::string>{"\"a\\\"b\"", "-1.5e3", "true", "false"}));
  EXPECT_EQ(values, (std::vector<std::string>{"a\"b", "-1.5e3", "true", "false"}));
}

TEST(JsonScanTest, StringHelpersRoundTrip) {
  std::string all;
  for (int c = 1; c < 128; ++c) all.push_back(static_cast<char>(c));
  all += "\xC3\xA9\xF0\x9F\x98\x80";
  std::string quoted, back;
  AppendJsonString(all, &quoted);
  EXPECT_EQ(ScanError(quoted), "");
  DecodeJsonString(std::string_view(quoted).substr(1, quoted.size() - 2), &back);
  EXPECT_EQ(back, all);
  EXPECT_TRUE(IsJsonNumber("-0.5e+10"));
  EXPECT_FALSE(IsJsonNumber("0123"));
  EXPECT_FALSE(IsJsonNumber("12-34"));
  EXPECT_FALSE(IsJsonNumber(""));
}

}  // namespace
}  // namespace sdp
