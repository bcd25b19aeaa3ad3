// `sdp-agent pseudonymize | repersonalize | pseudonyms ...`: JSON documents (src/agent/json/).
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <memory>
#include <string>

#include "agent/cli/command.h"
#include "agent/crypto/key_env.h"
#include "agent/crypto/secret_env.h"
#include "agent/json/json_file.h"
#include "agent/json/json_http.h"
#include "agent/json/json_pseudonymizer.h"
#include "agent/json/json_rules.h"
#include "agent/support/exit_status.h"
#include "agent/support/signals.h"
#include "agent/tokenize/tokenization_config.h"
#include "agent/transport/transport.h"
#include "agent/vault/vault.h"

namespace sdp {
namespace {

struct JsonFlags {
  std::string rules, input, output, ids, vault = "token_vault.db";
  std::string format = "auto";
  std::string ttl;
  std::string id;
};

int ExitFor(const std::string& err) {
  return Interrupted() ? ReportError(kExitInterrupted, err) : ReportError(kExitFailure, err);
}

bool JobFromFlags(const JsonFlags& flags, JsonFileJob* job, std::string* err) {
  job->input = flags.input;
  job->output = flags.output;
  job->vault_path = flags.vault;
  job->ids_output = flags.ids;
  job->format = flags.format == "ndjson" ? JsonFormat::kNdjson
                : flags.format == "json" ? JsonFormat::kDocument
                                         : JsonFormat::kAuto;
  if (!flags.ttl.empty() && !ParseTtl(flags.ttl, &job->ttl_seconds)) {
    *err = "--ttl " + flags.ttl + " is not a duration; fix: write e.g. 30d, 12h, 90m or 3600s";
    return false;
  }
  return true;
}

int RunJson(const JsonFlags& flags, bool pseudonymize) {
  std::string err;
  JsonFileJob job;
  if (!JobFromFlags(flags, &job, &err)) return ReportError(kExitUsage, err);
  JsonRules rules;
  if (!LoadJsonRules(flags.rules, &rules, &err)) return ReportError(kExitConfig, err);
  KeyRing keys;
  if (!LoadKeyRingFromEnv("SDP_CRYPTO_KEY", &keys, &err)) return ReportError(kExitConfig, err);
  JsonFileReport report;
  const bool ok = pseudonymize ? PseudonymizeJsonFile(job, rules, keys, &report, &err)
                               : RepersonalizeJsonFile(job, rules, keys, &report, &err);
  if (!ok) return ExitFor(err);
  const double rate = report.seconds > 0 ? report.documents / report.seconds : 0;
  std::fprintf(
      stderr, "sdp-agent: %s %llu documents (%llu values) in %.2f s (%.0f documents/s) -> %s\n",
      pseudonymize ? "pseudonymized" : "repersonalized",
      static_cast<unsigned long long>(report.documents),
      static_cast<unsigned long long>(report.fields), report.seconds, rate, flags.output.c_str());
  return kExitOk;
}

int OpenVault(const std::string& path, Vault::Mode mode, Vault* vault) {
  std::string err;
  KeyRing keys;
  if (!LoadKeyRingFromEnv("SDP_CRYPTO_KEY", &keys, &err)) return ReportError(kExitConfig, err);
  if (!vault->Open(path, mode, keys, &err)) return ReportError(kExitFailure, err);
  return kExitOk;
}

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

int RunStats(const JsonFlags& flags) {
  Vault vault;
  if (int rc = OpenVault(flags.vault, Vault::Mode::kReadOnly, &vault)) return rc;
  PseudonymStats stats;
  std::string err;
  if (!vault.GetPseudonymStats(Now(), &stats, &err)) return ReportError(kExitFailure, err);
  std::printf("records: %llu\non hold: %llu\nexpired (not purged yet): %llu\n",
              static_cast<unsigned long long>(stats.records),
              static_cast<unsigned long long>(stats.held),
              static_cast<unsigned long long>(stats.expired));
  return kExitOk;
}

int RunHold(const JsonFlags& flags, bool hold) {
  if (!IsPseudonymId(flags.id)) {
    return ReportError(kExitUsage,
                       "--id must be a pseudonym id (a UUID as written by "
                       "pseudonymize --ids); fix: copy it from there");
  }
  Vault vault;
  if (int rc = OpenVault(flags.vault, Vault::Mode::kReadWrite, &vault)) return rc;
  bool found = false;
  std::string err;
  if (!vault.HoldPseudonym(flags.id, hold, &found, &err)) return ReportError(kExitFailure, err);
  if (!found) {
    return ReportError(kExitFailure, "no pseudonym record " + flags.id + " in vault " +
                                         flags.vault + "; fix: check the id and --vault");
  }
  std::printf("%s %s\n", hold ? "held" : "released", flags.id.c_str());
  return kExitOk;
}

int RunCleanup(const JsonFlags& flags) {
  if (!IsPseudonymId(flags.id)) {
    return ReportError(kExitUsage,
                       "--id must be a pseudonym id (a UUID as written by "
                       "pseudonymize --ids); fix: copy it from there");
  }
  Vault vault;
  if (int rc = OpenVault(flags.vault, Vault::Mode::kReadWrite, &vault)) return rc;
  Vault::CleanupResult result;
  std::string err;
  if (!vault.CleanupPseudonym(flags.id, &result, &err)) return ReportError(kExitFailure, err);
  if (result == Vault::CleanupResult::kHeld) {
    return ReportError(kExitFailure, "pseudonym record " + flags.id +
                                         " is under legal hold; fix: release the hold first "
                                         "(`sdp-agent pseudonyms release --id ...`)");
  }
  if (result == Vault::CleanupResult::kNotFound) {
    return ReportError(kExitFailure, "no pseudonym record " + flags.id + " in vault " +
                                         flags.vault + "; fix: check the id and --vault");
  }
  std::printf("cleaned up %s\n", flags.id.c_str());
  return kExitOk;
}

int RunPurge(const JsonFlags& flags) {
  Vault vault;
  if (int rc = OpenVault(flags.vault, Vault::Mode::kReadWrite, &vault)) return rc;
  uint64_t purged = 0;
  std::string err;
  if (!vault.PurgeExpiredPseudonyms(Now(), &purged, &err)) return ReportError(kExitFailure, err);
  std::printf("purged %llu expired records\n", static_cast<unsigned long long>(purged));
  return kExitOk;
}

struct ServeFlags {
  std::string rules, vault = "token_vault.db", port_file, ttl;
  // The dashboard's local upload (docs/dashboard.md, "Upload").
  std::string upload_config, cors_origin, server_url, client_id, processing_type = "risk_scoring",
                                                                 key_column = "customer_id";
  size_t upload_max_bytes = size_t{100} << 20, chunk_kb = 8192;
  bool insecure_http = false;
  int pseudonymize_port = 8001, repersonalize_port = 8002, threads = 4;
  size_t max_body_bytes = size_t{10} << 20, max_depth = 64, max_bulk_items = 10000;
  double rate = 0, burst = 0;
};

int RunServe(const ServeFlags& flags) {
  std::string err;
  JsonRules rules;
  if (!LoadJsonRules(flags.rules, &rules, &err)) return ReportError(kExitConfig, err);
  KeyRing keys;
  if (!LoadKeyRingFromEnv("SDP_CRYPTO_KEY", &keys, &err)) return ReportError(kExitConfig, err);
  JsonServiceOptions options;
  options.vault_path = flags.vault;
  options.max_body_bytes = flags.max_body_bytes;
  options.max_depth = flags.max_depth;
  options.max_bulk_items = flags.max_bulk_items;
  options.rate_per_second = flags.rate;
  options.rate_burst = flags.burst;
  if (!flags.ttl.empty() && !ParseTtl(flags.ttl, &options.ttl_seconds)) {
    return ReportError(
        kExitUsage,
        "--ttl " + flags.ttl + " is not a duration; fix: write e.g. 30d, 12h, 90m or 3600s");
  }
  // Read once at start (main takes them out of the environment before anything runs).
  const SecretBuffer* pkey = TakeSecretEnv("SDP_PSEUDONYMIZE_API_KEY");
  const SecretBuffer* rkey = TakeSecretEnv("SDP_REPERSONALIZE_API_KEY");
  const SecretBuffer none;
  JsonService service;
  if (!service.Init(options, rules, keys, pkey ? *pkey : none, rkey ? *rkey : none, &err)) {
    return ReportError(kExitConfig, err);
  }
  // The upload service tokenizes with the CSV config and uploads through the transport of
  // upload-batch; its work directory (raw bodies while they are tokenized) goes at exit.
  // Declared before the service: removed after its destructor waited for a running job.
  std::string work_dir;
  struct RemoveDir {
    std::string* dir;
    ~RemoveDir() {
      if (!dir->empty()) ::rmdir(dir->c_str());
    }
  } remove_dir{&work_dir};
  LocalUploadService upload;
  if (!flags.upload_config.empty()) {
    if (flags.cors_origin.empty()) {
      return ReportError(kExitUsage,
                         "--upload-config needs --cors-origin, the dashboard's origin (e.g. "
                         "https://sdp.example): no other web page may use the upload");
    }
    LocalUploadOptions uo;
    if (!LoadTokenizationConfig(flags.upload_config, &uo.config, &err)) {
      return ReportError(kExitConfig, err);
    }
    if (!MakeUploadWorkDir(&work_dir, &err)) return ReportError(kExitFailure, err);
    uo.vault_path = flags.vault;
    uo.work_dir = work_dir;
    uo.allowed_origin = flags.cors_origin;
    uo.client_id = flags.client_id;
    uo.processing_type = flags.processing_type;
    uo.key_column = flags.key_column;
    uo.max_body_bytes = flags.upload_max_bytes;
    uo.chunk_bytes = flags.chunk_kb << 10;
    const TransportOptions topts =
        TransportOptionsFromEnv(flags.server_url, flags.client_id, flags.insecure_http);
    if (topts.url.empty()) {
      return ReportError(kExitConfig,
                         "--upload-config needs the server: set SDP_SERVER_URL (environment or "
                         "dotenv file) or pass --server-url");
    }
    if (!upload.Init(
            uo, keys, pkey ? *pkey : none,
            [topts](std::unique_ptr<ServerTransport>* t, std::string* e) {
              return MakeTransport(topts, t, e);
            },
            &err)) {
      return ReportError(kExitConfig, err);
    }
  }
  JsonHttpOptions http;
  if (!flags.upload_config.empty()) {
    http.upload = &upload;
    http.upload_max_body_bytes = flags.upload_max_bytes;
  }
  http.pseudonymize_port = flags.pseudonymize_port;
  http.repersonalize_port = flags.repersonalize_port;
  http.port_file = flags.port_file;
  http.threads = flags.threads;
  if (!ServeJson(&service, http, flags.max_body_bytes, &err)) return ReportError(kExitFailure, err);
  return kExitOk;
}

void AddFileFlags(CLI::App* sub, JsonFlags* flags, bool pseudonymize) {
  sub->add_option("--rules", flags->rules, "Rules file (docs/json_pseudonymization.md)")
      ->required();
  sub->add_option("--input", flags->input, "Input: one JSON document, or NDJSON")->required();
  sub->add_option("--output", flags->output, "Output (written atomically)")->required();
  sub->add_option("--vault", flags->vault, "Vault holding the pseudonym records")
      ->capture_default_str();
  sub->add_option("--format", flags->format,
                  "json (one document), ndjson (one a line) or auto (.ndjson/.jsonl are NDJSON)")
      ->check(CLI::IsMember({"auto", "json", "ndjson"}))
      ->capture_default_str();
  if (pseudonymize) {
    sub->add_option("--ttl", flags->ttl,
                    "Lifetime of the records (30d, 12h, 90m, 3600s); default: the rules' ttl");
    sub->add_option("--ids", flags->ids, "Write each document's pseudonym id here, one a line");
  }
}

}  // namespace

void AddJsonCommands(CLI::App* app, CommandList* commands) {
  {
    auto flags = std::make_shared<JsonFlags>();
    CLI::App* sub = app->add_subcommand(
        "pseudonymize", "Pseudonymize JSON documents by rules; records sealed in the vault");
    AddFileFlags(sub, flags.get(), true);
    commands->push_back({sub, [flags] { return RunJson(*flags, true); }});
  }
  {
    auto flags = std::make_shared<JsonFlags>();
    CLI::App* sub = app->add_subcommand(
        "repersonalize", "Restore pseudonymized JSON documents from their vault records");
    AddFileFlags(sub, flags.get(), false);
    commands->push_back({sub, [flags] { return RunJson(*flags, false); }});
  }
  {
    auto flags = std::make_shared<ServeFlags>();
    CLI::App* sub = app->add_subcommand(
        "serve",
        "Pseudonymization and repersonalization of JSON over HTTP on 127.0.0.1 (two listeners; "
        "keys from SDP_PSEUDONYMIZE_API_KEY and SDP_REPERSONALIZE_API_KEY)");
    sub->add_option("--rules", flags->rules, "Rules file (docs/json_pseudonymization.md)")
        ->required();
    sub->add_option("--vault", flags->vault, "Vault holding the pseudonym records")
        ->capture_default_str();
    sub->add_option("--pseudonymize-port", flags->pseudonymize_port, "0 picks a free port")
        ->check(CLI::Range(0, 65535))
        ->capture_default_str();
    sub->add_option("--repersonalize-port", flags->repersonalize_port, "0 picks a free port")
        ->check(CLI::Range(0, 65535))
        ->capture_default_str();
    sub->add_option("--port-file", flags->port_file,
                    "Write both ports here once listening (pseudonymize=N, repersonalize=N)");
    sub->add_option("--ttl", flags->ttl, "Lifetime of new records; default: the rules' ttl");
    sub->add_option("--max-body-bytes", flags->max_body_bytes, "Larger requests get 413")
        ->capture_default_str();
    sub->add_option("--max-depth", flags->max_depth, "Deeper documents get 422")
        ->check(CLI::Range(1, 512))
        ->capture_default_str();
    sub->add_option("--max-bulk-items", flags->max_bulk_items, "Larger bulk requests get 413")
        ->capture_default_str();
    sub->add_option("--rate-limit", flags->rate,
                    "Requests per second per listener; above it 429 with Retry-After (0: off)")
        ->capture_default_str();
    sub->add_option("--rate-burst", flags->burst, "Burst size of the rate limit (default: 1 s)");
    sub->add_option("--threads", flags->threads, "Connection threads per listener")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    sub->add_option("--upload-config", flags->upload_config,
                    "Tokenization config: also serve the dashboard's local upload (POST /upload, "
                    "GET /upload/{id}) on the pseudonymize listener");
    sub->add_option("--cors-origin", flags->cors_origin,
                    "The dashboard's origin (e.g. https://sdp.example), the only one the upload "
                    "answers across origins");
    sub->add_option("--server-url", flags->server_url,
                    "Server for uploads (default SDP_SERVER_URL)");
    sub->add_option("--client-id", flags->client_id, "Client the uploads belong to");
    sub->add_option("--processing-type", flags->processing_type,
                    "Processing type when the page names none")
        ->capture_default_str();
    sub->add_option("--key-column", flags->key_column, "Key column of uploaded files")
        ->capture_default_str();
    sub->add_option("--upload-max-bytes", flags->upload_max_bytes, "Larger uploads get 413")
        ->capture_default_str();
    sub->add_option("--chunk-kb", flags->chunk_kb, "Upload chunk size in KiB")
        ->check(CLI::Range(1, 1 << 20))
        ->capture_default_str();
    sub->add_flag("--insecure-http", flags->insecure_http,
                  "Allow http:// to a non-loopback server (never in production)");
    commands->push_back({sub, [flags] { return RunServe(*flags); }});
  }
  {
    CLI::App* group = app->add_subcommand(
        "pseudonyms", "Pseudonym records of JSON documents: stats, hold, release, cleanup, purge");
    group->require_subcommand(1);
    const auto add = [&](const char* name, const char* help, bool needs_id,
                         std::function<int(const JsonFlags&)> run) {
      auto flags = std::make_shared<JsonFlags>();
      CLI::App* sub = group->add_subcommand(name, help);
      sub->add_option("--vault", flags->vault, "Vault holding the pseudonym records")
          ->capture_default_str();
      if (needs_id) sub->add_option("--id", flags->id, "Pseudonym id")->required();
      commands->push_back({sub, [flags, run] { return run(*flags); }});
    };
    add("stats", "Count records, holds and expired records", false, RunStats);
    add("hold", "Put a record under legal hold (no expiry, purge or cleanup)", true,
        [](const JsonFlags& f) { return RunHold(f, true); });
    add("release", "Release a legal hold", true,
        [](const JsonFlags& f) { return RunHold(f, false); });
    add("cleanup", "Crypto-shred a record: its document can never be restored", true, RunCleanup);
    add("purge", "Crypto-shred every expired record not on hold", false, RunPurge);
  }
}

}  // namespace sdp
