#include "agent/scan/cell_classifier.h"

#include <gtest/gtest.h>

#include <string>

#include "agent/scan/normalize.h"

namespace sdp::scan {
namespace {

ClassMask ClassesOf(const CellClassifier& c, const std::string& raw) {
  std::string cell;
  NormalizeCell(raw, &cell);
  CellMatch m;
  c.Classify(cell, &m);
  return m.classes;
}

TEST(CellClassifier, EveryValueClassByContent) {
  CellClassifier c;
  struct Case {
    const char* cell;
    PiiClass cls;
  };
  const Case cases[] = {
      {"jane.doe@example.com", PiiClass::kEmail},
      {"zo\u00EB.m\u00FCller@example.de", PiiClass::kEmail},
      {"4111 1111 1111 1111", PiiClass::kPaymentCard},
      {"GB82 WEST 1234 5698 7654 32", PiiClass::kIban},
      {"DE89370400440532013000", PiiClass::kIban},
      {"536-90-4399", PiiClass::kUsSsn},
      {"36 574 261 809", PiiClass::kDeTaxId},
      {"2 95 10 99 126 111 93", PiiClass::kFrNir},
      {"253072B07300470", PiiClass::kFrNir},
      {"1112.22.333", PiiClass::kNlBsn},
      {"54362315K", PiiClass::kEsDni},
      {"X2482300W", PiiClass::kEsDni},
      {"RCCMNL83S18D969H", PiiClass::kItCodiceFiscale},
      {"44051401359", PiiClass::kPlPesel},
      {"192.0.2.17", PiiClass::kIpv4},
      {"2001:db8::8a2e:370:7334", PiiClass::kIpv6},
      {"1984-03-12", PiiClass::kDateOfBirth},
      {"12/03/1984", PiiClass::kDateOfBirth},
      {"221B Baker Street, London NW1 6XE", PiiClass::kPostalAddress},
      {"Hauptstra\u00DFe 5, 10115 Berlin", PiiClass::kPostalAddress},
      {"12 Rue de la Paix, 75002 Paris", PiiClass::kPostalAddress},
  };
  for (const Case& k : cases) {
    EXPECT_TRUE(ClassesOf(c, k.cell) & Bit(k.cls)) << k.cell << " -> " << PiiClassName(k.cls);
  }
}

TEST(CellClassifier, ObfuscatedValuesAreFoundAfterNormalization) {
  CellClassifier c;
  // Full-width digits, NBSP, zero-width space, soft hyphen, Unicode dashes, ideographic stop.
  EXPECT_TRUE(ClassesOf(c, "\uFF14\uFF11\uFF11\uFF11\u00A01111\u200B 1111\u00AD 1111") &
              Bit(PiiClass::kPaymentCard));
  EXPECT_TRUE(ClassesOf(c, "536\u201390\u20114399") & Bit(PiiClass::kUsSsn));
  EXPECT_TRUE(ClassesOf(c, "jane\uFF20example\u3002com") & Bit(PiiClass::kEmail));
  EXPECT_TRUE(ClassesOf(c, "\uFF27\uFF22\uFF18\uFF12WEST12345698765432") & Bit(PiiClass::kIban));
}

TEST(CellClassifier, NearMissesMatchNothing) {
  CellClassifier c;
  for (const char* s :
       {"4111111111111112", "GB82WEST12345698765433", "666-12-3456", "36574261890", "1112.52.333",
        "54362315Z", "RCCMNL83S18D968H", "44051401358", "256.1.1.1", "2024-02-30", "SKU-12345-A",
        "12345.67", "https://example.com/a@b", "true", "3f2a9c"}) {
    EXPECT_EQ(ClassesOf(c, s), 0u) << s;
  }
}

TEST(CellClassifier, PhonesNamesAndProse) {
  CellClassifier c;
  CellMatch m;
  c.Classify("+44 20 7946 0958", &m);
  EXPECT_TRUE(m.phone_shape);
  EXPECT_TRUE(c.CheckPhone("+44 20 7946 0958"));
  EXPECT_TRUE(c.CheckPhone("(202) 555-0123"));
  EXPECT_TRUE(c.CheckPhone("06 12 34 56 78"));
  EXPECT_FALSE(c.CheckPhone("+44 20 7946 095"));

  c.Classify("Jean-Luc O'Brien", &m);
  EXPECT_TRUE(m.name_shape);
  EXPECT_TRUE(m.name_known);
  c.Classify("Zorblax Quentavir", &m);
  EXPECT_TRUE(m.name_shape);
  EXPECT_FALSE(m.name_known);
  c.Classify("retail", &m);
  EXPECT_FALSE(m.name_shape);

  c.Classify("Please send the statement to jane.doe@example.com before Friday", &m);
  EXPECT_TRUE(m.text);
  EXPECT_TRUE(m.embedded & Bit(PiiClass::kEmail));
  c.Classify("Card 4111 1111 1111 1111 was declined twice", &m);
  EXPECT_TRUE(m.embedded & Bit(PiiClass::kPaymentCard));
  c.Classify("Customer called from +44 20 7946 0958 about invoice 48213", &m);
  EXPECT_TRUE(m.embedded & Bit(PiiClass::kPhone));
  c.Classify("Order 48213 shipped in 3 boxes, delivery expected on Monday", &m);
  EXPECT_TRUE(m.text);
  EXPECT_EQ(m.embedded, 0u);
}

TEST(CellClassifier, DateYearFormats) {
  EXPECT_EQ(DateYear("1984-03-12"), 1984);
  EXPECT_EQ(DateYear("1984/03/12"), 1984);
  EXPECT_EQ(DateYear("12.03.1984"), 1984);
  EXPECT_EQ(DateYear("03/31/1984"), 1984);  // US order
  EXPECT_EQ(DateYear("31-03-1984"), 1984);
  EXPECT_EQ(DateYear("1984-13-01"), 0);
  EXPECT_EQ(DateYear("2023-02-29"), 0);
  EXPECT_EQ(DateYear("2024-02-29"), 2024);
  EXPECT_EQ(DateYear("1984-03-1"), 0);
  EXPECT_EQ(DateYear("1984-03/12"), 0);
}

TEST(CellClassifier, HostileCellsAreCheap) {
  CellClassifier c;
  CellMatch m;
  const std::string cells[] = {
      std::string(1 << 20, 'a') + "@b.com", std::string(1 << 20, '4'),
      std::string(1 << 18, ' ') + "x",      "word " + std::string(1 << 20, '1'),
      std::string("a\0b@example.com", 15),  std::string("\xFF\xFE\xFD\xFC", 4)};
  for (const std::string& s : cells) {
    c.Classify(s, &m);
    EXPECT_EQ(m.classes, 0u);
  }
}

}  // namespace
}  // namespace sdp::scan
