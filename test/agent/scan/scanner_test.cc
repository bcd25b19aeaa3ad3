#include "agent/scan/scanner.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "test/support/test_util.h"

namespace sdp::scan {
namespace {

using sdp::testing::ScopedTempDir;
using sdp::testing::WriteFile;

std::map<std::string, PiiClass> Classes(const ScanReport& r) {
  std::map<std::string, PiiClass> out;
  for (const ColumnReport& c : r.columns) out[c.name] = c.verdict.cls;
  return out;
}

std::string CsvRows(bool header, int rows) {
  std::string s = header ? "id,contact,card,amount\n" : "";
  const char* emails[] = {"ann@example.com", "bob@example.org", "cy@example.net"};
  const char* cards[] = {"4111111111111111", "5555555555554444", "378282246310005"};
  for (int i = 0; i < rows; ++i) {
    s += "C" + std::to_string(1000 + i) + "," + emails[i % 3] + "," + cards[i % 3] + "," +
         std::to_string(i * 7 % 1000) + ".50\n";
  }
  return s;
}

TEST(Scanner, CsvWithAndWithoutHeader) {
  ScopedTempDir dir;
  const std::string with = dir.path() + "/with.csv", without = dir.path() + "/without.csv";
  WriteFile(with, CsvRows(true, 1000));
  WriteFile(without, CsvRows(false, 1000));
  ScanOptions o;
  ScanReport r;
  std::string err;
  o.input = with;
  ASSERT_TRUE(ScanFile(o, &r, &err)) << err;
  EXPECT_TRUE(r.header);
  EXPECT_EQ(r.rows, 1000u);
  EXPECT_EQ(r.sampled, kDefaultSampleRows);
  auto c = Classes(r);
  EXPECT_EQ(c["contact"], PiiClass::kEmail);
  EXPECT_EQ(c["card"], PiiClass::kPaymentCard);
  EXPECT_EQ(c["id"], PiiClass::kNotPii);
  EXPECT_EQ(c["amount"], PiiClass::kNotPii);

  o.input = without;
  ASSERT_TRUE(ScanFile(o, &r, &err)) << err;
  EXPECT_FALSE(r.header);
  EXPECT_EQ(r.rows, 1000u);
  c = Classes(r);
  EXPECT_EQ(c["col_2"], PiiClass::kEmail);
  EXPECT_EQ(c["col_3"], PiiClass::kPaymentCard);
}

TEST(Scanner, SampleIsReproducibleAndAllReadsEveryRow) {
  ScopedTempDir dir;
  const std::string path = dir.path() + "/f.csv";
  WriteFile(path, CsvRows(true, 5000));
  ScanOptions o;
  o.input = path;
  ScanReport a, b;
  std::string err;
  ASSERT_TRUE(ScanFile(o, &a, &err));
  ASSERT_TRUE(ScanFile(o, &b, &err));
  ASSERT_EQ(a.columns.size(), b.columns.size());
  for (size_t i = 0; i < a.columns.size(); ++i) {
    EXPECT_EQ(a.columns[i].verdict.example, b.columns[i].verdict.example);
    EXPECT_EQ(a.columns[i].verdict.share, b.columns[i].verdict.share);
  }
  o.sample_rows = 0;
  ASSERT_TRUE(ScanFile(o, &a, &err));
  EXPECT_EQ(a.sampled, 5000u);
  EXPECT_EQ(a.columns[1].verdict.cells, 5000u);
}

TEST(Scanner, JsonPathsAndArrays) {
  ScopedTempDir dir;
  const std::string path = dir.path() + "/f.json";
  std::string s = "[";
  for (int i = 0; i < 100; ++i) {
    if (i > 0) s += ",";
    s += R"({"id": )" + std::to_string(i) + R"(, "person": {"email": "p)" + std::to_string(i) +
         R"(@example.com", "phones": ["+44 20 7946 0958", "+1 202 555 0123"]},)"
         R"( "ips": [{"v4": "192.0.2.)" +
         std::to_string(i % 250) + R"("}], "note": null})";
  }
  WriteFile(path, s + "]");
  ScanOptions o;
  o.input = path;
  ScanReport r;
  std::string err;
  ASSERT_TRUE(ScanFile(o, &r, &err)) << err;
  EXPECT_EQ(r.format, InputFormat::kJson);
  auto c = Classes(r);
  EXPECT_EQ(c["person.email"], PiiClass::kEmail);
  EXPECT_EQ(c["person.phones[]"], PiiClass::kPhone);
  EXPECT_EQ(c["ips[].v4"], PiiClass::kIpv4);
  EXPECT_EQ(c["id"], PiiClass::kNotPii);
  EXPECT_EQ(c.count("note"), 0u);  // only nulls: no cells
}

TEST(Scanner, NdjsonAndItsErrors) {
  ScopedTempDir dir;
  const std::string path = dir.path() + "/f.ndjson";
  std::string s;
  for (int i = 0; i < 50; ++i) s += R"({"ssn": "536-90-4)" + std::to_string(100 + i) + "\"}\n";
  WriteFile(path, s + "\n");
  ScanOptions o;
  o.input = path;
  ScanReport r;
  std::string err;
  ASSERT_TRUE(ScanFile(o, &r, &err)) << err;
  EXPECT_EQ(Classes(r)["ssn"], PiiClass::kUsSsn);
  EXPECT_EQ(r.rows, 50u);

  WriteFile(path, s + "{not json\n");
  EXPECT_FALSE(ScanFile(o, &r, &err));
  EXPECT_NE(err.find("line 51: not valid JSON"), std::string::npos) << err;
  EXPECT_NE(err.find("; fix: "), std::string::npos);
}

TEST(Scanner, UnreadableAndMalformedInputsAreOneLineErrors) {
  ScopedTempDir dir;
  ScanOptions o;
  ScanReport r;
  std::string err;
  o.input = dir.path() + "/missing.csv";
  EXPECT_FALSE(ScanFile(o, &r, &err));
  EXPECT_NE(err.find("cannot open"), std::string::npos);
  o.input = dir.path() + "/bad.csv";
  WriteFile(o.input, "a,b\n\"x,y\n");
  EXPECT_FALSE(ScanFile(o, &r, &err));
  EXPECT_EQ(err.find('\n'), std::string::npos);
  o.input = dir.path() + "/bad.json";
  WriteFile(o.input, "[{\"a\": 1},");
  EXPECT_FALSE(ScanFile(o, &r, &err));
  EXPECT_NE(err.find("not valid JSON"), std::string::npos);
}

TEST(Scanner, FormatFromExtension) {
  EXPECT_EQ(FormatOfPath("a.JSON"), InputFormat::kJson);
  EXPECT_EQ(FormatOfPath("a.jsonl"), InputFormat::kNdjson);
  EXPECT_EQ(FormatOfPath("a.ndjson"), InputFormat::kNdjson);
  EXPECT_EQ(FormatOfPath("a.txt"), InputFormat::kCsv);
}

}  // namespace
}  // namespace sdp::scan
