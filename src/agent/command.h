// Subcommand registry of sdp-agent: each cmd_*.cc adds its subcommands to the CLI11 app and
// returns what to run once the command line has been parsed.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace sdp {

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;  // returns an ExitStatus
};

using CommandList = std::vector<Command>;

// One line on stderr in the agent's format: "sdp-agent: error: <what>; fix: <action>".
int ReportError(int exit_code, const std::string& message);

// Registration functions, one per cmd_*.cc.
void AddKeyCommands(CLI::App* app, CommandList* commands);
void AddTokenizeCommands(CLI::App* app, CommandList* commands);
void AddVaultCommands(CLI::App* app, CommandList* commands);
void AddServerCommands(CLI::App* app, CommandList* commands);
void AddWatchCommand(CLI::App* app, CommandList* commands);

}  // namespace sdp
