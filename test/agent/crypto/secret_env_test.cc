#include "agent/crypto/secret_env.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <cstring>

extern char** environ;

namespace sdp {
namespace {

std::string Text(const SecretBuffer* b) {
  return b == nullptr ? "<null>" : std::string(reinterpret_cast<const char*>(b->data()), b->size());
}

char* EnvironEntry(const char* name) {
  const size_t n = std::strlen(name);
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e;
  }
  return nullptr;
}

// Attack: the key stays readable in the environment block (/proc/<pid>/environ, core files,
// children). Taken out, the bytes where it was are overwritten and the variable is gone.
TEST(SecretEnvTest, TakesTheValueAndOverwritesItInTheEnvironment) {
  ASSERT_EQ(setenv("SDP_TEST_SECRET", "s3cret-value", 1), 0);
  char* entry = EnvironEntry("SDP_TEST_SECRET");
  ASSERT_NE(entry, nullptr);
  char* value = entry + std::strlen("SDP_TEST_SECRET=");
  const SecretBuffer* taken = TakeSecretEnv("SDP_TEST_SECRET");
  EXPECT_EQ(Text(taken), "s3cret-value");
  EXPECT_EQ(getenv("SDP_TEST_SECRET"), nullptr);
  EXPECT_EQ(EnvironEntry("SDP_TEST_SECRET"), nullptr);
  // glibc's setenv() keeps the string allocated after unsetenv(): its bytes must be gone.
  for (size_t i = 0; i < std::strlen("s3cret-value"); ++i) EXPECT_EQ(value[i], '\0') << i;
  // Later reads get the kept value; a new value in the environment replaces it.
  EXPECT_EQ(Text(TakeSecretEnv("SDP_TEST_SECRET")), "s3cret-value");
  ASSERT_EQ(setenv("SDP_TEST_SECRET", "second", 1), 0);
  EXPECT_EQ(Text(TakeSecretEnv("SDP_TEST_SECRET")), "second");
  EXPECT_EQ(getenv("SDP_TEST_SECRET"), nullptr);
}

TEST(SecretEnvTest, UnsetOrEmptyIsNull) {
  unsetenv("SDP_TEST_SECRET_NEVER_SET");
  EXPECT_EQ(TakeSecretEnv("SDP_TEST_SECRET_NEVER_SET"), nullptr);
  ASSERT_EQ(setenv("SDP_TEST_SECRET_EMPTY", "", 1), 0);
  EXPECT_EQ(TakeSecretEnv("SDP_TEST_SECRET_EMPTY"), nullptr);
  EXPECT_EQ(getenv("SDP_TEST_SECRET_EMPTY"), nullptr);
}

TEST(SecretEnvTest, DisableCoreDumpsMakesTheProcessNonDumpable) {
  std::string err;
  ASSERT_TRUE(DisableCoreDumps(&err)) << err;
  EXPECT_EQ(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
  struct rlimit core;
  ASSERT_EQ(getrlimit(RLIMIT_CORE, &core), 0);
  EXPECT_EQ(core.rlim_cur, 0u);
}

}  // namespace
}  // namespace sdp
