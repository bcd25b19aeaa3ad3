// How a failing step of the agent reports itself: the exit code the process ends with
// (exit_status.h) and the one stderr line that says why (docs/style.md, agent 7 and 8). The two
// always travel together, so they are one value.
#pragma once

#include <string>
#include <utility>

#include "agent/support/exit_status.h"

namespace sdp {

struct Failure {
  int exit_code = kExitFailure;
  std::string message;  // one line: "<what>: <cause>; fix: <action>"
};

// Fills *failure and returns false, so that a failing step ends with
// `return Fail(failure, kExitUsage, "...");`.
inline bool Fail(Failure* failure, int exit_code, std::string message) {
  failure->exit_code = exit_code;
  failure->message = std::move(message);
  return false;
}

}  // namespace sdp
