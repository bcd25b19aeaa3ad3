#include "agent/json/json_rules.h"

#include <gtest/gtest.h>

#include <string>

namespace sdp {
namespace {

#ifdef SDP_SOURCE_DIR
const std::string kRepo = SDP_SOURCE_DIR;
#else
const std::string kRepo = ".";
#endif

std::string RulesError(const std::string& yaml) {
  JsonRules rules;
  std::string err;
  EXPECT_FALSE(ParseJsonRules(yaml, "r.yml", &rules, &err)) << yaml;
  return err;
}

JsonRules RulesOk(const std::string& yaml) {
  JsonRules rules;
  std::string err;
  EXPECT_TRUE(ParseJsonRules(yaml, "r.yml", &rules, &err)) << err;
  return rules;
}

TEST(JsonRulesTest, TheIssuesExampleLoads) {
  const JsonRules r = RulesOk(R"(version: 1
rules:
  - { path: "$.customer_id", token_type: HASH, domain: customer_id }
  - { path: "$.transactions[*].iban", token_type: FPE, alphabet: digits }
  - { path: "/contact/email", token_type: HASH, normalize: lowercase_trim }
)");
  ASSERT_EQ(r.config.columns.size(), 3u);
  ASSERT_EQ(r.paths.size(), 3u);
  EXPECT_EQ(r.config.columns[0].domain, "customer_id");
  EXPECT_EQ(r.config.columns[1].type, TokenType::kFpe);
  EXPECT_FALSE(r.config.columns[1].vault);  // FPE's default, as in configs
  EXPECT_EQ(r.config.columns[1].domain, "json.transactions._.iban");
  EXPECT_EQ(r.config.columns[2].normalize, Normalize::kLowercaseTrim);
  EXPECT_EQ(r.config.columns[2].domain, "json.contact.email");
  EXPECT_EQ(r.config.columns[2].column, "/contact/email");
  EXPECT_EQ(r.ttl_seconds, 0);
}

TEST(JsonRulesTest, ShippedExampleLoads) {
  JsonRules rules;
  std::string err;
  ASSERT_TRUE(LoadJsonRules(kRepo + "/configs/json_pseudonymization.yml", &rules, &err)) << err;
  EXPECT_GT(rules.config.columns.size(), 3u);
  EXPECT_GT(rules.ttl_seconds, 0);
}

TEST(JsonRulesTest, OptionsAreThoseOfAConfigColumn) {
  const JsonRules r = RulesOk(R"(version: 1
ttl: 12h
empty_values: tokenize
short_fpe_values: random
rules:
  - path: $.card
    token_type: fpe
    algorithm: FF3-1
    alphabet: digits
    vault: true
  - { path: "$.name", token_type: MASKED, mask: initial }
  - { path: "$..session", token_type: RANDOM, vault: false }
)");
  EXPECT_EQ(r.ttl_seconds, 12 * 3600);
  EXPECT_EQ(r.config.empty_values, EmptyValues::kTokenize);
  EXPECT_EQ(r.config.short_fpe_values, ShortFpeValues::kRandom);
  EXPECT_EQ(r.config.columns[0].algorithm, FpeAlgorithm::kFf3_1);
  EXPECT_TRUE(r.config.columns[0].vault);
  EXPECT_EQ(r.config.columns[1].mask, MaskStyle::kInitial);
  EXPECT_FALSE(r.config.columns[2].vault);
  EXPECT_EQ(r.config.columns[2].domain, "json._session");
}

TEST(JsonRulesTest, ErrorsNameFileLineKeyAndFix) {
  const std::string head = "version: 1\nrules:\n";
  EXPECT_EQ(RulesError(head + "  - { path: \"$.a\", token_type: HASH, normalise: trim }\n"),
            "r.yml:3: rule 1 ('$.a'): unknown key 'normalise' (expected path, token_type, class, "
            "domain, normalize, mask, algorithm, alphabet or vault); fix: correct or remove it");
  EXPECT_EQ(RulesError(head + "  - { path: \"$.a\", token_type: HSH }\n"),
            "r.yml:3: rule 1 ('$.a'): unknown token_type 'HSH' (expected HASH, MASKED, RANDOM or "
            "FPE)");
  EXPECT_EQ(RulesError(head + "  - { path: \"$.a\", token_type: MASKED, vault: true }\n")
                .rfind("r.yml:3: rule 1 ('$.a'): 'vault' does not apply to MASKED", 0),
            0u);
  EXPECT_EQ(RulesError(head + "  - { token_type: HASH }\n"),
            "r.yml:3: rule 1: missing path; fix: add e.g. `path: \"$.customer.email\"`");
  EXPECT_EQ(RulesError(head + "  - { path: \"$.a[-1]\", token_type: HASH }\n")
                .rfind("r.yml:3: rule 1: path '$.a[-1]': at character 5: negative indices", 0),
            0u);
  EXPECT_EQ(RulesError(head + "  - { path: \"$.a\", token_type: HASH }\n" +
                       "  - { path: \"$.a\", token_type: HASH }\n"),
            "r.yml:4: rule 2: path '$.a' is listed twice; fix: keep one rule");
  EXPECT_EQ(RulesError("version: 1\nrule:\n  - { path: $.a, token_type: HASH }\n"),
            "r.yml:2: unknown key 'rule' (expected version, rules, ttl, empty_values or "
            "short_fpe_values); fix: correct or remove it");
  EXPECT_EQ(RulesError("version: 2\nrules: [ { path: $.a, token_type: HASH } ]\n"),
            "r.yml:1: unsupported version '2' (this sdp-agent reads version 1); fix: write "
            "`version: 1`");
  EXPECT_EQ(RulesError("rules: [ { path: $.a, token_type: HASH } ]\n"),
            "r.yml:1: missing `version: 1`; fix: add it as the first line");
  EXPECT_EQ(RulesError("version: 1\nrules: []\n").rfind("r.yml:2: rules must be a non-empty", 0),
            0u);
  EXPECT_EQ(RulesError(head + "  - HASH\n").rfind("r.yml:3: rule 1 must be a mapping", 0), 0u);
  EXPECT_EQ(RulesError("version: 1\nttl: soon\nrules: [ { path: $.a, token_type: HASH } ]\n"),
            "r.yml:2: ttl 'soon' is not a duration; fix: write e.g. 30d, 12h, 90m, 3600s or none");
  EXPECT_NE(RulesError(head + "  - { path: \"$.a\", token_type: HASH, domain: d }\n" +
                       "  - { path: \"$.b\", token_type: HASH, domain: d, normalize: trim }\n")
                .find("r.yml:4: rule '$.b': shares domain 'd' with rule '$.a'"),
            std::string::npos);
  EXPECT_EQ(RulesError("version: 1\nrules: [ {\n").rfind("r.yml:", 0), 0u);
  EXPECT_EQ(RulesError(""),
            "r.yml: rules file is empty; fix: start from "
            "configs/json_pseudonymization.yml (schema in "
            "docs/json_pseudonymization.md)");
  EXPECT_EQ(RulesError(std::string("version: 1\0", 11)),
            "r.yml: rules file contains a NUL byte; fix: save it as UTF-8 text");
}

TEST(JsonRulesTest, TtlSyntax) {
  int64_t s = -1;
  EXPECT_TRUE(ParseTtl("30d", &s));
  EXPECT_EQ(s, 30 * 86400);
  EXPECT_TRUE(ParseTtl("90m", &s));
  EXPECT_EQ(s, 5400);
  EXPECT_TRUE(ParseTtl("15", &s));
  EXPECT_EQ(s, 15);
  EXPECT_TRUE(ParseTtl("none", &s));
  EXPECT_EQ(s, 0);
  for (const char* bad : {"", "d", "0", "-5s", "1.5h", "99999999999d", "5 s", "5w"}) {
    EXPECT_FALSE(ParseTtl(bad, &s)) << bad;
  }
}

}  // namespace
}  // namespace sdp
