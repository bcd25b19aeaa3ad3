// JSON pseudonymization rules (YAML): parsing and validation with errors that name file, line
// and key.
#include "agent/json/json_rules.h"

#include <yaml-cpp/yaml.h>

#include <optional>
#include <set>
#include <utility>

#include "common/read_file.h"
#include "common/shown_value.h"
#include "common/text.h"

namespace sdp {
namespace {

constexpr size_t kMaxRulesBytes = size_t{1} << 20;
constexpr size_t kMaxRules = 10000;

int LineOf(const YAML::Node& node, int fallback) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() || mark.line < 0 ? fallback : mark.line + 1;
}

class RulesParser {
 public:
  RulesParser(const std::string& source, JsonRules* out) : source_(source), out_(out) {}
  bool Run(const YAML::Node& root, std::string* err);

 private:
  bool Fail(int line, const std::string& message, std::string* err) const {
    *err = source_ + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": " + message;
    return false;
  }
  bool Scalar(const YAML::Node& node, int line, const std::string& what, std::string* value,
              std::string* err) const {
    if (!node.IsScalar()) {
      return Fail(line, what + " must be a single value; fix: write `" + what + ": value`", err);
    }
    *value = node.Scalar();
    return true;
  }
  bool Rule(size_t number, const YAML::Node& spec, int line, std::string* err);

  std::string source_;
  JsonRules* out_;
  std::set<std::string> paths_seen_;
};

bool RulesParser::Run(const YAML::Node& root, std::string* err) {
  if (!root.IsDefined() || root.IsNull()) {
    return Fail(0,
                "rules file is empty; fix: start from configs/json_pseudonymization.yml "
                "(schema in docs/json_pseudonymization.md)",
                err);
  }
  if (!root.IsMap()) {
    return Fail(LineOf(root, 1), "the top level must be a mapping of keys (version, rules, ...)",
                err);
  }
  std::set<std::string> seen;
  bool have_version = false;
  std::optional<YAML::Node> rules;
  int rules_line = 0;
  for (YAML::const_iterator it = root.begin(); it != root.end(); ++it) {
    const YAML::Node key_node = it->first;
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
      have_version = true;
    } else if (key == "rules") {
      if (!value.IsSequence() || value.size() == 0) {
        return Fail(line,
                    "rules must be a non-empty list; fix: e.g. `rules: [ { path: \"$.email\", "
                    "token_type: HASH } ]`",
                    err);
      }
      rules.emplace(value);
      rules_line = line;
    } else if (key == "ttl") {
      if (!Scalar(value, line, "ttl", &text, err)) return false;
      if (!ParseTtl(text, &out_->ttl_seconds)) {
        return Fail(line,
                    "ttl " + QuotedValue(text) +
                        " is not a duration; fix: write e.g. 30d, 12h, 90m, 3600s or none",
                    err);
      }
    } else if (key == "empty_values") {
      if (!Scalar(value, line, "empty_values", &text, err)) return false;
      if (EqualsIgnoreCase(text, "keep")) {
        out_->config.empty_values = EmptyValues::kKeep;
      } else if (EqualsIgnoreCase(text, "tokenize")) {
        out_->config.empty_values = EmptyValues::kTokenize;
      } else {
        return Fail(line,
                    "unknown empty_values " + QuotedValue(text) + " (expected keep or tokenize)",
                    err);
      }
    } else if (key == "short_fpe_values") {
      if (!Scalar(value, line, "short_fpe_values", &text, err)) return false;
      if (EqualsIgnoreCase(text, "error")) {
        out_->config.short_fpe_values = ShortFpeValues::kError;
      } else if (EqualsIgnoreCase(text, "random")) {
        out_->config.short_fpe_values = ShortFpeValues::kRandom;
      } else {
        return Fail(line,
                    "unknown short_fpe_values " + QuotedValue(text) + " (expected error or random)",
                    err);
      }
    } else {
      return Fail(line,
                  "unknown key " + QuotedValue(key) +
                      " (expected version, rules, ttl, empty_values or short_fpe_values); fix: "
                      "correct or remove it",
                  err);
    }
  }
  if (!have_version) return Fail(1, "missing `version: 1`; fix: add it as the first line", err);
  if (!rules) {
    return Fail(1, "missing rules; fix: add a `rules:` list (see docs/json_pseudonymization.md)",
                err);
  }
  if (rules->size() > kMaxRules) {
    return Fail(
        rules_line,
        "more than " + std::to_string(kMaxRules) + " rules; fix: use wildcards ([*], ..name)", err);
  }
  for (size_t i = 0; i < rules->size(); ++i) {
    const YAML::Node spec = (*rules)[i];
    if (!Rule(i + 1, spec, LineOf(spec, rules_line), err)) return false;
  }
  return CheckSharedDomains(out_->config.columns, source_, "rule", err);
}

bool RulesParser::Rule(size_t number, const YAML::Node& spec, int line, std::string* err) {
  const std::string label = "rule " + std::to_string(number);
  if (!spec.IsMap()) {
    return Fail(line,
                label + " must be a mapping; fix: e.g. `- { path: \"$.email\", token_type: HASH }`",
                err);
  }
  std::optional<YAML::Node> path_node;
  for (YAML::const_iterator it = spec.begin(); it != spec.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == "path") path_node.emplace(it->second);
  }
  if (!path_node) {
    return Fail(line, label + ": missing path; fix: add e.g. `path: \"$.customer.email\"`", err);
  }
  std::string text;
  const int path_line = LineOf(*path_node, line);
  if (!Scalar(*path_node, path_line, "path", &text, err)) return false;
  JsonPath path;
  std::string why;
  if (!ParseJsonPath(text, &path, &why)) return Fail(path_line, label + ": " + why, err);
  if (!paths_seen_.insert(text).second) {
    return Fail(path_line,
                label + ": path " + QuotedValue(text) + " is listed twice; fix: keep one rule",
                err);
  }
  RuleSpecContext context;
  context.source = source_;
  context.label = label + " (" + QuotedValue(text) + "): ";
  context.line = line;
  context.column = text;
  context.extra_keys = {"path"};
  ColumnRule rule;
  if (!ParseRuleSpec(spec, context, &rule, err)) return false;
  if (!spec["domain"]) rule.domain = DefaultJsonDomain(path);
  out_->config.columns.push_back(std::move(rule));
  out_->paths.Add(std::move(path));
  return true;
}

bool IsDomainChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == ':' || c == '-';
}

}  // namespace

bool ParseTtl(std::string_view text, int64_t* seconds) {
  if (EqualsIgnoreCase(text, "none")) {
    *seconds = 0;
    return true;
  }
  if (text.empty() || text.size() > 12) return false;
  int64_t unit = 1;
  switch (text.back()) {
    case 's':
      text.remove_suffix(1);
      break;
    case 'm':
      unit = 60;
      text.remove_suffix(1);
      break;
    case 'h':
      unit = 3600;
      text.remove_suffix(1);
      break;
    case 'd':
      unit = 86400;
      text.remove_suffix(1);
      break;
    default:
      break;
  }
  if (text.empty()) return false;
  int64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  if (n <= 0 || n > int64_t{100} * 365 * 86400 / unit) return false;  // at most a century
  *seconds = n * unit;
  return true;
}

std::string DefaultJsonDomain(const JsonPath& path) {
  std::string out = "json";
  for (const JsonPathStep& step : path.steps) {
    out.push_back('.');
    switch (step.kind) {
      case JsonStepKind::kDescendantName:
      case JsonStepKind::kDescendantIndex:
      case JsonStepKind::kDescendantWildcard:
        out.push_back('_');
        break;
      default:
        break;
    }
    switch (step.kind) {
      case JsonStepKind::kIndex:
      case JsonStepKind::kDescendantIndex:
        out += std::to_string(step.index);
        break;
      case JsonStepKind::kWildcard:
      case JsonStepKind::kDescendantWildcard:
        out.push_back('_');
        break;
      default:
        for (char c : step.name) out.push_back(IsDomainChar(c) ? c : '_');
        if (step.name.empty()) out.push_back('_');
    }
  }
  if (out.size() > 128) out.resize(128);
  return out;
}

bool ParseJsonRules(std::string_view yaml_text, const std::string& source_name, JsonRules* out,
                    std::string* err) {
  JsonRules rules;
  rules.source_name = source_name;
  rules.config.source_name = source_name;
  rules.config.key_column.clear();
  if (yaml_text.size() > kMaxRulesBytes) {
    *err = source_name + ": rules file is larger than 1 MiB; fix: is this really a rules file?";
    return false;
  }
  if (yaml_text.find('\0') != std::string_view::npos) {
    *err = source_name + ": rules file contains a NUL byte; fix: save it as UTF-8 text";
    return false;
  }
  try {
    const YAML::Node root = YAML::Load(std::string(yaml_text));
    RulesParser parser(source_name, &rules);
    if (!parser.Run(root, err)) return false;
  } catch (const YAML::Exception& e) {
    std::string where = source_name;
    if (!e.mark.is_null()) {
      where += ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1);
    }
    *err = where + ": invalid YAML: " + e.msg + "; fix: check indentation, quotes and colons";
    return false;
  }
  *out = std::move(rules);
  return true;
}

bool LoadJsonRules(const std::string& path, JsonRules* out, std::string* err) {
  std::string text;
  if (!ReadWholeFile(path, &text, err, kMaxRulesBytes,
                     "check the --rules path (example: configs/json_pseudonymization.yml)")) {
    return false;
  }
  return ParseJsonRules(text, path, out, err);
}

}  // namespace sdp
