// How the agent talks to the SDP server. Two implementations behind one interface:
//   postgresql://...  PgTransport (libpq) calling the sdp.sdp_* SQL functions directly
//   https://...       HttpTransport (libcurl) calling PostgREST's /rpc/* surface (sdp_api.*)
// Commands (upload-batch, process-batch, status, integrate-results, watch) only see this.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sdp {

struct BatchInfo {
  std::string batch_id;
  std::string client_id;
  std::string processing_type;
  std::string status;  // UPLOADING, RECEIVED, PROCESSING, PROCESSED, FAILED
  int64_t accepted_records = 0;
  int64_t processed_records = 0;
  std::string model_version;
  std::string content_sha256;
};

// A key rotation as the server reports it (sdp_rekey_begin/pairs/apply/finish/status, all JSON
// objects; fields a reply lacks stay at their defaults). docs/key_rotation.md.
struct RekeyState {
  std::string rotation_id;  // UUID
  std::string state;        // the server's state name ("pairs", "applying", "finished", ...)
  int64_t pairs = 0;        // pairs stored for the rotation
  int64_t accepted = 0;     // pairs new in the last sdp_rekey_pairs call
  int64_t rows_done = 0;
  int64_t rows_total = 0;
  int64_t unmapped = 0;     // stored tokens of the domain without a pair
  bool done = false;        // sdp_rekey_apply: nothing left to rewrite
  int current_version = 0;  // sdp_rekey_status: the domain's key version (0: not reported)
  std::string key_id;       // sdp_rekey_status: that version's key id, when known
  // sdp_rekey_status: the key versions the domain's stored batches were uploaded under (none:
  // the client has no data in the domain); known_stored_versions false when not reported.
  std::vector<int> stored_versions;
  bool known_stored_versions = false;
  bool open_rotation = false;  // sdp_rekey_status: an unfinished rotation exists ("rotation")
  std::string json;            // the reply as received (bounded, printable), for status output
};

struct TokenVersionPair {
  std::string old_token;
  std::string new_token;
  int from_version = 0;
  int to_version = 0;
};

struct TransportError {
  enum class Kind {
    kNone,
    kRetryable,  // network error, timeout, 429/502/503/504, server restarting: try again later
    kRejected,   // 400/413/415/422: the request itself is wrong; never retried
    kAuth,       // 401/403
    kNotFound,   // 404 (also another client's batch)
    kConflict,   // 409
    kFatal,      // anything else (TLS verification failure, 5xx without retry, bug)
  };
  Kind kind = Kind::kNone;
  int http_status = 0;  // 0 for libpq
  std::string code;     // SQLSTATE or PostgREST code, e.g. PT409, 22P04, PGRST202
  std::string message;  // server's message; never contains secrets
  std::string hint;
};

struct TransportOptions {
  std::string url;             // postgresql://... or https://...
  std::string client_id;       // the client the API key belongs to (X-Client-Id)
  std::string api_key;         // HTTPS: X-API-Key (from SDP_API_KEY; never logged)
  std::string ca_bundle;       // HTTPS: SDP_CA_BUNDLE
  std::string client_cert;     // HTTPS: optional mTLS certificate (PEM)
  std::string client_key;      // HTTPS: optional mTLS key (PEM)
  std::string proxy;           // HTTPS: SDP_PROXY, the only proxy ever used (never for loopback)
  bool insecure_http = false;  // allow http:// to a non-loopback host
  long connect_timeout_seconds = 10;
  long request_timeout_seconds = 300;
  int max_retries = 5;  // for kRetryable only
  // Largest reply accepted (results CSV over either transport): a hostile or broken server
  // cannot make the agent buffer without bound. 1 GiB, PostgreSQL's cap on one value.
  int64_t max_response_bytes = int64_t{1} << 30;
};

class ServerTransport {
 public:
  virtual ~ServerTransport() = default;

  // Opens (or, for the same client + idempotency key, returns the existing) chunked upload.
  // `manifest`: the upload manifest as JSON (column -> transform and class, UploadManifestJson),
  // which the server's PII firewall checks every chunk against; empty sends none (every column
  // is then checked as clear), and the call stays the one servers before the firewall know.
  virtual bool OpenBatch(const std::string& client_id, const std::string& processing_type,
                         const std::string& key_column, const std::string& idempotency_key,
                         const std::string& manifest, BatchInfo* out, TransportError* err) = 0;
  // Sends chunk `seq` (chunk 0 starts with the CSV header; later chunks hold whole rows only).
  // Re-sending a chunk with the same hash is a no-op on the server. *rows_so_far: rows stored.
  virtual bool AppendChunk(const std::string& batch_id, int seq, std::string_view chunk,
                           const std::string& chunk_sha256, int64_t* rows_so_far,
                           TransportError* err) = 0;
  // Verifies the chunk count and the whole-content SHA-256; the batch becomes RECEIVED.
  virtual bool SealBatch(const std::string& batch_id, int chunks, const std::string& content_sha256,
                         BatchInfo* out, TransportError* err) = 0;
  // Gives up an UPLOADING chunked upload the server refused for good (PT413 at its size limit, a
  // malformed chunk): the batch becomes FAILED and the rows of the chunks it accepted are
  // deleted (sdp_batch_abort). `reason` is stored with the batch (no values, no secrets).
  virtual bool AbortBatch(const std::string& batch_id, const std::string& reason, BatchInfo* out,
                          TransportError* err) = 0;
  // Runs the model now (dev entry point when `dev`, 404 unless the server has sdp.env=dev).
  virtual bool ProcessBatch(const std::string& batch_id, bool dev, BatchInfo* out,
                            TransportError* err) = 0;
  virtual bool GetBatch(const std::string& batch_id, BatchInfo* out, TransportError* err) = 0;
  // Results as CSV (header record_key,score,risk_band,model_version; rows in batch order).
  virtual bool FetchResultsCsv(const std::string& batch_id, std::string* csv,
                               TransportError* err) = 0;
  // "postgresql" or "https", for messages.
  virtual const char* name() const = 0;

  // Key rotation (docs/key_rotation.md; SQL sdp.sdp_rekey_*, PostgREST /rpc/rekey_*). Each
  // implementation that does not support it answers kFatal "not supported".
  // Opens (or returns the unfinished) rotation of `domain` from `from_version` to `to_version`.
  virtual bool RekeyBegin(const std::string& client_id, const std::string& domain, int from_version,
                          int to_version, const std::string& to_key_id, RekeyState* out,
                          TransportError* err);
  // The domain's tokens still stored under from_version, in byte order, strictly after `after`
  // ("" for the first page), at most `max_tokens`.
  virtual bool RekeyTokens(const std::string& rotation_id, const std::string& after, int max_tokens,
                           std::vector<std::string>* tokens, TransportError* err);
  // Uploads pairs as CSV (header old_token,new_token; at most 50,000 rows).
  virtual bool RekeyPairs(const std::string& rotation_id, const std::string& pairs_csv,
                          RekeyState* out, TransportError* err);
  // Rewrites at most `max_rows` rows in one server transaction.
  virtual bool RekeyApply(const std::string& rotation_id, int max_rows, RekeyState* out,
                          TransportError* err);
  virtual bool RekeyFinish(const std::string& rotation_id, RekeyState* out, TransportError* err);
  virtual bool TokenVersions(const std::string& client_id, const std::string& domain,
                             std::vector<TokenVersionPair>* out, TransportError* err);
  virtual bool RekeyStatus(const std::string& client_id, const std::string& domain, RekeyState* out,
                           TransportError* err);
};

// Reads a rotation reply ({"rotation_id", "state", "pairs", "accepted", "rows_done",
// "rows_total", "unmapped", "done", "key_version"}); false with *err when `body` is not a JSON
// object or a rotation_id present is not a UUID.
bool ParseRekeyJson(std::string_view body, RekeyState* out, std::string* err);

// Options from the command line (`url_flag` may be empty) and the environment: SDP_SERVER_URL,
// SDP_API_KEY, SDP_CA_BUNDLE, SDP_CLIENT_CERT, SDP_CLIENT_KEY, SDP_PROXY.
TransportOptions TransportOptionsFromEnv(const std::string& url_flag, const std::string& client_id,
                                         bool insecure_http);

// Picks the implementation from the URL scheme. Errors name the URL without credentials.
bool MakeTransport(const TransportOptions& options, std::unique_ptr<ServerTransport>* out,
                   std::string* err);

// "https://user:secret@host/x" -> "https://host/x"; "postgresql://u:pw@h/db" ->
// "postgresql://u@h/db"; the value of every secret query parameter (password, sslpassword,
// options, which can carry -c settings, and any name holding "key", "secret" or "token",
// percent-encoded names included) -> "[redacted]". For messages only.
std::string RedactUrl(const std::string& url);

// One line for stderr: "<what>: HTTP 409 PT409: <message>" / "<what>: PT404: <message>".
std::string DescribeTransportError(const std::string& what, const TransportError& err);

}  // namespace sdp
