// The round trip: tokenize, upload, wait for processing, fetch results, integrate.
#include "agent/pipeline/round_trip.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "agent/crypto/key_env.h"
#include "agent/support/exit_status.h"
#include "agent/support/signals.h"
#include "agent/tokenize/column_tokenizer.h"
#include "agent/tokenize/upload_manifest.h"
#include "common/atomic_file.h"
#include "common/csv_reader.h"
#include "common/read_file.h"
#include "common/scoped_fd.h"

namespace sdp {
namespace {

// Tokenizes the raw file, reusing an earlier run's tokenized file when it was made from the
// same raw bytes with the same config: RANDOM tokens differ on every run, and a re-run after a
// crash must upload the same content to resume the same batch.
bool TokenizeForUpload(const RoundTripOptions& options, const std::string& tokenized,
                       RoundTripResult* result, Failure* failure) {
  std::string err;
  const std::string stamp_path = tokenized + ".source";
  std::string raw_sha, config_sha;
  if (!Sha256File(options.raw_input, &raw_sha, &err) ||
      !Sha256File(options.config_path, &config_sha, &err)) {
    return Fail(failure, kExitFailure, err);
  }
  const std::string stamp = raw_sha + " " + config_sha + "\n";
  // A missing or unreadable stamp only means the tokenized file is not reused.
  std::string stamp_found, unused_err;
  if (::access(tokenized.c_str(), R_OK) == 0 &&
      ReadWholeFile(stamp_path, &stamp_found, &unused_err, stamp.size()) && stamp_found == stamp) {
    result->reused_tokenized = true;
    return true;
  }
  // The stamp goes first and comes back last: a crash in between (kill -9 after the new
  // tokenized file replaced the old one) must never leave an old stamp vouching for it.
  if (::unlink(stamp_path.c_str()) != 0 && errno != ENOENT) {
    return Fail(failure, kExitFailure,
                "cannot remove " + stamp_path + ": " + std::strerror(errno) +
                    "; fix: check permissions on its directory");
  }
  TokenizeJob job;
  if (!LoadTokenizationConfig(options.config_path, &job.config, &err)) {
    return Fail(failure, kExitConfig, err);
  }
  KeyRing keys;
  if (!LoadKeyRingFromEnv("SDP_CRYPTO_KEY", &keys, &err)) return Fail(failure, kExitConfig, err);
  job.input = options.raw_input;
  job.output = tokenized;
  job.vault_path = options.vault_path;
  if (!TokenizeCsvFile(job, keys, &result->tokenize, &err)) {
    return Fail(failure, Interrupted() ? kExitInterrupted : kExitFailure, err);
  }
  // Without the stamp a re-run would tokenize again (new RANDOM tokens, so another batch):
  // written atomically, and a failure to write it is an error.
  AtomicOutputFile out;
  if (!out.Open(stamp_path, &err) || !out.sink()->Write(stamp.data(), stamp.size(), &err) ||
      !out.Commit(&err)) {
    return Fail(failure, kExitFailure, err);
  }
  return true;
}

// The key of the first data row of `path` (header + one record), or "" when the file has none.
bool FirstKey(const std::string& path, const std::string& key_column, std::string* key,
              Failure* failure) {
  const ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return Fail(failure, kExitFailure,
                path + ": cannot open: " + std::strerror(errno) + "; fix: check the path");
  }
  FdByteSource source(fd.get());
  CsvReader reader(&source);
  CsvTable table(&reader);
  std::string err;
  int index = -1;
  CsvRow row;
  if (!table.ReadHeader(&err) || !table.RequireColumn(key_column, &index, &err)) {
    return Fail(
        failure, kExitUsage,
        path + ":1: " + err + "; fix: pass --key-column with the column both files join on");
  }
  key->clear();
  if (table.Next(&row, &err)) {
    key->assign(row.field(index));
  } else if (!err.empty()) {
    return Fail(failure, kExitFailure, path + ": " + err);
  }
  return true;
}

// With --tokenized-file the agent did not tokenize, yet the results come back keyed by the
// tokenized key column and are joined onto the raw file. Before anything is uploaded, the first
// raw key is turned into what the server will see (re-derived with --config when the config
// tokenizes the key column, else as it is) and compared with the tokenized file's first key: a
// mismatch means no result would ever match a raw row, so the run is refused with the fix
// instead of writing a merged file without results. (The tokenized file is the raw file in the
// same order, as tokenize-config writes it.)
bool CheckTokenizedKeyJoins(const RoundTripOptions& options, Failure* failure) {
  std::string raw_key, tokenized_key;
  if (!FirstKey(options.raw_input, options.key_column, &raw_key, failure) ||
      !FirstKey(options.tokenized_file, options.key_column, &tokenized_key, failure)) {
    return false;
  }
  if (raw_key.empty() || tokenized_key.empty()) return true;  // nothing to compare
  std::string expected = raw_key;
  std::string err;
  if (!options.config_path.empty()) {
    TokenizationConfig config;
    if (!LoadTokenizationConfig(options.config_path, &config, &err)) {
      return Fail(failure, kExitConfig, err);
    }
    const ColumnRule* rule = JoinKeyRule(config, options.key_column, &err);
    if (!err.empty()) return Fail(failure, kExitConfig, err);
    if (rule != nullptr) {
      KeyRing keys;
      if (!LoadKeyRingFromEnv("SDP_CRYPTO_KEY", &keys, &err)) {
        return Fail(failure, kExitConfig, err);
      }
      ColumnTokenizer tokenizer;
      bool store = false;
      if (!tokenizer.Init(*rule, config, keys, &err) ||
          !tokenizer.Tokenize(raw_key, &expected, &store, &err)) {
        return Fail(failure, kExitConfig, options.raw_input + ":2: " + err);
      }
    }
  }
  if (expected == tokenized_key) return true;
  if (expected == raw_key) {
    return Fail(failure, kExitUsage,
                "key column '" + options.key_column + "' of " + options.tokenized_file +
                    " is tokenized (its first key is not the first key of " + options.raw_input +
                    "), so no result could be joined back; fix: also pass --config with the "
                    "tokenization config the file was made with, so the agent re-derives the "
                    "tokens to join on");
  }
  return Fail(failure, kExitConfig,
              "key column '" + options.key_column + "' of " + options.tokenized_file +
                  " does not match " + options.raw_input + " tokenized with " +
                  options.config_path +
                  " (first data row), so no result could be joined back; fix: pass the raw file "
                  "the tokenized file was made from, with the same config and SDP_CRYPTO_KEY");
}

}  // namespace

bool WaitProcessed(const std::string& batch_id, double timeout_seconds, ServerTransport* transport,
                   BatchInfo* batch, Failure* failure) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<long>(timeout_seconds * 1000));
  auto delay = std::chrono::milliseconds(100);
  for (;;) {
    TransportError terr;
    if (!transport->GetBatch(batch_id, batch, &terr)) {
      return Fail(failure, ExitCodeFor(terr), DescribeTransportError("status", terr));
    }
    if (batch->status == "PROCESSED") return true;
    if (batch->status == "FAILED") {
      return Fail(failure, kExitRejected,
                  "batch " + batch_id + " FAILED on the server; fix: see `sdp-agent status " +
                      "--batch-id " + batch_id + "` and the server log");
    }
    if (Interrupted()) return Fail(failure, kExitInterrupted, "interrupted while waiting");
    if (std::chrono::steady_clock::now() + delay > deadline) {
      return Fail(failure, kExitRetryable,
                  "batch " + batch_id + " is still " + batch->status + " after " +
                      std::to_string(static_cast<long>(timeout_seconds)) +
                      " s; fix: check that the server's worker runs (sdp.auto_process = on), "
                      "raise --timeout, or pass --use-dev-processor on a dev server");
    }
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(2000));
  }
}

bool FetchAndIntegrate(const RoundTripOptions& options, const std::string& batch_id,
                       ServerTransport* transport, IntegrateReport* report, Failure* failure) {
  std::string err;
  TransportError terr;
  IntegrateJob job;
  if (!transport->FetchResultsCsv(batch_id, &job.results_csv, &terr)) {
    return Fail(failure, ExitCodeFor(terr), DescribeTransportError("fetching results", terr));
  }
  TokenizationConfig config;
  KeyRing keys;
  std::vector<KeyRing> other_keys;
  if (!options.config_path.empty()) {
    if (!LoadTokenizationConfig(options.config_path, &config, &err)) {
      return Fail(failure, kExitConfig, err);
    }
    job.config = &config;
    if (config.Find(options.key_column) != nullptr) {
      if (!LoadKeyRingFromEnv("SDP_CRYPTO_KEY", &keys, &err)) {
        return Fail(failure, kExitConfig, err);
      }
      job.keys = &keys;
      if (!LoadOtherRingKeys(keys, &other_keys, &err)) return Fail(failure, kExitConfig, err);
      for (const KeyRing& other : other_keys) job.other_keys.push_back(&other);
    }
  }
  job.raw_input = options.raw_input;
  job.output = options.output;
  job.key_column = options.key_column;
  job.escape_formulas = options.escape_formulas;
  if (!IntegrateResults(job, report, &err)) {
    return Fail(failure, Interrupted() ? kExitInterrupted : kExitFailure, err);
  }
  return true;
}

bool RunRoundTrip(const RoundTripOptions& options, ServerTransport* transport,
                  RoundTripResult* result, Failure* failure, const StepCallback& on_step) {
  *result = RoundTripResult();
  if (options.config_path.empty() && options.tokenized_file.empty()) {
    return Fail(failure, kExitUsage,
                "give --config (tokenize here) or --tokenized-file (already tokenized; with "
                "--config too when the key column was tokenized)");
  }
  // --config alone: tokenize here. --tokenized-file: upload that file as it is; a --config given
  // with it only serves to re-derive a tokenized key column for the join.
  const bool tokenize_here = options.tokenized_file.empty();
  std::string tokenized = options.tokenized_file;
  if (!tokenize_here && !CheckTokenizedKeyJoins(options, failure)) return false;
  if (tokenize_here) {
    tokenized =
        options.tokenized_path.empty() ? options.output + ".tokenized.csv" : options.tokenized_path;
    if (!TokenizeForUpload(options, tokenized, result, failure)) return false;
    if (on_step) on_step("tokenized", *result);
  }

  UploadJob upload;
  upload.file = tokenized;
  upload.client_id = options.client_id;
  upload.processing_type = options.processing_type;
  upload.key_column = options.key_column;
  upload.chunk_bytes = options.chunk_bytes;
  if (!options.config_path.empty()) {
    // The manifest tells the server's PII firewall how each column was tokenized.
    TokenizationConfig config;
    std::string err;
    if (!LoadTokenizationConfig(options.config_path, &config, &err)) {
      return Fail(failure, kExitConfig, err);
    }
    // With the key that made the tokens (when this agent knows it): which key version made each
    // column, so the server can rotate them later (docs/key_rotation.md).
    KeyRing keys;
    bool have_keys = false;
    if (!LoadKeyRingIfSet("SDP_CRYPTO_KEY", &keys, &have_keys, &err)) {
      return Fail(failure, kExitConfig, err);
    }
    upload.manifest = UploadManifestJson(config, have_keys ? &keys : nullptr);
  }
  if (!UploadCsvFile(upload, transport, &result->upload, failure)) {
    // The tokenized file is kept for a re-run to resume the same batch, which only makes sense
    // when the failure was transient. A refused file (malformed, invalid UTF-8, no rows) or a
    // rejected request will fail the same way again: leave nothing behind.
    if (tokenize_here && failure->exit_code != kExitRetryable &&
        failure->exit_code != kExitInterrupted) {
      ::unlink((tokenized + ".source").c_str());
      ::unlink(tokenized.c_str());
    }
    return false;
  }
  result->batch = result->upload.batch;
  if (on_step) on_step("uploaded", *result);

  if (options.use_dev_processor && result->batch.status != "PROCESSED") {
    TransportError terr;
    if (!transport->ProcessBatch(result->batch.batch_id, /*dev=*/true, &result->batch, &terr)) {
      return Fail(failure, ExitCodeFor(terr), DescribeTransportError("dev processing", terr));
    }
  }
  if (!WaitProcessed(result->batch.batch_id, options.timeout_seconds, transport, &result->batch,
                     failure)) {
    return false;
  }
  if (on_step) on_step("processed", *result);
  if (!FetchAndIntegrate(options, result->batch.batch_id, transport, &result->integrate, failure)) {
    return false;
  }
  if (on_step) on_step("integrated", *result);
  return true;
}

}  // namespace sdp
