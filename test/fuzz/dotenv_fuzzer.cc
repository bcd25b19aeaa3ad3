// libFuzzer target for the .env parser: never crashes, and whatever it accepts it accepts
// again when re-serialised (KEY="escaped value" lines parse back to the same map).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>

#include "agent/cli/dotenv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::map<std::string, std::string> vars;
  std::string err;
  if (!sdp::ParseDotEnv(text, "fuzz.env", &vars, &err)) {
    if (err.empty()) std::abort();  // a failure always says why
    return 0;
  }
  std::string again;
  for (const auto& [key, value] : vars) {
    if (value.find('\n') != std::string::npos || value.find('\r') != std::string::npos ||
        value.find('\0') != std::string::npos) {
      return 0;  // not representable on one line; nothing to compare
    }
    again += key + "=\"";
    for (char c : value) {
      if (c == '"' || c == '\\') again += '\\';
      again += c;
    }
    again += "\"\n";
  }
  std::map<std::string, std::string> reparsed;
  if (!sdp::ParseDotEnv(again, "fuzz.env", &reparsed, &err) || reparsed != vars) std::abort();
  return 0;
}
