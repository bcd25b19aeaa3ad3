// Every FF1, FF3 and FF3-1 vector of test/vectors/fpe_vectors.json, through
// the numeral API (both FF1 arithmetic paths) and, where the alphabet is
// ASCII, through FpeStringCipher.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "agent/crypto/fpe_alphabet.h"
#include "agent/crypto/fpe_ff1.h"
#include "agent/crypto/fpe_ff3.h"
#include "test/support/test_vectors.h"

namespace sdp {
namespace {

using testing_vectors::CodePoints;
using testing_vectors::LoadVectors;
using testing_vectors::Unhex;
using testing_vectors::UnhexString;

std::vector<uint16_t> ToNumerals(const std::vector<uint32_t>& alphabet, const std::string& text) {
  std::map<uint32_t, uint16_t> index;
  for (size_t i = 0; i < alphabet.size(); ++i) index[alphabet[i]] = static_cast<uint16_t>(i);
  std::vector<uint16_t> out;
  for (uint32_t cp : CodePoints(text)) {
    auto it = index.find(cp);
    if (it == index.end()) {
      ADD_FAILURE() << "character U+" << std::hex << cp << " not in the vector's alphabet";
      return {};
    }
    out.push_back(it->second);
  }
  return out;
}

bool IsAscii(const std::string& s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

TEST(FpeVectors, EveryVectorInTheFile) {
  nlohmann::json file = LoadVectors("fpe_vectors.json");
  ASSERT_TRUE(file.contains("vectors"));
  const auto& vectors = file["vectors"];
  ASSERT_TRUE(vectors.is_array());
  // The file held 89 vectors (33 FF1, 17 FF3, 39 FF3-1) when this was written;
  // fewer means someone truncated it.
  EXPECT_GE(vectors.size(), 89u);

  std::map<std::string, size_t> in_file, checked;
  size_t string_checked = 0;
  for (size_t idx = 0; idx < vectors.size(); ++idx) {
    const auto& v = vectors[idx];
    const std::string id = v.at("id").get<std::string>();
    SCOPED_TRACE("vector #" + std::to_string(idx) + " " + id);
    const std::string algorithm = v.at("algorithm").get<std::string>();
    ++in_file[algorithm];
    const std::vector<uint8_t> key = Unhex(v.at("key").get<std::string>());
    const std::string tweak = UnhexString(v.at("tweak").get<std::string>());
    const auto radix = v.at("radix").get<uint32_t>();
    const std::string alphabet_text = v.at("alphabet").get<std::string>();
    const std::vector<uint32_t> alphabet = CodePoints(alphabet_text);
    ASSERT_EQ(alphabet.size(), radix);
    const std::string pt_text = v.at("plaintext").get<std::string>();
    const std::string ct_text = v.at("ciphertext").get<std::string>();
    const std::vector<uint16_t> pt = ToNumerals(alphabet, pt_text);
    const std::vector<uint16_t> ct = ToNumerals(alphabet, ct_text);
    ASSERT_FALSE(pt.empty());
    ASSERT_EQ(pt.size(), ct.size());

    std::string err;
    std::vector<uint16_t> got;
    if (algorithm == "FF1") {
      Ff1 ff1;
      ASSERT_TRUE(ff1.Init(key.data(), key.size(), radix, &err)) << err;
      for (bool force_bignum : {false, true}) {
        SCOPED_TRACE(force_bignum ? "bignum path" : "default path");
        ff1.SetForceBignumPathForTesting(force_bignum);
        ASSERT_TRUE(ff1.Encrypt(pt, tweak, &got, &err)) << err;
        EXPECT_EQ(got, ct);
        ASSERT_TRUE(ff1.Decrypt(ct, tweak, &got, &err)) << err;
        EXPECT_EQ(got, pt);
      }
    } else if (algorithm == "FF3" || algorithm == "FF3-1") {
      const Ff3Variant variant =
          algorithm == "FF3" ? Ff3Variant::kWithdrawnFf3ForTestVectorsOnly : Ff3Variant::kFf3_1;
      Ff3 ff3;
      ASSERT_TRUE(ff3.Init(key.data(), key.size(), radix, &err, variant)) << err;
      ASSERT_TRUE(ff3.Encrypt(pt, tweak, &got, &err)) << err;
      EXPECT_EQ(got, ct);
      ASSERT_TRUE(ff3.Decrypt(ct, tweak, &got, &err)) << err;
      EXPECT_EQ(got, pt);
    } else {
      ADD_FAILURE() << "unknown algorithm " << algorithm;
      continue;
    }
    ++checked[algorithm];

    // The string layer must agree wherever it applies (ASCII alphabets, the
    // two algorithms it offers).
    if (algorithm != "FF3" && IsAscii(alphabet_text)) {
      FpeAlphabet alpha;
      ASSERT_TRUE(FpeAlphabet::Custom(alphabet_text, &alpha, &err)) << err;
      FpeStringCipher cipher;
      ASSERT_TRUE(cipher.Init(key.data(), key.size(),
                              algorithm == "FF1" ? FpeAlgorithm::kFf1 : FpeAlgorithm::kFf3_1, alpha,
                              &err))
          << err;
      std::string s;
      ASSERT_TRUE(cipher.Encrypt(pt_text, tweak, &s, &err)) << err;
      EXPECT_EQ(s, ct_text);
      ASSERT_TRUE(cipher.Decrypt(ct_text, tweak, &s, &err)) << err;
      EXPECT_EQ(s, pt_text);
      ++string_checked;
    }
  }
  EXPECT_EQ(checked, in_file) << "some vectors were not checked";
  EXPECT_EQ(checked["FF1"] + checked["FF3"] + checked["FF3-1"], vectors.size());
  EXPECT_GT(string_checked, 40u);
}

}  // namespace
}  // namespace sdp
