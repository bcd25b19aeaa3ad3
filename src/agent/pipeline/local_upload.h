// The local upload service of `sdp-agent serve --upload-config` (docs/dashboard.md, "Upload"):
// the dashboard's Upload page hands a raw CSV to the agent on 127.0.0.1, the agent tokenizes it
// here with its tokenization config and uploads only the tokens through its usual transport and
// uploader (the code path of `upload-batch`), and the page polls the progress.
//
// Any web page the user visits can send requests to 127.0.0.1, so every request is checked
// before its body is read (CheckUploadRequest): the Host must be this listener's loopback
// address (a rebound DNS name is refused), an Origin other than the dashboard's is refused even
// with the key, the key (X-API-Key, the pseudonymize key: a header no cross-site form can send,
// so the browser has to preflight and only the dashboard's origin passes the preflight) is
// compared in constant time, and the body has a size limit. The raw body goes to a 0600 file in
// a private directory, which is deleted as soon as the job ends, whatever the outcome. A CSV
// that fails to tokenize fails before anything is sent: no batch is opened.
//
// LocalUploadService is the whole behaviour without sockets (json_http.cc binds it), so the
// GoogleTests drive it directly with a fake transport.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/crypto/crypto_keys.h"
#include "agent/crypto/secret_buffer.h"
#include "agent/tokenize/tokenization_config.h"
#include "agent/transport/transport.h"

namespace sdp {

struct LocalUploadOptions {
  TokenizationConfig config;
  std::string vault_path = "token_vault.db";
  std::string work_dir;         // private (0700) directory for the raw and tokenized files
  std::string allowed_origin;   // the dashboard's origin, e.g. https://sdp.example (exact match)
  std::string client_id;        // the client the server credentials belong to
  std::string processing_type;  // default when the request names none
  std::string key_column = "customer_id";
  size_t max_body_bytes = size_t{100} << 20;
  size_t chunk_bytes = size_t{8} << 20;
  int max_jobs_kept = 100;  // finished jobs answered by GET /upload/{id}; older ones forgotten
};

// What the checks need of a request: its head only (the body is not read yet).
struct UploadRequestHead {
  std::string method;  // GET, POST, OPTIONS, ...
  std::string path;
  bool has_host = false;
  std::string host;
  bool has_origin = false;
  std::string origin;
  bool has_api_key = false;
  std::string api_key;
  bool has_content_length = false;
  uint64_t content_length = 0;
  // Preflight (OPTIONS) only.
  std::string request_method;   // Access-Control-Request-Method
  std::string request_headers;  // Access-Control-Request-Headers
  bool request_private_network = false;
};

struct UploadAnswer {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // CORS and the like
};

// Creates the transport a job uploads through (MakeTransport in the agent, a fake in tests).
using TransportFactory =
    std::function<bool(std::unique_ptr<ServerTransport>* transport, std::string* err)>;

class LocalUploadService {
 public:
  LocalUploadService() = default;
  ~LocalUploadService();  // waits for running jobs, deletes the work directory's files
  LocalUploadService(const LocalUploadService&) = delete;
  LocalUploadService& operator=(const LocalUploadService&) = delete;

  // `keys` must outlive the service. `api_key`: the pseudonymize key (only its SHA-256 is kept).
  bool Init(const LocalUploadOptions& options, const KeyRing& keys, const SecretBuffer& api_key,
            TransportFactory transport_factory, std::string* err);
  // The port the listener got (the Host check accepts 127.0.0.1:port and localhost:port).
  void SetPort(int port) { port_ = port; }

  // Whether `path` is this service's (/upload, /upload/...).
  static bool Owns(const std::string& path);

  // Every check that needs only the head. Returns true when the request may go on; else fills
  // *refusal (a problem document with the CORS headers the browser needs to read it, or none
  // for a foreign origin). A preflight (OPTIONS) is answered entirely here.
  bool CheckRequest(const UploadRequestHead& head, UploadAnswer* refusal) const;

  // GET /upload (the page's probe), GET /upload/{id} (progress), after CheckRequest.
  UploadAnswer Get(const UploadRequestHead& head);

  // POST /upload, after CheckRequest: a new private file for the body...
  bool NewBodyFile(std::string* path, int* fd, std::string* err);
  // ...and, once the whole body is in it (or reading failed: `complete` false, the file is
  // deleted), the job starts: 202 {"upload_id", "state", ...} at once.
  UploadAnswer Start(const UploadRequestHead& head, const std::string& body_path, uint64_t bytes,
                     const std::string& processing_type, bool complete);

  // Waits until no job is running (tests).
  void WaitIdle();

  // A problem document (RFC 7807) with the CORS headers of `head`'s origin when it is allowed.
  UploadAnswer Problem(const UploadRequestHead& head, int status, const std::string& title,
                       const std::string& detail) const;

 private:
  struct Job {
    std::string id;
    std::string state = "received";  // received, tokenizing, uploading, uploaded, failed
    std::string processing_type;
    uint64_t bytes_received = 0;
    uint64_t rows_tokenized = 0;
    uint64_t bytes_total = 0;  // of the tokenized file
    uint64_t bytes_uploaded = 0;
    int chunks = 0;
    std::string batch_id;
    int64_t records = 0;
    std::string error;
    std::string started_at, finished_at;
  };

  void Run(std::shared_ptr<Job> job, std::string raw_path);
  std::string JobJson(const Job& job) const;
  void AddCors(const UploadRequestHead& head, UploadAnswer* answer) const;
  bool HostAllowed(const std::string& host) const;
  bool KeyMatches(const std::string& key) const;
  void Forget();  // drops the oldest finished jobs beyond max_jobs_kept (mu_ held)

  LocalUploadOptions options_;
  const KeyRing* keys_ = nullptr;
  std::string key_digest_;
  TransportFactory transport_factory_;
  int port_ = 0;
  std::mutex mu_;  // jobs_, order_, threads_ and every Job's fields
  std::map<std::string, std::shared_ptr<Job>> jobs_;
  std::vector<std::string> order_;
  std::vector<std::pair<std::shared_ptr<Job>, std::thread>> threads_;  // joined once finished
  std::mutex run_mu_;  // one job tokenizes and uploads at a time (one vault, one transport)
};

// A private directory for the service's files under $TMPDIR (or /tmp), created 0700.
bool MakeUploadWorkDir(std::string* dir, std::string* err);

}  // namespace sdp
