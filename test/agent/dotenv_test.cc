#include "dotenv.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>

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

TEST(DotEnvTest, RealEnvironmentWinsAndMissingFileIsFine) {
  char dir_template[] = "/tmp/sdp-dotenv-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string path = std::string(dir_template) + "/.env";
  std::ofstream(path) << "SDP_TEST_FROM_FILE=file\nSDP_TEST_ALREADY=file\n";
  setenv("SDP_TEST_ALREADY", "real", 1);
  unsetenv("SDP_TEST_FROM_FILE");
  int applied = -1;
  std::string err;
  ASSERT_TRUE(ApplyDotEnvFile(path, &applied, &err)) << err;
  EXPECT_EQ(applied, 1);
  EXPECT_STREQ(getenv("SDP_TEST_FROM_FILE"), "file");
  EXPECT_STREQ(getenv("SDP_TEST_ALREADY"), "real");
  EXPECT_TRUE(ApplyDotEnvFile(std::string(dir_template) + "/missing.env", nullptr, &err));
  unlink(path.c_str());
  rmdir(dir_template);
}

TEST(DotEnvTest, FindsRepoRootAboveNestedDirectory) {
  EXPECT_EQ(FindRepoRoot(std::string(SDP_SOURCE_DIR) + "/src/agent"), SDP_SOURCE_DIR);
}

}  // namespace
}  // namespace sdp
