#include "agent/pipeline/local_upload.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "agent/crypto/random.h"
#include "agent/support/log.h"
#include "agent/tokenize/tokenize_file.h"
#include "agent/tokenize/upload_manifest.h"
#include "agent/transport/uploader.h"
#include "common/hex.h"
#include "common/sha256.h"
#include "common/shown_value.h"

namespace sdp {
namespace {

// The request headers the dashboard's page sends; a preflight asking for any other is refused.
constexpr const char* kAllowedHeaders[] = {"content-type", "x-api-key", "x-processing-type"};

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string Trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t");
  if (a == std::string::npos) return "";
  const size_t b = s.find_last_not_of(" \t");
  return s.substr(a, b - a + 1);
}

// A server's processing type: what sdp_batch_open accepts, checked here so a hostile header is
// refused before a job starts.
bool IsProcessingType(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '-' || c == '.';
  });
}

// "/tmp/x/raw-1.csv:3: record 2 ..." -> "line 3: record 2 ...": the page names neither the
// agent's directories nor file names it never saw.
std::string PageError(std::string message, const std::string& raw_path,
                      const std::string& tokenized_path) {
  const auto replace = [&](const std::string& what, const std::string& with) {
    for (size_t at = message.find(what); at != std::string::npos; at = message.find(what, at)) {
      message.replace(at, what.size(), with);
      at += with.size();
    }
  };
  replace(tokenized_path, "the tokenized file");  // first: it starts with raw_path
  const std::string at_line = raw_path + ":";
  for (size_t at = message.find(at_line); at != std::string::npos; at = message.find(at_line, at)) {
    const bool numbered = at + at_line.size() < message.size() &&
                          std::isdigit(static_cast<unsigned char>(message[at + at_line.size()]));
    const std::string with = numbered ? "line " : "the uploaded CSV:";
    message.replace(at, at_line.size(), with);
    at += with.size();
  }
  replace(raw_path, "the uploaded CSV");
  return message;
}

// Forwards to the real transport and counts the bytes of the chunks the server accepted.
class CountingTransport : public ServerTransport {
 public:
  CountingTransport(ServerTransport* inner, std::function<void(uint64_t, int)> on_chunk)
      : inner_(inner), on_chunk_(std::move(on_chunk)) {}
  bool OpenBatch(const std::string& client_id, const std::string& processing_type,
                 const std::string& key_column, const std::string& idempotency_key,
                 const std::string& manifest, BatchInfo* out, TransportError* err) override {
    return inner_->OpenBatch(client_id, processing_type, key_column, idempotency_key, manifest, out,
                             err);
  }
  bool AppendChunk(const std::string& batch_id, int seq, std::string_view chunk,
                   const std::string& chunk_sha256, int64_t* rows_so_far,
                   TransportError* err) override {
    if (!inner_->AppendChunk(batch_id, seq, chunk, chunk_sha256, rows_so_far, err)) return false;
    on_chunk_(chunk.size(), seq);
    return true;
  }
  bool SealBatch(const std::string& batch_id, int chunks, const std::string& content_sha256,
                 BatchInfo* out, TransportError* err) override {
    return inner_->SealBatch(batch_id, chunks, content_sha256, out, err);
  }
  bool AbortBatch(const std::string& batch_id, const std::string& reason, BatchInfo* out,
                  TransportError* err) override {
    return inner_->AbortBatch(batch_id, reason, out, err);
  }
  bool ProcessBatch(const std::string& batch_id, bool dev, BatchInfo* out,
                    TransportError* err) override {
    return inner_->ProcessBatch(batch_id, dev, out, err);
  }
  bool GetBatch(const std::string& batch_id, BatchInfo* out, TransportError* err) override {
    return inner_->GetBatch(batch_id, out, err);
  }
  bool FetchResultsCsv(const std::string& batch_id, std::string* csv,
                       TransportError* err) override {
    return inner_->FetchResultsCsv(batch_id, csv, err);
  }
  const char* name() const override { return inner_->name(); }

 private:
  ServerTransport* inner_;
  std::function<void(uint64_t, int)> on_chunk_;
};

}  // namespace

LocalUploadService::~LocalUploadService() { WaitIdle(); }

void LocalUploadService::WaitIdle() {
  std::vector<std::pair<std::shared_ptr<Job>, std::thread>> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.second.join();
}

bool LocalUploadService::Init(const LocalUploadOptions& options, const KeyRing& keys,
                              const SecretBuffer& api_key, TransportFactory transport_factory,
                              std::string* err) {
  if (api_key.size() == 0) {
    *err =
        "the upload service needs SDP_PSEUDONYMIZE_API_KEY (the page sends it as X-API-Key); fix: "
        "set it in the environment or the dotenv file";
    return false;
  }
  const std::string& o = options.allowed_origin;
  const bool scheme_ok = o.rfind("https://", 0) == 0 || o.rfind("http://", 0) == 0;
  const size_t host_at = o.find("://") + 3;
  if (!scheme_ok || o.size() <= host_at || o.find_first_of("/?#*", host_at) != std::string::npos ||
      o.find_first_of(" \t\r\n,") != std::string::npos) {
    *err = "--cors-origin " + QuotedValue(o) +
           " is not an origin; fix: give the dashboard's origin exactly as the browser sends it, "
           "e.g. https://sdp.example (scheme, host and port if not the default, no path)";
    return false;
  }
  if (options.work_dir.empty()) {
    *err = "the upload service has no work directory";
    return false;
  }
  if (!options.processing_type.empty() && !IsProcessingType(options.processing_type)) {
    *err = "--processing-type " + QuotedValue(options.processing_type) +
           " is not a processing type; fix: letters, digits, _ . - (at most 64)";
    return false;
  }
  options_ = options;
  keys_ = &keys;
  key_digest_ =
      Sha256::Hex(std::string_view(reinterpret_cast<const char*>(api_key.data()), api_key.size()));
  transport_factory_ = std::move(transport_factory);
  return true;
}

bool LocalUploadService::Owns(const std::string& path) {
  return path == "/upload" || path.rfind("/upload/", 0) == 0;
}

bool LocalUploadService::HostAllowed(const std::string& host) const {
  if (port_ <= 0) return false;
  const std::string port = ":" + std::to_string(port_);
  const std::string h = Lower(host);
  return h == "127.0.0.1" + port || h == "localhost" + port;
}

bool LocalUploadService::KeyMatches(const std::string& key) const {
  const std::string digest = Sha256::Hex(key);
  return digest.size() == key_digest_.size() &&
         CRYPTO_memcmp(digest.data(), key_digest_.data(), digest.size()) == 0;
}

void LocalUploadService::AddCors(const UploadRequestHead& head, UploadAnswer* answer) const {
  answer->headers.emplace_back("Vary", "Origin");
  if (!head.has_origin || head.origin != options_.allowed_origin) return;
  answer->headers.emplace_back("Access-Control-Allow-Origin", options_.allowed_origin);
}

UploadAnswer LocalUploadService::Problem(const UploadRequestHead& head, int status,
                                         const std::string& title,
                                         const std::string& detail) const {
  UploadAnswer a;
  a.status = status;
  a.content_type = "application/problem+json";
  a.body = nlohmann::json{
      {"type", "about:blank"},
      {"title", title},
      {"status", status},
      {"detail",
       detail}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  AddCors(head, &a);
  return a;
}

bool LocalUploadService::CheckRequest(const UploadRequestHead& head, UploadAnswer* answer) const {
  // A page on another site that made a DNS name resolve to 127.0.0.1 (DNS rebinding) sends its
  // own name as Host: only the loopback names of this listener are this agent.
  if (!head.has_host || !HostAllowed(head.host)) {
    UploadAnswer a =
        Problem(UploadRequestHead(), 403, "Forbidden",
                "the Host header is not this agent's address (127.0.0.1:" + std::to_string(port_) +
                    " or localhost:" + std::to_string(port_) + ")");
    *answer = std::move(a);
    return false;
  }
  // Any other page the user visits may send requests here: only the dashboard's origin passes,
  // with or without the key. No CORS header, so the foreign page cannot even read the refusal.
  if (head.has_origin && head.origin != options_.allowed_origin) {
    *answer = Problem(UploadRequestHead(), 403, "Forbidden",
                      "requests from this origin are refused; only the dashboard's origin "
                      "(--cors-origin) may use the local upload");
    return false;
  }
  if (head.method == "OPTIONS") {
    if (!head.has_origin) {
      *answer = Problem(head, 403, "Forbidden", "a preflight without an Origin");
      return false;
    }
    if (head.request_method != "GET" && head.request_method != "POST") {
      *answer = Problem(UploadRequestHead(), 403, "Forbidden",
                        "only GET and POST are allowed across origins");
      return false;
    }
    std::string rest = head.request_headers;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      const std::string name = Lower(Trim(rest.substr(0, comma)));
      rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
      if (name.empty()) continue;
      if (std::find_if(std::begin(kAllowedHeaders), std::end(kAllowedHeaders),
                       [&](const char* h) { return name == h; }) == std::end(kAllowedHeaders)) {
        *answer = Problem(UploadRequestHead(), 403, "Forbidden",
                          "request header " + QuotedValue(name) + " is not allowed");
        return false;
      }
    }
    UploadAnswer a;
    a.status = 204;
    a.content_type = "text/plain";
    AddCors(head, &a);
    a.headers.emplace_back("Access-Control-Allow-Methods", "GET, POST");
    a.headers.emplace_back("Access-Control-Allow-Headers",
                           "Content-Type, X-API-Key, X-Processing-Type");
    a.headers.emplace_back("Access-Control-Max-Age", "600");
    // Chrome's Private Network Access: a public page reaching a loopback service asks first.
    if (head.request_private_network) {
      a.headers.emplace_back("Access-Control-Allow-Private-Network", "true");
    }
    *answer = std::move(a);
    return false;
  }
  const bool probe = head.path == "/upload" && head.method == "GET";
  const bool post = head.path == "/upload" && head.method == "POST";
  const bool progress = head.path.rfind("/upload/", 0) == 0 && head.method == "GET";
  if (!probe && !post && !progress) {
    *answer = Problem(head, 405, "Method Not Allowed",
                      "the upload service answers GET /upload, POST /upload and GET /upload/{id}");
    answer->headers.emplace_back("Allow", "GET, POST, OPTIONS");
    return false;
  }
  if (probe) return true;  // says only that an agent is here
  if (!head.has_api_key) {
    *answer = Problem(head, 401, "Unauthorized", "the X-API-Key header is missing");
    return false;
  }
  if (!KeyMatches(head.api_key)) {
    *answer = Problem(head, 401, "Unauthorized", "the X-API-Key is not this agent's key");
    return false;
  }
  if (post && !head.has_content_length) {
    *answer = Problem(head, 411, "Length Required", "send the CSV with a Content-Length");
    return false;
  }
  if (post && head.content_length > options_.max_body_bytes) {
    *answer = Problem(head, 413, "Payload Too Large",
                      "the CSV has " + std::to_string(head.content_length) +
                          " bytes; this agent takes at most " +
                          std::to_string(options_.max_body_bytes) + " (--upload-max-bytes)");
    return false;
  }
  return true;
}

std::string LocalUploadService::JobJson(const Job& job) const {
  nlohmann::json j = {
      {"upload_id", job.id},
      {"state", job.state},
      {"processing_type", job.processing_type},
      {"bytes_received", job.bytes_received},
      {"rows_tokenized", job.rows_tokenized},
      {"bytes_total", job.bytes_total},
      {"bytes_uploaded", job.bytes_uploaded},
      {"chunks", job.chunks},
      {"batch_id", job.batch_id.empty() ? nlohmann::json() : nlohmann::json(job.batch_id)},
      {"records", job.records},
      {"error", job.error.empty() ? nlohmann::json() : nlohmann::json(job.error)},
      {"started_at", job.started_at},
      {"finished_at",
       job.finished_at.empty() ? nlohmann::json() : nlohmann::json(job.finished_at)}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

UploadAnswer LocalUploadService::Get(const UploadRequestHead& head) {
  UploadAnswer a;
  AddCors(head, &a);
  if (head.path == "/upload") {
    a.body = nlohmann::json{{"service", "sdp-agent upload"},
                            {"max_body_bytes", options_.max_body_bytes},
                            {"processing_type", options_.processing_type}}
                 .dump();
    return a;
  }
  const std::string id = head.path.substr(std::strlen("/upload/"));
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = jobs_.find(id);
  if (it == jobs_.end()) {
    return Problem(head, 404, "Not Found", "no upload with this id (it may have been forgotten)");
  }
  a.body = JobJson(*it->second);
  return a;
}

bool LocalUploadService::NewBodyFile(std::string* path, int* fd, std::string* err) {
  std::string templ = options_.work_dir + "/raw-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  const int f = ::mkstemp(buf.data());  // 0600
  if (f < 0) {
    *err = "cannot create a file in the upload directory: " + std::string(std::strerror(errno));
    return false;
  }
  *path = buf.data();
  *fd = f;
  return true;
}

UploadAnswer LocalUploadService::Start(const UploadRequestHead& head, const std::string& body_path,
                                       uint64_t bytes, const std::string& processing_type,
                                       bool complete) {
  const std::string type = processing_type.empty() ? options_.processing_type : processing_type;
  if (!complete) {
    ::unlink(body_path.c_str());
    if (bytes > options_.max_body_bytes) {
      return Problem(head, 413, "Payload Too Large",
                     "the CSV is larger than this agent takes (" +
                         std::to_string(options_.max_body_bytes) + " bytes, --upload-max-bytes)");
    }
    return Problem(head, 400, "Bad Request", "the CSV did not arrive completely");
  }
  if (!IsProcessingType(type)) {
    ::unlink(body_path.c_str());
    return Problem(head, 400, "Bad Request",
                   type.empty() ? "no processing type: send X-Processing-Type"
                                : "X-Processing-Type " + QuotedValue(type) +
                                      " is not a processing type (letters, digits, _ . -)");
  }
  uint8_t raw_id[16];
  std::string err;
  if (!ThreadRandomBytes(raw_id, sizeof raw_id, &err)) {
    ::unlink(body_path.c_str());
    return Problem(head, 500, "Internal Server Error", "no random bytes for an upload id");
  }
  auto job = std::make_shared<Job>();
  job->id = HexEncode(raw_id, sizeof raw_id);
  job->processing_type = type;
  job->bytes_received = bytes;
  job->started_at = log::NowIso();
  UploadAnswer a;
  std::vector<std::thread> done;  // threads of finished jobs, joined outside the lock
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = threads_.begin(); it != threads_.end();) {
      if (it->first->state == "uploaded" || it->first->state == "failed") {
        done.push_back(std::move(it->second));
        it = threads_.erase(it);
      } else {
        ++it;
      }
    }
    jobs_[job->id] = job;
    order_.push_back(job->id);
    Forget();
    a.body = JobJson(*job);
    threads_.emplace_back(job, std::thread([this, job, body_path] { Run(job, body_path); }));
  }
  for (auto& t : done) t.join();
  a.status = 202;
  AddCors(head, &a);
  log::Event(log::Level::kInfo, "local_upload_received", "",
             "\"upload_id\":" + log::JsonString(job->id) + ",\"bytes\":" + std::to_string(bytes));
  return a;
}

void LocalUploadService::Forget() {
  while (static_cast<int>(order_.size()) > options_.max_jobs_kept) {
    const auto it = jobs_.find(order_.front());
    if (it != jobs_.end()) {
      const std::string& s = it->second->state;
      if (s != "uploaded" && s != "failed") break;  // a running job is never forgotten
      jobs_.erase(it);
    }
    order_.erase(order_.begin());
  }
}

void LocalUploadService::Run(std::shared_ptr<Job> job, std::string raw_path) {
  std::lock_guard<std::mutex> run(run_mu_);
  const std::string tokenized_path = raw_path + ".tokenized.csv";
  const auto finish = [&](const std::string& state, const std::string& error) {
    ::unlink(raw_path.c_str());
    ::unlink(tokenized_path.c_str());
    std::lock_guard<std::mutex> lock(mu_);
    job->state = state;
    job->error = PageError(error, raw_path, tokenized_path);
    job->finished_at = log::NowIso();
    log::Event(state == "uploaded" ? log::Level::kInfo : log::Level::kWarn,
               state == "uploaded" ? "local_upload_done" : "local_upload_failed", "",
               "\"upload_id\":" + log::JsonString(job->id) +
                   ",\"rows\":" + std::to_string(job->rows_tokenized) +
                   ",\"batch_id\":" + log::JsonString(job->batch_id) +
                   (job->error.empty() ? "" : ",\"error\":" + log::JsonString(job->error)));
  };
  {
    std::lock_guard<std::mutex> lock(mu_);
    job->state = "tokenizing";
  }
  TokenizeJob tj;
  tj.input = raw_path;
  tj.output = tokenized_path;
  tj.vault_path = options_.vault_path;
  tj.config = options_.config;
  FileReport report;
  std::string err;
  // The whole file is tokenized before anything is sent: a malformed CSV fails here, with no
  // batch opened on the server.
  if (!TokenizeCsvFile(tj, *keys_, &report, &err)) return finish("failed", err);
  ::unlink(raw_path.c_str());  // the raw data is not needed any more
  struct stat st {};
  const uint64_t total = ::stat(tokenized_path.c_str(), &st) == 0 ? st.st_size : 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    job->rows_tokenized = report.rows;
    job->bytes_total = total;
    job->state = "uploading";
  }
  std::unique_ptr<ServerTransport> inner;
  if (!transport_factory_(&inner, &err)) return finish("failed", err);
  CountingTransport transport(inner.get(), [&](uint64_t bytes, int seq) {
    std::lock_guard<std::mutex> lock(mu_);
    job->bytes_uploaded += bytes;
    job->chunks = seq + 1;
  });
  UploadJob upload;
  upload.file = tokenized_path;
  upload.client_id = options_.client_id;
  upload.processing_type = job->processing_type;
  upload.key_column = options_.key_column;
  upload.chunk_bytes = options_.chunk_bytes;
  // The same manifest as upload-batch --config: the server's PII firewall checks every column
  // against it, and the key versions let the server rotate the tokens later.
  upload.manifest = UploadManifestJson(options_.config, keys_);
  UploadOutcome outcome;
  Failure failure;
  if (!UploadCsvFile(upload, &transport, &outcome, &failure)) {
    return finish("failed", failure.message);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    job->batch_id = outcome.batch.batch_id;
    job->records = outcome.batch.accepted_records;
    job->chunks = outcome.chunks;
    job->bytes_uploaded = outcome.bytes;
  }
  finish("uploaded", "");
}

bool MakeUploadWorkDir(std::string* dir, std::string* err) {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/sdp-agent-upload-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {  // 0700
    *err = "cannot create a private directory for uploads under " + templ + ": " +
           std::strerror(errno) + "; fix: set TMPDIR to a writable directory";
    return false;
  }
  *dir = buf.data();
  return true;
}

}  // namespace sdp
