// Reading a whole small file (common/read_file.h): contents, the size bound, and errors that
// name the file and the fix.
#include "common/read_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <string>

#include "common/scoped_fd.h"
#include "test/support/test_util.h"

namespace sdp {
namespace {

using testing::ScopedTempDir;
using testing::WriteFile;

TEST(ReadFileTest, ReadsEveryByte) {
  ScopedTempDir dir;
  std::string data(200000, 'x');
  data[7] = '\0';
  data.back() = '\n';
  WriteFile(dir.File("f"), data);
  std::string text, err;
  ASSERT_TRUE(ReadWholeFile(dir.File("f"), &text, &err)) << err;
  EXPECT_EQ(text, data);
  WriteFile(dir.File("empty"), "");
  ASSERT_TRUE(ReadWholeFile(dir.File("empty"), &text, &err)) << err;
  EXPECT_EQ(text, "");
}

// One byte past the limit, so the caller can tell "too large" without reading it all.
TEST(ReadFileTest, StopsOneBytePastTheLimit) {
  ScopedTempDir dir;
  WriteFile(dir.File("f"), "0123456789");
  std::string text, err;
  ASSERT_TRUE(ReadWholeFile(dir.File("f"), &text, &err, 4));
  EXPECT_EQ(text, "01234");
  ASSERT_TRUE(ReadWholeFile(dir.File("f"), &text, &err, 10));
  EXPECT_EQ(text, "0123456789");
}

TEST(ReadFileTest, ErrorsNameTheFileAndTheFix) {
  ScopedTempDir dir;
  std::string text = "old", err;
  EXPECT_FALSE(ReadWholeFile(dir.File("missing"), &text, &err));
  EXPECT_EQ(text, "");
  EXPECT_EQ(err, dir.File("missing") +
                     ": cannot open: No such file or directory; fix: check the path and its "
                     "permissions");
  EXPECT_FALSE(ReadWholeFile(dir.File("missing"), &text, &err, 10, "pass --config"));
  EXPECT_EQ(err,
            dir.File("missing") + ": cannot open: No such file or directory; fix: pass --config");
  // A directory opens but cannot be read.
  EXPECT_FALSE(ReadWholeFile(dir.path(), &text, &err));
  EXPECT_EQ(err,
            dir.path() + ": cannot read: Is a directory; fix: check the path and its permissions");
}

TEST(ReadFileTest, ReadsFromAnOpenDescriptor) {
  ScopedTempDir dir;
  WriteFile(dir.File("f"), "KEY=1\n");
  const ScopedFd fd(::open(dir.File("f").c_str(), O_RDONLY | O_CLOEXEC));
  std::string text, err;
  ASSERT_TRUE(ReadWholeFd(fd.get(), dir.File("f"), &text, &err));
  EXPECT_EQ(text, "KEY=1\n");
}

}  // namespace
}  // namespace sdp
