#include "tokenize_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>

#include "atomic_file.h"
#include "column_tokenizer.h"
#include "csv_batch_reader.h"
#include "csv_writer.h"
#include "progress.h"
#include "signals.h"
#include "vault.h"

namespace sdp {
namespace {

// Vault entries per SQLite transaction: large enough to amortise the commit, small enough that
// an interrupted run has little to redo.
constexpr uint64_t kVaultCommitEvery = 200000;

struct FdCloser {
  int fd = -1;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

// Everything both directions share: the input opened and its header read, the output opened,
// and one ColumnTokenizer per configured column present in the header.
class FileSession {
 public:
  bool Open(const std::string& input, const std::string& output, const TokenizationConfig& config,
            const std::vector<std::string>& only_columns, const KeyRing& keys, std::string* err) {
    input_name_ = input;
    in_.fd = ::open(input.c_str(), O_RDONLY | O_CLOEXEC);
    if (in_.fd < 0) {
      *err = input + ": cannot open: " + std::strerror(errno) + "; fix: check the --input path";
      return false;
    }
    struct stat st;
    if (::fstat(in_.fd, &st) == 0) input_bytes_ = static_cast<uint64_t>(st.st_size);
    source_ = std::make_unique<FdByteSource>(in_.fd);
    reader_ = std::make_unique<CsvReader>(source_.get());
    table_ = std::make_unique<CsvTable>(reader_.get());
    if (!table_->ReadHeader(err)) return Located(err);
    if (!only_columns.empty()) {
      for (const auto& name : only_columns) {
        int index;
        if (!table_->RequireColumn(name, &index, err)) return Located(err);
        if (config.Find(name) == nullptr) {
          *err = "column '" + name + "' has no rule in the config; fix: add it to the config";
          return false;
        }
      }
    } else if (!CheckConfigAgainstHeader(config, table_->columns(), err)) {
      return Located(err);
    }
    tokenizers_.resize(table_->columns().size());
    for (size_t i = 0; i < table_->columns().size(); ++i) {
      const std::string& name = table_->columns()[i];
      const ColumnRule* rule = config.Find(name);
      if (rule == nullptr) continue;
      if (!only_columns.empty() &&
          std::find(only_columns.begin(), only_columns.end(), name) == only_columns.end()) {
        continue;
      }
      tokenizers_[i] = std::make_unique<ColumnTokenizer>();
      if (!tokenizers_[i]->Init(*rule, config, keys, err)) return false;
      needs_vault_ = needs_vault_ || tokenizers_[i]->uses_vault();
    }
    if (!out_.Open(output, err)) return false;
    CsvWriterOptions options;
    options.preserve_quoting = true;
    options.write_bom = reader_->had_bom();
    options.line_ending =
        reader_->line_ending() == LineEnding::kCrLf ? LineEnding::kCrLf : LineEnding::kLf;
    writer_ = std::make_unique<CsvWriter>(out_.sink(), options);
    if (!writer_->WriteRowMirrored(table_->header_row(), err)) return false;
    return true;
  }

  // Prefixes a reader error ("line N: ...") with the input file name.
  bool Located(std::string* err) {
    *err = input_name_ + ":" + (err->rfind("line ", 0) == 0 ? err->substr(5) : " " + *err);
    return false;
  }

  CsvTable* table() { return table_.get(); }
  CsvWriter* writer() { return writer_.get(); }
  AtomicOutputFile* out() { return &out_; }
  uint64_t input_bytes() const { return input_bytes_; }
  bool needs_vault() const { return needs_vault_; }
  std::vector<std::unique_ptr<ColumnTokenizer>>& tokenizers() { return tokenizers_; }
  const std::string& input_name() const { return input_name_; }

 private:
  std::string input_name_;
  FdCloser in_;
  uint64_t input_bytes_ = 0;
  std::unique_ptr<FdByteSource> source_;
  std::unique_ptr<CsvReader> reader_;
  std::unique_ptr<CsvTable> table_;
  AtomicOutputFile out_;
  std::unique_ptr<CsvWriter> writer_;
  std::vector<std::unique_ptr<ColumnTokenizer>> tokenizers_;
  bool needs_vault_ = false;
};

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

template <typename CellFn>
bool StreamRows(FileSession* session, const char* what, FileReport* report, CellFn&& cell,
                std::string* err) {
  CsvBatchReader batches(session->table());
  Progress progress(what, session->input_bytes());
  std::string value;
  auto& tokenizers = session->tokenizers();
  CsvWriter* writer = session->writer();
  while (const RowBatch* batch = batches.Next(err)) {
    if (Interrupted()) {
      *err = "interrupted; nothing was written";
      return false;
    }
    for (size_t r = 0; r < batch->size; ++r) {
      const CsvRow& row = batch->rows[r];
      for (size_t c = 0; c < row.size(); ++c) {
        ColumnTokenizer* tokenizer = tokenizers[c].get();
        if (tokenizer == nullptr) {
          if (!writer->WriteField(row.field(c), row.was_quoted(c), err)) return false;
          continue;
        }
        if (!cell(tokenizer, row.field(c), &value, err)) {
          *err = session->input_name() + ":" + std::to_string(batch->lines[r]) + ": " + *err;
          return false;
        }
        ++report->cells;
        if (!writer->WriteField(value, row.was_quoted(c), err)) return false;
      }
      if (!writer->EndRow(row.ending(), err)) return false;
    }
    report->rows += batch->size;
    progress.Update(report->rows, batches.bytes_read());
  }
  if (!err->empty()) return session->Located(err);
  return true;
}

}  // namespace

bool TokenizeCsvFile(const TokenizeJob& job, const KeyRing& keys, FileReport* report,
                     std::string* err) {
  const auto start = std::chrono::steady_clock::now();
  *report = FileReport();
  FileSession session;
  if (!session.Open(job.input, job.output, job.config, {}, keys, err)) return false;
  std::unique_ptr<Vault> vault;
  if (session.needs_vault()) {
    vault = std::make_unique<Vault>();
    if (!vault->Open(job.vault_path, Vault::Mode::kReadWrite, keys, err)) return false;
  }
  bool store = false;
  auto tokenize_cell = [&](ColumnTokenizer* tokenizer, std::string_view in, std::string* out,
                           std::string* cell_err) {
    if (!tokenizer->Tokenize(in, out, &store, cell_err)) return false;
    if (store) {
      if (!vault->Put(tokenizer->rule().domain, *out, in, cell_err)) return false;
      if (++report->vault_puts % kVaultCommitEvery == 0 && !vault->Commit(cell_err)) return false;
    }
    return true;
  };
  if (!StreamRows(&session, "tokenize", report, tokenize_cell, err)) return false;
  // Vault first: every token in the output must be restorable once the output exists.
  if (vault && !vault->Commit(err)) return false;
  if (!session.writer()->Flush(err) || !session.out()->Commit(err)) return false;
  report->seconds = SecondsSince(start);
  return true;
}

bool DetokenizeCsvFile(const DetokenizeJob& job, const KeyRing& keys, FileReport* report,
                       std::string* err) {
  const auto start = std::chrono::steady_clock::now();
  *report = FileReport();
  FileSession session;
  if (!session.Open(job.input, job.output, job.config, job.only_columns, keys, err)) return false;
  std::unique_ptr<Vault> vault;
  if (session.needs_vault()) {
    vault = std::make_unique<Vault>();
    if (!vault->Open(job.vault_path, Vault::Mode::kReadOnly, keys, err)) return false;
  }
  auto restore_cell = [&](ColumnTokenizer* tokenizer, std::string_view in, std::string* out,
                          std::string* cell_err) {
    return tokenizer->Detokenize(in, vault.get(), out, cell_err);
  };
  if (!StreamRows(&session, "detokenize", report, restore_cell, err)) return false;
  if (!session.writer()->Flush(err) || !session.out()->Commit(err)) return false;
  report->seconds = SecondsSince(start);
  return true;
}

}  // namespace sdp
