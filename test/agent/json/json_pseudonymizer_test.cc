#include "agent/json/json_pseudonymizer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/json/json_canonical.h"
#include "test/support/test_util.h"

namespace sdp {
namespace {

KeyRing DemoKeys() {
  KeyRing keys;
  std::string err;
  EXPECT_TRUE(KeyRing::FromEnvValue(testing::kDemoKey, &keys, &err)) << err;
  return keys;
}

JsonRules Rules(const std::string& yaml) {
  JsonRules rules;
  std::string err;
  EXPECT_TRUE(ParseJsonRules(yaml, "r.yml", &rules, &err)) << err;
  return rules;
}

// Every rule reversible: HASH and RANDOM keep their originals (vault: true), FPE always.
const char kReversibleRules[] = R"(version: 1
short_fpe_values: random
rules:
  - { path: "$..email", token_type: HASH, normalize: lowercase_trim, domain: email }
  - { path: "$..name", token_type: RANDOM }
  - { path: "$..iban", token_type: FPE, alphabet: digits }
  - { path: "$..id", token_type: HASH }
  - { path: "$.a[*].b", token_type: HASH }
  - { path: "/x/0", token_type: FPE, alphabet: alnum }
  - { path: "$['k\u00e9y']", token_type: HASH }
)";

struct Fixture {
  KeyRing keys = DemoKeys();
  JsonRules rules;
  JsonPseudonymizer p;
  explicit Fixture(const std::string& yaml) : rules(Rules(yaml)) {
    std::string err;
    EXPECT_TRUE(p.Init(rules, keys, &err)) << err;
  }
};

TEST(JsonPseudonymizerTest, ReplacesSelectedValuesAndKeepsEveryOtherByte) {
  Fixture f(kReversibleRules);
  const std::string doc =
      "{ \"email\" : \" Ann@X.org \",\n  \"n\": 1.50, \"id\": 42, \"ok\": true,\n"
      "  \"a\": [{\"b\": false}, {\"b\": null}, {\"c\": \"x\"}], \"iban\": 1234567890,\n"
      "  \"x\": [\"AB12cd\"], \"empty\": {\"email\": \"\"}}";
  std::string out, originals, err;
  size_t fields = 0;
  ASSERT_TRUE(f.p.Pseudonymize(doc, &out, &originals, &fields, &err)) << err;
  EXPECT_EQ(fields, 5u);  // email, id, a[0].b, iban, x[0]; null and "" are left alone
  // Untouched bytes, white space and spellings included, are where they were.
  for (const char* kept : {"{ \"email\" : \"", "\"n\": 1.50,", "\"ok\": true,\n", "{\"b\": null}",
                           "{\"c\": \"x\"}", "\"empty\": {\"email\": \"\"}}"}) {
    EXPECT_NE(out.find(kept), std::string::npos) << kept << "\n" << out;
  }
  EXPECT_EQ(out.find("Ann@X.org"), std::string::npos);
  EXPECT_EQ(out.find("AB12cd"), std::string::npos);
  // A number under FPE stays a number when it can; under HASH it becomes a string.
  std::string canonical;
  ASSERT_TRUE(CanonicalJson(out, &canonical, &err)) << out;
  EXPECT_NE(out.find("\"id\": \"h"), std::string::npos);
  EXPECT_NE(out.find("\"iban\": "), std::string::npos);
  EXPECT_EQ(out.find("\"iban\": \""), std::string::npos) << out;
  EXPECT_NE(out.find("\"b\": \"h"), std::string::npos);
  std::string back;
  ASSERT_TRUE(f.p.Repersonalize(out, originals, &back, &err)) << err;
  EXPECT_EQ(back, doc);
}

TEST(JsonPseudonymizerTest, HashTokensAreThoseOfCsvTokenizationInTheSameDomain) {
  Fixture f("version: 1\nrules: [ { path: \"$.e\", token_type: HASH, domain: email } ]\n");
  ColumnRule rule = DefaultRule("customers", "email", TokenType::kHash);
  rule.domain = "email";
  TokenizationConfig config;
  ColumnTokenizer csv;
  std::string err, token, out, originals;
  bool store;
  ASSERT_TRUE(csv.Init(rule, config, f.keys, &err));
  ASSERT_TRUE(csv.Tokenize("ann@x.org", &token, &store, &err));
  size_t fields;
  ASSERT_TRUE(f.p.Pseudonymize("{\"e\":\"ann@x.org\"}", &out, &originals, &fields, &err));
  EXPECT_EQ(out, "{\"e\":\"" + token + "\"}");
}

TEST(JsonPseudonymizerTest, IrreversibleRulesLeaveTheirTokens) {
  Fixture f(R"(version: 1
rules:
  - { path: "$.m", token_type: MASKED, mask: email }
  - { path: "$.h", token_type: HASH, vault: false }
  - { path: "$.r", token_type: HASH }
)");
  std::string out, originals, back, err;
  size_t fields;
  ASSERT_TRUE(f.p.Pseudonymize(R"({"m":"ann@x.org","h":"secret","r":"restored"})", &out, &originals,
                               &fields, &err));
  EXPECT_EQ(originals.find("ann@x.org"), std::string::npos);
  EXPECT_EQ(originals.find("secret"), std::string::npos);
  ASSERT_TRUE(f.p.Repersonalize(out, originals, &back, &err)) << err;
  EXPECT_NE(back.find("\"r\":\"restored\""), std::string::npos);
  EXPECT_EQ(back.find("secret"), std::string::npos);
  EXPECT_EQ(back.find("ann@x.org"), std::string::npos);
}

TEST(JsonPseudonymizerTest, ARecordOfAnotherDocumentIsRefused) {
  Fixture f(kReversibleRules);
  std::string out1, rec1, out2, rec2, back, err;
  size_t fields;
  ASSERT_TRUE(f.p.Pseudonymize(R"({"id":1,"email":"a@x"})", &out1, &rec1, &fields, &err));
  ASSERT_TRUE(f.p.Pseudonymize(R"({"id":2})", &out2, &rec2, &fields, &err));
  EXPECT_FALSE(f.p.Repersonalize(out1, rec2, &back, &err));
  EXPECT_EQ(err, "the document has more pseudonymized values than its record (at /email)");
  EXPECT_FALSE(f.p.Repersonalize(out2, rec1, &back, &err));
  EXPECT_EQ(err, "the document has fewer pseudonymized values than its record");
  EXPECT_TRUE(back.empty());
  EXPECT_FALSE(f.p.Repersonalize(out1, rec1.substr(0, rec1.size() - 1), &back, &err));
  EXPECT_NE(f.p.Mac(out1), f.p.Mac(out1 + " "));
}

TEST(JsonPseudonymizerTest, FindPlaintextNamesPathsLeftInClear) {
  Fixture f(kReversibleRules);
  std::string out, originals, err;
  size_t fields;
  const std::string doc = R"({"email":"a@x.org","id":"C-1","name":"Ann"})";
  ASSERT_TRUE(f.p.Pseudonymize(doc, &out, &originals, &fields, &err));
  std::vector<std::string> clear;
  ASSERT_TRUE(f.p.FindPlaintext(out, &originals, &clear, &err));
  EXPECT_TRUE(clear.empty());
  ASSERT_TRUE(f.p.FindPlaintext(doc, &originals, &clear, &err));
  EXPECT_EQ(clear, (std::vector<std::string>{"/email", "/id", "/name"}));
  ASSERT_TRUE(f.p.FindPlaintext(doc, nullptr, &clear, &err));  // by token shape alone
  EXPECT_EQ(clear, (std::vector<std::string>{"/email", "/id", "/name"}));
  ASSERT_TRUE(f.p.FindPlaintext(out, nullptr, &clear, &err));
  EXPECT_TRUE(clear.empty());
}

TEST(JsonPseudonymizerTest, ErrorsNameTheByteOrThePathNeverTheValue) {
  Fixture f("version: 1\nrules: [ { path: \"$.card\", token_type: FPE } ]\n");
  std::string out, originals, err;
  size_t fields;
  EXPECT_FALSE(f.p.Pseudonymize(R"({"card": "12"})", &out, &originals, &fields, &err));
  EXPECT_NE(err.find("(at /card)"), std::string::npos) << err;
  EXPECT_EQ(err.find("\"12\""), std::string::npos);
  EXPECT_FALSE(
      f.p.Pseudonymize(R"({"card": "4111 1111 1111 1111",})", &out, &originals, &fields, &err));
  EXPECT_EQ(err.rfind("byte 32: expected a member name", 0), 0u) << err;
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(originals.empty());
}

TEST(JsonPseudonymizerTest, PseudonymIds) {
  std::string id, err;
  ASSERT_TRUE(NewPseudonymId(&id, &err));
  EXPECT_TRUE(IsPseudonymId(id)) << id;
  EXPECT_EQ(id[14], '7');                                                // UUID version 7
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;  // RFC 9562 variant
  // Time-ordered: an id made later sorts after (the millisecond prefix), and ids never repeat.
  std::set<std::string> seen{id};
  std::string prev = id;
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  for (int i = 0; i < 20000; ++i) {
    std::string next;
    ASSERT_TRUE(NewPseudonymId(&next, &err));
    ASSERT_TRUE(IsPseudonymId(next)) << next;
    EXPECT_GE(next.substr(0, 13), prev.substr(0, 13));
    EXPECT_TRUE(seen.insert(next).second) << next;
    prev = next;
  }
  EXPECT_GT(prev.substr(0, 13), id.substr(0, 13));
  EXPECT_FALSE(IsPseudonymId("../../etc/passwd"));
  EXPECT_FALSE(IsPseudonymId(std::string(36, 'a')));
}

// The generator of the round-trip property: documents up to depth 12 with arrays of objects,
// Unicode (escaped and raw, supplementary planes), large and tiny numbers, empty values, and the
// member names the rules select.
class DocumentGenerator {
 public:
  explicit DocumentGenerator(uint64_t seed) : rng_(seed) {}

  std::string Next() {
    std::string out;
    if (Pick(4) == 0) {
      Scalar(&out);
    } else {
      Object(&out, 1 + Pick(12));
    }
    return out;
  }

 private:
  size_t Pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

  void Ws(std::string* out) {
    static const char* kWs[] = {"", "", "", " ", "\n  ", "\t", "\r\n"};
    *out += kWs[Pick(7)];
  }

  void Text(std::string* out) {
    static const char* kPieces[] = {"a",
                                    "Ann",
                                    " Lee ",
                                    "@x.org",
                                    "0",
                                    "12345678",
                                    "\\u00e9",
                                    "\xC3\xA9",
                                    "\\ud83d\\ude00",
                                    "\xF0\x9F\x98\x80",
                                    "\\\"",
                                    "\\\\",
                                    "\\n",
                                    "\\/",
                                    "\xE2\x80\xAE",
                                    "\\u0000",
                                    "\xEF\xAC\xB3",
                                    "-",
                                    "DE89 3704",
                                    "\\t"};
    out->push_back('"');
    const size_t n = Pick(6);
    for (size_t i = 0; i < n; ++i) *out += kPieces[Pick(20)];
    out->push_back('"');
  }

  void Scalar(std::string* out) {
    static const char* kNumbers[] = {"0",
                                     "-0",
                                     "42",
                                     "-17",
                                     "1.5",
                                     "1e3",
                                     "-2.5E-7",
                                     "123456789012345678901234567890",
                                     "18446744073709551616",
                                     "9007199254740993",
                                     "1.7976931348623157e308",
                                     "5e-324",
                                     "0.1",
                                     "100000000000000000000000",
                                     "4111111111111111"};
    switch (Pick(6)) {
      case 0:
      case 1:
        Text(out);
        break;
      case 2:
        *out += kNumbers[Pick(15)];
        break;
      case 3:
        *out += Pick(2) ? "true" : "false";
        break;
      case 4:
        *out += "null";
        break;
      default:
        *out += "\"\"";
    }
  }

  void Key(std::string* out) {
    static const char* kKeys[] = {"\"email\"",      "\"name\"", "\"iban\"", "\"id\"",
                                  "\"a\"",          "\"b\"",    "\"x\"",    "\"k\\u00e9y\"",
                                  "\"k\xC3\xA9y\"", "\"\"",     "\"n\"",    "\"\\ud83d\\ude00\"",
                                  "\"e\\/m\""};
    *out += kKeys[Pick(13)];
  }

  void Value(std::string* out, size_t depth) {
    if (depth == 0 || Pick(3) == 0) return Scalar(out);
    if (Pick(2) == 0) return Object(out, depth);
    Array(out, depth);
  }

  void Object(std::string* out, size_t depth) {
    out->push_back('{');
    const size_t n = Pick(5);
    for (size_t i = 0; i < n; ++i) {
      if (i > 0) out->push_back(',');
      Ws(out);
      Key(out);
      Ws(out);
      out->push_back(':');
      Ws(out);
      Value(out, depth - 1);
    }
    Ws(out);
    out->push_back('}');
  }

  void Array(std::string* out, size_t depth) {
    out->push_back('[');
    const size_t n = Pick(5);
    const bool of_objects = Pick(2) == 0;
    for (size_t i = 0; i < n; ++i) {
      if (i > 0) out->push_back(',');
      Ws(out);
      if (of_objects) {
        Object(out, depth - 1 > 0 ? depth - 1 : 1);
      } else {
        Value(out, depth - 1);
      }
    }
    out->push_back(']');
  }

  std::mt19937_64 rng_;
};

// repersonalize(pseudonymize(d)) == d, in RFC 8785 canonical form (and here even byte for
// byte), for 100,000 generated documents (1,000,000 under make stress).
TEST(JsonPseudonymizerTest, RoundTripPropertyOverGeneratedDocuments) {
  Fixture f(kReversibleRules);
  const char* stress = std::getenv("SDP_STRESS");
  const size_t count = stress != nullptr && std::string(stress) == "1" ? 1000000 : 100000;
  DocumentGenerator gen(20261207);
  std::string out, originals, back, err, want, got;
  size_t replaced = 0, max_depth = 0;
  JsonPathSet none;
  for (size_t i = 0; i < count; ++i) {
    const std::string doc = gen.Next();
    size_t fields = 0;
    ASSERT_TRUE(f.p.Pseudonymize(doc, &out, &originals, &fields, &err)) << err << "\n" << doc;
    replaced += fields;
    ASSERT_TRUE(f.p.Repersonalize(out, originals, &back, &err)) << err << "\n" << doc;
    ASSERT_EQ(back, doc);
    if (i % 10 == 0) {  // the canonical comparison costs a DOM; a tenth of them is plenty
      ASSERT_TRUE(CanonicalJson(doc, &want, &err)) << doc;
      ASSERT_TRUE(CanonicalJson(back, &got, &err)) << back;
      ASSERT_EQ(got, want);
      ASSERT_TRUE(CanonicalJson(out, &got, &err)) << "pseudonymized output is not JSON: " << out;
    }
    JsonScanner depth_probe(none);
    if (i % 100 == 0 && depth_probe.Scan(
                            doc, [](const JsonScalar&, std::string*) { return true; }, &err)) {
      max_depth = std::max(max_depth, depth_probe.max_depth_seen());
    }
  }
  EXPECT_GT(replaced, count / 2);  // the generator does reach the rules' paths
  EXPECT_GE(max_depth, 8u);
}

}  // namespace
}  // namespace sdp
