// One pass over a JSON text (RFC 8259, strict): validates it and reports every string, number and
// boolean that a rule's path selects, with its byte span in the text. Pseudonymization splices
// new values into those spans and copies every other byte as it is, which is how untouched parts
// of a document come back byte-identical (re-serializing through a DOM would reorder nothing but
// could change number spellings, escapes and white space).
//
// Strict means: one value with optional white space around it (a leading UTF-8 BOM is allowed
// and kept), no comments, no trailing commas, strings of valid UTF-8 (RFC 3629) without raw
// control characters, the RFC 8259 number grammar, and at most `max_depth` nested containers.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/json/json_path.h"

namespace sdp {

enum class JsonScalarKind : char {
  kString = 's',
  kNumber = 'n',
  kTrue = 't',
  kFalse = 'f',
  // Reported only by a scanner that visits every kind (requests of the service pick members
  // out of their bodies by path, byte for byte).
  kNull = 'z',
  kObject = 'o',
  kArray = 'a',
};

struct JsonScalar {
  size_t rule = 0;   // index of the path in the JsonPathSet that selected the value
  size_t begin = 0;  // byte span of the value in the document (quotes included for strings)
  size_t end = 0;
  JsonScalarKind kind = JsonScalarKind::kString;
  std::string_view value;  // the decoded string, or the literal of a number or boolean
};

class JsonScanner {
 public:
  static constexpr size_t kDefaultMaxDepth = 512;

  // `paths` must outlive the scanner.
  // `every_kind`: also report null, objects and arrays (after they close) at selected paths.
  explicit JsonScanner(const JsonPathSet& paths, size_t max_depth = kDefaultMaxDepth,
                       bool every_kind = false)
      : paths_(paths), max_depth_(max_depth), every_kind_(every_kind) {}

  // Called for each selected scalar in document order; returning false stops the scan (Scan then
  // returns false with the visitor's *err).
  using Visitor = std::function<bool(const JsonScalar&, std::string* err)>;

  // Errors are "byte N: <cause>" (N counted from 1), never quoting the document.
  bool Scan(std::string_view doc, const Visitor& visit, std::string* err);

  // Where the scanner is: valid inside a visit.
  const std::vector<JsonLocationStep>& location() const { return location_; }
  // Deepest nesting seen by the last Scan.
  size_t max_depth_seen() const { return max_depth_seen_; }

 private:
  bool Value(size_t states_begin, size_t states_end, size_t depth);
  bool Object(size_t states_begin, size_t states_end, size_t depth);
  bool Array(size_t states_begin, size_t states_end, size_t depth);
  // Validates the string at i_ (on its opening quote) and moves past it; *has_escape tells
  // whether the raw content differs from the decoded one.
  bool String(bool* has_escape);
  bool Number();
  bool Literal(std::string_view word);
  void Ws() {
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
      ++i_;
    }
  }
  bool Fail(size_t at, const std::string& cause);
  bool Visit(size_t states_begin, size_t states_end, size_t begin, JsonScalarKind kind,
             bool has_escape);

  const JsonPathSet& paths_;
  size_t max_depth_;
  bool every_kind_;
  const Visitor* visit_ = nullptr;
  std::string* err_ = nullptr;
  std::string_view s_;
  size_t i_ = 0;
  size_t max_depth_seen_ = 0;
  std::vector<JsonPathSet::State> states_;
  std::vector<JsonLocationStep> location_;
  std::vector<std::string> key_buffers_;  // decoded member names with escapes, one per level
  std::string value_buffer_;
};

// Decodes the content of a valid JSON string (between its quotes) into *out.
void DecodeJsonString(std::string_view raw, std::string* out);
// Appends `value` as a JSON string (quotes included): '"', '\\' and control characters escaped,
// everything else (UTF-8 included) as it is. These are RFC 8785's minimal escapes, so the
// canonical form (json_canonical.cc) writes its strings with it too.
void AppendJsonString(std::string_view value, std::string* out);
// Whether `text` is exactly one JSON number (RFC 8259 grammar).
bool IsJsonNumber(std::string_view text);

}  // namespace sdp
