// Streaming RFC 4180 CSV reader (agent and extension).
#include "common/csv_reader.h"

#include <errno.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "common/shown_value.h"
#include "common/text.h"

namespace sdp {

namespace {

// Byte classes for the scanning loops. Constant tables (no mutable global
// state) so the hot loops are one load and one branch per byte.
constexpr std::array<bool, 256> MakeTable(const char* specials) {
  std::array<bool, 256> table{};
  for (const char* p = specials; *p != '\0'; ++p) {
    table[static_cast<unsigned char>(*p)] = true;
  }
  table[0] = true;  // NUL is always special: it is an error.
  return table;
}
constexpr std::array<bool, 256> kUnquotedSpecial = MakeTable(",\n\r\"");
constexpr std::array<bool, 256> kQuotedSpecial = MakeTable("\n\"");

// A CR outside quotes must be followed by LF; said at the end of input and in the middle alike.
constexpr char kCrOnlyLineEnding[] =
    "CR-only line endings are not supported (carriage return not followed by a line feed, outside "
    "quotes); fix: convert the file to LF or CRLF line endings, or quote the field that contains "
    "the CR";

// Returns the first byte in [p, e) that the table marks, or e.
inline const char* Scan(const char* p, const char* e, const std::array<bool, 256>& table) {
  while (e - p >= 4) {
    if (table[static_cast<unsigned char>(p[0])]) return p;
    if (table[static_cast<unsigned char>(p[1])]) return p + 1;
    if (table[static_cast<unsigned char>(p[2])]) return p + 2;
    if (table[static_cast<unsigned char>(p[3])]) return p + 3;
    p += 4;
  }
  while (p < e && !table[static_cast<unsigned char>(*p)]) ++p;
  return p;
}

std::string Describe(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  if (u >= 0x21 && u < 0x7f) return std::string("'") + c + "'";
  if (c == ' ') return "a space";
  if (c == '\t') return "a tab";
  static const char kHex[] = "0123456789abcdef";
  std::string s = "byte 0x";
  s += kHex[u >> 4];
  s += kHex[u & 15];
  return s;
}

// "64 MiB (67108864 bytes)" for whole MiB, else "10 bytes".
std::string DescribeBytes(size_t n) {
  constexpr size_t kMiB = size_t{1} << 20;
  if (n >= kMiB && n % kMiB == 0) {
    return std::to_string(n / kMiB) + " MiB (" + std::to_string(n) + " bytes)";
  }
  return std::to_string(n) + " bytes";
}

}  // namespace

long FdByteSource::Read(char* buf, size_t n, std::string* err) {
  if (n > kChunkSize) n = kChunkSize;
  for (;;) {
    ssize_t r = ::read(fd_, buf, n);
    if (r >= 0) return static_cast<long>(r);
    if (errno == EINTR) continue;
    *err = std::string("read failed: ") + std::strerror(errno);
    return -1;
  }
}

long MemoryByteSource::Read(char* buf, size_t n, std::string* /*err*/) {
  size_t take = std::min(n, data_.size() - pos_);
  if (take > 0) std::memcpy(buf, data_.data() + pos_, take);
  pos_ += take;
  return static_cast<long>(take);
}

CsvReader::CsvReader(ByteSource* source, const CsvReaderOptions& options)
    : source_(source), options_(options) {
  // A tiny buffer still works (the parser resumes across refills); at least 4
  // bytes lets Start() see a whole BOM in one buffer.
  if (options_.buffer_size < 4) options_.buffer_size = 4;
  buffer_.reset(new char[options_.buffer_size]);
}

bool CsvReader::Fail(uint64_t line, const std::string& message, std::string* err) {
  failed_ = true;
  error_ = "line " + std::to_string(line) + ": " + message;
  *err = error_;
  return false;
}

bool CsvReader::Fill(std::string* err) {
  if (eof_) return true;
  buffer_base_ += end_;
  pos_ = end_ = 0;
  std::string read_err;
  long n = source_->Read(buffer_.get(), options_.buffer_size, &read_err);
  if (n < 0) {
    return Fail(line_, "read error: " + read_err + "; fix: check that the input is readable", err);
  }
  if (n == 0) {
    eof_ = true;
  } else {
    end_ = static_cast<size_t>(n);
  }
  return true;
}

// Reads until 3 bytes are buffered (sources may return 1 byte at a time) to
// recognise a byte order mark.
bool CsvReader::Start(std::string* err) {
  started_ = true;
  while (end_ < 3 && !eof_) {
    std::string read_err;
    long n = source_->Read(buffer_.get() + end_, options_.buffer_size - end_, &read_err);
    if (n < 0) {
      return Fail(1, "read error: " + read_err + "; fix: check that the input is readable", err);
    }
    if (n == 0) eof_ = true;
    end_ += static_cast<size_t>(n);
  }
  const unsigned char* b = reinterpret_cast<unsigned char*>(buffer_.get());
  if (end_ >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF) {
    had_bom_ = true;
    pos_ = 3;
  } else if (end_ >= 2 && ((b[0] == 0xFF && b[1] == 0xFE) || (b[0] == 0xFE && b[1] == 0xFF))) {
    return Fail(1,
                "input starts with a UTF-16 byte order mark; fix: re-encode "
                "the file as UTF-8 (e.g. iconv -f UTF-16 -t UTF-8)",
                err);
  }
  return true;
}

bool CsvReader::StartField(CsvRow* row, std::string* err) {
  if (row->fields_.size() >= options_.max_columns) {
    return Fail(line_,
                "record has more than " + std::to_string(options_.max_columns) +
                    " columns; fix: check the separator (only ',' is "
                    "supported) or split the table",
                err);
  }
  field_start_ = row->data_.size();
  field_quoted_ = false;
  return true;
}

void CsvRow::AppendPreservingQuotes(std::string* out) const {
  const char* data = data_.data();
  for (size_t i = 0; i < fields_.size();) {
    if (i > 0) out->push_back(',');
    const Span& f = fields_[i];
    if (f.quoted) {
      out->push_back('"');
      for (size_t at = f.begin; at < f.end;) {
        const void* q = std::memchr(data + at, '"', f.end - at);
        const size_t stop = q ? static_cast<size_t>(static_cast<const char*>(q) - data) + 1 : f.end;
        out->append(data + at, stop - at);
        if (q) out->push_back('"');
        at = stop;
      }
      out->push_back('"');
      ++i;
      continue;
    }
    // The unquoted fields that follow each other in data_ with a ',' between them (the reader
    // copies such runs whole) go out as one piece.
    size_t last = i;
    while (last + 1 < fields_.size() && !fields_[last + 1].quoted &&
           fields_[last + 1].begin == fields_[last].end + 1 && data[fields_[last].end] == ',') {
      ++last;
    }
    out->append(data + f.begin, fields_[last].end - f.begin);
    i = last + 1;
  }
}

void CsvReader::EndField(CsvRow* row, size_t end) {
  row->fields_.push_back(CsvRow::Span{field_start_, end, field_quoted_});
}

bool CsvReader::FinishRecord(CsvRow* row, LineEnding ending) {
  EndField(row, row->data_.size());
  row->ending_ = ending;
  if (ending != LineEnding::kNone && !seen_ending_) {
    seen_ending_ = true;
    first_ending_ = ending;
  }
  ++record_number_;
  state_ = State::kFieldStart;
  return true;
}

bool CsvReader::FieldTooLong(CsvRow* row, std::string* err) {
  // The limit is fixed for a given caller (sdp-agent and the extension use the defaults): the
  // fix names what to look for, never an option the user does not have. A quoted field is
  // reported on the line where its quote opened: that is where an unbalanced quote is.
  return Fail(field_quoted_ ? quote_line_ : line_,
              "field " + std::to_string(row->fields_.size() + 1) +
                  (field_quoted_ ? " (quoted)" : "") + " is longer than the limit of " +
                  DescribeBytes(options_.max_field_bytes) +
                  "; fix: check for an unbalanced quote; values over the limit are not "
                  "supported, keep them out of the CSV",
              err);
}

bool CsvReader::Append(CsvRow* row, const char* begin, const char* end, std::string* err) {
  row->data_.append(begin, static_cast<size_t>(end - begin));
  if (row->data_.size() - field_start_ > options_.max_field_bytes) return FieldTooLong(row, err);
  if (row->data_.size() > options_.max_record_bytes) {
    return Fail(line_,
                "record is longer than the limit of " + DescribeBytes(options_.max_record_bytes) +
                    "; fix: check for an unbalanced quote; records over the limit are not "
                    "supported, split the table or keep large values out of the CSV",
                err);
  }
  return true;
}

bool CsvReader::Next(CsvRow* row, std::string* err) {
  err->clear();
  if (failed_) {
    *err = error_;
    return false;
  }
  if (!started_ && !Start(err)) return false;
  row->Clear();
  state_ = State::kFieldStart;
  bool in_record = false;

  for (;;) {
    if (pos_ == end_) {
      if (!Fill(err)) return false;
      if (pos_ == end_) {  // end of input
        switch (state_) {
          case State::kFieldStart:
            if (!in_record) return false;
            return FinishRecord(row, LineEnding::kNone);
          case State::kUnquoted:
          case State::kQuoteInQuoted:
            return FinishRecord(row, LineEnding::kNone);
          case State::kQuoted:
            return Fail(quote_line_,
                        "unterminated quoted field starting here; fix: close "
                        "the quote or escape it as \"\"",
                        err);
          case State::kAfterCr:
            return Fail(line_, kCrOnlyLineEnding, err);
        }
      }
    }
    const char* buf = buffer_.get();
    const char* p = buf + pos_;
    const char* e = buf + end_;

    switch (state_) {
      case State::kFieldStart: {
        char c = *p;
        if (!in_record) {
          // Empty lines between records are skipped (see header).
          if (c == '\n') {
            ++line_;
            ++pos_;
            continue;
          }
          if (c == '\r') {
            ++pos_;
            state_ = State::kAfterCr;
            continue;
          }
          in_record = true;
          record_line_ = line_;
          if (!StartField(row, err)) return false;
        }
        if (c == '"') {
          field_quoted_ = true;
          quote_line_ = line_;
          ++pos_;
          state_ = State::kQuoted;
        } else {
          state_ = State::kUnquoted;
        }
        break;
      }

      case State::kUnquoted: {
        // Hot path: a run of unquoted fields is scanned in place and copied
        // with one append (separators included; fields are begin/end spans).
        const char* run = p;
        const size_t base = row->data_.size();
        for (;;) {
          const char* q = Scan(p, e, kUnquotedSpecial);
          if (q == e) {
            if (!Append(row, run, e, err)) return false;
            pos_ = end_;
            break;
          }
          const char c = *q;
          if (c == ',') {
            size_t field_end = base + static_cast<size_t>(q - run);
            if (field_end - field_start_ > options_.max_field_bytes) {
              row->data_.append(run, static_cast<size_t>(q - run));
              return FieldTooLong(row, err);
            }
            EndField(row, field_end);
            p = q + 1;
            if (p == e || *p == '"') {  // leave the fast path
              if (!Append(row, run, p, err)) return false;
              if (!StartField(row, err)) return false;
              pos_ = static_cast<size_t>(p - buf);
              state_ = State::kFieldStart;
              break;
            }
            if (row->fields_.size() >= options_.max_columns) {
              if (!Append(row, run, p, err)) return false;
              return StartField(row, err);  // fails with the column error
            }
            field_start_ = base + static_cast<size_t>(p - run);
            continue;
          }
          if (!Append(row, run, q, err)) return false;
          pos_ = static_cast<size_t>(q + 1 - buf);
          if (c == '\n') {
            ++line_;
            return FinishRecord(row, LineEnding::kLf);
          }
          if (c == '\r') {
            state_ = State::kAfterCr;
            break;
          }
          if (c == '"') {
            return Fail(line_,
                        "quote inside unquoted field " + std::to_string(row->fields_.size() + 1) +
                            "; fix: enclose the whole field in quotes and double the quote "
                            "inside it (\"\")",
                        err);
          }
          return Fail(line_,
                      "NUL byte in field " + std::to_string(row->fields_.size() + 1) +
                          "; fix: the input looks binary or UTF-16, convert it to UTF-8 text",
                      err);
        }
        break;
      }

      case State::kQuoted: {
        // Embedded line feeds are data: scan past them (counting lines) so a
        // multi-line value is appended in one piece. The byte after a closing
        // quote is handled here when it is in the buffer, so runs of quoted
        // fields stay in this loop.
        const char* run = p;  // start of bytes not yet appended
        const char* s = p;    // scan position
        for (;;) {
          const char* q = Scan(s, e, kQuotedSpecial);
          if (q == e) {
            if (q != run && !Append(row, run, q, err)) return false;
            pos_ = end_;
            break;
          }
          if (*q == '\n') {
            ++line_;
            s = q + 1;
            continue;
          }
          if (*q == '\0') {
            return Fail(line_,
                        "NUL byte in field " + std::to_string(row->fields_.size() + 1) +
                            "; fix: the input looks binary or UTF-16, convert it to UTF-8 text",
                        err);
          }
          // A quote: doubled, or the end of the field.
          if (q + 1 == e) {  // the next byte is in the next buffer
            if (q != run && !Append(row, run, q, err)) return false;
            pos_ = end_;
            state_ = State::kQuoteInQuoted;
            break;
          }
          const char next = q[1];
          if (next == '"') {  // "" -> one literal quote
            if (!Append(row, run, q + 1, err)) return false;
            s = run = q + 2;
            continue;
          }
          if (q != run && !Append(row, run, q, err)) return false;
          if (next == ',') {
            EndField(row, row->data_.size());
            if (!StartField(row, err)) return false;
            const char* n = q + 2;
            if (n < e && *n == '"') {  // another quoted field
              field_quoted_ = true;
              quote_line_ = line_;
              s = run = n + 1;
              continue;
            }
            pos_ = static_cast<size_t>(n - buf);
            state_ = State::kFieldStart;
            break;
          }
          if (next == '\n') {
            pos_ = static_cast<size_t>(q + 2 - buf);
            ++line_;
            return FinishRecord(row, LineEnding::kLf);
          }
          // CR or an error: the general state handles it.
          pos_ = static_cast<size_t>(q + 1 - buf);
          state_ = State::kQuoteInQuoted;
          break;
        }
        break;
      }

      case State::kQuoteInQuoted: {
        char c = *p;
        ++pos_;
        switch (c) {
          case '"':  // doubled quote: one literal quote
            if (!Append(row, p, p + 1, err)) return false;
            state_ = State::kQuoted;
            break;
          case ',':
            EndField(row, row->data_.size());
            if (!StartField(row, err)) return false;
            state_ = State::kFieldStart;
            break;
          case '\n':
            ++line_;
            return FinishRecord(row, LineEnding::kLf);
          case '\r':
            state_ = State::kAfterCr;
            break;
          default:
            return Fail(line_,
                        "unexpected " + Describe(c) + " after the closing quote of field " +
                            std::to_string(row->fields_.size() + 1) +
                            "; fix: put ',' or the line end right after the "
                            "closing quote, or double the quote (\"\") if it "
                            "is part of the value",
                        err);
        }
        break;
      }

      case State::kAfterCr: {
        if (*p != '\n') {
          return Fail(line_, kCrOnlyLineEnding, err);
        }
        ++pos_;
        ++line_;
        if (!in_record) {  // empty CRLF line
          state_ = State::kFieldStart;
          break;
        }
        return FinishRecord(row, LineEnding::kCrLf);
      }
    }
  }
}

bool CsvTable::ReadHeader(std::string* err) {
  columns_.clear();
  index_.clear();
  if (!reader_->Next(&header_row_, err)) {
    if (err->empty()) {
      *err =
          "input is empty: there is no header line; fix: the first line must "
          "name the columns, e.g. customer_id,email";
    }
    return false;
  }
  columns_.reserve(header_row_.size());
  for (size_t i = 0; i < header_row_.size(); ++i) {
    std::string name(header_row_.field(i));
    auto inserted = index_.emplace(name, static_cast<int>(i));
    if (!inserted.second) {
      *err = "line " + std::to_string(reader_->line()) + ": duplicate column name '" + name +
             "' (columns " + std::to_string(inserted.first->second + 1) + " and " +
             std::to_string(i + 1) + "); fix: give every column a unique name";
      columns_.clear();
      index_.clear();
      return false;
    }
    columns_.push_back(std::move(name));
  }
  return true;
}

int CsvTable::ColumnIndex(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? -1 : it->second;
}

bool CsvTable::RequireColumn(std::string_view name, int* index, std::string* err) const {
  *index = ColumnIndex(name);
  if (*index >= 0) return true;
  *err = "unknown column '" + EchoedValue(name) + "'; available columns: " + ColumnList(columns_);
  return false;
}

bool CsvTable::Next(CsvRow* row, std::string* err) {
  if (!reader_->Next(row, err)) return false;
  if (row->size() != columns_.size()) {
    *err = "line " + std::to_string(reader_->line()) + ": record " +
           std::to_string(reader_->record_number()) + " has " + std::to_string(row->size()) +
           " field" + (row->size() == 1 ? "" : "s") + " but the header has " +
           std::to_string(columns_.size()) +
           "; fix: make every line have one value per header column (quote "
           "values that contain commas or line breaks)";
    return false;
  }
  return true;
}

}  // namespace sdp
