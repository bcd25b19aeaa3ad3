// Format-preserving encryption of text: FpeAlphabet maps characters to FF1 /
// FF3-1 numerals, and FpeStringCipher encrypts the characters of a string
// that belong to the alphabet while every other byte (dashes, spaces, UTF-8
// bytes >= 0x80) stays where it was. "4111-1111-1111-1111" with the digits
// alphabet stays 19 characters with the dashes in place.
//
// Alphabets are printable ASCII only, so a multi-byte UTF-8 character is
// never split: all its bytes are outside the alphabet and pass through.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/crypto/fpe_ff1.h"
#include "agent/crypto/fpe_ff3.h"
#include "agent/crypto/secret_buffer.h"

namespace sdp {

class FpeAlphabet {
 public:
  FpeAlphabet();

  // "digits" (0-9), "alnum" (0-9a-zA-Z), "lower" (a-z), "upper" (A-Z).
  static bool Named(std::string_view name, FpeAlphabet* out, std::string* err);
  // At least 2 unique printable ASCII characters (0x20..0x7E); numeral i is
  // chars[i].
  static bool Custom(std::string_view chars, FpeAlphabet* out, std::string* err);
  // A name as in Named(), or "custom:<chars>" (config-file syntax).
  static bool FromSpec(std::string_view spec, FpeAlphabet* out, std::string* err);

  uint32_t radix() const { return static_cast<uint32_t>(chars_.size()); }
  const std::string& chars() const { return chars_; }
  // Numeral of c, or -1 if c is not in the alphabet.
  int NumeralOf(char c) const { return index_[static_cast<uint8_t>(c)]; }
  char CharOf(uint16_t numeral) const { return chars_[numeral]; }

 private:
  std::string chars_;
  std::array<int16_t, 256> index_;
};

enum class FpeAlgorithm { kFf1, kFf3_1 };

// "ff1" or "ff3-1" (case-insensitive).
bool ParseFpeAlgorithm(std::string_view name, FpeAlgorithm* out, std::string* err);
const char* FpeAlgorithmName(FpeAlgorithm algorithm);  // "FF1" / "FF3-1"

// Not thread-safe (see Ff1/Ff3): one instance per thread.
class FpeStringCipher {
 public:
  // key: 16, 24 or 32 bytes.
  bool Init(const SecretBuffer& key, FpeAlgorithm algorithm, const FpeAlphabet& alphabet,
            std::string* err);
  bool Init(const uint8_t* key, size_t key_len, FpeAlgorithm algorithm, const FpeAlphabet& alphabet,
            std::string* err);

  // tweak: any bytes for FF1; exactly 7 bytes for FF3-1.
  bool Encrypt(std::string_view in, std::string_view tweak, std::string* out,
               std::string* err) const;
  bool Decrypt(std::string_view in, std::string_view tweak, std::string* out,
               std::string* err) const;

  FpeAlgorithm algorithm() const { return algorithm_; }
  const FpeAlphabet& alphabet() const { return alphabet_; }
  // Fewest / most alphabet characters a value may have.
  size_t min_length() const;
  size_t max_length() const;  // SIZE_MAX-like bound for FF1

 private:
  bool Crypt(bool encrypt, std::string_view in, std::string_view tweak, std::string* out,
             std::string* err) const;

  FpeAlgorithm algorithm_ = FpeAlgorithm::kFf1;
  FpeAlphabet alphabet_;
  Ff1 ff1_;
  Ff3 ff3_;
  bool initialized_ = false;
};

}  // namespace sdp
