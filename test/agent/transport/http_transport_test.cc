// HttpTransport against a scripted FakeHttpClient: request shape per RPC, status → Kind mapping,
// PostgREST error bodies, retries (fake sleeper: nothing sleeps), Retry-After, and that the API
// key never reaches a trace line or an error message.
#include "agent/transport/http_transport.h"

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "agent/support/signals.h"
#include "common/text.h"

namespace sdp {
namespace {

constexpr const char* kKey = "sdp_TESTKEY_0123456789abcdefghijklmnop";
constexpr const char* kBatch = "0b9c3a62-7d0e-4f43-9a55-1f2e3d4c5b6a";
const std::string kSha(64, 'a');

struct Recorded {
  bool post = false;
  std::string url;
  HttpHeaders headers;
  std::string body;

  const std::string* Header(const std::string& name) const {
    for (const auto& h : headers) {
      if (EqualsIgnoreCase(h.name, name)) return &h.value;
    }
    return nullptr;
  }
};

struct Scripted {
  bool answered = true;
  HttpResponse response;
  HttpFailure failure;
};

class FakeHttpClient : public HttpClient {
 public:
  // Shared with the test after the client moved into the transport.
  struct State {
    std::deque<Scripted> script;
    std::vector<Recorded> requests;
  };
  explicit FakeHttpClient(std::shared_ptr<State> state) : state_(std::move(state)) {}

  bool Post(const std::string& url, const HttpHeaders& headers, std::string_view body,
            HttpResponse* out, HttpFailure* failure) override {
    return Next({true, url, headers, std::string(body)}, out, failure);
  }
  bool Get(const std::string& url, const HttpHeaders& headers, HttpResponse* out,
           HttpFailure* failure) override {
    return Next({false, url, headers, ""}, out, failure);
  }

 private:
  bool Next(Recorded r, HttpResponse* out, HttpFailure* failure) {
    state_->requests.push_back(std::move(r));
    if (state_->script.empty()) {
      *failure = {HttpFailure::Kind::kNetwork, "script exhausted"};
      return false;
    }
    Scripted s = state_->script.front();
    state_->script.pop_front();
    *out = s.response;
    *failure = s.failure;
    return s.answered;
  }
  std::shared_ptr<State> state_;
};

Scripted Reply(long status, std::string body, HttpHeaders headers = {}) {
  Scripted s;
  s.response.status = status;
  s.response.body = std::move(body);
  s.response.headers = std::move(headers);
  return s;
}

Scripted NoAnswer(HttpFailure::Kind kind, std::string message) {
  Scripted s;
  s.answered = false;
  s.failure = {kind, std::move(message)};
  return s;
}

class HttpTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetInterruptedForTesting(false);
    options_.url = "https://sdp.example.org:8443/";
    options_.api_key = kKey;
    options_.max_retries = 3;
  }

  std::unique_ptr<ServerTransport> Make() {
    RetryEnvironment env;
    env.sleep = [this](int64_t ms) { sleeps_.push_back(ms); };
    env.now_unix_seconds = [] { return int64_t{784111777}; };  // Sun, 06 Nov 1994 08:49:37 GMT
    env.random = [this] { return random_++; };
    env.trace = [this](const std::string& line) { trace_.push_back(line); };
    std::string err;
    auto t = NewHttpTransportWithClient(options_, std::make_unique<FakeHttpClient>(state_),
                                        std::move(env), &err);
    EXPECT_TRUE(t) << err;
    return t;
  }

  void ExpectNoKeyAnywhere(const TransportError& err) {
    for (const auto& line : trace_) EXPECT_EQ(line.find(kKey), std::string::npos) << line;
    EXPECT_EQ(err.message.find(kKey), std::string::npos);
    EXPECT_EQ(err.hint.find(kKey), std::string::npos);
  }

  TransportOptions options_;
  std::shared_ptr<FakeHttpClient::State> state_ = std::make_shared<FakeHttpClient::State>();
  std::vector<int64_t> sleeps_;
  std::vector<std::string> trace_;
  uint64_t random_ = 0;
};

TEST_F(HttpTransportTest, OpenBatchSendsNamedJsonArguments) {
  state_->script.push_back(Reply(201, std::string(R"({"batch_id":")") + kBatch +
                                          R"(","accepted_records":0,"status":"UPLOADING"})"));
  auto t = Make();
  BatchInfo info;
  TransportError err;
  ASSERT_TRUE(t->OpenBatch("bank_demo", "risk_scoring", "customer_id", "idem-1", "", &info, &err))
      << err.message;
  EXPECT_EQ(info.batch_id, kBatch);
  EXPECT_EQ(info.status, "UPLOADING");
  EXPECT_EQ(info.client_id, "bank_demo");
  EXPECT_EQ(info.processing_type, "risk_scoring");
  ASSERT_EQ(state_->requests.size(), 1u);
  const Recorded& r = state_->requests[0];
  EXPECT_TRUE(r.post);
  EXPECT_EQ(r.url, "https://sdp.example.org:8443/rpc/batch_open");
  EXPECT_EQ(*r.Header("Content-Type"), "application/json");
  EXPECT_EQ(*r.Header("X-API-Key"), kKey);
  EXPECT_EQ(*r.Header("X-Client-Id"), "bank_demo");
  EXPECT_EQ(r.body,
            R"({"client_id":"bank_demo","idempotency_key":"idem-1","key_column":"customer_id",)"
            R"("processing_type":"risk_scoring"})");
}

TEST_F(HttpTransportTest, OpenBatchOmitsEmptyOptionalArguments) {
  state_->script.push_back(Reply(200, std::string(R"({"batch_id":")") + kBatch +
                                          R"(","accepted_records":5,"status":"UPLOADING"})"));
  auto t = Make();
  BatchInfo info;
  TransportError err;
  ASSERT_TRUE(t->OpenBatch("", "risk_scoring", "", "", "", &info, &err));
  EXPECT_EQ(state_->requests[0].body, R"({"processing_type":"risk_scoring"})");
  EXPECT_EQ(state_->requests[0].Header("X-Client-Id"), nullptr);
  EXPECT_EQ(info.accepted_records, 5);
}

TEST_F(HttpTransportTest, OpenBatchSendsTheManifestAsAJsonObject) {
  state_->script.push_back(Reply(201, std::string(R"({"batch_id":")") + kBatch +
                                          R"(","accepted_records":0,"status":"UPLOADING"})"));
  auto t = Make();
  BatchInfo info;
  TransportError err;
  ASSERT_TRUE(t->OpenBatch("bank_demo", "risk_scoring", "", "", R"({"email":{"transform":"HASH"}})",
                           &info, &err))
      << err.message;
  EXPECT_EQ(state_->requests[0].body,
            R"({"client_id":"bank_demo","manifest":{"email":{"transform":"HASH"}},)"
            R"("processing_type":"risk_scoring"})");
  // Not a JSON object: refused before anything is sent.
  EXPECT_FALSE(t->OpenBatch("bank_demo", "risk_scoring", "", "", "[1]", &info, &err));
  EXPECT_EQ(state_->requests.size(), 1u);
}

TEST_F(HttpTransportTest, AppendChunkSendsTextPlainWithHeaders) {
  state_->script.push_back(Reply(
      200, std::string(R"({"batch_id":")") + kBatch + R"(","seq":2,"accepted_records":1234})"));
  auto t = Make();
  int64_t rows = 0;
  TransportError err;
  const std::string chunk = "c1,1.5\nc2,\"a,b\"\n";
  ASSERT_TRUE(t->AppendChunk(kBatch, 2, chunk, kSha, &rows, &err)) << err.message;
  EXPECT_EQ(rows, 1234);
  const Recorded& r = state_->requests[0];
  EXPECT_EQ(r.url, "https://sdp.example.org:8443/rpc/batch_append");
  EXPECT_EQ(*r.Header("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(*r.Header("X-Batch-Id"), kBatch);
  EXPECT_EQ(*r.Header("X-Chunk-Seq"), "2");
  EXPECT_EQ(*r.Header("X-Chunk-Sha256"), kSha);
  EXPECT_EQ(r.body, chunk);  // raw, not JSON-wrapped
}

TEST_F(HttpTransportTest, RefusesMalformedIdsWithoutSending) {
  auto t = Make();
  int64_t rows = 0;
  TransportError err;
  EXPECT_FALSE(t->AppendChunk("x\r\nX-Evil: 1", 0, "a\n", kSha, &rows, &err));
  EXPECT_EQ(err.kind, TransportError::Kind::kRejected);
  EXPECT_FALSE(t->AppendChunk(kBatch, -1, "a\n", kSha, &rows, &err));
  EXPECT_FALSE(t->AppendChunk(kBatch, 0, "a\n", "abc", &rows, &err));
  BatchInfo info;
  EXPECT_FALSE(t->GetBatch("../health", &info, &err));
  EXPECT_TRUE(state_->requests.empty());
}

TEST_F(HttpTransportTest, AbortBatchPostsIdAndReason) {
  const std::string id = kBatch;
  state_->script.push_back(
      Reply(200, R"({"batch_id":")" + id + R"(","accepted_records":0,"status":"FAILED"})"));
  auto t = Make();
  BatchInfo info;
  TransportError err;
  ASSERT_TRUE(t->AbortBatch(id, "chunk 2 refused: PT413", &info, &err)) << err.message;
  EXPECT_EQ(info.status, "FAILED");
  EXPECT_EQ(info.accepted_records, 0);
  ASSERT_EQ(state_->requests.size(), 1u);
  EXPECT_TRUE(state_->requests[0].post);
  EXPECT_EQ(state_->requests[0].url, "https://sdp.example.org:8443/rpc/batch_abort");
  EXPECT_EQ(state_->requests[0].body,
            R"({"batch_id":")" + id + R"(","reason":"chunk 2 refused: PT413"})");
  EXPECT_FALSE(t->AbortBatch("../health", "", &info, &err));
  EXPECT_EQ(state_->requests.size(), 1u);
}

TEST_F(HttpTransportTest, SealProcessGetAndResults) {
  const std::string id = kBatch;
  state_->script.push_back(
      Reply(200, R"({"batch_id":")" + id + R"(","accepted_records":3,"status":"RECEIVED"})"));
  state_->script.push_back(Reply(200, R"({"batch_id":")" + id +
                                          R"(","processed_records":3,"model_version":"demo_v1",)"
                                          R"("status":"PROCESSED"})"));
  state_->script.push_back(Reply(
      200, R"({"batch_id":")" + id +
               R"(","client_id":"bank_demo","processing_type":"risk_scoring","status":"PROCESSED",)"
               R"("accepted_records":3,"processed_records":3,"model_version":"demo_v1",)"
               R"("created_at":"2024-01-01T00:00:00+00:00","processed_at":null,)"
               R"("content_sha256":")" +
               kSha + R"("})"));
  state_->script.push_back(
      Reply(200, "record_key,score,risk_band,model_version\nk1,0.5,MEDIUM,demo_v1\n",
            {{"Content-Type", "text/csv; charset=utf-8"}}));
  auto t = Make();
  BatchInfo info;
  TransportError err;
  ASSERT_TRUE(t->SealBatch(id, 2, kSha, &info, &err)) << err.message;
  EXPECT_EQ(info.status, "RECEIVED");
  EXPECT_EQ(info.accepted_records, 3);
  EXPECT_EQ(state_->requests[0].body,
            R"({"batch_id":")" + id + R"(","chunks":2,"content_sha256":")" + kSha + R"("})");
  ASSERT_TRUE(t->ProcessBatch(id, /*dev=*/true, &info, &err)) << err.message;
  EXPECT_EQ(state_->requests[1].url, "https://sdp.example.org:8443/rpc/dev_process_batch");
  EXPECT_EQ(state_->requests[1].body, R"({"batch_id":")" + id + R"("})");
  EXPECT_EQ(info.processed_records, 3);
  EXPECT_EQ(info.model_version, "demo_v1");
  ASSERT_TRUE(t->GetBatch(id, &info, &err)) << err.message;
  EXPECT_FALSE(state_->requests[2].post);
  EXPECT_EQ(state_->requests[2].url, "https://sdp.example.org:8443/rpc/batch?batch_id=" + id);
  EXPECT_EQ(info.client_id, "bank_demo");
  EXPECT_EQ(info.content_sha256, kSha);
  std::string csv;
  ASSERT_TRUE(t->FetchResultsCsv(id, &csv, &err)) << err.message;
  EXPECT_EQ(state_->requests[3].url, "https://sdp.example.org:8443/rpc/results_csv?batch_id=" + id);
  EXPECT_EQ(*state_->requests[3].Header("Accept"), "text/csv");
  EXPECT_EQ(csv, "record_key,score,risk_band,model_version\nk1,0.5,MEDIUM,demo_v1\n");
  EXPECT_TRUE(sleeps_.empty());
}

TEST_F(HttpTransportTest, ResultsRefuseJsonBody) {
  state_->script.push_back(Reply(200, "[]", {{"Content-Type", "application/json"}}));
  auto t = Make();
  std::string csv;
  TransportError err;
  EXPECT_FALSE(t->FetchResultsCsv(kBatch, &csv, &err));
  EXPECT_EQ(err.kind, TransportError::Kind::kFatal);
}

TEST_F(HttpTransportTest, StatusToKind) {
  using Kind = TransportError::Kind;
  EXPECT_EQ(KindForHttpStatus(400), Kind::kRejected);
  EXPECT_EQ(KindForHttpStatus(401), Kind::kAuth);
  EXPECT_EQ(KindForHttpStatus(403), Kind::kAuth);
  EXPECT_EQ(KindForHttpStatus(404), Kind::kNotFound);
  EXPECT_EQ(KindForHttpStatus(405), Kind::kRejected);
  EXPECT_EQ(KindForHttpStatus(409), Kind::kConflict);
  EXPECT_EQ(KindForHttpStatus(413), Kind::kRejected);
  EXPECT_EQ(KindForHttpStatus(415), Kind::kRejected);
  EXPECT_EQ(KindForHttpStatus(422), Kind::kRejected);
  EXPECT_EQ(KindForHttpStatus(429), Kind::kRetryable);
  EXPECT_EQ(KindForHttpStatus(500), Kind::kFatal);
  EXPECT_EQ(KindForHttpStatus(502), Kind::kRetryable);  // the gateway while PostgREST restarts
  EXPECT_EQ(KindForHttpStatus(503), Kind::kRetryable);
  EXPECT_EQ(KindForHttpStatus(504), Kind::kRetryable);
  EXPECT_EQ(KindForHttpStatus(300), Kind::kFatal);
}

TEST_F(HttpTransportTest, ParsesPostgrestErrorBody) {
  TransportError err;
  ParseErrorResponse(
      409,
      R"({"code":"PT409","message":"batch is sealed","details":"seq 3 differs","hint":"open a new batch"})",
      &err);
  EXPECT_EQ(err.kind, TransportError::Kind::kConflict);
  EXPECT_EQ(err.http_status, 409);
  EXPECT_EQ(err.code, "PT409");
  EXPECT_EQ(err.message, "batch is sealed (seq 3 differs)");
  EXPECT_EQ(err.hint, "open a new batch");

  ParseErrorResponse(
      400, R"({"code":"22P04","message":"line 7:\nbad quote","details":null,"hint":null})", &err);
  EXPECT_EQ(err.kind, TransportError::Kind::kRejected);
  EXPECT_EQ(err.message, "line 7: bad quote");  // one line
  EXPECT_EQ(err.hint, "");

  ParseErrorResponse(502, "<html><body>Bad Gateway</body></html>", &err);
  EXPECT_EQ(err.kind, TransportError::Kind::kRetryable);
  EXPECT_EQ(err.code, "");
  EXPECT_NE(err.message.find("HTTP 502"), std::string::npos);
  EXPECT_NE(err.message.find("Bad Gateway"), std::string::npos);

  ParseErrorResponse(503, "", &err);
  EXPECT_EQ(err.kind, TransportError::Kind::kRetryable);
  ParseErrorResponse(400, R"({"code":5,"message":["x"]})", &err);  // wrong types: generic
  EXPECT_NE(err.message.find("HTTP 400"), std::string::npos);
  ParseErrorResponse(400, std::string(100000, '['), &err);  // deep: generic, no crash
  EXPECT_NE(err.message.find("HTTP 400"), std::string::npos);
  EXPECT_LT(err.message.size(), 400u);
}

// A hostile server puts a bidi override (U+202E, RIGHT-TO-LEFT OVERRIDE) into its message, hint
// and code: on the terminal the rest of the line would read backwards, so "use gnp.exe" could be
// made to look like "use exe.png" and a forged verdict could be placed anywhere on the line. Like
// every byte outside printable ASCII it is shown as '?'.
TEST_F(HttpTransportTest, ServerTextCannotReorderTheTerminal) {
  const std::string rlo = "\xE2\x80\xAE";
  TransportError err;
  ParseErrorResponse(409,
                     "{\"code\":\"PT" + rlo + "409\",\"message\":\"sealed " + rlo +
                         "gnp.exe\",\"details\":\"d" + rlo + "\",\"hint\":\"run " + rlo +
                         "exe.png\"}",
                     &err);
  const std::string line = DescribeTransportError("upload failed", err);
  EXPECT_EQ(line.find(rlo), std::string::npos) << line;
  EXPECT_EQ(line.find('\xE2'), std::string::npos) << line;
  EXPECT_EQ(err.message,
            "sealed ???gnp.exe (d???"
            ")");  // split: no ??) trigraph
  EXPECT_EQ(err.hint, "run ???exe.png");
  EXPECT_EQ(err.code, "PT???409");
  // Not PostgREST (a proxy's page): the same rules.
  ParseErrorResponse(502, "<p>" + rlo + "yawetag dab</p>", &err);
  EXPECT_EQ(err.message.find(rlo), std::string::npos) << err.message;
}

TEST_F(HttpTransportTest, ErrorsCarryCodeAndNeverRetry4xx) {
  for (long status : {400L, 401L, 403L, 404L, 409L, 413L, 415L, 422L, 500L, 501L}) {
    state_->script.clear();
    state_->requests.clear();
    state_->script.push_back(
        Reply(status, R"({"code":"PT)" + std::to_string(status) + R"(","message":"no"})"));
    auto t = Make();
    BatchInfo info;
    TransportError err;
    EXPECT_FALSE(t->GetBatch(kBatch, &info, &err));
    EXPECT_EQ(state_->requests.size(), 1u) << status;
    EXPECT_EQ(err.http_status, status);
    EXPECT_EQ(err.code, "PT" + std::to_string(status));
    EXPECT_EQ(err.kind, KindForHttpStatus(status));
  }
  EXPECT_TRUE(sleeps_.empty());
}

TEST_F(HttpTransportTest, RetriesNetworkErrorsWithGrowingJitteredBackoff) {
  for (int i = 0; i < 3; ++i) {
    state_->script.push_back(NoAnswer(HttpFailure::Kind::kNetwork, "Connection refused"));
  }
  state_->script.push_back(
      Reply(200, std::string(R"({"batch_id":")") + kBatch + R"(","status":"RECEIVED"})"));
  auto t = Make();
  BatchInfo info;
  TransportError err;
  ASSERT_TRUE(t->GetBatch(kBatch, &info, &err)) << err.message;
  EXPECT_EQ(state_->requests.size(), 4u);
  ASSERT_EQ(sleeps_.size(), 3u);
  // Equal jitter on 250, 500, 1000 ms: within [cap/2, cap], growing.
  EXPECT_GE(sleeps_[0], 125);
  EXPECT_LE(sleeps_[0], 250);
  EXPECT_GE(sleeps_[1], 250);
  EXPECT_LE(sleeps_[1], 500);
  EXPECT_GE(sleeps_[2], 500);
  EXPECT_LE(sleeps_[2], 1000);
}

TEST_F(HttpTransportTest, GivesUpAfterMaxRetries) {
  for (int i = 0; i < 10; ++i)
    state_->script.push_back(Reply(503, R"({"code":"PGRST001","message":"db down"})"));
  auto t = Make();
  BatchInfo info;
  TransportError err;
  EXPECT_FALSE(t->GetBatch(kBatch, &info, &err));
  EXPECT_EQ(state_->requests.size(), 4u);  // 1 + max_retries
  EXPECT_EQ(sleeps_.size(), 3u);
  EXPECT_EQ(err.kind, TransportError::Kind::kRetryable);
  EXPECT_EQ(err.code, "PGRST001");
}

TEST_F(HttpTransportTest, HonoursRetryAfterSecondsAndDate) {
  state_->script.push_back(
      Reply(429, R"({"code":"PT429","message":"slow down"})", {{"Retry-After", "7"}}));
  state_->script.push_back(Reply(503, "", {{"retry-after", "Sun, 06 Nov 1994 08:50:00 GMT"}}));
  state_->script.push_back(Reply(504, "", {{"Retry-After", "soon"}}));
  state_->script.push_back(
      Reply(200, std::string(R"({"batch_id":")") + kBatch + R"(","status":"RECEIVED"})"));
  auto t = Make();
  BatchInfo info;
  TransportError err;
  ASSERT_TRUE(t->GetBatch(kBatch, &info, &err)) << err.message;
  ASSERT_EQ(sleeps_.size(), 3u);
  EXPECT_EQ(sleeps_[0], 7000);
  EXPECT_EQ(sleeps_[1], 23000);  // 08:50:00 - 08:49:37
  EXPECT_GE(sleeps_[2], 500);    // garbage Retry-After: backoff instead
  EXPECT_LE(sleeps_[2], 1000);
}

// Caddy answers 502 while PostgREST restarts (issue 15): retried like 503/504, then succeeds.
TEST_F(HttpTransportTest, Retries502FromTheGateway) {
  state_->script.push_back(Reply(502, ""));
  state_->script.push_back(Reply(502, "<html>Bad Gateway</html>"));
  state_->script.push_back(
      Reply(200, std::string(R"({"batch_id":")") + kBatch + R"(","status":"RECEIVED"})"));
  auto t = Make();
  BatchInfo info;
  TransportError err;
  ASSERT_TRUE(t->GetBatch(kBatch, &info, &err)) << err.message;
  EXPECT_EQ(state_->requests.size(), 3u);
  EXPECT_EQ(sleeps_.size(), 2u);
}

// A server answering 503 with a long Retry-After every time would hold the agent for
// max_retries hours: the waits of one call stop at 600 s in total, then it fails as retryable.
TEST_F(HttpTransportTest, RetryAfterWaitsAreCappedInTotal) {
  options_.max_retries = 10;
  for (int i = 0; i < 11; ++i) {
    state_->script.push_back(Reply(503, "", {{"Retry-After", "250"}}));
  }
  auto t = Make();
  BatchInfo info;
  TransportError err;
  EXPECT_FALSE(t->GetBatch(kBatch, &info, &err));
  EXPECT_EQ(sleeps_, (std::vector<int64_t>{250000, 250000}));  // a third would pass 600 s
  EXPECT_EQ(state_->requests.size(), 3u);
  EXPECT_EQ(err.kind, TransportError::Kind::kRetryable);
  EXPECT_NE(err.hint.find("beyond the 600 s the agent waits in total"), std::string::npos)
      << err.hint;

  state_->script.clear();
  state_->requests.clear();
  sleeps_.clear();
  state_->script.push_back(Reply(429, "", {{"Retry-After", "3600"}}));
  auto t2 = Make();
  EXPECT_FALSE(t2->GetBatch(kBatch, &info, &err));
  EXPECT_TRUE(sleeps_.empty());  // not even one hour-long wait
  EXPECT_EQ(state_->requests.size(), 1u);
  EXPECT_EQ(DescribeTransportError("status", err).find('\n'), std::string::npos);
}

TEST_F(HttpTransportTest, RetryAfterParsing) {
  int64_t d = -1;
  EXPECT_TRUE(ParseRetryAfter("0", 0, &d));
  EXPECT_EQ(d, 0);
  EXPECT_TRUE(ParseRetryAfter(" 120 ", 0, &d));
  EXPECT_EQ(d, 120);
  EXPECT_TRUE(ParseRetryAfter("99999999999999999999", 0, &d));
  EXPECT_EQ(d, 3600);
  EXPECT_TRUE(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 50, &d));
  EXPECT_EQ(d, 0);  // in the past
  EXPECT_FALSE(ParseRetryAfter("", 0, &d));
  EXPECT_FALSE(ParseRetryAfter("-5", 0, &d));
  EXPECT_FALSE(ParseRetryAfter("1.5", 0, &d));
  EXPECT_FALSE(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT trailing", 0, &d));
}

TEST_F(HttpTransportTest, TlsAndConfigFailuresAreNotRetried) {
  state_->script.push_back(NoAnswer(HttpFailure::Kind::kTls,
                                    "TLS: server certificate not trusted by SDP_CA_BUNDLE=/x.pem"));
  auto t = Make();
  BatchInfo info;
  TransportError err;
  EXPECT_FALSE(t->GetBatch(kBatch, &info, &err));
  EXPECT_EQ(err.kind, TransportError::Kind::kFatal);
  EXPECT_EQ(err.message, "TLS: server certificate not trusted by SDP_CA_BUNDLE=/x.pem");
  EXPECT_EQ(state_->requests.size(), 1u);
  EXPECT_TRUE(sleeps_.empty());
}

TEST_F(HttpTransportTest, InterruptStopsRetrying) {
  for (int i = 0; i < 5; ++i) state_->script.push_back(Reply(503, ""));
  auto t = Make();
  SetInterruptedForTesting(true);
  BatchInfo info;
  TransportError err;
  EXPECT_FALSE(t->GetBatch(kBatch, &info, &err));
  SetInterruptedForTesting(false);
  EXPECT_EQ(state_->requests.size(), 1u);
}

TEST_F(HttpTransportTest, KeyNeverInTraceOrErrors) {
  // A hostile or buggy server echoing the key back in its error text.
  state_->script.push_back(
      Reply(401, std::string(R"({"code":"PT401","message":"invalid API key )") + kKey +
                     R"(","hint":"key )" + kKey + R"( unknown"})"));
  auto t = Make();
  BatchInfo info;
  TransportError err;
  EXPECT_FALSE(t->GetBatch(kBatch, &info, &err));
  EXPECT_EQ(err.kind, TransportError::Kind::kAuth);
  EXPECT_NE(err.message.find("[redacted]"), std::string::npos);
  ASSERT_FALSE(trace_.empty());
  EXPECT_NE(trace_[0].find("X-API-Key: [redacted]"), std::string::npos);
  ExpectNoKeyAnywhere(err);
}

TEST_F(HttpTransportTest, Pgrst202ExplainsMissingFunction) {
  state_->script.push_back(Reply(
      404, R"({"code":"PGRST202","message":"Could not find the function sdp_api.batch_open"})"));
  auto t = Make();
  BatchInfo info;
  TransportError err;
  EXPECT_FALSE(t->OpenBatch("c", "risk_scoring", "", "", "", &info, &err));
  EXPECT_EQ(err.code, "PGRST202");
  EXPECT_NE(err.hint.find("reload schema"), std::string::npos);
}

TEST(HttpTransportUrlTest, RefusesUnsafeUrls) {
  auto make = [](const std::string& url, bool insecure, std::string* err) {
    TransportOptions o;
    o.url = url;
    o.insecure_http = insecure;
    auto state = std::make_shared<FakeHttpClient::State>();
    return NewHttpTransportWithClient(o, std::make_unique<FakeHttpClient>(state),
                                      RetryEnvironment(), err) != nullptr;
  };
  std::string err;
  EXPECT_TRUE(make("https://sdp.example.org", false, &err)) << err;
  EXPECT_TRUE(make("https://sdp.example.org/prefix/", false, &err)) << err;
  EXPECT_TRUE(make("http://127.0.0.1:3000", false, &err)) << err;
  EXPECT_TRUE(make("http://localhost:3000", false, &err)) << err;
  EXPECT_TRUE(make("http://[::1]:3000", false, &err)) << err;
  EXPECT_FALSE(make("http://sdp.example.org", false, &err));
  EXPECT_NE(err.find("refusing plain http://"), std::string::npos);
  EXPECT_NE(err.find("fix:"), std::string::npos);
  EXPECT_TRUE(make("http://sdp.example.org", true, &err)) << err;
  EXPECT_FALSE(make("https://user:secret@sdp.example.org", false, &err));
  EXPECT_EQ(err.find("secret"), std::string::npos);
  EXPECT_FALSE(make("https://sdp.example.org/?x=1", false, &err));
  EXPECT_FALSE(make("ftp://sdp.example.org", false, &err));
  EXPECT_FALSE(make("https://", false, &err));
}

TEST(HttpTransportUrlTest, Loopback) {
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_TRUE(IsLoopbackHost("LOCALHOST"));
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.1.2.3"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_TRUE(IsLoopbackHost("[::1]"));
  EXPECT_TRUE(IsLoopbackHost("::ffff:127.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("128.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("localhost.example.org"));
  EXPECT_FALSE(IsLoopbackHost("127.0.0.1.nip.io"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost(""));
}

TEST(HttpClientTest, RedactsSecretHeaders) {
  HttpHeaders h = {{"X-API-Key", "k1"},
                   {"authorization", "Bearer t"},
                   {"Cookie", "s=1"},
                   {"X-Client-Id", "bank_demo"},
                   {"Content-Type", "text/plain"}};
  const std::string s = RedactHeaders(h);
  EXPECT_EQ(s,
            "X-API-Key: [redacted]; authorization: [redacted]; Cookie: [redacted]; "
            "X-Client-Id: bank_demo; Content-Type: text/plain");
  EXPECT_TRUE(IsSecretHeader("x-api-key"));
  EXPECT_TRUE(IsSecretHeader("Proxy-Authorization"));
  EXPECT_FALSE(IsSecretHeader("X-Batch-Id"));
}

TEST(HttpClientTest, CurlClientRefusesUnreadableFiles) {
  HttpClientOptions o;
  o.ca_bundle = "/nonexistent/ca.pem";
  std::string err;
  EXPECT_EQ(NewCurlHttpClient(o, &err), nullptr);
  EXPECT_NE(err.find("/nonexistent/ca.pem"), std::string::npos);
}

TEST(HttpClientTest, CurlClientReportsConnectionRefusedAsNetwork) {
  // A port nobody listens on (bound then closed would race; port 1 on loopback is privileged
  // and unused on CI machines).
  HttpClientOptions o;
  o.connect_timeout_seconds = 2;
  std::string err;
  auto c = NewCurlHttpClient(o, &err);
  ASSERT_NE(c, nullptr) << err;
  HttpResponse resp;
  HttpFailure failure;
  EXPECT_FALSE(c->Get("http://127.0.0.1:1/rpc/health", {}, &resp, &failure));
  EXPECT_EQ(failure.kind, HttpFailure::Kind::kNetwork);
  EXPECT_FALSE(failure.message.empty());
}

// Hostile input: a header value with CR/LF (e.g. --client-id $'a\r\nX-Evil: 1') would inject
// headers; it is refused before any connection is made, without echoing the value.
TEST(HttpClientTest, CurlClientRefusesLineBreaksInHeaderValues) {
  HttpClientOptions o;
  o.connect_timeout_seconds = 2;
  std::string err;
  auto c = NewCurlHttpClient(o, &err);
  ASSERT_NE(c, nullptr) << err;
  for (const std::string& value :
       {std::string("bank\r\nX-Evil: 1"), std::string("bank\nX"), std::string("a\0b", 3)}) {
    HttpResponse resp;
    HttpFailure failure;
    EXPECT_FALSE(c->Post("http://127.0.0.1:1/rpc/batch_open", {{"X-Client-Id", value}}, "{}", &resp,
                         &failure));
    EXPECT_EQ(failure.kind, HttpFailure::Kind::kFatal);  // not kNetwork: nothing was sent
    EXPECT_EQ(failure.message,
              "the value of HTTP header X-Client-Id contains a line break or NUL byte; fix: "
              "remove control characters from the value (e.g. --client-id, --processing-type, "
              "--key-column, SDP_API_KEY)");
  }
}

TEST(BatchJsonTest, ParsesAndRejects) {
  BatchInfo b;
  std::string err;
  EXPECT_TRUE(ParseBatchJson(std::string(R"({"batch_id":")") + kBatch +
                                 R"(","accepted_records":9007199254740993,"status":"RECEIVED"})",
                             &b, &err))
      << err;
  EXPECT_EQ(b.accepted_records, 9007199254740993LL);
  EXPECT_FALSE(ParseBatchJson("[]", &b, &err));
  EXPECT_FALSE(ParseBatchJson(R"({"batch_id":"nope","status":"RECEIVED"})", &b, &err));
  BatchInfo fresh;
  EXPECT_FALSE(ParseBatchJson(std::string(R"({"batch_id":")") + kBatch + R"("})", &fresh, &err));
  EXPECT_FALSE(ParseBatchJson("{", &b, &err));
  int64_t rows = 0;
  EXPECT_TRUE(ParseChunkJson(R"({"batch_id":"x","seq":0,"accepted_records":12})", &rows, &err));
  EXPECT_EQ(rows, 12);
  EXPECT_FALSE(ParseChunkJson(R"({"accepted_records":-1})", &rows, &err));
  EXPECT_FALSE(ParseChunkJson(R"({"accepted_records":"12"})", &rows, &err));
  EXPECT_FALSE(ParseChunkJson(R"({"accepted_records":1e3})", &rows, &err));
}

// Key rotation over PostgREST (docs/key_rotation.md): each call posts its JSON arguments to
// /rpc/rekey_*; SETOF text comes as an array of strings or of one-key objects.
TEST_F(HttpTransportTest, RekeyCallsPostTheirArgumentsAndReadTheReplies) {
  const std::string rid = "0812d48d-bab6-49d2-a5ec-77177acca612";
  state_->script.push_back(Reply(200, R"({"rotation_id":")" + rid +
                                          R"(","state":"mapping","pairs":0,"rows_done":0,)"
                                          R"("rows_total":12})"));
  state_->script.push_back(Reply(200, R"(["hAAA","hBBB"])"));
  state_->script.push_back(Reply(200, R"([{"rekey_tokens":"hCCC"}])"));
  state_->script.push_back(Reply(200, R"({"accepted":2,"pairs":2})"));
  state_->script.push_back(
      Reply(200, R"({"rows_done":12,"rows_total":12,"unmapped":0,"done":true,"state":"applied"})"));
  state_->script.push_back(Reply(200, R"({"rotation_id":")" + rid + R"(","state":"finished"})"));
  state_->script.push_back(
      Reply(200, R"({"client_id":"acme","domain":"email","key_version":2,"key_id":"4a374e35"})"));
  state_->script.push_back(Reply(200, R"(not json)"));
  auto t = Make();
  RekeyState st;
  TransportError err;
  ASSERT_TRUE(t->RekeyBegin("acme", "email", 1, 2, "4a374e35", &st, &err)) << err.message;
  EXPECT_EQ(st.rotation_id, rid);
  EXPECT_EQ(st.rows_total, 12);
  EXPECT_EQ(state_->requests[0].url, "https://sdp.example.org:8443/rpc/rekey_begin");
  EXPECT_EQ(state_->requests[0].body,
            R"({"client_id":"acme","domain":"email","from_version":1,"to_key_id":"4a374e35",)"
            R"("to_version":2})");
  std::vector<std::string> tokens;
  ASSERT_TRUE(t->RekeyTokens(rid, "", 10, &tokens, &err)) << err.message;
  EXPECT_EQ(tokens, (std::vector<std::string>{"hAAA", "hBBB"}));
  EXPECT_NE(state_->requests[1].body.find(R"("after":null)"), std::string::npos);
  ASSERT_TRUE(t->RekeyTokens(rid, "hBBB", 10, &tokens, &err)) << err.message;
  EXPECT_EQ(tokens, std::vector<std::string>{"hCCC"});
  EXPECT_NE(state_->requests[2].body.find(R"("after":"hBBB")"), std::string::npos);
  ASSERT_TRUE(t->RekeyPairs(rid, "old_token,new_token\nhAAA,h2XXX\n", &st, &err)) << err.message;
  EXPECT_EQ(st.accepted, 2);
  EXPECT_EQ(state_->requests[3].url, "https://sdp.example.org:8443/rpc/rekey_pairs");
  ASSERT_TRUE(t->RekeyApply(rid, 500, &st, &err)) << err.message;
  EXPECT_TRUE(st.done);
  EXPECT_EQ(st.rows_done, 12);
  ASSERT_TRUE(t->RekeyFinish(rid, &st, &err)) << err.message;
  EXPECT_EQ(st.state, "finished");
  ASSERT_TRUE(t->RekeyStatus("acme", "email", &st, &err)) << err.message;
  EXPECT_EQ(st.current_version, 2);
  EXPECT_EQ(st.key_id, "4a374e35");
  EXPECT_FALSE(t->RekeyApply(rid, 500, &st, &err));  // "not json"
  EXPECT_EQ(err.kind, TransportError::Kind::kFatal);
  // A rotation id that is not a UUID never reaches the network.
  const size_t sent = state_->requests.size();
  EXPECT_FALSE(t->RekeyApply("../health", 1, &st, &err));
  EXPECT_FALSE(t->RekeyTokens("x", "", 1, &tokens, &err));
  EXPECT_EQ(state_->requests.size(), sent);
}

TEST(ParseRekeyJsonTest, HostileRepliesAreRefusedOrBounded) {
  RekeyState st;
  std::string why;
  EXPECT_FALSE(ParseRekeyJson("", &st, &why));
  EXPECT_FALSE(ParseRekeyJson("[1]", &st, &why));
  EXPECT_FALSE(ParseRekeyJson(R"({"rotation_id":"../x"})", &st, &why));
  ASSERT_TRUE(
      ParseRekeyJson(R"({"state":"a\u001b[31mb","pairs":"7","key_version":99999})", &st, &why));
  EXPECT_EQ(st.state.find('\x1b'), std::string::npos);
  EXPECT_EQ(st.pairs, 0);            // not an integer: ignored
  EXPECT_EQ(st.current_version, 0);  // out of range: ignored
}

}  // namespace
}  // namespace sdp
