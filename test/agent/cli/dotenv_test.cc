// The `.env` loader (src/agent/cli/dotenv.cc): parsing, precedence, and the files it refuses.
#include "agent/cli/dotenv.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "test/support/test_util.h"

namespace sdp {
namespace {

TEST(DotEnvTest, ParsesPlainQuotedExportedAndCommentedLines) {
  std::map<std::string, std::string> vars;
  std::string err;
  ASSERT_TRUE(
      ParseDotEnv("# comment\n\nA=1\nexport B = two words  # trailing\nC='lit $x \\n'\n"
                  "D=\"esc \\\"q\\\" \\n end\"\r\nE=\n",
                  ".env", &vars, &err))
      << err;
  EXPECT_EQ(vars["A"], "1");
  EXPECT_EQ(vars["B"], "two words");
  EXPECT_EQ(vars["C"], "lit $x \\n");
  EXPECT_EQ(vars["D"], "esc \"q\" \n end");
  EXPECT_EQ(vars["E"], "");
  EXPECT_EQ(vars.size(), 5u);
}

TEST(DotEnvTest, ErrorsNameFileAndLineButNeverTheValue) {
  std::map<std::string, std::string> vars;
  std::string err;
  EXPECT_FALSE(ParseDotEnv("A=1\nNOEQUALS\n", "x/.env", &vars, &err));
  EXPECT_EQ(err.rfind("x/.env:2: expected KEY=VALUE", 0), 0u) << err;
  EXPECT_FALSE(ParseDotEnv("SDP_CRYPTO_KEY=\"secretvalue\n", ".env", &vars, &err));
  EXPECT_NE(err.find(".env:1: unterminated quoted value for SDP_CRYPTO_KEY"), std::string::npos);
  EXPECT_EQ(err.find("secretvalue"), std::string::npos);
  EXPECT_FALSE(ParseDotEnv("1BAD=x\n", ".env", &vars, &err));
  EXPECT_FALSE(ParseDotEnv("BA-D=x\n", ".env", &vars, &err));
}

using testing::ScopedTempDir;

TEST(DotEnvTest, RealEnvironmentWinsAndMissingFileIsFine) {
  ScopedTempDir dir;
  const std::string path = dir.Write(".env", "SDP_TEST_FROM_FILE=file\nSDP_TEST_ALREADY=file\n");
  setenv("SDP_TEST_ALREADY", "real", 1);
  unsetenv("SDP_TEST_FROM_FILE");
  DotEnvResult result;
  std::string err;
  ASSERT_TRUE(ApplyDotEnvFile(path, false, &result, &err)) << err;
  EXPECT_EQ(result.applied, 1);
  EXPECT_STREQ(getenv("SDP_TEST_FROM_FILE"), "file");
  EXPECT_STREQ(getenv("SDP_TEST_ALREADY"), "real");
  EXPECT_TRUE(ApplyDotEnvFile(dir.path() + "/missing.env", false, nullptr, &err));
  // --env-file names a file that must be there.
  EXPECT_FALSE(ApplyDotEnvFile(dir.path() + "/missing.env", true, nullptr, &err));
  EXPECT_NE(err.find("missing.env: cannot read"), std::string::npos) << err;
  unsetenv("SDP_TEST_FROM_FILE");
  unsetenv("SDP_TEST_ALREADY");
}

// Attack: a .env that sets http_proxy, PGSSLMODE or LD_PRELOAD redirects libcurl and libpq (or
// more). Only SDP_* names are taken; the others are counted and never set.
TEST(DotEnvTest, OnlySdpVariablesAreTaken) {
  ScopedTempDir dir;
  const std::string path =
      dir.Write(".env",
                "SDP_TEST_TAKEN=yes\nhttp_proxy=http://attacker.example:3128\nPGSSLMODE=disable\n"
                "SDP_=x\nSDPX_TEST=x\n");
  for (const char* name : {"SDP_TEST_TAKEN", "http_proxy", "PGSSLMODE", "SDP_", "SDPX_TEST"}) {
    unsetenv(name);
  }
  DotEnvResult result;
  std::string err;
  ASSERT_TRUE(ApplyDotEnvFile(path, false, &result, &err)) << err;
  EXPECT_EQ(result.applied, 1);
  EXPECT_EQ(result.ignored, 4);
  EXPECT_STREQ(getenv("SDP_TEST_TAKEN"), "yes");
  EXPECT_EQ(getenv("http_proxy"), nullptr);
  EXPECT_EQ(getenv("PGSSLMODE"), nullptr);
  EXPECT_EQ(getenv("SDP_"), nullptr);
  EXPECT_EQ(getenv("SDPX_TEST"), nullptr);
  unsetenv("SDP_TEST_TAKEN");
}

// Attack: a co-user who can write the file (group- or other-writable) could swap the server URL,
// the CA bundle or the key. Refused, and nothing from it is set.
TEST(DotEnvTest, GroupOrOtherWritableFileIsRefused) {
  ScopedTempDir dir;
  for (mode_t mode : {0620, 0602, 0666}) {
    const std::string path = dir.Write(".env", "SDP_TEST_WRITABLE=planted\n", mode);
    unsetenv("SDP_TEST_WRITABLE");
    std::string err;
    EXPECT_FALSE(ApplyDotEnvFile(path, false, nullptr, &err)) << std::oct << mode;
    EXPECT_NE(err.find("refused: writable by group or others"), std::string::npos) << err;
    EXPECT_NE(err.find("fix: "), std::string::npos) << err;
    EXPECT_EQ(err.find("planted"), std::string::npos) << err;
    EXPECT_EQ(getenv("SDP_TEST_WRITABLE"), nullptr);
  }
  const std::string path = dir.Write(".env", "SDP_TEST_WRITABLE=fine\n", 0640);
  std::string err;
  EXPECT_TRUE(ApplyDotEnvFile(path, false, nullptr, &err)) << err;
  unsetenv("SDP_TEST_WRITABLE");
}

// Attack: a file owned by someone else (planted in a shared directory). Needs root to chown;
// make check runs as root, the e2e script agent_cli.sh checks the same through the binary.
TEST(DotEnvTest, FileOwnedBySomeoneElseIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "chown to another user needs root";
  ScopedTempDir dir;
  const std::string path = dir.Write(".env", "SDP_TEST_FOREIGN=planted\n", 0600);
  ASSERT_EQ(chown(path.c_str(), 65534, 65534), 0);
  unsetenv("SDP_TEST_FOREIGN");
  std::string err;
  EXPECT_FALSE(ApplyDotEnvFile(path, false, nullptr, &err));
  EXPECT_NE(err.find("refused: owned by uid 65534"), std::string::npos) << err;
  EXPECT_EQ(getenv("SDP_TEST_FOREIGN"), nullptr);
}

TEST(DotEnvTest, DirectoryOrFifoIsRefused) {
  ScopedTempDir dir;
  ASSERT_EQ(mkdir((dir.path() + "/.env").c_str(), 0700), 0);
  std::string err;
  EXPECT_FALSE(ApplyDotEnvFile(dir.path() + "/.env", false, nullptr, &err));
  EXPECT_NE(err.find("not a regular file"), std::string::npos) << err;
  ASSERT_EQ(mkfifo((dir.path() + "/fifo").c_str(), 0600), 0);
  EXPECT_FALSE(ApplyDotEnvFile(dir.path() + "/fifo", true, nullptr, &err));  // and no hang
}

// Attack: a .env in a parent directory that looks like a repository (.git or sdp.control) used
// to be read too. Only the working directory's file is.
TEST(DotEnvTest, ParentRepositoryEnvIsIgnored) {
  ScopedTempDir dir;
  ASSERT_EQ(mkdir((dir.path() + "/.git").c_str(), 0700), 0);
  dir.Write("sdp.control", "");
  dir.Write(".env", "SDP_TEST_PARENT=planted\n");
  ASSERT_EQ(mkdir((dir.path() + "/work").c_str(), 0700), 0);
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof cwd), nullptr);
  ASSERT_EQ(chdir((dir.path() + "/work").c_str()), 0);
  unsetenv("SDP_TEST_PARENT");
  std::string err;
  const bool loaded = LoadDotEnv("", &err);
  const char* parent_value = getenv("SDP_TEST_PARENT");
  // The working directory's own file is read.
  dir.Write("work/.env", "SDP_TEST_CWD=mine\n");
  unsetenv("SDP_TEST_CWD");
  const bool loaded_cwd = LoadDotEnv("", &err);
  ASSERT_EQ(chdir(cwd), 0);
  EXPECT_TRUE(loaded) << err;
  EXPECT_EQ(parent_value, nullptr);
  EXPECT_TRUE(loaded_cwd) << err;
  EXPECT_STREQ(getenv("SDP_TEST_CWD"), "mine");
  unsetenv("SDP_TEST_CWD");
}

}  // namespace
}  // namespace sdp
