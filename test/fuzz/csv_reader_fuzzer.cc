// libFuzzer target for the CSV reader and writer.
//
//   clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc/common \
//     test/fuzz/csv_reader_fuzzer.cc src/common/csv_reader.cc src/common/csv_writer.cc \
//     -o build/csv_reader_fuzzer
//   build/csv_reader_fuzzer -max_total_time=20 test/fuzz/corpus/csv_reader
//
// Properties checked, besides "no crash / no sanitizer report":
//   1. Parsing does not depend on how the input is chunked.
//   2. Whatever parses, written back (minimal quoting, and mirrored quoting /
//      line endings / BOM) and parsed again, gives the same cells.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/csv_reader.h"
#include "common/csv_writer.h"

namespace {

struct Result {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::vector<bool>> quoted;
  std::vector<sdp::LineEnding> endings;
  std::string error;
  bool had_bom = false;
};

class ChunkSource : public sdp::ByteSource {
 public:
  ChunkSource(const uint8_t* data, size_t size, size_t step)
      : data_(data), size_(size), step_(step) {}
  long Read(char* buf, size_t n, std::string*) override {
    size_t take = step_ < n ? step_ : n;
    if (take > size_ - pos_) take = size_ - pos_;
    if (take > 0) memcpy(buf, data_ + pos_, take);
    pos_ += take;
    // Vary the chunk size to hit many boundaries.
    step_ = step_ % 13 + 1;
    return static_cast<long>(take);
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t step_;
  size_t pos_ = 0;
};

Result Parse(sdp::ByteSource* src, size_t buffer_size) {
  sdp::CsvReaderOptions opts;
  opts.max_field_bytes = 1 << 16;
  opts.max_columns = 512;
  opts.max_record_bytes = 1 << 18;
  opts.buffer_size = buffer_size;
  sdp::CsvReader reader(src, opts);
  sdp::CsvRow row;
  Result r;
  while (reader.Next(&row, &r.error)) {
    r.rows.emplace_back();
    r.quoted.emplace_back();
    for (size_t i = 0; i < row.size(); ++i) {
      r.rows.back().emplace_back(row.field(i));
      r.quoted.back().push_back(row.was_quoted(i));
    }
    r.endings.push_back(row.ending());
  }
  r.had_bom = reader.had_bom();
  return r;
}

Result ParseString(const std::string& s) {
  sdp::MemoryByteSource src(s);
  return Parse(&src, 1 << 16);
}

bool LooksLikeBom(const std::string& v) {
  return v.rfind("\xEF\xBB\xBF", 0) == 0 || v.rfind("\xFE\xFF", 0) == 0 ||
         v.rfind("\xFF\xFE", 0) == 0;
}

void Check(bool ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "property violated: %s\n", what);
    abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  Result whole = ParseString(input);

  ChunkSource chunked(data, size, 1);
  Result pieces = Parse(&chunked, 7);
  Check(pieces.rows == whole.rows, "chunked parse gives the same rows");
  Check(pieces.quoted == whole.quoted, "chunked parse gives the same quoting");
  Check(pieces.error == whole.error, "chunked parse gives the same error");

  if (!whole.error.empty()) {
    Check(whole.error.compare(0, 5, "line ") == 0, "errors start with a line number");
    Check(whole.error.find("; fix: ") != std::string::npos, "errors carry a fix");
  }

  // Round trips of whatever parsed (rows before an error included).
  for (int mode = 0; mode < 2; ++mode) {
    std::string out;
    sdp::StringByteSink sink(&out);
    sdp::CsvWriterOptions wopts;
    if (mode == 1) {
      wopts.preserve_quoting = true;
      wopts.write_bom = whole.had_bom;
    } else {
      wopts.line_ending = sdp::LineEnding::kCrLf;
    }
    sdp::CsvWriter writer(&sink, wopts);
    std::string err;
    for (size_t r = 0; r < whole.rows.size(); ++r) {
      for (size_t i = 0; i < whole.rows[r].size(); ++i) {
        Check(writer.WriteField(whole.rows[r][i], whole.quoted[r][i], &err), "write field");
      }
      // Mirrored endings, except that only the last record may lack one.
      sdp::LineEnding ending = wopts.line_ending;
      if (mode == 1) {
        ending = whole.endings[r];
        if (ending == sdp::LineEnding::kNone && r + 1 < whole.rows.size()) {
          ending = sdp::LineEnding::kLf;
        }
      }
      Check(writer.EndRow(ending, &err), "end row");
    }
    Result again = ParseString(out);
    Check(again.error.empty(), "re-parse of written CSV succeeds");
    Check(again.rows == whole.rows, "round trip gives the same cells");
    if (mode == 1) {
      // The writer emits the BOM with the first field, so only if rows exist.
      Check(whole.rows.empty() || again.had_bom == whole.had_bom, "BOM round trips");
      // Except: a first field that starts like a BOM is always quoted (or the
      // reader would take it for one), even if the input had it unquoted.
      std::vector<std::vector<bool>> expected = whole.quoted;
      if (!expected.empty() && !whole.had_bom && LooksLikeBom(whole.rows[0][0])) {
        expected[0][0] = true;
      }
      Check(again.quoted == expected, "quoting round trips");
    }
  }
  return 0;
}
