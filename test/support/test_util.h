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

// A fresh directory under /tmp, removed with its contents at scope exit.
class ScopedTempDir {
 public:
  ScopedTempDir() {
    char tmpl[] = "/tmp/sdp-test-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~ScopedTempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

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
