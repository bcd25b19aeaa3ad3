#include "agent/tokenize/tokenization_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace sdp {
namespace {

#ifdef SDP_SOURCE_DIR
const std::string kRepo = SDP_SOURCE_DIR;
#else
const std::string kRepo = ".";
#endif

std::string ParseError(const std::string& yaml) {
  TokenizationConfig config;
  std::string err;
  EXPECT_FALSE(ParseTokenizationConfig(yaml, "x.yml", &config, &err)) << yaml;
  return err;
}

TokenizationConfig ParseOk(const std::string& yaml) {
  TokenizationConfig config;
  std::string err;
  EXPECT_TRUE(ParseTokenizationConfig(yaml, "x.yml", &config, &err)) << err;
  return config;
}

const char kHead[] = "version: 1\nsource_table: customers\ncolumns:\n";

TEST(TokenizationConfigTest, ShippedCustomersConfigLoads) {
  TokenizationConfig c;
  std::string err;
  ASSERT_TRUE(LoadTokenizationConfig(kRepo + "/configs/customers_tokenization.yml", &c, &err))
      << err;
  EXPECT_EQ(c.version, 1);
  EXPECT_EQ(c.source_table, "customers");
  EXPECT_EQ(c.key_column, "customer_id");
  EXPECT_EQ(c.empty_values, EmptyValues::kKeep);
  EXPECT_EQ(c.short_fpe_values, ShortFpeValues::kError);
  std::vector<std::string> names;
  for (const ColumnRule& r : c.columns) names.push_back(r.column);
  EXPECT_EQ(names,
            (std::vector<std::string>{"customer_id", "email", "first_name", "last_name", "phone",
                                      "ssn", "card_number", "iban", "birth_date", "address"}));
  const ColumnRule* id = c.Find("customer_id");
  ASSERT_NE(id, nullptr);
  EXPECT_EQ(id->type, TokenType::kHash);
  EXPECT_EQ(id->domain, "customer_id");
  EXPECT_TRUE(id->vault);
  const ColumnRule* email = c.Find("email");
  EXPECT_EQ(email->normalize, Normalize::kLowercaseTrim);
  EXPECT_EQ(email->domain, "email");
  EXPECT_EQ(c.Find("first_name")->mask, MaskStyle::kInitial);
  EXPECT_FALSE(c.Find("first_name")->vault);
  EXPECT_EQ(c.Find("phone")->mask, MaskStyle::kLast4);
  const ColumnRule* card = c.Find("card_number");
  EXPECT_EQ(card->type, TokenType::kFpe);
  EXPECT_EQ(card->algorithm, FpeAlgorithm::kFf1);  // FF3-1 is proposed for withdrawal
  EXPECT_EQ(card->alphabet, "digits");
  EXPECT_FALSE(card->vault);
  EXPECT_EQ(card->domain, "customers.card_number");
  EXPECT_EQ(c.Find("ssn")->algorithm, FpeAlgorithm::kFf1);
  EXPECT_EQ(c.Find("address")->type, TokenType::kRandom);
  EXPECT_EQ(c.Find("age"), nullptr);
  EXPECT_EQ(c.Find("income"), nullptr);
  EXPECT_GT(id->line, 0);

  std::vector<std::string> header = {
      "customer_id", "first_name", "last_name", "email", "phone",  "ssn",     "card_number",
      "iban",        "birth_date", "address",   "age",   "income", "balance", "num_transactions"};
  EXPECT_TRUE(CheckConfigAgainstHeader(c, header, &err)) << err;
}

TEST(TokenizationConfigTest, DefaultsAndShorthand) {
  TokenizationConfig c = ParseOk(std::string(kHead) +
                                 "  a: HASH\n"
                                 "  b: { token_type: fpe }\n"
                                 "  c: { token_type: Masked }\n"
                                 "  d: { token_type: RANDOM, vault: false, domain: shared.d }\n");
  EXPECT_EQ(c.key_column, "customer_id");
  ASSERT_EQ(c.columns.size(), 4u);
  EXPECT_EQ(c.columns[0].type, TokenType::kHash);
  EXPECT_EQ(c.columns[0].domain, "customers.a");
  EXPECT_TRUE(c.columns[0].vault);
  EXPECT_EQ(c.columns[0].line, 4);
  EXPECT_EQ(c.columns[1].algorithm, FpeAlgorithm::kFf1);
  EXPECT_EQ(c.columns[1].alphabet, "digits");
  EXPECT_FALSE(c.columns[1].vault);
  EXPECT_EQ(c.columns[2].mask, MaskStyle::kAuto);
  EXPECT_FALSE(c.columns[2].vault);
  EXPECT_FALSE(c.columns[3].vault);
  EXPECT_EQ(c.columns[3].domain, "shared.d");
  EXPECT_EQ(c.source_name, "x.yml");
}

TEST(TokenizationConfigTest, AllOptionValues) {
  TokenizationConfig c = ParseOk(
      "version: 1\nsource_table: t\nkey_column: id\nempty_values: tokenize\n"
      "short_fpe_values: random\ncolumns:\n"
      "  id: { token_type: FPE, algorithm: ff3_1, alphabet: \"custom:0123456789ABCDEF\", "
      "vault: true }\n"
      "  n1: { token_type: HASH, normalize: none }\n"
      "  n2: { token_type: HASH, normalize: lowercase }\n"
      "  n3: { token_type: HASH, normalize: trim }\n"
      "  n4: { token_type: HASH, normalize: digits_only }\n"
      "  m1: { token_type: MASKED, mask: email }\n"
      "  m2: { token_type: MASKED, mask: full }\n"
      "  f1: { token_type: FPE, alphabet: alnum }\n"
      "  f2: { token_type: FPE, alphabet: lower }\n"
      "  f3: { token_type: FPE, alphabet: upper }\n");
  EXPECT_EQ(c.key_column, "id");
  EXPECT_EQ(c.empty_values, EmptyValues::kTokenize);
  EXPECT_EQ(c.short_fpe_values, ShortFpeValues::kRandom);
  EXPECT_EQ(c.Find("id")->algorithm, FpeAlgorithm::kFf3_1);
  EXPECT_EQ(c.Find("id")->alphabet, "custom:0123456789ABCDEF");
  EXPECT_TRUE(c.Find("id")->vault);
  EXPECT_EQ(c.Find("n4")->normalize, Normalize::kDigitsOnly);
  EXPECT_EQ(c.Find("m1")->mask, MaskStyle::kEmail);
  EXPECT_EQ(c.Find("f3")->alphabet, "upper");
}

TEST(TokenizationConfigTest, UnknownTokenType) {
  EXPECT_EQ(ParseError(std::string(kHead) + "  customer_id: HASH\n" + "  x: HASH\n" +
                       "  y: HASH\n  z: HASH\n  email: { token_type: HSH }\n"),
            "x.yml:8: column 'email': unknown token_type 'HSH' (expected HASH, MASKED, RANDOM or "
            "FPE)");
  EXPECT_EQ(ParseError(std::string(kHead) + "  email: SHA256\n"),
            "x.yml:4: column 'email': unknown token_type 'SHA256' (expected HASH, MASKED, RANDOM "
            "or FPE)");
}

// `class:` names what a column holds (any token type), for the upload manifest; a name the
// server's classification table would refuse is refused here, at the line.
TEST(TokenizationConfigTest, ClassIsKeptAndChecked) {
  TokenizationConfig config;
  std::string err;
  ASSERT_TRUE(ParseTokenizationConfig(std::string(kHead) +
                                          "  email: { token_type: HASH, class: email }\n"
                                          "  card: { token_type: FPE, class: payment_card }\n",
                                      "x.yml", &config, &err))
      << err;
  ASSERT_EQ(config.columns.size(), 2u);
  EXPECT_EQ(config.columns[0].pii_class, "email");
  EXPECT_EQ(config.columns[1].pii_class, "payment_card");
  EXPECT_EQ(ParseError(std::string(kHead) + "  email: { token_type: HASH, class: E-Mail }\n"),
            "x.yml:4: column 'email': class 'E-Mail' is invalid; fix: use a lowercase name of 1-63 "
            "letters, digits and '_' starting with a letter, e.g. email or payment_card");
  EXPECT_NE(ParseError(std::string(kHead) + "  email: { token_type: HASH, class: [a] }\n"), "");
}

TEST(TokenizationConfigTest, UnknownKeysAreErrors) {
  EXPECT_EQ(
      ParseError(std::string(kHead) + "  email: { token_type: HASH, normalise: lowercase }\n"),
      "x.yml:4: column 'email': unknown key 'normalise' (expected token_type, class, domain, "
      "normalize, mask, algorithm, alphabet or vault); fix: correct or remove it");
  EXPECT_EQ(ParseError("version: 1\nsource_table: t\ncolumn:\n  a: HASH\n"),
            "x.yml:3: unknown key 'column' (expected version, source_table, key_column, columns, "
            "empty_values or short_fpe_values); fix: correct or remove it");
}

TEST(TokenizationConfigTest, KeyNotApplicableToType) {
  EXPECT_EQ(ParseError(std::string(kHead) + "  phone: { token_type: MASKED, algorithm: FF1 }\n"),
            "x.yml:4: column 'phone': 'algorithm' does not apply to MASKED; it applies to FPE; "
            "fix: remove it or change token_type");
  EXPECT_EQ(ParseError(std::string(kHead) + "  a: { token_type: FPE, normalize: trim }\n"),
            "x.yml:4: column 'a': 'normalize' does not apply to FPE; it applies to HASH; fix: "
            "remove it or change token_type");
  EXPECT_EQ(ParseError(std::string(kHead) + "  a: { token_type: HASH, mask: last4 }\n"),
            "x.yml:4: column 'a': 'mask' does not apply to HASH; it applies to MASKED; fix: remove "
            "it or change token_type");
  EXPECT_EQ(ParseError(std::string(kHead) + "  a: { token_type: RANDOM, alphabet: digits }\n"),
            "x.yml:4: column 'a': 'alphabet' does not apply to RANDOM; it applies to FPE; fix: "
            "remove it or change token_type");
  EXPECT_EQ(ParseError(std::string(kHead) + "  a: { token_type: MASKED, domain: x }\n"),
            "x.yml:4: column 'a': 'domain' does not apply to MASKED; it applies to HASH, RANDOM "
            "and FPE; fix: remove it or change token_type");
  EXPECT_EQ(ParseError(std::string(kHead) + "  a:\n    token_type: MASKED\n    vault: true\n"),
            "x.yml:6: column 'a': 'vault' does not apply to MASKED (a mask is irreversible and "
            "many values share one, so there is nothing to look up); it applies to HASH, RANDOM "
            "and FPE; fix: remove it or change token_type");
}

TEST(TokenizationConfigTest, BadValues) {
  EXPECT_EQ(ParseError(std::string(kHead) + "  a: { token_type: HASH, normalize: upper }\n"),
            "x.yml:4: column 'a': unknown normalize 'upper' (expected none, lowercase, trim, "
            "lowercase_trim or digits_only)");
  EXPECT_EQ(ParseError(std::string(kHead) + "  a: { token_type: MASKED, mask: first }\n"),
            "x.yml:4: column 'a': unknown mask 'first' (expected auto, email, last4, initial or "
            "full)");
  EXPECT_EQ(ParseError(std::string(kHead) + "  a: { token_type: FPE, algorithm: AES }\n"),
            "x.yml:4: column 'a': unknown algorithm 'AES' (expected FF1 or FF3-1)");
  EXPECT_EQ(ParseError(std::string(kHead) + "  a: { token_type: FPE, algorithm: FF3 }\n"),
            "x.yml:4: column 'a': algorithm FF3 was withdrawn by NIST (SP 800-38G Rev. 1); fix: "
            "use FF3-1 or FF1");
  std::string err = ParseError(std::string(kHead) + "  a: { token_type: FPE, alphabet: digts }\n");
  EXPECT_EQ(err.substr(0, 44), "x.yml:4: column 'a': bad alphabet 'digts': u");
  EXPECT_NE(err.find("; fix: use digits, alnum, lower, upper or custom:<characters>"),
            std::string::npos);
  err = ParseError(std::string(kHead) + "  a: { token_type: FPE, alphabet: \"custom:AA\" }\n");
  EXPECT_EQ(err.substr(0, 48), "x.yml:4: column 'a': bad alphabet 'custom:AA': F");
  EXPECT_EQ(ParseError(std::string(kHead) + "  a: { token_type: HASH, vault: maybe }\n"),
            "x.yml:4: column 'a': vault must be true or false, not 'maybe'");
  EXPECT_EQ(ParseError(std::string(kHead) + "  a: { token_type: HASH, domain: \"a b\" }\n"),
            "x.yml:4: column 'a': domain 'a b' is invalid; fix: use 1-128 of letters, digits, "
            "'_', '.', ':' and '-', e.g. customer_id");
  EXPECT_EQ(ParseError(std::string(kHead) + "  a: { token_type: [HASH] }\n"),
            "x.yml:4: column 'a': token_type must be a single value, not a list; fix: write `key: "
            "value`");
  EXPECT_EQ(ParseError(std::string(kHead) + "  a: [HASH]\n"),
            "x.yml:4: column 'a': the rule must be a mapping; fix: e.g. `a: { token_type: HASH }`");
  EXPECT_EQ(ParseError(std::string(kHead) + "  a: { domain: x }\n"),
            "x.yml:4: column 'a': missing token_type; fix: add `token_type: HASH` (or MASKED, "
            "RANDOM, FPE)");
  EXPECT_EQ(ParseError(std::string(kHead) + "  a:\n"),
            "x.yml:4: column 'a': the rule must be a mapping; fix: e.g. `a: { token_type: HASH }`");
}

TEST(TokenizationConfigTest, TopLevelErrors) {
  EXPECT_EQ(ParseError(""),
            "x.yml: config is empty; fix: start from configs/customers_tokenization.yml (schema "
            "in configs/README.md)");
  EXPECT_EQ(ParseError("# only a comment\n"), ParseError(""));
  EXPECT_EQ(ParseError("- a\n- b\n"),
            "x.yml:1: the top level must be a mapping of keys (version, columns, ...)");
  EXPECT_EQ(ParseError("source_table: t\ncolumns: { a: HASH }\n"),
            "x.yml:1: missing `version: 1`; fix: add it as the first line");
  EXPECT_EQ(ParseError("version: 1\ncolumns: { a: HASH }\n"),
            "x.yml:1: missing source_table; fix: add e.g. `source_table: customers`");
  EXPECT_EQ(ParseError("version: 1\nsource_table: t\n"),
            "x.yml:1: missing columns; fix: add a `columns:` mapping (see configs/README.md)");
  EXPECT_EQ(ParseError("version: 2\nsource_table: t\ncolumns: { a: HASH }\n"),
            "x.yml:1: unsupported version '2' (this sdp-agent reads version 1); fix: write "
            "`version: 1`");
  EXPECT_EQ(ParseError("version: 1\nsource_table: my-table\ncolumns: { a: HASH }\n"),
            "x.yml:2: source_table 'my-table' is not a plain table name; fix: use letters, "
            "digits and '_' (at most 63, not starting with a digit), e.g. customers");
  EXPECT_EQ(ParseError("version: 1\nsource_table: t\ncolumns: {}\n"),
            "x.yml:3: columns must be a non-empty mapping of column name to rule; fix: e.g. "
            "`columns: { email: { token_type: HASH } }`");
  EXPECT_EQ(ParseError("version: 1\nsource_table: t\ncolumns: { a: HASH }\nempty_values: drop\n"),
            "x.yml:4: unknown empty_values 'drop' (expected keep or tokenize)");
  EXPECT_EQ(
      ParseError("version: 1\nsource_table: t\ncolumns: { a: HASH }\nshort_fpe_values: pad\n"),
      "x.yml:4: unknown short_fpe_values 'pad' (expected error or random)");
  EXPECT_EQ(ParseError("version: 1\nsource_table: t\nkey_column: ''\ncolumns: { a: HASH }\n"),
            "x.yml:3: key_column is empty; fix: name the join column, e.g. customer_id");
  EXPECT_EQ(ParseError("version: 1\nsource_table: [t]\ncolumns: { a: HASH }\n"),
            "x.yml:2: source_table must be a single value, not a list; fix: write `key: value`");
}

TEST(TokenizationConfigTest, DuplicateKeys) {
  EXPECT_EQ(ParseError("version: 1\nsource_table: t\nsource_table: u\ncolumns: { a: HASH }\n"),
            "x.yml:3: duplicate key 'source_table'; fix: keep one of them");
  EXPECT_EQ(ParseError(std::string(kHead) + "  a: HASH\n  a: RANDOM\n"),
            "x.yml:5: column 'a' is listed twice; fix: keep one rule");
  EXPECT_EQ(ParseError(std::string(kHead) + "  a: { token_type: HASH, token_type: RANDOM }\n"),
            "x.yml:4: column 'a': duplicate key 'token_type'; fix: keep one of them");
}

TEST(TokenizationConfigTest, InvalidYamlReportsLineAndColumn) {
  std::string err = ParseError("version: 1\nsource_table: t\ncolumns:\n  a: { token_type: HASH\n");
  EXPECT_EQ(err.substr(0, 10), "x.yml:5:1:") << err;
  EXPECT_NE(err.find(": invalid YAML: "), std::string::npos) << err;
  EXPECT_NE(err.find("; fix: check indentation, quotes and colons"), std::string::npos);
  err = ParseError("version: 1\n  bad indent: x\n");
  EXPECT_EQ(err.substr(0, 8), "x.yml:2:") << err;
  err = ParseError("version: 1\nsource_table: t: u\n");
  EXPECT_EQ(err.substr(0, 8), "x.yml:2:") << err;
  EXPECT_NE(err.find("invalid YAML"), std::string::npos) << err;
  err = ParseError(std::string("version: 1\0", 11));
  EXPECT_EQ(err, "x.yml: config contains a NUL byte; fix: save it as UTF-8 text");
  // Anchor/alias bombs and deep nesting must not hang or crash.
  std::string deep(5000, '[');
  err = ParseError(deep);
  EXPECT_FALSE(err.empty());
}

TEST(TokenizationConfigTest, SharedDomainMustTokenizeAlike) {
  EXPECT_EQ(ParseError(std::string(kHead) +
                       "  email: { token_type: HASH, domain: email, normalize: lowercase_trim }\n"
                       "  alt_email: { token_type: HASH, domain: email }\n"),
            "x.yml:5: column 'alt_email': shares domain 'email' with column 'email' but "
            "tokenizes differently, so their tokens would not join; fix: use the same "
            "token_type/normalize/algorithm/alphabet, or another domain");
  ParseOk(std::string(kHead) +
          "  email: { token_type: HASH, domain: email, normalize: lowercase_trim }\n"
          "  alt_email: { token_type: HASH, domain: email, normalize: lowercase_trim }\n");
}

TEST(TokenizationConfigTest, KeyColumnMustBeDerivable) {
  EXPECT_EQ(ParseError(std::string(kHead) + "  customer_id: RANDOM\n"),
            "x.yml:4: column 'customer_id': the key_column cannot be RANDOM because results are "
            "joined back by re-deriving its token; fix: use HASH or FPE for it");
  EXPECT_NE(ParseError("version: 1\nsource_table: t\nkey_column: id\ncolumns:\n  id: MASKED\n")
                .find("the key_column cannot be MASKED"),
            std::string::npos);
  ParseOk(std::string(kHead) + "  customer_id: FPE\n");
}

TEST(TokenizationConfigTest, LoadErrors) {
  TokenizationConfig c;
  std::string err;
  EXPECT_FALSE(LoadTokenizationConfig("/nonexistent/x.yml", &c, &err));
  EXPECT_EQ(err,
            "/nonexistent/x.yml: cannot open: No such file or directory; fix: check the "
            "--config path (example: configs/customers_tokenization.yml)");
  std::string big(size_t{1} << 20, '#');
  big += "\n";
  EXPECT_FALSE(ParseTokenizationConfig(big, "big.yml", &c, &err));
  EXPECT_EQ(err,
            "big.yml: config is larger than 1 MiB; fix: is this really a tokenization config?");
}

TEST(TokenizationConfigTest, CheckAgainstHeader) {
  TokenizationConfig c = ParseOk(std::string(kHead) + "  customer_id: HASH\n  emial: HASH\n");
  std::string err;
  EXPECT_FALSE(CheckConfigAgainstHeader(c, {"customer_id", "email"}, &err));
  EXPECT_EQ(err,
            "x.yml:5: column 'emial' is not in the CSV header; available columns: customer_id, "
            "email; fix: correct the column name in the config");
  c = ParseOk(std::string(kHead) + "  email: HASH\n");
  EXPECT_FALSE(CheckConfigAgainstHeader(c, {"id", "email"}, &err));
  EXPECT_EQ(err,
            "x.yml: key_column 'customer_id' is not in the CSV header; available columns: id, "
            "email; fix: set key_column to the join column");
}

TEST(TokenizationConfigTest, ParseTokenTypeAndNames) {
  TokenType t;
  EXPECT_TRUE(ParseTokenType("HASH", &t));
  EXPECT_EQ(t, TokenType::kHash);
  EXPECT_TRUE(ParseTokenType("masked", &t));
  EXPECT_EQ(t, TokenType::kMasked);
  EXPECT_TRUE(ParseTokenType("Random", &t));
  EXPECT_EQ(t, TokenType::kRandom);
  EXPECT_TRUE(ParseTokenType("fpe", &t));
  EXPECT_EQ(t, TokenType::kFpe);
  EXPECT_FALSE(ParseTokenType("HSH", &t));
  EXPECT_FALSE(ParseTokenType("", &t));
  EXPECT_FALSE(ParseTokenType("HASH ", &t));
  for (TokenType x : {TokenType::kHash, TokenType::kMasked, TokenType::kRandom, TokenType::kFpe}) {
    ASSERT_TRUE(ParseTokenType(TokenTypeName(x), &t));
    EXPECT_EQ(t, x);
  }
  for (Normalize n : {Normalize::kNone, Normalize::kLowercase, Normalize::kTrim,
                      Normalize::kLowercaseTrim, Normalize::kDigitsOnly}) {
    Normalize back;
    ASSERT_TRUE(ParseNormalize(NormalizeName(n), &back));
    EXPECT_EQ(back, n);
  }
  for (MaskStyle m : {MaskStyle::kAuto, MaskStyle::kEmail, MaskStyle::kLast4, MaskStyle::kInitial,
                      MaskStyle::kFull}) {
    MaskStyle back;
    ASSERT_TRUE(ParseMaskStyle(MaskStyleName(m), &back));
    EXPECT_EQ(back, m);
  }
}

TEST(TokenizationConfigTest, DefaultRule) {
  ColumnRule r = DefaultRule("customers", "email", TokenType::kHash);
  EXPECT_EQ(r.column, "email");
  EXPECT_EQ(r.domain, "customers.email");
  EXPECT_TRUE(r.vault);
  EXPECT_EQ(r.normalize, Normalize::kNone);
  EXPECT_TRUE(DefaultRule("t", "c", TokenType::kRandom).vault);
  EXPECT_FALSE(DefaultRule("t", "c", TokenType::kFpe).vault);
  EXPECT_FALSE(DefaultRule("t", "c", TokenType::kMasked).vault);
  EXPECT_EQ(DefaultRule("t", "c", TokenType::kFpe).algorithm, FpeAlgorithm::kFf1);
  EXPECT_EQ(DefaultRule("t", "c", TokenType::kFpe).alphabet, "digits");
  EXPECT_EQ(DefaultRule("", "c", TokenType::kHash).domain, "c");
}

TEST(TokenizationConfigTest, NormalizeValue) {
  std::string out;
  NormalizeValue(Normalize::kLowercaseTrim, "  Ann@Example.COM\t", &out);
  EXPECT_EQ(out, "ann@example.com");
  NormalizeValue(Normalize::kLowercase, " ÄB ", &out);
  EXPECT_EQ(out, " Äb ");  // ASCII only
  NormalizeValue(Normalize::kTrim, " \r\n x y \n", &out);
  EXPECT_EQ(out, "x y");
  NormalizeValue(Normalize::kDigitsOnly, "+1 (555) 010-0001", &out);
  EXPECT_EQ(out, "15550100001");
  NormalizeValue(Normalize::kNone, " A ", &out);
  EXPECT_EQ(out, " A ");
  NormalizeValue(Normalize::kTrim, "   ", &out);
  EXPECT_EQ(out, "");
}

}  // namespace
}  // namespace sdp
