#include "agent/crypto/secret_buffer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <type_traits>
#include <utility>

namespace sdp {
namespace {

static_assert(!std::is_copy_constructible<SecretBuffer>::value, "must not be copyable");
static_assert(!std::is_copy_assignable<SecretBuffer>::value, "must not be copyable");
static_assert(std::is_nothrow_move_constructible<SecretBuffer>::value, "movable");

TEST(SecretBuffer, ConstructsZeroedAndFromBytes) {
  SecretBuffer empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(empty.size(), 0u);

  SecretBuffer zeros(5);
  ASSERT_EQ(zeros.size(), 5u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(zeros[i], 0);

  const uint8_t bytes[] = {1, 2, 3};
  SecretBuffer b(bytes, sizeof(bytes));
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(std::memcmp(b.data(), bytes, 3), 0);

  SecretBuffer none(nullptr, 0);
  EXPECT_TRUE(none.empty());
}

TEST(SecretBuffer, MoveLeavesSourceEmpty) {
  const uint8_t bytes[] = {9, 8, 7, 6};
  SecretBuffer a(bytes, 4);
  SecretBuffer b(std::move(a));
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): documented state
  EXPECT_EQ(a.data(), nullptr);
  ASSERT_EQ(b.size(), 4u);
  EXPECT_EQ(b[3], 6);

  SecretBuffer c(2);
  c = std::move(b);
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[0], 9);
  c = std::move(c);  // self-move keeps the contents
  EXPECT_EQ(c.size(), 4u);
}

TEST(SecretBuffer, ResizeKeepsPrefixAndZeroFills) {
  const uint8_t bytes[] = {1, 2, 3, 4};
  SecretBuffer b(bytes, 4);
  b.resize(2);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[1], 2);
  b.resize(4);  // within capacity: the dropped tail was wiped, so zeros return
  EXPECT_EQ(b[2], 0);
  EXPECT_EQ(b[3], 0);
  b.resize(100);  // reallocates
  ASSERT_EQ(b.size(), 100u);
  EXPECT_EQ(b[0], 1);
  EXPECT_EQ(b[1], 2);
  EXPECT_EQ(b[99], 0);
  b.clear();
  EXPECT_TRUE(b.empty());
}

TEST(SecretBuffer, CloneAndConstantTimeEquals) {
  const uint8_t bytes[] = {5, 5, 5};
  SecretBuffer a(bytes, 3);
  SecretBuffer b = a.Clone();
  EXPECT_NE(a.data(), b.data());
  EXPECT_TRUE(SecretEquals(a, b));
  b[2] = 6;
  EXPECT_FALSE(SecretEquals(a, b));
  EXPECT_FALSE(SecretEquals(a, SecretBuffer(2)));
  EXPECT_TRUE(SecretEquals(SecretBuffer(), SecretBuffer()));
}

}  // namespace
}  // namespace sdp
