// Format-preserving encryption over a column's alphabet: maps text to numerals and back around
// FF1/FF3-1.
#include "agent/crypto/fpe_alphabet.h"

#include <openssl/crypto.h>

#include <vector>

#include "common/shown_value.h"
#include "common/text.h"

namespace sdp {
namespace {

constexpr char kDigits[] = "0123456789";
constexpr char kLower[] = "abcdefghijklmnopqrstuvwxyz";
constexpr char kUpper[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

// Numerals are wiped after use: they are the plaintext.
struct WipedNumerals {
  std::vector<uint16_t> v;
  ~WipedNumerals() {
    if (!v.empty()) OPENSSL_cleanse(v.data(), v.size() * sizeof(uint16_t));
  }
};

}  // namespace

FpeAlphabet::FpeAlphabet() { index_.fill(-1); }

bool FpeAlphabet::Named(std::string_view name, FpeAlphabet* out, std::string* err) {
  std::string chars;
  if (name == "digits") {
    chars = kDigits;
  } else if (name == "alnum") {
    chars = std::string(kDigits) + kLower + kUpper;
  } else if (name == "lower") {
    chars = kLower;
  } else if (name == "upper") {
    chars = kUpper;
  } else {
    *err = "unknown FPE alphabet " + QuotedValue(name) +
           " (expected digits, alnum, lower, upper or custom:<characters>)";
    return false;
  }
  return Custom(chars, out, err);
}

bool FpeAlphabet::Custom(std::string_view chars, FpeAlphabet* out, std::string* err) {
  FpeAlphabet a;
  for (size_t i = 0; i < chars.size(); ++i) {
    const char c = chars[i];
    if (c < 0x20 || c > 0x7E) {
      *err = "FPE alphabet: character at offset " + std::to_string(i) +
             " is not printable ASCII (0x20..0x7E)";
      return false;
    }
    int16_t& slot = a.index_[static_cast<uint8_t>(c)];
    if (slot >= 0) {
      *err = std::string("FPE alphabet: character '") + c + "' at offset " + std::to_string(i) +
             " repeats offset " + std::to_string(slot);
      return false;
    }
    slot = static_cast<int16_t>(i);
  }
  if (chars.size() < 2) {
    *err = "FPE alphabet needs at least 2 characters, got " + std::to_string(chars.size());
    return false;
  }
  a.chars_ = std::string(chars);
  *out = std::move(a);
  return true;
}

bool FpeAlphabet::FromSpec(std::string_view spec, FpeAlphabet* out, std::string* err) {
  constexpr std::string_view kCustom = "custom:";
  if (spec.substr(0, kCustom.size()) == kCustom) {
    return Custom(spec.substr(kCustom.size()), out, err);
  }
  return Named(spec, out, err);
}

bool ParseFpeAlgorithm(std::string_view name, FpeAlgorithm* out, std::string* err) {
  if (EqualsIgnoreCase(name, "ff1")) {
    *out = FpeAlgorithm::kFf1;
    return true;
  }
  if (EqualsIgnoreCase(name, "ff3-1")) {
    *out = FpeAlgorithm::kFf3_1;
    return true;
  }
  *err = "unknown FPE algorithm " + QuotedValue(name) + " (expected ff1 or ff3-1)";
  return false;
}

const char* FpeAlgorithmName(FpeAlgorithm algorithm) {
  return algorithm == FpeAlgorithm::kFf1 ? "FF1" : "FF3-1";
}

bool FpeStringCipher::Init(const SecretBuffer& key, FpeAlgorithm algorithm,
                           const FpeAlphabet& alphabet, std::string* err) {
  return Init(key.data(), key.size(), algorithm, alphabet, err);
}

bool FpeStringCipher::Init(const uint8_t* key, size_t key_len, FpeAlgorithm algorithm,
                           const FpeAlphabet& alphabet, std::string* err) {
  initialized_ = false;
  if (alphabet.radix() < 2) {
    *err = "FPE alphabet is not initialised";
    return false;
  }
  const bool ok = algorithm == FpeAlgorithm::kFf1
                      ? ff1_.Init(key, key_len, alphabet.radix(), err)
                      : ff3_.Init(key, key_len, alphabet.radix(), err, Ff3Variant::kFf3_1);
  if (!ok) return false;
  algorithm_ = algorithm;
  alphabet_ = alphabet;
  initialized_ = true;
  return true;
}

size_t FpeStringCipher::min_length() const { return FpeMinLength(alphabet_.radix()); }

size_t FpeStringCipher::max_length() const {
  return algorithm_ == FpeAlgorithm::kFf1 ? size_t{UINT32_MAX} : Ff3MaxLength(alphabet_.radix());
}

bool FpeStringCipher::Encrypt(std::string_view in, std::string_view tweak, std::string* out,
                              std::string* err) const {
  return Crypt(true, in, tweak, out, err);
}

bool FpeStringCipher::Decrypt(std::string_view in, std::string_view tweak, std::string* out,
                              std::string* err) const {
  return Crypt(false, in, tweak, out, err);
}

bool FpeStringCipher::Crypt(bool encrypt, std::string_view in, std::string_view tweak,
                            std::string* out, std::string* err) const {
  out->clear();
  if (!initialized_) {
    *err = "FPE cipher used before Init";
    return false;
  }
  WipedNumerals numerals, result;
  numerals.v.reserve(in.size());
  for (char c : in) {
    const int x = alphabet_.NumeralOf(c);
    if (x >= 0) numerals.v.push_back(static_cast<uint16_t>(x));
  }
  const size_t n = numerals.v.size();
  const char* name = FpeAlgorithmName(algorithm_);
  const std::string radix = std::to_string(alphabet_.radix());
  if (n < min_length()) {
    *err = "value has " + std::to_string(n) + " alphabet characters; " + name + " over radix " +
           radix + " needs at least " + std::to_string(min_length());
    return false;
  }
  if (n > max_length()) {
    *err = "value has " + std::to_string(n) + " alphabet characters; " + name + " over radix " +
           radix + " allows at most " + std::to_string(max_length());
    return false;
  }
  bool ok;
  if (algorithm_ == FpeAlgorithm::kFf1) {
    ok = encrypt ? ff1_.Encrypt(numerals.v, tweak, &result.v, err)
                 : ff1_.Decrypt(numerals.v, tweak, &result.v, err);
  } else {
    ok = encrypt ? ff3_.Encrypt(numerals.v, tweak, &result.v, err)
                 : ff3_.Decrypt(numerals.v, tweak, &result.v, err);
  }
  if (!ok) return false;
  // Splice the new numerals into the positions of the old ones.
  std::string s(in);
  size_t k = 0;
  for (char& c : s) {
    if (alphabet_.NumeralOf(c) >= 0) c = alphabet_.CharOf(result.v[k++]);
  }
  *out = std::move(s);
  return true;
}

}  // namespace sdp
