#include "common/csv_writer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <random>
#include <string>
#include <vector>

#include "common/csv_reader.h"

namespace sdp {
namespace {

using Table = std::vector<std::vector<std::string>>;

std::string Write(const Table& rows, const CsvWriterOptions& opts = CsvWriterOptions()) {
  StringByteSink sink;
  CsvWriter writer(&sink, opts);
  std::string err;
  for (const auto& r : rows) EXPECT_TRUE(writer.WriteRow(r, &err)) << err;
  EXPECT_TRUE(writer.Flush(&err));
  return sink.str();
}

Table Read(const std::string& csv, std::string* err) {
  MemoryByteSource src(csv);
  CsvReader reader(&src);
  CsvRow row;
  Table out;
  while (reader.Next(&row, err)) {
    out.emplace_back();
    for (size_t i = 0; i < row.size(); ++i) out.back().emplace_back(row.field(i));
  }
  return out;
}

TEST(CsvWriterTest, QuotesOnlyWhenNeeded) {
  EXPECT_EQ(Write({{"a", "b c", " lead", "trail ", ""}}), "a,b c, lead,trail ,\n");
  EXPECT_EQ(Write({{"a,b", "say \"hi\"", "x\ny", "x\ry", "\""}}),
            "\"a,b\",\"say \"\"hi\"\"\",\"x\ny\",\"x\ry\",\"\"\"\"\n");
}

TEST(CsvWriterTest, Utf8IsWrittenUnchanged) {
  std::string s = "\xE7\x8E\x8B\xF0\x9F\x98\x80";
  EXPECT_EQ(Write({{s, s + ","}}), s + ",\"" + s + ",\"\n");
}

TEST(CsvWriterTest, CrLfTerminator) {
  CsvWriterOptions opts;
  opts.line_ending = LineEnding::kCrLf;
  EXPECT_EQ(Write({{"a", "b"}, {"1", "2"}}, opts), "a,b\r\n1,2\r\n");
}

TEST(CsvWriterTest, LoneEmptyFieldIsQuotedSoItIsNotAnEmptyLine) {
  std::string csv = Write({{"h"}, {""}, {"x"}});
  EXPECT_EQ(csv, "h\n\"\"\nx\n");
  std::string err;
  EXPECT_EQ(Read(csv, &err), (Table{{"h"}, {""}, {"x"}}));
  EXPECT_EQ(Write({{"", ""}}), ",\n");
}

TEST(CsvWriterTest, LeadingBomInFirstFieldIsQuoted) {
  std::string bom = "\xEF\xBB\xBF";
  std::string csv = Write({{bom + "a", bom}});
  EXPECT_EQ(csv, "\"" + bom + "a\"," + bom + "\n");
  std::string err;
  EXPECT_EQ(Read(csv, &err), (Table{{bom + "a", bom}}));
  EXPECT_EQ(Write({{"\xFE\xFFx"}}), "\"\xFE\xFFx\"\n");
  EXPECT_EQ(Write({{"\xFF\xFEx"}}), "\"\xFF\xFEx\"\n");
  EXPECT_EQ(Write({{"a"}, {"\xFF\xFEx"}}), "a\n\xFF\xFEx\n");
}

TEST(CsvWriterTest, WriteBom) {
  CsvWriterOptions opts;
  opts.write_bom = true;
  std::string csv = Write({{"id"}, {"1"}}, opts);
  EXPECT_EQ(csv,
            "\xEF\xBB\xBF"
            "id\n1\n");
  MemoryByteSource src(csv);
  CsvReader reader(&src);
  CsvRow row;
  std::string err;
  ASSERT_TRUE(reader.Next(&row, &err));
  EXPECT_TRUE(reader.had_bom());
  EXPECT_EQ(row.field(0), "id");
}

TEST(CsvWriterTest, EscapeFormulas) {
  CsvWriterOptions opts;
  opts.escape_formulas = true;
  EXPECT_EQ(Write({{"=1+1", "+1", "-5", "@SUM(A1)", "\tx", "\ry", "a=b", ""}}, opts),
            "'=1+1,'+1,'-5,'@SUM(A1),'\tx,\"'\ry\",a=b,\n");
  EXPECT_EQ(Write({{"=HYPERLINK(\"x\")"}}, opts), "\"'=HYPERLINK(\"\"x\"\")\"\n");
  // Off by default.
  EXPECT_EQ(Write({{"=1+1", "-5"}}), "=1+1,-5\n");
}

TEST(CsvWriterTest, NulIsRejected) {
  StringByteSink sink;
  CsvWriter writer(&sink);
  std::string err;
  EXPECT_TRUE(writer.WriteRow(std::vector<std::string>{"a"}, &err));
  EXPECT_FALSE(writer.WriteField(std::string_view("x\0y", 3), &err));
  EXPECT_EQ(err,
            "field 1 of record 2 contains a NUL byte, which CSV readers reject; fix: remove it");
}

TEST(CsvWriterTest, EmptyRecordIsRejected) {
  StringByteSink sink;
  CsvWriter writer(&sink);
  std::string err;
  EXPECT_FALSE(writer.EndRow(&err));
  EXPECT_EQ(err, "record 1 has no fields; fix: a CSV record needs at least one field");
}

TEST(CsvWriterTest, FieldAtATimeAndRowCount) {
  std::string out;
  StringByteSink sink(&out);
  CsvWriter writer(&sink);
  std::string err;
  ASSERT_TRUE(writer.WriteField("a", &err));
  ASSERT_TRUE(writer.WriteField("b,c", &err));
  ASSERT_TRUE(writer.EndRow(&err));
  ASSERT_TRUE(writer.WriteField("d", &err));
  ASSERT_TRUE(writer.EndRow(LineEnding::kNone, &err));
  EXPECT_EQ(out, "a,\"b,c\"\nd");
  EXPECT_EQ(writer.rows_written(), 2u);
}

// tokenize -> detokenize must be able to reproduce an input byte for byte.
TEST(CsvWriterTest, PreserveQuotingReproducesInputByteForByte) {
  const std::vector<std::string> inputs = {
      "a,\"b\",c\n\"\",,\"x\"\"y\"\n",
      "\xEF\xBB\xBF\"id\",name\r\n1,\"Ann\"\r\n2,\"multi\r\nline\"",
      "h\n\"\"\n\"a,b\",\" \"\n",
      "x,y\r\n1,2\n3,4",
  };
  for (const std::string& input : inputs) {
    MemoryByteSource src(input);
    CsvReader reader(&src);
    std::string out;
    StringByteSink sink(&out);
    CsvWriterOptions opts;
    opts.preserve_quoting = true;
    CsvRow row;
    std::string err;
    std::unique_ptr<CsvWriter> writer;
    while (reader.Next(&row, &err)) {
      if (!writer) {
        opts.write_bom = reader.had_bom();
        writer.reset(new CsvWriter(&sink, opts));
      }
      ASSERT_TRUE(writer->WriteRowMirrored(row, &err)) << err;
    }
    ASSERT_EQ(err, "");
    EXPECT_EQ(out, input);
  }
}

TEST(CsvWriterTest, WithoutPreserveQuotingMinimalQuotes) {
  MemoryByteSource src("\"a\",\"b c\"\n");
  CsvReader reader(&src);
  CsvRow row;
  std::string err;
  ASSERT_TRUE(reader.Next(&row, &err));
  std::string out;
  StringByteSink sink(&out);
  CsvWriter writer(&sink);
  ASSERT_TRUE(writer.WriteRow(row, &err));
  EXPECT_EQ(out, "a,b c\n");
}

TEST(CsvWriterTest, RandomTablesRoundTrip) {
  std::mt19937 rng(7);
  const std::vector<std::string> pieces = {"a",
                                           "Z",
                                           "0",
                                           ",",
                                           "\"",
                                           "\n",
                                           "\r",
                                           "\r\n",
                                           " ",
                                           "\t",
                                           "=",
                                           "\xC3\xA9",
                                           "\xF0\x9F\x98\x80",
                                           "\xE7\x8E\x8B",
                                           "\xEF\xBB\xBF",
                                           ""};
  for (int iter = 0; iter < 500; ++iter) {
    size_t cols = 1 + rng() % 6, rows = rng() % 8;
    Table t(rows, std::vector<std::string>(cols));
    for (auto& r : t) {
      for (auto& cell : r) {
        size_t n = rng() % 6;
        for (size_t i = 0; i < n; ++i) cell += pieces[rng() % pieces.size()];
      }
    }
    CsvWriterOptions opts;
    opts.line_ending = rng() % 2 ? LineEnding::kCrLf : LineEnding::kLf;
    opts.write_bom = rng() % 4 == 0;
    std::string csv = Write(t, opts);
    std::string err;
    EXPECT_EQ(Read(csv, &err), t) << csv;
    EXPECT_EQ(err, "");
  }
}

TEST(FdByteSinkTest, BuffersAndFlushes) {
  char path[] = "/tmp/csv_writer_test_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  {
    FdByteSink sink(fd, 8);
    std::string err;
    ASSERT_TRUE(sink.Write("abc", 3, &err));
    EXPECT_EQ(lseek(fd, 0, SEEK_END), 0);  // still buffered
    ASSERT_TRUE(sink.Write("defghij", 7, &err));
    std::string big(100, 'x');
    ASSERT_TRUE(sink.Write(big.data(), big.size(), &err));  // bypasses the buffer
    ASSERT_TRUE(sink.Write("!", 1, &err));
    ASSERT_TRUE(sink.Flush(&err));
  }
  char buf[256];
  lseek(fd, 0, SEEK_SET);
  ssize_t n = read(fd, buf, sizeof(buf));
  EXPECT_EQ(std::string(buf, n), "abcdefghij" + std::string(100, 'x') + "!");
  close(fd);
  unlink(path);
  FdByteSink bad(-1, 4);
  std::string err;
  EXPECT_TRUE(bad.Write("ab", 2, &err));
  EXPECT_FALSE(bad.Flush(&err));
  EXPECT_EQ(err, "write failed: Bad file descriptor");
}

}  // namespace
}  // namespace sdp
