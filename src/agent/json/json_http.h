// The two HTTP listeners of `sdp-agent serve` (cpp-httplib, 127.0.0.1 only) in front of a
// JsonService.
#pragma once

#include <string>

#include "agent/json/json_service.h"
#include "agent/pipeline/local_upload.h"

namespace sdp {

struct JsonHttpOptions {
  std::string host = "127.0.0.1";
  int pseudonymize_port = 8001;  // 0: any free port
  int repersonalize_port = 8002;
  std::string port_file;  // written with both ports once they listen
  int threads = 4;        // per listener
  // With `upload`: POST /upload, GET /upload[/{id}] and their CORS preflight on the
  // pseudonymize listener (local_upload.h), bodies up to upload_max_body_bytes.
  LocalUploadService* upload = nullptr;
  size_t upload_max_body_bytes = 0;
};

// Serves until SIGINT/SIGTERM (true), or fails to listen (false with *err).
bool ServeJson(JsonService* service, const JsonHttpOptions& options, size_t max_body_bytes,
               std::string* err);

}  // namespace sdp
