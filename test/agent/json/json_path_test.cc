#include "agent/json/json_path.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "agent/json/json_scan.h"

namespace sdp {
namespace {

// The scalars `path` selects in `doc`, as "pointer=value".
std::vector<std::string> Select(const std::string& path_text, const std::string& doc) {
  JsonPath path;
  std::string err;
  EXPECT_TRUE(ParseJsonPath(path_text, &path, &err)) << err;
  JsonPathSet paths;
  paths.Add(path);
  JsonScanner scanner(paths);
  std::vector<std::string> out;
  EXPECT_TRUE(scanner.Scan(
      doc,
      [&](const JsonScalar& s, std::string*) {
        out.push_back(JsonPointerOf(scanner.location()) + "=" + std::string(s.value));
        return true;
      },
      &err))
      << err;
  return out;
}

std::string PathError(const std::string& text) {
  JsonPath path;
  std::string err;
  EXPECT_FALSE(ParseJsonPath(text, &path, &err)) << text;
  return err;
}

// RFC 9535, 1.5 (Table 2 and Figure 1): the bookstore.
const char kBookstore[] = R"({ "store": {
    "book": [
      { "category": "reference", "author": "Nigel Rees",
        "title": "Sayings of the Century", "price": 8.95 },
      { "category": "fiction", "author": "Evelyn Waugh",
        "title": "Sword of Honour", "price": 12.99 },
      { "category": "fiction", "author": "Herman Melville",
        "title": "Moby Dick", "isbn": "0-553-21311-3", "price": 8.99 },
      { "category": "fiction", "author": "J. R. R. Tolkien",
        "title": "The Lord of the Rings", "isbn": "0-395-19395-8", "price": 22.99 }
    ],
    "bicycle": { "color": "red", "price": 399 }
  } })";

TEST(JsonPathTest, Rfc9535BookstoreExamples) {
  using V = std::vector<std::string>;
  EXPECT_EQ(Select("$.store.book[*].author", kBookstore),
            (V{"/store/book/0/author=Nigel Rees", "/store/book/1/author=Evelyn Waugh",
               "/store/book/2/author=Herman Melville", "/store/book/3/author=J. R. R. Tolkien"}));
  EXPECT_EQ(Select("$..author", kBookstore), Select("$.store.book[*].author", kBookstore));
  EXPECT_EQ(Select("$.store..price", kBookstore),
            (V{"/store/book/0/price=8.95", "/store/book/1/price=12.99", "/store/book/2/price=8.99",
               "/store/book/3/price=22.99", "/store/bicycle/price=399"}));
  EXPECT_EQ(Select("$..book[2].author", kBookstore), (V{"/store/book/2/author=Herman Melville"}));
  EXPECT_EQ(Select("$..book[*].isbn", kBookstore),
            (V{"/store/book/2/isbn=0-553-21311-3", "/store/book/3/isbn=0-395-19395-8"}));
  EXPECT_EQ(Select("$.store.*", kBookstore), V{});    // an array and an object: no scalar
  EXPECT_EQ(Select("$..*", kBookstore).size(), 20u);  // every scalar of the document
  EXPECT_EQ(Select("$['store']['bicycle']['color']", kBookstore), (V{"/store/bicycle/color=red"}));
  EXPECT_EQ(Select("$[\"store\"].bicycle[\"color\"]", kBookstore), (V{"/store/bicycle/color=red"}));
  EXPECT_EQ(Select("$..[0].title", kBookstore), (V{"/store/book/0/title=Sayings of the Century"}));
}

TEST(JsonPathTest, Rfc9535NameSelectorsAndEscapes) {
  using V = std::vector<std::string>;
  // RFC 9535 2.3.1.3: $.o['j j']['k.k'] and $["'"]["@"].
  const char doc[] = R"({"o": {"j j": {"k.k": 3}}, "'": {"@": 2}})";
  EXPECT_EQ(Select("$.o['j j']['k.k']", doc), (V{"/o/j j/k.k=3"}));
  EXPECT_EQ(Select("$.o[\"j j\"][\"k.k\"]", doc), (V{"/o/j j/k.k=3"}));
  EXPECT_EQ(Select("$[\"'\"][\"@\"]", doc), (V{"/'/@=2"}));
  EXPECT_EQ(Select("$['\\'']['@']", doc), (V{"/'/@=2"}));
  // Escapes in the document and in the path meet on the decoded name.
  EXPECT_EQ(Select("$['\\u00e9t\\u00e9']", R"({"\u00e9t\u00e9": "summer"})"), (V{"/été=summer"}));
  EXPECT_EQ(Select("$.été", R"({"\u00e9t\u00e9": "summer"})"), (V{"/été=summer"}));
  EXPECT_EQ(Select("$['\\ud83d\\ude00']", "{\"\xF0\x9F\x98\x80\": true}"),
            (V{"/\xF0\x9F\x98\x80=true"}));
  // Blank space inside brackets and between segments (RFC 9535 2.1).
  EXPECT_NE(PathError("$.o.  *").find("expected a member name"), std::string::npos);
  EXPECT_EQ(Select("$ [ 'o' ]['j j'][ 'k.k' ]", doc), (V{"/o/j j/k.k=3"}));
}

TEST(JsonPathTest, Rfc9535IndexAndWildcard) {
  using V = std::vector<std::string>;
  const char doc[] = R"(["a", "b", {"c": [1, 2, 3]}])";
  EXPECT_EQ(Select("$[1]", doc), (V{"/1=b"}));
  EXPECT_EQ(Select("$[0]", doc), (V{"/0=a"}));
  EXPECT_EQ(Select("$[5]", doc), V{});
  EXPECT_EQ(Select("$[*]", doc), (V{"/0=a", "/1=b"}));
  EXPECT_EQ(Select("$[2].c[*]", doc), (V{"/2/c/0=1", "/2/c/1=2", "/2/c/2=3"}));
  EXPECT_EQ(Select("$..[1]", doc), (V{"/1=b", "/2/c/1=2"}));
  EXPECT_EQ(Select("$", "\"whole\""), (V{"=whole"}));
  EXPECT_EQ(Select("$", "{}"), V{});
  // A name selector never selects an array element, nor an index a member.
  EXPECT_EQ(Select("$['0']", doc), V{});
  EXPECT_EQ(Select("$[0]", R"({"0": "x"})"), V{});
}

TEST(JsonPathTest, Rfc6901PointerExamples) {
  using V = std::vector<std::string>;
  // RFC 6901, section 5.
  const char doc[] = R"({"foo": ["bar", "baz"], "": 0, "a/b": 1, "c%d": 2, "e^f": 3,
    "g|h": 4, "i\\j": 5, "k\"l": 6, " ": 7, "m~n": 8})";
  EXPECT_EQ(Select("/foo/0", doc), (V{"/foo/0=bar"}));
  EXPECT_EQ(Select("/foo/1", doc), (V{"/foo/1=baz"}));
  EXPECT_EQ(Select("/", doc), (V{"/=0"}));
  EXPECT_EQ(Select("/a~1b", doc), (V{"/a~1b=1"}));
  EXPECT_EQ(Select("/c%d", doc), (V{"/c%d=2"}));
  EXPECT_EQ(Select("/e^f", doc), (V{"/e^f=3"}));
  EXPECT_EQ(Select("/g|h", doc), (V{"/g|h=4"}));
  EXPECT_EQ(Select("/i\\j", doc), (V{"/i\\j=5"}));
  EXPECT_EQ(Select("/k\"l", doc), (V{"/k\"l=6"}));
  EXPECT_EQ(Select("/ ", doc), (V{"/ =7"}));
  EXPECT_EQ(Select("/m~0n", doc), (V{"/m~0n=8"}));
  EXPECT_EQ(Select("", "42"), (V{"=42"}));
  EXPECT_EQ(Select("/foo", doc), V{});  // an array: no scalar
  // "01" is not an index (RFC 6901 4), "-" never exists; both may still be member names.
  EXPECT_EQ(Select("/foo/01", doc), V{});
  EXPECT_EQ(Select("/foo/-", doc), V{});
  EXPECT_EQ(Select("/01", R"({"01": "member"})"), (V{"/01=member"}));
}

TEST(JsonPathTest, UnsupportedAndMalformedPathsAreRefusedWithAFix) {
  EXPECT_NE(PathError("$..book[-1]").find("negative indices are not supported"), std::string::npos);
  EXPECT_NE(PathError("$.a[?@.b]").find("filter selectors are not supported"), std::string::npos);
  EXPECT_NE(PathError("$.a[0:2]").find("array slices are not supported"), std::string::npos);
  EXPECT_NE(PathError("$.a['b','c']").find("unions of selectors are not supported"),
            std::string::npos);
  EXPECT_NE(PathError("$.a[07]").find("leading zeros"), std::string::npos);
  EXPECT_NE(PathError("$.a['b").find("unterminated string"), std::string::npos);
  EXPECT_NE(PathError("$.a[").find("unterminated '['"), std::string::npos);
  EXPECT_NE(PathError("$.a[0").find("expected ']'"), std::string::npos);
  EXPECT_NE(PathError("$.").find("expected a member name"), std::string::npos);
  EXPECT_NE(PathError("$.2nd").find("quote names"), std::string::npos);
  EXPECT_NE(PathError("$a").find("expected '.', '..' or '['"), std::string::npos);
  EXPECT_NE(PathError("customer.email").find("neither a JSONPath nor a JSON Pointer"),
            std::string::npos);
  EXPECT_NE(PathError("/a~2b").find("'~' must be followed by 0 or 1"), std::string::npos);
  EXPECT_NE(PathError("$['\\x']").find("unknown escape"), std::string::npos);
  EXPECT_NE(PathError("$['\\ud800']").find("high surrogate"), std::string::npos);
  EXPECT_NE(PathError("$['\\udc00']").find("lone low surrogate"), std::string::npos);
  EXPECT_NE(PathError("$['a\nb']").find("control character"), std::string::npos);
  EXPECT_NE(PathError("$.\xC3\x28").find("invalid UTF-8"), std::string::npos);
  EXPECT_NE(PathError("$[9007199254740992]").find("out of range"), std::string::npos);
  // Every message names the character and the fix, and shows at most 40 bytes of the path.
  const std::string err = PathError("$." + std::string(1000, 'a') + "[");
  EXPECT_NE(err.find("at character 1004"), std::string::npos);
  EXPECT_NE(err.find("; fix: "), std::string::npos);
  EXPECT_LT(err.size(), 200u);
}

TEST(JsonPathTest, FirstRuleInFileOrderWinsWhenPathsOverlap) {
  JsonPathSet paths;
  for (const char* text : {"$..email", "$.contact.email"}) {
    JsonPath path;
    std::string err;
    ASSERT_TRUE(ParseJsonPath(text, &path, &err)) << err;
    paths.Add(path);
  }
  JsonScanner scanner(paths);
  std::vector<size_t> rules;
  std::string err;
  ASSERT_TRUE(scanner.Scan(R"({"contact": {"email": "a@x"}, "email": "b@x"})",
                           [&](const JsonScalar& s, std::string*) {
                             rules.push_back(s.rule);
                             return true;
                           },
                           &err));
  EXPECT_EQ(rules, (std::vector<size_t>{0, 0}));
}

TEST(JsonPathTest, DescendantStatesStayBoundedOnDeepDocuments) {
  // $..a..b..c on 400 levels of {"a":{"b":{"c": ...}}}: states are deduplicated per level.
  std::string doc;
  for (int i = 0; i < 400; ++i) doc += std::string("{\"") + "abc"[i % 3] + "\":";
  doc += "\"leaf\"" + std::string(400, '}');
  EXPECT_EQ(Select("$..a..b..c", doc).size(), 0u);  // the leaf is a member named a
  EXPECT_EQ(Select("$..a..b..c..a", doc).size(), 1u);
}

}  // namespace
}  // namespace sdp
