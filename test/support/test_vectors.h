// Helpers for the known-answer tests: locate and parse test/vectors/*.json.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "common/hex.h"

#ifndef SDP_SOURCE_DIR
#define SDP_SOURCE_DIR "."
#endif

namespace sdp {
namespace testing_vectors {

// $SDP_VECTORS_DIR, else <source dir>/test/vectors.
inline std::string VectorsDir() {
  const char* env = std::getenv("SDP_VECTORS_DIR");
  if (env != nullptr && *env != '\0') return env;
  return std::string(SDP_SOURCE_DIR) + "/test/vectors";
}

// Parses a vectors file; a missing or malformed file is a test failure, never
// a silent skip.
inline nlohmann::json LoadVectors(const std::string& file) {
  const std::string path = VectorsDir() + "/" + file;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot open " << path << " (set SDP_VECTORS_DIR)";
    return nlohmann::json();
  }
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    ADD_FAILURE() << "invalid JSON in " << path;
    return nlohmann::json();
  }
  return j;
}

inline std::vector<uint8_t> Unhex(const std::string& hex) {
  std::vector<uint8_t> out;
  std::string err;
  if (!HexDecode(hex, &out, &err)) ADD_FAILURE() << "bad hex in vector file: " << err;
  return out;
}

inline std::string UnhexString(const std::string& hex) {
  std::vector<uint8_t> b = Unhex(hex);
  return std::string(b.begin(), b.end());
}

// Splits UTF-8 into code points (the FPE vector alphabets include non-ASCII
// characters such as 'ẞ').
inline std::vector<uint32_t> CodePoints(std::string_view s) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<uint8_t>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k < len && i + k < s.size(); ++k) {
      cp = cp << 6 | (static_cast<uint8_t>(s[i + k]) & 0x3F);
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

}  // namespace testing_vectors
}  // namespace sdp
