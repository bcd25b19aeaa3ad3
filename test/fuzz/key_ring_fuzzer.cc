// libFuzzer target for the key ring parser (src/agent/crypto/key_ring_file.cc).
//
//   make fuzz-build && build-fuzz/fuzz/key_ring_fuzzer -max_total_time=20 test/fuzz/corpus/key_ring
//
// Properties checked, besides "no crash / no sanitizer report":
//   1. A ring that parses has unique versions in 1..61 and unique ids, each the id of its key.
//   2. An error never contains a 44-character key-looking run of the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>

#include "agent/crypto/key_ring_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  sdp::KeyRingFile ring;
  std::string err;
  if (sdp::KeyRingFile::Parse(text, "fuzz", &ring, &err)) {
    std::set<int> versions;
    std::set<std::string> ids;
    for (const auto& e : ring.entries()) {
      if (e.version < 1 || e.version > 61 || !versions.insert(e.version).second ||
          !ids.insert(e.id).second) {
        std::abort();
      }
      sdp::KeyRing keys;
      if (!ring.Keys(e.version, &keys, &err) || keys.key_id() != e.id) std::abort();
    }
    return 0;
  }
  // Any 44-character run of the input that reached the error would be key material shown.
  for (size_t i = 0; i + 44 <= text.size(); i += 11) {
    const std::string run = text.substr(i, 44);
    if (run.find_first_of("\"{}[],: \n") == std::string::npos &&
        err.find(run) != std::string::npos) {
      std::abort();
    }
  }
  return 0;
}
