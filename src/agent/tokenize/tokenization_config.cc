// The tokenization config (YAML): parsing and validation with errors that name file, line and
// field.
#include "agent/tokenize/tokenization_config.h"

#include <yaml-cpp/yaml.h>

#include <optional>
#include <set>
#include <utility>

#include "agent/crypto/fpe_common.h"
#include "common/read_file.h"
#include "common/shown_value.h"
#include "common/text.h"

namespace sdp {

namespace {

constexpr size_t kMaxConfigBytes = size_t{1} << 20;

bool IsIdentifier(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    bool digit = c >= '0' && c <= '9';
    if (!(alpha || (digit && i > 0))) return false;
  }
  return true;
}

// Domains go into HMAC/FPE tweaks and the vault: keep them plain ASCII so the
// same domain is spelled the same way on every machine.
bool IsDomain(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// Whether two rules give equal tokens for equal values in one domain: the same
// type, and every option of that type that shapes the token set alike.
bool SameTokens(const ColumnRule& a, const ColumnRule& b) {
  if (a.type != b.type) return false;
  const TokenOptions takes = TraitsOf(a.type).allowed;
  return (!takes.Has(TokenOption::kNormalize) || a.normalize == b.normalize) &&
         (!takes.Has(TokenOption::kMask) || a.mask == b.mask) &&
         (!takes.Has(TokenOption::kAlgorithm) || a.algorithm == b.algorithm) &&
         (!takes.Has(TokenOption::kAlphabet) || a.alphabet == b.alphabet);
}

int LineOfNode(const YAML::Node& node, int fallback) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() || mark.line < 0 ? fallback : mark.line + 1;
}

bool FailAt(const std::string& source, int line, const std::string& message, std::string* err) {
  *err = source + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": " + message;
  return false;
}

bool ScalarOf(const YAML::Node& node, const std::string& source, int line, const std::string& what,
              std::string* value, std::string* err) {
  if (!node.IsScalar()) {
    return FailAt(source, line,
                  what + " must be a single value, not " +
                      (node.IsMap()        ? "a mapping"
                       : node.IsSequence() ? "a list"
                                           : "empty") +
                      "; fix: write `key: value`",
                  err);
  }
  *value = node.Scalar();
  return true;
}

bool CheckRuleOptions(const ColumnRule& rule, TokenOptions given, const std::string& source,
                      const std::string& ctx, std::string* err) {
  const TokenTypeTraits& traits = TraitsOf(rule.type);
  for (size_t i = 0; i < kTokenOptionCount; ++i) {
    const TokenOption option = static_cast<TokenOption>(i);
    if (traits.required.Has(option) && !given.Has(option)) {
      return FailAt(source, rule.line,
                    ctx + traits.name + " needs '" + TokenOptionKey(option) +
                        "'; fix: add it to the column's rule",
                    err);
    }
  }
  return true;
}

// A column class as the server's classification table takes it: ^[a-z][a-z0-9_]{0,62}$.
bool IsClassName(const std::string& text) {
  if (text.empty() || text.size() > 63 || text[0] < 'a' || text[0] > 'z') return false;
  for (char c : text) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

bool IsExtraKey(const RuleSpecContext& context, const std::string& key) {
  for (const std::string& extra : context.extra_keys) {
    if (extra == key) return true;
  }
  return false;
}

// "path, " when the caller's rules also have a `path` key.
std::string ExtraKeys(const RuleSpecContext& context) {
  std::string out;
  for (const std::string& extra : context.extra_keys) out += extra + ", ";
  return out;
}

// Walks the YAML tree and collects the first error. All yaml-cpp calls that
// can throw happen under the try in ParseTokenizationConfig.
class Parser {
 public:
  Parser(const std::string& source, TokenizationConfig* out) : source_(source), out_(out) {}

  bool Run(const YAML::Node& root, std::string* err);

 private:
  int LineOf(const YAML::Node& node, int fallback) const {
    const YAML::Mark mark = node.Mark();
    return mark.is_null() || mark.line < 0 ? fallback : mark.line + 1;
  }
  bool Fail(int line, const std::string& message, std::string* err) const {
    *err = source_ + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": " + message;
    return false;
  }
  bool Scalar(const YAML::Node& node, int line, const std::string& what, std::string* value,
              std::string* err) const;
  bool ParseColumn(const std::string& name, int line, const YAML::Node& spec, ColumnRule* rule,
                   std::string* err) const;
  bool Validate(std::string* err) const;

  std::string source_;
  TokenizationConfig* out_;
};

bool Parser::Scalar(const YAML::Node& node, int line, const std::string& what, std::string* value,
                    std::string* err) const {
  if (!node.IsScalar()) {
    return Fail(line,
                what + " must be a single value, not " +
                    (node.IsMap()        ? "a mapping"
                     : node.IsSequence() ? "a list"
                                         : "empty") +
                    "; fix: write `key: value`",
                err);
  }
  *value = node.Scalar();
  return true;
}

bool Parser::Run(const YAML::Node& root, std::string* err) {
  if (!root.IsDefined() || root.IsNull()) {
    return Fail(0,
                "config is empty; fix: start from configs/customers_tokenization.yml "
                "(schema in configs/README.md)",
                err);
  }
  if (!root.IsMap()) {
    return Fail(LineOf(root, 1), "the top level must be a mapping of keys (version, columns, ...)",
                err);
  }
  std::set<std::string> seen;
  bool have_version = false, have_table = false;
  // Copy-constructing a Node shares it; assigning to a bound Node would
  // overwrite the tree, hence optional + emplace.
  std::optional<YAML::Node> columns;
  int columns_line = 0;
  for (YAML::const_iterator it = root.begin(); it != root.end(); ++it) {
    const YAML::Node key_node = it->first;  // copies: it-> yields a temporary
    const YAML::Node value = it->second;
    const int line = LineOf(key_node, 1);
    if (!key_node.IsScalar()) return Fail(line, "keys must be plain names", err);
    const std::string key = key_node.Scalar();
    if (!seen.insert(key).second) {
      return Fail(line, "duplicate key '" + key + "'; fix: keep one of them", err);
    }
    std::string text;
    if (key == "version") {
      if (!Scalar(value, line, "version", &text, err)) return false;
      if (text != "1") {
        return Fail(line,
                    "unsupported version " + QuotedValue(text) +
                        " (this sdp-agent reads version 1); fix: write `version: 1`",
                    err);
      }
      out_->version = 1;
      have_version = true;
    } else if (key == "source_table") {
      if (!Scalar(value, line, "source_table", &text, err)) return false;
      if (!IsIdentifier(text)) {
        return Fail(line,
                    "source_table " + QuotedValue(text) +
                        " is not a plain table name; fix: use letters, digits and '_' (at most "
                        "63, not starting with a digit), e.g. customers",
                    err);
      }
      out_->source_table = text;
      have_table = true;
    } else if (key == "key_column") {
      if (!Scalar(value, line, "key_column", &text, err)) return false;
      if (text.empty()) {
        return Fail(line, "key_column is empty; fix: name the join column, e.g. customer_id", err);
      }
      out_->key_column = text;
    } else if (key == "columns") {
      if (!value.IsMap() || value.size() == 0) {
        return Fail(line,
                    "columns must be a non-empty mapping of column name to rule; fix: e.g. "
                    "`columns: { email: { token_type: HASH } }`",
                    err);
      }
      columns.emplace(value);
      columns_line = line;
    } else if (key == "empty_values") {
      if (!Scalar(value, line, "empty_values", &text, err)) return false;
      if (EqualsIgnoreCase(text, "keep")) {
        out_->empty_values = EmptyValues::kKeep;
      } else if (EqualsIgnoreCase(text, "tokenize")) {
        out_->empty_values = EmptyValues::kTokenize;
      } else {
        return Fail(line,
                    "unknown empty_values " + QuotedValue(text) + " (expected keep or tokenize)",
                    err);
      }
    } else if (key == "short_fpe_values") {
      if (!Scalar(value, line, "short_fpe_values", &text, err)) return false;
      if (EqualsIgnoreCase(text, "error")) {
        out_->short_fpe_values = ShortFpeValues::kError;
      } else if (EqualsIgnoreCase(text, "random")) {
        out_->short_fpe_values = ShortFpeValues::kRandom;
      } else {
        return Fail(line,
                    "unknown short_fpe_values " + QuotedValue(text) + " (expected error or random)",
                    err);
      }
    } else {
      return Fail(line,
                  "unknown key " + QuotedValue(key) +
                      " (expected version, source_table, key_column, columns, empty_values or "
                      "short_fpe_values); fix: correct or remove it",
                  err);
    }
  }
  if (!have_version) return Fail(1, "missing `version: 1`; fix: add it as the first line", err);
  if (!have_table) {
    return Fail(1, "missing source_table; fix: add e.g. `source_table: customers`", err);
  }
  if (!columns) {
    return Fail(1, "missing columns; fix: add a `columns:` mapping (see configs/README.md)", err);
  }
  std::set<std::string> names;
  for (YAML::const_iterator it = columns->begin(); it != columns->end(); ++it) {
    const int line = LineOf(it->first, columns_line);
    if (!it->first.IsScalar() || it->first.Scalar().empty()) {
      return Fail(line, "column names must be non-empty plain names", err);
    }
    const std::string name = it->first.Scalar();
    if (!names.insert(name).second) {
      return Fail(line, "column " + QuotedValue(name) + " is listed twice; fix: keep one rule",
                  err);
    }
    ColumnRule rule;
    if (!ParseColumn(name, line, it->second, &rule, err)) return false;
    out_->columns.push_back(std::move(rule));
  }
  return Validate(err);
}

bool Parser::ParseColumn(const std::string& name, int line, const YAML::Node& spec,
                         ColumnRule* rule, std::string* err) const {
  const std::string ctx = "column " + QuotedValue(name) + ": ";
  // Shorthand `email: HASH`.
  if (spec.IsScalar()) {
    TokenType type;
    if (!ParseTokenType(spec.Scalar(), &type)) {
      return Fail(line,
                  ctx + "unknown token_type " + QuotedValue(spec.Scalar()) + " (expected " +
                      ListTokenTypes(" or ") + ")",
                  err);
    }
    *rule = DefaultRule(out_->source_table, name, type);
    rule->line = line;
    return CheckRuleOptions(*rule, TokenOptions(), source_, ctx, err);
  }
  if (!spec.IsMap()) {
    return Fail(line,
                ctx + "the rule must be a mapping; fix: e.g. `" + name + ": { token_type: HASH }`",
                err);
  }
  RuleSpecContext context;
  context.source = source_;
  context.label = ctx;
  context.line = line;
  context.source_table = out_->source_table;
  context.column = name;
  return ParseRuleSpec(spec, context, rule, err);
}

// Rules that involve more than one key.
bool Parser::Validate(std::string* err) const {
  if (!CheckSharedDomains(out_->columns, source_, "column", err)) return false;
  // The key column is re-derived to join results back onto the raw file, which
  // only a type the table marks join_key allows.
  if (const ColumnRule* key = out_->Find(out_->key_column)) {
    if (!TraitsOf(key->type).join_key) {
      return Fail(key->line,
                  "column " + QuotedValue(key->column) + ": the key_column cannot be " +
                      TokenTypeName(key->type) +
                      " because results are joined back by re-deriving its token; fix: use " +
                      ListTokenTypes([](const TokenTypeTraits& t) { return t.join_key; }, " or ") +
                      " for it",
                  err);
    }
  }
  return true;
}

}  // namespace

bool ParseRuleSpec(const YAML::Node& spec, const RuleSpecContext& context, ColumnRule* rule,
                   std::string* err) {
  const std::string& source = context.source;
  const std::string& ctx = context.label;
  const int line = context.line;
  const std::string expected_types = "(expected " + ListTokenTypes(" or ") + ")";
  // First pass: token_type, which decides which other keys apply.
  std::optional<YAML::Node> type_node;
  std::set<std::string> seen;
  for (YAML::const_iterator it = spec.begin(); it != spec.end(); ++it) {
    const int kline = LineOfNode(it->first, line);
    if (!it->first.IsScalar()) return FailAt(source, kline, ctx + "keys must be plain names", err);
    const std::string key = it->first.Scalar();
    if (!seen.insert(key).second) {
      return FailAt(source, kline, ctx + "duplicate key '" + key + "'; fix: keep one of them", err);
    }
    if (key == "token_type") type_node.emplace(it->second);
  }
  if (!type_node) {
    const TokenType first = kTokenTypes[0].type;
    return FailAt(
        source, line,
        ctx + "missing token_type; fix: add `token_type: " + TokenTypeName(first) + "` (or " +
            ListTokenTypes([first](const TokenTypeTraits& t) { return t.type != first; }, ", ") +
            ")",
        err);
  }
  std::string text;
  if (!ScalarOf(*type_node, source, LineOfNode(*type_node, line), ctx + "token_type", &text, err))
    return false;
  TokenType type;
  if (!ParseTokenType(text, &type)) {
    return FailAt(source, LineOfNode(*type_node, line),
                  ctx + "unknown token_type " + QuotedValue(text) + " " + expected_types, err);
  }
  *rule = DefaultRule(context.source_table, context.column, type);
  rule->line = line;
  const TokenTypeTraits& traits = TraitsOf(type);
  TokenOptions given;

  for (YAML::const_iterator it = spec.begin(); it != spec.end(); ++it) {
    const std::string key = it->first.Scalar();
    const YAML::Node value = it->second;
    const int vline = LineOfNode(it->first, line);
    if (key == "token_type" || IsExtraKey(context, key)) continue;
    if (key == "class") {
      if (!ScalarOf(value, source, vline, ctx + key, &text, err)) return false;
      if (!IsClassName(text)) {
        return FailAt(source, vline,
                      ctx + "class " + QuotedValue(text) +
                          " is invalid; fix: use a lowercase name of 1-63 letters, digits and '_' "
                          "starting with a letter, e.g. email or payment_card",
                      err);
      }
      rule->pii_class = text;
      continue;
    }
    TokenOption option;
    if (!ParseTokenOption(key, &option)) {
      return FailAt(source, vline,
                    ctx + "unknown key " + QuotedValue(key) + " (expected " + ExtraKeys(context) +
                        "token_type, class, " + ListTokenOptions(" or ") +
                        "); fix: correct or remove it",
                    err);
    }
    if (!traits.allowed.Has(option)) {
      const std::string why = option == TokenOption::kVault && traits.vault_refused_because[0]
                                  ? std::string(" (") + traits.vault_refused_because + ")"
                                  : "";
      const std::string applies = ListTokenTypes(
          [option](const TokenTypeTraits& t) { return t.allowed.Has(option); }, " and ");
      return FailAt(source, vline,
                    ctx + "'" + key + "' does not apply to " + traits.name + why +
                        "; it applies to " + applies + "; fix: remove it or change token_type",
                    err);
    }
    given.Add(option);
    if (!ScalarOf(value, source, vline, ctx + key, &text, err)) return false;

    if (key == "domain") {
      if (!IsDomain(text)) {
        return FailAt(source, vline,
                      ctx + "domain " + QuotedValue(text) +
                          " is invalid; fix: use 1-128 of letters, digits, '_', '.', ':' and '-', "
                          "e.g. customer_id",
                      err);
      }
      rule->domain = text;
    } else if (key == "normalize") {
      if (!ParseNormalize(text, &rule->normalize)) {
        return FailAt(source, vline,
                      ctx + "unknown normalize " + QuotedValue(text) +
                          " (expected none, lowercase, trim, lowercase_trim or digits_only)",
                      err);
      }
    } else if (key == "mask") {
      if (!ParseMaskStyle(text, &rule->mask)) {
        return FailAt(source, vline,
                      ctx + "unknown mask " + QuotedValue(text) +
                          " (expected auto, email, last4, initial or full)",
                      err);
      }
    } else if (key == "algorithm") {
      if (EqualsIgnoreCase(text, "FF1")) {
        rule->algorithm = FpeAlgorithm::kFf1;
      } else if (EqualsIgnoreCase(text, "FF3-1") || EqualsIgnoreCase(text, "FF3_1")) {
        rule->algorithm = FpeAlgorithm::kFf3_1;
      } else if (EqualsIgnoreCase(text, "FF3")) {
        return FailAt(source, vline,
                      ctx +
                          "algorithm FF3 was withdrawn by NIST (SP 800-38G Rev. 1); fix: use "
                          "FF3-1 or FF1",
                      err);
      } else {
        return FailAt(source, vline,
                      ctx + "unknown algorithm " + QuotedValue(text) + " (expected FF1 or FF3-1)",
                      err);
      }
    } else if (key == "alphabet") {
      FpeAlphabet alphabet;
      std::string why;
      if (!FpeAlphabet::FromSpec(text, &alphabet, &why)) {
        return FailAt(source, vline,
                      ctx + "bad alphabet " + QuotedValue(text) + ": " + why +
                          "; fix: use digits, alnum, lower, upper or custom:<characters>",
                      err);
      }
      rule->alphabet = text;
    } else if (key == "vault") {
      bool b;
      if (!YAML::convert<bool>::decode(value, b)) {
        return FailAt(source, vline, ctx + "vault must be true or false, not " + QuotedValue(text),
                      err);
      }
      rule->vault = b;
    }
  }
  return CheckRuleOptions(*rule, given, source, ctx, err);
}

bool CheckSharedDomains(const std::vector<ColumnRule>& rules, const std::string& source,
                        const char* noun, std::string* err) {
  // A column sharing a domain with another promises that their tokens join;
  // that only holds if both compute tokens the same way.
  for (size_t i = 0; i < rules.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      const ColumnRule& a = rules[j];
      const ColumnRule& b = rules[i];
      if (a.domain != b.domain || !TraitsOf(a.type).allowed.Has(TokenOption::kDomain)) continue;
      if (!SameTokens(a, b)) {
        return FailAt(source, b.line,
                      std::string(noun) + " " + QuotedValue(b.column) + ": shares domain " +
                          QuotedValue(b.domain) + " with " + noun + " " + QuotedValue(a.column) +
                          " but tokenizes differently, so their tokens would not join; fix: use "
                          "the same token_type/normalize/algorithm/alphabet, or another domain",
                      err);
      }
    }
  }
  return true;
}

const ColumnRule* TokenizationConfig::Find(std::string_view column) const {
  for (const ColumnRule& rule : columns) {
    if (rule.column == column) return &rule;
  }
  return nullptr;
}

bool ParseNormalize(std::string_view text, Normalize* out) {
  static constexpr std::pair<const char*, Normalize> kValues[] = {
      {"none", Normalize::kNone},
      {"lowercase", Normalize::kLowercase},
      {"trim", Normalize::kTrim},
      {"lowercase_trim", Normalize::kLowercaseTrim},
      {"digits_only", Normalize::kDigitsOnly},
  };
  for (const auto& v : kValues) {
    if (EqualsIgnoreCase(text, v.first)) {
      *out = v.second;
      return true;
    }
  }
  return false;
}

const char* NormalizeName(Normalize normalize) {
  switch (normalize) {
    case Normalize::kNone:
      return "none";
    case Normalize::kLowercase:
      return "lowercase";
    case Normalize::kTrim:
      return "trim";
    case Normalize::kLowercaseTrim:
      return "lowercase_trim";
    case Normalize::kDigitsOnly:
      return "digits_only";
  }
  return "?";
}

bool ParseMaskStyle(std::string_view text, MaskStyle* out) {
  static constexpr std::pair<const char*, MaskStyle> kValues[] = {
      {"auto", MaskStyle::kAuto},       {"email", MaskStyle::kEmail}, {"last4", MaskStyle::kLast4},
      {"initial", MaskStyle::kInitial}, {"full", MaskStyle::kFull},
  };
  for (const auto& v : kValues) {
    if (EqualsIgnoreCase(text, v.first)) {
      *out = v.second;
      return true;
    }
  }
  return false;
}

const char* MaskStyleName(MaskStyle mask) {
  switch (mask) {
    case MaskStyle::kAuto:
      return "auto";
    case MaskStyle::kEmail:
      return "email";
    case MaskStyle::kLast4:
      return "last4";
    case MaskStyle::kInitial:
      return "initial";
    case MaskStyle::kFull:
      return "full";
  }
  return "?";
}

ColumnRule DefaultRule(const std::string& source_table, const std::string& column, TokenType type) {
  ColumnRule rule;
  rule.column = column;
  rule.type = type;
  rule.domain = source_table.empty() ? column : source_table + "." + column;
  rule.vault = TraitsOf(type).vault_default;
  return rule;
}

void NormalizeValue(Normalize normalize, std::string_view value, std::string* out) {
  out->clear();
  if (normalize == Normalize::kDigitsOnly) {
    for (char c : value) {
      if (c >= '0' && c <= '9') out->push_back(c);
    }
    return;
  }
  if (normalize == Normalize::kTrim || normalize == Normalize::kLowercaseTrim) {
    value = TrimAsciiSpace(value);
  }
  out->assign(value.data(), value.size());
  if (normalize == Normalize::kLowercase || normalize == Normalize::kLowercaseTrim) {
    for (char& c : *out) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
  }
}

bool ParseTokenizationConfig(std::string_view yaml_text, const std::string& source_name,
                             TokenizationConfig* out, std::string* err) {
  TokenizationConfig config;
  config.source_name = source_name;
  if (yaml_text.size() > kMaxConfigBytes) {
    *err =
        source_name + ": config is larger than 1 MiB; fix: is this really a tokenization config?";
    return false;
  }
  if (yaml_text.find('\0') != std::string_view::npos) {
    *err = source_name + ": config contains a NUL byte; fix: save it as UTF-8 text";
    return false;
  }
  try {
    YAML::Node root = YAML::Load(std::string(yaml_text));
    Parser parser(source_name, &config);
    if (!parser.Run(root, err)) return false;
  } catch (const YAML::Exception& e) {
    std::string where = source_name;
    if (!e.mark.is_null()) {
      where += ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1);
    }
    *err = where + ": invalid YAML: " + e.msg + "; fix: check indentation, quotes and colons";
    return false;
  }
  *out = std::move(config);
  return true;
}

bool LoadTokenizationConfig(const std::string& path, TokenizationConfig* out, std::string* err) {
  std::string text;
  // A byte past the limit is read, so that ParseTokenizationConfig reports the size.
  if (!ReadWholeFile(path, &text, err, kMaxConfigBytes,
                     "check the --config path (example: configs/customers_tokenization.yml)")) {
    return false;
  }
  return ParseTokenizationConfig(text, path, out, err);
}

bool CheckConfigAgainstHeader(const TokenizationConfig& config,
                              const std::vector<std::string>& header, std::string* err) {
  auto has = [&header](const std::string& name) {
    for (const std::string& h : header) {
      if (h == name) return true;
    }
    return false;
  };
  for (const ColumnRule& rule : config.columns) {
    if (!has(rule.column)) {
      *err = config.source_name + (rule.line > 0 ? ":" + std::to_string(rule.line) : "") +
             ": column " + QuotedValue(rule.column) +
             " is not in the CSV header; available columns: " + ColumnList(header) +
             "; fix: correct the column name in the config";
      return false;
    }
  }
  if (!config.key_column.empty() && !has(config.key_column)) {
    *err = config.source_name + ": key_column " + QuotedValue(config.key_column) +
           " is not in the CSV header; available columns: " + ColumnList(header) +
           "; fix: set key_column to the join column";
    return false;
  }
  return true;
}

}  // namespace sdp
