// The key ring file: every master key a deployment has used, with its version, so that tokens of
// an older key still detokenize and join after a rotation (docs/key_rotation.md).
//
// JSON, mode 0600, owned by the user, never a symlink:
//   {"sdp_key_ring": 1,
//    "keys": [{"version": 1, "id": "6ed97193", "created": "2026-01-05T09:00:00Z",
//              "retired": null, "key": "<URL-safe base64 of 32 bytes>"}, ...]}
// `id` is the key's public key id (KeyRing::key_id(), checked against the key on load),
// `retired` null or the time the key's last data was rotated away. SDP_CRYPTO_KEY stays the
// primary key: its version is the version of the entry with its id. Key material is kept in
// SecretBuffers and never appears in an error.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/crypto/crypto_keys.h"
#include "agent/crypto/secret_buffer.h"

namespace sdp {

struct KeyRingEntry {
  int version = 0;
  std::string id;
  std::string created;
  std::string retired;  // "" while the key is active
  SecretBuffer key;     // the 32 raw master key bytes
};

class KeyRingFile {
 public:
  // Reads and checks `path`: a regular file (not a symlink) owned by the user with no group or
  // other permission bits; valid JSON of the shape above; versions 1..61 and ids unique; every
  // key 32 bytes of URL-safe base64 whose key id is its `id`. Errors name the file and the
  // entry, never key material.
  static bool Load(const std::string& path, KeyRingFile* out, std::string* err);
  // The content checks of Load on `text` (no file checks); `name` prefixes errors.
  static bool Parse(std::string_view text, const std::string& name, KeyRingFile* out,
                    std::string* err);
  // Writes the ring to `path` atomically (a 0600 temporary file, fsync, rename); refuses a
  // `path` that is a symlink.
  bool Save(const std::string& path, std::string* err) const;

  const std::vector<KeyRingEntry>& entries() const { return entries_; }
  const KeyRingEntry* FindById(const std::string& id) const;
  const KeyRingEntry* FindByVersion(int version) const;
  // One more than the highest version (1 for an empty ring).
  int NextVersion() const;
  // Adds a key as NextVersion() (refused past 61 or when its id is already in the ring).
  bool Add(const SecretBuffer& master_key, const std::string& created, int* version,
           std::string* err);
  // Sets `retired` of a version (kept when already set).
  bool Retire(int version, const std::string& when, std::string* err);
  // The subkeys of a version, with the version set.
  bool Keys(int version, KeyRing* out, std::string* err) const;

 private:
  std::vector<KeyRingEntry> entries_;
};

// The ring file in force: the global option --key-ring when given, else SDP_KEY_RING (from the
// environment or .env); "" when there is none.
void SetKeyRingPath(const std::string& path);
std::string KeyRingPath();

// Now as "YYYY-MM-DDTHH:MM:SSZ" (UTC), for `created` and `retired`.
std::string KeyRingTimestamp();

}  // namespace sdp
