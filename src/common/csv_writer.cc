// Streaming RFC 4180 CSV writer, quoting only where it must.
#include "common/csv_writer.h"

#include <errno.h>
#include <unistd.h>

#include <cstring>

namespace sdp {

namespace {

// Reports whether `value` needs quotes, and whether it holds a NUL byte.
inline void Inspect(std::string_view value, bool* needs_quotes, bool* has_nul) {
  *needs_quotes = false;
  *has_nul = false;
  for (char c : value) {
    switch (c) {
      case ',':
      case '"':
      case '\r':
      case '\n':
        *needs_quotes = true;
        break;
      case '\0':
        *has_nul = true;
        return;
      default:
        break;
    }
  }
}

// True if `v` starts like a byte order mark (UTF-8, or UTF-16 which the
// reader rejects) and so must not be the first bytes of the output unquoted.
inline bool StartsWithBom(std::string_view v) {
  auto b = [&v](size_t i) { return static_cast<unsigned char>(v[i]); };
  if (v.size() >= 3 && b(0) == 0xEF && b(1) == 0xBB && b(2) == 0xBF) return true;
  return v.size() >= 2 && ((b(0) == 0xFE && b(1) == 0xFF) || (b(0) == 0xFF && b(1) == 0xFE));
}

}  // namespace

FdByteSink::FdByteSink(int fd, size_t buffer_size)
    : fd_(fd), capacity_(buffer_size == 0 ? 1 : buffer_size), buffer_(new char[capacity_]) {}

bool FdByteSink::WriteAll(const char* data, size_t n, std::string* err) {
  while (n > 0) {
    ssize_t w = ::write(fd_, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      *err = std::string("write failed: ") + std::strerror(errno);
      return false;
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool FdByteSink::Write(const char* data, size_t n, std::string* err) {
  if (used_ + n <= capacity_) {
    std::memcpy(buffer_.get() + used_, data, n);
    used_ += n;
    return true;
  }
  if (!Flush(err)) return false;
  // Large writes bypass the buffer instead of being copied through it.
  if (n >= capacity_) return WriteAll(data, n, err);
  std::memcpy(buffer_.get(), data, n);
  used_ = n;
  return true;
}

bool FdByteSink::Flush(std::string* err) {
  size_t n = used_;
  used_ = 0;
  return WriteAll(buffer_.get(), n, err);
}

CsvWriter::CsvWriter(ByteSink* sink, const CsvWriterOptions& options)
    : sink_(sink), options_(options), at_start_(!options.continues_output) {}

bool CsvWriter::WriteField(std::string_view value, bool was_quoted, std::string* err) {
  bool needs_quotes, has_nul;
  Inspect(value, &needs_quotes, &has_nul);
  if (has_nul) {
    *err = "field " + std::to_string(fields_in_row_ + 1) + " of record " +
           std::to_string(rows_written_ + 1) +
           " contains a NUL byte, which CSV readers reject; fix: remove it";
    return false;
  }
  if (at_start_) {
    at_start_ = false;
    if (options_.write_bom) {
      if (!sink_->Write("\xEF\xBB\xBF", 3, err)) return false;
    } else if (StartsWithBom(value)) {
      needs_quotes = true;  // else the reader would take it for a BOM
    }
  }
  if (fields_in_row_ > 0 && !sink_->Write(",", 1, err)) return false;
  ++fields_in_row_;

  bool formula = false;
  if (options_.escape_formulas && !value.empty()) {
    char c = value[0];
    formula = c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r';
  }
  if (options_.preserve_quoting && was_quoted) needs_quotes = true;
  last_field_empty_unquoted_ = value.empty() && !needs_quotes;

  if (!needs_quotes) {
    if (formula && !sink_->Write("'", 1, err)) return false;
    return value.empty() || sink_->Write(value.data(), value.size(), err);
  }
  if (!sink_->Write(formula ? "\"'" : "\"", formula ? 2 : 1, err)) {
    return false;
  }
  // Copy runs between quotes, doubling each quote.
  const char* p = value.data();
  const char* e = p + value.size();
  while (p < e) {
    const char* q = static_cast<const char*>(std::memchr(p, '"', static_cast<size_t>(e - p)));
    if (q == nullptr) {
      if (!sink_->Write(p, static_cast<size_t>(e - p), err)) return false;
      break;
    }
    if (!sink_->Write(p, static_cast<size_t>(q + 1 - p), err)) return false;
    if (!sink_->Write("\"", 1, err)) return false;
    p = q + 1;
  }
  return sink_->Write("\"", 1, err);
}

bool CsvWriter::EndRow(LineEnding ending, std::string* err) {
  if (fields_in_row_ == 0) {
    *err = "record " + std::to_string(rows_written_ + 1) +
           " has no fields; fix: a CSV record needs at least one field";
    return false;
  }
  // A lone empty field would be an empty line, which readers skip.
  if (fields_in_row_ == 1 && last_field_empty_unquoted_ && !sink_->Write("\"\"", 2, err)) {
    return false;
  }
  fields_in_row_ = 0;
  last_field_empty_unquoted_ = false;
  ++rows_written_;
  switch (ending) {
    case LineEnding::kNone:
      return true;
    case LineEnding::kCrLf:
      return sink_->Write("\r\n", 2, err);
    case LineEnding::kLf:
      break;
  }
  return sink_->Write("\n", 1, err);
}

bool CsvWriter::WriteRow(const std::vector<std::string_view>& fields, std::string* err) {
  for (std::string_view f : fields) {
    if (!WriteField(f, false, err)) return false;
  }
  return EndRow(err);
}

bool CsvWriter::WriteRow(const std::vector<std::string>& fields, std::string* err) {
  for (const std::string& f : fields) {
    if (!WriteField(f, false, err)) return false;
  }
  return EndRow(err);
}

bool CsvWriter::WriteRow(const CsvRow& row, std::string* err) {
  for (size_t i = 0; i < row.size(); ++i) {
    if (!WriteField(row.field(i), row.was_quoted(i), err)) return false;
  }
  return EndRow(err);
}

bool CsvWriter::WriteRowMirrored(const CsvRow& row, std::string* err) {
  for (size_t i = 0; i < row.size(); ++i) {
    if (!WriteField(row.field(i), row.was_quoted(i), err)) return false;
  }
  return EndRow(row.ending(), err);
}

}  // namespace sdp
