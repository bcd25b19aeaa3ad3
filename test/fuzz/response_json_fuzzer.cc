// libFuzzer target for the agent's parsers of server replies (src/agent/transport/http_transport.h):
// PostgREST error bodies, batch and chunk replies, Retry-After.
//
//   clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc/agent -Isrc/common \
//     test/fuzz/response_json_fuzzer.cc src/agent/transport/http_transport.cc src/agent/transport/http_client.cc \
//     src/agent/support/signals.cc -lcurl -lcrypto -o build/response_json_fuzzer
//   build/response_json_fuzzer -max_total_time=20 test/fuzz/corpus/response_json
//
// Properties checked, besides "no crash / no sanitizer report":
//   1. An error reply always yields a one-line, bounded, non-empty message and the Kind that
//      the HTTP status alone decides.
//   2. A parsed batch reply has a UUID-shaped batch_id and a status; a chunk reply a row count
//      >= 0.
//   3. A Retry-After that parses lies in [0, 3600] seconds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "agent/transport/http_transport.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  // First two bytes pick the HTTP status; the rest is the body.
  const long status = 100 + (data[0] | (data[1] << 8)) % 500;
  std::string_view body(reinterpret_cast<const char*>(data + 2), size - 2);

  sdp::TransportError err;
  sdp::ParseErrorResponse(status, body, &err);
  if (err.message.empty() || err.message.size() > 2100 ||
      err.message.find('\n') != std::string::npos || err.hint.find('\n') != std::string::npos ||
      err.kind != sdp::KindForHttpStatus(status) || err.http_status != status) {
    std::abort();
  }

  sdp::BatchInfo info;
  std::string why;
  if (sdp::ParseBatchJson(body, &info, &why)) {
    if (info.batch_id.size() != 36 || info.status.empty()) std::abort();
  } else if (why.empty()) {
    std::abort();
  }
  int64_t rows = -1;
  if (sdp::ParseChunkJson(body, &rows, &why) && rows < 0) std::abort();

  int64_t delay = -1;
  if (sdp::ParseRetryAfter(body.substr(0, 64), 1700000000, &delay) && (delay < 0 || delay > 3600)) {
    std::abort();
  }
  return 0;
}
