// Reading, sampling and judging a file's columns; see scanner.h.
#include "agent/scan/scanner.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>

#include "agent/scan/normalize.h"
#include "agent/support/signals.h"
#include "common/csv_reader.h"
#include "common/read_file.h"
#include "common/scoped_fd.h"

namespace sdp::scan {
namespace {

// A JSON file is parsed whole, and its parsed form takes several times its size: beyond this,
// NDJSON (one record a line) streams. Also the longest NDJSON line.
constexpr size_t kMaxJsonBytes = size_t{256} << 20;
constexpr uint64_t kInterruptCheckRows = 1 << 14;

bool EndsWith(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  if (s.size() < n) return false;
  for (size_t i = 0; i < n; ++i) {
    char c = s[s.size() - n + i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != suffix[i]) return false;
  }
  return true;
}

int ThisYear() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  return tm.tm_year + 1900;
}

// Columns, their judges, and the reservoir of sampled rows (or, with every row judged, no
// reservoir at all).
class Collector {
 public:
  Collector(const ScanOptions& options, int year)
      : sample_(options.sample_rows),
        year_(year),
        slots_(options.sample_rows == 0 ? 1 : options.sample_rows, options.seed) {
    reservoir_.resize(sample_);
  }

  uint32_t Column(const std::string& name) {
    auto it = index_.find(name);
    if (it != index_.end()) return it->second;
    const auto i = static_cast<uint32_t>(judges_.size());
    index_.emplace(name, i);
    judges_.push_back(std::make_unique<ColumnJudge>(name, year_));
    return i;
  }
  // A column with no header name: its position ("col_7"), never merged with another.
  uint32_t Positional(size_t position) {
    while (judges_.size() <= position) {
      judges_.push_back(
          std::make_unique<ColumnJudge>("col_" + std::to_string(judges_.size() + 1), year_));
    }
    return static_cast<uint32_t>(position);
  }

  void BeginRow() {
    ++rows_;
    current_ = nullptr;
    if (sample_ == 0) return;
    const long slot = slots_.Offer();
    if (slot >= 0) {
      current_ = &reservoir_[static_cast<size_t>(slot)];
      current_->clear();
      filled_ = std::max(filled_, static_cast<size_t>(slot) + 1);
    }
  }
  bool Wanted() const { return sample_ == 0 || current_ != nullptr; }
  void Cell(uint32_t column, std::string_view value) {
    if (sample_ == 0) {
      judges_[column]->Add(value, classifier_);
    } else if (current_ != nullptr) {
      current_->emplace_back(column, std::string(value));
    }
  }

  uint64_t rows() const { return rows_; }
  const CellClassifier& classifier() const { return classifier_; }

  void Finish(ScanReport* report) {
    for (size_t r = 0; r < filled_; ++r) {
      for (const auto& [column, value] : reservoir_[r]) judges_[column]->Add(value, classifier_);
    }
    report->rows = rows_;
    report->sampled = sample_ == 0 ? rows_ : filled_;
    for (const auto& j : judges_) report->columns.push_back({j->header(), j->Verdict()});
  }

 private:
  using Row = std::vector<std::pair<uint32_t, std::string>>;
  size_t sample_;
  int year_;
  ReservoirSlots slots_;
  CellClassifier classifier_;
  std::vector<std::unique_ptr<ColumnJudge>> judges_;
  std::unordered_map<std::string, uint32_t> index_;
  std::vector<Row> reservoir_;
  Row* current_ = nullptr;
  size_t filled_ = 0;
  uint64_t rows_ = 0;
};

// Whether the first CSV record names the columns: every field a plausible column name (a letter
// or '_' first, at most 64 characters of letters, digits and _ . ( ) # / - or space), all
// distinct, and none of them a value of a class (an e-mail address, a date, a number, a name
// from the name lists, ...).
bool LooksLikeHeader(const CsvRow& row, const CellClassifier& classifier) {
  std::unordered_set<std::string_view> seen;
  size_t known_names = 0;
  std::string cell;
  for (size_t i = 0; i < row.size(); ++i) {
    const std::string_view f = row.field(i);
    if (f.empty() || f.size() > 64 || !seen.insert(f).second) return false;
    const char c0 = f[0];
    if (!((c0 >= 'A' && c0 <= 'Z') || (c0 >= 'a' && c0 <= 'z') || c0 == '_')) return false;
    for (char c : f) {
      const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      std::strchr("_.()#/- ", c) != nullptr;
      if (!ok) return false;
    }
    NormalizeCell(f, &cell);
    CellMatch m;
    classifier.Classify(cell, &m);
    if (m.classes != 0 || m.phone_shape) return false;
    if (m.name_shape && m.name_known) ++known_names;
  }
  return known_names * 2 <= row.size();
}

bool ScanCsv(const ScanOptions& options, Collector* c, ScanReport* report, std::string* err) {
  ScopedFd fd(::open(options.input.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    *err = options.input + ": cannot open: " + std::strerror(errno) +
           "; fix: check the path and its permissions";
    return false;
  }
  FdByteSource source(fd.get());
  CsvReader reader(&source);
  CsvRow row;
  std::vector<uint32_t> columns;
  bool first = true;
  while (reader.Next(&row, err)) {
    if (first) {
      first = false;
      const bool header =
          options.header == HeaderMode::kYes ||
          (options.header == HeaderMode::kAuto && LooksLikeHeader(row, c->classifier()));
      report->header = header;
      if (header) {
        for (size_t i = 0; i < row.size(); ++i) {
          // A repeated header name gets its position, so two columns are never merged.
          const std::string name(row.field(i));
          bool repeated = false;
          for (size_t k = 0; k < i; ++k) repeated = repeated || row.field(k) == row.field(i);
          columns.push_back(repeated ? c->Positional(i) : c->Column(name));
        }
        continue;
      }
    }
    while (columns.size() < row.size()) columns.push_back(c->Positional(columns.size()));
    c->BeginRow();
    if (c->Wanted()) {
      for (size_t i = 0; i < row.size(); ++i) c->Cell(columns[i], row.field(i));
    }
    if (c->rows() % kInterruptCheckRows == 0 && Interrupted()) {
      *err = options.input + ": interrupted";
      return false;
    }
  }
  if (!err->empty()) {
    *err = options.input + ": " + *err;
    return false;
  }
  return true;
}

// The cells of one JSON record under their paths: "a.b" for object members, "a[]" for array
// elements (all elements of an array are cells of one column), "$" for a bare scalar.
void Flatten(const nlohmann::json& v, std::string* path, Collector* c, int depth) {
  if (depth > 64) return;  // nlohmann limits nesting anyway; paths this deep are not columns
  switch (v.type()) {
    case nlohmann::json::value_t::object:
      for (const auto& item : v.items()) {
        const size_t len = path->size();
        if (!path->empty()) path->push_back('.');
        path->append(item.key());
        Flatten(item.value(), path, c, depth + 1);
        path->resize(len);
      }
      break;
    case nlohmann::json::value_t::array: {
      const size_t len = path->size();
      path->append("[]");
      for (const auto& e : v) Flatten(e, path, c, depth + 1);
      path->resize(len);
      break;
    }
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::discarded:
      break;
    case nlohmann::json::value_t::string:
      c->Cell(c->Column(path->empty() ? "$" : *path), v.get_ref<const std::string&>());
      break;
    default:
      c->Cell(c->Column(path->empty() ? "$" : *path), v.dump());
      break;
  }
}

void AddJsonRecord(const nlohmann::json& v, Collector* c) {
  c->BeginRow();
  if (!c->Wanted()) return;
  std::string path;
  Flatten(v, &path, c, 0);
}

bool ScanJson(const ScanOptions& options, Collector* c, std::string* err) {
  std::string text;
  if (!ReadWholeFile(options.input, &text, err, kMaxJsonBytes)) return false;
  if (text.size() > kMaxJsonBytes) {
    *err = options.input +
           ": larger than 256 MiB; fix: write it as NDJSON (one record a line) "
           "and scan with --format ndjson";
    return false;
  }
  const nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    *err = options.input + ": not valid JSON; fix: check the file, or pass --format csv|ndjson";
    return false;
  }
  if (doc.is_array()) {
    for (const auto& record : doc) AddJsonRecord(record, c);
  } else {
    AddJsonRecord(doc, c);
  }
  return true;
}

bool ScanNdjson(const ScanOptions& options, Collector* c, std::string* err) {
  ScopedFd fd(::open(options.input.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    *err = options.input + ": cannot open: " + std::strerror(errno) +
           "; fix: check the path and its permissions";
    return false;
  }
  FdByteSource source(fd.get());
  std::vector<char> buf(FdByteSource::kChunkSize);
  std::string line;
  uint64_t line_no = 0;
  auto take = [&]() -> bool {
    ++line_no;
    std::string_view l(line);
    while (!l.empty() && (l.back() == '\r' || l.back() == ' ' || l.back() == '\t'))
      l.remove_suffix(1);
    if (l.empty()) return true;
    const auto v = nlohmann::json::parse(l, nullptr, /*allow_exceptions=*/false);
    if (v.is_discarded()) {
      *err = options.input + ": line " + std::to_string(line_no) +
             ": not valid JSON; fix: write one JSON value per line";
      return false;
    }
    AddJsonRecord(v, c);
    return true;
  };
  while (true) {
    const long n = source.Read(buf.data(), buf.size(), err);
    if (n < 0) {
      *err = options.input + ": " + *err;
      return false;
    }
    if (n == 0) break;
    const char* p = buf.data();
    const char* end = p + n;
    while (p < end) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
      if (nl == nullptr) {
        line.append(p, end);
        if (line.size() > kMaxJsonBytes) {
          *err = options.input + ": line " + std::to_string(line_no + 1) +
                 " is longer than 256 MiB; fix: write one record per line";
          return false;
        }
        break;
      }
      line.append(p, nl);
      if (!take()) return false;
      line.clear();
      p = nl + 1;
    }
    if (Interrupted()) {
      *err = options.input + ": interrupted";
      return false;
    }
  }
  return line.empty() || take();
}

}  // namespace

InputFormat FormatOfPath(const std::string& path) {
  if (EndsWith(path, ".json")) return InputFormat::kJson;
  if (EndsWith(path, ".ndjson") || EndsWith(path, ".jsonl")) return InputFormat::kNdjson;
  return InputFormat::kCsv;
}

const char* FormatName(InputFormat f) {
  switch (f) {
    case InputFormat::kJson:
      return "json";
    case InputFormat::kNdjson:
      return "ndjson";
    case InputFormat::kCsv:
      return "csv";
    case InputFormat::kAuto:
      break;
  }
  return "auto";
}

bool ScanFile(const ScanOptions& options, ScanReport* report, std::string* err) {
  *report = ScanReport();
  err->clear();
  const int year = options.current_year != 0 ? options.current_year : ThisYear();
  Collector c(options, year);
  report->format =
      options.format == InputFormat::kAuto ? FormatOfPath(options.input) : options.format;
  bool ok = false;
  switch (report->format) {
    case InputFormat::kJson:
      ok = ScanJson(options, &c, err);
      break;
    case InputFormat::kNdjson:
      ok = ScanNdjson(options, &c, err);
      break;
    default:
      ok = ScanCsv(options, &c, report, err);
      break;
  }
  if (!ok) return false;
  c.Finish(report);
  return true;
}

}  // namespace sdp::scan
