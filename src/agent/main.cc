// sdp-agent: tokenizes PII locally, keeps the originals in an encrypted vault, uploads only
// tokens, and joins the server's results back onto the raw file.
#include <curl/curl.h>

#include <csignal>
#include <cstdio>
#include <exception>
#include <string>

#include "command.h"
#include "dotenv.h"
#include "exit_status.h"
#include "log.h"
#include "signals.h"

namespace {

constexpr const char* kDescription =
    "sdp-agent " SDP_VERSION
    " - Secure Data Pipeline client: PII is tokenized here and never leaves this machine.\n"
    "Environment (also read from .env in the working directory, then the repository root):\n"
    "  SDP_CRYPTO_KEY   URL-safe base64 of 32 bytes (make one with `sdp-agent keygen`)\n"
    "  SDP_SERVER_URL   postgresql://... (libpq) or https://... (PostgREST)\n"
    "  SDP_API_KEY      API key of the client (HTTPS, and libpq as a non-admin role)\n"
    "  SDP_CA_BUNDLE    CA bundle that signs the server's certificate (the only CAs trusted)\n"
    "  SDP_PROXY        HTTPS proxy (proxy environment variables are ignored; never loopback)\n"
    "Exit codes: 0 ok, 1 failure, 2 usage, 3 configuration, 4 retryable, 5 rejected by server,\n"
    "130 interrupted.";

}  // namespace

int main(int argc, char** argv) {
  // Before any thread exists (libcurl requirement).
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    return sdp::ReportError(sdp::kExitFailure, "cannot initialise libcurl");
  }
  sdp::InstallSignalHandlers();

  std::string err;
  if (!sdp::LoadDotEnv(&err)) return sdp::ReportError(sdp::kExitConfig, err);

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

  sdp::CommandList commands;
  sdp::AddTokenizeCommands(&app, &commands);
  sdp::AddServerCommands(&app, &commands);
  sdp::AddWatchCommand(&app, &commands);
  sdp::AddKeyCommands(&app, &commands);
  sdp::AddVaultCommands(&app, &commands);

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
