// CurlHttpClient against a real TLS server (openssl s_server on loopback): with SDP_CA_BUNDLE
// given, a CA that is only in the system store is not trusted. The system store is stood for by
// a directory of this test (HttpClientOptions::system_ca_dir), set the way libcurl sets its
// built-in CA directory.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "agent/transport/http_client.h"
#include "test/support/loopback.h"
#include "test/support/test_util.h"

extern char** environ;

namespace sdp {
namespace {

bool Shell(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

class TlsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string d = dir_.path();
    // Two CAs: "system" signs the server's certificate, "bundle" does not.
    for (const char* ca : {"system", "bundle"}) {
      ASSERT_TRUE(Shell("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=sdp-test-" +
                        std::string(ca) + " -keyout " + d + "/" + ca + ".key -out " + d + "/" + ca +
                        ".pem"));
    }
    ASSERT_TRUE(Shell("openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout " + d +
                      "/server.key -out " + d + "/server.csr"));
    testing::WriteFile(d + "/san.ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
    ASSERT_TRUE(Shell("openssl x509 -req -in " + d + "/server.csr -CA " + d +
                      "/system.pem -CAkey " + d + "/system.key -CAcreateserial -days 2 -extfile " +
                      d + "/san.ext -out " + d + "/server.pem"));
    ASSERT_TRUE(Shell("mkdir -p " + d + "/store && cp " + d + "/system.pem " + d +
                      "/store/ && openssl rehash " + d + "/store"));
    port_ = testing::FreeLoopbackPort();
    const std::string accept = "127.0.0.1:" + std::to_string(port_);
    const std::string cert = d + "/server.pem", key = d + "/server.key";
    const char* argv[] = {"openssl", "s_server",   "-quiet", "-www",      "-accept", accept.c_str(),
                          "-cert",   cert.c_str(), "-key",   key.c_str(), nullptr};
    ASSERT_EQ(
        posix_spawnp(&server_pid_, "openssl", nullptr, nullptr, const_cast<char**>(argv), environ),
        0);
    for (int i = 0; i < 100 && !testing::AcceptsOnLoopback(port_); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(testing::AcceptsOnLoopback(port_)) << "openssl s_server did not start";
  }
  void TearDown() override {
    if (server_pid_ > 0) {
      kill(server_pid_, SIGTERM);
      waitpid(server_pid_, nullptr, 0);
    }
  }

  bool Get(const std::string& bundle, HttpFailure* failure) {
    HttpClientOptions o;
    o.system_ca_dir = dir_.File("store");
    o.ca_bundle = bundle;
    o.connect_timeout_seconds = 5;
    std::string err;
    auto client = NewCurlHttpClient(o, &err);
    EXPECT_NE(client, nullptr) << err;
    if (!client) return false;
    HttpResponse resp;
    return client->Get("https://127.0.0.1:" + std::to_string(port_) + "/", {}, &resp, failure);
  }

  testing::ScopedTempDir dir_;
  int port_ = 0;
  pid_t server_pid_ = -1;
};

TEST_F(TlsServerTest, CaBundleIsTheOnlyTrust) {
  HttpFailure failure;
  // The system store trusts the server (else the refusal below would prove nothing)...
  EXPECT_TRUE(Get("", &failure)) << failure.message;
  // ...but with SDP_CA_BUNDLE naming another CA, the system store is not consulted.
  EXPECT_FALSE(Get(dir_.File("bundle.pem"), &failure));
  EXPECT_EQ(failure.kind, HttpFailure::Kind::kTls) << failure.message;
  EXPECT_NE(failure.message.find("not trusted by SDP_CA_BUNDLE="), std::string::npos)
      << failure.message;
  // The bundle of the right CA is trusted.
  EXPECT_TRUE(Get(dir_.File("system.pem"), &failure)) << failure.message;
}

}  // namespace
}  // namespace sdp
