#include "agent/scan/column_judge.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sdp::scan {
namespace {

ColumnVerdict Judge(const std::string& header, const std::vector<std::string>& cells) {
  CellClassifier classifier;
  ColumnJudge j(header, 2026);
  for (const std::string& c : cells) j.Add(c, classifier);
  return j.Verdict();
}

std::vector<std::string> Repeat(const std::vector<std::string>& v, size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) out.push_back(v[i % v.size()]);
  return out;
}

TEST(ColumnJudge, ContentDecidesWhateverTheHeader) {
  const auto emails = Repeat({"ann@example.com", "bob.k@example.org", "c_d@mail.example.net"}, 50);
  EXPECT_EQ(Judge("col_7", emails).cls, PiiClass::kEmail);
  EXPECT_EQ(Judge("", emails).cls, PiiClass::kEmail);
  EXPECT_EQ(Judge("url", emails).cls, PiiClass::kEmail);  // a wrong header does not win
  const auto cards = Repeat({"4111111111111111", "5555555555554444", "378282246310005"}, 50);
  EXPECT_EQ(Judge("col_1", cards).cls, PiiClass::kPaymentCard);
  EXPECT_GE(Judge("col_1", cards).confidence, 0.95);
}

TEST(ColumnJudge, HeaderHintTipsAnUncertainColumn) {
  // 40% valid card numbers, the rest short references: enough with a "card" header, not
  // without (a 16-digit number passes Luhn one time in ten by chance).
  auto cells = Repeat({"4111111111111111", "5555555555554444", "REF-1", "REF-2", "REF-3"}, 100);
  EXPECT_EQ(Judge("card_number", cells).cls, PiiClass::kPaymentCard);
  EXPECT_EQ(Judge("col_3", cells).cls, PiiClass::kNotPii);
  // An IBAN never validates by chance: a minority of them is reported even without a header,
  // with a lower confidence than with one.
  auto ibans = Repeat({"GB82WEST12345698765432", "x", "y", "z", "w"}, 100);
  const ColumnVerdict hinted = Judge("iban", ibans), bare = Judge("col_3", ibans);
  EXPECT_EQ(hinted.cls, PiiClass::kIban);
  EXPECT_EQ(bare.cls, PiiClass::kIban);
  EXPECT_GT(hinted.confidence, bare.confidence);
}

TEST(ColumnJudge, NamesNeedKnownNamesNotJustCapitals) {
  EXPECT_EQ(
      Judge("", Repeat({"Anna Schmidt", "Jean Dupont", "Zorblax Quentavir", "Mary Smith"}, 40)).cls,
      PiiClass::kPersonName);
  EXPECT_EQ(Judge("", Repeat({"London", "Paris", "Berlin", "Madrid", "Dublin"}, 40)).cls,
            PiiClass::kNotPii);
  EXPECT_EQ(Judge("", Repeat({"Electronics", "Garden", "Toys", "Books"}, 40)).cls,
            PiiClass::kNotPii);
}

TEST(ColumnJudge, BirthDatesAndOtherDates) {
  EXPECT_EQ(Judge("", Repeat({"1984-03-12", "1950-11-02", "2001-07-30"}, 30)).cls,
            PiiClass::kDateOfBirth);
  EXPECT_EQ(Judge("", Repeat({"2024-03-12", "2025-11-02", "2021-07-30"}, 30)).cls,
            PiiClass::kNotPii);
  EXPECT_EQ(Judge("date_of_birth", Repeat({"2024-03-12", "2025-11-02"}, 30)).cls,
            PiiClass::kDateOfBirth);
}

TEST(ColumnJudge, OneProseCellWithPiiFlagsTheColumn) {
  std::vector<std::string> cells = Repeat({"Order shipped in three boxes on Monday morning",
                                           "No answer on the first attempt, left a message"},
                                          200);
  EXPECT_EQ(Judge("notes", cells).cls, PiiClass::kNotPii);
  cells[17] = "Please send the statement to jane.doe@example.com before Friday";
  const ColumnVerdict v = Judge("notes", cells);
  EXPECT_EQ(v.cls, PiiClass::kFreeTextPii);
  EXPECT_EQ(v.example.find("jane.doe"), std::string::npos);  // masked
}

TEST(ColumnJudge, ExamplesAreMaskedNeverRaw) {
  const std::vector<std::string> cells = Repeat({"4111111111111111"}, 10);
  const ColumnVerdict v = Judge("", cells);
  EXPECT_NE(v.example, "4111111111111111");
  EXPECT_EQ(v.example.find("411111"), std::string::npos);
  const ColumnVerdict n = Judge("", Repeat({"secret-looking value 123"}, 10));
  EXPECT_EQ(n.cls, PiiClass::kNotPii);
  EXPECT_EQ(n.example.find("secret"), std::string::npos);
}

TEST(ColumnJudge, EmptyColumn) {
  const ColumnVerdict v = Judge("email", {"", " ", ""});
  EXPECT_EQ(v.cls, PiiClass::kNotPii);
  EXPECT_EQ(v.cells, 0u);
}

TEST(HeaderHint, CommonHeaders) {
  EXPECT_EQ(HeaderHint("E_Mail"), PiiClass::kEmail);
  EXPECT_EQ(HeaderHint("dob"), PiiClass::kDateOfBirth);
  EXPECT_EQ(HeaderHint("mobile_phone"), PiiClass::kPhone);
  EXPECT_EQ(HeaderHint("customer_name"), PiiClass::kPersonName);
  EXPECT_EQ(HeaderHint("file_name"), PiiClass::kNotPii);
  EXPECT_EQ(HeaderHint("col_7"), PiiClass::kNotPii);
}

}  // namespace
}  // namespace sdp::scan
