// Commands that talk to the server: upload-batch, process-batch, integrate-results, status.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "command.h"
#include "exit_status.h"
#include "integrate.h"
#include "key_env.h"
#include "signals.h"
#include "tokenize_file.h"
#include "transport.h"
#include "uploader.h"

namespace sdp {
namespace {

struct ServerFlags {
  std::string server_url;
  std::string client_id;
  std::string processing_type;
  std::string key_column = "customer_id";
  std::string file;      // upload-batch
  std::string batch_id;  // status, integrate-results
  std::string raw_input, output, config, tokenized_file;
  bool use_dev_processor = false;
  bool insecure_http = false;
  bool escape_formulas = false;
  double timeout_seconds = 600;
  size_t chunk_kb = 8192;
  std::string vault = "token_vault.db";
};

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

bool OpenTransport(const ServerFlags& flags, std::unique_ptr<ServerTransport>* transport,
                   std::string* err) {
  TransportOptions options;
  options.url = flags.server_url.empty() ? Env("SDP_SERVER_URL") : flags.server_url;
  options.client_id = flags.client_id;
  options.api_key = Env("SDP_API_KEY");
  options.ca_bundle = Env("SDP_CA_BUNDLE");
  options.client_cert = Env("SDP_CLIENT_CERT");
  options.client_key = Env("SDP_CLIENT_KEY");
  options.insecure_http = flags.insecure_http;
  return MakeTransport(options, transport, err);
}

nlohmann::json BatchJson(const BatchInfo& b) {
  nlohmann::json j = {{"batch_id", b.batch_id},
                      {"client_id", b.client_id},
                      {"processing_type", b.processing_type},
                      {"status", b.status},
                      {"accepted_records", b.accepted_records},
                      {"processed_records", b.processed_records}};
  if (!b.model_version.empty()) j["model_version"] = b.model_version;
  if (!b.content_sha256.empty()) j["content_sha256"] = b.content_sha256;
  return j;
}

void PrintJson(const nlohmann::json& j) { std::printf("%s\n", j.dump().c_str()); }

int Upload(const ServerFlags& flags, const std::string& file, ServerTransport* transport,
           UploadOutcome* outcome) {
  UploadJob job;
  job.file = file;
  job.client_id = flags.client_id;
  job.processing_type = flags.processing_type;
  job.key_column = flags.key_column;
  job.chunk_bytes = flags.chunk_kb << 10;
  std::string err;
  int exit_code = kExitFailure;
  if (!UploadCsvFile(job, transport, outcome, &err, &exit_code)) {
    return ReportError(exit_code, err);
  }
  return kExitOk;
}

int RunUpload(const ServerFlags& flags) {
  std::unique_ptr<ServerTransport> transport;
  std::string err;
  if (!OpenTransport(flags, &transport, &err)) return ReportError(kExitConfig, err);
  UploadOutcome outcome;
  if (int rc = Upload(flags, flags.file, transport.get(), &outcome)) return rc;
  PrintJson({{"batch_id", outcome.batch.batch_id},
             {"accepted_records", outcome.batch.accepted_records},
             {"status", outcome.batch.status}});
  return kExitOk;
}

// Waits until the batch is PROCESSED (or FAILED), polling with backoff.
int WaitProcessed(const ServerFlags& flags, ServerTransport* transport, BatchInfo* batch) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<long>(flags.timeout_seconds * 1000));
  auto delay = std::chrono::milliseconds(100);
  for (;;) {
    TransportError terr;
    if (!transport->GetBatch(batch->batch_id, batch, &terr)) {
      return ReportError(ExitCodeFor(terr), DescribeTransportError("status", terr));
    }
    if (batch->status == "PROCESSED") return kExitOk;
    if (batch->status == "FAILED") {
      return ReportError(kExitRejected, "batch " + batch->batch_id +
                                            " FAILED on the server; fix: see `sdp-agent status "
                                            "--batch-id " +
                                            batch->batch_id + "` and the server log");
    }
    if (Interrupted()) return ReportError(kExitInterrupted, "interrupted while waiting");
    if (std::chrono::steady_clock::now() + delay > deadline) {
      return ReportError(kExitRetryable,
                         "batch " + batch->batch_id + " is still " + batch->status + " after " +
                             std::to_string(static_cast<long>(flags.timeout_seconds)) +
                             " s; fix: check that the server's worker runs (sdp.auto_process = "
                             "on), raise --timeout, or pass --use-dev-processor on a dev server");
    }
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(2000));
  }
}

int Integrate(const ServerFlags& flags, const std::string& batch_id, ServerTransport* transport,
              IntegrateReport* report) {
  std::string err;
  TransportError terr;
  IntegrateJob job;
  if (!transport->FetchResultsCsv(batch_id, &job.results_csv, &terr)) {
    return ReportError(ExitCodeFor(terr), DescribeTransportError("fetching results", terr));
  }
  TokenizationConfig config;
  KeyRing keys;
  if (!flags.config.empty()) {
    if (!LoadTokenizationConfig(flags.config, &config, &err)) return ReportError(kExitConfig, err);
    job.config = &config;
    if (config.Find(flags.key_column) != nullptr) {
      if (!LoadKeyRingFromEnv("SDP_CRYPTO_KEY", &keys, &err)) {
        return ReportError(kExitConfig, err);
      }
      job.keys = &keys;
    }
  }
  job.raw_input = flags.raw_input;
  job.output = flags.output;
  job.key_column = flags.key_column;
  job.escape_formulas = flags.escape_formulas;
  if (!IntegrateResults(job, report, &err)) {
    return ReportError(Interrupted() ? kExitInterrupted : kExitFailure, err);
  }
  return kExitOk;
}

int RunIntegrate(const ServerFlags& flags) {
  std::unique_ptr<ServerTransport> transport;
  std::string err;
  if (!OpenTransport(flags, &transport, &err)) return ReportError(kExitConfig, err);
  IntegrateReport report;
  if (int rc = Integrate(flags, flags.batch_id, transport.get(), &report)) return rc;
  PrintJson({{"batch_id", flags.batch_id},
             {"raw_rows", report.raw_rows},
             {"matched_rows", report.matched_rows},
             {"output", flags.output}});
  return kExitOk;
}

int RunStatus(const ServerFlags& flags) {
  std::unique_ptr<ServerTransport> transport;
  std::string err;
  if (!OpenTransport(flags, &transport, &err)) return ReportError(kExitConfig, err);
  BatchInfo batch;
  TransportError terr;
  if (!transport->GetBatch(flags.batch_id, &batch, &terr)) {
    return ReportError(ExitCodeFor(terr), DescribeTransportError("status", terr));
  }
  PrintJson(BatchJson(batch));
  return kExitOk;
}

std::string ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Tokenizes the raw file for process-batch, reusing an earlier run's tokenized file when it was
// made from the same raw bytes with the same config: RANDOM tokens differ on every run, and a
// re-run after a crash must upload the same content to resume the same batch.
int TokenizeForProcess(const ServerFlags& flags, std::string* tokenized) {
  std::string err;
  *tokenized = flags.output + ".tokenized.csv";
  const std::string stamp_path = *tokenized + ".source";
  std::string raw_sha, config_sha;
  if (!Sha256File(flags.raw_input, &raw_sha, &err) ||
      !Sha256File(flags.config, &config_sha, &err)) {
    return ReportError(kExitFailure, err);
  }
  const std::string stamp = raw_sha + " " + config_sha + "\n";
  if (::access(tokenized->c_str(), R_OK) == 0 && ReadSmallFile(stamp_path) == stamp) {
    std::fprintf(stderr, "sdp-agent: reusing %s (same raw file and config)\n", tokenized->c_str());
    return kExitOk;
  }
  TokenizeJob job;
  if (!LoadTokenizationConfig(flags.config, &job.config, &err)) {
    return ReportError(kExitConfig, err);
  }
  KeyRing keys;
  if (!LoadKeyRingFromEnv("SDP_CRYPTO_KEY", &keys, &err)) return ReportError(kExitConfig, err);
  job.input = flags.raw_input;
  job.output = *tokenized;
  job.vault_path = flags.vault;
  FileReport report;
  if (!TokenizeCsvFile(job, keys, &report, &err)) {
    return ReportError(Interrupted() ? kExitInterrupted : kExitFailure, err);
  }
  std::ofstream(stamp_path) << stamp;
  std::fprintf(stderr, "sdp-agent: tokenized %llu rows in %.2f s -> %s\n",
               static_cast<unsigned long long>(report.rows), report.seconds, tokenized->c_str());
  return kExitOk;
}

int RunProcess(const ServerFlags& flags) {
  std::string err;
  if (flags.config.empty() == flags.tokenized_file.empty()) {
    return ReportError(kExitUsage,
                       "process-batch needs exactly one of --config (tokenize here) or "
                       "--tokenized-file (already tokenized)");
  }
  std::unique_ptr<ServerTransport> transport;
  if (!OpenTransport(flags, &transport, &err)) return ReportError(kExitConfig, err);
  std::string tokenized = flags.tokenized_file;
  if (!flags.config.empty()) {
    if (int rc = TokenizeForProcess(flags, &tokenized)) return rc;
  }
  UploadOutcome upload;
  if (int rc = Upload(flags, tokenized, transport.get(), &upload)) return rc;
  std::fprintf(stderr, "sdp-agent: batch %s %s with %lld records (%d chunks)\n",
               upload.batch.batch_id.c_str(), upload.resumed ? "resumed" : "uploaded",
               static_cast<long long>(upload.batch.accepted_records), upload.chunks);
  BatchInfo batch = upload.batch;
  if (flags.use_dev_processor && batch.status != "PROCESSED") {
    TransportError terr;
    if (!transport->ProcessBatch(batch.batch_id, /*dev=*/true, &batch, &terr)) {
      return ReportError(ExitCodeFor(terr), DescribeTransportError("dev processing", terr));
    }
  }
  if (int rc = WaitProcessed(flags, transport.get(), &batch)) return rc;
  IntegrateReport report;
  if (int rc = Integrate(flags, batch.batch_id, transport.get(), &report)) return rc;
  PrintJson({{"batch_id", batch.batch_id},
             {"accepted_records", batch.accepted_records},
             {"processed_records", batch.processed_records},
             {"model_version", batch.model_version},
             {"status", batch.status},
             {"matched_rows", report.matched_rows},
             {"output", flags.output}});
  return kExitOk;
}

void AddConnectionFlags(CLI::App* sub, ServerFlags* flags) {
  sub->add_option("--server-url", flags->server_url,
                  "postgresql://... (libpq) or https://... (PostgREST); default SDP_SERVER_URL");
  sub->add_flag("--insecure-http", flags->insecure_http,
                "Allow plain http:// to a non-loopback host (never for real data)");
}

}  // namespace

void AddServerCommands(CLI::App* app, CommandList* commands) {
  {
    auto f = std::make_shared<ServerFlags>();
    CLI::App* sub = app->add_subcommand("upload-batch", "Upload a tokenized CSV as a batch");
    sub->add_option("--file", f->file, "Tokenized CSV")->required();
    sub->add_option("--client-id", f->client_id, "Client id")->required();
    sub->add_option("--processing-type", f->processing_type, "e.g. risk_scoring")->required();
    sub->add_option("--key-column", f->key_column, "Join key column")->capture_default_str();
    sub->add_option("--chunk-kb", f->chunk_kb, "Chunk size in KiB (below the proxy body limit)")->capture_default_str();
    AddConnectionFlags(sub, f.get());
    commands->push_back({sub, [f] { return RunUpload(*f); }});
  }
  {
    auto f = std::make_shared<ServerFlags>();
    CLI::App* sub =
        app->add_subcommand("process-batch", "Tokenize, upload, process and integrate in one go");
    sub->add_option("--raw-input", f->raw_input, "Raw CSV (stays here)")->required();
    sub->add_option("--output", f->output, "Merged output CSV")->required();
    sub->add_option("--config", f->config, "Tokenize the raw file with this config first");
    sub->add_option("--tokenized-file", f->tokenized_file, "Already tokenized CSV to upload");
    sub->add_option("--vault", f->vault, "Token vault")->capture_default_str();
    sub->add_option("--client-id", f->client_id, "Client id")->required();
    sub->add_option("--processing-type", f->processing_type, "e.g. risk_scoring")->required();
    sub->add_option("--key-column", f->key_column, "Join key column")->capture_default_str();
    sub->add_flag("--use-dev-processor", f->use_dev_processor,
                  "Process now through the dev entry point (server must run sdp.env = dev)");
    sub->add_option("--timeout", f->timeout_seconds, "Seconds to wait for PROCESSED")
        ->capture_default_str();
    sub->add_option("--chunk-kb", f->chunk_kb, "Chunk size in KiB (below the proxy body limit)")->capture_default_str();
    sub->add_flag("--escape-formulas", f->escape_formulas,
                  "Prefix cells starting with = + - @ with ' in the merged output");
    AddConnectionFlags(sub, f.get());
    commands->push_back({sub, [f] { return RunProcess(*f); }});
  }
  {
    auto f = std::make_shared<ServerFlags>();
    CLI::App* sub =
        app->add_subcommand("integrate-results", "Join a batch's results onto the raw file");
    sub->add_option("--batch-id", f->batch_id, "Batch id")->required();
    sub->add_option("--raw-input", f->raw_input, "Raw CSV")->required();
    sub->add_option("--output", f->output, "Merged output CSV")->required();
    sub->add_option("--key-column", f->key_column, "Join key column")->capture_default_str();
    sub->add_option("--config", f->config,
                    "Tokenization config, to re-derive a tokenized key column");
    sub->add_option("--client-id", f->client_id, "Client id (with SDP_API_KEY)");
    sub->add_flag("--escape-formulas", f->escape_formulas,
                  "Prefix cells starting with = + - @ with ' in the merged output");
    AddConnectionFlags(sub, f.get());
    commands->push_back({sub, [f] { return RunIntegrate(*f); }});
  }
  {
    auto f = std::make_shared<ServerFlags>();
    CLI::App* sub = app->add_subcommand("status", "Show a batch's status as JSON");
    sub->add_option("--batch-id", f->batch_id, "Batch id")->required();
    sub->add_option("--client-id", f->client_id, "Client id (with SDP_API_KEY)");
    AddConnectionFlags(sub, f.get());
    commands->push_back({sub, [f] { return RunStatus(*f); }});
  }
}

}  // namespace sdp
