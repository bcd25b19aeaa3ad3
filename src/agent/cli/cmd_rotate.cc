// `sdp-agent rotate-tokens`: moves a client's tokens on the server to SDP_CRYPTO_KEY
// (docs/key_rotation.md; the work is in pipeline/rotate_tokens.cc).
#include <cstdio>
#include <nlohmann/json.hpp>

#include "agent/cli/command.h"
#include "agent/crypto/key_env.h"
#include "agent/crypto/key_ring_file.h"
#include "agent/pipeline/rotate_tokens.h"
#include "agent/support/exit_status.h"
#include "agent/tokenize/tokenization_config.h"
#include "agent/transport/transport.h"

namespace sdp {
namespace {

struct RotateFlags {
  std::string config;
  std::string client_id;
  std::string from_key_env;
  std::string vault = "token_vault.db";
  std::string server_url;
  std::string journal;
  std::vector<std::string> domains;
  bool insecure_http = false;
  int page_tokens = 50000;
  int apply_rows = 20000;
  int mapping_connections = 2;
};

// The old key: from --from-key-env, or the ring's newest active key older than SDP_CRYPTO_KEY.
bool LoadOldKeys(const RotateFlags& flags, const std::string& ring_path, const KeyRing& primary,
                 KeyRing* old_keys, std::string* err) {
  if (!flags.from_key_env.empty()) return LoadKeyRingFromEnv(flags.from_key_env, old_keys, err);
  KeyRingFile ring;
  if (!KeyRingFile::Load(ring_path, &ring, err)) return false;
  for (int v = primary.version() - 1; v >= 1; --v) {
    const KeyRingEntry* e = ring.FindByVersion(v);
    if (e != nullptr && e->retired.empty()) return ring.Keys(v, old_keys, err);
  }
  *err = "key ring " + ring_path + " has no active key older than SDP_CRYPTO_KEY (version " +
         std::to_string(primary.version()) +
         "); fix: name the old key with --from-key-env, or check the ring";
  return false;
}

int RunRotate(const RotateFlags& flags) {
  std::string err;
  const std::string ring_path = KeyRingPath();
  if (ring_path.empty()) {
    return ReportError(kExitConfig,
                       "rotate-tokens needs the key ring, which gives each key its version; fix: "
                       "set SDP_KEY_RING (or --key-ring before the command) to the ring made by "
                       "`sdp-agent keygen --ring FILE`");
  }
  KeyRing new_keys, old_keys;
  if (!LoadKeyRingFromEnv("SDP_CRYPTO_KEY", &new_keys, &err) ||
      !LoadOldKeys(flags, ring_path, new_keys, &old_keys, &err)) {
    return ReportError(kExitConfig, err);
  }
  TokenizationConfig config;
  if (!LoadTokenizationConfig(flags.config, &config, &err)) return ReportError(kExitConfig, err);
  const TransportOptions transport_options =
      TransportOptionsFromEnv(flags.server_url, flags.client_id, flags.insecure_http);
  std::unique_ptr<ServerTransport> transport;
  if (!MakeTransport(transport_options, &transport, &err)) return ReportError(kExitConfig, err);
  RotateOptions options;
  options.client_id = flags.client_id;
  options.vault_path = flags.vault;
  options.journal_path =
      flags.journal.empty() ? "sdp-rotate-" + flags.client_id + ".journal" : flags.journal;
  options.ring_path = ring_path;
  options.domains = flags.domains;
  options.page_tokens = flags.page_tokens;
  options.apply_rows = flags.apply_rows;
  options.mapping_workers = flags.mapping_connections;
  options.open_transport = [&transport_options](std::unique_ptr<ServerTransport>* out,
                                                std::string* open_err) {
    return MakeTransport(transport_options, out, open_err);
  };
  RotateReport report;
  Failure failure;
  if (!RotateTokens(options, config, old_keys, new_keys, transport.get(), &report, &failure)) {
    return ReportError(failure.exit_code, failure.message);
  }
  nlohmann::json domains = nlohmann::json::array();
  int64_t pairs = 0;
  for (const auto& d : report.domains) {
    domains.push_back({{"domain", d.domain},
                       {"transform", d.transform},
                       {"rotation_id", d.rotation_id},
                       {"pairs", d.pairs},
                       {"rows_done", d.rows_done},
                       {"apply_seconds", d.apply_seconds},
                       {"skipped", d.skipped}});
    pairs += d.pairs;
  }
  nlohmann::json out = {{"client_id", flags.client_id},
                        {"from_version", report.from_version},
                        {"to_version", report.to_version},
                        {"from_key_id", report.from_key_id},
                        {"to_key_id", report.to_key_id},
                        {"domains", domains},
                        {"skipped_random_domains", report.skipped_random},
                        {"pairs", pairs},
                        {"vault_entries_rekeyed", report.vault_rekeyed},
                        {"old_key_retired", report.ring_retired},
                        {"seconds", report.seconds}};
  std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  return std::fflush(stdout) == 0 ? kExitOk : kExitFailure;
}

}  // namespace

void AddRotateCommand(CLI::App* app, CommandList* commands) {
  auto f = std::make_shared<RotateFlags>();
  CLI::App* sub = app->add_subcommand(
      "rotate-tokens",
      "Move the client's HASH and FPE tokens on the server from an old key to SDP_CRYPTO_KEY "
      "(only token pairs are sent), then re-key the vault and retire the old key in the ring");
  sub->add_option("--config", f->config, "Tokenization config the batches were made with")
      ->required();
  sub->add_option("--client-id", f->client_id, "Client id")->required();
  sub->add_option("--from-key-env", f->from_key_env,
                  "Environment variable holding the old key (default: the ring's newest active "
                  "key older than SDP_CRYPTO_KEY)");
  sub->add_option("--vault", f->vault, "Token vault (originals of HASH tokens)")
      ->capture_default_str();
  sub->add_option("--server-url", f->server_url, "Server URL (default SDP_SERVER_URL)");
  sub->add_option("--journal", f->journal,
                  "Progress file for resuming (default sdp-rotate-<client>.journal)");
  sub->add_option("--domain", f->domains, "Only this domain (repeatable)");
  sub->add_option("--page-tokens", f->page_tokens, "Tokens per page and per pairs upload")
      ->check(CLI::Range(1, 50000))
      ->capture_default_str();
  sub->add_option("--apply-rows", f->apply_rows, "Rows per server rewrite transaction")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  sub->add_option("--mapping-connections", f->mapping_connections,
                  "Domains whose pairs are listed and uploaded at once, each on its own server "
                  "connection (rewrites run one domain at a time; 1: one after another)")
      ->check(CLI::Range(1, 8))
      ->capture_default_str();
  sub->add_flag("--insecure-http", f->insecure_http,
                "Allow http:// to a non-loopback host (never for production)");
  commands->push_back({sub, [f] { return RunRotate(*f); }});
}

}  // namespace sdp
