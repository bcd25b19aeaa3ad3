// Process exit codes of sdp-agent. Scripts and the watch daemon's supervisor branch on them, so
// they are part of the interface: never renumber.
#pragma once

namespace sdp {

enum ExitStatus : int {
  kExitOk = 0,            // success
  kExitFailure = 1,       // runtime failure (bad input file, I/O error, crypto failure)
  kExitUsage = 2,         // wrong flags or arguments
  kExitConfig = 3,        // missing or malformed configuration, key or environment
  kExitRetryable = 4,     // transient: network, server busy; the same command may succeed later
  kExitRejected = 5,      // the server refused the request (4xx); retrying will not help
  kExitInterrupted = 130  // SIGINT/SIGTERM: work so far flushed, nothing half-written
};

}  // namespace sdp
