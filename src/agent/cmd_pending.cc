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

void AddWatchCommand(CLI::App* app, CommandList* commands) {
  AddPending(app, commands, "watch", "Daemon: process CSV files dropped into an outbox folder");
}

}  // namespace sdp
