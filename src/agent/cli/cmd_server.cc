// Commands that talk to the server: upload-batch, process-batch, integrate-results, status.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "agent/cli/command.h"
#include "agent/crypto/key_env.h"
#include "agent/pipeline/round_trip.h"
#include "agent/support/exit_status.h"
#include "agent/support/signals.h"
#include "agent/tokenize/tokenization_config.h"
#include "agent/tokenize/upload_manifest.h"
#include "agent/transport/transport.h"
#include "agent/transport/uploader.h"
#include "common/shown_value.h"
#include "common/text.h"

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

bool OpenTransport(const ServerFlags& flags, std::unique_ptr<ServerTransport>* transport,
                   std::string* err) {
  return MakeTransport(
      TransportOptionsFromEnv(flags.server_url, flags.client_id, flags.insecure_http), transport,
      err);
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

RoundTripOptions OptionsFrom(const ServerFlags& flags) {
  RoundTripOptions o;
  o.raw_input = flags.raw_input;
  o.output = flags.output;
  o.config_path = flags.config;
  o.tokenized_file = flags.tokenized_file;
  o.vault_path = flags.vault;
  o.client_id = flags.client_id;
  o.processing_type = flags.processing_type;
  o.key_column = flags.key_column;
  o.use_dev_processor = flags.use_dev_processor;
  o.timeout_seconds = flags.timeout_seconds;
  o.chunk_bytes = flags.chunk_kb << 10;
  o.escape_formulas = flags.escape_formulas;
  return o;
}

int RunUpload(const ServerFlags& flags) {
  std::unique_ptr<ServerTransport> transport;
  std::string err;
  if (!OpenTransport(flags, &transport, &err)) return ReportError(kExitConfig, err);
  UploadJob job;
  job.file = flags.file;
  job.client_id = flags.client_id;
  job.processing_type = flags.processing_type;
  job.key_column = flags.key_column;
  job.chunk_bytes = flags.chunk_kb << 10;
  if (!flags.config.empty()) {
    TokenizationConfig config;
    if (!LoadTokenizationConfig(flags.config, &config, &err)) return ReportError(kExitConfig, err);
    // Which key made the tokens, when SDP_CRYPTO_KEY is set (docs/key_rotation.md).
    KeyRing keys;
    bool have_keys = false;
    if (!LoadKeyRingIfSet("SDP_CRYPTO_KEY", &keys, &have_keys, &err)) {
      return ReportError(kExitConfig, err);
    }
    job.manifest = UploadManifestJson(config, have_keys ? &keys : nullptr);
  }
  UploadOutcome outcome;
  Failure failure;
  if (!UploadCsvFile(job, transport.get(), &outcome, &failure)) {
    return ReportError(failure.exit_code, failure.message);
  }
  PrintJson({{"batch_id", outcome.batch.batch_id},
             {"accepted_records", outcome.batch.accepted_records},
             {"status", outcome.batch.status}});
  return kExitOk;
}

// A batch id is a UUID in its canonical form (what upload-batch and process-batch print).
// Checked here so a typo or a hostile value is a usage error before any server call.
bool CheckBatchId(const std::string& id, std::string* err) {
  if (IsCanonicalUuid(id)) return true;
  *err = "--batch-id " + QuotedValue(id) +
         " is not a batch id (a UUID such as 0812d48d-bab6-49d2-a5ec-77177acca612); fix: pass "
         "the batch_id printed by upload-batch or process-batch";
  return false;
}

int RunIntegrate(const ServerFlags& flags) {
  std::unique_ptr<ServerTransport> transport;
  std::string err;
  if (!CheckBatchId(flags.batch_id, &err)) return ReportError(kExitUsage, err);
  if (!OpenTransport(flags, &transport, &err)) return ReportError(kExitConfig, err);
  IntegrateReport report;
  Failure failure;
  if (!FetchAndIntegrate(OptionsFrom(flags), flags.batch_id, transport.get(), &report, &failure)) {
    return ReportError(failure.exit_code, failure.message);
  }
  PrintJson({{"batch_id", flags.batch_id},
             {"raw_rows", report.raw_rows},
             {"matched_rows", report.matched_rows},
             {"keys_with_several_results", report.keys_with_several_results},
             {"disagreeing_keys", report.disagreeing_keys},
             {"output", flags.output}});
  return kExitOk;
}

int RunStatus(const ServerFlags& flags) {
  std::unique_ptr<ServerTransport> transport;
  std::string err;
  if (!CheckBatchId(flags.batch_id, &err)) return ReportError(kExitUsage, err);
  if (!OpenTransport(flags, &transport, &err)) return ReportError(kExitConfig, err);
  BatchInfo batch;
  TransportError terr;
  if (!transport->GetBatch(flags.batch_id, &batch, &terr)) {
    return ReportError(ExitCodeFor(terr), DescribeTransportError("status", terr));
  }
  PrintJson(BatchJson(batch));
  return kExitOk;
}

int RunProcess(const ServerFlags& flags) {
  std::unique_ptr<ServerTransport> transport;
  std::string err;
  if (!OpenTransport(flags, &transport, &err)) return ReportError(kExitConfig, err);
  RoundTripResult result;
  Failure failure;
  auto on_step = [](const char* step, const RoundTripResult& r) {
    if (std::string(step) == "tokenized") {
      if (r.reused_tokenized) {
        std::fprintf(stderr, "sdp-agent: reusing the tokenized file (same raw file and config)\n");
      } else {
        std::fprintf(stderr, "sdp-agent: tokenized %llu rows in %.2f s\n",
                     static_cast<unsigned long long>(r.tokenize.rows), r.tokenize.seconds);
      }
    } else if (std::string(step) == "uploaded") {
      std::fprintf(stderr, "sdp-agent: batch %s %s with %lld records (%d chunks)\n",
                   r.batch.batch_id.c_str(), r.upload.resumed ? "resumed" : "uploaded",
                   static_cast<long long>(r.batch.accepted_records), r.upload.chunks);
    }
  };
  if (!RunRoundTrip(OptionsFrom(flags), transport.get(), &result, &failure, on_step)) {
    return ReportError(failure.exit_code, failure.message);
  }
  const BatchInfo& batch = result.batch;
  PrintJson({{"batch_id", batch.batch_id},
             {"accepted_records", batch.accepted_records},
             {"processed_records", batch.processed_records},
             {"model_version", batch.model_version},
             {"status", batch.status},
             {"matched_rows", result.integrate.matched_rows},
             {"keys_with_several_results", result.integrate.keys_with_several_results},
             {"disagreeing_keys", result.integrate.disagreeing_keys},
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
    sub->add_option("--config", f->config,
                    "Tokenization config the file was made with: tells the server's PII "
                    "firewall how each column was tokenized (without it every column is "
                    "checked as clear)");
    sub->add_option("--chunk-kb", f->chunk_kb, "Chunk size in KiB (below the proxy body limit)")
        ->capture_default_str();
    AddConnectionFlags(sub, f.get());
    commands->push_back({sub, [f] { return RunUpload(*f); }});
  }
  {
    auto f = std::make_shared<ServerFlags>();
    CLI::App* sub =
        app->add_subcommand("process-batch", "Tokenize, upload, process and integrate in one go");
    sub->add_option("--raw-input", f->raw_input, "Raw CSV (stays here)")->required();
    sub->add_option("--output", f->output, "Merged output CSV")->required();
    sub->add_option("--config", f->config,
                    "Tokenize the raw file with this config first (with --tokenized-file: only "
                    "to re-derive a tokenized key column for the join)");
    sub->add_option("--tokenized-file", f->tokenized_file,
                    "Already tokenized CSV (made from --raw-input) to upload as it is");
    sub->add_option("--vault", f->vault, "Token vault")->capture_default_str();
    sub->add_option("--client-id", f->client_id, "Client id")->required();
    sub->add_option("--processing-type", f->processing_type, "e.g. risk_scoring")->required();
    sub->add_option("--key-column", f->key_column, "Join key column")->capture_default_str();
    sub->add_flag("--use-dev-processor", f->use_dev_processor,
                  "Process now through the dev entry point (server must run sdp.env = dev)");
    sub->add_option("--timeout", f->timeout_seconds, "Seconds to wait for PROCESSED")
        ->capture_default_str();
    sub->add_option("--chunk-kb", f->chunk_kb, "Chunk size in KiB (below the proxy body limit)")
        ->capture_default_str();
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
