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

// The first word of argv that is not a global option or its value: the subcommand the user
// asked for ("" when there is none).
std::string RequestedCommand(int argc, const char* const* argv);

// For a word that is not a subcommand: the known names closest to it (those it is a prefix of
// or that are a prefix of it, then small edit distances), best first, at most three.
std::vector<std::string> NearestCommands(const std::string& word,
                                         const std::vector<std::string>& names);

// "unknown command 'tokenize'; fix: did you mean tokenize-csv or tokenize-config? ..." (exit 2).
std::string UnknownCommandMessage(const std::string& word, const std::vector<std::string>& names);

// Registration functions, one per cmd_*.cc.
void AddKeyCommands(CLI::App* app, CommandList* commands);
void AddTokenizeCommands(CLI::App* app, CommandList* commands);
void AddVaultCommands(CLI::App* app, CommandList* commands);
void AddServerCommands(CLI::App* app, CommandList* commands);
void AddWatchCommand(CLI::App* app, CommandList* commands);
void AddScanCommand(CLI::App* app, CommandList* commands);
void AddJsonCommands(CLI::App* app, CommandList* commands);
void AddRotateCommand(CLI::App* app, CommandList* commands);

}  // namespace sdp
