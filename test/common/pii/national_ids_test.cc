#include "common/pii/national_ids.h"

#include <gtest/gtest.h>

#include <string>

namespace sdp::pii {
namespace {

// The examples and near misses of python3-stdnum's doctests and their neighbours; the expected
// answers are stdnum's (the benchmark checks thousands more against stdnum itself).
TEST(NationalIds, GermanTaxId) {
  EXPECT_TRUE(IsDeTaxId("36574261809"));
  EXPECT_TRUE(IsDeTaxId("36 574 261 809"));
  EXPECT_TRUE(IsDeTaxId("65929970489"));
  EXPECT_FALSE(IsDeTaxId("36574261890"));  // check digit
  EXPECT_FALSE(IsDeTaxId("36554266806"));  // a digit four times
  EXPECT_FALSE(IsDeTaxId("06574261809"));  // leading zero
  EXPECT_FALSE(IsDeTaxId("3657426180"));   // 10 digits
  EXPECT_FALSE(IsDeTaxId("36574261809 1"));
}

TEST(NationalIds, FrenchNir) {
  EXPECT_TRUE(IsFrNir("295109912611193"));
  EXPECT_TRUE(IsFrNir("2 95 10 99 126 111 93"));
  EXPECT_TRUE(IsFrNir("253072B07300470"));  // Corsica
  EXPECT_FALSE(IsFrNir("253072C07300443"));
  EXPECT_FALSE(IsFrNir("295109912611199"));
  EXPECT_FALSE(IsFrNir("29510991261119"));
}

TEST(NationalIds, DutchBsn) {
  EXPECT_TRUE(IsNlBsn("111222333"));
  EXPECT_TRUE(IsNlBsn("1112.22.333"));
  EXPECT_TRUE(IsNlBsn("123456782"));
  EXPECT_FALSE(IsNlBsn("111252333"));
  EXPECT_FALSE(IsNlBsn("000000000"));
  EXPECT_FALSE(IsNlBsn("11122233"));
  EXPECT_FALSE(IsNlBsn("111.222.333"));
}

TEST(NationalIds, SpanishDniAndNie) {
  EXPECT_TRUE(IsEsDni("54362315K"));
  EXPECT_TRUE(IsEsDni("54362315-k"));
  EXPECT_TRUE(IsEsDni("X2482300W"));
  EXPECT_TRUE(IsEsDni("x-2482300w"));
  EXPECT_FALSE(IsEsDni("54362315Z"));
  EXPECT_FALSE(IsEsDni("5436231Z"));
  EXPECT_FALSE(IsEsDni("X2482300A"));
  EXPECT_FALSE(IsEsDni("A2482300W"));
}

TEST(NationalIds, ItalianCodiceFiscale) {
  for (const char* s : {"RCCMNL83S18D969H", "CNTCHR83T41D969D", "MRTMTT91D08F205J",
                        "MRTMTT25D09F205Z", "MLLSNT82P65Z404U", "rccmnl83s18d969h"}) {
    EXPECT_TRUE(IsItCodiceFiscale(s)) << s;
  }
  for (const char* s : {"RCCMNL83S18D969", "RCCMNL83S18D968H", "AAAAAA00A00A000A",
                        "RCCMNL83S18D969HX", "1CCMNL83S18D969H"}) {
    EXPECT_FALSE(IsItCodiceFiscale(s)) << s;
  }
}

TEST(NationalIds, PolishPesel) {
  EXPECT_TRUE(IsPlPesel("44051401359"));
  EXPECT_TRUE(IsPlPesel("02070803628"));
  EXPECT_TRUE(IsPlPesel("02270803624"));  // born 2002
  EXPECT_FALSE(IsPlPesel("44051401358"));
  EXPECT_FALSE(IsPlPesel("44133101350"));  // month 13
}

TEST(NationalIds, HostileInputs) {
  const std::string inputs[] = {"",
                                std::string(1 << 20, '1'),
                                std::string("3657426180\0", 11),
                                std::string("\xFF\xFE\xFD", 3),
                                std::string(100000, ' '),
                                std::string(100000, '.')};
  for (const std::string& s : inputs) {
    EXPECT_FALSE(IsDeTaxId(s));
    EXPECT_FALSE(IsFrNir(s));
    EXPECT_FALSE(IsNlBsn(s));
    EXPECT_FALSE(IsEsDni(s));
    EXPECT_FALSE(IsItCodiceFiscale(s));
    EXPECT_FALSE(IsPlPesel(s));
  }
}

}  // namespace
}  // namespace sdp::pii
