// `sdp-agent watch`: the outbox/inbox daemon (watch.h).

#include "agent/cli/command.h"
#include "agent/pipeline/watch.h"
#include "agent/support/exit_status.h"
#include "agent/support/signals.h"

namespace sdp {
namespace {

struct WatchFlags {
  WatchOptions options;
  std::string server_url;
  bool insecure_http = false;
  size_t chunk_kb = 8192;
};

int RunWatch(WatchFlags& flags) {
  InstallDaemonSignalHandlers();
  TransportOptions transport_options = TransportOptionsFromEnv(
      flags.server_url, flags.options.round_trip.client_id, flags.insecure_http);
  // The daemon does its own backoff across files; keep each call's retries short.
  transport_options.max_retries = 2;
  std::unique_ptr<ServerTransport> transport;
  std::string err;
  if (!MakeTransport(transport_options, &transport, &err)) return ReportError(kExitConfig, err);
  flags.options.round_trip.chunk_bytes = flags.chunk_kb << 10;
  Watcher watcher(flags.options, transport.get());
  if (!watcher.Init(&err)) return ReportError(kExitConfig, err);
  return watcher.Run();
}

}  // namespace

void AddWatchCommand(CLI::App* app, CommandList* commands) {
  auto f = std::make_shared<WatchFlags>();
  WatchOptions& o = f->options;
  RoundTripOptions& rt = o.round_trip;
  CLI::App* sub = app->add_subcommand(
      "watch", "Daemon: CSV files renamed into --outbox come back merged in --inbox");
  sub->add_option("--outbox", o.outbox, "Folder to watch for *.csv")->required();
  sub->add_option("--inbox", o.inbox, "Folder for merged results")->required();
  sub->add_option("--config", rt.config_path, "Tokenization config")->required();
  sub->add_option("--client-id", rt.client_id, "Client id")->required();
  sub->add_option("--processing-type", rt.processing_type, "e.g. risk_scoring")->required();
  sub->add_option("--key-column", rt.key_column, "Join key column")->capture_default_str();
  sub->add_option("--vault", rt.vault_path, "Token vault")->capture_default_str();
  sub->add_option("--server-url", f->server_url, "Default SDP_SERVER_URL");
  sub->add_flag("--insecure-http", f->insecure_http, "Allow http:// to a non-loopback host");
  sub->add_flag("--once", o.once, "Process what is there (and what a crash left), then exit");
  sub->add_flag("--require-ready", o.require_ready,
                "Only pick up NAME.csv once NAME.csv.ready exists");
  sub->add_flag("--use-dev-processor", rt.use_dev_processor,
                "Process through the dev entry point instead of waiting for the worker");
  sub->add_option("--poll-interval", o.poll_seconds, "Seconds between outbox scans")
      ->capture_default_str();
  sub->add_option("--timeout", rt.timeout_seconds, "Seconds to wait for one batch")
      ->capture_default_str();
  sub->add_option("--chunk-kb", f->chunk_kb, "Upload chunk size in KiB")->capture_default_str();
  sub->add_flag("--escape-formulas", rt.escape_formulas,
                "Prefix cells starting with = + - @ with ' in the merged output");
  commands->push_back({sub, [f] { return RunWatch(*f); }});
}

}  // namespace sdp
