// Parses CSV data rows on a background thread, handing them over in batches, so parsing runs on
// one core while the caller tokenizes or joins on the other. Memory is bounded by
// batch_rows x depth rows, whatever the file size; row order is kept.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/csv_reader.h"

namespace sdp {

struct RowBatch {
  std::vector<CsvRow> rows;     // rows[0, size) are valid
  std::vector<uint64_t> lines;  // physical line where each row starts (for error messages)
  size_t size = 0;
};

class CsvBatchReader {
 public:
  // `table` must have read its header already; from now on only the reader thread touches it.
  explicit CsvBatchReader(CsvTable* table, size_t batch_rows = 2048, size_t depth = 4);
  ~CsvBatchReader();  // stops the thread and waits for it
  CsvBatchReader(const CsvBatchReader&) = delete;
  CsvBatchReader& operator=(const CsvBatchReader&) = delete;

  // The next batch, valid until the following call; nullptr at end of input (err empty) or on
  // a parse error (*err set: "line N: cause").
  const RowBatch* Next(std::string* err);
  // Ownership-passing variant for consumers that work on several batches at once: the caller
  // must hand every batch back with Recycle() (memory stays bounded by `depth` batches).
  std::unique_ptr<RowBatch> Take(std::string* err);
  void Recycle(std::unique_ptr<RowBatch> batch);
  uint64_t bytes_read() const;

 private:
  void Run();

  CsvTable* table_;
  size_t batch_rows_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<RowBatch>> ready_;
  std::vector<std::unique_ptr<RowBatch>> free_;
  std::unique_ptr<RowBatch> current_;
  bool done_ = false;
  bool stop_ = false;
  std::string error_;
  uint64_t bytes_read_ = 0;
  std::thread thread_;
};

}  // namespace sdp
