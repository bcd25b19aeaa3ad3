#include "command.h"

#include <cstdio>

namespace sdp {

int ReportError(int exit_code, const std::string& message) {
  std::fprintf(stderr, "sdp-agent: error: %s\n", message.c_str());
  return exit_code;
}

}  // namespace sdp
