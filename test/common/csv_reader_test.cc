#include "common/csv_reader.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/csv_writer.h"

namespace sdp {
namespace {

using Table = std::vector<std::vector<std::string>>;

// Returns at most `step` bytes per call (1 = the harshest chunking), or random
// sizes in [1, step] when `random` is set.
class ChunkedSource : public ByteSource {
 public:
  ChunkedSource(std::string data, size_t step, bool random = false, unsigned seed = 1)
      : data_(std::move(data)), step_(step), random_(random), rng_(seed) {}
  long Read(char* buf, size_t n, std::string*) override {
    size_t take = step_;
    if (random_) take = std::uniform_int_distribution<size_t>(1, step_)(rng_);
    take = std::min({take, n, data_.size() - pos_});
    memcpy(buf, data_.data() + pos_, take);
    pos_ += take;
    return static_cast<long>(take);
  }

 private:
  std::string data_;
  size_t step_;
  bool random_;
  std::mt19937 rng_;
  size_t pos_ = 0;
};

class FailingSource : public ByteSource {
 public:
  long Read(char* buf, size_t n, std::string* err) override {
    if (calls_++ == 0 && n > 0) {
      memcpy(buf, "a,b\n", 4);
      return 4;
    }
    *err = "disk on fire";
    return -1;
  }

 private:
  int calls_ = 0;
};

struct Parsed {
  Table rows;
  std::vector<std::vector<bool>> quoted;
  std::vector<uint64_t> lines;
  std::vector<LineEnding> endings;
  std::string error;
  bool had_bom = false;
  LineEnding line_ending = LineEnding::kLf;
};

Parsed ParseFrom(ByteSource* src, const CsvReaderOptions& opts = CsvReaderOptions()) {
  Parsed out;
  CsvReader reader(src, opts);
  CsvRow row;
  std::string err;
  while (reader.Next(&row, &err)) {
    std::vector<std::string> cells;
    std::vector<bool> q;
    for (size_t i = 0; i < row.size(); ++i) {
      cells.emplace_back(row.field(i));
      q.push_back(row.was_quoted(i));
    }
    out.rows.push_back(cells);
    out.quoted.push_back(q);
    out.lines.push_back(reader.line());
    out.endings.push_back(row.ending());
    EXPECT_EQ(reader.record_number(), out.rows.size());
  }
  out.error = err;
  out.had_bom = reader.had_bom();
  out.line_ending = reader.line_ending();
  // Errors are sticky.
  if (!err.empty()) {
    std::string again;
    EXPECT_FALSE(reader.Next(&row, &again));
    EXPECT_EQ(again, err);
  }
  return out;
}

Parsed Parse(const std::string& input, const CsvReaderOptions& opts = CsvReaderOptions()) {
  MemoryByteSource src(input);
  Parsed whole = ParseFrom(&src, opts);
  // Every input must parse identically whatever the chunking.
  ChunkedSource one(input, 1);
  Parsed bytewise = ParseFrom(&one, opts);
  EXPECT_EQ(bytewise.rows, whole.rows) << "1-byte chunks differ";
  EXPECT_EQ(bytewise.quoted, whole.quoted);
  EXPECT_EQ(bytewise.lines, whole.lines);
  EXPECT_EQ(bytewise.error, whole.error);
  EXPECT_EQ(bytewise.had_bom, whole.had_bom);
  for (unsigned seed = 1; seed <= 3; ++seed) {
    ChunkedSource random(input, 7, true, seed);
    Parsed r = ParseFrom(&random, opts);
    EXPECT_EQ(r.rows, whole.rows) << "random chunks differ, seed " << seed;
    EXPECT_EQ(r.error, whole.error);
  }
  // A tiny reader buffer exercises refills mid-token the same way.
  CsvReaderOptions small = opts;
  small.buffer_size = 5;
  MemoryByteSource src2(input);
  Parsed tiny = ParseFrom(&src2, small);
  EXPECT_EQ(tiny.rows, whole.rows) << "5-byte buffer differs";
  EXPECT_EQ(tiny.error, whole.error);
  return whole;
}

TEST(CsvReaderTest, SimpleLf) {
  Parsed p = Parse("a,b,c\n1,2,3\n");
  EXPECT_EQ(p.error, "");
  EXPECT_EQ(p.rows, (Table{{"a", "b", "c"}, {"1", "2", "3"}}));
  EXPECT_EQ(p.lines, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(p.line_ending, LineEnding::kLf);
  EXPECT_FALSE(p.had_bom);
}

TEST(CsvReaderTest, CrLfAndReportsTerminator) {
  Parsed p = Parse("a,b\r\n1,2\r\n");
  EXPECT_EQ(p.error, "");
  EXPECT_EQ(p.rows, (Table{{"a", "b"}, {"1", "2"}}));
  EXPECT_EQ(p.line_ending, LineEnding::kCrLf);
  EXPECT_EQ(p.endings, (std::vector<LineEnding>{LineEnding::kCrLf, LineEnding::kCrLf}));
}

TEST(CsvReaderTest, FinalLineWithoutNewline) {
  Parsed p = Parse("a,b\n1,2");
  EXPECT_EQ(p.rows, (Table{{"a", "b"}, {"1", "2"}}));
  EXPECT_EQ(p.endings.back(), LineEnding::kNone);
  p = Parse("a,\"b\"");
  EXPECT_EQ(p.rows, (Table{{"a", "b"}}));
  p = Parse("a,");
  EXPECT_EQ(p.rows, (Table{{"a", ""}}));
}

TEST(CsvReaderTest, EmptyInput) {
  Parsed p = Parse("");
  EXPECT_EQ(p.error, "");
  EXPECT_TRUE(p.rows.empty());
  p = Parse("\n\r\n\n");
  EXPECT_EQ(p.error, "");
  EXPECT_TRUE(p.rows.empty());
}

TEST(CsvReaderTest, QuotedFieldsAndDoubledQuotes) {
  Parsed p = Parse("\"a\",\"b,c\",\"say \"\"hi\"\"\",\"\"\n");
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.rows, (Table{{"a", "b,c", "say \"hi\"", ""}}));
  EXPECT_EQ(p.quoted, (std::vector<std::vector<bool>>{{true, true, true, true}}));
  p = Parse("\"\"\"\"\n");  // a field that is one quote
  EXPECT_EQ(p.rows, (Table{{"\""}}));
}

TEST(CsvReaderTest, EmbeddedNewlinesKeepBytesAndCountLines) {
  Parsed p = Parse("id,address\n1,\"12 Main St\nApt 4\"\n2,\"x\r\ny\"\n3,z\n");
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.rows,
            (Table{{"id", "address"}, {"1", "12 Main St\nApt 4"}, {"2", "x\r\ny"}, {"3", "z"}}));
  EXPECT_EQ(p.lines, (std::vector<uint64_t>{1, 2, 4, 6}));
}

TEST(CsvReaderTest, LoneCrInsideQuotesIsData) {
  Parsed p = Parse("\"a\rb\",c\n");
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.rows, (Table{{"a\rb", "c"}}));
}

TEST(CsvReaderTest, CrOnlyLineEndingsAreAnError) {
  Parsed p = Parse("a,b\rc,d\r");
  EXPECT_EQ(p.error,
            "line 1: CR-only line endings are not supported (carriage return not followed by a "
            "line feed, outside quotes); fix: convert the file to LF or CRLF line endings, or "
            "quote the field that contains the CR");
  EXPECT_TRUE(p.rows.empty());
  p = Parse("a\nb\r");  // CR at EOF
  EXPECT_EQ(p.rows, (Table{{"a"}}));
  EXPECT_EQ(p.error.substr(0, 47), "line 2: CR-only line endings are not supported ");
  p = Parse("a\n\"b\"\rx\n");  // after a closing quote
  EXPECT_EQ(p.error.substr(0, 47), "line 2: CR-only line endings are not supported ");
  p = Parse("a\n\r");  // an "empty line" of a lone CR
  EXPECT_EQ(p.error.substr(0, 47), "line 2: CR-only line endings are not supported ");
}

TEST(CsvReaderTest, Utf8PassesThroughByteForByte) {
  std::string emoji = "\xF0\x9F\x98\x80";                            // 😀
  std::string cjk = "\xE7\x8E\x8B\xE5\xB0\x8F\xE6\x98\x8E";          // 王小明
  std::string zwj = "\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB";  // 👩‍💻
  std::string input = "name,note\n" + cjk + "," + emoji + "\n\"" + zwj + ",\"," + cjk + "\n";
  Parsed p = Parse(input);
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.rows, (Table{{"name", "note"}, {cjk, emoji}, {zwj + ",", cjk}}));
  // Invalid UTF-8 is still passed through: tokenization must be lossless.
  p = Parse("\xfd\xff\xfe,\xc0\n");
  EXPECT_EQ(p.error, "");
  EXPECT_EQ(p.rows, (Table{{"\xfd\xff\xfe", "\xc0"}}));
}

TEST(CsvReaderTest, Utf8BomIsStrippedAndReported) {
  Parsed p = Parse(
      "\xEF\xBB\xBF"
      "customer_id,email\n1,a@b.c\n");
  ASSERT_EQ(p.error, "");
  EXPECT_TRUE(p.had_bom);
  EXPECT_EQ(p.rows, (Table{{"customer_id", "email"}, {"1", "a@b.c"}}));
  // Only at the very start: a second BOM is data.
  p = Parse(
      "\xEF\xBB\xBF\xEF\xBB\xBF"
      "a\n");
  EXPECT_EQ(p.rows, (Table{{"\xEF\xBB\xBF"
                            "a"}}));
  p = Parse(
      "x\n\xEF\xBB\xBF"
      "a\n");
  EXPECT_FALSE(p.had_bom);
  EXPECT_EQ(p.rows, (Table{{"x"},
                           {"\xEF\xBB\xBF"
                            "a"}}));
  // A BOM alone, or a BOM and a quoted header.
  p = Parse("\xEF\xBB\xBF");
  EXPECT_TRUE(p.had_bom);
  EXPECT_TRUE(p.rows.empty());
  p = Parse("\xEF\xBB\xBF\"a\"\n");
  EXPECT_EQ(p.rows, (Table{{"a"}}));
  // Partial BOM is data.
  p = Parse(
      "\xEF\xBB"
      "a\n");
  EXPECT_FALSE(p.had_bom);
  EXPECT_EQ(p.rows, (Table{{"\xEF\xBB"
                            "a"}}));
}

TEST(CsvReaderTest, Utf16IsRejected) {
  Parsed p =
      Parse(std::string("\xFF\xFE"
                        "a\0,\0",
                        6));
  EXPECT_EQ(p.error,
            "line 1: input starts with a UTF-16 byte order mark; fix: re-encode the file as UTF-8 "
            "(e.g. iconv -f UTF-16 -t UTF-8)");
}

TEST(CsvReaderTest, EmptyFields) {
  Parsed p = Parse(",,\n\"\",,\"\"\na,,b\n");
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.rows, (Table{{"", "", ""}, {"", "", ""}, {"a", "", "b"}}));
  EXPECT_EQ(p.quoted[1], (std::vector<bool>{true, false, true}));
}

TEST(CsvReaderTest, EmptyLinesAreSkippedButCounted) {
  Parsed p = Parse("a,b\n\n1,2\r\n\r\n3,4\n\n\n");
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.rows, (Table{{"a", "b"}, {"1", "2"}, {"3", "4"}}));
  EXPECT_EQ(p.lines, (std::vector<uint64_t>{1, 3, 5}));
  // A quoted empty field is a record, not an empty line.
  p = Parse("h\n\"\"\n");
  EXPECT_EQ(p.rows, (Table{{"h"}, {""}}));
}

TEST(CsvReaderTest, SpacesAreData) {
  Parsed p = Parse(" a , b \n");
  EXPECT_EQ(p.rows, (Table{{" a ", " b "}}));
}

TEST(CsvReaderTest, MixedLineEndingsPerRow) {
  Parsed p = Parse("a\r\nb\nc");
  EXPECT_EQ(p.rows, (Table{{"a"}, {"b"}, {"c"}}));
  EXPECT_EQ(p.endings,
            (std::vector<LineEnding>{LineEnding::kCrLf, LineEnding::kLf, LineEnding::kNone}));
  EXPECT_EQ(p.line_ending, LineEnding::kCrLf);  // the first one wins
}

TEST(CsvReaderTest, UnterminatedQuoteReportsWhereItStarted) {
  std::string input;
  for (int i = 1; i <= 16; ++i) input += std::to_string(i) + ",x\n";
  input += "17,\"oops\n18,y\n19,z\n";
  Parsed p = Parse(input);
  EXPECT_EQ(p.rows.size(), 16u);
  EXPECT_EQ(p.error,
            "line 17: unterminated quoted field starting here; fix: close the quote or escape it "
            "as \"\"");
  p = Parse("\"");
  EXPECT_EQ(p.error.substr(0, 50), "line 1: unterminated quoted field starting here; f");
}

TEST(CsvReaderTest, QuoteInsideUnquotedField) {
  Parsed p = Parse("a,b\n1,ab\"c\n");
  EXPECT_EQ(p.error,
            "line 2: quote inside unquoted field 2; fix: enclose the whole field in quotes and "
            "double the quote inside it (\"\")");
  EXPECT_EQ(p.rows.size(), 1u);
}

TEST(CsvReaderTest, GarbageAfterClosingQuote) {
  Parsed p = Parse("a\n\n\"ab\"c,d\n");
  EXPECT_EQ(p.error,
            "line 3: unexpected 'c' after the closing quote of field 1; fix: put ',' or the line "
            "end right after the closing quote, or double the quote (\"\") if it is part of the "
            "value");
  p = Parse("\"ab\" ,d\n");
  EXPECT_EQ(p.error.substr(0, 57), "line 1: unexpected a space after the closing quote of fie");
  p = Parse("\"ab\"\xC3\xA9\n");
  EXPECT_EQ(p.error.substr(0, 33), "line 1: unexpected byte 0xc3 afte");
  // The line is where the error is, not where the record started.
  p = Parse("\"a\nb\"x\n");
  EXPECT_EQ(p.error.substr(0, 22), "line 2: unexpected 'x'");
}

TEST(CsvReaderTest, NulByteIsAnError) {
  Parsed p = Parse(std::string("a,b\nc,d\0e\n", 10));
  EXPECT_EQ(p.error,
            "line 2: NUL byte in field 2; fix: the input looks binary or UTF-16, convert it to "
            "UTF-8 text");
  p = Parse(std::string("a\n\"x\ny\0\"\n", 9));
  EXPECT_EQ(p.error.substr(0, 29), "line 3: NUL byte in field 1; ");
  p = Parse(std::string("\0", 1));
  EXPECT_EQ(p.error.substr(0, 29), "line 1: NUL byte in field 1; ");
}

TEST(CsvReaderTest, FieldLongerThanLimit) {
  CsvReaderOptions opts;
  opts.max_field_bytes = 10;
  Parsed p = Parse("a,0123456789\nb,01234567890\n", opts);
  EXPECT_EQ(p.rows.size(), 1u);
  EXPECT_EQ(p.error,
            "line 2: field 2 is longer than the limit of 10 bytes; fix: check for an unbalanced "
            "quote; values over the limit are not supported, keep them out of the CSV");
  p = Parse("\"0123456789\"\n\"01234\"\"56789\"\n", opts);  // quoted, counts unescaped bytes
  EXPECT_EQ(p.error.substr(0, 55), "line 2: field 1 (quoted) is longer than the limit of 10");
  // An unbalanced quote swallows the following lines: the error points at the opening quote.
  p = Parse("a,b\n1,\"oops\n2,x\n3,y\n4,z\n", opts);
  EXPECT_EQ(p.error.substr(0, 55), "line 2: field 2 (quoted) is longer than the limit of 10");
}

// Streams `header`, then `prefix`, then `n` filler bytes, then `suffix`, without ever holding
// the whole input: a 100 MB field costs no 100 MB string in the test.
class GeneratedSource : public ByteSource {
 public:
  GeneratedSource(std::string head, uint64_t n, char filler, std::string tail)
      : head_(std::move(head)), tail_(std::move(tail)), n_(n), filler_(filler) {}
  long Read(char* buf, size_t n, std::string*) override {
    const uint64_t total = head_.size() + n_ + tail_.size();
    size_t done = 0;
    while (done < n && pos_ < total) {
      if (pos_ < head_.size()) {
        buf[done++] = head_[pos_++];
      } else if (pos_ < head_.size() + n_) {
        const uint64_t run = std::min<uint64_t>(n - done, head_.size() + n_ - pos_);
        memset(buf + done, filler_, run);
        done += run;
        pos_ += run;
      } else {
        buf[done++] = tail_[pos_ - head_.size() - n_];
        ++pos_;
      }
    }
    return static_cast<long>(done);
  }
  uint64_t consumed() const { return pos_; }

 private:
  std::string head_, tail_;
  uint64_t n_;
  char filler_;
  uint64_t pos_ = 0;
};

// Hostile input: a single 100 MB field. The reader holds at most one record, so memory stays
// bounded by the 64 MiB field limit; the error names the line, the field and the limit, and
// the row before it was delivered intact.
TEST(CsvReaderTest, HundredMegabyteFieldIsRejectedAtTheDefaultLimit) {
  constexpr uint64_t k100MB = 100ull * 1000 * 1000;
  for (bool quoted : {false, true}) {
    GeneratedSource src(quoted ? "id,blob\n1,ok\n2,\"" : "id,blob\n1,ok\n2,", k100MB, 'x',
                        quoted ? "\"\n3,after\n" : "\n3,after\n");
    CsvReader reader(&src);
    CsvRow row;
    std::string err;
    ASSERT_TRUE(reader.Next(&row, &err)) << err;
    ASSERT_TRUE(reader.Next(&row, &err)) << err;
    EXPECT_EQ(row.field(1), "ok");
    EXPECT_FALSE(reader.Next(&row, &err));
    EXPECT_EQ(err, std::string("line 3: field 2") + (quoted ? " (quoted)" : "") +
                       " is longer than the limit of 64 MiB (67108864 bytes); fix: check for an "
                       "unbalanced quote; values over the limit are not supported, keep them out "
                       "of the CSV");
    // It stopped soon after the limit instead of reading the whole field.
    EXPECT_LT(src.consumed(), (uint64_t{64} << 20) + (uint64_t{4} << 20));
    EXPECT_FALSE(reader.Next(&row, &err));  // and stays failed
    EXPECT_NE(err, "");
  }
}

TEST(CsvReaderTest, RecordLongerThanLimit) {
  CsvReaderOptions opts;
  opts.max_record_bytes = 9;  // separators between unquoted fields count
  Parsed p = Parse("1234,5678\n1234,56789\n", opts);
  EXPECT_EQ(p.rows.size(), 1u);
  EXPECT_EQ(p.error,
            "line 2: record is longer than the limit of 9 bytes; fix: check for an unbalanced "
            "quote; records over the limit are not supported, split the table or keep large "
            "values out of the CSV");
}

TEST(CsvReaderTest, OneMegabyteField) {
  std::string big(1 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 1000) big[i] = ',';
  for (size_t i = 500; i < big.size(); i += 1000) big[i] = '\n';
  Parsed p = Parse("id,blob\n1,\"" + big + "\"\n2,y\n");
  ASSERT_EQ(p.error, "");
  ASSERT_EQ(p.rows.size(), 3u);
  EXPECT_EQ(p.rows[1][1], big);
  EXPECT_EQ(p.lines[2], 3u + std::count(big.begin(), big.end(), '\n'));
}

TEST(CsvReaderTest, TenThousandColumns) {
  std::string header, row;
  for (int i = 0; i < 10000; ++i) {
    if (i) header += ",", row += ",";
    header += "c" + std::to_string(i);
    row += std::to_string(i * 7);
  }
  std::string input = header + "\n" + row + "\n";  // must outlive the source
  MemoryByteSource src(input);
  CsvReader reader(&src);
  CsvTable table(&reader);
  std::string err;
  ASSERT_TRUE(table.ReadHeader(&err)) << err;
  EXPECT_EQ(table.columns().size(), 10000u);
  EXPECT_EQ(table.ColumnIndex("c9999"), 9999);
  CsvRow r;
  ASSERT_TRUE(table.Next(&r, &err)) << err;
  EXPECT_EQ(r.field(9999), "69993");
  EXPECT_FALSE(table.Next(&r, &err));
  EXPECT_EQ(err, "");
}

TEST(CsvReaderTest, TooManyColumns) {
  CsvReaderOptions opts;
  opts.max_columns = 3;
  Parsed p = Parse("a,b,c\n1,2,3,4\n", opts);
  EXPECT_EQ(p.rows.size(), 1u);
  EXPECT_EQ(p.error,
            "line 2: record has more than 3 columns; fix: check the separator (only ',' is "
            "supported) or split the table");
  std::string wide(16384, ',');  // 16385 empty fields: one over the default
  p = Parse(wide + "\n");
  EXPECT_EQ(p.error.substr(0, 42), "line 1: record has more than 16384 columns");
  p = Parse(wide.substr(1) + "\n");
  EXPECT_EQ(p.error, "");
  EXPECT_EQ(p.rows[0].size(), 16384u);
}

TEST(CsvReaderTest, ReadErrorIsReported) {
  FailingSource src;
  Parsed p = ParseFrom(&src);
  EXPECT_EQ(p.rows, (Table{{"a", "b"}}));
  EXPECT_EQ(p.error, "line 2: read error: disk on fire; fix: check that the input is readable");
}

TEST(CsvReaderTest, FdByteSourceReadsAFile) {
  char path[] = "/tmp/csv_reader_test_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string content;
  for (int i = 0; i < 50000; ++i)
    content += std::to_string(i) + ",\"v" + std::to_string(i) + "\"\n";
  ASSERT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  lseek(fd, 0, SEEK_SET);
  FdByteSource src(fd);
  CsvReader reader(&src);
  CsvRow row;
  std::string err;
  int n = 0;
  while (reader.Next(&row, &err)) {
    ASSERT_EQ(row.field(0), std::to_string(n));
    ++n;
  }
  EXPECT_EQ(err, "");
  EXPECT_EQ(n, 50000);
  EXPECT_EQ(reader.bytes_read(), content.size());
  close(fd);
  unlink(path);
  FdByteSource bad(-1);
  std::string e;
  char b[4];
  EXPECT_EQ(bad.Read(b, 4, &e), -1);
  EXPECT_EQ(e, "read failed: Bad file descriptor");
}

TEST(CsvReaderTest, RowBufferIsReusedWithoutReallocation) {
  std::string input = "aaaa,bbbb,cccc\n";
  for (int i = 0; i < 1000; ++i) input += "1111,2222,3333\n";
  MemoryByteSource src(input);
  CsvReader reader(&src);
  CsvRow row;
  std::string err;
  ASSERT_TRUE(reader.Next(&row, &err));
  const char* data = row.field(0).data();
  while (reader.Next(&row, &err)) ASSERT_EQ(row.field(0).data(), data);
}

TEST(CsvReaderTest, RandomChunkingOnRandomHostileInput) {
  std::mt19937 rng(42);
  const char alphabet[] = {'a', ',', '"', '\n', '\r', ' ', '\xC3', '\xA9', 'b'};
  for (int iter = 0; iter < 300; ++iter) {
    std::string s;
    size_t len = rng() % 60;
    for (size_t i = 0; i < len; ++i) s += alphabet[rng() % sizeof(alphabet)];
    Parse(s);  // Parse() itself compares all chunkings.
  }
}

// ---- CsvTable ---------------------------------------------------------------

TEST(CsvTableTest, HeaderIndexAndRows) {
  MemoryByteSource src(
      "\xEF\xBB\xBF"
      "customer_id,email\n1,a@b.c\n2,d@e.f\n");
  CsvReader reader(&src);
  CsvTable table(&reader);
  std::string err;
  ASSERT_TRUE(table.ReadHeader(&err)) << err;
  EXPECT_EQ(table.columns(), (std::vector<std::string>{"customer_id", "email"}));
  EXPECT_EQ(table.ColumnIndex("customer_id"), 0);  // BOM stripped from the name
  EXPECT_EQ(table.ColumnIndex("email"), 1);
  EXPECT_EQ(table.ColumnIndex("Email"), -1);
  int idx = -1;
  EXPECT_TRUE(table.RequireColumn("email", &idx, &err));
  EXPECT_EQ(idx, 1);
  EXPECT_FALSE(table.RequireColumn("emial", &idx, &err));
  EXPECT_EQ(err, "unknown column 'emial'; available columns: customer_id, email");
  CsvRow row;
  int n = 0;
  while (table.Next(&row, &err)) ++n;
  EXPECT_EQ(err, "");
  EXPECT_EQ(n, 2);
}

TEST(CsvTableTest, RaggedRows) {
  MemoryByteSource src("a,b,c\n1,2,3\n4,5\n");
  CsvReader reader(&src);
  CsvTable table(&reader);
  std::string err;
  ASSERT_TRUE(table.ReadHeader(&err));
  CsvRow row;
  ASSERT_TRUE(table.Next(&row, &err));
  EXPECT_FALSE(table.Next(&row, &err));
  EXPECT_EQ(err,
            "line 3: record 3 has 2 fields but the header has 3; fix: make every line have one "
            "value per header column (quote values that contain commas or line breaks)");
  MemoryByteSource src2("a,b\n\"x\ny\",2,3\n");
  CsvReader reader2(&src2);
  CsvTable table2(&reader2);
  ASSERT_TRUE(table2.ReadHeader(&err));
  EXPECT_FALSE(table2.Next(&row, &err));
  EXPECT_EQ(err.substr(0, 45), "line 2: record 2 has 3 fields but the header ");
  MemoryByteSource src3("a,b\n1\n");
  CsvReader reader3(&src3);
  CsvTable table3(&reader3);
  ASSERT_TRUE(table3.ReadHeader(&err));
  EXPECT_FALSE(table3.Next(&row, &err));
  EXPECT_EQ(err.substr(0, 44), "line 2: record 2 has 1 field but the header ");
}

TEST(CsvTableTest, DuplicateHeaderNames) {
  MemoryByteSource src("id,email,name,email\n");
  CsvReader reader(&src);
  CsvTable table(&reader);
  std::string err;
  EXPECT_FALSE(table.ReadHeader(&err));
  EXPECT_EQ(err,
            "line 1: duplicate column name 'email' (columns 2 and 4); fix: give every column a "
            "unique name");
}

TEST(CsvTableTest, EmptyInputHasNoHeader) {
  MemoryByteSource src("\n\n");
  CsvReader reader(&src);
  CsvTable table(&reader);
  std::string err;
  EXPECT_FALSE(table.ReadHeader(&err));
  EXPECT_EQ(err,
            "input is empty: there is no header line; fix: the first line must name the columns, "
            "e.g. customer_id,email");
}

TEST(CsvTableTest, HeaderParseErrorIsPassedThrough) {
  MemoryByteSource src("a,\"b\n");
  CsvReader reader(&src);
  CsvTable table(&reader);
  std::string err;
  EXPECT_FALSE(table.ReadHeader(&err));
  EXPECT_EQ(err.substr(0, 50), "line 1: unterminated quoted field starting here; f");
}

TEST(CsvTableTest, LongColumnListIsTruncated) {
  std::string header;
  for (int i = 0; i < 60; ++i) header += (i ? ",c" : "c") + std::to_string(i);
  header += "\n";
  MemoryByteSource src(header);
  CsvReader reader(&src);
  CsvTable table(&reader);
  std::string err;
  ASSERT_TRUE(table.ReadHeader(&err));
  int idx;
  EXPECT_FALSE(table.RequireColumn("x", &idx, &err));
  EXPECT_NE(err.find("c49, ... (10 more)"), std::string::npos) << err;
}

// ---- hostile corpus in test/data/hostile -----------------------------------

#ifdef SDP_SOURCE_DIR
std::string HostileDir() { return std::string(SDP_SOURCE_DIR) + "/test/data/hostile/"; }
#else
std::string HostileDir() { return "test/data/hostile/"; }
#endif

struct HostileResult {
  std::string error;
  std::vector<std::string> ids;
  bool had_bom = false;
};

HostileResult ReadHostile(const std::string& name) {
  HostileResult out;
  std::string path = HostileDir() + name;
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    out.error = "cannot open " + path;
    return out;
  }
  FdByteSource src(fd);
  CsvReader reader(&src);
  CsvTable table(&reader);
  if (table.ReadHeader(&out.error)) {
    CsvRow row;
    int id = table.ColumnIndex("customer_id");
    EXPECT_EQ(table.columns().size(), 14u) << name;
    while (table.Next(&row, &out.error)) out.ids.emplace_back(row.field(id));
  }
  out.had_bom = reader.had_bom();
  close(fd);
  return out;
}

TEST(CsvHostileCorpusTest, EveryFileParses) {
  for (const char* name :
       {"quotes.csv", "newlines_in_address.csv", "unicode_names.csv", "empty_fields.csv", "bom.csv",
        "crlf.csv", "duplicate_customer_id.csv", "formula_injection.csv", "whitespace.csv"}) {
    HostileResult r = ReadHostile(name);
    EXPECT_EQ(r.error, "") << name;
    EXPECT_FALSE(r.ids.empty()) << name;
  }
  EXPECT_TRUE(ReadHostile("bom.csv").had_bom);
  std::vector<std::string> dup = ReadHostile("duplicate_customer_id.csv").ids;
  EXPECT_EQ(std::count(dup.begin(), dup.end(), dup[0]), 2) << "duplicate ids must all be kept";
}

TEST(CsvHostileCorpusTest, VeryLongAddressIsGenerated) {
  // 200 KB address with commas, quotes and newlines, generated instead of
  // committed.
  std::string address;
  while (address.size() < 200 * 1024) address += "Flat 1, \"Rose\" House\n";
  std::string escaped;
  for (char c : address) {
    escaped += c;
    if (c == '"') escaped += '"';
  }
  std::string csv =
      "customer_id,first_name,last_name,email,phone,ssn,card_number,iban,birth_date,address,age,"
      "income,balance,num_transactions\n"
      "C1,Ann,Lee,ann@example.com,+1 555 0100,123-45-6789,4111111111111111,"
      "DE89370400440532013000,1980-01-02,\"" +
      escaped + "\",44,50000,10.5,3\n";
  MemoryByteSource src(csv);
  CsvReader reader(&src);
  CsvTable table(&reader);
  std::string err;
  ASSERT_TRUE(table.ReadHeader(&err)) << err;
  CsvRow row;
  ASSERT_TRUE(table.Next(&row, &err)) << err;
  EXPECT_EQ(row.field(table.ColumnIndex("address")), address);
  EXPECT_EQ(row.field(13), "3");
}

}  // namespace
}  // namespace sdp

namespace sdp {
namespace {

// Property: for random records (quoted and unquoted fields, doubled quotes, commas, line breaks
// and CRs inside quotes, empty fields, non-ASCII bytes), AppendPreservingQuotes gives exactly the
// bytes of a CsvWriter with preserve_quoting and continues_output, whatever the reader's buffer
// size (runs of unquoted fields are then split across refills).
TEST(CsvRowTest, AppendPreservingQuotesWritesWhatTheWriterWrites) {
  std::mt19937 rng(11);
  const std::vector<std::string> pieces = {"a",  "bc",   "",  " x ",  "\"", ",",
                                           "\n", "\r\n", "é", "12.5", "=1", "\xEF\xBB\xBF"};
  std::string input;
  size_t records = 0;  // a lone empty unquoted field is an empty line, which is no record
  for (int r = 0; r < 400; ++r) {
    const int fields = 1 + static_cast<int>(rng() % 8);
    const size_t record_start = input.size();
    for (int f = 0; f < fields; ++f) {
      if (f > 0) input += ',';
      std::string value;
      for (int k = static_cast<int>(rng() % 4); k > 0; --k) value += pieces[rng() % pieces.size()];
      const bool needs = value.find_first_of(",\"\r\n") != std::string::npos;
      if (needs || rng() % 3 == 0) {
        std::string quoted = "\"";
        for (char c : value) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
        input += quoted + "\"";
      } else {
        input += value;
      }
    }
    records += input.size() > record_start;
    input += rng() % 2 ? "\n" : "\r\n";
  }
  for (const size_t buffer : {size_t{1} << 20, size_t{7}}) {
    CsvReaderOptions options;
    options.buffer_size = buffer;
    MemoryByteSource source(input);
    CsvReader reader(&source, options);
    CsvRow row;
    std::string err;
    size_t rows = 0;
    while (reader.Next(&row, &err)) {
      std::string expected;
      StringByteSink sink(&expected);
      CsvWriterOptions writer_options;
      writer_options.preserve_quoting = true;
      writer_options.continues_output = true;
      CsvWriter writer(&sink, writer_options);
      for (size_t i = 0; i < row.size(); ++i) {
        ASSERT_TRUE(writer.WriteField(row.field(i), row.was_quoted(i), &err)) << err;
      }
      std::string got;
      row.AppendPreservingQuotes(&got);
      ASSERT_EQ(got, expected) << "record " << rows << ", buffer " << buffer;
      ++rows;
    }
    EXPECT_TRUE(err.empty()) << err;
    EXPECT_EQ(rows, records);
    EXPECT_GT(records, 350u);
  }
}

}  // namespace
}  // namespace sdp
