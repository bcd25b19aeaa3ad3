// Where a pseudonymization rule applies in a JSON document: a subset of JSONPath (RFC 9535) or a
// JSON Pointer (RFC 6901), compiled into steps that a streaming scanner matches while it walks
// the document once (JsonPathSet).
//
// JSONPath subset: `$`, `.name`, `['name']` / `["name"]` (with RFC 9535 escapes), `[n]` (n >= 0),
// `.*` / `[*]`, and the descendant forms `..name`, `..*`, `..[n]`, `..['name']`. Anything else of
// RFC 9535 (filters, slices, unions, negative indices, functions) is refused with a message that
// says so: a rule that silently matched less than its author meant would leave PII in place.
// Negative indices need the array's length, which a one-pass scanner does not know yet.
//
// JSON Pointer: "" (the whole document) or "/token/token..." with ~0 and ~1; a token that is a
// canonical array index ("0", "17", never "01") also selects that element of an array.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sdp {

enum class JsonStepKind : uint8_t {
  kName,                // .name ['name']: a member of an object
  kIndex,               // [n]: an element of an array
  kWildcard,            // .* [*]: every member or element
  kPointerToken,        // /token: a member, or an element when the token is a canonical index
  kDescendantName,      // ..name: a member of any name at any depth below
  kDescendantIndex,     // ..[n]
  kDescendantWildcard,  // ..*: every node below
};

struct JsonPathStep {
  JsonStepKind kind = JsonStepKind::kName;
  std::string name;    // kName, kDescendantName, kPointerToken (unescaped)
  uint64_t index = 0;  // kIndex, kDescendantIndex, kPointerToken when index_ok
  bool index_ok = false;
};

struct JsonPath {
  std::string text;  // as written
  std::vector<JsonPathStep> steps;
};

// Parses a JSONPath (starts with '$') or a JSON Pointer (empty or starts with '/'). Errors name
// the character position and the fix, never more than the first 40 bytes of the text.
bool ParseJsonPath(std::string_view text, JsonPath* out, std::string* err);

// The location of a node while a document is scanned: one entry per level below the root.
struct JsonLocationStep {
  bool is_index = false;
  uint64_t index = 0;
  std::string_view name;  // unescaped member name (valid while the scanner is on that level)
};

// RFC 6901 pointer of a location ("/a/0/b~1c"), for messages and the verify report.
std::string JsonPointerOf(const std::vector<JsonLocationStep>& location);

// Several paths matched together: an automaton whose states are (path, step) pairs. The scanner
// keeps one state set per open level; entering a member or element derives the child's set from
// the parent's, so a document is matched in one pass whatever the number of paths, and a subtree
// no path can reach costs nothing but the scan.
class JsonPathSet {
 public:
  struct State {
    uint32_t path;
    uint32_t step;  // steps consumed
  };

  void Add(JsonPath path) { paths_.push_back(std::move(path)); }
  size_t size() const { return paths_.size(); }
  const JsonPath& path(size_t i) const { return paths_[i]; }

  // The states at the root.
  void RootStates(std::vector<State>* out) const;
  // Appends to *states the states of the child `child` of a node whose states are
  // (*states)[begin..end): one vector holds the sets of every open level, innermost last.
  void ChildStates(std::vector<State>* states, size_t begin, size_t end,
                   const JsonLocationStep& child) const;
  // The lowest path index among `states` that is complete there, or -1: the rule that applies to
  // the node (the first in file order wins when several select the same value).
  int64_t Selected(const State* states, size_t count) const;

 private:
  std::vector<JsonPath> paths_;
};

}  // namespace sdp
