// Secrets handed over through the environment, taken out of it on first use.
#include "agent/crypto/secret_env.h"

#include <openssl/crypto.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

extern char** environ;

namespace sdp {
namespace {

std::mutex g_mutex;
// Node-based: pointers handed out stay valid when other names are added.
std::map<std::string, SecretBuffer>& Kept() {
  static auto* kept = new std::map<std::string, SecretBuffer>();
  return *kept;
}

}  // namespace

const SecretBuffer* TakeSecretEnv(const std::string& name) {
  std::lock_guard<std::mutex> lock(g_mutex);
  bool found = false;
  // Every entry of that name (an execve() caller can pass duplicates): the first is kept, the
  // bytes of all of them are overwritten where they are, so the original block no longer
  // holds them.
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    char* text = *entry;
    if (std::strncmp(text, name.c_str(), name.size()) != 0 || text[name.size()] != '=') continue;
    char* value = text + name.size() + 1;
    const size_t size = std::strlen(value);
    if (!found) {
      Kept()[name] = SecretBuffer(reinterpret_cast<const uint8_t*>(value), size);
      found = true;
    }
    OPENSSL_cleanse(value, size);
  }
  if (found) ::unsetenv(name.c_str());
  const auto it = Kept().find(name);
  if (it == Kept().end() || it->second.empty()) return nullptr;
  return &it->second;
}

bool DisableCoreDumps(std::string* err) {
  const struct rlimit no_core = {0, 0};
  if (::setrlimit(RLIMIT_CORE, &no_core) != 0) {
    *err = std::string("cannot disable core dumps: ") + std::strerror(errno);
    return false;
  }
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    *err = std::string("cannot make the process non-dumpable: ") + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace sdp
