// The one layer between Datums and C++ values: reading arguments (text, uuid, bytea, arrays,
// jsonb objects) and building results. Every SQL-callable C++ function converts through here, so
// detoasting, NULL checks and the errors for malformed arguments are written once.
//
// Two kinds of helpers:
//  * Bridge-safe (namespace sdp::pg, most of this file): may be called from C++ frames; every
//    backend call inside runs under PgCall, so a backend error arrives as an sdp::Error.
//  * C-style (marked below): plain backend code that may ereport, for code that already runs
//    inside PgCall or in C frames (bulk_insert.cc, worker.cc). Never call those from a C++ frame
//    that owns something with a destructor.
//
// Views (std::string_view, Bytes, TextArray) point into the argument itself or into its
// detoasted copy, which lives in the memory context of the call: valid until the function
// returns, never to be kept beyond it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pg_bridge.h"

namespace sdp::pg {

// ---- arguments -----------------------------------------------------------------------------

inline bool ArgIsNull(FunctionCallInfo fcinfo, int i) { return PG_ARGISNULL(i); }

// Refuses a NULL in any argument that has a name here: names[i] names argument i (nullptr for
// one that may be NULL). 22023 "argument <name> ($<i+1>) is NULL".
void RequireArgs(FunctionCallInfo fcinfo, std::initializer_list<const char*> names);

// The text argument `i`, viewed without a copy.
std::string_view TextArgView(FunctionCallInfo fcinfo, int i);
// The text argument `i` as an owned string (for a value that must be wiped, or needs c_str()).
std::string TextArg(FunctionCallInfo fcinfo, int i);

pg_uuid_t UuidArg(FunctionCallInfo fcinfo, int i);

struct Bytes {
  const uint8_t* data;
  size_t size;
  std::string_view chars() const { return {reinterpret_cast<const char*>(data), size}; }
};
// The bytea argument `i`, viewed without a copy.
Bytes ByteaArg(FunctionCallInfo fcinfo, int i);

// The elements of a text[] argument, in place. A NULL element has data nullptr and length -1,
// the encoding integrity_crypto.h and bulk_insert.h take.
struct TextArray {
  std::vector<const char*> data;
  std::vector<int> lens;
  bool has_nulls = false;
  size_t size() const { return data.size(); }
  std::string_view operator[](size_t k) const {
    return lens[k] < 0 ? std::string_view() : std::string_view(data[k], lens[k]);
  }
};
TextArray TextArrayArg(FunctionCallInfo fcinfo, int i);

// One-dimensional (or empty) float8[] / int4[] arguments without NULL elements, copied out.
// `what` names the argument in errors: wrong element type or dimensions 22023, a NULL element
// 22004 "<what> contains NULL" with `null_hint`.
std::vector<double> Float8ArrayArg(FunctionCallInfo fcinfo, int i, const char* what,
                                   const char* null_hint = "");
std::vector<int32_t> Int4ArrayArg(FunctionCallInfo fcinfo, int i, const char* what,
                                  const char* null_hint = "");

// The jsonb argument `i` (detoasted).
Jsonb* JsonbArg(FunctionCallInfo fcinfo, int i);

// ---- jsonb ---------------------------------------------------------------------------------

// A JSON scalar as the text `->>` gives for it: a string unquoted, a number as numeric_out
// writes it, true/false; std::nullopt for JSON null. Arrays and objects: their JSON text.
std::optional<std::string> JsonbValueText(const JsonbValue& v);

// Members of a jsonb object, read the way the SQL operators read them: a document that is not an
// object has no members (like `->` on an array or a scalar).
class JsonbObject {
 public:
  explicit JsonbObject(const JsonbContainer* container);
  static JsonbObject Of(const Jsonb* jb) { return JsonbObject(&jb->root); }

  // `obj -> key` as an object: absent (nullopt) unless the member exists and is an object.
  std::optional<JsonbObject> Object(std::string_view key) const;
  // `(obj ->> key)::float8`: nullopt when absent or JSON null; a value that is not a number
  // fails like the cast (22P02).
  std::optional<double> Float8(std::string_view key) const;
  // The elements of `obj -> key` cast to float8, like array_agg over jsonb_array_elements_text:
  // nullopt when absent or an empty array; a member that is not an array fails like that
  // function (22023); a JSON null element fails 22004 ("<what> contains NULL", `null_hint`).
  std::optional<std::vector<double>> Float8Array(std::string_view key, const char* what,
                                                 const char* null_hint = "") const;

 private:
  // The member `key`, or false when absent (or when this is not an object).
  bool Member(std::string_view key, JsonbValue* out) const;

  const JsonbContainer* container_;  // nullptr: not an object
};

// The float8 input function on `text`: the same value and the same errors as `text::float8`.
double ParseFloat8(const std::string& text);

// ---- results -------------------------------------------------------------------------------

// palloc'ed results in the current memory context.
Datum TextDatum(std::string_view value);
Datum ByteaDatum(const void* data, size_t size);
Datum TextArrayDatum(const std::vector<std::string>& values);
Datum Int8ArrayDatum(const std::vector<int64_t>& values);
// A row of the function's composite result type (RETURNS some_type), from its column values.
Datum RecordDatum(FunctionCallInfo fcinfo, const std::vector<Datum>& values);

// ---- C-style (may ereport; see the top of this file) ---------------------------------------

// A palloc'ed bytea holding a copy of `size` bytes.
bytea* NewBytea(const void* data, size_t size);
// The uuid whose text form is `text` (uuid_in: malformed text raises 22P02).
Datum UuidDatumFromCString(const char* text);

}  // namespace sdp::pg
