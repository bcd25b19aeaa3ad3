// The libpq transport against hostile or misconfigured servers: the URL policy (a remote server
// only over verified TLS), secrets redacted from URLs in messages, a fake PostgreSQL server on
// loopback that says it has no TLS ('N') and records every byte (the API key is never in the
// startup packet), server text cleaned and bounded, a COPY reply that does not end capped, and a
// reply of the wrong shape refused.
#include "agent/transport/pg_transport.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "test/support/loopback.h"

namespace sdp {
namespace {

constexpr const char* kKey = "sdp_PGTESTKEY_0123456789abcdefghijkl";
constexpr const char* kBatch = "0b9c3a62-7d0e-4f43-9a55-1f2e3d4c5b6a";

// libpq reads these; the policy must see what the URL says, not the test runner's settings.
class PgEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : kVars) {
      const char* v = std::getenv(name);
      saved_.push_back(v ? std::make_pair(true, std::string(v)) : std::make_pair(false, ""));
      unsetenv(name);
    }
  }
  void TearDown() override {
    for (size_t i = 0; i < std::size(kVars); ++i) {
      if (saved_[i].first) {
        setenv(kVars[i], saved_[i].second.c_str(), 1);
      } else {
        unsetenv(kVars[i]);
      }
    }
  }
  static constexpr const char* kVars[] = {"PGHOST",        "PGHOSTADDR", "PGSSLMODE",
                                          "PGSSLROOTCERT", "PGSERVICE",  "PGCONNECT_TIMEOUT"};
  std::vector<std::pair<bool, std::string>> saved_;
};

bool Plan(const std::string& url, const std::string& ca, PgConnectionPlan* plan, std::string* err) {
  TransportOptions o;
  o.url = url;
  o.ca_bundle = ca;
  err->clear();
  return PlanPgConnection(o, plan, err);
}

std::string Override(const PgConnectionPlan& plan, const std::string& keyword) {
  for (const auto& [k, v] : plan.overrides) {
    if (k == keyword) return v;
  }
  return "";
}

TEST_F(PgEnvTest, LoopbackAndUnixSocketsNeedNoTls) {
  PgConnectionPlan plan;
  std::string err;
  for (const char* url :
       {"postgresql://postgres@127.0.0.1:5432/sdp", "postgresql://u@localhost/sdp",
        "postgresql://u@[::1]:5432/sdp", "postgresql:///sdp?host=/var/run/postgresql",
        "postgresql://%2Fvar%2Frun%2Fpostgresql/sdp", "postgresql:///sdp",
        "postgresql://127.0.0.1,localhost/sdp",
        "postgresql://db.example.org/sdp?hostaddr=127.0.0.1"}) {
    EXPECT_TRUE(Plan(url, "", &plan, &err)) << url << ": " << err;
    EXPECT_TRUE(plan.loopback_only) << url;
    EXPECT_EQ(Override(plan, "sslmode"), "") << url;
    EXPECT_EQ(Override(plan, "connect_timeout"), "10") << url;
  }
}

// The attack: a URL to a remote host with libpq's default sslmode=prefer connects in plain text
// to anyone who answers 'N' to the SSL request. Every weaker-than-verify-full form is refused.
TEST_F(PgEnvTest, RemoteServerWithoutVerifiedTlsIsRefused) {
  PgConnectionPlan plan;
  std::string err;
  for (const char* url :
       {"postgresql://u@db.example.org:5432/sdp", "postgresql://u@10.0.0.5/sdp",
        "postgresql://u@db.example.org/sdp?sslmode=prefer",
        "postgresql://u@db.example.org/sdp?sslmode=disable",
        "postgresql://u@db.example.org/sdp?sslmode=allow",
        "postgresql://u@db.example.org/sdp?sslmode=require",
        "postgresql://u@db.example.org/sdp?sslmode=verify-ca",
        "postgresql://127.0.0.1,db.example.org/sdp",      // one remote host among loopback ones
        "postgresql://localhost/sdp?hostaddr=192.0.2.7",  // hostaddr is where libpq connects
        "postgresql://u@[2001:db8::1]/sdp"}) {
    EXPECT_FALSE(Plan(url, "/etc/ssl/ca.pem", &plan, &err)) << url;
    EXPECT_EQ(err.rfind("refusing postgresql:// to ", 0), 0u) << err;
    EXPECT_NE(err.find("; fix: add sslmode=verify-full"), std::string::npos) << err;
    EXPECT_EQ(err.find('\n'), std::string::npos);
  }
  // verify-full without any CA to verify against.
  EXPECT_FALSE(Plan("postgresql://u@db.example.org/sdp?sslmode=verify-full", "", &plan, &err));
  EXPECT_NE(err.find("without a CA"), std::string::npos) << err;
  EXPECT_NE(err.find("fix: set SDP_CA_BUNDLE"), std::string::npos) << err;
}

TEST_F(PgEnvTest, EnvironmentCountsLikeTheUrl) {
  PgConnectionPlan plan;
  std::string err;
  setenv("PGHOST", "db.example.org", 1);
  EXPECT_FALSE(Plan("postgresql:///sdp", "/etc/ssl/ca.pem", &plan, &err));
  setenv("PGSSLMODE", "verify-full", 1);
  EXPECT_TRUE(Plan("postgresql:///sdp", "/etc/ssl/ca.pem", &plan, &err)) << err;
  // The URL's own sslmode wins over the environment's, as in libpq.
  EXPECT_FALSE(Plan("postgresql:///sdp?sslmode=require", "/etc/ssl/ca.pem", &plan, &err));
  setenv("PGSSLROOTCERT", "/etc/ssl/other.pem", 1);
  EXPECT_TRUE(Plan("postgresql:///sdp", "", &plan, &err)) << err;
  EXPECT_EQ(Override(plan, "sslrootcert"), "");  // libpq takes PGSSLROOTCERT itself
}

TEST_F(PgEnvTest, VerifiedTlsToARemoteServerIsForcedAndUsesTheBundle) {
  PgConnectionPlan plan;
  std::string err;
  ASSERT_TRUE(
      Plan("postgresql://u@db.example.org/sdp?sslmode=verify-full", "/etc/ssl/ca.pem", &plan, &err))
      << err;
  EXPECT_FALSE(plan.loopback_only);
  EXPECT_EQ(Override(plan, "sslmode"), "verify-full");  // PGSSLMODE cannot weaken it
  EXPECT_EQ(Override(plan, "sslrootcert"), "/etc/ssl/ca.pem");
  ASSERT_TRUE(Plan("postgresql://u@db.example.org/sdp?sslmode=verify-full&sslrootcert=/ca.pem", "",
                   &plan, &err))
      << err;
  EXPECT_EQ(Override(plan, "sslrootcert"), "");  // the URL's own
  ASSERT_TRUE(Plan("postgresql://u@db.example.org/sdp?sslmode=verify-full&connect_timeout=3",
                   "/ca.pem", &plan, &err));
  EXPECT_EQ(Override(plan, "connect_timeout"), "");
  // TLS asked for on loopback: optional there, but the bundle is its CA too.
  ASSERT_TRUE(Plan("postgresql://u@127.0.0.1/sdp?sslmode=verify-full", "/ca.pem", &plan, &err));
  EXPECT_TRUE(plan.loopback_only);
  EXPECT_EQ(Override(plan, "sslrootcert"), "/ca.pem");
}

TEST_F(PgEnvTest, RefusalsAndParseErrorsNeverShowThePassword) {
  std::unique_ptr<ServerTransport> t;
  std::string err;
  for (const char* url : {"postgresql://u:hunter2secret@db.example.org/sdp",
                          "postgresql://u@db.example.org/sdp?password=hunter2secret",
                          "postgresql://u@db.example.org/sdp?pass%77ord=hunter2secret",
                          "postgresql://u:hunter2secret@db.example.org/sdp?x=1 2",
                          "postgresql://u:hunter2secret@db.example.org/sdp?nosuchparam=1"}) {
    TransportOptions o;
    o.url = url;
    err.clear();
    EXPECT_FALSE(MakeTransport(o, &t, &err)) << url;
    EXPECT_FALSE(err.empty());
    EXPECT_EQ(err.find("hunter2secret"), std::string::npos) << err;
  }
}

TEST(RedactUrlTest, RedactsEverySecretParameter) {
  EXPECT_EQ(RedactUrl("postgresql://u:pw@h:5432/db"), "postgresql://u@h:5432/db");
  EXPECT_EQ(RedactUrl("postgresql://u:p@ss@h/db"), "postgresql://u@h/db");
  EXPECT_EQ(RedactUrl("postgresql://u@h/db?sslmode=verify-full&password=pw&application_name=a"),
            "postgresql://u@h/db?sslmode=verify-full&password=[redacted]&application_name=a");
  EXPECT_EQ(RedactUrl("postgresql://h/db?pass%77ord=pw"),
            "postgresql://h/db?pass%77ord=[redacted]");
  EXPECT_EQ(RedactUrl("postgresql://h/db?sslpassword=pw&options=-c%20sdp_agent.api_key%3Dk"),
            "postgresql://h/db?sslpassword=[redacted]&options=[redacted]");
  EXPECT_EQ(RedactUrl("postgres://h/db?PASSWORD=pw#frag"), "postgres://h/db?PASSWORD=[redacted]");
  EXPECT_EQ(RedactUrl("https://user:secret@sdp.example/x"), "https://sdp.example/x");
  EXPECT_EQ(RedactUrl("host=h password=pw").find("pw"), std::string::npos);
}

// ---- a fake PostgreSQL server on loopback ------------------------------------------------------

void PutInt32(std::string* out, uint32_t v) {
  const uint32_t n = htonl(v);
  out->append(reinterpret_cast<const char*>(&n), 4);
}

std::string Message(char type, const std::string& body) {
  std::string m(1, type);
  PutInt32(&m, static_cast<uint32_t>(body.size() + 4));
  return m + body;
}

std::string ErrorResponse(const std::string& sqlstate, const std::string& message) {
  std::string body;
  body += 'S';
  body += std::string("FATAL") + '\0';
  body += 'C';
  body += sqlstate + '\0';
  body += 'M';
  body += message + '\0';
  body += '\0';
  return Message('E', body);
}

// Accepts connections on 127.0.0.1, answers 'N' to SSLRequest and GSSENCRequest, records every
// byte it receives. After the startup packet it either refuses (an ErrorResponse) or accepts
// (AuthenticationOk, ReadyForQuery) and answers each Sync with `reply`.
class FakePgServer {
 public:
  FakePgServer(std::string startup_reply, std::string reply)
      : startup_reply_(std::move(startup_reply)), reply_(std::move(reply)) {
    listener_ = testing::ListenOnLoopback(&port_);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakePgServer() {
    stop_ = true;
    shutdown(listener_, SHUT_RDWR);
    close(listener_);
    thread_.join();
  }
  int port() const { return port_; }
  std::string received() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }
  int connections() const { return connections_; }

 private:
  bool ReadN(int fd, size_t n, std::string* out) {
    out->clear();
    char buf[4096];
    while (out->size() < n) {
      const ssize_t got = read(fd, buf, std::min(sizeof buf, n - out->size()));
      if (got <= 0) return false;
      out->append(buf, static_cast<size_t>(got));
    }
    std::lock_guard<std::mutex> lock(mu_);
    received_ += *out;
    return true;
  }
  static uint32_t Int32(const std::string& s, size_t at) {
    uint32_t v;
    std::memcpy(&v, s.data() + at, 4);
    return ntohl(v);
  }
  static void WriteAll(int fd, const std::string& s) {
    for (size_t done = 0; done < s.size();) {
      const ssize_t n = write(fd, s.data() + done, s.size() - done);
      if (n <= 0) return;
      done += static_cast<size_t>(n);
    }
  }

  void Serve() {
    while (!stop_) {
      const int fd = accept(listener_, nullptr, nullptr);
      if (fd < 0) return;
      ++connections_;
      Session(fd);
      close(fd);
    }
  }

  void Session(int fd) {
    std::string len, rest;
    for (;;) {  // SSLRequest / GSSENCRequest, then the startup packet
      if (!ReadN(fd, 4, &len) || Int32(len, 0) < 8 || Int32(len, 0) > 10000 ||
          !ReadN(fd, Int32(len, 0) - 4, &rest)) {
        return;
      }
      const uint32_t code = Int32(rest, 0);
      if (code == 80877103 || code == 80877104) {
        WriteAll(fd, "N");
        continue;
      }
      break;
    }
    WriteAll(fd, startup_reply_);  // after an ErrorResponse the client hangs up
    std::string type;
    while (ReadN(fd, 1, &type) && ReadN(fd, 4, &len) && Int32(len, 0) >= 4 &&
           ReadN(fd, Int32(len, 0) - 4, &rest)) {
      if (type[0] == 'X') return;
      if (type[0] == 'S' || type[0] == 'Q') WriteAll(fd, reply_);
    }
  }

  std::string startup_reply_, reply_;
  int listener_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::mutex mu_;
  std::string received_;
};

std::string AcceptStartup() {
  std::string auth_ok;
  PutInt32(&auth_ok, 0);
  return Message('R', auth_ok) + Message('Z', "I");
}

std::unique_ptr<ServerTransport> Connect(const FakePgServer& server, const std::string& key) {
  TransportOptions o;
  // sslmode=prefer on purpose: the fake says 'N' and the connection goes on in plain text.
  o.url = "postgresql://sdp_fake_role@127.0.0.1:" + std::to_string(server.port()) +
          "/sdp?sslmode=prefer&gssencmode=disable&application_name=sdp_fake_app";
  o.api_key = key;
  o.max_retries = 0;
  o.max_response_bytes = 100000;
  std::unique_ptr<ServerTransport> t;
  std::string err;
  EXPECT_TRUE(MakeTransport(o, &t, &err)) << err;
  return t;
}

// The attack of the issue: a server (or a man in the middle) answers 'N' to the SSL request and
// records the startup packet, which used to carry "-c sdp_agent.api_key=<key>" in plain text.
TEST_F(PgEnvTest, ApiKeyIsNeverInTheStartupPacket) {
  FakePgServer server(ErrorResponse("28000", "fake server: no"), "");
  auto t = Connect(server, kKey);
  ASSERT_NE(t, nullptr);
  BatchInfo b;
  TransportError err;
  EXPECT_FALSE(t->GetBatch(kBatch, &b, &err));
  const std::string got = server.received();
  // The recording holds the startup packet (else the next checks prove nothing)...
  ASSERT_NE(got.find("sdp_fake_role"), std::string::npos);
  ASSERT_NE(got.find("sdp_fake_app"), std::string::npos);
  // ...and neither the key nor the setting that carried it.
  EXPECT_EQ(got.find(kKey), std::string::npos);
  EXPECT_EQ(got.find("0123456789abcdefghijkl"), std::string::npos);
  EXPECT_EQ(got.find("sdp_agent.api_key"), std::string::npos);
  EXPECT_EQ(err.kind, TransportError::Kind::kRetryable);  // a refused login: 08001, as before
}

// Issue 16 item 11: the URL in "cannot connect to <url>" used to keep ?password=... as it was.
TEST_F(PgEnvTest, ConnectionErrorsRedactTheUrlsSecrets) {
  FakePgServer server(ErrorResponse("28P01", "password authentication failed"), "");
  TransportOptions o;
  o.url = "postgresql://bank:hunter2userinfo@127.0.0.1:" + std::to_string(server.port()) +
          "/sdp?gssencmode=disable&password=hunter2query&sslpassword=hunter2ssl";
  o.max_retries = 0;
  std::unique_ptr<ServerTransport> t;
  std::string make_err;
  ASSERT_TRUE(MakeTransport(o, &t, &make_err)) << make_err;
  BatchInfo b;
  TransportError err;
  EXPECT_FALSE(t->GetBatch(kBatch, &b, &err));
  const std::string line = DescribeTransportError("status failed", err);
  EXPECT_NE(line.find("cannot connect to postgresql://bank@127.0.0.1:"), std::string::npos) << line;
  EXPECT_NE(line.find("password=[redacted]&sslpassword=[redacted]"), std::string::npos) << line;
  EXPECT_EQ(line.find("hunter2"), std::string::npos) << line;
}

// A hostile server's text reaches stderr as one bounded, printable line.
TEST_F(PgEnvTest, ServerErrorTextIsOneBoundedLine) {
  const std::string hostile =
      "bad\nsdp-agent: forged line\r\x1b[31mred\x07" + std::string(5000, 'x');
  FakePgServer server(ErrorResponse("28P01", hostile), "");
  auto t = Connect(server, "");
  ASSERT_NE(t, nullptr);
  BatchInfo b;
  TransportError err;
  EXPECT_FALSE(t->GetBatch(kBatch, &b, &err));
  const std::string line = DescribeTransportError("status failed", err);
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  EXPECT_EQ(line.find('\r'), std::string::npos);
  EXPECT_EQ(line.find('\x1b'), std::string::npos);
  EXPECT_EQ(line.find('\x07'), std::string::npos);
  EXPECT_NE(line.find("forged line"), std::string::npos);  // kept, on the same line
  EXPECT_LT(line.size(), 1400u);
}

// A bidi override (U+202E) in a server's message, hint or SQLSTATE would make the terminal show
// the rest of the error line reversed, so a hostile server could make it read as something else.
// Every byte outside printable ASCII is shown as '?', as for a user's value.
TEST_F(PgEnvTest, ServerTextCannotReorderTheTerminal) {
  const std::string rlo = "\xE2\x80\xAE";
  FakePgServer server(ErrorResponse("28P01", "denied " + rlo + "gnp.exe"), "");
  auto t = Connect(server, "");
  ASSERT_NE(t, nullptr);
  BatchInfo b;
  TransportError err;
  EXPECT_FALSE(t->GetBatch(kBatch, &b, &err));
  const std::string line = DescribeTransportError("status failed", err);
  EXPECT_EQ(line.find(rlo), std::string::npos) << line;
  EXPECT_EQ(line.find('\xE2'), std::string::npos) << line;
  EXPECT_NE(line.find("denied ???gnp.exe"), std::string::npos) << line;
}

// libpq's default notice processor prints a server's notices to stderr as they come: a hostile
// server could forge agent lines or send terminal escapes before any query. They go to the debug
// log, cleaned, instead; with the default level nothing is printed.
TEST_F(PgEnvTest, ServerNoticesNeverReachStderrRaw) {
  std::string notice;
  notice += 'S';
  notice += std::string("WARNING") + '\0';
  notice += 'M';
  notice += std::string("\x1b]0;pwned\x07\nsdp-agent: error: forged") + '\0';
  notice += '\0';
  std::string auth_ok;
  PutInt32(&auth_ok, 0);
  // After AuthenticationOk, while libpq waits for ReadyForQuery, notices are delivered.
  FakePgServer server(Message('R', auth_ok) + Message('N', notice) + ErrorResponse("28000", "no"),
                      "");
  auto t = Connect(server, "");
  ASSERT_NE(t, nullptr);
  ::testing::internal::CaptureStderr();
  BatchInfo b;
  TransportError err;
  EXPECT_FALSE(t->GetBatch(kBatch, &b, &err));
  const std::string printed = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(printed.find("forged"), std::string::npos) << printed;
  EXPECT_EQ(printed.find('\x1b'), std::string::npos) << printed;
  ASSERT_GE(server.connections(), 1);
}

// A server that accepts the connection and then says nothing: the whole attempt is bounded by
// connect_timeout (libpq's own wait loop did that; the agent drives the attempt itself now).
TEST_F(PgEnvTest, SilentServerTimesOut) {
  FakePgServer server("", "");
  TransportOptions o;
  o.url = "postgresql://u@127.0.0.1:" + std::to_string(server.port()) +
          "/sdp?gssencmode=disable&connect_timeout=2";
  o.max_retries = 0;
  std::unique_ptr<ServerTransport> t;
  std::string make_err;
  ASSERT_TRUE(MakeTransport(o, &t, &make_err)) << make_err;
  const auto start = std::chrono::steady_clock::now();
  BatchInfo b;
  TransportError err;
  EXPECT_FALSE(t->GetBatch(kBatch, &b, &err));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 6.0);
  EXPECT_EQ(err.kind, TransportError::Kind::kRetryable);
  EXPECT_NE(err.message.find("cannot connect to"), std::string::npos) << err.message;
}

// COPY TO STDOUT from a server that never stops: the results are capped, nothing is kept.
TEST_F(PgEnvTest, EndlessCopyIsCapped) {
  std::string copy_out = Message('1', "") + Message('2', "") + Message('n', "");
  std::string header;
  header += '\0';
  header += std::string("\0\0", 2);
  copy_out += Message('H', header);
  const std::string row = "k,0.5,low,m\n" + std::string(64 * 1024, 'z');
  for (int i = 0; i < 40; ++i) copy_out += Message('d', row);  // 2.6 MB > the 100 kB cap
  copy_out += Message('c', "") + Message('C', std::string("COPY 40") + '\0') + Message('Z', "I");
  FakePgServer server(AcceptStartup(), copy_out);
  auto t = Connect(server, "");
  ASSERT_NE(t, nullptr);
  std::string csv = "stale";
  TransportError err;
  EXPECT_FALSE(t->FetchResultsCsv(kBatch, &csv, &err));
  EXPECT_EQ(err.kind, TransportError::Kind::kFatal);
  EXPECT_NE(err.message.find("results larger than 100000 bytes"), std::string::npos) << err.message;
  EXPECT_TRUE(csv.empty());
}

// A COPY where a SELECT was sent: the connection is dropped, nothing is read as a reply.
TEST_F(PgEnvTest, UnaskedCopyIsRefused) {
  std::string header;
  header += '\0';
  header += std::string("\0\0", 2);
  const std::string reply = Message('1', "") + Message('2', "") + Message('n', "") +
                            Message('H', header) + Message('d', "x\n") + Message('c', "") +
                            Message('C', std::string("COPY 1") + '\0') + Message('Z', "I");
  FakePgServer server(AcceptStartup(), reply);
  auto t = Connect(server, "");
  ASSERT_NE(t, nullptr);
  BatchInfo b;
  TransportError err;
  EXPECT_FALSE(t->GetBatch(kBatch, &b, &err));
  EXPECT_EQ(err.kind, TransportError::Kind::kFatal);
  EXPECT_EQ(err.message, "unexpected COPY reply");
}

// A reply with fewer columns than asked for used to be read past its end (PQgetvalue returns
// NULL there): refused before any value is read.
TEST_F(PgEnvTest, ReplyOfTheWrongShapeIsRefused) {
  std::string row_desc;
  row_desc += std::string("\0\1", 2);  // 1 column
  row_desc += std::string("x") + '\0';
  PutInt32(&row_desc, 0);
  row_desc += std::string("\0\0", 2);
  PutInt32(&row_desc, 25);
  row_desc += std::string("\xff\xff", 2);
  PutInt32(&row_desc, 0xffffffff);
  row_desc += std::string("\0\0", 2);
  std::string data_row = std::string("\0\1", 2);
  PutInt32(&data_row, 1);
  data_row += "1";
  const std::string reply = Message('1', "") + Message('2', "") + Message('T', row_desc) +
                            Message('D', data_row) + Message('C', std::string("SELECT 1") + '\0') +
                            Message('Z', "I");
  FakePgServer server(AcceptStartup(), reply);
  auto t = Connect(server, "");
  ASSERT_NE(t, nullptr);
  BatchInfo b;
  TransportError err;
  EXPECT_FALSE(t->GetBatch(kBatch, &b, &err));
  EXPECT_EQ(err.kind, TransportError::Kind::kFatal);
  EXPECT_NE(err.message.find("1 rows of 1 columns, expected 1 row of 8"), std::string::npos)
      << err.message;
}

// One row of one text column holding `value`: a reply AppendChunk accepts.
std::string OneValueReply(const std::string& value) {
  std::string row_desc;
  row_desc += std::string("\0\1", 2);
  row_desc += std::string("x") + '\0';
  PutInt32(&row_desc, 0);
  row_desc += std::string("\0\0", 2);
  PutInt32(&row_desc, 25);
  row_desc += std::string("\xff\xff", 2);
  PutInt32(&row_desc, 0xffffffff);
  row_desc += std::string("\0\0", 2);
  std::string data_row = std::string("\0\1", 2);
  PutInt32(&data_row, static_cast<uint32_t>(value.size()));
  data_row += value;
  return Message('1', "") + Message('2', "") + Message('T', row_desc) + Message('D', data_row) +
         Message('C', std::string("SELECT 1") + '\0') + Message('Z', "I");
}

// The chunk goes out as a binary-format parameter straight from the caller's memory (no
// NUL-terminated copy): exactly its bytes, with its length, even when the view is the middle
// of a larger buffer (nothing before or after it may leak onto the wire), and the other
// parameters stay in text format (the server parses $1::uuid from text).
TEST_F(PgEnvTest, AppendChunkSendsExactlyTheChunkAsABinaryParameter) {
  FakePgServer server(AcceptStartup(), OneValueReply("7"));
  auto t = Connect(server, "");
  ASSERT_NE(t, nullptr);
  const std::string buffer = "BEFORE|customer_id,v\nc1,\xc3\xa9t\xc3\xa9\n|AFTER";
  const std::string_view chunk = std::string_view(buffer).substr(7, buffer.size() - 7 - 6);
  ASSERT_EQ(chunk, "customer_id,v\nc1,\xc3\xa9t\xc3\xa9\n");
  const std::string sha(64, 'a');
  int64_t stored = 0;
  TransportError err;
  ASSERT_TRUE(t->AppendChunk(kBatch, 3, chunk, sha, &stored, &err)) << err.message;
  EXPECT_EQ(stored, 7);

  std::string bind;
  bind += std::string("\0\0", 2);              // unnamed portal and statement
  bind += std::string("\0\4", 2);              // four parameter format codes:
  bind += std::string("\0\0\0\0\0\1\0\0", 8);  // text, text, binary (the chunk), text
  bind += std::string("\0\4", 2);              // four parameters
  PutInt32(&bind, 36);
  bind += kBatch;
  PutInt32(&bind, 1);
  bind += "3";
  PutInt32(&bind, static_cast<uint32_t>(chunk.size()));
  bind += std::string(chunk);
  PutInt32(&bind, 64);
  bind += sha;
  bind += std::string("\0\1\0\0", 4);  // one result format code: text
  const std::string got = server.received();
  EXPECT_NE(got.find(Message('B', bind)), std::string::npos)
      << "the Bind message does not carry the chunk as one binary parameter of its exact bytes";
  EXPECT_EQ(got.find("BEFORE"), std::string::npos);
  EXPECT_EQ(got.find("AFTER"), std::string::npos);
}

}  // namespace
}  // namespace sdp
