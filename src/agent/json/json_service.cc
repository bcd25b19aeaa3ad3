// The JSON pseudonymization service without sockets: routing, API keys, limits, the endpoints'
// JSON shapes, RFC 7807 problems, statistics and Prometheus metrics.
#include "agent/json/json_service.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <vector>

#include "agent/json/json_scan.h"

namespace sdp {
namespace {

const char* RoleName(JsonServiceRole role) {
  return role == JsonServiceRole::kPseudonymize ? "pseudonymization" : "repersonalization";
}

size_t Slot(JsonServiceRole role) { return role == JsonServiceRole::kPseudonymize ? 0 : 1; }

std::string Quoted(std::string_view s) {
  std::string out;
  AppendJsonString(s, &out);
  return out;
}

double Ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

std::string Number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

std::string Iso8601(int64_t t) {
  if (t <= 0) return "null";
  const time_t tt = static_cast<time_t>(t);
  struct tm tm;
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "\"%Y-%m-%dT%H:%M:%SZ\"", &tm);
  return buf;
}

// Members of a request body picked out by path, byte for byte (documents inside requests are
// pseudonymized and restored with their own bytes, not a re-serialization).
struct Picked {
  JsonScalarKind kind;
  std::string_view raw;  // the value's text
  std::string value;     // decoded string, or the literal
  uint64_t index = 0;    // array index of the item (paths with [*])
};

// Scans `body` with `paths` (every kind visited); *out[i] gets what path i selected, in order.
bool Pick(std::string_view body, const std::vector<const char*>& path_texts, size_t max_depth,
          std::vector<std::vector<Picked>>* out, std::string* err) {
  JsonPathSet paths;
  for (const char* text : path_texts) {
    JsonPath path;
    if (!ParseJsonPath(text, &path, err)) return false;
    paths.Add(std::move(path));
  }
  out->assign(path_texts.size(), {});
  JsonScanner scanner(paths, max_depth + 2, true);
  return scanner.Scan(
      body,
      [&](const JsonScalar& s, std::string*) {
        Picked p;
        p.kind = s.kind;
        p.raw = body.substr(s.begin, s.end - s.begin);
        p.value.assign(s.value);
        const auto& loc = scanner.location();
        for (const JsonLocationStep& step : loc) {
          if (step.is_index) p.index = step.index;
        }
        (*out)[s.rule].push_back(std::move(p));
        return true;
      },
      err);
}

std::string Sha256Of(std::string_view s) {
  uint8_t d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const uint8_t*>(s.data()), s.size(), d);
  return std::string(reinterpret_cast<const char*>(d), sizeof d);
}

bool IsTrue(const std::vector<Picked>& v, bool fallback) {
  if (v.empty()) return fallback;
  return v[0].kind == JsonScalarKind::kTrue;
}

}  // namespace

ServiceResponse JsonService::Problem(int status, const std::string& title,
                                     const std::string& detail) {
  ServiceResponse r;
  r.status = status;
  r.content_type = "application/problem+json";
  r.body = "{\"type\":\"about:blank\",\"title\":" + Quoted(title) +
           ",\"status\":" + std::to_string(status) + ",\"detail\":" + Quoted(detail) + "}";
  return r;
}

bool JsonService::Init(const JsonServiceOptions& options, const JsonRules& rules,
                       const KeyRing& keys, const SecretBuffer& pseudonymize_key,
                       const SecretBuffer& repersonalize_key, std::string* err) {
  options_ = options;
  rules_ = &rules;
  if (pseudonymize_key.empty() || repersonalize_key.empty()) {
    *err = std::string(pseudonymize_key.empty() ? "SDP_PSEUDONYMIZE_API_KEY"
                                                : "SDP_REPERSONALIZE_API_KEY") +
           " is not set; fix: set both API keys in the environment (each listener has its own)";
    return false;
  }
  const std::string a(reinterpret_cast<const char*>(pseudonymize_key.data()),
                      pseudonymize_key.size());
  const std::string b(reinterpret_cast<const char*>(repersonalize_key.data()),
                      repersonalize_key.size());
  const bool same = a == b;
  const std::string da = Sha256Of(a), db = Sha256Of(b);
  key_digest_[0] = SecretBuffer(reinterpret_cast<const uint8_t*>(da.data()), da.size());
  key_digest_[1] = SecretBuffer(reinterpret_cast<const uint8_t*>(db.data()), db.size());
  if (same) {
    *err =
        "SDP_PSEUDONYMIZE_API_KEY and SDP_REPERSONALIZE_API_KEY are the same; fix: give the "
        "restoring side a key of its own, so it can be locked down separately";
    return false;
  }
  if (!pseudonymizer_.Init(rules, keys, err, options.max_depth)) return false;
  return vault_.Open(options.vault_path, Vault::Mode::kReadWrite, keys, err);
}

void JsonService::SetPeerRunning(JsonServiceRole role, bool running) {
  peer_running_[Slot(role)] = running;
}

uint64_t JsonService::PurgeExpired() {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t purged = 0;
  std::string err;
  vault_.PurgeExpiredPseudonyms(Now(), &purged, &err);
  return purged;
}

int64_t JsonService::Now() const { return static_cast<int64_t>(std::time(nullptr)); }

// Compared as SHA-256 digests with CRYPTO_memcmp: constant time, and the length of the key is
// not revealed either.
bool JsonService::Authorized(JsonServiceRole role, const ServiceRequest& request) const {
  if (!request.has_api_key) return false;
  const std::string digest = Sha256Of(request.api_key);
  const SecretBuffer& want = key_digest_[Slot(role)];
  return CRYPTO_memcmp(digest.data(), want.data(), want.size()) == 0;
}

bool JsonService::TakeToken(JsonServiceRole role, int* retry_after) {
  if (options_.rate_per_second <= 0) return true;
  Bucket& b = buckets_[Slot(role)];
  const double burst =
      options_.rate_burst > 0 ? options_.rate_burst : std::max(1.0, options_.rate_per_second);
  const auto now = std::chrono::steady_clock::now();
  if (!b.started) {
    b.tokens = burst;
    b.started = true;
  } else {
    b.tokens = std::min(burst, b.tokens + std::chrono::duration<double>(now - b.last).count() *
                                              options_.rate_per_second);
  }
  b.last = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return true;
  }
  *retry_after = std::max(1, static_cast<int>((1 - b.tokens) / options_.rate_per_second + 0.999));
  return false;
}

ServiceResponse JsonService::Handle(JsonServiceRole role, const ServiceRequest& request) {
  const auto start = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  Counters& c = counters_[Slot(role)];
  ++c.requests;
  ServiceResponse r = Route(role, request);
  if (r.status >= 400) ++c.failed;
  c.seconds += Ms(start) / 1000;
  // The endpoint's first segment only: ids in paths never become label values.
  std::string endpoint = request.path.substr(0, request.path.find('/', 1));
  if (request.path == "/pseudonymize/bulk" || request.path == "/repersonalize/bulk") {
    endpoint = request.path;
  }
  const bool known = endpoint == "/" || endpoint == "/health" || endpoint == "/pseudonymize" ||
                     endpoint == "/pseudonymize/bulk" || endpoint == "/repersonalize" ||
                     endpoint == "/repersonalize/bulk" || endpoint == "/cleanup" ||
                     endpoint == "/verify" || endpoint == "/stats" || endpoint == "/key" ||
                     endpoint == "/docs" || endpoint == "/metrics" || endpoint == "/hold";
  ++responses_[std::string(RoleName(role)) + "\",endpoint=\"" + (known ? endpoint : "other") +
               "\",code=\"" + std::to_string(r.status)];
  return r;
}

ServiceResponse JsonService::Route(JsonServiceRole role, const ServiceRequest& req) {
  Counters& c = counters_[Slot(role)];
  const bool pseudo = role == JsonServiceRole::kPseudonymize;
  int retry_after = 0;
  if (!TakeToken(role, &retry_after)) {
    ++c.rate_limited;
    ServiceResponse r = Problem(429, "Too Many Requests",
                                "the request rate of this listener is limited; retry after " +
                                    std::to_string(retry_after) + " s");
    r.retry_after = retry_after;
    return r;
  }
  const std::string& m = req.method;
  const std::string& p = req.path;
  // Open endpoints: what the service is, whether it runs, its API document and its metrics.
  if (m == "GET" && p == "/") return Index(role);
  if (m == "GET" && p == "/health") return Health(role);
  if (m == "GET" && p == "/docs") {
    ServiceResponse r;
    r.body = JsonServiceOpenApi();
    return r;
  }
  if (m == "GET" && p == "/metrics") {
    ServiceResponse r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = Metrics();
    return r;
  }
  if (!Authorized(role, req)) {
    ++c.unauthorized;
    return Problem(401, "Unauthorized",
                   req.has_api_key ? "the X-API-Key is not this listener's key"
                                   : "the X-API-Key header is missing");
  }
  if (req.body.size() > options_.max_body_bytes) {
    return Problem(
        413, "Payload Too Large",
        "the request body is larger than " + std::to_string(options_.max_body_bytes) + " bytes");
  }
  if (m == "GET" && p == "/stats") return Stats(role);
  if (pseudo) {
    if (m == "POST" && p == "/pseudonymize") return Pseudonymize(req.body);
    if (m == "POST" && p == "/pseudonymize/bulk") return PseudonymizeBulk(req.body);
    if (m == "POST" && p == "/key/rotate") {
      return Problem(501, "Not Implemented",
                     "keys are rotated offline: stop the service, run `sdp-agent vault "
                     "rotate-key`, restart with the new SDP_CRYPTO_KEY");
    }
  } else {
    if (m == "POST" && p == "/repersonalize") return Repersonalize(req.body);
    if (m == "POST" && p == "/repersonalize/bulk") return RepersonalizeBulk(req.body);
    if (m == "POST" && p == "/verify") return Verify(req.body);
    if (m == "DELETE" && p.rfind("/cleanup/", 0) == 0) return Cleanup(p.substr(9));
    if ((m == "POST" || m == "DELETE") && p.rfind("/hold/", 0) == 0) {
      return Hold(p.substr(6), m == "POST");
    }
  }
  return Problem(
      404, "Not Found",
      "no such endpoint on the " + std::string(RoleName(role)) + " listener; GET /docs lists them");
}

ServiceResponse JsonService::Index(JsonServiceRole role) {
  ServiceResponse r;
  r.body = std::string("{\"service\":\"sdp-") + RoleName(role) +
           "\",\"version\":\"" SDP_VERSION
           "\",\"docs\":\"/docs\",\"health\":\"/health\",\"endpoints\":" +
           (role == JsonServiceRole::kPseudonymize
                ? "[\"POST /pseudonymize\",\"POST /pseudonymize/bulk\",\"GET /stats\","
                  "\"POST /key/rotate\",\"GET /metrics\"]"
                : "[\"POST /repersonalize\",\"POST /repersonalize/bulk\",\"POST /verify\","
                  "\"DELETE /cleanup/{id}\",\"POST /hold/{id}\",\"DELETE /hold/{id}\","
                  "\"GET /stats\",\"GET /metrics\"]") +
           "}";
  return r;
}

ServiceResponse JsonService::Health(JsonServiceRole role) {
  ServiceResponse r;
  PseudonymStats stats;
  std::string err;
  const bool vault_ok = vault_.GetPseudonymStats(Now(), &stats, &err);
  r.status = vault_ok ? 200 : 503;
  r.body = std::string("{\"status\":\"") + (vault_ok ? "healthy" : "unhealthy") +
           "\",\"service\":\"" + RoleName(role) + "\",\"version\":\"" SDP_VERSION "\",\"rules\":" +
           std::to_string(rules_->config.columns.size()) + ",\"vault\":\"" +
           (vault_ok ? "ok" : "unavailable") + "\"";
  if (role == JsonServiceRole::kRepersonalize) {
    r.body += std::string(",\"pseudonymization_service_status\":\"") +
              (peer_running_[0] ? "healthy" : "unreachable") + "\"";
  }
  r.body += "}";
  return r;
}

ServiceResponse JsonService::Stats(JsonServiceRole role) {
  const Counters& c = counters_[Slot(role)];
  PseudonymStats stats;
  std::string err;
  vault_.GetPseudonymStats(Now(), &stats, &err);
  const double uptime = Ms(started_) / 1000;
  ServiceResponse r;
  std::string body = "{\"statistics\":{";
  if (role == JsonServiceRole::kPseudonymize) {
    body += "\"total_pseudonymized\":" + std::to_string(c.documents) +
            ",\"total_fields_pseudonymized\":" + std::to_string(c.fields) +
            ",\"bulk_requests\":" + std::to_string(c.bulk);
  } else {
    const uint64_t attempts = c.documents + c.failed;
    body += "\"total_repersonalized\":" + std::to_string(c.documents) + ",\"success_rate\":" +
            Number(attempts == 0 ? 1.0 : static_cast<double>(c.documents) / attempts) +
            ",\"cleanups\":" + std::to_string(c.cleanups) +
            ",\"verifications\":" + std::to_string(c.verifications);
  }
  body += ",\"total_requests\":" + std::to_string(c.requests) +
          ",\"failed_requests\":" + std::to_string(c.failed) +
          ",\"records\":" + std::to_string(stats.records) +
          ",\"records_on_hold\":" + std::to_string(stats.held) +
          ",\"records_expired\":" + std::to_string(stats.expired) +
          ",\"uptime_seconds\":" + Number(uptime) + "}}";
  r.body = std::move(body);
  return r;
}

bool JsonService::PseudonymizeOne(std::string_view doc, std::string* result, int* status,
                                  std::string* title, std::string* detail) {
  const auto start = std::chrono::steady_clock::now();
  PseudonymRecord record;
  size_t fields = 0;
  std::string err;
  if (!pseudonymizer_.Pseudonymize(doc, &out_, &record.originals, &fields, &err)) {
    *status = 422;
    *title = "Unprocessable Entity";
    *detail = "the document was not pseudonymized: " + err;
    return false;
  }
  const int64_t ttl = options_.ttl_seconds > 0 ? options_.ttl_seconds : rules_->ttl_seconds;
  record.created_at = Now();
  record.expires_at = ttl > 0 ? record.created_at + ttl : 0;
  record.fields = static_cast<uint32_t>(fields);
  if (!pseudonymizer_.CanonicalMac(out_, &record.mac, &err)) {
    OPENSSL_cleanse(&record.originals[0], record.originals.size());
    *status = 422;
    *title = "Unprocessable Entity";
    *detail = "the pseudonymized document is not I-JSON: " + err;
    return false;
  }
  // Committed by the caller, once per request, before it answers.
  const bool stored = NewPseudonymId(&record.id, &err) && vault_.PutPseudonym(record, &err);
  OPENSSL_cleanse(&record.originals[0], record.originals.size());
  if (!stored) {
    *status = 503;
    *title = "Service Unavailable";
    *detail = "the pseudonym record could not be stored: " + err;
    return false;
  }
  Counters& c = counters_[0];
  ++c.documents;
  c.fields += fields;
  // Appended piece by piece: a bulk answer is built in one reserved buffer, with no temporary
  // copy of each document (those copies were a third of the bulk endpoint's time).
  result->append("\"pseudonym_id\":\"").append(record.id).append("\",\"pseudonymized_data\":");
  result->append(out_);
  result->append(",\"fields_pseudonymized\":").append(std::to_string(fields));
  result->append(",\"expires_at\":").append(Iso8601(record.expires_at));
  result->append(",\"processing_time_ms\":").append(Number(Ms(start)));
  return true;
}

ServiceResponse JsonService::Pseudonymize(std::string_view doc) {
  std::string result, title, detail;
  int status = 200;
  if (!PseudonymizeOne(doc, &result, &status, &title, &detail)) {
    return Problem(status, title, detail);
  }
  std::string err;
  if (!vault_.Commit(&err)) {
    return Problem(503, "Service Unavailable", "the pseudonym record could not be stored: " + err);
  }
  ServiceResponse r;
  r.body = "{" + result + "}";
  return r;
}

ServiceResponse JsonService::PseudonymizeBulk(std::string_view body) {
  std::vector<std::vector<Picked>> picked;
  std::string err;
  if (!Pick(body, {"$.datasets[*]", "$.batch_id", "$.datasets"}, options_.max_depth, &picked,
            &err)) {
    return Problem(400, "Bad Request", "the body is not JSON: " + err);
  }
  if (picked[2].empty() || picked[2][0].kind != JsonScalarKind::kArray) {
    return Problem(400, "Bad Request",
                   "the body needs \"datasets\": an array of documents (and optionally "
                   "\"batch_id\")");
  }
  if (picked[0].size() > options_.max_bulk_items) {
    return Problem(413, "Payload Too Large",
                   "more than " + std::to_string(options_.max_bulk_items) + " datasets");
  }
  ++counters_[0].bulk;
  const auto start = std::chrono::steady_clock::now();
  std::string results;
  // Each result holds its document and ~200 bytes of fields. A HASH token can be longer than the
  // value it replaces, so half the body again is reserved: a buffer of megabytes that grows is
  // copied whole each time (that growth was a tenth of the bulk endpoint's time).
  results.reserve(body.size() + body.size() / 2 + picked[0].size() * 256);
  size_t ok = 0, failed = 0;
  std::string title, detail;
  for (size_t i = 0; i < picked[0].size(); ++i) {
    int status = 200;
    if (i > 0) results.push_back(',');
    const size_t mark = results.size();
    results.append("{\"index\":").append(std::to_string(i)).append(",\"success\":true,");
    if (PseudonymizeOne(picked[0][i].raw, &results, &status, &title, &detail)) {
      ++ok;
      results.push_back('}');
    } else {
      ++failed;
      results.resize(mark);
      results.append("{\"index\":").append(std::to_string(i));
      results.append(",\"success\":false,\"status\":").append(std::to_string(status));
      results.append(",\"error\":").append(Quoted(detail)).push_back('}');
    }
  }
  // One durable commit for the whole request, before any id is handed out.
  if (ok > 0 && !vault_.Commit(&err)) {
    return Problem(503, "Service Unavailable", "the pseudonym records could not be stored: " + err);
  }
  const std::string batch = picked[1].empty() || picked[1][0].kind != JsonScalarKind::kString
                                ? "null"
                                : Quoted(picked[1][0].value);
  ServiceResponse r;
  r.body.reserve(results.size() + 256);
  r.body.append("{\"batch_id\":").append(batch);
  r.body.append(",\"total\":").append(std::to_string(picked[0].size()));
  r.body.append(",\"successful\":").append(std::to_string(ok));
  r.body.append(",\"failed\":").append(std::to_string(failed));
  r.body.append(",\"processing_time_ms\":").append(Number(Ms(start)));
  r.body.append(",\"results\":[").append(results).append("]}");
  return r;
}

bool JsonService::RepersonalizeOne(std::string_view id, std::string_view doc, bool verify,
                                   std::string* result, int* status, std::string* title,
                                   std::string* detail) {
  const auto start = std::chrono::steady_clock::now();
  if (!IsPseudonymId(id)) {
    *status = 400;
    *title = "Bad Request";
    *detail = "pseudonym_id must be the id pseudonymize returned (a UUID)";
    return false;
  }
  if (doc.empty()) {
    *status = 400;
    *title = "Bad Request";
    *detail =
        "pseudonymized_data is required: a record keeps only the replaced values, so the "
        "pseudonymized document is restored, not stored";
    return false;
  }
  PseudonymRecord record;
  bool found = false;
  std::string err;
  if (!vault_.GetPseudonym(id, Now(), &record, &found, &err)) {
    *status = 500;
    *title = "Internal Server Error";
    *detail = err;
    return false;
  }
  if (!found) {
    *status = 404;
    *title = "Not Found";
    *detail = "no pseudonym record " + std::string(id) + " (expired, cleaned up, or never made)";
    return false;
  }
  const bool verified = pseudonymizer_.MatchesMac(doc, record.mac);
  if (verify && !verified) {
    OPENSSL_cleanse(&record.originals[0], record.originals.size());
    *status = 409;
    *title = "Conflict";
    *detail = "pseudonymized_data is not the document pseudonymize returned for " +
              std::string(id) + " (its MAC differs): it was changed";
    return false;
  }
  const bool restored = pseudonymizer_.Repersonalize(doc, record.originals, &out_, &err);
  OPENSSL_cleanse(&record.originals[0], record.originals.size());
  if (!restored) {
    *status = 409;
    *title = "Conflict";
    *detail = "the record does not fit pseudonymized_data: " + err;
    return false;
  }
  ++counters_[1].documents;
  counters_[1].fields += record.fields;
  *result = "\"pseudonym_id\":\"" + std::string(id) + "\",\"original_data\":" + out_ +
            ",\"verified\":" + (verified ? "true" : "false") +
            ",\"processing_time_ms\":" + Number(Ms(start));
  OPENSSL_cleanse(&out_[0], out_.size());
  return true;
}

ServiceResponse JsonService::Repersonalize(std::string_view body) {
  std::vector<std::vector<Picked>> picked;
  std::string err;
  if (!Pick(body, {"$.pseudonym_id", "$.pseudonymized_data", "$.verify"}, options_.max_depth,
            &picked, &err)) {
    return Problem(400, "Bad Request", "the body is not JSON: " + err);
  }
  const std::string id = picked[0].empty() ? "" : picked[0][0].value;
  const std::string_view doc = picked[1].empty() ? std::string_view() : picked[1][0].raw;
  std::string result, title, detail;
  int status = 200;
  if (!RepersonalizeOne(id, doc, IsTrue(picked[2], true), &result, &status, &title, &detail)) {
    return Problem(status, title, detail);
  }
  ServiceResponse r;
  r.body = "{" + result + "}";
  OPENSSL_cleanse(&result[0], result.size());
  return r;
}

ServiceResponse JsonService::RepersonalizeBulk(std::string_view body) {
  std::vector<std::vector<Picked>> picked;
  std::string err;
  if (!Pick(body,
            {"$.items[*].pseudonym_id", "$.items[*].pseudonymized_data", "$.batch_id",
             "$.continue_on_error", "$.verify", "$.items[*]", "$.pseudonym_ids[*]",
             "$.pseudonymized_datasets[*]"},
            options_.max_depth, &picked, &err)) {
    return Problem(400, "Bad Request", "the body is not JSON: " + err);
  }
  // Items as {"items": [{"pseudonym_id", "pseudonymized_data"}]}, or the two parallel arrays
  // "pseudonym_ids" and "pseudonymized_datasets".
  std::vector<std::pair<std::string, std::string_view>> items;
  if (!picked[5].empty()) {
    items.resize(picked[5].size());
    for (const Picked& p : picked[0]) {
      if (p.index < items.size()) items[p.index].first = p.value;
    }
    for (const Picked& p : picked[1]) {
      if (p.index < items.size()) items[p.index].second = p.raw;
    }
  } else {
    if (picked[6].size() != picked[7].size()) {
      return Problem(400, "Bad Request",
                     "pseudonym_ids and pseudonymized_datasets must have the same length");
    }
    for (size_t i = 0; i < picked[6].size(); ++i) {
      items.emplace_back(picked[6][i].value, picked[7][i].raw);
    }
  }
  if (items.empty()) {
    return Problem(400, "Bad Request",
                   "the body needs \"items\": [{\"pseudonym_id\", \"pseudonymized_data\"}] (or "
                   "\"pseudonym_ids\" with \"pseudonymized_datasets\")");
  }
  if (items.size() > options_.max_bulk_items) {
    return Problem(413, "Payload Too Large",
                   "more than " + std::to_string(options_.max_bulk_items) + " items");
  }
  const bool continue_on_error = IsTrue(picked[3], true);
  const bool verify = IsTrue(picked[4], true);
  const auto start = std::chrono::steady_clock::now();
  std::string results;
  size_t ok = 0, failed = 0, skipped = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) results += ",";
    if (failed > 0 && !continue_on_error) {
      ++skipped;
      results += "{\"index\":" + std::to_string(i) + ",\"pseudonym_id\":" + Quoted(items[i].first) +
                 ",\"success\":false,\"skipped\":true}";
      continue;
    }
    std::string result, title, detail;
    int status = 200;
    if (RepersonalizeOne(items[i].first, items[i].second, verify, &result, &status, &title,
                         &detail)) {
      ++ok;
      results += "{\"index\":" + std::to_string(i) + ",\"success\":true," + result + "}";
      OPENSSL_cleanse(&result[0], result.size());
    } else {
      ++failed;
      results += "{\"index\":" + std::to_string(i) + ",\"pseudonym_id\":" +
                 Quoted(IsPseudonymId(items[i].first) ? items[i].first : "") +
                 ",\"success\":false,\"status\":" + std::to_string(status) +
                 ",\"error\":" + Quoted(detail) + "}";
    }
  }
  counters_[1].bulk++;
  const std::string batch = picked[2].empty() || picked[2][0].kind != JsonScalarKind::kString
                                ? "null"
                                : Quoted(picked[2][0].value);
  ServiceResponse r;
  r.body = "{\"batch_id\":" + batch + ",\"total\":" + std::to_string(items.size()) +
           ",\"successful\":" + std::to_string(ok) + ",\"failed\":" + std::to_string(failed) +
           ",\"skipped\":" + std::to_string(skipped) +
           ",\"processing_time_ms\":" + Number(Ms(start)) + ",\"results\":[" + results + "]}";
  OPENSSL_cleanse(&results[0], results.size());
  return r;
}

ServiceResponse JsonService::Verify(std::string_view body) {
  std::vector<std::vector<Picked>> picked;
  std::string err;
  if (!Pick(body, {"$.pseudonym_id", "$.pseudonymized_data"}, options_.max_depth, &picked, &err)) {
    return Problem(400, "Bad Request", "the body is not JSON: " + err);
  }
  if (picked[1].empty()) {
    return Problem(400, "Bad Request", "the body needs \"pseudonymized_data\"");
  }
  ++counters_[1].verifications;
  const std::string_view doc = picked[1][0].raw;
  PseudonymRecord record;
  bool found = false;
  const std::string id = picked[0].empty() ? "" : picked[0][0].value;
  if (!id.empty()) {
    if (!IsPseudonymId(id)) {
      return Problem(400, "Bad Request", "pseudonym_id must be a UUID from pseudonymize");
    }
    if (!vault_.GetPseudonym(id, Now(), &record, &found, &err)) {
      return Problem(500, "Internal Server Error", err);
    }
    if (!found) return Problem(404, "Not Found", "no pseudonym record " + id);
  }
  bool mac_valid = false;
  if (found) mac_valid = pseudonymizer_.MatchesMac(doc, record.mac);
  std::vector<std::string> clear;
  const bool scanned =
      pseudonymizer_.FindPlaintext(doc, found ? &record.originals : nullptr, &clear, &err);
  if (!record.originals.empty()) OPENSSL_cleanse(&record.originals[0], record.originals.size());
  if (!scanned) return Problem(422, "Unprocessable Entity", "pseudonymized_data: " + err);
  std::string paths;
  for (size_t i = 0; i < clear.size(); ++i) paths += (i ? "," : "") + Quoted(clear[i]);
  ServiceResponse r;
  r.body = std::string("{\"verified\":") +
           ((found ? mac_valid : true) && clear.empty() ? "true" : "false") +
           ",\"record_found\":" + (found ? "true" : "false") +
           ",\"mac_valid\":" + (found ? (mac_valid ? "true" : "false") : "null") +
           ",\"plaintext_paths\":[" + paths + "]}";
  return r;
}

ServiceResponse JsonService::Cleanup(std::string_view id) {
  if (!IsPseudonymId(id)) return Problem(400, "Bad Request", "the id must be a UUID");
  Vault::CleanupResult result;
  std::string err;
  if (!vault_.CleanupPseudonym(id, &result, &err)) {
    return Problem(500, "Internal Server Error", err);
  }
  if (result == Vault::CleanupResult::kNotFound) {
    return Problem(404, "Not Found", "no pseudonym record " + std::string(id));
  }
  if (result == Vault::CleanupResult::kHeld) {
    return Problem(409, "Conflict",
                   "pseudonym record " + std::string(id) +
                       " is under legal hold; release it (DELETE /hold/{id}) first");
  }
  ++counters_[1].cleanups;
  ServiceResponse r;
  r.body = "{\"pseudonym_id\":\"" + std::string(id) +
           "\",\"cleaned_up\":true,\"method\":\"crypto-shredded\"}";
  return r;
}

ServiceResponse JsonService::Hold(std::string_view id, bool hold) {
  if (!IsPseudonymId(id)) return Problem(400, "Bad Request", "the id must be a UUID");
  bool found = false;
  std::string err;
  if (!vault_.HoldPseudonym(id, hold, &found, &err)) {
    return Problem(500, "Internal Server Error", err);
  }
  if (!found) return Problem(404, "Not Found", "no pseudonym record " + std::string(id));
  ServiceResponse r;
  r.body = "{\"pseudonym_id\":\"" + std::string(id) +
           "\",\"legal_hold\":" + (hold ? "true" : "false") + "}";
  return r;
}

std::string JsonService::Metrics() {
  std::string m;
  m += "# HELP sdp_json_requests_total HTTP requests of the JSON services by listener, endpoint "
       "and status.\n# TYPE sdp_json_requests_total counter\n";
  for (const auto& [labels, n] : responses_) {
    m += "sdp_json_requests_total{service=\"" + labels + "\"} " + std::to_string(n) + "\n";
  }
  m += "# HELP sdp_json_documents_total Documents pseudonymized or repersonalized.\n"
       "# TYPE sdp_json_documents_total counter\n";
  m += "sdp_json_documents_total{operation=\"pseudonymize\"} " +
       std::to_string(counters_[0].documents) + "\n";
  m += "sdp_json_documents_total{operation=\"repersonalize\"} " +
       std::to_string(counters_[1].documents) + "\n";
  m += "# HELP sdp_json_fields_total Values pseudonymized or restored.\n"
       "# TYPE sdp_json_fields_total counter\n";
  m += "sdp_json_fields_total{operation=\"pseudonymize\"} " + std::to_string(counters_[0].fields) +
       "\n";
  m += "sdp_json_fields_total{operation=\"repersonalize\"} " + std::to_string(counters_[1].fields) +
       "\n";
  m += "# HELP sdp_json_rate_limited_total Requests refused with 429.\n"
       "# TYPE sdp_json_rate_limited_total counter\n";
  for (size_t i = 0; i < 2; ++i) {
    m += std::string("sdp_json_rate_limited_total{service=\"") +
         (i == 0 ? "pseudonymization" : "repersonalization") + "\"} " +
         std::to_string(counters_[i].rate_limited) + "\n";
  }
  m += "# HELP sdp_json_unauthorized_total Requests refused with 401.\n"
       "# TYPE sdp_json_unauthorized_total counter\n";
  for (size_t i = 0; i < 2; ++i) {
    m += std::string("sdp_json_unauthorized_total{service=\"") +
         (i == 0 ? "pseudonymization" : "repersonalization") + "\"} " +
         std::to_string(counters_[i].unauthorized) + "\n";
  }
  m += "# HELP sdp_json_request_seconds_total Time spent handling requests.\n"
       "# TYPE sdp_json_request_seconds_total counter\n";
  for (size_t i = 0; i < 2; ++i) {
    m += std::string("sdp_json_request_seconds_total{service=\"") +
         (i == 0 ? "pseudonymization" : "repersonalization") + "\"} " +
         Number(counters_[i].seconds) + "\n";
  }
  PseudonymStats stats;
  std::string err;
  if (vault_.GetPseudonymStats(Now(), &stats, &err)) {
    m += "# HELP sdp_json_pseudonym_records Pseudonym records in the vault.\n"
         "# TYPE sdp_json_pseudonym_records gauge\n";
    m += "sdp_json_pseudonym_records{state=\"live\"} " +
         std::to_string(stats.records - stats.expired) + "\n";
    m += "sdp_json_pseudonym_records{state=\"expired\"} " + std::to_string(stats.expired) + "\n";
    m += "sdp_json_pseudonym_records{state=\"held\"} " + std::to_string(stats.held) + "\n";
  }
  return m;
}

}  // namespace sdp
