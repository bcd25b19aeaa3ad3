// Ingestion internals called by the SQL API in sql/20_ingest.sql (sdp_ingest_csv,
// sdp_ingest_json, sdp_batch_open/append/seal). The SQL layer does the tenant check,
// idempotency and the batch row; these functions parse and bulk-insert the rows.
//
//   sdp._load_csv(batch_id, client_id, csv, key_column, first_row_no, columns, chunk_seq,
//                 firewall)
//   sdp._load_json(batch_id, client_id, records, key_column, firewall)
//   sdp._max_batch_bytes()
// Every cell passes the PII firewall (firewall.h) before its row is buffered; the symbols
// without the firewall argument (sdp_load_csv, sdp_load_json) stay for the 0.1.0 install script
// (docs/releases.md: a changed C signature gets a new symbol).
// The SHA-256 functions of the same SQL file are in digest.cc.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/pii/firewall.h"
#include "common/shown_value.h"
#include "common/text.h"
#include "csv_reader.h"
// Backend headers last (pg.h rule).
#include "bulk_insert.h"
#include "firewall.h"
#include "gucs.h"
#include "pg_datum.h"

namespace {

using sdp::ColumnList;
using sdp::EchoedValue;
using sdp::Error;
namespace sqlstate = sdp::sqlstate;

// A text[] argument without NULL elements as strings.
std::vector<std::string> ColumnsArg(FunctionCallInfo fcinfo, int i) {
  const sdp::pg::TextArray array = sdp::pg::TextArrayArg(fcinfo, i);
  if (array.has_nulls) throw Error(sqlstate::kInvalidParameter, "column list contains NULL");
  std::vector<std::string> out;
  out.reserve(array.size());
  for (size_t k = 0; k < array.size(); ++k) out.emplace_back(array[k]);
  return out;
}

// The sdp._load_result composite (columns text[], records bigint).
Datum LoadResult(FunctionCallInfo fcinfo, const std::vector<std::string>& columns,
                 int64_t records) {
  return sdp::pg::RecordDatum(fcinfo, {sdp::pg::TextArrayDatum(columns), Int64GetDatum(records)});
}

int FindKeyColumn(const std::vector<std::string>& columns, const std::string& key_column,
                  const std::string& available) {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == key_column) return static_cast<int>(i);
  }
  throw Error(
      sqlstate::kInvalidParameter,
      "key column \"" + EchoedValue(key_column) + "\" not found; available columns: " + available,
      "", "name an existing column with key_column (X-Key-Column), e.g. customer_id");
}

// The firewall argument (sdp._firewall_spec: [column, transform, allowed classes]...) as one
// policy per column of the upload; a column it does not name is CLEAR. Empty when the firewall
// is off (sdp.pii_firewall) or the argument is NULL (the 0.1.0 symbols).
std::vector<sdp::pii::ColumnPolicy> FirewallPolicies(FunctionCallInfo fcinfo, int arg,
                                                     const std::vector<std::string>& columns) {
  std::vector<sdp::pii::ColumnPolicy> policies;
  if (!sdp::guc::pii_firewall || arg < 0 || sdp::pg::ArgIsNull(fcinfo, arg)) return policies;
  policies.resize(columns.size());
  const sdp::pg::TextArray spec = sdp::pg::TextArrayArg(fcinfo, arg);
  if (spec.has_nulls || spec.size() % 3 != 0) {
    throw Error(sqlstate::kInvalidParameter,
                "firewall spec must be [column, transform, classes]...");
  }
  for (size_t k = 0; k < spec.size(); k += 3) {
    sdp::pii::ColumnPolicy policy;
    if (!sdp::pii::ParseTransform(spec[k + 1], &policy.transform)) {
      throw Error(sqlstate::kInvalidParameter,
                  "firewall spec: unknown transform \"" + EchoedValue(spec[k + 1]) + "\"");
    }
    std::string_view classes = spec[k + 2];
    while (!classes.empty()) {
      const size_t comma = classes.find(',');
      const std::string_view name = classes.substr(0, comma);
      sdp::pii::FirewallClass cls;
      if (sdp::pii::ParseFirewallClass(name, &cls)) policy.allowed.Add(cls);
      classes = comma == std::string_view::npos ? std::string_view() : classes.substr(comma + 1);
    }
    for (size_t i = 0; i < columns.size(); ++i) {
      if (columns[i] == spec[k]) policies[i] = policy;
    }
  }
  return policies;
}

// Feeds rows into the bulk inserter, checking keys, the PII firewall and interrupts.
class RowSink {
 public:
  // Empty-key errors name the position as `where_prefix` + `unit` + " " + N. `policies`: one per
  // column (empty: no firewall); `columns` names them in refusals.
  RowSink(const pg_uuid_t& batch, const std::string& client, int64_t first_row_no, int key_index,
          const std::string& key_column, std::string where_prefix, const char* unit,
          std::vector<sdp::pii::ColumnPolicy> policies = {},
          const std::vector<std::string>* columns = nullptr)
      : batch_(batch),
        client_(client),
        row_no_(first_row_no),
        key_index_(key_index),
        key_column_(key_column),
        where_prefix_(std::move(where_prefix)),
        unit_(unit),
        policies_(std::move(policies)),
        columns_(columns) {
    inserter_ = sdp::pg::PgCall([&] {
      return sdp::pg::BulkOpen(sdp::pg::BulkTable::kTokenizedRecord, &batch, client.c_str(),
                               nullptr);
    });
  }

  // `position` is the line (CSV) or record (JSON) number, for error messages.
  void Add(const std::vector<std::string_view>& fields, uint64_t position) {
    const std::string_view key = fields[key_index_];
    if (key.empty()) {
      throw Error(sqlstate::kInvalidParameter,
                  where_prefix_ + unit_ + " " + std::to_string(position) +
                      ": empty value in key column \"" + EchoedValue(key_column_) + "\"",
                  "", "every record needs a non-empty key to join results back");
    }
    if (!policies_.empty()) CheckFirewall(fields, position);
    ptrs_.clear();
    lens_.clear();
    for (std::string_view f : fields) {
      ptrs_.push_back(f.data());
      lens_.push_back(static_cast<int>(f.size()));
    }
    const int64 row_no = row_no_;
    const int n = static_cast<int>(fields.size());
    sdp::pg::BulkInserter* b = inserter_;
    sdp::pg::PgCall([&] {
      sdp::pg::BulkAddRecord(b, row_no, key.data(), static_cast<int>(key.size()), n, ptrs_.data(),
                             lens_.data());
    });
    ++row_no_;
    if ((++count_ % sdp::pg::kRowsBetweenInterruptChecks) == 0) sdp::pg::CheckForInterrupts();
  }

  int64_t Finish() {
    sdp::pg::BulkInserter* b = inserter_;
    sdp::pg::PgCall([&] { sdp::pg::BulkFinish(b); });
    return count_;
  }

 private:
  // Refuses the whole upload (PT422) at the first cell the firewall refuses: the error rolls back
  // every row stored so far. The value is never echoed.
  void CheckFirewall(const std::vector<std::string_view>& fields, uint64_t position) {
    const size_t n = std::min(fields.size(), policies_.size());
    for (size_t i = 0; i < n; ++i) {
      const sdp::pii::FirewallClass cls = sdp::pii::CheckCell(policies_[i], fields[i], &scratch_);
      if (cls == sdp::pii::FirewallClass::kNone) continue;
      sdp::firewall::Refusal refusal;
      refusal.batch = batch_;
      refusal.client = client_;
      refusal.column = (*columns_)[i];
      refusal.row = row_no_;
      refusal.cls = cls;
      refusal.transform = policies_[i].transform;
      sdp::firewall::RecordRefusal(refusal);
      const std::string column = EchoedValue((*columns_)[i]);
      throw Error(sqlstate::kUnprocessable,
                  std::string("PII firewall: ") + where_prefix_ + "row " + std::to_string(row_no_) +
                      " (" + unit_ + " " + std::to_string(position) + "), column \"" + column +
                      "\" holds " +
                      (cls == sdp::pii::FirewallClass::kTokenShape  ? "a value that is not a token"
                       : cls == sdp::pii::FirewallClass::kMaskShape ? "a value that is not a mask"
                                                                    : "raw PII") +
                      " (class " + sdp::pii::FirewallClassName(cls) + ", declared " +
                      sdp::pii::TransformName(policies_[i].transform) +
                      "); the whole upload was refused and nothing was stored",
                  "",
                  "tokenize the column before the upload (configs/README.md) and declare it in the "
                  "manifest; if the column holds no PII, an administrator can allow it with "
                  "sdp_firewall_allow(client, column, class)");
    }
  }

  pg_uuid_t batch_;
  std::string client_;
  sdp::pg::BulkInserter* inserter_ = nullptr;
  int64_t row_no_;
  int key_index_;
  std::string key_column_;
  std::string where_prefix_;
  const char* unit_;
  int64_t count_ = 0;
  std::vector<const char*> ptrs_;
  std::vector<int> lens_;
  std::vector<sdp::pii::ColumnPolicy> policies_;
  const std::vector<std::string>* columns_;
  std::string scratch_;
};

bool IsBlank(std::string_view s) {
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

}  // namespace

// sdp._load_csv(batch_id uuid, client_id text, csv text, key_column text, first_row_no bigint,
//               columns text[], chunk_seq int[, firewall text[]]) RETURNS sdp._load_result
// columns NULL: the first record is the header (whole body, or chunk 0); otherwise the body is
// rows only, with the given columns. chunk_seq (may be NULL) only labels error messages.
// `firewall_arg`: the position of the firewall argument, -1 for the 0.1.0 declaration.
static Datum LoadCsv(FunctionCallInfo fcinfo, int firewall_arg) {
  sdp::pg::RequireArgs(fcinfo, {"batch_id", "client_id", "csv", "key_column", "first_row_no"});
  const pg_uuid_t batch = sdp::pg::UuidArg(fcinfo, 0);
  const std::string client = sdp::pg::TextArg(fcinfo, 1);
  const std::string_view body = sdp::pg::TextArgView(fcinfo, 2);
  const std::string key_column = sdp::pg::TextArg(fcinfo, 3);
  const int64_t first_row_no = PG_GETARG_INT64(4);
  const bool header_mode = sdp::pg::ArgIsNull(fcinfo, 5);
  const bool chunked = !sdp::pg::ArgIsNull(fcinfo, 6);
  const std::string label =
      chunked ? "malformed CSV in chunk " + std::to_string(PG_GETARG_INT32(6)) + ": "
              : std::string("malformed CSV: ");
  const std::string where_prefix =
      chunked ? "chunk " + std::to_string(PG_GETARG_INT32(6)) + ", " : std::string();

  if (body.empty() || (header_mode && IsBlank(body))) {
    throw Error(sqlstate::kInvalidParameter,
                chunked ? "chunk " + std::to_string(PG_GETARG_INT32(6)) + " is empty"
                        : std::string("empty body: no CSV header and no rows"),
                "", "send a CSV whose first line names the columns, e.g. customer_id,age");
  }

  sdp::MemoryByteSource source(body);
  sdp::CsvReader reader(&source);
  sdp::CsvTable table(&reader);
  std::string err;
  std::vector<std::string> columns;
  if (header_mode) {
    if (!table.ReadHeader(&err)) throw Error(sqlstate::kBadCopyFormat, label + err);
    columns = table.columns();
  } else {
    columns = ColumnsArg(fcinfo, 5);
  }
  const int key_index = FindKeyColumn(columns, key_column, ColumnList(columns));

  RowSink sink(batch, client, first_row_no, key_index, key_column, where_prefix, "line",
               FirewallPolicies(fcinfo, firewall_arg, columns), &columns);
  sdp::CsvRow row;
  std::vector<std::string_view> fields;
  for (;;) {
    const bool got = header_mode ? table.Next(&row, &err) : reader.Next(&row, &err);
    if (!got) {
      if (!err.empty()) throw Error(sqlstate::kBadCopyFormat, label + err);
      break;
    }
    if (!header_mode && row.size() != columns.size()) {
      throw Error(sqlstate::kBadCopyFormat,
                  label + "line " + std::to_string(reader.line()) + ": record has " +
                      std::to_string(row.size()) + " field" + (row.size() == 1 ? "" : "s") +
                      " but the header has " + std::to_string(columns.size()) +
                      "; fix: later chunks carry whole rows only, no header, one value per "
                      "column");
    }
    fields.clear();
    for (size_t i = 0; i < row.size(); ++i) fields.push_back(row.field(i));
    sink.Add(fields, reader.line());
  }
  const int64_t records = sink.Finish();
  if (records == 0 && !chunked) {
    throw Error(sqlstate::kInvalidParameter, "CSV has a header but no data rows", "",
                "send at least one record");
  }
  return LoadResult(fcinfo, columns, records);
}

SDP_PG_FUNCTION(sdp_load_csv) { return LoadCsv(fcinfo, -1); }
SDP_PG_FUNCTION(sdp_load_csv_checked) { return LoadCsv(fcinfo, 7); }

namespace {

// JSON scalar as the text a CSV cell would hold; nested values are refused.
std::string ScalarText(const JsonbValue& v, int record, const std::string& key) {
  if (v.type == jbvBinary) {
    throw Error(sqlstate::kInvalidParameter,
                "record " + std::to_string(record) + ": field \"" + EchoedValue(key) +
                    "\" is not a scalar; records must be flat JSON objects");
  }
  return sdp::pg::JsonbValueText(v).value_or(std::string());
}

}  // namespace

// sdp._load_json(batch_id uuid, client_id text, records jsonb, key_column text[,
//                firewall text[]]) RETURNS sdp._load_result
// records: a JSON array of flat objects. The first object's keys are the columns; a later
// object may omit keys (empty value) but not add new ones.
static Datum LoadJson(FunctionCallInfo fcinfo, int firewall_arg) {
  sdp::pg::RequireArgs(fcinfo, {"batch_id", "client_id", "records", "key_column"});
  const pg_uuid_t batch = sdp::pg::UuidArg(fcinfo, 0);
  const std::string client = sdp::pg::TextArg(fcinfo, 1);
  Jsonb* jb = sdp::pg::JsonbArg(fcinfo, 2);
  const std::string key_column = sdp::pg::TextArg(fcinfo, 3);
  if (!JB_ROOT_IS_ARRAY(jb) || JB_ROOT_IS_SCALAR(jb)) {
    throw Error(sqlstate::kInvalidParameter,
                "records must be a JSON array of objects, or {\"records\": [...]}");
  }
  JsonbIterator* it = sdp::pg::PgCall([&] { return JsonbIteratorInit(&jb->root); });
  JsonbValue v;
  auto next = [&]() { return sdp::pg::PgCall([&] { return JsonbIteratorNext(&it, &v, false); }); };

  std::vector<std::string> columns;
  std::unordered_map<std::string, int> index;
  std::vector<std::string> values;
  std::vector<bool> seen;
  std::vector<std::string_view> fields;
  RowSink* sink = nullptr;  // opened once the first record fixed the columns
  std::unique_ptr<RowSink> sink_owner;
  int record = 0;

  JsonbIteratorToken tok = next();  // WJB_BEGIN_ARRAY
  for (;;) {
    tok = next();
    if (tok == WJB_END_ARRAY || tok == WJB_DONE) break;
    ++record;
    if (tok != WJB_BEGIN_OBJECT) {
      throw Error(sqlstate::kInvalidParameter,
                  "record " + std::to_string(record) + " is not a JSON object");
    }
    const bool first = record == 1;
    if (!first) {
      for (auto& value : values) value.clear();
      std::fill(seen.begin(), seen.end(), false);
    }
    for (;;) {
      tok = next();
      if (tok == WJB_END_OBJECT) break;
      // tok == WJB_KEY
      std::string key(v.val.string.val, v.val.string.len);
      tok = next();
      if (tok != WJB_VALUE) {
        throw Error(sqlstate::kInvalidParameter,
                    "record " + std::to_string(record) + ": field \"" + EchoedValue(key) +
                        "\" is not a scalar; records must be flat JSON objects");
      }
      std::string text = ScalarText(v, record, key);
      if (first) {
        index.emplace(key, static_cast<int>(columns.size()));
        columns.push_back(std::move(key));
        values.push_back(std::move(text));
        seen.push_back(true);
      } else {
        auto found = index.find(key);
        if (found == index.end()) {
          throw Error(
              sqlstate::kInvalidParameter,
              "record " + std::to_string(record) + ": key \"" + EchoedValue(key) +
                  "\" is not in the first record; available columns: " + ColumnList(columns),
              "", "every record must use the keys of the first one");
        }
        values[found->second] = std::move(text);
        seen[found->second] = true;
      }
    }
    if (first) {
      if (columns.empty()) {
        throw Error(sqlstate::kInvalidParameter, "record 1 is an empty object");
      }
      const int key_index = FindKeyColumn(columns, key_column, ColumnList(columns));
      sink_owner =
          std::make_unique<RowSink>(batch, client, 1, key_index, key_column, "", "record",
                                    FirewallPolicies(fcinfo, firewall_arg, columns), &columns);
      sink = sink_owner.get();
    }
    fields.clear();
    for (const std::string& value : values) fields.emplace_back(value);
    sink->Add(fields, static_cast<uint64_t>(record));
  }
  if (sink == nullptr) {
    throw Error(sqlstate::kInvalidParameter, "empty body: the records array is empty", "",
                "send at least one record");
  }
  const int64_t records = sink->Finish();
  return LoadResult(fcinfo, columns, records);
}

SDP_PG_FUNCTION(sdp_load_json) { return LoadJson(fcinfo, -1); }
SDP_PG_FUNCTION(sdp_load_json_checked) { return LoadJson(fcinfo, 4); }

// sdp._max_batch_bytes() RETURNS bigint: sdp.max_batch_bytes in bytes.
SDP_PG_FUNCTION(sdp_max_batch_bytes) { return Int64GetDatum(sdp::guc::max_batch_bytes); }
