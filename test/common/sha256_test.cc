#include "common/sha256.h"

#include <gtest/gtest.h>

#include <string>

namespace sdp {
namespace {

// FIPS 180-4 / NIST CAVP examples.
TEST(Sha256, KnownVectors) {
  EXPECT_EQ(Sha256::Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256::Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256::Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Sha256 h;
  EXPECT_EQ(h.HexDigest(), Sha256::Hex(""));
}

TEST(Sha256, IncrementalEqualsOneShot) {
  std::string data;
  for (int i = 0; i < 10000; ++i) data += static_cast<char>('a' + i % 26);
  for (size_t cut : {size_t{0}, size_t{1}, size_t{63}, size_t{64}, size_t{65}, size_t{5000}}) {
    Sha256 h;
    h.Update(std::string_view(data).substr(0, cut));
    h.Update(std::string_view(data).substr(cut));
    EXPECT_EQ(h.HexDigest(), Sha256::Hex(data)) << "cut at " << cut;
  }
}

// The chunked upload saves the state after every chunk and restores it for the next one.
TEST(Sha256, SaveAndRestoreAcrossChunks) {
  const std::string chunks[] = {"customer_id,age\nc1,30\n", "c2,\"4\n0\"\n", std::string(1000, 'x'),
                                ""};
  std::string state;
  std::string all;
  for (const std::string& chunk : chunks) {
    Sha256 h;
    std::string err;
    if (!state.empty()) {
      ASSERT_TRUE(h.RestoreState(state, &err)) << err;
    }
    h.Update(chunk);
    state = h.SaveState();
    all += chunk;
  }
  Sha256 last;
  std::string err;
  ASSERT_TRUE(last.RestoreState(state, &err));
  EXPECT_EQ(last.HexDigest(), Sha256::Hex(all));
  // HexDigest does not end the hash.
  last.Update("more");
  EXPECT_EQ(last.HexDigest(), Sha256::Hex(all + "more"));
}

TEST(Sha256, RejectsForeignState) {
  Sha256 h;
  std::string err;
  EXPECT_FALSE(h.RestoreState("", &err));
  EXPECT_FALSE(err.empty());
  std::string state = h.SaveState();
  state[0] = 'X';
  EXPECT_FALSE(h.RestoreState(state, &err));
  EXPECT_FALSE(h.RestoreState(h.SaveState() + "x", &err));
}

TEST(Sha256, IsSha256Hex) {
  EXPECT_TRUE(IsSha256Hex(Sha256::Hex("x")));
  EXPECT_TRUE(IsSha256Hex("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
  EXPECT_FALSE(IsSha256Hex("abc"));
  EXPECT_FALSE(IsSha256Hex(std::string(64, 'g')));
}

}  // namespace
}  // namespace sdp
