// Small fixtures shared by the agent tests.
#pragma once

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "agent/crypto/crypto_keys.h"

namespace sdp::testing {

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

// A fresh directory under /tmp, removed with its contents at scope exit. Every test that needs
// files on disk makes them here.
class ScopedTempDir {
 public:
  ScopedTempDir() {
    char tmpl[] = "/tmp/sdp-test-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) std::abort();  // no directory, no meaningful test
    path_ = tmpl;
  }
  ~ScopedTempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  // Writes File(name) with `data` and exactly `mode` (chmod, whatever the umask); returns its path.
  std::string Write(const std::string& name, const std::string& data, mode_t mode = 0600) const {
    const std::string file = File(name);
    WriteFile(file, data);
    ::chmod(file.c_str(), mode);
    return file;
  }

 private:
  std::string path_;
};

inline bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// The seeds' demo key and a second, different key.
inline constexpr const char* kDemoKey = "Miql-SH11OTpm4rFOh5QF7iNG2fPolSwwvvb1YceREw=";
inline constexpr const char* kOtherKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

inline KeyRing Keys(const char* key = kDemoKey) {
  KeyRing ring;
  std::string err;
  if (!KeyRing::FromEnvValue(key, &ring, &err)) std::abort();
  return ring;
}

}  // namespace sdp::testing
