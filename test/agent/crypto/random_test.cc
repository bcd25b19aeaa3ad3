#include "agent/crypto/random.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace sdp {
namespace {

std::string Take(RandomPool* pool, size_t n) {
  std::string err;
  std::string out(n, '\0');
  EXPECT_TRUE(pool->Take(reinterpret_cast<uint8_t*>(&out[0]), n, &err)) << err;
  return out;
}

TEST(RandomPool, HandsOutEachByteOnceAcrossBlocks) {
  RandomPool pool;
  std::set<std::string> seen;
  // 16-byte draws over several blocks, and odd sizes that straddle a block's end.
  for (int i = 0; i < 3 * static_cast<int>(RandomPool::kBlockBytes / 16); ++i) {
    EXPECT_TRUE(seen.insert(Take(&pool, 16)).second);
  }
  for (size_t n : {1u, 7u, 4095u, 4096u, 13u}) EXPECT_EQ(Take(&pool, n).size(), n);
  uint8_t big[RandomPool::kBlockBytes + 1];
  std::string err;
  EXPECT_FALSE(pool.Take(big, sizeof big, &err));
  EXPECT_NE(err.find("larger than a block"), std::string::npos);
}

TEST(RandomPool, BytesLookUniform) {
  // 64 KiB of draws: every byte value appears, none far more often than 1/256 (a pool that
  // handed out wiped zeros or a stuck block would fail).
  RandomPool pool;
  std::vector<size_t> counts(256);
  for (int i = 0; i < 4096; ++i) {
    for (unsigned char c : Take(&pool, 16)) ++counts[c];
  }
  for (size_t c : counts) {
    EXPECT_GT(c, 140u);
    EXPECT_LT(c, 380u);
  }
}

TEST(RandomPool, ChildOfForkNeverRepeatsParentBytes) {
  RandomPool pool;
  Take(&pool, 16);  // the block is filled before the fork
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::string b = Take(&pool, 32);
    _exit(write(fds[1], b.data(), b.size()) == 32 ? 0 : 1);
  }
  close(fds[1]);
  const std::string parent = Take(&pool, 32);
  char buf[32];
  EXPECT_EQ(read(fds[0], buf, sizeof buf), 32);
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_NE(std::string(buf, 32), parent);
}

TEST(ThreadRandomBytes, ThreadsDrawDistinctBytes) {
  std::vector<std::string> got(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < got.size(); ++t) {
    threads.emplace_back([&got, t] {
      std::string err;
      got[t].resize(16);
      ASSERT_TRUE(ThreadRandomBytes(reinterpret_cast<uint8_t*>(&got[t][0]), 16, &err)) << err;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()).size(), got.size());
}

}  // namespace
}  // namespace sdp
