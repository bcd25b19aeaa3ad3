// Chunked, resumable, idempotent upload of a tokenized CSV file.
//
// The idempotency key is derived from the file's SHA-256 (and the client, processing type and
// key column), so running the same upload again after a crash, a timeout or a kill -9 reopens
// the same batch instead of creating a second one. Chunks are cut at record boundaries (found
// with the RFC 4180 reader, so quoted newlines are never split), below the chunk size; the
// server treats a re-sent chunk with the same hash as a no-op and seals the batch only when
// the chunk count and the whole-content hash match.
#pragma once

#include <cstdint>
#include <string>

#include "agent/support/failure.h"
#include "agent/transport/transport.h"

namespace sdp {

struct UploadJob {
  std::string file;
  std::string client_id;
  std::string processing_type;
  std::string key_column = "customer_id";
  size_t chunk_bytes = size_t{8} << 20;
  // The upload manifest (UploadManifestJson of the tokenization config), or empty for none.
  std::string manifest;
};

struct UploadOutcome {
  BatchInfo batch;
  int chunks = 0;
  bool resumed = false;  // the batch existed already (re-run)
  uint64_t bytes = 0;
  double seconds = 0;
};

// On failure returns false with *failure (the exit code and one line).
bool UploadCsvFile(const UploadJob& job, ServerTransport* transport, UploadOutcome* outcome,
                   Failure* failure);

// Lowercase hex SHA-256 of a file's bytes.
bool Sha256File(const std::string& path, std::string* hex, std::string* err);

// Exit code for a transport failure (retryable 4, rejected by the server 5, else 1).
int ExitCodeFor(const TransportError& err);

}  // namespace sdp
