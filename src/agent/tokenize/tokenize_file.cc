// Streaming a CSV file through the column tokenizers on worker threads, writing the vault and the
// output atomically.
#include "agent/tokenize/tokenize_file.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "agent/support/progress.h"
#include "agent/support/signals.h"
#include "agent/tokenize/column_tokenizer.h"
#include "agent/tokenize/csv_batch_reader.h"
#include "agent/vault/vault.h"
#include "common/atomic_file.h"
#include "common/csv_writer.h"
#include "common/scoped_fd.h"

namespace sdp {
namespace {

// Vault entries per SQLite transaction. Every commit writes each index page the transaction
// touched to the WAL again, and random tokens touch nearly all of them, so fewer, larger commits
// write much less (measured at 5M entries: a third of the commit CPU of 200,000-entry commits).
// An interrupted run loses at most this many entries, none of which has a token in any output yet:
// the output file is only renamed into place after the last commit.
constexpr uint64_t kVaultCommitEvery = 1000000;

// Everything both directions share: the input opened and its header read, the output opened,
// and one ColumnTokenizer per configured column present in the header.
class FileSession {
 public:
  bool Open(const std::string& input, const std::string& output, const TokenizationConfig& config,
            const std::vector<std::string>& only_columns, const KeyRing& keys, std::string* err) {
    input_name_ = input;
    in_.reset(::open(input.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in_.valid()) {
      *err = input + ": cannot open: " + std::strerror(errno) + "; fix: check the --input path";
      return false;
    }
    struct stat st;
    if (::fstat(in_.get(), &st) == 0) input_bytes_ = static_cast<uint64_t>(st.st_size);
    source_ = std::make_unique<FdByteSource>(in_.get());
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
  ScopedFd in_;
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

// Tokenizing runs on worker threads, one batch of rows each, while the reader thread parses
// ahead and this thread writes finished batches in input order and inserts their (already
// sealed) vault entries. Each worker owns its tokenizers and sealer: cipher contexts are not
// shared between threads.
struct VaultRecord {
  size_t column = 0;
  bool unique = false;  // a fresh random token: no duplicate check needed
  int64_t lookup = 0;   // VaultLookupKey(domain, token)
  std::string token, nonce, sealed;
};

struct TokenizedBatch {
  uint64_t seq = 0;
  std::unique_ptr<RowBatch> rows;
  std::string csv;
  std::vector<VaultRecord> vault;  // [0, vault_count) valid; capacity reused
  size_t vault_count = 0;
  uint64_t cells = 0;
  std::string err;
};

class TokenizeWorkers {
 public:
  TokenizeWorkers(const std::string& input_name, const TokenizationConfig& config,
                  const std::vector<std::string>& columns, const KeyRing& keys, bool seal,
                  size_t threads)
      : input_name_(input_name) {
    for (const std::string& column : columns) {
      const ColumnRule* rule = config.Find(column);
      lookups_.emplace_back(rule != nullptr ? rule->domain : std::string());
    }
    for (size_t t = 0; t < threads; ++t) {
      auto state = std::make_unique<WorkerState>();
      state->tokenizers.resize(columns.size());
      for (size_t c = 0; c < columns.size(); ++c) {
        const ColumnRule* rule = config.Find(columns[c]);
        if (rule == nullptr) continue;
        state->tokenizers[c] = std::make_unique<ColumnTokenizer>();
        if (!state->tokenizers[c]->Init(*rule, config, keys, &init_error_)) return;
      }
      if (seal && !state->sealer.Init(keys, &init_error_)) return;
      states_.push_back(std::move(state));
    }
    for (auto& state : states_) {
      threads_.emplace_back([this, seal, st = state.get()] {
        // With a vault, the thread inserting into it is the critical path and the workers have
        // time to spare: they yield the CPU to it (measured on 2 cores: 3-5% less wall time).
        // Best effort; a failure only costs that.
        if (seal) ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 8);
        Loop(st);
      });
    }
  }

  ~TokenizeWorkers() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

  const std::string& init_error() const { return init_error_; }

  void Submit(std::unique_ptr<TokenizedBatch> job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      todo_.push_back(std::move(job));
    }
    cv_.notify_all();
  }

  // Blocks until batch `seq` is tokenized.
  std::unique_ptr<TokenizedBatch> Wait(uint64_t seq) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_.count(seq) > 0; });
    auto job = std::move(done_[seq]);
    done_.erase(seq);
    return job;
  }

 private:
  struct WorkerState {
    std::vector<std::unique_ptr<ColumnTokenizer>> tokenizers;
    VaultSealer sealer;
    std::string value;
  };

  void Loop(WorkerState* st) {
    for (;;) {
      std::unique_ptr<TokenizedBatch> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stop_ || !todo_.empty(); });
        if (stop_) return;
        job = std::move(todo_.front());
        todo_.pop_front();
      }
      Tokenize(st, job.get());
      {
        std::lock_guard<std::mutex> lock(mu_);
        const uint64_t seq = job->seq;
        done_[seq] = std::move(job);
      }
      cv_.notify_all();
    }
  }

  void Tokenize(WorkerState* st, TokenizedBatch* job) {
    job->csv.clear();
    job->vault_count = 0;
    job->cells = 0;
    job->err.clear();
    StringByteSink sink(&job->csv);
    CsvWriterOptions options;
    options.preserve_quoting = true;
    options.continues_output = true;  // the header and earlier batches came first
    CsvWriter writer(&sink, options);
    std::string& err = job->err;
    const RowBatch& batch = *job->rows;
    for (size_t r = 0; r < batch.size; ++r) {
      const CsvRow& row = batch.rows[r];
      for (size_t c = 0; c < row.size(); ++c) {
        ColumnTokenizer* tokenizer = st->tokenizers[c].get();
        if (tokenizer == nullptr) {
          writer.WriteField(row.field(c), row.was_quoted(c), &err);
          continue;
        }
        bool store = false;
        if (!tokenizer->Tokenize(row.field(c), &st->value, &store, &err)) {
          err = input_name_ + ":" + std::to_string(batch.lines[r]) + ": " + err;
          return;
        }
        if (store) {
          if (job->vault_count == job->vault.size()) job->vault.emplace_back();
          VaultRecord& rec = job->vault[job->vault_count++];
          rec.column = c;
          rec.unique = tokenizer->last_token_random();
          rec.token = st->value;
          rec.lookup = lookups_[c].Key(rec.token);
          if (!st->sealer.Seal(tokenizer->rule().domain, rec.token, row.field(c), &rec.nonce,
                               &rec.sealed, &err)) {
            return;
          }
        }
        ++job->cells;
        writer.WriteField(st->value, row.was_quoted(c), &err);
      }
      writer.EndRow(row.ending(), &err);
    }
  }

  std::string input_name_;
  std::string init_error_;
  std::vector<VaultDomainLookup> lookups_;  // per column; read-only, shared by the workers
  std::vector<std::unique_ptr<WorkerState>> states_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<TokenizedBatch>> todo_;
  std::map<uint64_t, std::unique_ptr<TokenizedBatch>> done_;
  bool stop_ = false;
};

size_t WorkerThreads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 2 : std::min<unsigned>(std::max<unsigned>(n, 2), 8);
}

bool TokenizeParallel(FileSession* session, const TokenizationConfig& config, const KeyRing& keys,
                      Vault* vault, FileReport* report, std::string* err) {
  // Batches tokenized ahead of the writer. With a vault, this thread stops for a while whenever
  // the vault inserts its queued entries (Vault::kMaxPending, about 40,000 rows' worth); the
  // workers must be able to run ahead through such a pause, or they idle and the run is serial.
  const size_t kInFlight = vault != nullptr ? 32 : 6;
  CsvBatchReader reader(session->table(), 2048, kInFlight + 2);
  TokenizeWorkers workers(session->input_name(), config, session->table()->columns(), keys,
                          vault != nullptr, WorkerThreads());
  if (!workers.init_error().empty()) {
    *err = workers.init_error();
    return false;
  }
  std::vector<std::string> domains(session->table()->columns().size());
  for (size_t c = 0; c < domains.size(); ++c) {
    if (const ColumnRule* rule = config.Find(session->table()->columns()[c])) {
      domains[c] = rule->domain;
    }
  }
  Progress progress("tokenize", session->input_bytes());
  ByteSink* sink = session->out()->sink();
  std::deque<std::unique_ptr<TokenizedBatch>> spare;
  uint64_t submitted = 0, written = 0;
  bool eof = false;
  std::string read_err;
  for (;;) {
    while (!eof && submitted - written < kInFlight) {
      std::unique_ptr<RowBatch> rows = reader.Take(&read_err);
      if (!rows) {
        eof = true;
        break;
      }
      std::unique_ptr<TokenizedBatch> job;
      if (spare.empty()) {
        job = std::make_unique<TokenizedBatch>();
      } else {
        job = std::move(spare.front());
        spare.pop_front();
      }
      job->seq = submitted++;
      job->rows = std::move(rows);
      workers.Submit(std::move(job));
    }
    if (written == submitted) break;
    std::unique_ptr<TokenizedBatch> job = workers.Wait(written++);
    if (!job->err.empty()) {
      *err = job->err;
      return false;
    }
    if (Interrupted()) {
      *err = "interrupted; nothing was written";
      return false;
    }
    if (!sink->Write(job->csv.data(), job->csv.size(), err)) return false;
    for (size_t i = 0; i < job->vault_count; ++i) {
      const VaultRecord& rec = job->vault[i];
      if (!vault->PutSealed(domains[rec.column], rec.token, rec.lookup, rec.nonce, rec.sealed,
                            rec.unique, err)) {
        return false;
      }
      if (++report->vault_puts % kVaultCommitEvery == 0 &&
          !vault->Commit(err, Vault::Durability::kDeferred)) {
        return false;
      }
    }
    report->rows += job->rows->size;
    report->cells += job->cells;
    reader.Recycle(std::move(job->rows));
    spare.push_back(std::move(job));
    progress.Update(report->rows, reader.bytes_read());
  }
  if (!read_err.empty()) {
    *err = read_err;
    return session->Located(err);
  }
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
  if (!session.writer()->Flush(err)) return false;  // the header, before the batches
  if (!TokenizeParallel(&session, job.config, keys, vault.get(), report, err)) return false;
  // Vault first, and on disk (fsynced): every token in the output must be restorable once the
  // output exists, even after a power loss.
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
