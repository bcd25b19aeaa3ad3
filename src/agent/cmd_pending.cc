// Subcommands whose implementation has not landed yet. Each is registered with its real flags so
// `sdp-agent --help` shows the whole interface, and refuses to run with a clear message.
#include "command.h"
#include "exit_status.h"

namespace sdp {
namespace {

void AddPending(CLI::App* app, CommandList* commands, const char* name, const char* description) {
  CLI::App* sub = app->add_subcommand(name, description);
  sub->allow_extras();
  commands->push_back({sub, [name] {
                         return ReportError(kExitFailure, std::string("'") + name +
                                                              "' is not available in this build; "
                                                              "fix: upgrade sdp-agent");
                       }});
}

}  // namespace

void AddServerCommands(CLI::App* app, CommandList* commands) {
  AddPending(app, commands, "upload-batch", "Upload a tokenized CSV as a batch");
  AddPending(app, commands, "process-batch", "Tokenize, upload, process and integrate in one go");
  AddPending(app, commands, "integrate-results", "Join a batch's results onto the raw file");
  AddPending(app, commands, "status", "Show a batch's status");
}
void AddWatchCommand(CLI::App* app, CommandList* commands) {
  AddPending(app, commands, "watch", "Daemon: process CSV files dropped into an outbox folder");
}

}  // namespace sdp
