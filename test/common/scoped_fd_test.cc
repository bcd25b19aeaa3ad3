// ScopedFd closes what it owns exactly once (common/scoped_fd.h).
#include "common/scoped_fd.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <utility>

namespace sdp {
namespace {

bool IsOpen(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

TEST(ScopedFdTest, ClosesAtScopeExit) {
  int raw = -1;
  {
    const ScopedFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(fd.valid());
    raw = fd.get();
    EXPECT_TRUE(IsOpen(raw));
  }
  EXPECT_FALSE(IsOpen(raw));
}

TEST(ScopedFdTest, MovingHandsOverOwnership) {
  ScopedFd a(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  const int raw = a.get();
  ScopedFd b(std::move(a));
  EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
  EXPECT_EQ(b.get(), raw);
  ScopedFd c;
  c = std::move(b);
  EXPECT_EQ(c.get(), raw);
  EXPECT_TRUE(IsOpen(raw));
  c.reset();
  EXPECT_FALSE(IsOpen(raw));
}

TEST(ScopedFdTest, CloseReportsAndReleaseKeepsOpen) {
  ScopedFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  EXPECT_TRUE(fd.Close());
  EXPECT_FALSE(fd.valid());
  EXPECT_TRUE(fd.Close());  // nothing held: nothing to fail

  ScopedFd kept(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  const int raw = kept.release();
  EXPECT_FALSE(kept.valid());
  EXPECT_TRUE(IsOpen(raw));
  ::close(raw);
}

}  // namespace
}  // namespace sdp
