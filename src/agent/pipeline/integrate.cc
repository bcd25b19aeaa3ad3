// Joining the server's results back onto the raw file by record key (positional fast path, key
// index, repeated keys).
#include "agent/pipeline/integrate.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "agent/pipeline/result_cells.h"
#include "agent/support/progress.h"
#include "agent/support/signals.h"
#include "agent/tokenize/column_tokenizer.h"
#include "agent/tokenize/csv_batch_reader.h"
#include "agent/tokenize/token_type.h"
#include "common/atomic_file.h"
#include "common/csv_writer.h"
#include "common/scoped_fd.h"

namespace sdp {
namespace {

// Views into ResultIndex::arena.
struct ResultRow {
  std::string_view key, score, risk_band, model_version;
};

// The results in batch order, and which result each key gets: the LAST one in batch order when a
// key has several (a record sent twice in one batch), for every raw row with that key, whatever
// the raw file's order. Results come back in the order of the tokenized file, which is the raw
// file's order, so the result for a raw row is almost always the one after the previous row's:
// checking it first avoids a hash lookup (a cache miss per row on a million keys). That shortcut
// is only taken for keys known to occur once; a key with several results always resolves to its
// last one. A raw file in another order, or with extra rows, falls back to a full key index.
// Prepare() runs once before Find(), which may then be called from several threads, each with
// its own cursor.
class ResultIndex {
 public:
  // Marks every result whose key may occur more than once (equal hash tags: a false positive
  // only costs an exact lookup) and records, for the keys that really do, their last result and
  // whether their results disagree.
  void Prepare() {
    MarkPossibleRepeats();
    for (size_t i = 0; i < rows.size(); ++i) {
      if (!may_repeat_[i]) continue;
      auto [it, inserted] = repeated_.try_emplace(rows[i].key, Repeated{i, i, 0, false});
      Repeated& r = it->second;
      if (inserted) continue;
      const ResultRow& first = rows[r.first];
      r.disagree =
          r.disagree || rows[i].score != first.score || rows[i].risk_band != first.risk_band;
      r.last = i;
      ++r.extra;
    }
    for (const auto& [key, r] : repeated_) {
      keys_with_several_results_ += r.extra > 0;
      disagreeing_keys_ += r.disagree;
    }
  }

  const ResultRow* Find(std::string_view key, size_t* cursor) const {
    if (*cursor < rows.size() && rows[*cursor].key == key) {
      const size_t at = (*cursor)++;
      return may_repeat_[at] ? &rows[repeated_.find(key)->second.last] : &rows[at];
    }
    std::call_once(built_, [this] {
      by_key_.reserve(rows.size());
      for (size_t i = 0; i < rows.size(); ++i) by_key_[rows[i].key] = i;  // the last one wins
    });
    const auto it = by_key_.find(key);
    if (it == by_key_.end()) return nullptr;
    *cursor = it->second + 1;
    return &rows[it->second];
  }

  uint64_t keys_with_several_results() const { return keys_with_several_results_; }
  uint64_t disagreeing_keys() const { return disagreeing_keys_; }

  std::vector<ResultRow> rows;
  // The fields' bytes, one after another: a 1M-row result set in one allocation instead of 4M
  // strings (measured: a fifth of the local join's time went to building and freeing them).
  // Reserved up front to the size of the CSV they come from, so it never moves.
  std::string arena;

 private:
  struct Repeated {
    size_t first, last;
    uint64_t extra;  // results after the first
    bool disagree;   // some result has another score or band than the first
  };
  std::vector<uint8_t> may_repeat_;                          // per row
  std::unordered_map<std::string_view, Repeated> repeated_;  // keys of rows that may repeat
  uint64_t keys_with_several_results_ = 0, disagreeing_keys_ = 0;
  // may_repeat_[i] = 1 when another result has the same hash tag as rows[i]. Open addressing on
  // 8-byte slots (the upper half of the key's hash, and its row): for 1M results a 16 MB table
  // that stays cheap next to the join itself. Past 2^32 results (not a real case: the arena
  // alone would be over 100 GB) a row would not fit a slot, so every key takes the exact path.
  void MarkPossibleRepeats() {
    const size_t n = rows.size();
    if (n > UINT32_MAX) {
      may_repeat_.assign(n, 1);
      return;
    }
    may_repeat_.assign(n, 0);
    size_t capacity = 16;
    while (capacity < 2 * n) capacity <<= 1;
    struct Slot {
      uint32_t tag = 0;  // 0: empty
      uint32_t row = 0;
    };
    std::vector<Slot> slots(capacity);
    const std::hash<std::string_view> hasher;
    for (size_t i = 0; i < n; ++i) {
      const uint64_t hash = hasher(rows[i].key);
      const uint32_t tag = static_cast<uint32_t>(hash >> 32) | 1;
      for (size_t at = hash & (capacity - 1);; at = (at + 1) & (capacity - 1)) {
        if (slots[at].tag == 0) {
          slots[at] = Slot{tag, static_cast<uint32_t>(i)};
          break;
        }
        if (slots[at].tag == tag) {
          may_repeat_[slots[at].row] = 1;
          may_repeat_[i] = 1;
          break;
        }
      }
    }
  }

  mutable std::once_flag built_;
  mutable std::unordered_map<std::string_view, size_t> by_key_;  // views into rows[].key
};

// Formats one batch of raw rows with their result columns. Two of these run at once, on
// alternate batches (see IntegrateResults); each has its own tokenizer, writer and cursor.
class BatchMerger {
 public:
  BatchMerger(const IntegrateJob& job, const ResultIndex& results, int key_index,
              const CsvWriterOptions& options)
      : job_(job), results_(results), key_index_(key_index), options_(options) {}

  // The key column as the server knows it: re-tokenized when the config tokenizes it.
  bool Init(std::string* err) {
    if (job_.config == nullptr) return true;
    const ColumnRule* rule = JoinKeyRule(*job_.config, job_.key_column, err);
    if (rule == nullptr) return err->empty();
    if (job_.keys == nullptr) {
      *err = "key column '" + job_.key_column + "' is tokenized; fix: set SDP_CRYPTO_KEY";
      return false;
    }
    key_tokenizer_ = std::make_unique<ColumnTokenizer>();
    if (!key_tokenizer_->Init(*rule, *job_.config, *job_.keys, err)) return false;
    for (const KeyRing* other : job_.other_keys) {
      other_tokenizers_.push_back(std::make_unique<ColumnTokenizer>());
      if (!other_tokenizers_.back()->Init(*rule, *job_.config, *other, err)) return false;
    }
    return true;
  }

  // Appends the merged rows of `batch` to *out; `first_row` is the batch's index among the raw
  // rows (where its results start when raw file and results are aligned).
  bool Merge(const RowBatch& batch, uint64_t first_row, std::string* out, uint64_t* matched,
             std::string* err) {
    out->clear();
    *matched = 0;
    StringByteSink sink(out);
    CsvWriter writer(&sink, options_);
    size_t cursor = first_row;
    const ResultRow empty;
    for (size_t r = 0; r < batch.size; ++r) {
      const CsvRow& row = batch.rows[r];
      std::string_view key = row.field(key_index_);
      if (key_tokenizer_) {
        bool store = false;
        if (!key_tokenizer_->Tokenize(key, &token_, &store, &lookup_err_)) {
          *err = job_.raw_input + ":" + std::to_string(batch.lines[r]) + ": " + lookup_err_;
          return false;
        }
        key = token_;
      }
      const ResultRow* found = key.empty() ? nullptr : results_.Find(key, &cursor);
      // Not under the primary key: the token an older key of the ring made (deterministic key
      // columns only, so re-deriving it is exact).
      for (size_t k = 0; found == nullptr && !key.empty() && k < other_tokenizers_.size(); ++k) {
        bool store = false;
        if (!other_tokenizers_[k]->Tokenize(row.field(key_index_), &other_token_, &store,
                                            &lookup_err_)) {
          *err = job_.raw_input + ":" + std::to_string(batch.lines[r]) + ": " + lookup_err_;
          return false;
        }
        found = results_.Find(other_token_, &cursor);
      }
      const ResultRow& cells = found ? *found : empty;
      *matched += found != nullptr;
      // A row that ended the file without a newline gets one: result columns follow.
      const LineEnding ending =
          row.ending() == LineEnding::kNone ? options_.line_ending : row.ending();
      if (!options_.escape_formulas) {
        // The raw fields as they came (what the writer would produce, see
        // AppendPreservingQuotes), then the result cells, which are validated (result_cells.h)
        // and never need quotes. Measured: about twice as fast as a WriteField per field.
        row.AppendPreservingQuotes(out);
        for (const std::string_view cell : {cells.score, cells.risk_band, cells.model_version}) {
          out->push_back(',');
          out->append(cell);
        }
        out->append(ending == LineEnding::kCrLf ? "\r\n" : "\n");
        continue;
      }
      for (size_t c = 0; c < row.size(); ++c) {
        if (!writer.WriteField(row.field(c), row.was_quoted(c), err)) return false;
      }
      if (!writer.WriteField(cells.score, err) || !writer.WriteField(cells.risk_band, err) ||
          !writer.WriteField(cells.model_version, err) || !writer.EndRow(ending, err)) {
        return false;
      }
    }
    return true;
  }

 private:
  const IntegrateJob& job_;
  const ResultIndex& results_;
  int key_index_;
  CsvWriterOptions options_;
  std::unique_ptr<ColumnTokenizer> key_tokenizer_;
  std::vector<std::unique_ptr<ColumnTokenizer>> other_tokenizers_;
  std::string token_, other_token_, lookup_err_;
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
  out->arena.reserve(csv.size());  // fields are never longer than the CSV holding them
  CsvRow row;
  while (table.Next(&row, err)) {
    size_t bytes = 0;
    for (const int i : {key, score, band, model}) bytes += row.field(i).size();
    if (out->arena.size() + bytes > out->arena.capacity()) {  // cannot happen; never dangle
      *err = "results: internal error: fields larger than the results CSV";
      return false;
    }
    auto keep = [out](std::string_view field) {
      const size_t at = out->arena.size();
      out->arena.append(field);
      return std::string_view(out->arena).substr(at, field.size());
    };
    // Nothing from the server reaches the merged file unchecked: it sits next to raw PII and is
    // opened in spreadsheets (see result_cells.h).
    if (!ValidateResultCells(row.field(score), row.field(band), row.field(model), err)) {
      *err = "results: line " + std::to_string(reader.line()) + ": " + *err +
             "; fix: the server sent a result this agent does not accept (a broken or hostile "
             "server); nothing was written, report it to the server's operator";
      return false;
    }
    out->rows.push_back(ResultRow{keep(row.field(key)), keep(row.field(score)),
                                  keep(row.field(band)), keep(row.field(model))});
  }
  if (!err->empty()) {
    *err = "results: " + *err;
    return false;
  }
  out->Prepare();
  return true;
}

}  // namespace

const ColumnRule* JoinKeyRule(const TokenizationConfig& config, const std::string& key_column,
                              std::string* err) {
  err->clear();
  const ColumnRule* rule = config.Find(key_column);
  if (rule == nullptr || TraitsOf(rule->type).join_key) return rule;
  *err = "key column '" + key_column + "' is tokenized as " + TokenTypeName(rule->type) +
         ", which cannot be re-derived to join; fix: tokenize the key column with " +
         ListTokenTypes([](const TokenTypeTraits& t) { return t.join_key; }, " or ");
  return nullptr;
}

bool IntegrateResults(const IntegrateJob& job, IntegrateReport* report, std::string* err) {
  const auto start = std::chrono::steady_clock::now();
  *report = IntegrateReport();
  ResultIndex results;
  if (!LoadResults(job.results_csv, &results, err)) return false;
  report->results = results.rows.size();
  report->keys_with_several_results = results.keys_with_several_results();
  report->disagreeing_keys = results.disagreeing_keys();

  const ScopedFd fd(::open(job.raw_input.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    *err = job.raw_input + ": cannot open: " + std::strerror(errno) +
           "; fix: check the --raw-input path";
    return false;
  }
  struct stat st;
  const uint64_t raw_bytes = ::fstat(fd.get(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  FdByteSource source(fd.get());
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

  CsvWriterOptions batch_options = options;
  batch_options.continues_output = true;  // after the header: no BOM, no start-of-file quoting
  BatchMerger here(job, results, key_index, batch_options);
  BatchMerger there(job, results, key_index, batch_options);
  if (!here.Init(err) || !there.Init(err)) return false;
  if (!writer.Flush(err)) return false;  // the header, before the batches

  // Batches are merged two at a time, one on this thread and one on a helper, then written in
  // order: the per-row work (key lookup, re-quoting 20 fields) is most of the time and the
  // reader thread leaves a core for it (measured: ~1.8 s -> ~1.2 s for 1M rows on 2 cores).
  CsvBatchReader batches(&table, 2048, 6);
  Progress progress("integrate", raw_bytes);
  ByteSink* sink = out.sink();
  std::string out_a, out_b, err_b;
  for (;;) {
    if (Interrupted()) {
      *err = "interrupted; nothing was written";
      return false;
    }
    std::unique_ptr<RowBatch> a = batches.Take(err);
    if (!a) break;
    std::unique_ptr<RowBatch> b = batches.Take(err);
    if (!b && !err->empty()) break;
    const uint64_t first_a = report->raw_rows;
    const uint64_t first_b = first_a + a->size;
    uint64_t matched_a = 0, matched_b = 0;
    bool ok_b = true;
    std::thread helper;
    if (b) {
      helper = std::thread([&] { ok_b = there.Merge(*b, first_b, &out_b, &matched_b, &err_b); });
    }
    const bool ok_a = here.Merge(*a, first_a, &out_a, &matched_a, err);
    if (helper.joinable()) helper.join();
    if (!ok_a) return false;
    if (!ok_b) {
      *err = err_b;
      return false;
    }
    if (!sink->Write(out_a.data(), out_a.size(), err)) return false;
    if (b && !sink->Write(out_b.data(), out_b.size(), err)) return false;
    report->raw_rows = first_b + (b ? b->size : 0);
    report->matched_rows += matched_a + matched_b;
    const bool end_of_input = !b;
    batches.Recycle(std::move(a));
    if (b) batches.Recycle(std::move(b));
    progress.Update(report->raw_rows, batches.bytes_read());
    if (end_of_input) break;
  }
  if (!err->empty()) return located(err);
  if (!writer.Flush(err) || !out.Commit(err)) return false;
  report->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return true;
}

}  // namespace sdp
