// ServerTransport over HTTPS: PostgREST v12's /rpc/* contract for the sdp_api functions
// (docs/postgrest.md). `SDP_SERVER_URL` is the base URL (Caddy in front of PostgREST, or
// PostgREST itself on loopback); every call goes to <base>/rpc/<function>:
//
//   OpenBatch       POST /rpc/batch_open         JSON {processing_type, key_column,
//                                                      idempotency_key, client_id}
//   AppendChunk     POST /rpc/batch_append       text/plain chunk; X-Batch-Id, X-Chunk-Seq,
//                                                X-Chunk-Sha256 headers (no JSON decoding of
//                                                the chunk in PostgREST, docs/postgrest.md §9)
//   SealBatch       POST /rpc/batch_seal         JSON {batch_id, chunks, content_sha256}
//   ProcessBatch    POST /rpc/process_batch      JSON {batch_id}  (dev: /rpc/dev_process_batch)
//   GetBatch        GET  /rpc/batch?batch_id=…
//   FetchResultsCsv GET  /rpc/results_csv?batch_id=…  Accept: text/csv
//
// Every request carries X-API-Key (never logged) and X-Client-Id once known. Failures become
// TransportError: PostgREST's {code,message,details,hint} body plus the HTTP status decide the
// Kind. Only network errors, 429, 502 (the gateway while PostgREST restarts), 503 and 504 are
// retried, up to options.max_retries times, with exponential backoff and jitter, or after the
// server's Retry-After (at most 600 s of such waits per call, then the call fails as retryable);
// no other 4xx/5xx is retried. Every call is safe to repeat (idempotency key, same chunk = no-op,
// seal and process return the stored result).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "agent/transport/http_client.h"
#include "agent/transport/transport.h"

namespace sdp {

// Production constructor: libcurl client, real clock. nullptr and *err (one line, "…; fix: …")
// for an unusable configuration: not http(s), credentials in the URL, plain http:// to a
// non-loopback host without options.insecure_http, unreadable CA bundle or client certificate.
std::unique_ptr<ServerTransport> NewHttpTransport(const TransportOptions& options,
                                                  std::string* err);

// Time and randomness, injectable so the retry tests neither sleep nor depend on luck.
struct RetryEnvironment {
  std::function<void(int64_t milliseconds)> sleep;  // default: interruptible real sleep
  std::function<int64_t()> now_unix_seconds;        // for Retry-After: <HTTP-date>
  std::function<uint64_t()> random;                 // jitter source
  // Receives one line per attempt (method, URL, status, redacted headers); SDP_HTTP_TRACE=1
  // sends them to stderr. Never sees a secret.
  std::function<void(const std::string& line)> trace;
};

std::unique_ptr<ServerTransport> NewHttpTransportWithClient(const TransportOptions& options,
                                                            std::unique_ptr<HttpClient> client,
                                                            RetryEnvironment env, std::string* err);

// ---- pure helpers (exposed for tests and the response fuzzer) ----------------------------------

// Kind for an HTTP status that is not 2xx.
TransportError::Kind KindForHttpStatus(long status);

// Fills *out from a non-2xx response: status, Kind, and code/message/hint from a PostgREST
// error body {"code","message","details","hint"} (details appended to the message). A body that
// is not such JSON (a proxy's HTML page, plain text, empty) gives a generic message with the
// first printable bytes. Never fails.
void ParseErrorResponse(long status, std::string_view body, TransportError* out);

// Retry-After: delta-seconds or an HTTP-date (RFC 9110 §10.2.3). false when absent/garbage.
// The result is clamped to [0, 3600] seconds.
bool ParseRetryAfter(std::string_view value, int64_t now_unix_seconds, int64_t* delay_seconds);

// Reply bodies. false and *err when the body is not the expected JSON object.
//   upload/seal {"batch_id","accepted_records","status"}
//   process     {"batch_id","processed_records","model_version","status"}
//   batch row   sdp_batch (every BatchInfo field)
// Fields absent from the body keep their value in *out.
bool ParseBatchJson(std::string_view body, BatchInfo* out, std::string* err);
// chunk reply {"batch_id","seq","accepted_records"}: *rows = accepted_records.
bool ParseChunkJson(std::string_view body, int64_t* rows, std::string* err);

// True for localhost, 127.0.0.0/8 and ::1 (with or without brackets).
bool IsLoopbackHost(std::string_view host);

}  // namespace sdp
