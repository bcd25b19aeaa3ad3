// The two HTTP listeners of `sdp-agent serve` (cpp-httplib, 127.0.0.1 only) in front of a
// JsonService.
#pragma once

#include <string>

#include "agent/json/json_service.h"

namespace sdp {

struct JsonHttpOptions {
  std::string host = "127.0.0.1";
  int pseudonymize_port = 8001;  // 0: any free port
  int repersonalize_port = 8002;
  std::string port_file;  // written with both ports once they listen
  int threads = 4;        // per listener
};

// Serves until SIGINT/SIGTERM (true), or fails to listen (false with *err).
bool ServeJson(JsonService* service, const JsonHttpOptions& options, size_t max_body_bytes,
               std::string* err);

}  // namespace sdp
