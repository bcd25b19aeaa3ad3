// Streaming RFC 4180 CSV writer, the counterpart of CsvReader.
//
// Quotes a field only when it must (it contains ',', '"', CR or LF); leading or
// trailing spaces are data and are not a reason to quote. With
// preserve_quoting, fields that were quoted in the input are quoted again, so
// tokenize -> detokenize can reproduce a file byte for byte (together with
// write_bom = reader.had_bom() and each row's own line ending).
//
// Two cases are always quoted because the reader would otherwise read them
// back differently: a record made of a single empty field (an empty line is
// skipped by the reader) and a first field that starts like a BOM (UTF-8
// EF BB BF, UTF-16 FE FF / FF FE) at the start of the output (the reader strips
// a leading UTF-8 BOM and rejects UTF-16).
//
// Same constraints as the reader: no exceptions, no PostgreSQL includes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/csv_reader.h"

namespace sdp {

/// Where the writer puts its bytes.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  /// Writes all n bytes (or buffers them). false with *err set on failure.
  virtual bool Write(const char* data, size_t n, std::string* err) = 0;
  /// Pushes buffered bytes to the destination.
  virtual bool Flush(std::string* err) = 0;
};

/// Buffers up to 1 MiB (by default) and writes it to a POSIX fd, retrying
/// EINTR and short writes. Does not own or close the descriptor. Bytes still
/// buffered at destruction are dropped: call Flush() and check it.
class FdByteSink : public ByteSink {
 public:
  static constexpr size_t kDefaultBufferSize = size_t{1} << 20;
  explicit FdByteSink(int fd, size_t buffer_size = kDefaultBufferSize);
  FdByteSink(const FdByteSink&) = delete;
  FdByteSink& operator=(const FdByteSink&) = delete;
  bool Write(const char* data, size_t n, std::string* err) override;
  bool Flush(std::string* err) override;

 private:
  bool WriteAll(const char* data, size_t n, std::string* err);
  int fd_;
  size_t capacity_;
  std::unique_ptr<char[]> buffer_;
  size_t used_ = 0;
};

/// Appends to a std::string (owned, or the caller's).
class StringByteSink : public ByteSink {
 public:
  StringByteSink() : out_(&own_) {}
  explicit StringByteSink(std::string* out) : out_(out) {}
  bool Write(const char* data, size_t n, std::string* /*err*/) override {
    out_->append(data, n);
    return true;
  }
  bool Flush(std::string* /*err*/) override { return true; }
  const std::string& str() const { return *out_; }

 private:
  std::string own_;
  std::string* out_;
};

struct CsvWriterOptions {
  /// Terminator for EndRow(). kNone is treated as kLf.
  LineEnding line_ending = LineEnding::kLf;
  /// Emit a UTF-8 BOM before the first byte (mirror CsvReader::had_bom()).
  bool write_bom = false;
  /// Quote a field whenever the caller says it was quoted in the input.
  bool preserve_quoting = false;
  /// Spreadsheet formula-injection defence: prefix "'" to fields starting with
  /// = + - @ TAB or CR. Off by default because it changes data (e.g. "-5").
  bool escape_formulas = false;
  /// The bytes written continue an output another writer started (rows formatted in batches on
  /// several threads): no BOM, and a first field that looks like one is not quoted for it.
  bool continues_output = false;
};

class CsvWriter {
 public:
  /// `sink` must outlive the writer.
  explicit CsvWriter(ByteSink* sink, const CsvWriterOptions& options = CsvWriterOptions());
  CsvWriter(const CsvWriter&) = delete;
  CsvWriter& operator=(const CsvWriter&) = delete;

  /// Field-at-a-time interface (no allocation). `was_quoted` matters only
  /// with preserve_quoting. Fails on a NUL byte (the reader rejects them).
  bool WriteField(std::string_view value, std::string* err) {
    return WriteField(value, false, err);
  }
  bool WriteField(std::string_view value, bool was_quoted, std::string* err);
  /// Ends the record with the configured terminator.
  bool EndRow(std::string* err) { return EndRow(options_.line_ending, err); }
  /// Ends the record with `ending`; kNone writes no terminator (only for the
  /// last line of a file that had none). Fails on a record with no fields.
  bool EndRow(LineEnding ending, std::string* err);

  /// Whole records.
  bool WriteRow(const std::vector<std::string_view>& fields, std::string* err);
  bool WriteRow(const std::vector<std::string>& fields, std::string* err);
  /// Writes `row`, using its was_quoted() flags (with preserve_quoting) and the
  /// configured terminator.
  bool WriteRow(const CsvRow& row, std::string* err);
  /// Same, but ends the record exactly as the input did (row.ending()).
  bool WriteRowMirrored(const CsvRow& row, std::string* err);

  bool Flush(std::string* err) { return sink_->Flush(err); }

  uint64_t rows_written() const { return rows_written_; }

 private:
  ByteSink* sink_;
  CsvWriterOptions options_;
  bool at_start_ = true;      // nothing written yet
  size_t fields_in_row_ = 0;  // fields written in the current record
  bool last_field_empty_unquoted_ = false;
  uint64_t rows_written_ = 0;
};

}  // namespace sdp
