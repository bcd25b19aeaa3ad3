// Streaming RFC 4180 CSV reader shared by sdp-agent and the sdp PostgreSQL
// extension.
//
// Constraints that shape this file (docs/style.md, extension 14):
// no exceptions, no PostgreSQL includes, no global state and no
// iostreams, so the same code runs inside a backend, in the agent and under
// libFuzzer.
//
// Dialect (RFC 4180 plus the decisions below):
//   * Separator ',' and quote '"'; a quote inside a quoted field is doubled.
//   * Records end with LF or CRLF; the last record may have no terminator.
//     Line endings may differ per record; each CsvRow reports its own.
//   * LF and CRLF inside quotes are data and are returned byte for byte.
//   * A lone CR inside quotes is data. A lone CR outside quotes (classic Mac
//     "CR-only" line endings, or a stray CR in an unquoted field) is an error:
//     "CR-only line endings are not supported". Silently accepting it as a
//     terminator would turn a corrupted field into an extra record, and
//     accepting it as data would let a value that looks like two lines reach
//     tokenization unnoticed.
//   * A UTF-8 byte order mark at the very start of the input is stripped and
//     reported by had_bom(), so a writer can re-emit it. A BOM anywhere else is
//     data. A UTF-16 BOM is an error (the file must be re-encoded).
//   * Bytes are passed through unchanged (UTF-8 is not validated: tokenizing a
//     value byte for byte is lossless whatever its encoding). A NUL byte is an
//     error because it almost always means UTF-16 or a binary file.
//   * Empty lines (a terminator with nothing before it, outside quotes) are
//     skipped wherever they appear, like Python's csv module and pandas do, so a
//     trailing empty line does not become a one-field record. A record with a
//     single empty field must therefore be written as `""` (CsvWriter does).
//   * Strict quoting: a quote inside an unquoted field, or anything other than
//     ',' / line end / EOF after a closing quote, is an error.
//
// Every error message starts with "line N: " (the physical, 1-based line) and
// ends with "; fix: ...".
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sdp {

/// Where the reader gets its bytes from.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  /// Reads up to n bytes into buf. Returns the number of bytes read (> 0),
  /// 0 at end of input, or -1 on error with *err set.
  virtual long Read(char* buf, size_t n, std::string* err) = 0;
};

/// Reads a POSIX file descriptor in chunks of at most 1 MiB. Does not own or
/// close the descriptor. Retries EINTR.
class FdByteSource : public ByteSource {
 public:
  static constexpr size_t kChunkSize = size_t{1} << 20;
  explicit FdByteSource(int fd) : fd_(fd) {}
  long Read(char* buf, size_t n, std::string* err) override;

 private:
  int fd_;
};

/// Reads from memory the caller keeps alive (the extension parses a whole
/// `text` value this way).
class MemoryByteSource : public ByteSource {
 public:
  explicit MemoryByteSource(std::string_view data) : data_(data) {}
  long Read(char* buf, size_t n, std::string* err) override;

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

/// How a record ended.
enum class LineEnding {
  kNone,  // last record of the input, no terminator
  kLf,
  kCrLf,
};

/// One parsed record. All fields live in one reusable buffer plus an offset
/// table, so reading rows allocates nothing once the buffers have grown to the
/// largest record seen.
class CsvRow {
 public:
  size_t size() const { return fields_.size(); }
  /// Valid until the next call that modifies this row.
  std::string_view field(size_t i) const {
    const Span& f = fields_[i];
    return std::string_view(data_.data() + f.begin, f.end - f.begin);
  }
  /// True if the field was enclosed in quotes in the input.
  bool was_quoted(size_t i) const { return fields_[i].quoted; }
  /// The terminator that ended this record in the input.
  LineEnding ending() const { return ending_; }
  /// Appends the record's fields to *out as CSV, each quoted exactly when it was quoted in the
  /// input (inner quotes doubled), separated by ',', without a terminator: the bytes a CsvWriter
  /// with preserve_quoting and continues_output writes for a record this reader returned (such
  /// a record has no NUL, and an unquoted field of it never needs quotes). Runs of unquoted
  /// fields are copied in one piece, as the reader stored them.
  void AppendPreservingQuotes(std::string* out) const;

  void Clear() {
    data_.clear();
    fields_.clear();
    ending_ = LineEnding::kNone;
  }
  /// Appends a field; used by tests and by code that builds rows by hand.
  void AddField(std::string_view value, bool quoted = false) {
    size_t begin = data_.size();
    data_.append(value.data(), value.size());
    fields_.push_back(Span{begin, data_.size(), quoted});
  }

 private:
  friend class CsvReader;
  struct Span {
    size_t begin;
    size_t end;
    bool quoted;
  };
  // Unquoted fields are copied in runs that include the separators between
  // them (one append per run instead of per field), hence begin/end pairs.
  std::string data_;
  std::vector<Span> fields_;
  LineEnding ending_ = LineEnding::kNone;
};

struct CsvReaderOptions {
  /// Longest field accepted, in bytes.
  size_t max_field_bytes = size_t{64} << 20;
  /// Most fields accepted in one record.
  size_t max_columns = 16384;
  /// Longest record accepted (field bytes, plus separators between unquoted
  /// fields), in bytes. Bounds memory: only the current record is ever held.
  size_t max_record_bytes = size_t{256} << 20;
  /// Size of the read buffer handed to ByteSource::Read.
  size_t buffer_size = size_t{1} << 20;
};

class CsvReader {
 public:
  /// `source` must outlive the reader.
  explicit CsvReader(ByteSource* source, const CsvReaderOptions& options = CsvReaderOptions());
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  /// Reads the next record into *row. Returns false at end of input (err left
  /// empty) or on error (*err set; every later call fails the same way).
  bool Next(CsvRow* row, std::string* err);

  /// Physical 1-based line on which the last returned record started.
  uint64_t line() const { return record_line_; }
  /// 1-based number of the last returned record (the header is record 1).
  uint64_t record_number() const { return record_number_; }
  /// True if the input started with a UTF-8 BOM (which was stripped).
  bool had_bom() const { return had_bom_; }
  /// Terminator of the first terminated record: what a writer should use to
  /// mirror the input. kLf until a terminator has been seen.
  LineEnding line_ending() const { return first_ending_; }
  /// Total input bytes consumed so far (including a BOM).
  uint64_t bytes_read() const { return buffer_base_ + pos_; }

 private:
  enum class State {
    kFieldStart,     // at the start of a field
    kUnquoted,       // inside an unquoted field
    kQuoted,         // inside a quoted field
    kQuoteInQuoted,  // saw '"' inside a quoted field: close or doubled quote
    kAfterCr,        // saw CR outside quotes, an LF must follow
  };

  bool Start(std::string* err);
  bool Fill(std::string* err);
  bool Fail(uint64_t line, const std::string& message, std::string* err);
  bool Append(CsvRow* row, const char* begin, const char* end, std::string* err);
  bool StartField(CsvRow* row, std::string* err);
  void EndField(CsvRow* row, size_t end);
  bool FinishRecord(CsvRow* row, LineEnding ending);
  bool FieldTooLong(CsvRow* row, std::string* err);

  ByteSource* source_;
  CsvReaderOptions options_;
  std::unique_ptr<char[]> buffer_;
  size_t pos_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  bool started_ = false;
  bool had_bom_ = false;
  bool failed_ = false;
  std::string error_;
  State state_ = State::kFieldStart;
  uint64_t line_ = 1;         // current physical line
  uint64_t record_line_ = 0;  // line where the last record started
  uint64_t quote_line_ = 0;   // line where the current quoted field started
  uint64_t record_number_ = 0;
  uint64_t buffer_base_ = 0;  // input offset of buffer_[0]
  size_t field_start_ = 0;    // offset of the current field in row->data_
  bool field_quoted_ = false;
  LineEnding first_ending_ = LineEnding::kLf;
  bool seen_ending_ = false;
};

/// Header layer over CsvReader: reads the header, maps names to indexes and
/// rejects ragged records (field count different from the header's).
class CsvTable {
 public:
  explicit CsvTable(CsvReader* reader) : reader_(reader) {}

  /// Reads the first record as the header. Fails on empty input and on
  /// duplicate column names.
  bool ReadHeader(std::string* err);
  /// Column names in input order.
  const std::vector<std::string>& columns() const { return columns_; }
  /// The header record as read (keeps quoting for byte-exact rewrites).
  const CsvRow& header_row() const { return header_row_; }
  /// Index of `name`, or -1.
  int ColumnIndex(std::string_view name) const;
  /// Like ColumnIndex but fails with an error listing the available columns.
  bool RequireColumn(std::string_view name, int* index, std::string* err) const;
  /// Reads the next data record; fails if its field count differs from the
  /// header's. Returns false with empty *err at end of input.
  bool Next(CsvRow* row, std::string* err);
  /// "a, b, c" (truncated for very wide tables), for error messages.

  CsvReader* reader() const { return reader_; }

 private:
  CsvReader* reader_;
  CsvRow header_row_;
  std::vector<std::string> columns_;
  std::unordered_map<std::string, int> index_;
};

}  // namespace sdp
