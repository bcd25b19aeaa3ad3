// Reading the master key from SDP_CRYPTO_KEY into a key ring, with errors that never show it.
#include "agent/crypto/key_env.h"

#include "agent/crypto/key_ring_file.h"
#include "agent/crypto/secret_env.h"

namespace sdp {

bool LoadKeyRingFromEnv(const std::string& var, KeyRing* keys, std::string* err) {
  const SecretBuffer* value = TakeSecretEnv(var);
  if (value == nullptr) {
    *err = var + " is not set; fix: generate a key with `sdp-agent keygen` and set " + var +
           " in the environment or in .env";
    return false;
  }
  if (!KeyRing::FromEnvValue(
          std::string_view(reinterpret_cast<const char*>(value->data()), value->size()), keys,
          err)) {
    // The parser speaks of SDP_CRYPTO_KEY; name the variable actually read.
    const std::string generic = "SDP_CRYPTO_KEY";
    if (var != generic && err->compare(0, generic.size(), generic) == 0) {
      err->replace(0, generic.size(), var);
    }
    return false;
  }
  const std::string ring_path = KeyRingPath();
  if (ring_path.empty()) return true;
  KeyRingFile ring;
  if (!KeyRingFile::Load(ring_path, &ring, err)) return false;
  const KeyRingEntry* entry = ring.FindById(keys->key_id());
  if (entry == nullptr) {
    *err = var + " (key id " + keys->key_id() + ") is not in key ring " + ring_path +
           "; fix: add it with `sdp-agent keygen --ring " + ring_path +
           " --import` (it takes SDP_CRYPTO_KEY), or unset SDP_KEY_RING";
    return false;
  }
  keys->set_version(entry->version);
  return true;
}

bool LoadKeyRingIfSet(const std::string& var, KeyRing* keys, bool* loaded, std::string* err) {
  *loaded = false;
  if (TakeSecretEnv(var) == nullptr) return true;
  if (!LoadKeyRingFromEnv(var, keys, err)) return false;
  *loaded = true;
  return true;
}

bool LoadOtherRingKeys(const KeyRing& primary, std::vector<KeyRing>* others, std::string* err) {
  others->clear();
  const std::string ring_path = KeyRingPath();
  if (ring_path.empty()) return true;
  KeyRingFile ring;
  if (!KeyRingFile::Load(ring_path, &ring, err)) return false;
  for (int v = ring.NextVersion() - 1; v >= 1; --v) {
    const KeyRingEntry* e = ring.FindByVersion(v);
    if (e == nullptr || e->id == primary.key_id()) continue;
    KeyRing keys;
    if (!ring.Keys(v, &keys, err)) return false;
    others->push_back(std::move(keys));
  }
  return true;
}

}  // namespace sdp
