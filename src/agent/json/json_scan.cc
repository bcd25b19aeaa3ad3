// The strict one-pass JSON scanner and the string helpers pseudonymization splices with.
#include "agent/json/json_scan.h"

#include <cstdint>

#include "common/utf8.h"

namespace sdp {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

uint32_t Hex4(std::string_view s, size_t i) {
  uint32_t v = 0;
  for (size_t k = 0; k < 4; ++k) v = (v << 4) | static_cast<uint32_t>(HexDigit(s[i + k]));
  return v;
}

// Length of the number at s[i] by the RFC 8259 grammar, or 0.
size_t NumberLength(std::string_view s, size_t i) {
  const size_t start = i;
  if (i < s.size() && s[i] == '-') ++i;
  if (i >= s.size()) return 0;
  if (s[i] == '0') {
    ++i;
  } else if (s[i] >= '1' && s[i] <= '9') {
    while (i < s.size() && IsDigit(s[i])) ++i;
  } else {
    return 0;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (i >= s.size() || !IsDigit(s[i])) return 0;
    while (i < s.size() && IsDigit(s[i])) ++i;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (i >= s.size() || !IsDigit(s[i])) return 0;
    while (i < s.size() && IsDigit(s[i])) ++i;
  }
  return i - start;
}

}  // namespace

bool IsJsonNumber(std::string_view text) {
  return !text.empty() && NumberLength(text, 0) == text.size();
}

void DecodeJsonString(std::string_view raw, std::string* out) {
  out->clear();
  size_t i = 0;
  while (i < raw.size()) {
    const size_t backslash = raw.find('\\', i);
    if (backslash == std::string_view::npos) {
      out->append(raw.substr(i));
      return;
    }
    out->append(raw.substr(i, backslash - i));
    const char e = raw[backslash + 1];
    i = backslash + 2;
    switch (e) {
      case 'b':
        out->push_back('\b');
        break;
      case 'f':
        out->push_back('\f');
        break;
      case 'n':
        out->push_back('\n');
        break;
      case 'r':
        out->push_back('\r');
        break;
      case 't':
        out->push_back('\t');
        break;
      case 'u': {
        uint32_t cp = Hex4(raw, i);
        i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= raw.size() && raw[i] == '\\' &&
            raw[i + 1] == 'u') {
          const uint32_t low = Hex4(raw, i + 2);
          if (low >= 0xDC00 && low <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            i += 6;
          }
        }
        AppendUtf8(cp, out);
        break;
      }
      default:  // '"', '\\', '/'
        out->push_back(e);
    }
  }
}

void AppendJsonString(std::string_view value, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t run = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    const auto c = static_cast<uint8_t>(value[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(value.substr(run, i - run));
    run = i + 1;
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default: {
        const char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out->append(u, 6);
      }
    }
  }
  out->append(value.substr(run));
  out->push_back('"');
}

bool JsonScanner::Fail(size_t at, const std::string& cause) {
  *err_ = "byte " + std::to_string(at + 1) + ": " + cause;
  return false;
}

bool JsonScanner::Scan(std::string_view doc, const Visitor& visit, std::string* err) {
  visit_ = &visit;
  err_ = err;
  s_ = doc;
  i_ = 0;
  max_depth_seen_ = 0;
  states_.clear();
  location_.clear();
  // Sized once: location_ holds views into these, which a resize would move.
  if (key_buffers_.size() < max_depth_) key_buffers_.resize(max_depth_);
  paths_.RootStates(&states_);
  if (s_.substr(0, 3) == "\xEF\xBB\xBF") i_ = 3;
  Ws();
  if (i_ >= s_.size()) return Fail(i_, "no JSON value (empty document)");
  if (!Value(0, states_.size(), 0)) return false;
  Ws();
  if (i_ != s_.size()) return Fail(i_, "unexpected data after the JSON value");
  return true;
}

bool JsonScanner::Visit(size_t states_begin, size_t states_end, size_t begin, JsonScalarKind kind,
                        bool has_escape) {
  if (states_begin == states_end) return true;
  const int64_t rule = paths_.Selected(states_.data() + states_begin, states_end - states_begin);
  if (rule < 0) return true;
  JsonScalar scalar;
  scalar.rule = static_cast<size_t>(rule);
  scalar.begin = begin;
  scalar.end = i_;
  scalar.kind = kind;
  if (kind == JsonScalarKind::kString) {
    const std::string_view raw = s_.substr(begin + 1, i_ - begin - 2);
    if (has_escape) {
      DecodeJsonString(raw, &value_buffer_);
      scalar.value = value_buffer_;
    } else {
      scalar.value = raw;
    }
  } else {
    scalar.value = s_.substr(begin, i_ - begin);
  }
  return (*visit_)(scalar, err_);
}

bool JsonScanner::Value(size_t sb, size_t se, size_t depth) {
  if (i_ >= s_.size()) return Fail(i_, "unexpected end of the document: a value is missing");
  const size_t begin = i_;
  switch (s_[i_]) {
    case '{':
    case '[': {
      if (depth + 1 > max_depth_) {
        return Fail(i_, "nesting deeper than " + std::to_string(max_depth_) + " levels");
      }
      if (depth + 1 > max_depth_seen_) max_depth_seen_ = depth + 1;
      const bool object = s_[i_] == '{';
      if (!(object ? Object(sb, se, depth + 1) : Array(sb, se, depth + 1))) return false;
      return !every_kind_ ||
             Visit(sb, se, begin, object ? JsonScalarKind::kObject : JsonScalarKind::kArray, false);
    }
    case '"': {
      bool has_escape = false;
      return String(&has_escape) && Visit(sb, se, begin, JsonScalarKind::kString, has_escape);
    }
    case 't':
      return Literal("true") && Visit(sb, se, begin, JsonScalarKind::kTrue, false);
    case 'f':
      return Literal("false") && Visit(sb, se, begin, JsonScalarKind::kFalse, false);
    case 'n':
      return Literal("null") &&
             (!every_kind_ || Visit(sb, se, begin, JsonScalarKind::kNull, false));
    default:
      return Number() && Visit(sb, se, begin, JsonScalarKind::kNumber, false);
  }
}

bool JsonScanner::Literal(std::string_view word) {
  if (s_.substr(i_, word.size()) != word) return Fail(i_, "invalid literal (expected a value)");
  i_ += word.size();
  return true;
}

bool JsonScanner::Number() {
  const size_t n = NumberLength(s_, i_);
  if (n == 0)
    return Fail(i_, "expected a value (object, array, string, number, true, false, null)");
  i_ += n;
  return true;
}

bool JsonScanner::String(bool* has_escape) {
  const size_t open = i_++;
  while (true) {
    // The common run: printable ASCII without quote or backslash.
    while (i_ < s_.size()) {
      const auto c = static_cast<uint8_t>(s_[i_]);
      if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
      ++i_;
    }
    if (i_ >= s_.size()) return Fail(open, "unterminated string");
    const auto c = static_cast<uint8_t>(s_[i_]);
    if (c == '"') {
      ++i_;
      return true;
    }
    if (c < 0x20) return Fail(i_, "raw control character in a string (escape it, e.g. \\n)");
    if (c == '\\') {
      *has_escape = true;
      if (i_ + 1 >= s_.size()) return Fail(open, "unterminated string");
      const char e = s_[i_ + 1];
      if (e == 'u') {
        if (i_ + 6 > s_.size()) return Fail(i_, "\\u needs four hex digits");
        for (size_t k = 2; k < 6; ++k) {
          if (HexDigit(s_[i_ + k]) < 0) return Fail(i_, "\\u needs four hex digits");
        }
        const uint32_t cp = Hex4(s_, i_ + 2);
        // Lone surrogates decode to nothing UTF-8 can hold: refused so that every accepted string
        // has one decoded form (RFC 8785 canonicalization and the tokenizers need it).
        if (cp >= 0xDC00 && cp <= 0xDFFF) return Fail(i_, "lone low surrogate in \\u escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (i_ + 12 > s_.size() || s_[i_ + 6] != '\\' || s_[i_ + 7] != 'u') {
            return Fail(i_, "high surrogate without its low half in \\u escape");
          }
          for (size_t k = 8; k < 12; ++k) {
            if (HexDigit(s_[i_ + k]) < 0) return Fail(i_ + 6, "\\u needs four hex digits");
          }
          const uint32_t low = Hex4(s_, i_ + 8);
          if (low < 0xDC00 || low > 0xDFFF) {
            return Fail(i_, "high surrogate without its low half in \\u escape");
          }
          i_ += 12;
        } else {
          i_ += 6;
        }
        continue;
      }
      if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' &&
          e != 't') {
        return Fail(i_, "invalid escape in a string");
      }
      i_ += 2;
      continue;
    }
    // UTF-8 (RFC 3629): no overlongs, no surrogates, nothing above U+10FFFF.
    const size_t n = Utf8SequenceLength(s_, i_);
    if (n == 0) return Fail(i_, "invalid UTF-8 in a string");
    i_ += n;
  }
}

bool JsonScanner::Object(size_t sb, size_t se, size_t depth) {
  ++i_;  // '{'
  Ws();
  if (i_ < s_.size() && s_[i_] == '}') {
    ++i_;
    return true;
  }
  while (true) {
    if (i_ >= s_.size() || s_[i_] != '"') {
      return Fail(i_, "expected a member name in double quotes");
    }
    const size_t key_begin = i_;
    bool has_escape = false;
    if (!String(&has_escape)) return false;
    const std::string_view raw_key = s_.substr(key_begin + 1, i_ - key_begin - 2);
    Ws();
    if (i_ >= s_.size() || s_[i_] != ':') return Fail(i_, "expected ':' after a member name");
    ++i_;
    Ws();
    const size_t child_begin = states_.size();
    // The name is decoded only when some path can still match below this level.
    if (sb != se) {
      JsonLocationStep step;
      if (has_escape) {
        DecodeJsonString(raw_key, &key_buffers_[depth - 1]);
        step.name = key_buffers_[depth - 1];
      } else {
        step.name = raw_key;
      }
      location_.push_back(step);
      paths_.ChildStates(&states_, sb, se, step);
    }
    const size_t child_end = states_.size();
    if (!Value(child_begin, child_end, depth)) return false;
    states_.resize(child_begin);
    if (sb != se) location_.pop_back();
    Ws();
    if (i_ >= s_.size()) return Fail(i_, "unexpected end of the document inside an object");
    if (s_[i_] == '}') {
      ++i_;
      return true;
    }
    if (s_[i_] != ',') return Fail(i_, "expected ',' or '}' after a member");
    ++i_;
    Ws();
  }
}

bool JsonScanner::Array(size_t sb, size_t se, size_t depth) {
  ++i_;  // '['
  Ws();
  if (i_ < s_.size() && s_[i_] == ']') {
    ++i_;
    return true;
  }
  uint64_t index = 0;
  while (true) {
    const size_t child_begin = states_.size();
    if (sb != se) {
      JsonLocationStep step;
      step.is_index = true;
      step.index = index;
      location_.push_back(step);
      paths_.ChildStates(&states_, sb, se, step);
    }
    if (!Value(child_begin, states_.size(), depth)) return false;
    states_.resize(child_begin);
    if (sb != se) location_.pop_back();
    ++index;
    Ws();
    if (i_ >= s_.size()) return Fail(i_, "unexpected end of the document inside an array");
    if (s_[i_] == ']') {
      ++i_;
      return true;
    }
    if (s_[i_] != ',') return Fail(i_, "expected ',' or ']' after an element");
    ++i_;
    Ws();
  }
}

}  // namespace sdp
