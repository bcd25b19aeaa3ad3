// JSONPath subset (RFC 9535) and JSON Pointer (RFC 6901) parsing, and the matching automaton.
#include "agent/json/json_path.h"

#include <algorithm>

#include "common/shown_value.h"
#include "common/utf8.h"

namespace sdp {
namespace {

constexpr uint64_t kMaxIndex = (uint64_t{1} << 53) - 1;  // I-JSON range (RFC 9535 2.1)

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

uint32_t HexValue(std::string_view four) {
  uint32_t v = 0;
  for (char c : four) {
    v <<= 4;
    v |= c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
  }
  return v;
}

class PathParser {
 public:
  PathParser(std::string_view text, std::string* err) : s_(text), err_(err) {}

  bool JsonPathSteps(std::vector<JsonPathStep>* steps);
  bool PointerSteps(std::vector<JsonPathStep>* steps);

 private:
  bool Fail(size_t pos, const std::string& what, const std::string& fix) {
    *err_ = "path " + QuotedValue(s_) + ": at character " + std::to_string(pos + 1) + ": " + what +
            "; fix: " + fix;
    return false;
  }
  bool At(char c) const { return i_ < s_.size() && s_[i_] == c; }
  void Blank() {
    while (i_ < s_.size() &&
           (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) {
      ++i_;
    }
  }
  bool Shorthand(std::string* name);
  bool Bracket(bool descendant, JsonPathStep* step);
  bool StringLiteral(std::string* out);
  bool Index(uint64_t* out);

  std::string_view s_;
  std::string* err_;
  size_t i_ = 0;
};

// member-name-shorthand: name-first (ALPHA, '_', any non-ASCII) then name-chars (also DIGIT).
bool PathParser::Shorthand(std::string* name) {
  const size_t start = i_;
  while (i_ < s_.size()) {
    const char c = s_[i_];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (alpha || (digit && i_ > start)) {
      ++i_;
    } else if (static_cast<uint8_t>(c) >= 0x80) {
      const size_t n = Utf8SequenceLength(s_, i_);
      if (n == 0) return Fail(i_, "invalid UTF-8", "save the rules file as UTF-8");
      i_ += n;
    } else {
      break;
    }
  }
  if (i_ == start) {
    return Fail(start, "expected a member name, '*' or '['",
                "quote names that do not start with a letter or '_', e.g. $['2nd']");
  }
  name->assign(s_.substr(start, i_ - start));
  return true;
}

// A quoted name with RFC 9535 escapes (2.3.1.1): \b \f \n \r \t \/ \\ \uXXXX (surrogate pairs
// joined), and the quote that delimits the string.
bool PathParser::StringLiteral(std::string* out) {
  const char quote = s_[i_];
  const size_t open = i_++;
  out->clear();
  while (true) {
    if (i_ >= s_.size()) {
      return Fail(open, "unterminated string", std::string("close it with ") + quote);
    }
    const char c = s_[i_];
    if (c == quote) {
      ++i_;
      return true;
    }
    if (static_cast<uint8_t>(c) < 0x20) {
      return Fail(i_, "control character in a name", "write it as \\u00XX");
    }
    if (static_cast<uint8_t>(c) >= 0x80) {
      const size_t n = Utf8SequenceLength(s_, i_);
      if (n == 0) return Fail(i_, "invalid UTF-8", "save the rules file as UTF-8");
      out->append(s_.substr(i_, n));
      i_ += n;
      continue;
    }
    if (c != '\\') {
      out->push_back(c);
      ++i_;
      continue;
    }
    if (i_ + 1 >= s_.size()) return Fail(i_, "unterminated escape", "complete or remove the \\");
    const char e = s_[i_ + 1];
    i_ += 2;
    switch (e) {
      case 'b':
        out->push_back('\b');
        continue;
      case 'f':
        out->push_back('\f');
        continue;
      case 'n':
        out->push_back('\n');
        continue;
      case 'r':
        out->push_back('\r');
        continue;
      case 't':
        out->push_back('\t');
        continue;
      case '/':
      case '\\':
        out->push_back(e);
        continue;
      case 'u':
        break;
      default:
        if (e == quote) {
          out->push_back(e);
          continue;
        }
        return Fail(i_ - 2, std::string("unknown escape \\") + (e >= 0x20 && e < 0x7f ? e : '?'),
                    "use \\b \\f \\n \\r \\t \\/ \\\\ \\uXXXX or an escaped quote");
    }
    const auto hex4 = [&](uint32_t* cp) {
      if (i_ + 4 > s_.size() || !std::all_of(s_.begin() + i_, s_.begin() + i_ + 4, IsHex)) {
        return Fail(i_, "\\u needs four hex digits", "write e.g. \\u00e9");
      }
      *cp = HexValue(s_.substr(i_, 4));
      i_ += 4;
      return true;
    };
    uint32_t cp;
    if (!hex4(&cp)) return false;
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
      return Fail(i_ - 6, "lone low surrogate", "write the pair high-low, e.g. \\ud83d\\ude00");
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      uint32_t low;
      if (i_ + 2 > s_.size() || s_[i_] != '\\' || s_[i_ + 1] != 'u') {
        return Fail(i_, "high surrogate without its low half", "follow it with \\uDC00-\\uDFFF");
      }
      i_ += 2;
      if (!hex4(&low)) return false;
      if (low < 0xDC00 || low > 0xDFFF) {
        return Fail(i_ - 6, "high surrogate without its low half",
                    "follow it with \\uDC00-\\uDFFF");
      }
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    AppendUtf8(cp, out);
  }
}

bool PathParser::Index(uint64_t* out) {
  const size_t start = i_;
  if (At('-')) {
    return Fail(start, "negative indices are not supported (the scanner reads a document once)",
                "count from the start, or use [*]");
  }
  uint64_t v = 0;
  while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
    v = v * 10 + static_cast<uint64_t>(s_[i_] - '0');
    if (v > kMaxIndex) return Fail(start, "index out of range", "use at most 2^53-1");
    ++i_;
  }
  if (i_ - start > 1 && s_[start] == '0') {
    return Fail(start, "an index has no leading zeros", "write e.g. [7], not [07]");
  }
  *out = v;
  return true;
}

bool PathParser::Bracket(bool descendant, JsonPathStep* step) {
  ++i_;  // '['
  Blank();
  if (i_ >= s_.size()) return Fail(i_, "unterminated '['", "close it with ']'");
  const char c = s_[i_];
  if (c == '\'' || c == '"') {
    step->kind = descendant ? JsonStepKind::kDescendantName : JsonStepKind::kName;
    if (!StringLiteral(&step->name)) return false;
  } else if (c == '*') {
    step->kind = descendant ? JsonStepKind::kDescendantWildcard : JsonStepKind::kWildcard;
    ++i_;
  } else if (c == '-' || (c >= '0' && c <= '9')) {
    step->kind = descendant ? JsonStepKind::kDescendantIndex : JsonStepKind::kIndex;
    if (!Index(&step->index)) return false;
  } else if (c == '?') {
    return Fail(i_, "filter selectors are not supported",
                "select the members by name, index or [*]");
  } else if (c == ':') {
    return Fail(i_, "array slices are not supported", "use [*] or one rule per index");
  } else {
    return Fail(i_, "expected a quoted name, an index or '*'", "write e.g. ['name'], [0] or [*]");
  }
  Blank();
  if (At(':')) return Fail(i_, "array slices are not supported", "use [*] or one rule per index");
  if (At(',')) {
    return Fail(i_, "unions of selectors are not supported", "write one rule per selector");
  }
  if (!At(']')) return Fail(i_, "expected ']'", "close the selector with ']'");
  ++i_;
  return true;
}

bool PathParser::JsonPathSteps(std::vector<JsonPathStep>* steps) {
  i_ = 1;  // '$'
  while (true) {
    Blank();
    if (i_ >= s_.size()) return true;
    JsonPathStep step;
    if (At('[')) {
      if (!Bracket(false, &step)) return false;
    } else if (At('.')) {
      ++i_;
      const bool descendant = At('.');
      if (descendant) ++i_;
      if (At('*')) {
        step.kind = descendant ? JsonStepKind::kDescendantWildcard : JsonStepKind::kWildcard;
        ++i_;
      } else if (descendant && At('[')) {
        if (!Bracket(true, &step)) return false;
      } else {
        step.kind = descendant ? JsonStepKind::kDescendantName : JsonStepKind::kName;
        if (!Shorthand(&step.name)) return false;
      }
    } else {
      return Fail(i_, "expected '.', '..' or '['", "write e.g. $.a.b, $['a'] or $..a");
    }
    steps->push_back(std::move(step));
  }
}

bool PathParser::PointerSteps(std::vector<JsonPathStep>* steps) {
  size_t i = 0;
  while (i < s_.size()) {
    ++i;  // '/'
    JsonPathStep step;
    step.kind = JsonStepKind::kPointerToken;
    while (i < s_.size() && s_[i] != '/') {
      const char c = s_[i];
      if (c == '~') {
        if (i + 1 < s_.size() && (s_[i + 1] == '0' || s_[i + 1] == '1')) {
          step.name.push_back(s_[i + 1] == '0' ? '~' : '/');
          i += 2;
          continue;
        }
        return Fail(i, "'~' must be followed by 0 or 1 (RFC 6901)", "write ~0 for '~', ~1 for '/'");
      }
      if (static_cast<uint8_t>(c) >= 0x80) {
        const size_t n = Utf8SequenceLength(s_, i);
        if (n == 0) return Fail(i, "invalid UTF-8", "save the rules file as UTF-8");
        step.name.append(s_.substr(i, n));
        i += n;
        continue;
      }
      step.name.push_back(c);
      ++i;
    }
    // A canonical array index: "0" or a digit string without a leading zero (RFC 6901 4).
    const std::string& t = step.name;
    if (!t.empty() && t.size() <= 16 &&
        std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
        (t.size() == 1 || t[0] != '0')) {
      step.index = std::stoull(t);
      step.index_ok = step.index <= kMaxIndex;
    }
    steps->push_back(std::move(step));
  }
  return true;
}

bool NameMatches(const JsonPathStep& step, const JsonLocationStep& child) {
  return !child.is_index && child.name == step.name;
}

bool IndexMatches(const JsonPathStep& step, const JsonLocationStep& child) {
  return child.is_index && child.index == step.index;
}

void AddState(std::vector<JsonPathSet::State>* out, size_t first, uint32_t path, uint32_t step) {
  for (size_t i = first; i < out->size(); ++i) {
    if ((*out)[i].path == path && (*out)[i].step == step) return;
  }
  out->push_back({path, step});
}

}  // namespace

bool ParseJsonPath(std::string_view text, JsonPath* out, std::string* err) {
  JsonPath path;
  path.text.assign(text);
  PathParser parser(text, err);
  if (!text.empty() && text[0] == '$') {
    if (!parser.JsonPathSteps(&path.steps)) return false;
  } else if (text.empty() || text[0] == '/') {
    if (!parser.PointerSteps(&path.steps)) return false;
  } else {
    *err = "path " + QuotedValue(text) +
           " is neither a JSONPath nor a JSON Pointer; fix: start it with '$' (e.g. "
           "$.customer.email) or '/' (e.g. /customer/email)";
    return false;
  }
  *out = std::move(path);
  return true;
}

std::string JsonPointerOf(const std::vector<JsonLocationStep>& location) {
  std::string out;
  for (const JsonLocationStep& step : location) {
    out.push_back('/');
    if (step.is_index) {
      out += std::to_string(step.index);
      continue;
    }
    for (char c : step.name) {
      if (c == '~') {
        out += "~0";
      } else if (c == '/') {
        out += "~1";
      } else {
        out.push_back(c);
      }
    }
  }
  return out;
}

void JsonPathSet::RootStates(std::vector<State>* out) const {
  for (size_t i = 0; i < paths_.size(); ++i) out->push_back({static_cast<uint32_t>(i), 0});
}

void JsonPathSet::ChildStates(std::vector<State>* states, size_t begin, size_t end,
                              const JsonLocationStep& child) const {
  std::vector<State>* out = states;
  const size_t first = out->size();
  for (size_t k = begin; k < end; ++k) {
    const State s = (*states)[k];  // a copy: appending may move the vector
    const std::vector<JsonPathStep>& steps = paths_[s.path].steps;
    if (s.step >= steps.size()) continue;  // complete at the parent: nothing below it
    const JsonPathStep& step = steps[s.step];
    bool advance = false;
    switch (step.kind) {
      case JsonStepKind::kName:
        advance = NameMatches(step, child);
        break;
      case JsonStepKind::kIndex:
        advance = IndexMatches(step, child);
        break;
      case JsonStepKind::kWildcard:
        advance = true;
        break;
      case JsonStepKind::kPointerToken:
        advance =
            child.is_index ? step.index_ok && child.index == step.index : child.name == step.name;
        break;
      case JsonStepKind::kDescendantName:
        AddState(out, first, s.path, s.step);
        advance = NameMatches(step, child);
        break;
      case JsonStepKind::kDescendantIndex:
        AddState(out, first, s.path, s.step);
        advance = IndexMatches(step, child);
        break;
      case JsonStepKind::kDescendantWildcard:
        AddState(out, first, s.path, s.step);
        advance = true;
        break;
    }
    if (advance) AddState(out, first, s.path, s.step + 1);
  }
}

int64_t JsonPathSet::Selected(const State* states, size_t count) const {
  int64_t best = -1;
  for (size_t k = 0; k < count; ++k) {
    if (states[k].step == paths_[states[k].path].steps.size() &&
        (best < 0 || states[k].path < best)) {
      best = states[k].path;
    }
  }
  return best;
}

}  // namespace sdp
