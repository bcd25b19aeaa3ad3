// `sdp-agent serve`: pseudonymization and repersonalization of JSON documents over HTTP, one
// listener per role (docs/json_pseudonymization.md has every endpoint and its JSON shapes).
//
// JsonService is the whole behaviour without sockets: a request in, a response out, so tests
// drive it directly; json_http.cc binds it to cpp-httplib listeners on 127.0.0.1. All work is
// serialized by one mutex: the pseudonymizer's scratch state and the SQLite vault are single-
// threaded, and a request costs tens of microseconds.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "agent/crypto/crypto_keys.h"
#include "agent/crypto/secret_buffer.h"
#include "agent/json/json_pseudonymizer.h"
#include "agent/json/json_rules.h"
#include "agent/vault/vault.h"

namespace sdp {

enum class JsonServiceRole { kPseudonymize, kRepersonalize };

struct JsonServiceOptions {
  std::string vault_path = "token_vault.db";
  int64_t ttl_seconds = 0;                   // 0: the rules' ttl
  size_t max_body_bytes = size_t{10} << 20;  // larger requests: 413
  size_t max_depth = 64;                     // deeper documents: 422
  size_t max_bulk_items = 10000;             // larger bulk requests: 413
  double rate_per_second = 0;                // per listener; 0: no limit; above it: 429
  double rate_burst = 0;                     // bucket size; 0: one second's worth
};

struct ServiceRequest {
  std::string method;  // GET, POST, DELETE
  std::string path;    // without the query
  bool has_api_key = false;
  std::string api_key;
  // The body as received: a view of the HTTP layer's buffer, which outlives the call to Handle
  // (a bulk body is megabytes; copying it was a visible share of the bulk endpoint's time).
  std::string_view body;
};

struct ServiceResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  int retry_after = 0;  // seconds, for 429
};

class JsonService {
 public:
  // `rules` must outlive the service. The API keys come from the environment
  // (SDP_PSEUDONYMIZE_API_KEY, SDP_REPERSONALIZE_API_KEY); an empty one is refused.
  bool Init(const JsonServiceOptions& options, const JsonRules& rules, const KeyRing& keys,
            const SecretBuffer& pseudonymize_key, const SecretBuffer& repersonalize_key,
            std::string* err);

  ServiceResponse Handle(JsonServiceRole role, const ServiceRequest& request);

  // A problem document (RFC 7807) for the HTTP layer's own refusals (413 before the handler).
  static ServiceResponse Problem(int status, const std::string& title, const std::string& detail);
  // Crypto-shreds expired records not on hold (the HTTP layer calls it every minute).
  uint64_t PurgeExpired();
  // Whether the other listener answers; set by the HTTP layer.
  void SetPeerRunning(JsonServiceRole role, bool running);

 private:
  struct Counters {
    uint64_t requests = 0, failed = 0, documents = 0, fields = 0, bulk = 0, cleanups = 0,
             verifications = 0, rate_limited = 0, unauthorized = 0;
    double seconds = 0;
  };
  struct Bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point last{};
    bool started = false;
  };

  ServiceResponse Route(JsonServiceRole role, const ServiceRequest& request);
  ServiceResponse Pseudonymize(std::string_view doc);
  ServiceResponse PseudonymizeBulk(std::string_view body);
  ServiceResponse Repersonalize(std::string_view body);
  ServiceResponse RepersonalizeBulk(std::string_view body);
  ServiceResponse Verify(std::string_view body);
  ServiceResponse Cleanup(std::string_view id);
  ServiceResponse Hold(std::string_view id, bool hold);
  ServiceResponse Health(JsonServiceRole role);
  ServiceResponse Stats(JsonServiceRole role);
  ServiceResponse Index(JsonServiceRole role);
  std::string Metrics();
  bool Authorized(JsonServiceRole role, const ServiceRequest& request) const;
  bool TakeToken(JsonServiceRole role, int* retry_after);
  // One document pseudonymized and its record stored: appends the fields of its result to
  // *result (nothing on failure), or sets a problem.
  bool PseudonymizeOne(std::string_view doc, std::string* result, int* status,
                       std::string* problem_title, std::string* problem_detail);
  bool RepersonalizeOne(std::string_view id, std::string_view doc, bool verify, std::string* result,
                        int* status, std::string* problem_title, std::string* problem_detail);
  int64_t Now() const;

  JsonServiceOptions options_;
  const JsonRules* rules_ = nullptr;
  JsonPseudonymizer pseudonymizer_;
  Vault vault_;
  SecretBuffer key_digest_[2];  // SHA-256 of each role's API key
  std::mutex mu_;
  Counters counters_[2];
  std::map<std::string, uint64_t> responses_;  // "role,endpoint,status" -> count
  Bucket buckets_[2];
  std::atomic<bool> peer_running_[2] = {{true}, {true}};
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::string out_, record_scratch_;
};

// The OpenAPI 3 document of both services, served on GET /docs.
const char* JsonServiceOpenApi();

}  // namespace sdp
