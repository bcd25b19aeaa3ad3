// HTTPS transport: PostgREST's /rpc/* contract for sdp_api (see http_transport.h).
#include "agent/transport/http_transport.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <time.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <utility>

#include "agent/support/signals.h"
#include "common/shown_value.h"
#include "common/text.h"

namespace sdp {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxJsonDepth = 32;  // our replies are flat; anything deeper is not ours
constexpr int64_t kMaxRetryAfterSeconds = 3600;
// Total time one call spends waiting because the server said Retry-After: a server (or anything
// in front of it) answering 503 with Retry-After: 3600 every time would otherwise hold the agent
// for max_retries hours. Past it the call fails as retryable (exit 4: run it again later).
constexpr int64_t kMaxRetryAfterTotalSeconds = 600;
constexpr int64_t kBackoffBaseMs = 250;
constexpr int64_t kBackoffCapMs = 30000;

// nlohmann's parser is iterative, but a reply nested thousands of levels deep is never ours:
// refuse it before parsing (strings skipped, escapes honoured).
bool TooDeep(std::string_view body) {
  size_t depth = 0;
  bool in_string = false, escaped = false;
  for (char c : body) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxJsonDepth) return true;
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return false;
}

bool ParseObject(std::string_view body, Json* out) {
  if (TooDeep(body)) return false;
  *out = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  return !out->is_discarded() && out->is_object();
}

// String member, or false if absent/null/not a string.
bool StringField(const Json& o, const char* key, std::string* out) {
  auto it = o.find(key);
  if (it == o.end() || !it->is_string()) return false;
  *out = it->get_ref<const std::string&>();
  return true;
}

bool IntField(const Json& o, const char* key, int64_t* out) {
  auto it = o.find(key);
  if (it == o.end()) return false;
  if (it->is_number_integer() && !it->is_number_unsigned()) {
    *out = it->get<int64_t>();
    return true;
  }
  if (it->is_number_unsigned()) {
    const uint64_t v = it->get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    *out = static_cast<int64_t>(v);
    return true;
  }
  return false;
}

bool IsHex64(std::string_view s) {
  if (s.size() != 64) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
}

void ReplaceAll(std::string* s, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  for (size_t pos = s->find(from); pos != std::string::npos; pos = s->find(from, pos + to.size())) {
    s->replace(pos, from.size(), to);
  }
}

void DefaultSleep(int64_t ms) {
  // In slices, so that Ctrl-C during a long Retry-After is noticed.
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (!Interrupted()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= end) return;
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(end - now, std::chrono::milliseconds(100)));
  }
}

// Validates SDP_SERVER_URL and returns it without trailing slashes.
bool CheckBaseUrl(const TransportOptions& options, std::string* base, std::string* err) {
  const std::string& url = options.url;
  const bool https = StartsWithIgnoreCase(url, "https://");
  const bool http = StartsWithIgnoreCase(url, "http://");
  if (!https && !http) {
    *err = "SDP_SERVER_URL is not an http(s) URL; fix: use https://host[:port] (or postgresql://…)";
    return false;
  }
  CURLU* u = curl_url();
  if (u == nullptr) {
    *err = "out of memory";
    return false;
  }
  std::unique_ptr<CURLU, void (*)(CURLU*)> guard(u, curl_url_cleanup);
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    *err = "SDP_SERVER_URL is not a valid URL; fix: use https://host[:port][/prefix]";
    return false;
  }
  auto part = [u](CURLUPart what, std::string* out) {
    char* value = nullptr;
    if (curl_url_get(u, what, &value, 0) != CURLUE_OK || value == nullptr) return false;
    *out = value;
    curl_free(value);
    return true;
  };
  std::string host, ignored;
  if (part(CURLUPART_USER, &ignored) || part(CURLUPART_PASSWORD, &ignored)) {
    *err =
        "SDP_SERVER_URL must not contain credentials; fix: remove user:password@ and put the API "
        "key in SDP_API_KEY";
    return false;
  }
  if (part(CURLUPART_QUERY, &ignored) || part(CURLUPART_FRAGMENT, &ignored)) {
    *err =
        "SDP_SERVER_URL must not have a query or fragment; fix: use https://host[:port][/prefix]";
    return false;
  }
  if (!part(CURLUPART_HOST, &host) || host.empty()) {
    *err = "SDP_SERVER_URL has no host; fix: use https://host[:port]";
    return false;
  }
  if (http && !options.insecure_http && !IsLoopbackHost(host)) {
    *err = "refusing plain http:// to " + host +
           ": the API key and the data would travel unencrypted; fix: use https:// (or "
           "--insecure-http on a network you trust)";
    return false;
  }
  *base = url;
  while (!base->empty() && base->back() == '/') base->pop_back();
  return true;
}

class HttpTransport : public ServerTransport {
 public:
  HttpTransport(const TransportOptions& options, std::string base,
                std::unique_ptr<HttpClient> client, RetryEnvironment env)
      : options_(options),
        base_(std::move(base)),
        client_(std::move(client)),
        env_(std::move(env)),
        client_id_(options.client_id) {}

  ~HttpTransport() override {
    // Best effort: the key copy in options_ is wiped rather than left in freed memory.
    OPENSSL_cleanse(options_.api_key.data(), options_.api_key.size());
  }

  bool OpenBatch(const std::string& client_id, const std::string& processing_type,
                 const std::string& key_column, const std::string& idempotency_key,
                 const std::string& manifest, BatchInfo* out, TransportError* err) override {
    if (!client_id.empty()) client_id_ = client_id;
    Json args = Json::object();
    args["processing_type"] = processing_type;
    if (!key_column.empty()) args["key_column"] = key_column;
    if (!idempotency_key.empty()) args["idempotency_key"] = idempotency_key;
    if (!client_id.empty()) args["client_id"] = client_id;
    if (!manifest.empty()) {
      args["manifest"] = Json::parse(manifest, nullptr, /*allow_exceptions=*/false);
      if (args["manifest"].is_discarded() || !args["manifest"].is_object()) {
        return Invalid("the upload manifest is not a JSON object", err);
      }
    }
    HttpResponse resp;
    if (!Call(true, "batch_open", "", {}, JsonBody(args), "application/json", &resp, err)) {
      return false;
    }
    *out = BatchInfo();
    out->client_id = client_id;
    out->processing_type = processing_type;
    return ParseReply("batch_open", resp, out, err);
  }

  bool AppendChunk(const std::string& batch_id, int seq, std::string_view chunk,
                   const std::string& chunk_sha256, int64_t* rows_so_far,
                   TransportError* err) override {
    if (!CheckBatchId(batch_id, err)) return false;
    if (seq < 0 || !IsHex64(chunk_sha256)) {
      return Invalid("chunk seq must be >= 0 and its SHA-256 64 hex digits", err);
    }
    HttpHeaders extra = {{"X-Batch-Id", batch_id},
                         {"X-Chunk-Seq", std::to_string(seq)},
                         {"X-Chunk-Sha256", chunk_sha256}};
    HttpResponse resp;
    // text/plain reaches the function's single unnamed text parameter untouched: PostgREST does
    // not decode it as JSON (memory, docs/postgrest.md §7/§9).
    if (!Call(true, "batch_append", "", extra, chunk, "text/plain; charset=utf-8", &resp, err)) {
      return false;
    }
    std::string why;
    if (!ParseChunkJson(resp.body, rows_so_far, &why)) {
      return BadReply("batch_append", "HTTP " + std::to_string(resp.status) + ", " + why, err);
    }
    return true;
  }

  bool SealBatch(const std::string& batch_id, int chunks, const std::string& content_sha256,
                 BatchInfo* out, TransportError* err) override {
    if (!CheckBatchId(batch_id, err)) return false;
    Json args = {{"batch_id", batch_id}, {"chunks", chunks}, {"content_sha256", content_sha256}};
    HttpResponse resp;
    if (!Call(true, "batch_seal", "", {}, JsonBody(args), "application/json", &resp, err)) {
      return false;
    }
    *out = BatchInfo();
    out->client_id = client_id_;
    out->content_sha256 = content_sha256;
    return ParseReply("batch_seal", resp, out, err);
  }

  bool AbortBatch(const std::string& batch_id, const std::string& reason, BatchInfo* out,
                  TransportError* err) override {
    if (!CheckBatchId(batch_id, err)) return false;
    Json args = {{"batch_id", batch_id}, {"reason", reason}};
    HttpResponse resp;
    if (!Call(true, "batch_abort", "", {}, JsonBody(args), "application/json", &resp, err)) {
      return false;
    }
    *out = BatchInfo();
    out->client_id = client_id_;
    return ParseReply("batch_abort", resp, out, err);
  }

  bool ProcessBatch(const std::string& batch_id, bool dev, BatchInfo* out,
                    TransportError* err) override {
    if (!CheckBatchId(batch_id, err)) return false;
    Json args = {{"batch_id", batch_id}};
    HttpResponse resp;
    if (!Call(true, dev ? "dev_process_batch" : "process_batch", "", {}, JsonBody(args),
              "application/json", &resp, err)) {
      return false;
    }
    *out = BatchInfo();
    out->client_id = client_id_;
    return ParseReply(dev ? "dev_process_batch" : "process_batch", resp, out, err);
  }

  bool GetBatch(const std::string& batch_id, BatchInfo* out, TransportError* err) override {
    if (!CheckBatchId(batch_id, err)) return false;
    HttpResponse resp;
    if (!Call(false, "batch", "batch_id=" + batch_id, {}, {}, "", &resp, err)) return false;
    *out = BatchInfo();
    return ParseReply("batch", resp, out, err);
  }

  bool FetchResultsCsv(const std::string& batch_id, std::string* csv,
                       TransportError* err) override {
    if (!CheckBatchId(batch_id, err)) return false;
    HttpResponse resp;
    if (!Call(false, "results_csv", "batch_id=" + batch_id, {{"Accept", "text/csv"}}, {}, "", &resp,
              err)) {
      return false;
    }
    const std::string* type = resp.Header("Content-Type");
    if (type != nullptr && !StartsWithIgnoreCase(*type, "text/csv")) {
      return BadReply("results_csv",
                      "Content-Type " + ShownServerText(*type, 80) + ", not text/csv", err);
    }
    *csv = std::move(resp.body);
    return true;
  }

  const char* name() const override { return "https"; }

  bool RekeyBegin(const std::string& client_id, const std::string& domain, int from_version,
                  int to_version, const std::string& to_key_id, RekeyState* out,
                  TransportError* err) override {
    if (!client_id.empty()) client_id_ = client_id;
    return RekeyCall("rekey_begin",
                     {{"client_id", client_id_},
                      {"domain", domain},
                      {"from_version", from_version},
                      {"to_version", to_version},
                      {"to_key_id", to_key_id}},
                     out, err);
  }

  bool RekeyTokens(const std::string& rotation_id, const std::string& after, int max_tokens,
                   std::vector<std::string>* tokens, TransportError* err) override {
    tokens->clear();
    if (!CheckRotationId(rotation_id, err)) return false;
    Json args = {{"rotation_id", rotation_id}, {"max_tokens", max_tokens}};
    args["after"] = after.empty() ? Json(nullptr) : Json(after);
    HttpResponse resp;
    if (!Call(true, "rekey_tokens", "", {}, JsonBody(args), "application/json", &resp, err)) {
      return false;
    }
    // SETOF text: PostgREST answers an array of strings, or of one-key objects
    // ({"rekey_tokens": "..."}) depending on its version; both are read.
    const Json j = TooDeep(resp.body) ? Json(nullptr)
                                      : Json::parse(resp.body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_array() || j.size() > static_cast<size_t>(max_tokens)) {
      return BadReply("rekey_tokens", "not a JSON array of at most max_tokens tokens", err);
    }
    for (const Json& item : j) {
      const Json* value = &item;
      if (item.is_object() && item.size() == 1) value = &item.begin().value();
      if (!value->is_string()) return BadReply("rekey_tokens", "an item is not a string", err);
      tokens->push_back(value->get<std::string>());
    }
    return true;
  }

  bool RekeyPairs(const std::string& rotation_id, const std::string& pairs_csv, RekeyState* out,
                  TransportError* err) override {
    if (!CheckRotationId(rotation_id, err)) return false;
    return RekeyCall("rekey_pairs", {{"rotation_id", rotation_id}, {"pairs", pairs_csv}}, out, err);
  }

  bool RekeyApply(const std::string& rotation_id, int max_rows, RekeyState* out,
                  TransportError* err) override {
    if (!CheckRotationId(rotation_id, err)) return false;
    return RekeyCall("rekey_apply", {{"rotation_id", rotation_id}, {"max_rows", max_rows}}, out,
                     err);
  }

  bool RekeyFinish(const std::string& rotation_id, RekeyState* out, TransportError* err) override {
    if (!CheckRotationId(rotation_id, err)) return false;
    return RekeyCall("rekey_finish", {{"rotation_id", rotation_id}}, out, err);
  }

  bool TokenVersions(const std::string& client_id, const std::string& domain,
                     std::vector<TokenVersionPair>* out, TransportError* err) override {
    out->clear();
    if (!client_id.empty()) client_id_ = client_id;
    Json args = {{"client_id", client_id_}, {"domain", domain}};
    HttpResponse resp;
    if (!Call(true, "token_versions", "", {}, JsonBody(args), "application/json", &resp, err)) {
      return false;
    }
    const Json j = TooDeep(resp.body) ? Json(nullptr)
                                      : Json::parse(resp.body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_array()) {
      return BadReply("token_versions", "not a JSON array", err);
    }
    for (const Json& item : j) {
      std::string old_token, new_token;
      int64_t from = 0, to = 0;
      if (!item.is_object() || !StringField(item, "old_token", &old_token) ||
          !StringField(item, "new_token", &new_token) || !IntField(item, "from_version", &from) ||
          !IntField(item, "to_version", &to)) {
        return BadReply("token_versions", "an item is not {old_token, new_token, ...}", err);
      }
      out->push_back({old_token, new_token, static_cast<int>(from), static_cast<int>(to)});
    }
    return true;
  }

  bool RekeyStatus(const std::string& client_id, const std::string& domain, RekeyState* out,
                   TransportError* err) override {
    if (!client_id.empty()) client_id_ = client_id;
    return RekeyCall("rekey_status", {{"client_id", client_id_}, {"domain", domain}}, out, err);
  }

 private:
  bool CheckRotationId(const std::string& id, TransportError* err) {
    if (IsCanonicalUuid(id)) return true;
    return Invalid("rotation id " + QuotedValue(id) + " is not a UUID", err);
  }

  // One rotation function answering a JSON object.
  bool RekeyCall(const char* fn, const Json& args, RekeyState* out, TransportError* err) {
    HttpResponse resp;
    if (!Call(true, fn, "", {}, JsonBody(args), "application/json", &resp, err)) return false;
    std::string why;
    if (TooDeep(resp.body) || !ParseRekeyJson(resp.body, out, &why)) {
      return BadReply(fn, "HTTP " + std::to_string(resp.status) + ", " + why, err);
    }
    return true;
  }

  static std::string JsonBody(const Json& j) {
    // error_handler::replace: invalid UTF-8 in an argument becomes U+FFFD instead of throwing.
    return j.dump(-1, ' ', false, Json::error_handler_t::replace);
  }

  bool CheckBatchId(const std::string& id, TransportError* err) {
    if (IsCanonicalUuid(id)) return true;
    return Invalid("batch id " + QuotedValue(id) + " is not a UUID", err);
  }

  static bool Invalid(const std::string& message, TransportError* err) {
    *err = TransportError();
    err->kind = TransportError::Kind::kRejected;
    err->message = message;
    return false;
  }

  static bool BadReply(const std::string& fn, const std::string& why, TransportError* err) {
    *err = TransportError();
    err->kind = TransportError::Kind::kFatal;
    err->message = "unexpected reply from /rpc/" + fn + ": " + why;
    err->hint =
        "check that SDP_SERVER_URL names the SDP server exactly as its certificate and proxy "
        "expect (a proxy answers unknown host names with an empty 200)";
    return false;
  }

  bool ParseReply(const char* fn, const HttpResponse& resp, BatchInfo* out, TransportError* err) {
    std::string why;
    if (!ParseBatchJson(resp.body, out, &why)) {
      return BadReply(fn, "HTTP " + std::to_string(resp.status) + ", " + why, err);
    }
    if (out->client_id.empty()) out->client_id = client_id_;
    if (client_id_.empty()) client_id_ = out->client_id;
    return true;
  }

  int64_t BackoffMs(int attempt) {
    int64_t cap = kBackoffBaseMs;
    for (int i = 0; i < attempt && cap < kBackoffCapMs; ++i) cap *= 2;
    cap = std::min(cap, kBackoffCapMs);
    // "Equal jitter": half fixed, half random, so that clients that failed together spread out
    // and the delay still grows.
    const int64_t half = cap / 2;
    return half + static_cast<int64_t>(env_.random() % static_cast<uint64_t>(half + 1));
  }

  void Scrub(TransportError* err) const {
    if (options_.api_key.size() < 4) return;
    ReplaceAll(&err->message, options_.api_key, "[redacted]");
    ReplaceAll(&err->hint, options_.api_key, "[redacted]");
    ReplaceAll(&err->code, options_.api_key, "[redacted]");
  }

  // One RPC with retries. On success *resp holds the 2xx response.
  bool Call(bool post, const std::string& fn, const std::string& query, const HttpHeaders& extra,
            std::string_view body, const std::string& content_type, HttpResponse* resp,
            TransportError* err) {
    std::string url = base_ + "/rpc/" + fn;
    if (!query.empty()) url += "?" + query;
    HttpHeaders headers;
    bool has_accept = false;
    for (const auto& h : extra) has_accept = has_accept || EqualsIgnoreCase(h.name, "Accept");
    if (!has_accept) headers.push_back({"Accept", "application/json"});
    if (post) headers.push_back({"Content-Type", content_type});
    if (!client_id_.empty()) headers.push_back({"X-Client-Id", client_id_});
    headers.insert(headers.end(), extra.begin(), extra.end());
    if (!options_.api_key.empty()) headers.push_back({"X-API-Key", options_.api_key});

    int64_t retry_after_total_seconds = 0;
    for (int attempt = 0;; ++attempt) {
      *err = TransportError();
      HttpFailure failure;
      const bool answered = post ? client_->Post(url, headers, body, resp, &failure)
                                 : client_->Get(url, headers, resp, &failure);
      int64_t retry_after_seconds = -1;
      if (!answered) {
        err->kind = failure.kind == HttpFailure::Kind::kNetwork ? TransportError::Kind::kRetryable
                                                                : TransportError::Kind::kFatal;
        err->message = failure.kind == HttpFailure::Kind::kNetwork
                           ? "cannot reach " + base_ + ": " + failure.message
                           : failure.message;
        if (failure.kind == HttpFailure::Kind::kNetwork) {
          err->hint = "check SDP_SERVER_URL and that the server is running";
        }
      } else if (resp->status >= 200 && resp->status < 300) {
        Trace(post, url, headers, resp->status, attempt, "");
        return true;
      } else {
        ParseErrorResponse(resp->status, resp->body, err);
        if (err->code == "PGRST202") {
          err->hint = "the server does not expose sdp_api." + fn +
                      ": install or upgrade the sdp extension, then reload PostgREST's schema "
                      "cache (NOTIFY pgrst, 'reload schema')";
        }
        const std::string* ra = resp->Header("Retry-After");
        int64_t secs = 0;
        if (ra != nullptr && ParseRetryAfter(*ra, env_.now_unix_seconds(), &secs)) {
          retry_after_seconds = secs;
        }
      }
      Scrub(err);
      Trace(post, url, headers, answered ? resp->status : 0, attempt, err->message);
      if (err->kind != TransportError::Kind::kRetryable || attempt >= options_.max_retries ||
          Interrupted()) {
        return false;
      }
      if (retry_after_seconds >= 0) {
        if (retry_after_total_seconds + retry_after_seconds > kMaxRetryAfterTotalSeconds) {
          err->hint = "the server asked to retry after " + std::to_string(retry_after_seconds) +
                      " s, beyond the " + std::to_string(kMaxRetryAfterTotalSeconds) +
                      " s the agent waits in total; run the same command again later (it "
                      "resumes)";
          return false;
        }
        retry_after_total_seconds += retry_after_seconds;
      }
      env_.sleep(retry_after_seconds >= 0 ? retry_after_seconds * 1000 : BackoffMs(attempt));
      if (Interrupted()) return false;
    }
  }

  void Trace(bool post, const std::string& url, const HttpHeaders& headers, long status,
             int attempt, const std::string& error) const {
    if (!env_.trace) return;
    std::string line = std::string("http: ") + (post ? "POST " : "GET ") + url + " attempt " +
                       std::to_string(attempt + 1) + " -> " +
                       (status != 0 ? std::to_string(status) : std::string("no response"));
    if (!error.empty()) line += " (" + error + ")";
    line += " [" + RedactHeaders(headers) + "]";
    env_.trace(line);
  }

  TransportOptions options_;
  std::string base_;
  std::unique_ptr<HttpClient> client_;
  RetryEnvironment env_;
  std::string client_id_;
};

}  // namespace

TransportError::Kind KindForHttpStatus(long status) {
  using Kind = TransportError::Kind;
  switch (status) {
    case 401:
    case 403:
      return Kind::kAuth;
    case 404:
      return Kind::kNotFound;
    case 409:
      return Kind::kConflict;
    case 429:
    case 502:  // the gateway while PostgREST restarts
    case 503:
    case 504:
      return Kind::kRetryable;
    default:
      break;
  }
  if (status >= 400 && status < 500) return Kind::kRejected;
  return Kind::kFatal;
}

void ParseErrorResponse(long status, std::string_view body, TransportError* out) {
  *out = TransportError();
  out->http_status = static_cast<int>(status);
  out->kind = KindForHttpStatus(status);
  Json j;
  std::string message;
  if (ParseObject(body, &j) && StringField(j, "message", &message)) {
    std::string code, details, hint;
    StringField(j, "code", &code);
    StringField(j, "details", &details);
    StringField(j, "hint", &hint);
    out->code = ShownServerText(code, 16);
    out->message = ShownServerText(message);
    if (!details.empty()) out->message += " (" + ShownServerText(details) + ")";
    out->hint = ShownServerText(hint);
    if (out->message.empty()) out->message = "HTTP " + std::to_string(status);
    return;
  }
  // Not PostgREST: a proxy's page, an empty 502, a load balancer's 503.
  std::string text = ShownServerText(body, 200);
  out->message = "HTTP " + std::to_string(status) + " from the server (not a PostgREST reply)";
  if (!text.empty()) out->message += ": " + text;
}

bool ParseRetryAfter(std::string_view value, int64_t now_unix_seconds, int64_t* delay_seconds) {
  std::string v = ShownServerText(value, 64);
  while (!v.empty() && v.front() == ' ') v.erase(v.begin());
  if (v.empty()) return false;
  if (std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (v.size() > 9) {
      *delay_seconds = kMaxRetryAfterSeconds;
      return true;
    }
    *delay_seconds = std::min<int64_t>(std::strtoll(v.c_str(), nullptr, 10), kMaxRetryAfterSeconds);
    return true;
  }
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
  struct tm tm {};
  const char* end = strptime(v.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return false;
  const int64_t when = static_cast<int64_t>(timegm(&tm));
  *delay_seconds = std::clamp<int64_t>(when - now_unix_seconds, 0, kMaxRetryAfterSeconds);
  return true;
}

bool ParseBatchJson(std::string_view body, BatchInfo* out, std::string* err) {
  Json j;
  if (!ParseObject(body, &j)) {
    *err = body.empty() ? "empty body" : "not a JSON object: " + ShownServerText(body, 120);
    return false;
  }
  std::string s;
  if (!StringField(j, "batch_id", &s) || !IsCanonicalUuid(s)) {
    *err = "no batch_id";
    return false;
  }
  out->batch_id = s;
  if (StringField(j, "status", &s)) out->status = ShownServerText(s, 32);
  if (StringField(j, "client_id", &s)) out->client_id = ShownServerText(s, 64);
  if (StringField(j, "processing_type", &s)) out->processing_type = ShownServerText(s, 64);
  if (StringField(j, "model_version", &s)) out->model_version = ShownServerText(s, 64);
  if (StringField(j, "content_sha256", &s)) out->content_sha256 = ShownServerText(s, 64);
  IntField(j, "accepted_records", &out->accepted_records);
  IntField(j, "processed_records", &out->processed_records);
  if (out->status.empty()) {
    *err = "no status";
    return false;
  }
  return true;
}

bool ParseChunkJson(std::string_view body, int64_t* rows, std::string* err) {
  Json j;
  if (!ParseObject(body, &j)) {
    *err = body.empty() ? "empty body" : "not a JSON object: " + ShownServerText(body, 120);
    return false;
  }
  if (!IntField(j, "accepted_records", rows) || *rows < 0) {
    *err = "no accepted_records";
    return false;
  }
  return true;
}

bool IsLoopbackHost(std::string_view host) {
  std::string h(host);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (!h.empty() && h.back() == '.') h.pop_back();
  if (EqualsIgnoreCase(h, "localhost")) return true;
  in_addr v4{};
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

std::unique_ptr<ServerTransport> NewHttpTransportWithClient(const TransportOptions& options,
                                                            std::unique_ptr<HttpClient> client,
                                                            RetryEnvironment env,
                                                            std::string* err) {
  std::string base;
  if (!CheckBaseUrl(options, &base, err)) return nullptr;
  if (!client) {
    *err = "no HTTP client";
    return nullptr;
  }
  if (!env.sleep) env.sleep = DefaultSleep;
  if (!env.now_unix_seconds) env.now_unix_seconds = [] { return int64_t{time(nullptr)}; };
  if (!env.random) {
    auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
    env.random = [rng] { return (*rng)(); };
  }
  return std::make_unique<HttpTransport>(options, std::move(base), std::move(client),
                                         std::move(env));
}

std::unique_ptr<ServerTransport> NewHttpTransport(const TransportOptions& options,
                                                  std::string* err) {
  std::string base;
  if (!CheckBaseUrl(options, &base, err)) return nullptr;
  HttpClientOptions client_options;
  client_options.ca_bundle = options.ca_bundle;
  client_options.client_cert = options.client_cert;
  client_options.client_key = options.client_key;
  client_options.proxy = options.proxy;
  client_options.connect_timeout_seconds = options.connect_timeout_seconds;
  client_options.low_speed_seconds = options.request_timeout_seconds;
#ifdef SDP_VERSION
  client_options.user_agent = std::string("sdp-agent/") + SDP_VERSION;
#endif
  std::string why;
  auto client = NewCurlHttpClient(client_options, &why);
  if (!client) {
    *err = why + "; fix: check SDP_CA_BUNDLE and the client certificate settings";
    return nullptr;
  }
  RetryEnvironment env;
  const char* trace = std::getenv("SDP_HTTP_TRACE");
  if (trace != nullptr && std::string(trace) == "1") {
    env.trace = [](const std::string& line) { std::cerr << "sdp-agent: " << line << "\n"; };
  }
  return NewHttpTransportWithClient(options, std::move(client), std::move(env), err);
}

}  // namespace sdp
