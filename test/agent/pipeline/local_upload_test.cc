// The dashboard's local upload (local_upload.h): every check an attacking web page would meet,
// performed as that page would, and the state machine of a job with a fake server.
#include "agent/pipeline/local_upload.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test/support/test_util.h"

namespace sdp {
namespace {

using nlohmann::json;

constexpr const char* kOrigin = "https://dash.example";
constexpr const char* kKey = "page-key-0123456789";
constexpr int kPort = 8001;

const char kConfig[] = R"(version: 1
source_table: customers
key_column: customer_id
columns:
  customer_id: { token_type: HASH }
  email: { token_type: HASH, normalize: lowercase_trim }
)";

// Records what reaches the "server"; fails a chunk on request.
class FakeServer : public ServerTransport {
 public:
  bool OpenBatch(const std::string& client_id, const std::string& type, const std::string&,
                 const std::string&, const std::string& sent_manifest, BatchInfo* out,
                 TransportError*) override {
    ++opened;
    client = client_id;
    processing_type = type;
    manifest = sent_manifest;
    out->batch_id = "00000000-0000-4000-8000-0000000000aa";
    out->status = "UPLOADING";
    return true;
  }
  bool AppendChunk(const std::string&, int, std::string_view chunk, const std::string&,
                   int64_t* rows_so_far, TransportError* err) override {
    if (fail_chunks) {
      err->kind = TransportError::Kind::kRejected;
      err->code = "PT422";
      err->message = "refused by the firewall";
      return false;
    }
    data += chunk;
    *rows_so_far = 0;
    return true;
  }
  bool SealBatch(const std::string& batch_id, int, const std::string&, BatchInfo* out,
                 TransportError*) override {
    out->batch_id = batch_id;
    out->status = "RECEIVED";
    out->accepted_records = 2;
    return true;
  }
  bool AbortBatch(const std::string&, const std::string&, BatchInfo* out,
                  TransportError*) override {
    ++aborted;
    out->status = "FAILED";
    return true;
  }
  bool ProcessBatch(const std::string&, bool, BatchInfo*, TransportError*) override {
    return false;
  }
  bool GetBatch(const std::string&, BatchInfo*, TransportError*) override { return false; }
  bool FetchResultsCsv(const std::string&, std::string*, TransportError*) override { return false; }
  const char* name() const override { return "fake"; }

  int opened = 0, aborted = 0;
  bool fail_chunks = false;
  std::string client, processing_type, manifest, data;
};

class LocalUploadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    LocalUploadOptions o;
    ASSERT_TRUE(ParseTokenizationConfig(kConfig, "c.yml", &o.config, &err)) << err;
    o.vault_path = dir_.File("vault.db");
    o.work_dir = dir_.File("work");
    ASSERT_EQ(::mkdir(o.work_dir.c_str(), 0700), 0);
    o.allowed_origin = kOrigin;
    o.client_id = "bank_demo";
    o.processing_type = "risk_scoring";
    o.max_body_bytes = 1000;
    options_ = o;
    keys_ = testing::Keys();
    ASSERT_TRUE(service_.Init(o, keys_, Secret(kKey), Factory(), &err)) << err;
    service_.SetPort(kPort);
  }

  static SecretBuffer Secret(const std::string& s) {
    return SecretBuffer(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }

  TransportFactory Factory() {
    return [this](std::unique_ptr<ServerTransport>* t, std::string*) {
      auto fake = std::make_unique<FakeServer>();
      fake->fail_chunks = fail_chunks_;
      *t = std::move(fake);
      return true;
    };
  }

  // A request of the dashboard's page: right Host, Origin and key.
  static UploadRequestHead Page(const std::string& method, const std::string& path) {
    UploadRequestHead h;
    h.method = method;
    h.path = path;
    h.has_host = true;
    h.host = "127.0.0.1:" + std::to_string(kPort);
    h.has_origin = true;
    h.origin = kOrigin;
    h.has_api_key = true;
    h.api_key = kKey;
    return h;
  }

  // Checks the head, writes the body, starts the job; the answer of the POST.
  UploadAnswer Post(UploadRequestHead h, const std::string& body) {
    h.has_content_length = true;
    h.content_length = body.size();
    UploadAnswer a;
    if (!service_.CheckRequest(h, &a)) return a;
    std::string path, err;
    int fd = -1;
    EXPECT_TRUE(service_.NewBodyFile(&path, &fd, &err)) << err;
    EXPECT_EQ(::write(fd, body.data(), body.size()), static_cast<ssize_t>(body.size()));
    ::close(fd);
    return service_.Start(h, path, body.size(), "", true);
  }

  json Progress(const std::string& id) {
    UploadRequestHead h = Page("GET", "/upload/" + id);
    UploadAnswer a;
    EXPECT_TRUE(service_.CheckRequest(h, &a)) << a.body;
    return json::parse(service_.Get(h).body);
  }

  std::vector<std::string> WorkFiles() {
    std::vector<std::string> names;
    DIR* d = ::opendir(options_.work_dir.c_str());
    while (dirent* e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(d);
    return names;
  }

  static std::string Header(const UploadAnswer& a, const std::string& name) {
    for (const auto& [n, v] : a.headers)
      if (n == name) return v;
    return "";
  }

  testing::ScopedTempDir dir_;
  LocalUploadOptions options_;
  KeyRing keys_;
  LocalUploadService service_;
  bool fail_chunks_ = false;
};

TEST_F(LocalUploadTest, ThePagesOwnRequestsPass) {
  UploadAnswer a;
  EXPECT_TRUE(service_.CheckRequest(Page("GET", "/upload"), &a));
  UploadRequestHead post = Page("POST", "/upload");
  post.has_content_length = true;
  post.content_length = 10;
  EXPECT_TRUE(service_.CheckRequest(post, &a));
  // localhost is this agent too; curl sends no Origin and passes with the key.
  UploadRequestHead local = Page("GET", "/upload/x");
  local.host = "LOCALHOST:8001";
  local.has_origin = false;
  EXPECT_TRUE(service_.CheckRequest(local, &a));
  // The probe needs no key and shows the page it may read it.
  UploadRequestHead probe = Page("GET", "/upload");
  probe.has_api_key = false;
  EXPECT_TRUE(service_.CheckRequest(probe, &a));
  const UploadAnswer got = service_.Get(probe);
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(Header(got, "Access-Control-Allow-Origin"), kOrigin);
}

TEST_F(LocalUploadTest, PreflightIsAnsweredForTheDashboardOnly) {
  UploadRequestHead h = Page("OPTIONS", "/upload");
  h.has_api_key = false;  // a preflight never carries the key
  h.request_method = "POST";
  h.request_headers = "content-type, x-api-key,X-Processing-Type";
  h.request_private_network = true;
  UploadAnswer a;
  EXPECT_FALSE(service_.CheckRequest(h, &a));
  EXPECT_EQ(a.status, 204);
  EXPECT_EQ(Header(a, "Access-Control-Allow-Origin"), kOrigin);
  EXPECT_EQ(Header(a, "Access-Control-Allow-Methods"), "GET, POST");
  EXPECT_EQ(Header(a, "Access-Control-Allow-Private-Network"), "true");

  // The attacker's page: same preflight from its own origin, a look-alike, a null origin.
  for (const char* evil : {"https://evil.example", "https://dash.example.evil.example",
                           "http://dash.example", "https://dash.example:444", "null", ""}) {
    UploadRequestHead e = h;
    e.origin = evil;
    UploadAnswer r;
    EXPECT_FALSE(service_.CheckRequest(e, &r));
    EXPECT_EQ(r.status, 403) << evil;
    EXPECT_EQ(Header(r, "Access-Control-Allow-Origin"), "") << evil;
  }
  // The dashboard's origin asking for a method or header the page never uses.
  UploadRequestHead put = h;
  put.request_method = "PUT";
  UploadAnswer r;
  EXPECT_FALSE(service_.CheckRequest(put, &r));
  EXPECT_EQ(r.status, 403);
  UploadRequestHead cookie = h;
  cookie.request_headers = "x-api-key, authorization";
  EXPECT_FALSE(service_.CheckRequest(cookie, &r));
  EXPECT_EQ(r.status, 403);
  UploadRequestHead no_origin = h;
  no_origin.has_origin = false;
  EXPECT_FALSE(service_.CheckRequest(no_origin, &r));
  EXPECT_EQ(r.status, 403);
}

TEST_F(LocalUploadTest, AForeignOriginIsRefusedEvenWithTheKey) {
  for (const char* path : {"/upload", "/upload/abc"}) {
    for (const char* method : {"GET", "POST"}) {
      UploadRequestHead h = Page(method, path);
      h.origin = "https://evil.example";
      h.has_content_length = true;
      h.content_length = 5;
      UploadAnswer a;
      EXPECT_FALSE(service_.CheckRequest(h, &a)) << method << path;
      EXPECT_EQ(a.status, 403);
      EXPECT_EQ(Header(a, "Access-Control-Allow-Origin"), "");
    }
  }
}

TEST_F(LocalUploadTest, ARebindingHostIsRefused) {
  // DNS rebinding: evil.example now resolves to 127.0.0.1, and the page is same-origin with it.
  for (const char* host : {"evil.example:8001", "127.0.0.1:8002", "127.0.0.1", "localhost",
                           "127.0.0.1.evil.example:8001", "[::1]:8001", "0.0.0.0:8001", ""}) {
    UploadRequestHead h = Page("POST", "/upload");
    h.host = host;
    h.has_origin = false;
    h.has_content_length = true;
    h.content_length = 5;
    UploadAnswer a;
    EXPECT_FALSE(service_.CheckRequest(h, &a)) << host;
    EXPECT_EQ(a.status, 403) << host;
  }
  UploadRequestHead none = Page("GET", "/upload");
  none.has_host = false;
  UploadAnswer a;
  EXPECT_FALSE(service_.CheckRequest(none, &a));
  EXPECT_EQ(a.status, 403);
}

TEST_F(LocalUploadTest, TheKeyIsRequiredAndNeverEchoed) {
  UploadRequestHead missing = Page("POST", "/upload");
  missing.has_api_key = false;
  missing.has_content_length = true;
  UploadAnswer a;
  EXPECT_FALSE(service_.CheckRequest(missing, &a));
  EXPECT_EQ(a.status, 401);
  // The page may read the refusal (its origin) and tell the user the key is wrong.
  EXPECT_EQ(Header(a, "Access-Control-Allow-Origin"), kOrigin);
  for (const char* wrong :
       {"page-key-012345678", "page-key-0123456789 ", "", "PAGE-KEY-0123456789"}) {
    UploadRequestHead h = Page("GET", "/upload/abc");
    h.api_key = wrong;
    EXPECT_FALSE(service_.CheckRequest(h, &a)) << wrong;
    EXPECT_EQ(a.status, 401);
    if (*wrong) {
      EXPECT_EQ(a.body.find(wrong), std::string::npos);
    }
  }
}

TEST_F(LocalUploadTest, SizeLimitAndLengthAreCheckedBeforeTheBody) {
  UploadRequestHead h = Page("POST", "/upload");
  UploadAnswer a;
  EXPECT_FALSE(service_.CheckRequest(h, &a));  // no Content-Length
  EXPECT_EQ(a.status, 411);
  h.has_content_length = true;
  h.content_length = 1001;
  EXPECT_FALSE(service_.CheckRequest(h, &a));
  EXPECT_EQ(a.status, 413);
  h.content_length = 1000;
  EXPECT_TRUE(service_.CheckRequest(h, &a));
  // A body that turned out longer than announced (the HTTP layer stops reading): refused, and
  // the partial file is gone.
  std::string path, err;
  int fd = -1;
  ASSERT_TRUE(service_.NewBodyFile(&path, &fd, &err));
  ::close(fd);
  EXPECT_EQ(service_.Start(h, path, 1001, "", false).status, 413);
  EXPECT_TRUE(WorkFiles().empty());
  // Other methods and paths.
  EXPECT_FALSE(service_.CheckRequest(Page("DELETE", "/upload/x"), &a));
  EXPECT_EQ(a.status, 405);
}

TEST_F(LocalUploadTest, AnUploadTokenizesThenUploadsAndLeavesNoFile) {
  const std::string raw = "customer_id,email,age\nC-1,ann@example.com,34\nC-2,bob@example.com,51\n";
  const UploadAnswer a = Post(Page("POST", "/upload"), raw);
  ASSERT_EQ(a.status, 202) << a.body;
  EXPECT_EQ(Header(a, "Access-Control-Allow-Origin"), kOrigin);
  const std::string id = json::parse(a.body)["upload_id"];
  EXPECT_EQ(id.size(), 32u);
  service_.WaitIdle();
  const json p = Progress(id);
  EXPECT_EQ(p["state"], "uploaded") << p.dump();
  EXPECT_EQ(p["rows_tokenized"], 2);
  EXPECT_EQ(p["batch_id"], "00000000-0000-4000-8000-0000000000aa");
  EXPECT_EQ(p["records"], 2);
  EXPECT_GT(p["bytes_uploaded"].get<int>(), 0);
  EXPECT_EQ(p["bytes_uploaded"], p["bytes_total"]);
  EXPECT_TRUE(p["error"].is_null());
  EXPECT_TRUE(WorkFiles().empty());
  // The key is nowhere in the answers.
  EXPECT_EQ(a.body.find(kKey), std::string::npos);
  EXPECT_EQ(p.dump().find(kKey), std::string::npos);
}

// What the fake server received, kept after the job's transport is gone.
class RecordingUploadTest : public LocalUploadTest {
 protected:
  void SetUp() override {
    LocalUploadTest::SetUp();
    std::string err;
    ASSERT_TRUE(recording_.Init(
        options_, keys_, Secret(kKey),
        [this](std::unique_ptr<ServerTransport>* t, std::string*) {
          ++transports_;
          auto fake = std::make_unique<Recorder>(this);
          fake->fail_chunks = fail_chunks_;
          *t = std::move(fake);
          return true;
        },
        &err))
        << err;
    recording_.SetPort(kPort);
  }
  struct Recorder : FakeServer {
    explicit Recorder(RecordingUploadTest* t) : test(t) {}
    ~Recorder() override {
      test->opened_ += opened;
      test->aborted_ += aborted;
      test->data_ += data;
      test->manifest_ = manifest;
      test->client_ = client;
    }
    RecordingUploadTest* test;
  };
  std::string Run(const std::string& raw) {
    UploadRequestHead h = Page("POST", "/upload");
    h.has_content_length = true;
    h.content_length = raw.size();
    std::string path, err;
    int fd = -1;
    EXPECT_TRUE(recording_.NewBodyFile(&path, &fd, &err));
    EXPECT_EQ(::write(fd, raw.data(), raw.size()), static_cast<ssize_t>(raw.size()));
    ::close(fd);
    const UploadAnswer a = recording_.Start(h, path, raw.size(), "fraud_check", true);
    EXPECT_EQ(a.status, 202) << a.body;
    recording_.WaitIdle();
    const std::string id = json::parse(a.body)["upload_id"];
    UploadRequestHead g = Page("GET", "/upload/" + id);
    return recording_.Get(g).body;
  }
  LocalUploadService recording_;
  int transports_ = 0, opened_ = 0, aborted_ = 0;
  std::string data_, manifest_, client_;
};

TEST_F(RecordingUploadTest, OnlyTokensReachTheServer) {
  const json p = json::parse(Run("customer_id,email,age\nC-1,ann@example.com,34\n"));
  EXPECT_EQ(p["state"], "uploaded");
  EXPECT_EQ(p["processing_type"], "fraud_check");
  EXPECT_EQ(opened_, 1);
  EXPECT_EQ(client_, "bank_demo");
  EXPECT_EQ(data_.find("ann@example.com"), std::string::npos) << data_;
  EXPECT_EQ(data_.find("C-1"), std::string::npos);
  EXPECT_NE(data_.find(",34"), std::string::npos);  // not configured: travels as it is
  EXPECT_NE(manifest_.find("email"), std::string::npos);
}

TEST_F(RecordingUploadTest, AMalformedCsvFailsWithItsLineAndUploadsNothing) {
  const json p = json::parse(Run("customer_id,email,age\nC-1,ann@example.com,34\nC-2,\"x,1\n"));
  EXPECT_EQ(p["state"], "failed");
  const std::string e = p["error"];
  EXPECT_EQ(e.rfind("line 3: ", 0), 0u) << e;
  EXPECT_EQ(e.find(options_.work_dir), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos);
  EXPECT_EQ(transports_, 0);  // no connection to the server at all
  EXPECT_EQ(opened_, 0);
  EXPECT_TRUE(p["batch_id"].is_null());
  EXPECT_TRUE(WorkFiles().empty());

  // A CSV without a configured column: the cause, naming the uploaded CSV, not a file name.
  const json c = json::parse(Run("customer_id,age\nC-1,34\n"));
  EXPECT_EQ(c["state"], "failed");
  EXPECT_NE(c["error"].get<std::string>().find("column 'email' is not in the CSV header"),
            std::string::npos)
      << c.dump();
  EXPECT_EQ(c["error"].get<std::string>().find(options_.work_dir), std::string::npos);

  const json q = json::parse(Run("customer_id,email,age\nC-1,ann@example.com\n"));
  EXPECT_EQ(q["state"], "failed");
  EXPECT_EQ(q["error"].get<std::string>().rfind("line 2: ", 0), 0u) << q.dump();
  EXPECT_EQ(opened_, 0);
}

TEST_F(RecordingUploadTest, AServerRefusalFailsTheJobAndAbortsTheBatch) {
  fail_chunks_ = true;
  const json p = json::parse(Run("customer_id,email,age\nC-1,ann@example.com,34\n"));
  EXPECT_EQ(p["state"], "failed");
  EXPECT_NE(p["error"].get<std::string>().find("PT422"), std::string::npos) << p.dump();
  EXPECT_EQ(aborted_, 1);  // no half batch left UPLOADING on the server
  EXPECT_EQ(p["error"].get<std::string>().find(options_.work_dir), std::string::npos);
  EXPECT_NE(p["error"].get<std::string>().find("upload of the tokenized file failed"),
            std::string::npos)
      << p.dump();
  EXPECT_TRUE(WorkFiles().empty());
}

TEST_F(LocalUploadTest, UnknownIdsAndBadProcessingTypes) {
  const json p = Progress("00112233445566778899aabbccddeeff");
  EXPECT_EQ(p["status"], 404);
  UploadRequestHead h = Page("POST", "/upload");
  h.has_content_length = true;
  h.content_length = 3;
  std::string path, err;
  int fd = -1;
  ASSERT_TRUE(service_.NewBodyFile(&path, &fd, &err));
  ::close(fd);
  EXPECT_EQ(service_.Start(h, path, 3, "x'; DROP", true).status, 400);
  EXPECT_TRUE(WorkFiles().empty());
}

TEST(LocalUploadInit, RefusesAWildcardOrPathOriginAndAnEmptyKey) {
  testing::ScopedTempDir dir;
  KeyRing keys = testing::Keys();
  std::string err;
  LocalUploadOptions o;
  o.work_dir = dir.path();
  const auto factory = [](std::unique_ptr<ServerTransport>*, std::string*) { return false; };
  const std::string key = "k";
  const SecretBuffer secret(reinterpret_cast<const uint8_t*>(key.data()), key.size());
  for (const char* bad : {"*", "null", "https://dash.example/", "https://dash.example/app",
                          "dash.example", "https://", "https://a.example, https://b.example"}) {
    LocalUploadService s;
    o.allowed_origin = bad;
    EXPECT_FALSE(s.Init(o, keys, secret, factory, &err)) << bad;
  }
  LocalUploadService s;
  o.allowed_origin = "http://127.0.0.1:5173";
  EXPECT_TRUE(s.Init(o, keys, secret, factory, &err)) << err;
  LocalUploadService no_key;
  EXPECT_FALSE(no_key.Init(o, keys, SecretBuffer(), factory, &err));
}

}  // namespace
}  // namespace sdp
