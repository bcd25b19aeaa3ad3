// Each row of the token-type table holds for the code that runs it: names round-trip, the
// properties a row claims are what ColumnTokenizer does, and the parser and the join rule accept
// exactly what the rows allow.
#include "agent/tokenize/token_type.h"

#include <gtest/gtest.h>

#include <string>

#include "agent/pipeline/integrate.h"
#include "agent/tokenize/column_tokenizer.h"
#include "agent/tokenize/tokenization_config.h"
#include "test/support/test_util.h"

namespace sdp {
namespace {

// Long enough for FPE over digits, so every type tokenizes it.
const std::string kValue = "4111111111111111";

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::string Tokenize(const ColumnRule& rule, std::string_view value) {
  ColumnTokenizer tokenizer;
  TokenizationConfig config;
  std::string token, err;
  bool store = false;
  EXPECT_TRUE(tokenizer.Init(rule, config, testing::Keys(), &err)) << err;
  EXPECT_TRUE(tokenizer.Tokenize(value, &token, &store, &err)) << err;
  return token;
}

// The config of one column `a` (not the key column) of `type` with one extra option line.
bool ParseOneColumn(const TokenTypeTraits& row, const std::string& option_line, std::string* err) {
  TokenizationConfig config;
  const std::string yaml = std::string("version: 1\nsource_table: t\ncolumns:\n  a:\n") +
                           "    token_type: " + row.name + "\n" + option_line;
  return ParseTokenizationConfig(yaml, "x.yml", &config, err);
}

// A valid value for each option, to tell "not allowed" from "bad value".
std::string OptionLine(TokenOption option) {
  const char* values[kTokenOptionCount] = {"x", "trim", "last4", "FF1", "digits", "false"};
  return std::string("    ") + TokenOptionKey(option) + ": " + values[static_cast<size_t>(option)] +
         "\n";
}

TEST(TokenTypeTest, RowsAreInEnumOrderAndNamesRoundTrip) {
  for (size_t i = 0; i < kTokenTypeCount; ++i) {
    const TokenTypeTraits& row = kTokenTypes[i];
    SCOPED_TRACE(row.name);
    EXPECT_EQ(static_cast<size_t>(row.type), i);
    EXPECT_EQ(&TraitsOf(row.type), &row);
    EXPECT_STREQ(TokenTypeName(row.type), row.name);
    for (const std::string& spelling : {std::string(row.name), Lower(row.name)}) {
      TokenType back = kTokenTypes[(i + 1) % kTokenTypeCount].type;
      ASSERT_TRUE(ParseTokenType(spelling, &back)) << spelling;
      EXPECT_EQ(back, row.type);
    }
    TokenType unused;
    EXPECT_FALSE(ParseTokenType(std::string(row.name) + " ", &unused));
    EXPECT_FALSE(ParseTokenType(std::string(row.name) + '\0', &unused));
    EXPECT_FALSE(ParseTokenType(std::string(row.name).substr(1), &unused));
    EXPECT_TRUE(row.allowed.Includes(row.required));
    EXPECT_NE(std::string(row.description), "");
  }
  TokenType unused;
  EXPECT_FALSE(ParseTokenType("", &unused));
  EXPECT_FALSE(ParseTokenType("HSH", &unused));
}

TEST(TokenTypeTest, ListsFollowTheTable) {
  EXPECT_EQ(ListTokenTypes(" or "), "HASH, MASKED, RANDOM or FPE");
  EXPECT_EQ(ListTokenTypes([](const TokenTypeTraits& t) { return t.join_key; }, " or "),
            "HASH or FPE");
  EXPECT_EQ(ListTokenTypes([](const TokenTypeTraits&) { return false; }, " or "), "");
  EXPECT_EQ(ListTokenOptions(" or "), "domain, normalize, mask, algorithm, alphabet or vault");
  for (size_t i = 0; i < kTokenOptionCount; ++i) {
    const TokenOption option = static_cast<TokenOption>(i);
    TokenOption back = TokenOption::kVault;
    ASSERT_TRUE(ParseTokenOption(TokenOptionKey(option), &back));
    EXPECT_EQ(back, option);
  }
  TokenOption unused;
  EXPECT_FALSE(ParseTokenOption("Domain", &unused));  // YAML keys are exact
  EXPECT_FALSE(ParseTokenOption("token_type", &unused));
}

TEST(TokenTypeTest, DeterministicRowsGiveEqualTokensForEqualValues) {
  for (const TokenTypeTraits& row : kTokenTypes) {
    SCOPED_TRACE(row.name);
    const ColumnRule rule = DefaultRule("customers", "c", row.type);
    // Two tokenizers, as a re-run or integrate's re-derivation would make them.
    const std::string first = Tokenize(rule, kValue);
    const std::string second = Tokenize(rule, kValue);
    ASSERT_FALSE(first.empty());
    EXPECT_EQ(first == second, row.deterministic);
  }
}

TEST(TokenTypeTest, ReversibleRowsDetokenizeWithTheKeyAlone) {
  for (const TokenTypeTraits& row : kTokenTypes) {
    SCOPED_TRACE(row.name);
    const ColumnRule rule = DefaultRule("customers", "c", row.type);
    ColumnTokenizer tokenizer;
    std::string err;
    ASSERT_TRUE(tokenizer.Init(rule, TokenizationConfig(), testing::Keys(), &err)) << err;
    std::string token, back;
    bool store = false;
    ASSERT_TRUE(tokenizer.Tokenize(kValue, &token, &store, &err)) << err;
    // No vault: only a type reversible by key gets the value back.
    const bool restored = tokenizer.Detokenize(token, nullptr, &back, &err) && back == kValue;
    EXPECT_EQ(restored, row.reversible_by_key) << err;
    // The vault is written exactly when the type's default says so.
    EXPECT_EQ(store, row.vault_default);
  }
}

TEST(TokenTypeTest, DefaultRuleTakesTheVaultDefault) {
  for (const TokenTypeTraits& row : kTokenTypes) {
    SCOPED_TRACE(row.name);
    EXPECT_EQ(DefaultRule("t", "c", row.type).vault, row.vault_default);
  }
}

// Every (type, option) pair: the parser takes the option exactly when the row allows it, and
// otherwise names the types that do.
TEST(TokenTypeTest, ParserAllowsExactlyTheRowsOptions) {
  for (const TokenTypeTraits& row : kTokenTypes) {
    for (size_t i = 0; i < kTokenOptionCount; ++i) {
      const TokenOption option = static_cast<TokenOption>(i);
      SCOPED_TRACE(std::string(row.name) + " " + TokenOptionKey(option));
      std::string err;
      const bool ok = ParseOneColumn(row, OptionLine(option), &err);
      EXPECT_EQ(ok, row.allowed.Has(option)) << err;
      if (ok) continue;
      const std::string because = option == TokenOption::kVault && row.vault_refused_because[0]
                                      ? std::string(" (") + row.vault_refused_because + ")"
                                      : "";
      EXPECT_EQ(err, "x.yml:6: column 'a': '" + std::string(TokenOptionKey(option)) +
                         "' does not apply to " + row.name + because + "; it applies to " +
                         ListTokenTypes(
                             [option](const TokenTypeTraits& t) { return t.allowed.Has(option); },
                             " and ") +
                         "; fix: remove it or change token_type");
    }
    // Without options every type parses: no row requires one today, and the shorthand works.
    std::string err;
    EXPECT_TRUE(ParseOneColumn(row, "", &err)) << err;
  }
}

// The key column must be re-derivable: the config check and integrate's JoinKeyRule accept
// exactly the rows marked join_key.
TEST(TokenTypeTest, JoinKeyRowsAreExactlyTheAcceptedKeys) {
  const std::string join_keys =
      ListTokenTypes([](const TokenTypeTraits& t) { return t.join_key; }, " or ");
  for (const TokenTypeTraits& row : kTokenTypes) {
    SCOPED_TRACE(row.name);
    TokenizationConfig parsed;
    std::string err;
    const bool parses = ParseTokenizationConfig(
        std::string("version: 1\nsource_table: t\ncolumns:\n  customer_id: ") + row.name + "\n",
        "x.yml", &parsed, &err);
    EXPECT_EQ(parses, row.join_key) << err;
    if (!parses) {
      EXPECT_NE(err.find("fix: use " + join_keys + " for it"), std::string::npos) << err;
    }

    TokenizationConfig config;
    config.columns.push_back(DefaultRule("t", "customer_id", row.type));
    const ColumnRule* rule = JoinKeyRule(config, "customer_id", &err);
    EXPECT_EQ(rule != nullptr, row.join_key);
    if (rule == nullptr) {
      EXPECT_EQ(err, std::string("key column 'customer_id' is tokenized as ") + row.name +
                         ", which cannot be re-derived to join; fix: tokenize the key column "
                         "with " +
                         join_keys);
    } else {
      EXPECT_EQ(err, "");
      // What makes it a join key: the raw key re-derives the token the file holds.
      EXPECT_EQ(Tokenize(*rule, kValue), Tokenize(config.columns[0], kValue));
    }
  }
}

}  // namespace
}  // namespace sdp
