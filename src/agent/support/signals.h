// SIGINT/SIGTERM only set a flag: long loops poll Interrupted() between chunks, flush what they
// have, leave no half-written file and exit 130. SIGPIPE is ignored (errors come back as EPIPE).
#pragma once

namespace sdp {

void InstallSignalHandlers();
bool Interrupted();

// Daemon mode (watch): SIGINT/SIGTERM only request a stop; the current step finishes normally
// and the daemon exits 0 before starting the next one.
void InstallDaemonSignalHandlers();
bool StopRequested();
// For tests and for the watch daemon's shutdown path.
void SetInterruptedForTesting(bool value);

}  // namespace sdp
