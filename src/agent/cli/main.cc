// sdp-agent: tokenizes PII locally, keeps the originals in an encrypted vault, uploads only
// tokens, and joins the server's results back onto the raw file.
#include <curl/curl.h>

#include <csignal>
#include <cstdio>
#include <exception>
#include <string>

#include "agent/cli/command.h"
#include "agent/cli/dotenv.h"
#include "agent/crypto/key_ring_file.h"
#include "agent/crypto/secret_env.h"
#include "agent/support/exit_status.h"
#include "agent/support/log.h"
#include "agent/support/signals.h"

namespace {

constexpr const char* kDescription =
    "sdp-agent " SDP_VERSION
    " - Secure Data Pipeline client: PII is tokenized here and never leaves this machine.\n"
    "Environment (SDP_* variables also read from .env in the working directory or --env-file,\n"
    "which must be yours and not writable by group or others):\n"
    "  SDP_CRYPTO_KEY   URL-safe base64 of 32 bytes (make one with `sdp-agent keygen`)\n"
    "  SDP_SERVER_URL   postgresql://... (libpq) or https://... (PostgREST)\n"
    "  SDP_API_KEY      API key of the client (HTTPS, and libpq as a non-admin role)\n"
    "  SDP_CA_BUNDLE    CA bundle that signs the server's certificate (the only CAs trusted)\n"
    "  SDP_PROXY        HTTPS proxy (proxy environment variables are ignored; never loopback)\n"
    "  SDP_KEY_RING     key ring file (0600) of SDP_CRYPTO_KEY's versions (or --key-ring)\n"
    "Exit codes: 0 ok, 1 failure, 2 usage, 3 configuration, 4 retryable, 5 rejected by server,\n"
    "130 interrupted.";

// The value of global option --env-file (before the subcommand), or "" when not given.
std::string EnvFileArgument(int argc, char** argv) {
  const std::string flag = "--env-file";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.empty() || arg[0] != '-' || arg == "--") break;  // the subcommand: its options follow
    if (arg == flag) return i + 1 < argc ? argv[i + 1] : "";
    if (arg.compare(0, flag.size() + 1, flag + "=") == 0) return arg.substr(flag.size() + 1);
    if (arg == "--log-format" || arg == "--log-level" || arg == "--key-ring") ++i;
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  // First of all, before any key is read: no core file, no ptrace by the user's other processes.
  std::string err;
  if (!sdp::DisableCoreDumps(&err)) {
    return sdp::ReportError(
        sdp::kExitFailure,
        err + "; fix: allow prctl and setrlimit to sdp-agent (seccomp or container policy)");
  }
  if (!sdp::LoadDotEnv(EnvFileArgument(argc, argv), &err)) {
    return sdp::ReportError(sdp::kExitConfig, err);
  }
  // After .env (which may set them): secrets leave the environment before anything else runs.
  for (const char* name : sdp::kSecretEnvVariables) sdp::TakeSecretEnv(name);

  // Before any thread exists (libcurl requirement).
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    return sdp::ReportError(sdp::kExitFailure, "cannot initialise libcurl");
  }
  sdp::InstallSignalHandlers();

  CLI::App app{kDescription, "sdp-agent"};
  app.set_version_flag("--version", "sdp-agent " SDP_VERSION);
  app.require_subcommand(1);
  app.fallthrough(false);
  // Event log on stderr (log.h): before the subcommand, or from the environment.
  std::string log_format = "json";
  std::string log_level = "info";
  app.add_option("--log-format", log_format, "Event log on stderr: json or text")
      ->envname("SDP_LOG_FORMAT")
      ->check(CLI::IsMember({"json", "text"}))
      ->capture_default_str();
  app.add_option("--log-level", log_level, "Lowest event level logged: debug, info, warn, error")
      ->envname("SDP_LOG_LEVEL")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  std::string key_ring;
  app.add_option("--key-ring", key_ring,
                 "Key ring file (sdp-agent keygen --ring): versions of SDP_CRYPTO_KEY and the "
                 "older keys whose tokens are still accepted")
      ->envname("SDP_KEY_RING");
  // Read before parsing (see EnvFileArgument); declared so that it is accepted and listed.
  std::string env_file;
  app.add_option("--env-file", env_file,
                 "Read SDP_* settings from this file instead of ./.env (yours, not group- or "
                 "other-writable)");

  sdp::CommandList commands;
  sdp::AddTokenizeCommands(&app, &commands);
  sdp::AddJsonCommands(&app, &commands);
  sdp::AddServerCommands(&app, &commands);
  sdp::AddWatchCommand(&app, &commands);
  sdp::AddScanCommand(&app, &commands);
  sdp::AddKeyCommands(&app, &commands);
  sdp::AddVaultCommands(&app, &commands);
  sdp::AddRotateCommand(&app, &commands);

  // CLI11 answers an unknown command with "A subcommand is required": name it and suggest.
  const std::string requested = sdp::RequestedCommand(argc, argv);
  if (!requested.empty()) {
    std::vector<std::string> names;
    bool known = false;
    const CLI::App& registered = app;
    for (const CLI::App* sub : registered.get_subcommands([](const CLI::App*) { return true; })) {
      names.push_back(sub->get_name());
      known = known || sub->get_name() == requested;
    }
    if (!known) {
      curl_global_cleanup();
      return sdp::ReportError(sdp::kExitUsage, sdp::UnknownCommandMessage(requested, names));
    }
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return sdp::ReportError(sdp::kExitUsage,
                            std::string(e.what()) + "; fix: see `sdp-agent --help`");
  }

  sdp::log::Format format = sdp::log::Format::kJson;
  sdp::log::Level level = sdp::log::Level::kInfo;
  sdp::log::ParseFormat(log_format, &format);  // validated by CLI::IsMember above
  sdp::log::ParseLevel(log_level, &level);
  sdp::log::Configure(format, level);

  sdp::SetKeyRingPath(key_ring);

  int status = sdp::kExitUsage;
  try {
    for (const auto& command : commands) {
      if (command.app->parsed()) {
        status = command.run();
        break;
      }
    }
  } catch (const std::exception& e) {
    // Errors are values in this code base; an exception here is a bug.
    status = sdp::ReportError(sdp::kExitFailure, std::string("internal error: ") + e.what() +
                                                     "; fix: please report this as a bug");
  }
  curl_global_cleanup();
  return status;
}
