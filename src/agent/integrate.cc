#include "integrate.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "atomic_file.h"
#include "column_tokenizer.h"
#include "csv_batch_reader.h"
#include "csv_writer.h"
#include "progress.h"
#include "signals.h"

namespace sdp {
namespace {

struct ResultRow {
  std::string key, score, risk_band, model_version;
};

// The results in batch order, with a key index built only when needed. Results come back in the
// order of the tokenized file, which is the raw file's order, so the next result is almost
// always the one for the next raw row: checking it first avoids a hash lookup (a cache miss per
// row on a million keys). A raw file in another order, or with extra rows, falls back to the
// index, where the last result of a key wins.
class ResultIndex {
 public:
  const ResultRow* Find(std::string_view key) {
    if (next_ < rows.size() && rows[next_].key == key) return &rows[next_++];
    if (by_key_.empty() && !rows.empty()) {
      by_key_.reserve(rows.size());
      for (size_t i = 0; i < rows.size(); ++i) by_key_[rows[i].key] = i;
    }
    const auto it = by_key_.find(key);
    if (it == by_key_.end()) return nullptr;
    next_ = it->second + 1;
    return &rows[it->second];
  }

  std::vector<ResultRow> rows;

 private:
  size_t next_ = 0;
  std::unordered_map<std::string_view, size_t> by_key_;  // views into rows[].key
};

bool LoadResults(const std::string& csv, ResultIndex* out, std::string* err) {
  MemoryByteSource source(csv);
  CsvReader reader(&source);
  CsvTable table(&reader);
  if (!table.ReadHeader(err)) {
    *err = "results: " + *err;
    return false;
  }
  int key, score, band, model;
  if (!table.RequireColumn("record_key", &key, err) || !table.RequireColumn("score", &score, err) ||
      !table.RequireColumn("risk_band", &band, err) ||
      !table.RequireColumn("model_version", &model, err)) {
    *err = "results: " + *err;
    return false;
  }
  CsvRow row;
  while (table.Next(&row, err)) {
    out->rows.push_back(ResultRow{std::string(row.field(key)), std::string(row.field(score)),
                                  std::string(row.field(band)), std::string(row.field(model))});
  }
  if (!err->empty()) {
    *err = "results: " + *err;
    return false;
  }
  return true;
}

}  // namespace

bool IntegrateResults(const IntegrateJob& job, IntegrateReport* report, std::string* err) {
  const auto start = std::chrono::steady_clock::now();
  *report = IntegrateReport();
  ResultIndex results;
  if (!LoadResults(job.results_csv, &results, err)) return false;
  report->results = results.rows.size();

  // The key column as the server knows it: re-tokenized when the config tokenizes it.
  std::unique_ptr<ColumnTokenizer> key_tokenizer;
  if (job.config != nullptr) {
    if (const ColumnRule* rule = job.config->Find(job.key_column)) {
      if (rule->type != TokenType::kHash && rule->type != TokenType::kFpe) {
        *err = "key column '" + job.key_column + "' is tokenized as " + TokenTypeName(rule->type) +
               ", which cannot be re-derived to join; fix: tokenize the key column with HASH or "
               "FPE";
        return false;
      }
      if (job.keys == nullptr) {
        *err = "key column '" + job.key_column + "' is tokenized; fix: set SDP_CRYPTO_KEY";
        return false;
      }
      key_tokenizer = std::make_unique<ColumnTokenizer>();
      if (!key_tokenizer->Init(*rule, *job.config, *job.keys, err)) return false;
    }
  }

  const int fd = ::open(job.raw_input.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *err = job.raw_input + ": cannot open: " + std::strerror(errno) +
           "; fix: check the --raw-input path";
    return false;
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st;
  const uint64_t raw_bytes = ::fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  FdByteSource source(fd);
  CsvReader reader(&source);
  CsvTable table(&reader);
  auto located = [&](std::string* e) {
    *e = job.raw_input + ":" + (e->rfind("line ", 0) == 0 ? e->substr(5) : " " + *e);
    return false;
  };
  if (!table.ReadHeader(err)) return located(err);
  int key_index;
  if (!table.RequireColumn(job.key_column, &key_index, err)) return located(err);
  for (const char* added : {"score", "risk_band", "model_version"}) {
    if (table.ColumnIndex(added) >= 0) {
      *err = job.raw_input + ": already has a column '" + added +
             "'; fix: rename it before integrating results";
      return false;
    }
  }

  AtomicOutputFile out;
  if (!out.Open(job.output, err)) return false;
  CsvWriterOptions options;
  options.preserve_quoting = true;
  options.write_bom = reader.had_bom();
  options.escape_formulas = job.escape_formulas;
  options.line_ending =
      reader.line_ending() == LineEnding::kCrLf ? LineEnding::kCrLf : LineEnding::kLf;
  CsvWriter writer(out.sink(), options);
  const CsvRow& header = table.header_row();
  for (size_t i = 0; i < header.size(); ++i) {
    if (!writer.WriteField(header.field(i), header.was_quoted(i), err)) return false;
  }
  if (!writer.WriteField("score", err) || !writer.WriteField("risk_band", err) ||
      !writer.WriteField("model_version", err) || !writer.EndRow(header.ending(), err)) {
    return false;
  }

  CsvBatchReader batches(&table);
  Progress progress("integrate", raw_bytes);
  std::string token, lookup_err;
  const ResultRow empty;
  while (const RowBatch* batch = batches.Next(err)) {
    if (Interrupted()) {
      *err = "interrupted; nothing was written";
      return false;
    }
    for (size_t r = 0; r < batch->size; ++r) {
      const CsvRow& row = batch->rows[r];
      std::string_view key = row.field(key_index);
      if (key_tokenizer) {
        bool store = false;
        if (!key_tokenizer->Tokenize(key, &token, &store, &lookup_err)) {
          *err = job.raw_input + ":" + std::to_string(batch->lines[r]) + ": " + lookup_err;
          return false;
        }
        key = token;
      }
      const ResultRow* found = key.empty() ? nullptr : results.Find(key);
      const ResultRow& cells = found ? *found : empty;
      report->matched_rows += found != nullptr;
      for (size_t c = 0; c < row.size(); ++c) {
        if (!writer.WriteField(row.field(c), row.was_quoted(c), err)) return false;
      }
      // A row that ended the file without a newline gets one: result columns follow.
      if (!writer.WriteField(cells.score, err) || !writer.WriteField(cells.risk_band, err) ||
          !writer.WriteField(cells.model_version, err) ||
          !writer.EndRow(row.ending() == LineEnding::kNone ? options.line_ending : row.ending(),
                         err)) {
        return false;
      }
    }
    report->raw_rows += batch->size;
    progress.Update(report->raw_rows, batches.bytes_read());
  }
  if (!err->empty()) return located(err);
  if (!writer.Flush(err) || !out.Commit(err)) return false;
  report->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return true;
}

}  // namespace sdp
