#include "agent/crypto/key_ring_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "common/base64url.h"
#include "test/support/test_util.h"

namespace sdp {
namespace {

SecretBuffer Master(const char* key_text) {
  SecretBuffer out;
  std::string err;
  EXPECT_TRUE(Base64UrlDecode(std::string_view(key_text), &out, &err)) << err;
  return out;
}

std::string IdOf(const char* key_text) { return testing::Keys(key_text).key_id(); }

std::string Entry(int version, const std::string& id, const std::string& key,
                  const std::string& retired = "null") {
  return "{\"version\": " + std::to_string(version) + ", \"id\": \"" + id +
         "\", \"created\": \"2026-01-05T09:00:00Z\", \"retired\": " + retired + ", \"key\": \"" +
         key + "\"}";
}

std::string Ring(const std::string& entries) {
  return "{\"sdp_key_ring\": 1, \"keys\": [" + entries + "]}";
}

// A load that must fail: the error names the problem and never the key material.
std::string LoadError(const testing::ScopedTempDir& dir, const std::string& text,
                      mode_t mode = 0600) {
  const std::string path = dir.Write("ring.json", text, mode);
  KeyRingFile ring;
  std::string err;
  EXPECT_FALSE(KeyRingFile::Load(path, &ring, &err));
  EXPECT_EQ(err.find(testing::kDemoKey), std::string::npos) << err;
  EXPECT_EQ(err.find(std::string(testing::kOtherKey).substr(0, 20)), std::string::npos) << err;
  EXPECT_EQ(err.find("Miql"), std::string::npos) << err;
  return err;
}

TEST(KeyRingFileTest, SaveAndLoadRoundTripWithVersionsIdsAndSubkeys) {
  testing::ScopedTempDir dir;
  KeyRingFile ring;
  std::string err;
  int v = 0;
  ASSERT_TRUE(ring.Add(Master(testing::kDemoKey), "2026-01-05T09:00:00Z", &v, &err)) << err;
  EXPECT_EQ(v, 1);
  ASSERT_TRUE(ring.Add(Master(testing::kOtherKey), "2026-02-05T09:00:00Z", &v, &err)) << err;
  EXPECT_EQ(v, 2);
  EXPECT_FALSE(ring.Add(Master(testing::kDemoKey), "2026-02-05T09:00:00Z", &v, &err));
  EXPECT_NE(err.find("already in the ring as version 1"), std::string::npos) << err;
  ASSERT_TRUE(ring.Retire(1, "2026-03-01T00:00:00Z", &err)) << err;
  const std::string path = dir.File("ring.json");
  ASSERT_TRUE(ring.Save(path, &err)) << err;
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  KeyRingFile loaded;
  ASSERT_TRUE(KeyRingFile::Load(path, &loaded, &err)) << err;
  ASSERT_EQ(loaded.entries().size(), 2u);
  EXPECT_EQ(loaded.FindById(IdOf(testing::kDemoKey))->version, 1);
  EXPECT_EQ(loaded.FindById(IdOf(testing::kOtherKey))->version, 2);
  EXPECT_EQ(loaded.FindByVersion(1)->retired, "2026-03-01T00:00:00Z");
  EXPECT_EQ(loaded.FindByVersion(2)->retired, "");
  EXPECT_EQ(loaded.NextVersion(), 3);
  KeyRing two;
  ASSERT_TRUE(loaded.Keys(2, &two, &err)) << err;
  EXPECT_EQ(two.version(), 2);
  EXPECT_EQ(two.key_id(), IdOf(testing::kOtherKey));
  EXPECT_TRUE(SecretEquals(two.hash_key(), testing::Keys(testing::kOtherKey).hash_key()));
  EXPECT_FALSE(loaded.Keys(7, &two, &err));
}

TEST(KeyRingFileTest, GroupOrOtherPermissionsAndSymlinksAreRefused) {
  testing::ScopedTempDir dir;
  const std::string good = Ring(Entry(1, IdOf(testing::kDemoKey), testing::kDemoKey));
  for (mode_t mode : {0640, 0604, 0620, 0660, 0644}) {
    const std::string err = LoadError(dir, good, mode);
    EXPECT_NE(err.find("chmod 600"), std::string::npos) << err;
  }
  const std::string target = dir.Write("real.json", good, 0600);
  ASSERT_EQ(::symlink(target.c_str(), dir.File("link.json").c_str()), 0);
  KeyRingFile ring;
  std::string err;
  EXPECT_FALSE(KeyRingFile::Load(dir.File("link.json"), &ring, &err));
  EXPECT_NE(err.find("symbolic link"), std::string::npos) << err;
  EXPECT_FALSE(ring.Save(dir.File("link.json"), &err));
  EXPECT_TRUE(KeyRingFile::Load(target, &ring, &err)) << err;
}

TEST(KeyRingFileTest, HostileContentIsRefusedWithoutShowingKeys) {
  testing::ScopedTempDir dir;
  const std::string demo_id = IdOf(testing::kDemoKey);
  const std::string other_id = IdOf(testing::kOtherKey);
  // Not JSON, or not a ring.
  EXPECT_NE(LoadError(dir, "{\"sdp_key_ring\": 1, \"keys\": [" + std::string(testing::kDemoKey))
                .find("not valid JSON"),
            std::string::npos);
  EXPECT_NE(LoadError(dir, "[]").find("not an sdp key ring"), std::string::npos);
  EXPECT_NE(LoadError(dir, "{\"sdp_key_ring\": 2, \"keys\": []}").find("not an sdp key ring"),
            std::string::npos);
  // Bad base64 (standard alphabet's '+' and '/'), wrong length, key of another id.
  std::string plus = testing::kDemoKey;
  plus[3] = '+';
  EXPECT_NE(LoadError(dir, Ring(Entry(1, demo_id, plus))).find("not URL-safe base64"),
            std::string::npos);
  EXPECT_NE(LoadError(dir, Ring(Entry(1, demo_id, "AAAA"))).find("exactly 32 bytes"),
            std::string::npos);
  EXPECT_NE(LoadError(dir, Ring(Entry(1, other_id, testing::kDemoKey))).find("edited or corrupted"),
            std::string::npos);
  // Duplicate versions and ids.
  EXPECT_NE(LoadError(dir, Ring(Entry(1, demo_id, testing::kDemoKey) + "," +
                                Entry(1, other_id, testing::kOtherKey)))
                .find("version 1 appears twice"),
            std::string::npos);
  EXPECT_NE(LoadError(dir, Ring(Entry(1, demo_id, testing::kDemoKey) + "," +
                                Entry(2, demo_id, testing::kDemoKey)))
                .find("appears twice"),
            std::string::npos);
  // Versions a token cannot name, ids and times of the wrong shape, unknown fields.
  for (const char* version : {"0", "62", "-1", "1.5", "\"1\"", "true"}) {
    std::string e = Entry(1, demo_id, testing::kDemoKey);
    e.replace(e.find("1,"), 1, version);
    EXPECT_NE(LoadError(dir, Ring(e)).find("version must be an integer"), std::string::npos)
        << version;
  }
  EXPECT_NE(LoadError(dir, Ring(Entry(1, "ABCDEF12", testing::kDemoKey))).find("id must be"),
            std::string::npos);
  EXPECT_NE(LoadError(dir, Ring(Entry(1, demo_id, testing::kDemoKey, "\"yesterday\"")))
                .find("retired must be"),
            std::string::npos);
  std::string extra = Entry(1, demo_id, testing::kDemoKey);
  extra.insert(1, "\"note\": \"x\", ");
  EXPECT_NE(LoadError(dir, Ring(extra)).find("unknown field"), std::string::npos);
  // An empty ring is a ring.
  KeyRingFile ring;
  std::string err;
  EXPECT_TRUE(KeyRingFile::Load(dir.Write("empty.json", Ring("")), &ring, &err)) << err;
  EXPECT_EQ(ring.NextVersion(), 1);
}

TEST(KeyRingFileTest, VersionCharactersAreBase62FromTwoToSixtyOne) {
  EXPECT_EQ(KeyVersionChar(1), '\0');
  EXPECT_EQ(KeyVersionChar(2), '2');
  EXPECT_EQ(KeyVersionChar(9), '9');
  EXPECT_EQ(KeyVersionChar(10), 'A');
  EXPECT_EQ(KeyVersionChar(35), 'Z');
  EXPECT_EQ(KeyVersionChar(36), 'a');
  EXPECT_EQ(KeyVersionChar(61), 'z');
  EXPECT_EQ(KeyVersionChar(62), '\0');
  for (int v = 2; v <= 61; ++v) EXPECT_EQ(KeyVersionOfChar(KeyVersionChar(v)), v);
  EXPECT_EQ(KeyVersionOfChar('0'), 0);
  EXPECT_EQ(KeyVersionOfChar('1'), 0);
  EXPECT_EQ(KeyVersionOfChar('-'), 0);
  EXPECT_EQ(KeyVersionOfChar('_'), 0);
}

}  // namespace
}  // namespace sdp
