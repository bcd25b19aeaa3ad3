// The key ring file (see key_ring_file.h): load with permission checks, save atomically.
#include "agent/crypto/key_ring_file.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>

#include "common/base64url.h"
#include "common/scoped_fd.h"

namespace sdp {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxRingBytes = 1 << 20;  // 61 keys fit in 10 KB
constexpr char kFix[] =
    "; fix: recreate it with `sdp-agent keygen --ring FILE` or restore it from "
    "your backup";

std::mutex g_path_mutex;
std::string g_path;  // from --key-ring

bool IsHexId(const std::string& s) {
  if (s.size() != 8) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// A time as the ring writes it; only the shape is checked.
bool IsTimestamp(const std::string& s) {
  if (s.size() != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
      s[16] != ':' || s[19] != 'Z') {
    return false;
  }
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18}) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

// Wipes the strings of a parsed document (the key values) before it is freed, down to the depth
// a ring's keys are at (a deeper, hostile document holds no key of ours and must not recurse).
void WipeStrings(Json* j, int depth = 0) {
  if (j->is_string()) {
    std::string& s = j->get_ref<std::string&>();
    OPENSSL_cleanse(s.data(), s.size());
  } else if (j->is_structured() && depth < 4) {
    for (auto& child : *j) WipeStrings(&child, depth + 1);
  }
}

bool ParseEntry(const Json& e, size_t index, KeyRingEntry* out, std::string* err) {
  const std::string where = "entry " + std::to_string(index + 1);
  if (!e.is_object()) {
    *err = where + " is not an object";
    return false;
  }
  for (const auto& item : e.items()) {
    const std::string& k = item.key();
    if (k != "version" && k != "id" && k != "created" && k != "retired" && k != "key") {
      *err = where + " has an unknown field (only version, id, created, retired, key)";
      return false;
    }
  }
  const auto version = e.find("version");
  if (version == e.end() || !version->is_number_integer() || version->get<int64_t>() < 1 ||
      version->get<int64_t>() > KeyRing::kMaxKeyVersion) {
    *err =
        where + ": version must be an integer from 1 to " + std::to_string(KeyRing::kMaxKeyVersion);
    return false;
  }
  out->version = static_cast<int>(version->get<int64_t>());
  const std::string vwhere = where + " (version " + std::to_string(out->version) + ")";
  const auto id = e.find("id");
  if (id == e.end() || !id->is_string() || !IsHexId(id->get<std::string>())) {
    *err = vwhere + ": id must be 8 lowercase hex characters";
    return false;
  }
  out->id = id->get<std::string>();
  const auto created = e.find("created");
  if (created == e.end() || !created->is_string() || !IsTimestamp(created->get<std::string>())) {
    *err = vwhere + ": created must be a time such as 2026-01-05T09:00:00Z";
    return false;
  }
  out->created = created->get<std::string>();
  const auto retired = e.find("retired");
  if (retired != e.end() && !retired->is_null()) {
    if (!retired->is_string() || !IsTimestamp(retired->get<std::string>())) {
      *err = vwhere + ": retired must be null or a time such as 2026-01-05T09:00:00Z";
      return false;
    }
    out->retired = retired->get<std::string>();
  }
  const auto key = e.find("key");
  if (key == e.end() || !key->is_string()) {
    *err = vwhere + ": key is missing (URL-safe base64 of 32 bytes)";
    return false;
  }
  const std::string& text = key->get_ref<const std::string&>();
  std::string decode_err;
  if (!Base64UrlDecode(text, &out->key, &decode_err) ||
      out->key.size() != KeyRing::kMasterKeySize) {
    // decode_err names an offset only.
    *err = vwhere + ": key is not URL-safe base64 of exactly 32 bytes" +
           (decode_err.empty() ? std::string() : " (" + decode_err + ")");
    return false;
  }
  KeyRing derived;
  if (!KeyRing::FromMasterKey(out->key, &derived, err)) return false;
  if (derived.key_id() != out->id) {
    *err = vwhere + ": the key's id is " + derived.key_id() + ", not " + out->id +
           " (the entry was edited or corrupted)";
    return false;
  }
  return true;
}

}  // namespace

bool KeyRingFile::Load(const std::string& path, KeyRingFile* out, std::string* err) {
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    *err = "key ring " + path + ": " +
           (errno == ELOOP ? std::string("is a symbolic link") : std::strerror(errno)) +
           "; fix: point --key-ring or SDP_KEY_RING at the ring file itself (create one with "
           "`sdp-agent keygen --ring FILE`)";
    return false;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    *err = "key ring " + path +
           " is not a regular file; fix: point --key-ring or SDP_KEY_RING "
           "at the ring file";
    return false;
  }
  if (st.st_uid != ::geteuid()) {
    *err = "key ring " + path +
           " is owned by another user; fix: the ring must belong to the "
           "user running sdp-agent (chown)";
    return false;
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    *err = "key ring " + path + " has mode " + mode +
           ", readable or writable by group or others; fix: chmod 600 " + path +
           " (and rotate the keys if others may have read it)";
    return false;
  }
  if (st.st_size > static_cast<off_t>(kMaxRingBytes)) {
    *err = "key ring " + path + " is larger than 1 MiB" + kFix;
    return false;
  }
  SecretBuffer text(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  text.resize(got);
  return Parse(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()), path, out,
               err);
}

bool KeyRingFile::Parse(std::string_view text, const std::string& name, KeyRingFile* out,
                        std::string* err) {
  if (text.size() > kMaxRingBytes) {
    *err = "key ring " + name + " is larger than 1 MiB" + kFix;
    return false;
  }
  Json doc = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  KeyRingFile ring;
  std::string why;
  auto fail = [&](const std::string& reason) {
    WipeStrings(&doc);
    *err = "key ring " + name + ": " + reason + kFix;
    return false;
  };
  if (doc.is_discarded()) return fail("not valid JSON");
  if (!doc.is_object() || !doc.contains("sdp_key_ring") || doc["sdp_key_ring"] != 1 ||
      !doc.contains("keys") || !doc["keys"].is_array()) {
    return fail("not an sdp key ring (expected {\"sdp_key_ring\": 1, \"keys\": [...]})");
  }
  const Json& keys = doc["keys"];
  for (size_t i = 0; i < keys.size(); ++i) {
    KeyRingEntry entry;
    if (!ParseEntry(keys[i], i, &entry, &why)) return fail(why);
    if (ring.FindByVersion(entry.version) != nullptr) {
      return fail("version " + std::to_string(entry.version) + " appears twice");
    }
    if (ring.FindById(entry.id) != nullptr) {
      return fail("key id " + entry.id + " appears twice");
    }
    ring.entries_.push_back(std::move(entry));
  }
  WipeStrings(&doc);
  *out = std::move(ring);
  return true;
}

bool KeyRingFile::Save(const std::string& path, std::string* err) const {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    *err = "key ring " + path + " is a symbolic link; fix: write the ring to a plain file";
    return false;
  }
  // Built by hand into a SecretBuffer: no std::string copy of a key outlives this call.
  std::string head = "{\"sdp_key_ring\": 1, \"keys\": [";
  SecretBuffer body;
  auto append = [&body](std::string_view s) {
    const size_t at = body.size();
    body.resize(at + s.size());
    std::memcpy(body.data() + at, s.data(), s.size());
  };
  append(head);
  for (size_t i = 0; i < entries_.size(); ++i) {
    const KeyRingEntry& e = entries_[i];
    append(i == 0 ? "\n  " : ",\n  ");
    append("{\"version\": " + std::to_string(e.version) + ", \"id\": \"" + e.id +
           "\", \"created\": \"" + e.created + "\", \"retired\": " +
           (e.retired.empty() ? std::string("null") : "\"" + e.retired + "\"") + ", \"key\": \"");
    std::string key = Base64UrlEncode(e.key.data(), e.key.size());
    append(key);
    OPENSSL_cleanse(key.data(), key.size());
    append("\"}");
  }
  append("\n]}\n");
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());  // a leftover of a crashed save (never followed: O_EXCL below)
  ScopedFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    *err = "key ring " + path + ": cannot create " + tmp + ": " + std::strerror(errno) +
           "; fix: check the directory's permissions";
    return false;
  }
  size_t done = 0;
  bool ok = true;
  while (ok && done < body.size()) {
    const ssize_t n = ::write(fd.get(), body.data() + done, body.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  ok = ok && ::fsync(fd.get()) == 0;
  ok = fd.Close() && ok;
  ok = ok && ::rename(tmp.c_str(), path.c_str()) == 0;
  if (!ok) {
    ::unlink(tmp.c_str());
    *err = "key ring " + path + ": cannot write it: " + std::strerror(errno) +
           "; fix: check free space and the directory's permissions";
    return false;
  }
  return true;
}

const KeyRingEntry* KeyRingFile::FindById(const std::string& id) const {
  for (const auto& e : entries_) {
    if (e.id == id) return &e;
  }
  return nullptr;
}

const KeyRingEntry* KeyRingFile::FindByVersion(int version) const {
  for (const auto& e : entries_) {
    if (e.version == version) return &e;
  }
  return nullptr;
}

int KeyRingFile::NextVersion() const {
  int top = 0;
  for (const auto& e : entries_) top = std::max(top, e.version);
  return top + 1;
}

bool KeyRingFile::Add(const SecretBuffer& master_key, const std::string& created, int* version,
                      std::string* err) {
  KeyRing derived;
  if (!KeyRing::FromMasterKey(master_key, &derived, err)) return false;
  if (const KeyRingEntry* existing = FindById(derived.key_id())) {
    *err = "key id " + derived.key_id() + " is already in the ring as version " +
           std::to_string(existing->version);
    return false;
  }
  const int next = NextVersion();
  if (next > KeyRing::kMaxKeyVersion) {
    *err = "the ring already has version " + std::to_string(KeyRing::kMaxKeyVersion) +
           ", the last a token can name; fix: start a new deployment key history";
    return false;
  }
  KeyRingEntry entry;
  entry.version = next;
  entry.id = derived.key_id();
  entry.created = created;
  entry.key = master_key.Clone();
  entries_.push_back(std::move(entry));
  *version = next;
  return true;
}

bool KeyRingFile::Retire(int version, const std::string& when, std::string* err) {
  for (auto& e : entries_) {
    if (e.version != version) continue;
    if (e.retired.empty()) e.retired = when;
    return true;
  }
  *err = "the key ring has no version " + std::to_string(version);
  return false;
}

bool KeyRingFile::Keys(int version, KeyRing* out, std::string* err) const {
  const KeyRingEntry* e = FindByVersion(version);
  if (e == nullptr) {
    *err = "the key ring has no version " + std::to_string(version);
    return false;
  }
  if (!KeyRing::FromMasterKey(e->key, out, err)) return false;
  out->set_version(version);
  return true;
}

void SetKeyRingPath(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_path_mutex);
  g_path = path;
}

std::string KeyRingPath() {
  std::lock_guard<std::mutex> lock(g_path_mutex);
  if (!g_path.empty()) return g_path;
  const char* env = std::getenv("SDP_KEY_RING");
  return env != nullptr ? env : "";
}

std::string KeyRingTimestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace sdp
