// The client's whole round trip, shared by `process-batch` and the `watch` daemon:
//   tokenize (or reuse an earlier run's tokenized file) -> upload -> process or wait for the
//   server's worker -> fetch results -> integrate onto the raw file.
// Every step is idempotent, so running the same round trip again after a crash or kill -9
// resumes the same batch and never creates a second one.
#pragma once

#include <functional>
#include <string>

#include "agent/pipeline/integrate.h"
#include "agent/support/failure.h"
#include "agent/tokenize/tokenize_file.h"
#include "agent/transport/transport.h"
#include "agent/transport/uploader.h"

namespace sdp {

struct RoundTripOptions {
  std::string raw_input;
  std::string output;
  std::string config_path;     // tokenize with this config (or:)
  std::string tokenized_file;  // upload this already tokenized file
  std::string
      tokenized_path;  // where to write the tokenized file; default output + ".tokenized.csv"
  std::string vault_path = "token_vault.db";
  std::string client_id;
  std::string processing_type;
  std::string key_column = "customer_id";
  bool use_dev_processor = false;
  double timeout_seconds = 600;
  size_t chunk_bytes = size_t{8} << 20;
  bool escape_formulas = false;
};

struct RoundTripResult {
  bool reused_tokenized = false;
  FileReport tokenize;
  UploadOutcome upload;
  BatchInfo batch;
  IntegrateReport integrate;
};

// Progress callback: called with a short step name ("tokenized", "uploaded", "processed",
// "integrated") after each step; may be empty.
using StepCallback = std::function<void(const char* step, const RoundTripResult& so_far)>;

bool RunRoundTrip(const RoundTripOptions& options, ServerTransport* transport,
                  RoundTripResult* result, Failure* failure, const StepCallback& on_step = {});

// The pieces, for the commands that run only one of them.
bool WaitProcessed(const std::string& batch_id, double timeout_seconds, ServerTransport* transport,
                   BatchInfo* batch, Failure* failure);
bool FetchAndIntegrate(const RoundTripOptions& options, const std::string& batch_id,
                       ServerTransport* transport, IntegrateReport* report, Failure* failure);

}  // namespace sdp
