// Datum <-> C++ conversions; see pg_datum.h.
#include "pg_datum.h"

#include <cstring>

namespace sdp::pg {

namespace {

[[noreturn]] void ThrowNullElement(const char* what, const char* hint) {
  throw sdp::Error("22004", std::string(what) + " contains NULL", "", hint ? hint : "");
}

template <typename T>
std::vector<T> FixedArrayArg(FunctionCallInfo fcinfo, int i, Oid elemtype, const char* what,
                             const char* null_hint) {
  ArrayType* array = PgCall([&] { return PG_GETARG_ARRAYTYPE_P(i); });
  if (ARR_ELEMTYPE(array) != elemtype) {
    throw sdp::Error(sqlstate::kInvalidParameter,
                     std::string(what) + " has the wrong element type");
  }
  if (ARR_NDIM(array) > 1) {
    throw sdp::Error(sqlstate::kInvalidParameter,
                     std::string(what) + " must be a one-dimensional array");
  }
  if (ARR_HASNULL(array)) ThrowNullElement(what, null_hint);
  const int n = ARR_NDIM(array) == 0 ? 0 : ARR_DIMS(array)[0];
  std::vector<T> out(static_cast<size_t>(n));
  if (n > 0) std::memcpy(out.data(), ARR_DATA_PTR(array), sizeof(T) * static_cast<size_t>(n));
  return out;
}

// What jsonb_array_elements_text() says of a value that is not an array.
[[noreturn]] void ThrowNotAnArray(const JsonbValue& v) {
  const bool object = v.type == jbvBinary && JsonContainerIsObject(v.val.binary.data);
  throw sdp::Error(sqlstate::kInvalidParameter, object ? "cannot extract elements from an object"
                                                       : "cannot extract elements from a scalar");
}

}  // namespace

// ---- arguments -----------------------------------------------------------------------------

void RequireArgs(FunctionCallInfo fcinfo, std::initializer_list<const char*> names) {
  int i = 0;
  for (const char* name : names) {
    if (name != nullptr && ArgIsNull(fcinfo, i)) {
      throw sdp::Error(sqlstate::kInvalidParameter, std::string("argument ") + name + " ($" +
                                                        std::to_string(i + 1) + ") is NULL");
    }
    ++i;
  }
}

std::string_view TextArgView(FunctionCallInfo fcinfo, int i) {
  text* value = PgCall([&] { return PG_GETARG_TEXT_PP(i); });
  return std::string_view(VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value));
}

std::string TextArg(FunctionCallInfo fcinfo, int i) { return std::string(TextArgView(fcinfo, i)); }

pg_uuid_t UuidArg(FunctionCallInfo fcinfo, int i) {
  return *PgCall([&] { return PG_GETARG_UUID_P(i); });
}

Bytes ByteaArg(FunctionCallInfo fcinfo, int i) {
  bytea* value = PgCall([&] { return PG_GETARG_BYTEA_PP(i); });
  return {reinterpret_cast<const uint8_t*>(VARDATA_ANY(value)),
          static_cast<size_t>(VARSIZE_ANY_EXHDR(value))};
}

TextArray TextArrayArg(FunctionCallInfo fcinfo, int i) {
  ArrayType* array = PgCall([&] { return PG_GETARG_ARRAYTYPE_P(i); });
  Datum* elems = nullptr;
  bool* nulls = nullptr;
  int n = 0;
  PgCall([&] { deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n); });
  TextArray out;
  out.data.resize(static_cast<size_t>(n));
  out.lens.resize(static_cast<size_t>(n));
  for (int k = 0; k < n; ++k) {
    if (nulls[k]) {
      out.data[k] = nullptr;
      out.lens[k] = -1;
      out.has_nulls = true;
    } else {
      const text* t = reinterpret_cast<const text*>(DatumGetPointer(elems[k]));
      out.data[k] = VARDATA_ANY(t);
      out.lens[k] = static_cast<int>(VARSIZE_ANY_EXHDR(t));
    }
  }
  return out;
}

std::vector<double> Float8ArrayArg(FunctionCallInfo fcinfo, int i, const char* what,
                                   const char* null_hint) {
  return FixedArrayArg<double>(fcinfo, i, FLOAT8OID, what, null_hint);
}

std::vector<int32_t> Int4ArrayArg(FunctionCallInfo fcinfo, int i, const char* what,
                                  const char* null_hint) {
  return FixedArrayArg<int32_t>(fcinfo, i, INT4OID, what, null_hint);
}

Jsonb* JsonbArg(FunctionCallInfo fcinfo, int i) {
  return PgCall([&] { return PG_GETARG_JSONB_P(i); });
}

// ---- jsonb ---------------------------------------------------------------------------------

std::optional<std::string> JsonbValueText(const JsonbValue& v) {
  switch (v.type) {
    case jbvNull:
      return std::nullopt;
    case jbvString:
      return std::string(v.val.string.val, v.val.string.len);
    case jbvBool:
      return std::string(v.val.boolean ? "true" : "false");
    case jbvNumeric: {
      char* s = PgCall([&] {
        return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric)));
      });
      std::string out(s);
      PgCall([&] { pfree(s); });
      return out;
    }
    case jbvBinary: {
      char* s =
          PgCall([&] { return JsonbToCString(nullptr, v.val.binary.data, v.val.binary.len); });
      std::string out(s);
      PgCall([&] { pfree(s); });
      return out;
    }
    default:
      throw sdp::Error(sqlstate::kInternal, "unexpected jsonb value type");
  }
}

JsonbObject::JsonbObject(const JsonbContainer* container)
    : container_(container != nullptr && JsonContainerIsObject(container) ? container : nullptr) {}

bool JsonbObject::Member(std::string_view key, JsonbValue* out) const {
  if (container_ == nullptr) return false;
  JsonbContainer* c = const_cast<JsonbContainer*>(container_);
  const JsonbValue* found = PgCall([&] {
    return getKeyJsonValueFromContainer(c, key.data(), static_cast<int>(key.size()), out);
  });
  return found != nullptr;
}

std::optional<JsonbObject> JsonbObject::Object(std::string_view key) const {
  JsonbValue v;
  if (!Member(key, &v) || v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data)) {
    return std::nullopt;
  }
  return JsonbObject(v.val.binary.data);
}

std::optional<double> JsonbObject::Float8(std::string_view key) const {
  JsonbValue v;
  if (!Member(key, &v)) return std::nullopt;
  const std::optional<std::string> text = JsonbValueText(v);
  if (!text) return std::nullopt;
  return ParseFloat8(*text);
}

std::optional<std::vector<double>> JsonbObject::Float8Array(std::string_view key, const char* what,
                                                            const char* null_hint) const {
  JsonbValue v;
  if (!Member(key, &v)) return std::nullopt;
  if (v.type != jbvBinary || !JsonContainerIsArray(v.val.binary.data)) ThrowNotAnArray(v);
  JsonbIterator* it = PgCall([&] { return JsonbIteratorInit(v.val.binary.data); });
  std::vector<double> out;
  bool has_null = false;
  JsonbValue elem;
  for (;;) {
    const JsonbIteratorToken tok = PgCall([&] { return JsonbIteratorNext(&it, &elem, true); });
    if (tok == WJB_DONE) break;
    if (tok != WJB_ELEM) continue;  // WJB_BEGIN_ARRAY / WJB_END_ARRAY
    const std::optional<std::string> text = JsonbValueText(elem);
    if (!text) {
      has_null = true;  // like the cast, the other elements are still converted first
      continue;
    }
    out.push_back(ParseFloat8(*text));
  }
  if (has_null) ThrowNullElement(what, null_hint);
  if (out.empty()) return std::nullopt;  // array_agg over no rows is NULL
  return out;
}

double ParseFloat8(const std::string& text) {
  return DatumGetFloat8(
      PgCall([&] { return DirectFunctionCall1(float8in, CStringGetDatum(text.c_str())); }));
}

// ---- results -------------------------------------------------------------------------------

Datum TextDatum(std::string_view value) {
  return PgCall([&] {
    return PointerGetDatum(cstring_to_text_with_len(value.data(), static_cast<int>(value.size())));
  });
}

Datum ByteaDatum(const void* data, size_t size) {
  return PgCall([&] { return PointerGetDatum(NewBytea(data, size)); });
}

Datum TextArrayDatum(const std::vector<std::string>& values) {
  const int n = static_cast<int>(values.size());
  return PgCall([&] {
    Datum* elems = static_cast<Datum*>(palloc(sizeof(Datum) * (n > 0 ? n : 1)));
    for (int i = 0; i < n; ++i) {
      elems[i] = PointerGetDatum(
          cstring_to_text_with_len(values[i].data(), static_cast<int>(values[i].size())));
    }
    return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
  });
}

Datum Int8ArrayDatum(const std::vector<int64_t>& values) {
  const int n = static_cast<int>(values.size());
  return PgCall([&] {
    Datum* elems = static_cast<Datum*>(palloc(sizeof(Datum) * (n > 0 ? n : 1)));
    for (int i = 0; i < n; ++i) elems[i] = Int64GetDatum(values[i]);
    return PointerGetDatum(construct_array(elems, n, INT8OID, 8, true, TYPALIGN_DOUBLE));
  });
}

Datum RecordDatum(FunctionCallInfo fcinfo, const std::vector<Datum>& values) {
  return PgCall([&] {
    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE) {
      ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                      errmsg("function returning a record called in a context that cannot "
                             "accept one")));
    }
    desc = BlessTupleDesc(desc);
    if (desc->natts != static_cast<int>(values.size())) {
      ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                      errmsg("result type has %d columns, the function built %d", desc->natts,
                             static_cast<int>(values.size()))));
    }
    bool* nulls = static_cast<bool*>(palloc0(sizeof(bool) * (values.empty() ? 1 : values.size())));
    return HeapTupleGetDatum(heap_form_tuple(desc, const_cast<Datum*>(values.data()), nulls));
  });
}

// ---- C-style -------------------------------------------------------------------------------

bytea* NewBytea(const void* data, size_t size) {
  bytea* out = static_cast<bytea*>(palloc(size + VARHDRSZ));
  SET_VARSIZE(out, size + VARHDRSZ);
  if (size > 0) std::memcpy(VARDATA(out), data, size);
  return out;
}

Datum UuidDatumFromCString(const char* text) {
  return DirectFunctionCall1(uuid_in, CStringGetDatum(text));
}

}  // namespace sdp::pg
